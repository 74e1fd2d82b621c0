"""``svc-analyze``: detection and tracking on the base layer of an svc stream."""
from __future__ import annotations

import contextlib
import sys

from svc.cli.common import (add_common, add_config, add_overwrite, check_outputs, load_cli_config, on_error_option,
                            parser, progress_bar, report_problems, run_main)
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
    p.add_argument("input", help="svc stream ('-' for stdin)")
    p.add_argument("-o", "--output", required=True, help="tracks in MOTChallenge format ('-' for stdout)")
    p.add_argument("--detections", help="also write raw detections (MOTChallenge rows with id -1)")
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
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="--from base: decode and detect GOPs in N worker processes (tracking stays in order; the "
                        "same rows as --jobs 1). Default 1")
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


def command(argv) -> int:
    from svc.api import analysis_parts
    from svc.pipeline.analyze import analyze

    args = build_parser().parse_args(argv)
    cfg = load_cli_config(args, {"analytics.classes": ("--classes", args.classes),
                                 "analytics.detector": ("--detector", args.detector),
                                 "analytics.detect_interval": ("--detect-every", args.detect_every)})
    acfg = cfg.analytics
    if args.show:
        from svc.io.sources import sink_kind
        sink_kind(args.show)
    if args.source != "base" and args.show:
        from svc.errors import InputError
        raise InputError(f"--show needs pixels: it draws on the base layer, not with --from {args.source}")
    if args.jobs < 1 or (args.jobs > 1 and args.source != "base"):
        build_parser().error("--jobs N (N >= 1) applies to --from base")
    check_outputs([args.input], [args.output, args.detections, args.show], args.overwrite)
    detector, loader, tracker, class_ids = analysis_parts(cfg, args.source)
    on_error = args.on_error or ("skip" if args.input == "-" else "fail")
    fh = open_input(args.input)
    with contextlib.ExitStack() as stack:
        if args.mot_format == "mot17":
            from svc.analytics.mot_io import PerClassTracks, class_file
            out = PerClassTracks(lambda cls: stack.enter_context(
                output_file(class_file(args.output, cls), "w", args.live_output)))
        else:
            out = stack.enter_context(output_file(args.output, "w", args.live_output))
        dets = stack.enter_context(output_file(args.detections, "w", args.live_output)) if args.detections else None
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

        report = analyze(fh, detector, tracker, out, dets_out=dets, class_ids=class_ids, follow=args.follow,
                         on_error=on_error, on_gop=on_gop, detect_interval=acfg.detect_interval, coast=acfg.coast,
                         source=args.source, layer_loader=loader, jobs=args.jobs,
                         detector_spec=(acfg.detector, dict(acfg.detector_options)))
    status = report_problems(report, "svc-analyze")
    if not args.quiet:
        t = report.timings
        secs = sum(t.values()) or 1e-9
        print(f"svc-analyze: {report.frames} frames, {len(report.track_ids)} tracks, {report.track_rows} rows -> "
              f"{args.output}; {report.frames / secs:.1f} fps (decode {t.get('decode', 0):.2f} s, detect "
              f"{t.get('detect', 0):.2f} s, track {t.get('track', 0):.2f} s) with "
              + (f"detector {detector.name}" if detector is not None else f"NanoDet from the {args.source} layer"),
              file=sys.stderr)
    return status


def main(argv=None):
    sys.exit(run_main(command, argv))
