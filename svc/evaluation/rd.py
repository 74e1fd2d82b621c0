"""Rate-distortion curves of the full layer (base + enhancement) against single-layer HEVC and simulcast
(``svc-rd``; ``tools/rd_curves.py`` runs the same).

    svc-rd [--frames 60] [--out results/rd] [--clips a.mp4 B_416x240_30.yuv bikes:208 ...]
           [--variant no-temporal:enhancement.temporal=false ...]

For each clip (a file, or a named clip of svc.datasets.clips as name[:first frame]; default: carphone
and RaceHorses from ../shared/data) it codes
  - the single-layer anchor: svc's own base layer alone (libx265, preset fast, constant QP, closed
    GOPs of base.gop frames, no B-frame reordering across GOPs), at QPs --qps. This is the anchor of
    every BD-rate below: the same encoder and settings the base layer uses;
  - beside it, plain FFmpeg/libx265 at its default settings (preset medium, open GOP, keyint 250,
    B-frames) at CRF --qps, to show what the closed-GOP constraint costs;
  - the full layer: base at QPs --enh-qps plus the enhancement layer at each --qualities;
  - simulcast: the same base plus an independent single-layer stream at the full layer's PSNR (the
    anchor curve interpolated), i.e. what sending two HEVC streams would cost.
It reports kbps, PSNR-Y, PSNR-YUV (6:1:1), MS-SSIM-Y per point, the BD-rate (PSNR-Y and MS-SSIM-Y) of
each full-layer curve against the anchor, against simulcast and against FFmpeg's x265 defaults, the simulcast's own BD-rate against the
anchor, enhancement encode/decode fps, a CSV and a PNG plot. ``--variant label:key=value,key=value``
adds full-layer curves with other enhancement settings (e.g. one tool switched off), so each tool's
share of the gain is measured in the same run.
"""
from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np

from svc.base.reference import plain_x265
from svc.config import load_config
from svc.evaluation.report import write_csv
from svc.io.memory import FrameCollector, FrameList
from svc.metrics.bdrate import bd_rate, pareto_front, simulcast
from svc.metrics.msssim import ms_ssim_y
from svc.metrics.quality import PsnrAccumulator
from svc.pipeline.decode import decode


def msssim(clip, frames) -> float:
    return float(np.mean([ms_ssim_y(o.y, d.y, clip.format.max_value) for o, d in zip(clip.frames, frames)]))


def point(clip, qp, quality=None, overrides=()):
    """One coded point: base at ``qp`` (+ enhancement at ``quality``), decoded back and measured."""
    over = [{"base": {"qp": qp}, "enhancement": {"enabled": quality is not None}}, *overrides]
    if quality is not None:
        over.append({"enhancement": {"quality": quality}})
    cfg = load_config(overrides=over)
    from svc.enhancement import load_codec_for_decoding
    from svc.pipeline.encoder import Encoder

    encoder = Encoder.from_config(cfg, clip.format)
    codec, loader = encoder.codec, load_codec_for_decoding
    buf = io.BytesIO()
    s = encoder.encode(clip, buf)
    sink = FrameCollector()
    t = time.perf_counter()
    decode(io.BytesIO(buf.getvalue()), sink, layer="full" if codec else "base", codec_loader=loader)
    t_dec = time.perf_counter() - t
    psnr = s.psnr_viewer
    return {"qp": qp, "quality": "" if quality is None else quality, "kbps": s.full_kbps, "base_kbps": s.base_kbps,
            "psnr_y": psnr.y, "psnr_yuv": psnr.yuv, "msssim_y": msssim(clip, sink.frames),
            "enh_encode_fps": len(clip.frames) / s.timings["enhancement"] if codec else "",
            "enh_decode_fps": len(clip.frames) / t_dec if codec else ""}


def ffmpeg_default_point(clip, crf):
    """Plain FFmpeg/libx265 at its defaults (preset medium) at ``crf``, decoded and measured."""
    data, recon = plain_x265(clip.format, clip.frames, {"crf": crf})
    acc = PsnrAccumulator(clip.format.max_value)
    for o, d in zip(clip.frames, recon):
        acc.add(o, d)
    p = acc.mean()
    kbps = len(data) * 8 / 1000 / (len(clip.frames) / float(clip.format.fps))
    return {"qp": crf, "quality": "", "kbps": kbps, "base_kbps": kbps, "psnr_y": p.y, "psnr_yuv": p.yuv,
            "msssim_y": msssim(clip, recon), "enh_encode_fps": "", "enh_decode_fps": ""}


