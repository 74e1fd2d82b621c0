"""``svc-decode``, ``svc-extract`` and ``svc-info``: reading svc streams."""
from __future__ import annotations

import sys

from svc.cli.common import (EXIT_INCOMPLETE, EXIT_OK, add_common, add_overwrite, add_workers, check_outputs,
                            on_error_option, parser, progress_bar, report_problems, run_main, workers)
from svc.io.outputs import output_file, output_path
from svc.io.sources import open_input


def decode_parser():
    p = parser(
        "svc-decode",
        "Decode an svc stream: the base layer (what analytics see) or the full base+enhancement layer (for "
        "viewing). Frames are decoded GOP by GOP as records arrive; the output file appears when complete "
        "(--live-output writes it while it grows).",
        "svc-decode out.svc --layer full -o full.yuv;  svc-encode in.yuv -o - | svc-decode - --layer base -o base.yuv")
    p.add_argument("input", help="svc stream ('-' for stdin)")
    p.add_argument("-o", "--output", required=True,
                   help="output: .yuv raw 4:2:0 ('-' for stdout), .y4m, or .mp4/.mkv (H.264 4:2:0 at CRF 16, which "
                        "every common player opens; --lossless for a bit-exact one)")
    p.add_argument("--lossless", action="store_true",
                   help=".mp4/.mkv output coded losslessly (H.264 qp 0, High 4:4:4 Predictive profile: exact, but "
                        "many players refuse it)")
    p.add_argument("--layer", choices=("base", "full"), default="full", help="which layer to output (default full)")
    p.add_argument("--roi", metavar="X,Y,W,H|FILE",
                   help="region decoding (--layer full): decode the enhancement only inside a rectangle (pixels) "
                        "or the boxes of a MOT file (frames from 1), the base layer elsewhere. A stream coded with "
                        "tiles (svc-encode --set enhancement.tiles=4) decodes only the tiles the region touches, "
                        "so a small region decodes faster; inside it the frames equal a whole decode")
    p.add_argument("--follow", action="store_true", help="keep reading a file that is still being written")
    p.add_argument("--live-output", action="store_true",
                   help="write the output file in place as GOPs are decoded (for a player reading it while it "
                        "grows) instead of a .partial file renamed when complete")
    add_workers(p, "decode GOPs")
    on_error_option(p)
    add_overwrite(p)
    add_common(p)
    return p


def decode_command(argv) -> int:
    from svc.io.sources import open_sink, sink_kind
    from svc.pipeline.decode import DecodeReport
    from svc.pipeline.decoder import Decoder

    args = decode_parser().parse_args(argv)
    jobs, ray = workers(args)
    sink_kind(args.output)  # an output format no sink writes is refused before anything is read
    check_outputs([args.input], [args.output], args.overwrite)
    on_error = args.on_error or ("skip" if args.input == "-" else "fail")
    if args.roi and args.layer != "full":
        decode_parser().error("--roi selects where the enhancement is decoded: it needs --layer full")
    decoder = Decoder(args.layer, on_error, jobs, ray)
    reader = decoder.open(open_input(args.input), args.follow)
    region = None
    if args.roi:
        from svc.analytics.enhancement_regions import decode_region
        region = decode_region(args.roi, reader.header.format)
    report = DecodeReport()
    with output_path(args.output, args.live_output) as target:
        sink = open_sink(args.output, reader.header.format, None if target == args.output else target,
                         args.lossless)
        try:
            with progress_bar(None, f"decode {args.layer}", quiet=args.quiet) as bar:
                for dec in decoder.gops(reader, report, region):
                    for frame in dec.frames:
                        sink.write(frame)
                    bar.update(len(dec.frames))
        finally:
            sink.close()
    for n in report.notes:
        print(f"svc-decode: note: {n}", file=sys.stderr)
    status = report_problems(report, "svc-decode")
    if not args.quiet:
        print(f"svc-decode: {report.frames} frames in {report.gops} GOPs, layer {report.layer} -> {args.output}"
              + report.shortfall(), file=sys.stderr)
    return status


#: svc-extract's outputs by suffix: raw Annex-B, or a container the base layer is remuxed into
EXTRACT_FORMATS = {".hevc": None, ".h265": None, ".265": None, ".bit": None, ".mp4": "mp4", ".mkv": "matroska"}


