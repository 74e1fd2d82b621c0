"""``svc-encode``: code a video into a two-layer svc stream."""
from __future__ import annotations

import sys
from pathlib import Path

from svc.cli.common import (add_common, add_config, add_overwrite, add_workers, check_outputs, parser, progress_bar,
                            run_main, workers)
from svc.errors import InputError
from svc.io.outputs import output_file


def build_parser():
    p = parser(
        "svc-encode",
        "Code a video into a two-layer svc stream: an HEVC base layer for machines (analytics run on it "
        "alone) and an enhancement layer for viewing. The output file appears only when complete.",
        "svc-encode BasketballPass_416x240_50.yuv --qp 37 -o out.svc;  "
        "svc-encode in.yuv -o - | svc-decode - --layer base -o base.yuv. Raw input geometry comes from "
        "CTC/Vooya names (BasketballPass_416x240_50.yuv, ..._10bit.yuv) or --size/--fps.")
    p.add_argument("input", help="raw YUV 4:2:0 file (.yuv, '-' for stdin) or any video PyAV reads (.mp4, .mkv, .y4m)")
    p.add_argument("-o", "--output", help="output .svc file ('-' for stdout; default: the input name with .svc)")
    p.add_argument("--size", help="frame size WxH of raw input (overrides the file name)")
    p.add_argument("--fps", help="frame rate of raw input (overrides the file name; default 30)")
    p.add_argument("--bit-depth", type=int, choices=(8, 10), help="bit depth of raw input (default 8 or from the name)")
    p.add_argument("--frames", type=int, help="code at most N frames")
    p.add_argument("--qp", type=float, help="base-layer QP, 0..51 (config base.qp, default 37)")
    p.add_argument("--crf", type=float,
                   help="code the base layer at this constant rate factor, 0..51, instead of a constant QP "
                        "(config base.rate_control=crf, base.qp=CRF)")
    p.add_argument("--x265-params", metavar="K=V:K=V",
                   help="extra x265 parameters for the base layer, as FFmpeg takes them (e.g. bframes=4:aq-mode=2; "
                        "config base.x265_params); svc's own GOP structure keys (keyint, open-gop, "
                        "repeat-headers, ...) are refused")
    p.add_argument("--gop", type=int, help="frames per GOP (config base.gop, default 16)")
    p.add_argument("--preset", help="x265 preset (config base.preset, default fast)")
    p.add_argument("--enh-quality", type=float,
                   help="enhancement quality 0.0 (lowest rate) .. 1.0 (highest) (config enhancement.quality)")
    p.add_argument("--no-enhancement", action="store_true", help="code the base layer only")
    p.add_argument("--roi", choices=("off", "auto"),
                   help="detector-driven base-layer bit allocation (default off). It helps detection per base "
                        "bit. With the enhancement layer on, each full frame is still coded to the quality it "
                        "would have without ROI (roi.viewer_quality=match), which costs enhancement bits and "
                        "encode time, so ROI suits --no-enhancement streams best (docs/results.md)")
    p.add_argument("--denoise", nargs="?", type=float, const=10.0, metavar="STRENGTH",
                   help="joint denoising: the base layer codes the video denoised (non-local means, STRENGTH about "
                        "the noise sigma, default 10), so machines get clean frames for fewer bits; the full layer "
                        "reconstructs the noisy original (config base.denoise)")
    p.add_argument("--enh-roi", metavar="auto|FILE",
                   help="ROI-selective enhancement: spend enhancement bits only inside regions, elsewhere the full "
                        "layer is the restored base (no bits): 'auto' = the detector's boxes of analytics.classes "
                        "on the original frames, grown by roi.margin; or a MOT file of boxes (frames from 1) "
                        "(config enhancement.roi, default off)")
    p.add_argument("--enh-tiles", type=int, metavar="N",
                   help="code the enhancement in independent tiles of N x N 16x16 blocks (4: 64x64 pixels), so "
                        "svc-decode --roi decodes a region alone, faster; costs about 3%% enhancement rate at N=4 "
                        "(config enhancement.tiles, default 0: no tiles)")
    p.add_argument("--codec", choices=("hevc", "latent"),
                   help="hevc (default): HEVC base layer + enhancement layer; latent: the learned latent codec, "
                        "whose base latent serves the detector without pixels (svc-analyze --from latent) and whose "
                        "base + enhancement latents give the pictures (svc-decode --layer full) (config "
                        "latent.enabled)")
    p.add_argument("--latent-quality", type=float, metavar="Q",
                   help="with --codec latent: 0.0 (fewest bits) .. 1.0, sets both latents' rates along one "
                        "trade-off (config latent.base_quality and latent.enh_quality set each on its own)")
    p.add_argument("--features", action="store_true",
                   help="also code the split-DNN feature layer: NanoDet's front on the original frames, its tensors "
                        "quantised and entropy-coded for a cloud detector (svc-analyze --from features); "
                        "config features.* (quantiser 0 finest .. 6 coarsest, default 3)")
    p.add_argument("--features-only", action="store_true",
                   help="code the feature layer alone (no base or enhancement layer: nothing to view)")
    p.add_argument("--features-on-base", action="store_true",
                   help="code the feature layer against the decoded base layer (implies --features): its "
                        "tensors cost 13-32%% fewer bits (measured against a QP32 base), and svc-analyze --from "
                        "features then decodes the base layer too (config features.interlayer)")
    add_workers(p, "code GOPs")
    p.add_argument("--stats", metavar="FILE.json|FILE.csv",
                   help="write the encode's statistics: JSON (totals, kbps and PSNR per layer, stage times, speed, "
                        "and one row per GOP) or CSV (the per-GOP rows: bytes per layer, PSNR-Y, seconds)")
    add_config(p)
    add_overwrite(p)
    add_common(p)
    return p