def front(points, key="psnr_y"):
    """The Pareto front by (kbps, ``key``): drops repeats and dominated points."""
    return [points[i] for i in pareto_front([r["kbps"] for r in points], [r[key] for r in points])]


def bd(anchor, curve, key="psnr_y"):
    a, c = front(anchor, key), front(curve, key)
    try:
        return bd_rate([r["kbps"] for r in a], [r[key] for r in a], [r["kbps"] for r in c], [r[key] for r in c])
    except ValueError:
        return float("nan")


def simulcast_points(anchor, base_kbps, curve, key="psnr_y"):
    """Simulcast of ``curve``'s qualities: the base rate + the anchor's rate at each quality."""
    a = front(anchor, key)
    rates = simulcast(base_kbps, [r["kbps"] for r in a], [r[key] for r in a], [r[key] for r in curve])
    return [dict(r, kbps=float(k)) for r, k in zip(curve, rates) if np.isfinite(k)]


def read_clip(spec: str, frames: int):
    """(FrameList, name) of a file, or of a named clip of svc.datasets.clips as ``name[:first]``
    (e.g. ``bikes:208``: frames 208.. of bikes; its video trained the restoration network, so the
    report labels it "seen in training", :func:`svc.datasets.registry.label`)."""
    if Path(spec).exists():
        return FrameList.read(spec, frames), Path(spec).stem
    from svc.datasets.clips import clip

    name, _, first = spec.partition(":")
    fmt, fr = clip(name, frames + int(first or 0))
    return FrameList(fmt, fr[int(first or 0):]), spec.replace(":", "@")


def parse_variant(text):
    label, _, sets = text.partition(":")
    return label, [s for s in sets.split(",") if s]


def fmt_pct(v):
    return "  n/a  " if not np.isfinite(v) else f"{v:+6.1f}%"


