"""``svc-analyze``: detection and tracking on the base layer of an svc stream."""
from __future__ import annotations

import contextlib
import sys

from svc.cli.common import (add_common, add_config, add_overwrite, add_workers, check_outputs, load_cli_config,
                            on_error_option, parser, progress_bar, report_problems, run_main, workers)
from svc.io.outputs import output_file, output_path
from svc.io.sources import open_input


def build_parser():
    from svc.config import AnalyticsConfig

    p = parser(
        "svc-analyze",
        "Detect and track objects on the base layer of an svc stream, GOP by GOP as bytes arrive (the "
        "enhancement layer is never read). The default detector is the shipped NanoDet (80 COCO classes, "
        "offline); each class is tracked on its own (a track never changes class; ids are unique over all "
        "classes). Writes MOTChallenge rows frame,id,x,y,w,h,conf,class,-1,-1: frames from 1, (x, y) the "
        "top-left corner and w, h in pixels, conf in [0, 1], column 8 the COCO class id (0 person, 1 bicycle, "
        "2 car, 3 motorcycle, 5 bus, 7 truck, 17 horse, 32 sports ball; detections carry id -1). Output files "
        "appear when complete (--live-output writes them while they grow).",
        "svc-analyze out.svc -o tracks.txt --detections dets.txt --show boxes.mp4;  "
        "svc-encode in.yuv -o - | svc-analyze - -o tracks.txt")
    p.add_argument("input", nargs="+", help="svc stream ('-' for stdin); several streams are analysed one after "
                                            "another by the same workers, each with its own tracker")
    p.add_argument("-o", "--output", required=True,
                   help="tracks in MOTChallenge format ('-' for stdout); with several inputs, a folder that gets "
                        "one file per stream, named after it (STREAM.txt)")
    p.add_argument("--detections", help="also write raw detections (MOTChallenge rows with id -1); with several "
                                        "inputs, a folder (STREAM.txt in it)")
    p.add_argument("--classes", help="comma-separated COCO class names to detect and track, e.g. person,car "
                                     f"(config analytics.classes; default {', '.join(AnalyticsConfig().classes)}: "
                                     "the SFU-HW-Tracks-v1 movers; --classes '' for all 80)")
    p.add_argument("--detector", help="detector backend: auto (default: torchvision / detectron2 when their weights "
                                      "are configured, else nanodet), nanodet, opencv (people only), torchvision, "
                                      "detectron2 (config analytics.detector)")
    p.add_argument("--detect-every", type=int, metavar="K",
                   help="run the detector on every K-th frame only; tracks coast on their motion in between "
                        "(faster; config analytics.detect_interval)")
    p.add_argument("--from", dest="source", choices=("base", "features", "latent"), default="base",
                   help="analyse the HEVC base layer (default), the split-DNN feature layer (svc-encode "
                        "--features): its tensors are decoded and the rest of NanoDet runs on them, on every frame, "
                        "with no pixels decoded, except the base layer's where the feature layer is coded on it "
                        "(svc-encode --features-on-base), or the base latents of a latent-codec stream (svc-encode "
                        "--codec latent): the latent transform makes NanoDet's split tensor of them, no pixels, "
                        "the enhancement latents never read (--detector, --detect-every and --show apply to "
                        "--from base only)")
    add_workers(p, "decode and detect GOPs (tracking stays in this process, in order)")
    p.add_argument("--mot-format", choices=("svc", "mot17"), default="svc",
                   help="svc (default): one file, column 8 the COCO class id; mot17: column 8 = -1 and one file per "
                        "class (OUTPUT for persons, OUTPUT_<class> beside it for the others), which TrackEval's and "
                        "motmetrics' MOTChallenge readers score unchanged")
    p.add_argument("--show", help="render track boxes labelled 'id class' on the base frames into this video "
                                  "(.mp4/.mkv/.y4m)")
    p.add_argument("--follow", action="store_true", help="keep reading a file that is still being written")
    p.add_argument("--live-output", action="store_true",
                   help="write the output files in place as GOPs are analysed (for a reader that follows them) "
                        "instead of .partial files renamed when complete")
    on_error_option(p)
    add_config(p)
    add_overwrite(p)
    add_common(p)
    return p