def default_output(path: str) -> str:
    return "-" if path == "-" else str(Path(path).with_suffix(".svc"))


def print_summary(s, out: str, notes=()):
    """The encode summary (an :class:`~svc.pipeline.encode.EncodeSummary`) on stderr."""
    lines = [f"svc-encode: {s.frames} frames in {s.gops} GOPs -> {out}"]
    if s.base_bytes:
        lines.append(f"  base layer        {s.base_kbps:10.2f} kbps   PSNR-Y {s.psnr_base.y:6.2f} dB"
                     f"   PSNR-YUV {s.psnr_base.yuv:6.2f} dB")
    else:
        lines.append("  base layer              none (feature-only stream)")
    if s.feat_bytes:
        lines.append(f"  feature layer     {s.feat_kbps:10.2f} kbps")
    if s.psnr_full is not None:
        lines.append(f"  enhancement layer {s.enh_kbps:10.2f} kbps")
        lines.append(f"  full (base+enh)   {s.full_kbps:10.2f} kbps   PSNR-Y {s.psnr_full.y:6.2f} dB   "
                     f"PSNR-YUV {s.psnr_full.yuv:6.2f} dB")
        if s.psnr_full_without_roi is not None:
            r = s.psnr_full_without_roi
            lines.append(f"  full without ROI  {'(reference)':>10}        PSNR-Y {r.y:6.2f} dB   PSNR-YUV "
                         f"{r.yuv:6.2f} dB   (not sent; each full frame reaches it)")
            if s.roi_dropped_gops:
                lines.append(f"  ROI dropped in    {s.roi_dropped_gops:10d} of {s.gops} GOPs (restoring their "
                             "background to the reference quality was impossible or over roi.max_full_rate_ratio)")
    else:
        lines.append("  enhancement layer       none")
    lines.append(f"  container total   {s.total_kbps:10.2f} kbps")
    t = s.timings
    lines.append(f"  encode speed      {s.encode_fps:10.2f} fps   (analysis {t.get('analysis', 0):.2f} s, "
                 f"base {t.get('base', 0):.2f} s, enhancement {t.get('enhancement', 0):.2f} s"
                 + (f", without-ROI reference {t['reference']:.2f} s" if "reference" in t else "")
                 + (f", features {t['features']:.2f} s" if "features" in t else "") + ")")
    if "denoise" in t:
        lines.append(f"  note: the base layer codes the denoised video (denoising {t['denoise']:.2f} s); its PSNR "
                     "above is against the noisy input")
    lines.extend(f"  note: {n}" for n in notes)
    print("\n".join(lines), file=sys.stderr)


