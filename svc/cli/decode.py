"""``svc-decode``, ``svc-extract`` and ``svc-info``: reading svc streams."""
from __future__ import annotations

import sys

from svc.cli.common import (EXIT_INCOMPLETE, EXIT_OK, add_common, check_outputs, on_error_option, open_input,
                            output_file, output_path, parser, progress_bar, report_problems, run_main)


def decode_parser():
    p = parser(
        "svc-decode",
        "Decode an svc stream: the base layer (what analytics see) or the full base+enhancement layer (for "
        "viewing). Frames are decoded GOP by GOP as records arrive; the output file appears when complete "
        "(--live-output writes it while it grows).",
        "svc-decode out.svc --layer full -o full.yuv;  svc-encode in.yuv -o - | svc-decode - --layer base -o base.yuv")
    p.add_argument("input", help="svc stream ('-' for stdin)")
    p.add_argument("-o", "--output", required=True,
                   help="output: .yuv raw 4:2:0 ('-' for stdout), .y4m, or .mp4/.mkv (lossless H.264)")
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
    on_error_option(p)
    add_common(p)
    return p


def enhancement_loader(header):
    from svc.enhancement import load_codec_for_decoding  # imports torch lazily
    return load_codec_for_decoding(header)


def latent_loader(header):
    from svc.latent.layer import load_latent_for_decoding  # imports torch lazily
    return load_latent_for_decoding(header)


def decode_command(argv) -> int:
    from svc.io.sources import open_sink, sink_kind
    from svc.pipeline.decode import DecodeReport, decoded_gops, open_reader

    args = decode_parser().parse_args(argv)
    sink_kind(args.output)  # an output format no sink writes is refused before anything is read
    check_outputs([args.input], [args.output])
    on_error = args.on_error or ("skip" if args.input == "-" else "fail")
    if args.roi and args.layer != "full":
        decode_parser().error("--roi selects where the enhancement is decoded: it needs --layer full")
    reader = open_reader(open_input(args.input), args.layer, args.follow, on_error)
    region = None
    if args.roi:
        from svc.analytics.regions import decode_region
        region = decode_region(args.roi, reader.header.format)
    report = DecodeReport()
    with output_path(args.output, args.live_output) as target:
        sink = open_sink(args.output, reader.header.format, None if target == args.output else target)
        try:
            with progress_bar(None, f"decode {args.layer}", quiet=args.quiet) as bar:
                for dec in decoded_gops(reader, args.layer, enhancement_loader, report, on_error, region,
                                        latent_loader):
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


def extract_command(argv) -> int:
    from svc.pipeline.decode import extract_base

    p = parser("svc-extract",
               "Extract the base layer of an svc stream as a standard HEVC Annex-B stream that FFmpeg plays "
               "(ffplay base.hevc). The output file appears only when complete.",
               "svc-extract out.svc -o base.hevc && ffplay base.hevc")
    p.add_argument("input", help="svc stream ('-' for stdin)")
    p.add_argument("--layer", choices=("base",), default="base", help="layer to extract (base)")
    p.add_argument("-o", "--output", required=True, help="output .hevc file ('-' for stdout)")
    on_error_option(p)
    add_common(p)
    args = p.parse_args(argv)
    check_outputs([args.input], [args.output])
    on_error = args.on_error or ("skip" if args.input == "-" else "fail")
    with output_file(args.output) as out:
        report = extract_base(open_input(args.input), out, on_error)
    status = report_problems(report, "svc-extract")
    if not args.quiet:
        print(f"svc-extract: {report.gops} GOPs ({report.frames} frames) of HEVC -> {args.output}", file=sys.stderr)
    return status


def info_command(argv) -> int:
    from svc.bitstream import ContainerReader

    p = parser("svc-info", "Show an svc stream's header, its per-GOP table and whether it is whole.",
               "svc-info out.svc")
    p.add_argument("input", help="svc stream ('-' for stdin)")
    add_common(p, quiet=False)
    args = p.parse_args(argv)
    # sizes and integrity: no payload is kept, every payload's CRC is checked in 1 MiB chunks
    reader = ContainerReader(open_input(args.input), (), on_error="skip", verify=True)
    h = reader.header
    f = h.format
    print(f"svc stream {args.input}")
    print(f"  geometry     {f.width}x{f.height}, 4:2:0, {f.bit_depth}-bit, {float(f.fps):g} fps, GOP {h.gop_size}")
    print(f"  base         {h.base if h.base else 'none'}")
    print(f"  enhancement  {h.enhancement if h.enhancement else 'none'}")
    print(f"  features     {h.features if h.features else 'none'}")
    if h.latent is not None:
        print(f"  latent       {h.latent}")
    # one column per layer kind the header declares (all three for older streams)
    kinds = ["latent_base", "latent_enhancement"] if h.latent is not None else ["base", "enhancement", "features"]
    names = {"base": "base bytes", "enhancement": "enh bytes", "features": "feat bytes",
             "latent_base": "latent base", "latent_enhancement": "latent enh"}
    print(f"  {'GOP':>5} {'first':>6} {'frames':>6} " + " ".join(f"{names[k]:>11}" for k in kinds) + f" {'offset':>10}")
    totals, nf = {k: 0 for k in kinds}, 0
    damaged_payloads = []
    for rec in reader:
        damaged_payloads += [f"damaged: {m}" for m in rec.errors.values()]
        size = {k: rec.sizes.get(k, 0) for k in totals}
        print(f"  {rec.index:5d} {rec.first_frame:6d} {rec.frame_count:6d} "
              + " ".join(f"{size[k]:11d}" for k in kinds) + f" {rec.offset:10d}")
        totals = {k: totals[k] + size[k] for k in totals}
        nf += rec.frame_count
    secs = nf / float(f.fps) if nf else 0
    kb = (lambda b: b * 8 / 1000 / secs if secs else 0.0)
    print(f"  total: {nf} frames, " + ", ".join(f"{k} {v} bytes ({kb(v):.2f} kbps)" for k, v in totals.items()))
    problems = [f"damaged: {e}" for e in reader.errors] + damaged_payloads + [x.describe() for x in reader.lost]
    problems += [reader.truncated] if reader.truncated else []
    problems += [reader.describe_trailing()] if reader.trailing else []
    whole = "whole (every payload CRC and the end marker counts match)"
    if reader.streams > 1:
        whole += f"; {reader.streams} concatenated streams with one header, read as one"
    print("  integrity: " + (whole if not problems else "; ".join(problems)))
    return EXIT_INCOMPLETE if problems else EXIT_OK


def decode_main(argv=None):
    sys.exit(run_main(decode_command, argv))


def extract_main(argv=None):
    sys.exit(run_main(extract_command, argv))


def info_main(argv=None):
    sys.exit(run_main(info_command, argv))
