"""Command-line entry points: svc-encode, svc-decode, svc-extract, svc-info (and the tools' mains).

Every command prints errors as one line on stderr and exits non-zero; ``--debug`` shows tracebacks.
Exit status: 0 success, 1 error, 2 usage error, 3 finished but damaged GOPs were skipped.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
from contextlib import contextmanager
from pathlib import Path

from svc.errors import SvcError

EXIT_ERROR, EXIT_SKIPPED = 1, 3


def _err(msg: str):
    print(f"{Path(sys.argv[0]).name or 'svc'}: error: {msg}", file=sys.stderr)


def run_main(main, argv=None) -> int:
    """Runs ``main(args)`` turning library errors into one-line messages (tracebacks with --debug)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        return main(argv) or 0
    except SvcError as e:
        if debug:
            raise
        _err(str(e))
        return EXIT_ERROR
    except KeyboardInterrupt:
        if debug:
            raise
        _err("interrupted")
        return 130
    except BrokenPipeError:
        return EXIT_ERROR
    except OSError as e:
        if debug:
            raise
        _err(f"{e.filename or ''}: {e.strerror or e}" if e.filename else str(e))
        return EXIT_ERROR


def progress_bar(total, desc: str, unit: str = "frame", quiet: bool = False):
    """A tqdm bar on stderr (hidden when stderr is not a terminal or ``quiet``)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=True if quiet else None,
                dynamic_ncols=True)


def _open_in(path):
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except OSError as e:
        from svc.errors import InputError
        raise InputError(f"cannot read {path}: {e.strerror}") from None


@contextmanager
def atomic_output(path):
    """A binary file for ``path`` that appears only when complete (``-`` = stdout, written live).

    The data goes to ``path + '.partial'`` and is renamed over ``path`` on success; on any error
    or interruption the partial file is removed, so ``path`` is either absent or whole.
    """
    if path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    tmp = f"{path}.partial"
    fh = open(tmp, "wb")
    try:
        yield fh
        fh.close()
        os.replace(tmp, path)
    except BaseException:
        fh.close()
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _common(p: argparse.ArgumentParser):
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")


# ---------------------------------------------------------------------------------------------------
def encode_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="svc-encode",
        description="Code a video into a two-layer svc stream: an HEVC base layer for machines "
                    "(analytics run on it alone) and a learned enhancement layer for viewing.",
        epilog="Raw input geometry comes from CTC/Vooya names (BasketballPass_416x240_50.yuv, "
               "..._10bit.yuv) or --size/--fps. Example: svc-encode BasketballPass_416x240_50.yuv "
               "--qp 37 -o out.svc;  svc-encode in.yuv -o - | svc-decode - --layer base -o base.yuv")
    p.add_argument("input", help="raw YUV 4:2:0 file (.yuv, '-' for stdin) or any video PyAV reads (.mp4, .mkv, .y4m)")
    p.add_argument("-o", "--output", help="output .svc file ('-' for stdout; default: input name + .svc)")
    p.add_argument("--size", help="frame size WxH for raw input (overrides the file name)")
    p.add_argument("--fps", help="frame rate for raw input (overrides the file name; default 30)")
    p.add_argument("--bit-depth", type=int, choices=(8, 10), help="bit depth of raw input (default 8 or from the name)")
    p.add_argument("--frames", type=int, help="code at most N frames")
    p.add_argument("--qp", type=float, help="base-layer QP, 0..51 (default from config: 37)")
    p.add_argument("--gop", type=int, help="frames per GOP (default from config: 16)")
    p.add_argument("--preset", help="x265 preset (default from config: fast)")
    p.add_argument("--enh-quality", type=float, help="enhancement quality 0.0 (lowest rate) .. 1.0 (highest)")
    p.add_argument("--no-enhancement", action="store_true", help="code the base layer only")
    p.add_argument("--roi", choices=("off", "auto"),
                   help="detector-driven base-layer bit allocation (default off). It helps detection per base "
                        "bit. With the enhancement layer on, each full frame is still coded to the quality it "
                        "would have without ROI (roi.viewer_quality=match), which costs enhancement bits and "
                        "encode time, so ROI suits --no-enhancement streams best (README: 'Where it stands')")
    p.add_argument("--config", help="YAML file deep-merged over configs/default.yaml")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config key, e.g. --set base.x265_params.bframes=0 (repeatable)")
    _common(p)
    return p


def load_encode_config(args) -> dict:
    from svc.config import load_config, parse_override

    overrides = [parse_override(s) for s in args.set]
    direct = {"base": {}, "enhancement": {}, "roi": {}}
    if args.qp is not None:
        direct["base"]["qp"] = args.qp
    if args.gop is not None:
        direct["base"]["gop"] = args.gop
    if args.preset:
        direct["base"]["preset"] = args.preset
    if args.enh_quality is not None:
        direct["enhancement"]["quality"] = args.enh_quality
    if args.no_enhancement:
        direct["enhancement"]["enabled"] = False
    if args.roi:
        direct["roi"]["mode"] = args.roi
    return load_config(args.config, overrides + [direct])


def _print_encode_summary(s: dict, out: str, extra_notes=()):
    lines = [f"svc-encode: {s['frames']} frames in {s['gops']} GOPs -> {out}",
             f"  base layer        {s['base_kbps']:10.2f} kbps   PSNR-Y {s['psnr_base']['y']:6.2f} dB"
             f"   PSNR-YUV {s['psnr_base']['yuv']:6.2f} dB"]
    if "psnr_full" in s:
        lines.append(f"  enhancement layer {s['enh_kbps']:10.2f} kbps")
        lines.append(f"  full (base+enh)   {s['base_kbps'] + s['enh_kbps']:10.2f} kbps   PSNR-Y "
                     f"{s['psnr_full']['y']:6.2f} dB   PSNR-YUV {s['psnr_full']['yuv']:6.2f} dB")
        if "psnr_full_without_roi" in s:
            r = s["psnr_full_without_roi"]
            lines.append(f"  full without ROI  {'(reference)':>10}        PSNR-Y {r['y']:6.2f} dB   PSNR-YUV "
                         f"{r['yuv']:6.2f} dB   (not sent; each full frame reaches it)")
            if s.get("roi_dropped_gops"):
                lines.append(f"  ROI dropped in    {s['roi_dropped_gops']:10d} of {s['gops']} GOPs (restoring their "
                             "background to the reference quality was impossible or over roi.max_full_rate_ratio)")
    else:
        lines.append("  enhancement layer       none")
    lines.append(f"  container total   {s['total_kbps']:10.2f} kbps")
    t = s["timings"]
    lines.append(f"  encode speed      {s['encode_fps']:10.2f} fps   (analysis {t.get('analysis', 0):.2f} s, "
                 f"base {t.get('base', 0):.2f} s, enhancement {t.get('enhancement', 0):.2f} s"
                 + (f", without-ROI reference {t['reference']:.2f} s" if "reference" in t else "") + ")")
    lines.extend(f"  note: {n}" for n in extra_notes)
    print("\n".join(lines), file=sys.stderr)


def encode_cmd(argv) -> int:
    from svc.io import open_source
    from pipelines.encode import encode

    args = encode_parser().parse_args(argv)
    cfg = load_encode_config(args)
    source = open_source(args.input, args.size, args.fps, args.bit_depth, args.frames)
    out = args.output or (str(Path(args.input).with_suffix(".svc")) if args.input != "-" else "-")
    codec = None
    if cfg["enhancement"].get("enabled", True):
        from svc.enhancement import load_codec_for_encoding  # imports torch lazily
        codec = load_codec_for_encoding(cfg["enhancement"], source.format)
    analyzer = roi_filter = None
    if str(cfg["roi"].get("mode", "off")) == "auto":
        from svc.analytics.roi import make_roi
        analyzer, roi_filter = make_roi(cfg, source.format)
    with progress_bar(source.num_frames, "encode", quiet=args.quiet) as bar, atomic_output(out) as fh:
        stats = encode(source, fh, cfg, codec=codec, analyzer=analyzer, roi_filter=roi_filter, progress=bar.update)
    if stats.frames == 0:
        if out != "-":
            os.unlink(out)
        raise SvcError(f"{args.input} holds no frames")
    if not args.quiet:
        notes = []
        s = stats.summary()
        if analyzer is not None and codec is not None:
            if s.get("roi_dropped_gops", 0) == s["gops"]:
                notes.append("--roi auto: every GOP went out without ROI, as restoring its simplified background "
                             "would have cost the viewer quality or more than roi.max_full_rate_ratio times the "
                             "rate (for ROI in the base layer: --no-enhancement, or --set roi.viewer_quality=free)")
            elif "psnr_full_without_roi" in s:
                notes.append(f"--roi auto ({roi_filter.config.method}) simplified the base-layer background: the "
                             "enhancement layer restores it to the quality the stream would have without ROI, "
                             "at extra enhancement bits (use --no-enhancement for machine-only streams)")
            else:
                notes.append(f"--roi auto ({roi_filter.config.method}) simplified the base-layer background and "
                             "roi.viewer_quality=free: the full layer is of lower quality than without ROI")
        _print_encode_summary(s, out, notes)
    return 0


# ---------------------------------------------------------------------------------------------------
def decode_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="svc-decode",
        description="Decode an svc stream: the base layer (what analytics see) or the full "
                    "base+enhancement layer (for viewing). Frames are written GOP by GOP as records arrive.",
        epilog="Examples: svc-decode out.svc --layer full -o full.yuv;  "
               "svc-encode in.yuv -o - | svc-decode - --layer base -o base.yuv")
    p.add_argument("input", help="svc stream ('-' for stdin)")
    p.add_argument("-o", "--output", required=True,
                   help="output: .yuv raw 4:2:0 ('-' for stdout), .y4m, or .mp4/.mkv (lossless H.264)")
    p.add_argument("--layer", choices=("base", "full"), default="full", help="which layer to output (default full)")
    p.add_argument("--follow", action="store_true", help="keep reading a file that is still being written")
    p.add_argument("--on-error", choices=("fail", "skip"),
                   help="damaged GOP: stop (fail, default for files) or report, drop it and go on (skip, default for stdin)")
    _common(p)
    return p


def enhancement_loader(header):
    from svc.enhancement import load_codec_for_decoding  # imports torch lazily
    return load_codec_for_decoding(header)


def decode_cmd(argv) -> int:
    from svc.io import open_sink
    from pipelines.decode import decoded_gops, open_reader, DecodeStats

    args = decode_parser().parse_args(argv)
    on_error = args.on_error or ("skip" if args.input == "-" else "fail")
    fh = _open_in(args.input)
    reader = open_reader(fh, args.layer, args.follow, on_error)
    stats = DecodeStats()
    sink = open_sink(args.output, reader.header.format)
    try:
        with progress_bar(None, f"decode {args.layer}", quiet=args.quiet) as bar:
            for dec in decoded_gops(reader, args.layer, enhancement_loader, stats, on_error):
                for frame in dec.frames:
                    sink.write(frame)
                bar.update(len(dec.frames))
    finally:
        sink.close()
    for n in stats.notes:
        print(f"svc-decode: note: {n}", file=sys.stderr)
    for e in stats.skipped:
        print(f"svc-decode: skipped damaged data: {e}", file=sys.stderr)
    for m in stats.base_only:
        print(f"svc-decode: {m}", file=sys.stderr)
    if not args.quiet:
        print(f"svc-decode: {stats.frames} frames in {stats.gops} GOPs, layer {stats.layer} -> {args.output}"
              + (f"; {len(stats.skipped)} damaged GOP(s) skipped" if stats.skipped else "")
              + (f"; {len(stats.base_only)} GOP(s) with a damaged enhancement layer output as base"
                 if stats.base_only else ""), file=sys.stderr)
    return EXIT_SKIPPED if stats.skipped or stats.base_only else 0


# ---------------------------------------------------------------------------------------------------
def extract_cmd(argv) -> int:
    from pipelines.decode import extract_base

    p = argparse.ArgumentParser(prog="svc-extract",
                                description="Extract the base layer of an svc stream as a standard HEVC Annex-B "
                                            "stream that FFmpeg plays (ffplay base.hevc).")
    p.add_argument("input", help="svc stream ('-' for stdin)")
    p.add_argument("--layer", choices=("base",), default="base", help="layer to extract (base)")
    p.add_argument("-o", "--output", required=True, help="output .hevc file ('-' for stdout)")
    _common(p)
    args = p.parse_args(argv)
    with atomic_output(args.output) as out:
        n = extract_base(_open_in(args.input), out)
    if not args.quiet:
        print(f"svc-extract: {n} GOPs of HEVC -> {args.output}", file=sys.stderr)
    return 0


def info_cmd(argv) -> int:
    from svc.bitstream import ContainerReader

    p = argparse.ArgumentParser(prog="svc-info", description="Show an svc stream's header and per-GOP table.")
    p.add_argument("input", help="svc stream ('-' for stdin)")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    args = p.parse_args(argv)
    reader = ContainerReader(_open_in(args.input), read_enhancement=False)
    h = reader.header
    f = h.format
    print(f"svc stream {args.input}")
    print(f"  geometry     {f.width}x{f.height}, 4:2:0, {f.bit_depth}-bit, {float(f.fps):g} fps, GOP {h.gop_size}")
    print(f"  base         {h.base}")
    print(f"  enhancement  {h.enhancement if h.enhancement else 'none'}")
    print(f"  {'GOP':>5} {'first':>6} {'frames':>6} {'base bytes':>11} {'enh bytes':>10} {'offset':>10}")
    tb = te = nf = 0
    for rec in reader:
        print(f"  {rec.index:5d} {rec.first_frame:6d} {rec.frame_count:6d} {len(rec.base):11d} "
              f"{rec.enhancement_size:10d} {rec.offset:10d}")
        tb, te, nf = tb + len(rec.base), te + rec.enhancement_size, nf + rec.frame_count
    secs = nf / float(f.fps) if nf else 0
    kb = (lambda b: b * 8 / 1000 / secs if secs else 0.0)
    print(f"  total: {nf} frames, base {tb} bytes ({kb(tb):.2f} kbps), enhancement {te} bytes ({kb(te):.2f} kbps)")
    return 0


# ---------------------------------------------------------------------------------------------------
def analyze_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="svc-analyze",
        description="Detect and track objects on the base layer of an svc stream, GOP by GOP as bytes arrive "
                    "(the enhancement layer is never read). Writes MOTChallenge rows "
                    "frame,id,x,y,w,h,conf,-1,-1,-1 (frames from 1).",
        epilog="Examples: svc-analyze out.svc -o tracks.txt --detections dets.txt --show boxes.mp4;  "
               "svc-encode in.yuv -o - | svc-analyze - -o tracks.txt")
    p.add_argument("input", help="svc stream ('-' for stdin)")
    p.add_argument("-o", "--output", required=True, help="tracks in MOTChallenge format ('-' for stdout)")
    p.add_argument("--detections", help="also write raw detections (MOTChallenge rows with id -1)")
    p.add_argument("--classes", help="comma-separated COCO class names to keep, e.g. person,car (default from config)")
    p.add_argument("--detector", help="detector backend: auto, opencv (offline default), torchvision, detectron2")
    p.add_argument("--detect-every", type=int, metavar="K",
                   help="run the detector on every K-th frame only; tracks coast on their motion in between "
                        "(faster; default from config analytics.detect_interval)")
    p.add_argument("--show", help="render boxes and track ids on the base frames into this video (.mp4)")
    p.add_argument("--follow", action="store_true", help="keep reading a file that is still being written")
    p.add_argument("--on-error", choices=("fail", "skip"), help="damaged GOP: stop or skip (default: fail for files, skip for stdin)")
    p.add_argument("--config", help="YAML file deep-merged over configs/default.yaml")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key (repeatable)")
    _common(p)
    return p


def analyze_cmd(argv) -> int:
    from svc.analytics.detectors import class_ids_from_names, make_detector
    from svc.analytics.tracker import Tracker, TrackerConfig
    from svc.config import load_config, parse_override
    from svc.errors import InputError
    from pipelines.analyze import analyze

    args = analyze_parser().parse_args(argv)
    cfg = load_config(args.config, [parse_override(s) for s in args.set])
    acfg = cfg["analytics"]
    classes = args.classes.split(",") if args.classes else acfg.get("classes")
    class_ids = class_ids_from_names(classes) if classes else None
    detector = make_detector(args.detector or acfg.get("detector", "auto"), **(acfg.get("detector_options") or {}))
    tracker = Tracker(TrackerConfig.from_dict(acfg.get("tracker") or {}))
    on_error = args.on_error or ("skip" if args.input == "-" else "fail")
    fh = _open_in(args.input)
    with contextlib.ExitStack() as stack:
        out = sys.stdout if args.output == "-" else stack.enter_context(open(args.output, "w"))
        dets = stack.enter_context(open(args.detections, "w")) if args.detections else None
        bar = stack.enter_context(progress_bar(None, "analyze", quiet=args.quiet))
        renderer = None

        def on_gop(dec, fmt):
            nonlocal renderer
            bar.update(len(dec.frames))
            if args.show:
                if renderer is None:
                    from svc.analytics.render import TrackRenderer
                    renderer = stack.enter_context(TrackRenderer(args.show, fmt))
                renderer.write_gop(dec)

        interval = args.detect_every if args.detect_every is not None else int(acfg.get("detect_interval", 1))
        if interval < 1:
            raise InputError(f"--detect-every must be >= 1, got {interval}")
        stats = analyze(fh, detector, tracker, out, dets, class_ids, args.follow, on_error, on_gop, interval,
                        acfg.get("coast", "flow"))
    for e in stats.skipped:
        print(f"svc-analyze: skipped damaged data: {e}", file=sys.stderr)
    if not args.quiet:
        t = stats.timings
        secs = sum(t.values()) or 1e-9
        print(f"svc-analyze: {stats.frames} frames, {len(stats.track_ids)} tracks, {stats.track_rows} rows -> "
              f"{args.output}; {stats.frames / secs:.1f} fps (decode {t.get('decode', 0):.2f} s, detect "
              f"{t.get('detect', 0):.2f} s, track {t.get('track', 0):.2f} s) with detector {detector.name}",
              file=sys.stderr)
    return EXIT_SKIPPED if stats.skipped else 0


def encode_main(argv=None):
    sys.exit(run_main(encode_cmd, argv))


def decode_main(argv=None):
    sys.exit(run_main(decode_cmd, argv))


def extract_main(argv=None):
    sys.exit(run_main(extract_cmd, argv))


def info_main(argv=None):
    sys.exit(run_main(info_cmd, argv))


def analyze_main(argv=None):
    sys.exit(run_main(analyze_cmd, argv))