def roi_notes(s, method: str) -> list[str]:
    if s.psnr_full is None:
        return []
    if s.psnr_full_without_roi is None:
        return [f"--roi auto ({method}) simplified the base-layer background and roi.viewer_quality=free: "
                "the full layer is of lower quality than without ROI"]
    if s.roi_dropped_gops == s.gops:
        return ["--roi auto: every GOP went out without ROI, as restoring its simplified background would have "
                "cost the viewer quality or more than roi.max_full_rate_ratio times the rate (for ROI in the base "
                "layer: --no-enhancement, or --set roi.viewer_quality=free)"]
    return [f"--roi auto ({method}) simplified the base-layer background: the enhancement layer restores it to "
            "the quality the stream would have without ROI, at extra enhancement bits (use --no-enhancement for "
            "machine-only streams)"]


def command(argv) -> int:
    from svc.api import encode_config, open_frames
    from svc.pipeline.encoder import Encoder

    args = build_parser().parse_args(argv)
    names = ("qp", "crf", "x265_params", "gop", "preset", "enh_quality", "no_enhancement", "roi", "enh_roi",
             "enh_tiles", "denoise", "features", "features_only", "features_on_base", "codec", "latent_quality")
    cfg = encode_config(args.config, args.set, **{n: getattr(args, n) for n in names})
    jobs, ray = workers(args)
    out = args.output or default_output(args.input)
    if args.stats and not args.stats.lower().endswith((".json", ".csv")):
        raise InputError(f"--stats {args.stats}: the statistics go to a .json or a .csv file")
    check_outputs([args.input], [out, args.stats], args.overwrite)
    source = open_frames(args.input, args.size, args.fps, args.bit_depth, args.frames)
    encoder = Encoder.from_config(cfg, source.format)
    with progress_bar(source.num_frames, "encode", quiet=args.quiet) as bar, output_file(out) as fh:
        summary = encoder.encode(source, fh, progress=bar.update, jobs=jobs, ray=ray)
        if summary.frames == 0:
            raise InputError(f"{args.input} holds no frames")
    if args.stats:
        write_stats(args.stats, summary)
    if args.quiet:
        return 0
    if encoder.latent is not None:
        print_latent_summary(summary, out, encoder.latent)
    else:
        print_summary(summary, out, roi_notes(summary, cfg.roi.method) if encoder.analyzer is not None else ())
    return 0


def write_stats(path: str, summary):
    """The encode statistics as JSON (everything) or CSV (the per-GOP rows); standard JSON (null, never NaN)."""
    if path.lower().endswith(".csv"):
        from svc.evaluation.report import write_csv
        write_csv(path, list(summary.per_gop))
        return
    from svc.io import jsontext
    with output_file(path, "w") as fh:
        fh.write(jsontext.dumps(summary.to_dict(), indent=1) + "\n")


def print_latent_summary(s, out: str, latent):
    """The encode summary of a latent-codec stream on stderr."""
    print("\n".join([
        f"svc-encode: {s.frames} frames in {s.gops} GOPs -> {out} (learned latent codec {latent.codec.model_id})",
        f"  latent base       {s.base_kbps:10.2f} kbps   (machines: svc-analyze --from latent; quality "
        f"{latent.base_quality:g})",
        f"  latent enhancement{s.enh_kbps:10.2f} kbps   (quality {latent.enh_quality:g})",
        f"  full (base+enh)   {s.full_kbps:10.2f} kbps   PSNR-Y {s.psnr_full.y:6.2f} dB   PSNR-YUV "
        f"{s.psnr_full.yuv:6.2f} dB",
        f"  container total   {s.total_kbps:10.2f} kbps",
        f"  encode speed      {s.encode_fps:10.2f} fps"]), file=sys.stderr)


def main(argv=None):
    sys.exit(run_main(command, argv))
