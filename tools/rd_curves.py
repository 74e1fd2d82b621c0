#!/usr/bin/env python
"""Rate-distortion curves: base only, base + enhancement, and single-layer x265 (the anchor).

    python tools/rd_curves.py [--frames 60] [--out results/rd]

For each clip (carphone, RaceHorses from ../shared/data, or --clips) it codes
  - base only at QPs 22..42 (this is single-layer x265 with the base settings: the anchor);
  - base + enhancement at base QPs --enh-qps over the quality range --qualities;
and reports kbps, PSNR-Y, PSNR-YUV (6:1:1) and MS-SSIM-Y per point, the BD-rate (PSNR-Y) of each
base+enhancement curve against the anchor, enhancement encode/decode fps, a CSV and a PNG plot.
"""
from __future__ import annotations

import argparse
import csv
import io
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines.decode import decode  # noqa: E402
from pipelines.encode import encode  # noqa: E402
from svc.config import load_config  # noqa: E402
from svc.io.memory import FrameCollector, FrameList  # noqa: E402
from svc.metrics.msssim import ms_ssim_y  # noqa: E402


def point(clip, qp, quality=None, preset="fast"):
    cfg = load_config(overrides=[{"base": {"qp": qp, "preset": preset},
                                  "enhancement": {"enabled": quality is not None, "quality": quality or 0.0}}])
    codec = None
    if quality is not None:
        from svc.enhancement import load_codec_for_encoding
        codec = load_codec_for_encoding(cfg["enhancement"], clip.format)
    buf = io.BytesIO()
    t = time.perf_counter()
    stats = encode(clip, buf, cfg, codec=codec)
    t_enc = time.perf_counter() - t
    layer = "full" if codec else "base"
    sink = FrameCollector()
    t = time.perf_counter()
    loader = None
    if codec:
        from svc.enhancement import load_codec_for_decoding
        loader = load_codec_for_decoding
    decode(io.BytesIO(buf.getvalue()), sink, layer=layer, codec_loader=loader)
    t_dec = time.perf_counter() - t
    s = stats.summary()
    psnr = s["psnr_full"] if codec else s["psnr_base"]
    msssim = sum(ms_ssim_y(o.y, d.y, clip.format.max_value) for o, d in zip(clip.frames, sink.frames)) / len(sink.frames)
    kbps = s["base_kbps"] + s["enh_kbps"]
    return {"qp": qp, "quality": "" if quality is None else quality, "kbps": kbps, "base_kbps": s["base_kbps"],
            "psnr_y": psnr["y"], "psnr_yuv": psnr["yuv"], "msssim_y": msssim,
            "enh_encode_fps": len(clip.frames) / s["timings"].get("enhancement", float("nan")) if codec else "",
            "enh_decode_fps": len(clip.frames) / t_dec if codec else "", "encode_s": t_enc}


def distinct(points):
    """The Pareto front of points by (kbps, PSNR-Y): drops repeats and dominated points."""
    from svc.metrics.bdrate import pareto_front
    return [points[i] for i in pareto_front([r["kbps"] for r in points], [r["psnr_y"] for r in points])]


def report_bd(label, anchor, curve, bd_rate):
    curve = distinct(curve)
    try:
        bd = bd_rate([r["kbps"] for r in anchor], [r["psnr_y"] for r in anchor],
                     [r["kbps"] for r in curve], [r["psnr_y"] for r in curve])
        print(f"  BD-rate (PSNR-Y) of {label} vs x265: {bd:+.1f}%")
    except ValueError as e:
        print(f"  BD-rate of {label} vs x265: not computable ({e})")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    shared = ROOT.parent / "shared" / "data"
    ap.add_argument("--clips", nargs="*", default=[str(shared / "carphone_176x144_30.mp4"),
                                                  str(shared / "RaceHorses_832x480_30.yuv")])
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--qps", nargs="+", type=int, default=[22, 27, 32, 37, 42])
    ap.add_argument("--enh-qps", nargs="+", type=int, default=[32, 37, 42])
    ap.add_argument("--qualities", nargs="+", type=float, default=[0.0, 0.25, 0.5, 0.75, 1.0])
    ap.add_argument("--out", default="results/rd")
    args = ap.parse_args()
    from svc.evaluation.report import log_rate_axis
    from svc.metrics.bdrate import bd_rate
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    fig, axes = plt.subplots(1, len(args.clips), figsize=(6 * len(args.clips), 4.5), squeeze=False)
    for ax, path in zip(axes[0], args.clips):
        clip = FrameList.read(path, args.frames)
        name = Path(path).stem
        anchor = [point(clip, qp) for qp in args.qps]
        everything = list(anchor)
        for r in anchor:
            rows.append({"clip": name, "config": "x265 single layer (= base only)", **r})
        ax.plot([r["kbps"] for r in anchor], [r["psnr_y"] for r in anchor], "k-o", label="x265 single layer / base only")
        print(f"\n{name} ({len(clip.frames)} frames)")
        for r in anchor:
            print(f"  base QP{r['qp']}: {r['kbps']:8.1f} kbps  PSNR-Y {r['psnr_y']:.2f}  MS-SSIM {r['msssim_y']:.4f}")
        for qp in args.enh_qps:
            curve = [point(clip, qp, q) for q in args.qualities]
            for r in curve:
                rows.append({"clip": name, "config": f"base QP{qp} + enhancement", **r})
                print(f"  QP{qp}+enh q={r['quality']:.2f}: {r['kbps']:8.1f} kbps  PSNR-Y {r['psnr_y']:.2f}  "
                      f"MS-SSIM {r['msssim_y']:.4f}  enh enc {r['enh_encode_fps']:.1f} fps dec {r['enh_decode_fps']:.1f} fps")
            report_bd(f"base QP{qp} + enhancement", anchor, curve, bd_rate)
            everything.extend(curve)
            ax.plot([r["kbps"] for r in curve], [r["psnr_y"] for r in curve], "-s", label=f"base QP{qp} + enhancement")
        report_bd("the envelope of all base(+enhancement) points", anchor, everything, bd_rate)
        ax.set_title(name)
        ax.set_ylabel("PSNR-Y (dB)")
        log_rate_axis(ax, "kbps")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "rd_curves.png", dpi=110)
    with open(out / "rd_points.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    print(f"\nwrote {out / 'rd_points.csv'} and {out / 'rd_curves.png'}")


if __name__ == "__main__":
    main()