def per_stream_outputs(inputs: list[str], output: str | None) -> list[str | None]:
    """Each input's output file: ``output`` itself for one input, ``output/STEM.txt`` for several."""
    from pathlib import Path

    from svc.errors import InputError

    if output is None or len(inputs) == 1:
        return [output] * len(inputs)
    if output == "-" or Path(output).is_file():
        raise InputError(f"{output}: with {len(inputs)} input streams the output is a folder (one file per stream)")
    stems = [Path(i).stem for i in inputs]
    if len(set(stems)) < len(stems):
        raise InputError("two input streams have the same name: their output files would collide")
    return [str(Path(output) / f"{stem}.txt") for stem in stems]


def command(argv) -> int:
    from pathlib import Path

    from svc.errors import InputError
    from svc.pipeline.analyzer import Analyzer

    args = build_parser().parse_args(argv)
    cfg = load_cli_config(args, {"analytics.classes": ("--classes", args.classes),
                                 "analytics.detector": ("--detector", args.detector),
                                 "analytics.detect_interval": ("--detect-every", args.detect_every)})
    jobs, ray = workers(args)
    if args.show:
        from svc.io.sources import sink_kind
        sink_kind(args.show)
    if args.source != "base" and args.show:
        raise InputError(f"--show needs pixels: it draws on the base layer, not with --from {args.source}")
    several = len(args.input) > 1
    if several and ("-" in args.input or args.show or args.follow):
        raise InputError("with several input streams: no '-' (stdin), --show or --follow")
    outputs, detections = per_stream_outputs(args.input, args.output), per_stream_outputs(args.input, args.detections)
    for folder in {str(Path(o).parent) for o in outputs + detections if o is not None and several}:
        Path(folder).mkdir(parents=True, exist_ok=True)
    check_outputs(args.input, outputs + detections + [args.show], args.overwrite)
    pooled = (jobs != 1 or ray is not None) and args.source == "base"
    analyzer = Analyzer.from_config(cfg, args.source, detector=not pooled)   # pooled: the workers build detectors
    with contextlib.ExitStack() as stack:
        pool = stack.enter_context(analyzer.pool(jobs, ray)) if pooled else None   # one pool for every stream
        status = 0
        for stream, out, dets in zip(args.input, outputs, detections):
            status = max(status, _analyze_stream(args, analyzer, stream, out, dets, pool, jobs, ray))
    return status


def _analyze_stream(args, analyzer, stream, output, detections, pool, jobs, ray) -> int:
    """One stream's analysis into its own files, with a fresh tracker (``pool``: the base layer's shared
    workers; the feature and latent layers start ``jobs`` workers or Ray actors per stream)."""
    on_error = args.on_error or ("skip" if stream == "-" else "fail")
    fh = open_input(stream)
    with contextlib.ExitStack() as stack:
        if args.mot_format == "mot17":
            from svc.analytics.mot_io import PerClassTracks, class_file
            out = PerClassTracks(lambda cls: stack.enter_context(
                output_file(class_file(output, cls), "w", args.live_output)))
        else:
            out = stack.enter_context(output_file(output, "w", args.live_output))
        dets = stack.enter_context(output_file(detections, "w", args.live_output)) if detections else None
        show_target = (stack.enter_context(output_path(args.show, args.live_output, optional=True))
                       if args.show else None)
        bar = stack.enter_context(progress_bar(None, "analyze", quiet=args.quiet))
        renderer = None

        def on_gop(dec, fmt):
            nonlocal renderer
            bar.update(len(dec.frames))
            if args.show:
                if renderer is None:
                    from svc.analytics.render import TrackRenderer
                    renderer = stack.enter_context(TrackRenderer(args.show, fmt, show_target))
                renderer.write_gop(dec)

        report = analyzer.analyze(fh, out, dets_out=dets, follow=args.follow, on_error=on_error, on_gop=on_gop,
                                  pool=pool, jobs=jobs if pool is None else 1, ray=ray if pool is None else None)
    status = report_problems(report, "svc-analyze")
    if not args.quiet:
        t = report.timings
        secs = sum(t.values()) or 1e-9
        print(f"svc-analyze: {report.frames} frames, {len(report.track_ids)} tracks, {report.track_rows} rows -> "
              f"{output}; {report.frames / secs:.1f} fps (decode {t.get('decode', 0):.2f} s, detect "
              f"{t.get('detect', 0):.2f} s, track {t.get('track', 0):.2f} s) with "
              + (f"detector {analyzer.detector.name}" if analyzer.detector is not None else
                 f"{analyzer.detector_spec[0]} in workers" if pool is not None
                 else f"NanoDet from the {args.source} layer"),
              file=sys.stderr)
    return status


def main(argv=None):
    sys.exit(run_main(command, argv))