def main(argv=None):
    from svc._version import __version__

    ap = argparse.ArgumentParser(prog="svc-rd", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", action="version", version=f"%(prog)s (svc) {__version__}")
    ap.add_argument("--clips", nargs="*", default=["carphone", "racehorses"],
                    help="video files or named clips (svc.datasets.clips, name[:first frame]); default: the shared "
                         "carphone and RaceHorses clips")
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--qps", nargs="+", type=int, default=[22, 27, 32, 37, 42])
    ap.add_argument("--enh-qps", nargs="+", type=int, default=[32, 37])
    ap.add_argument("--qualities", nargs="+", type=float, default=[0.0, 0.25, 0.5, 0.75, 1.0])
    ap.add_argument("--variant", action="append", default=[], metavar="LABEL:KEY=VALUE,...",
                    help="extra full-layer curves with these config overrides (repeatable)")
    ap.add_argument("--no-ffmpeg-default", action="store_true", help="skip the plain FFmpeg/x265-defaults curve")
    ap.add_argument("--out", default="results/rd")
    args = ap.parse_args(argv)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from svc.evaluation.report import log_rate_axis

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, summary = [], []
    variants = [("", [])] + [parse_variant(v) for v in args.variant]
    fig, axes = plt.subplots(1, len(args.clips), figsize=(6.5 * len(args.clips), 4.8), squeeze=False)
    for ax, path in zip(axes[0], args.clips):
        clip, name = read_clip(path, args.frames)
        from svc.datasets.registry import label
        print(f"\n{name} ({len(clip.frames)} frames, {clip.format.width}x{clip.format.height}; {label(path)})")
        anchor = [point(clip, qp) for qp in args.qps]
        for r in anchor:
            rows.append({"clip": name, "curve": "single layer (svc base only)", **r})
            print(f"  single layer QP{r['qp']}: {r['kbps']:8.1f} kbps  PSNR-Y {r['psnr_y']:.2f}  "
                  f"MS-SSIM {r['msssim_y']:.4f}")
        ax.plot([r["kbps"] for r in anchor], [r["psnr_y"] for r in anchor], "k-o",
                label="single layer: svc base only (x265 fast, closed GOP)")
        plain = []
        if not args.no_ffmpeg_default:
            plain = [ffmpeg_default_point(clip, crf) for crf in args.qps]
            for r in plain:
                rows.append({"clip": name, "curve": "FFmpeg x265 defaults (CRF)", **r})
            print(f"  FFmpeg/x265 defaults (CRF {args.qps}) vs single layer: BD-rate {fmt_pct(bd(anchor, plain))}")
            ax.plot([r["kbps"] for r in plain], [r["psnr_y"] for r in plain], "k:.", label="FFmpeg x265 defaults")
        for qp in args.enh_qps:
            base = next((r for r in anchor if r["qp"] == qp), None) or point(clip, qp)
            for label, sets in variants:
                curve = [point(clip, qp, q, [s for s in sets]) for q in args.qualities]
                # a variant with other base settings has its own base: the zero-bit gain and the
                # simulcast's first stream are measured against it
                vbase = point(clip, qp, None, list(sets)) if any(s.startswith("base.") for s in sets) else base
                tag = f"base QP{qp} + enhancement" + (f" [{label}]" if label else "")
                for r in curve:
                    rows.append({"clip": name, "curve": tag, **r})
                    print(f"  {tag} q={r['quality']:.2f}: {r['kbps']:8.1f} kbps  PSNR-Y {r['psnr_y']:.2f}  "
                          f"MS-SSIM {r['msssim_y']:.4f}  enh enc {r['enh_encode_fps']:.1f} fps "
                          f"dec {r['enh_decode_fps']:.1f} fps")
                sim = simulcast_points(anchor, vbase["kbps"], curve)
                sim_ms = simulcast_points(anchor, vbase["kbps"], curve, "msssim_y")
                res = {"clip": name, "curve": tag,
                       "zero_bit_gain_db": curve[0]["psnr_y"] - vbase["psnr_y"] if args.qualities[0] == 0 else float("nan"),
                       "bd_vs_single": bd(anchor, curve), "bd_simulcast_vs_single": bd(anchor, sim),
                       "bd_vs_simulcast": bd(sim, curve),
                       "bd_msssim_vs_single": bd(anchor, curve, "msssim_y"),
                       "bd_msssim_simulcast_vs_single": bd(anchor, sim_ms, "msssim_y"),
                       "bd_vs_ffmpeg_default": bd(plain, curve) if plain else float("nan")}
                summary.append(res)
                print(f"  {tag}: BD-rate PSNR-Y vs single layer {fmt_pct(res['bd_vs_single'])} (simulcast "
                      f"{fmt_pct(res['bd_simulcast_vs_single'])}), vs simulcast {fmt_pct(res['bd_vs_simulcast'])}; "
                      f"MS-SSIM vs single layer {fmt_pct(res['bd_msssim_vs_single'])} (simulcast "
                      f"{fmt_pct(res['bd_msssim_simulcast_vs_single'])})"
                      + (f"; vs FFmpeg x265 defaults {fmt_pct(res['bd_vs_ffmpeg_default'])}" if plain else "")
                      + (f"; zero-bit gain {res['zero_bit_gain_db']:+.3f} dB" if np.isfinite(res["zero_bit_gain_db"])
                         else ""))
                line = ax.plot([r["kbps"] for r in curve], [r["psnr_y"] for r in curve], "-s", label=tag)[0]
                if sim:
                    ax.plot([r["kbps"] for r in sim], [r["psnr_y"] for r in sim], "--", color=line.get_color(),
                            alpha=0.6, label=f"simulcast (base QP{qp} + single layer)")
        ax.set_title(name)
        ax.set_ylabel("PSNR-Y (dB)")
        log_rate_axis(ax, "kbps (base + enhancement)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "rd_curves.png", dpi=110)
    write_csv(out / "rd_points.csv", rows)
    if summary:
        write_csv(out / "rd_bd.csv", summary)
    print(f"\nwrote {out / 'rd_points.csv'}, {out / 'rd_bd.csv'} and {out / 'rd_curves.png'}")
    return 0

