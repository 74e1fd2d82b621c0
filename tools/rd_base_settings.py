#!/usr/bin/env python
"""Base-layer settings users would pick (issue 24, item 2): single-layer RD of svc's base encoder with
longer closed GOPs, B-frames inside the GOP and preset medium, against FFmpeg/libx265 at its defaults.

    python tools/rd_base_settings.py [--clips carphone bikes:208] [--frames 64] [--qps 22 27 32 37 42]

Each setting codes the clip through the product (svc.evaluation.rd.point: svc-encode --no-enhancement
with the setting's config keys, decoded back); BD-rates (PSNR-Y, negative = fewer bits) against svc's
current base settings and against FFmpeg's x265 defaults (preset medium, open GOP, keyint 250, CRF).
Streaming stays per closed GOP in every setting. Each clip is labelled held out or seen in training.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SETTINGS = {
    "svc now (gop 16, fast)": [],
    "gop 32, fast": [{"base": {"gop": 32}}],
    "gop 64, fast": [{"base": {"gop": 64}}],
    "gop 32, fast, bframes 3": [{"base": {"gop": 32, "x265_params": {"bframes": 3}}}],
    "gop 32, medium": [{"base": {"gop": 32, "preset": "medium"}}],
    "gop 64, medium, bframes 3": [{"base": {"gop": 64, "preset": "medium", "x265_params": {"bframes": 3}}}],
}


def main(argv=None) -> int:
    from svc.datasets.registry import label
    from svc.evaluation.rd import bd, ffmpeg_default_point, point, read_clip

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", nargs="+", default=["carphone", "bikes:208"])
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--qps", nargs="+", type=int, default=[22, 27, 32, 37, 42])
    ap.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    args = ap.parse_args(argv)
    print(f"machine load {os.getloadavg()[0]:.2f}; {args.frames} frames per clip; QPs {args.qps}")
    print("| clip | setting | BD-rate vs svc now | BD-rate vs FFmpeg x265 defaults | kbps @ QP 37 | PSNR-Y @ QP 37 |")
    print("| --- | --- | --- | --- | --- | --- |")
    for spec in args.clips:
        clip, name = read_clip(spec, args.frames)
        ref = [ffmpeg_default_point(clip, qp) for qp in args.qps]
        curves = {s: [point(clip, qp, None, SETTINGS[s]) for qp in args.qps] for s in args.settings}
        now = curves.get("svc now (gop 16, fast)")
        for s, pts in curves.items():
            at37 = next((p for p in pts if p["qp"] == 37), pts[-1])
            print(f"| {name} ({label(spec)}) | {s} | {bd(now, pts):+.1f}% | {bd(ref, pts):+.1f}% | "
                  f"{at37['kbps']:.1f} | {at37['psnr_y']:.2f} |" if now else f"| {name} | {s} | | {bd(ref, pts):+.1f}% |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