def extract_command(argv) -> int:
    from pathlib import Path

    from svc.errors import InputError
    from svc.pipeline.decode import extract_base, extract_base_container

    p = parser("svc-extract",
               "Extract the base layer of an svc stream as a standard HEVC stream that FFmpeg and players open: "
               "raw Annex-B (.hevc, '-' for stdout; it carries the frame rate in its VUI) or remuxed without "
               "re-encoding into .mp4 / .mkv at the stream's frame rate. The output file appears only when "
               "complete.",
               "svc-extract out.svc -o base.hevc && ffplay base.hevc;  svc-extract out.svc -o base.mp4")
    p.add_argument("input", help="svc stream ('-' for stdin)")
    p.add_argument("--layer", choices=("base",), default="base", help="layer to extract (base)")
    p.add_argument("-o", "--output", required=True, help="output .hevc/.h265 (raw; '-' for stdout), .mp4 or .mkv")
    on_error_option(p)
    add_overwrite(p)
    add_common(p)
    args = p.parse_args(argv)
    suffix = "" if args.output == "-" else Path(args.output).suffix.lower()
    if args.output != "-" and suffix not in EXTRACT_FORMATS:
        raise InputError(f"cannot write the base layer to {args.output}: svc-extract writes .hevc/.h265 (raw Annex-B, "
                         "'-' for stdout), .mp4 or .mkv")
    check_outputs([args.input], [args.output], args.overwrite)
    on_error = args.on_error or ("skip" if args.input == "-" else "fail")
    muxer = EXTRACT_FORMATS.get(suffix)
    if muxer is not None:
        with output_path(args.output) as target:
            report = extract_base_container(open_input(args.input), args.output, muxer, target, on_error)
    else:
        with output_file(args.output) as out:
            report = extract_base(open_input(args.input), out, on_error)
    status = report_problems(report, "svc-extract")
    if not args.quiet:
        print(f"svc-extract: {report.gops} GOPs ({report.frames} frames) of HEVC -> {args.output}", file=sys.stderr)
    return status


def info_command(argv) -> int:
    p = parser("svc-info", "Show an svc stream's header, its per-GOP table and whether it is whole (every "
                           "payload's CRC and the end marker are checked; nothing is decoded).",
               "svc-info out.svc;  svc-info out.svc --json | python -m json.tool")
    p.add_argument("input", help="svc stream ('-' for stdin)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object (format, layers, GOPs, totals, integrity) instead of the table")
    add_common(p, quiet=False)
    args = p.parse_args(argv)
    from svc.bitstream.info import stream_info

    info = stream_info(open_input(args.input), args.input)
    if args.json:
        from svc.io import jsontext
        print(jsontext.dumps(info, indent=1))
        return EXIT_OK if info["integrity"]["whole"] else EXIT_INCOMPLETE
    f, layers = info["format"], info["layers"]
    print(f"svc stream {args.input}")
    print(f"  geometry     {f['width']}x{f['height']}, 4:2:0, {f['bit_depth']}-bit, {f['fps']:g} fps, "
          f"GOP {f['gop_size']}")
    for kind in ("base", "enhancement", "features"):
        print(f"  {kind:<12} {layers[kind] if layers[kind] else 'none'}")
    if layers["latent"] is not None:
        print(f"  latent       {layers['latent']}")
    kinds = list(info["totals"])
    names = {"base": "base bytes", "enhancement": "enh bytes", "features": "feat bytes",
             "latent_base": "latent base", "latent_enhancement": "latent enh"}
    print(f"  {'GOP':>5} {'first':>6} {'frames':>6} " + " ".join(f"{names[k]:>11}" for k in kinds) + f" {'offset':>10}")
    for g in info["gops"]:
        print(f"  {g['index']:5d} {g['first_frame']:6d} {g['frames']:6d} "
              + " ".join(f"{g['bytes'][k]:11d}" for k in kinds) + f" {g['offset']:10d}")
    print(f"  total: {info['frames']} frames, "
          + ", ".join(f"{k} {t['bytes']} bytes ({t['kbps']:.2f} kbps)" for k, t in info["totals"].items()))
    integrity = info["integrity"]
    whole = "whole (every payload CRC and the end marker counts match)"
    if integrity["streams"] > 1:
        whole += f"; {integrity['streams']} concatenated streams with one header, read as one"
    print("  integrity: " + (whole if integrity["whole"] else "; ".join(integrity["problems"])))
    return EXIT_OK if integrity["whole"] else EXIT_INCOMPLETE


def decode_main(argv=None):
    sys.exit(run_main(decode_command, argv))


def extract_main(argv=None):
    sys.exit(run_main(extract_command, argv))


def info_main(argv=None):
    sys.exit(run_main(info_command, argv))
