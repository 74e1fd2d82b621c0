#!/usr/bin/env python
"""Benchmark: where ROI-selective enhancement's bytes go (``--enh-roi auto``), against full-frame
enhancement of the same base at the same quality.

    python tools/bench_roi.py [--clip bikes:100] [--size 384x288] [--frames 32] [--qp 37] [--quality 0.5]

Frames: a named clip (svc.datasets.clips, ``name:first``) resized to ``--size``; a street scene with
cyclists and pedestrians stands in for surveillance video. Rows: the full-frame enhancement, then ROI
(NanoDet's person boxes on the encoder side, grown by ``roi.margin``, kept over +-``roi.temporal``
frames) at the defaults and with each growth switched off. Per row: enhancement bytes (and share of the
full-frame layer's), the side information (region rectangles), the share of 16x16 units inside the
regions and of pixels inside the detector's raw boxes, and PSNR-Y inside the regions (against the
full-frame layer's there: equal quality is the point of ROI). The machine's load is printed.
"""
from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def frames_of(spec: str, size: str, n: int):
    from svc.datasets.clips import clip, resize
    from svc.io.frames import VideoFormat

    name, _, first = spec.partition(":")
    first = int(first or 0)
    fmt, frames = clip(name, first + n)
    w, h = (int(v) for v in size.split("x"))
    return VideoFormat(w, h, fmt.fps), [resize(f, w, h) for f in frames[first:first + n]]


def coded(fmt, frames, overrides):
    """(decoded full frames, per GOP (payload bytes, side bytes: the region rectangles, per frame its
    unit rectangles (x0, y0, x1, y1), none for a GOP without regions))."""
    from svc.bitstream import ContainerReader
    from svc.config import load_config
    from svc.enhancement import load_codec_for_decoding
    from svc.enhancement import syntax
    from svc.io.memory import FrameCollector, FrameList
    from svc.pipeline.decode import decode
    from svc.pipeline.encoder import Encoder

    cfg = load_config(overrides=overrides)
    buf = io.BytesIO()
    Encoder.from_config(cfg, fmt).encode(FrameList(fmt, frames), buf)
    sink = FrameCollector()
    decode(io.BytesIO(buf.getvalue()), sink, layer="full", codec_loader=load_codec_for_decoding)
    grid = (-(-fmt.height // 16), -(-fmt.width // 16))
    gops = []
    for rec in ContainerReader(io.BytesIO(buf.getvalue())):
        p = rec.enhancement
        mask, rects, body = syntax.unpack_layer(p, rec.frame_count, grid)
        side = len(p) - len(syntax.pack_layer(mask, body))          # the same payload without regions
        gops.append((len(p), side, rects if rects is not None else [[] for _ in range(rec.frame_count)]))
    return sink.frames, gops


def main(argv=None) -> int:
    from svc.analytics.detectors import make_detector
    from svc.config import load_config

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", default="bikes:100")
    ap.add_argument("--size", default="384x288")
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--qp", type=float, default=37)
    ap.add_argument("--quality", type=float, default=0.5)
    args = ap.parse_args(argv)
    print(f"machine load at start: {os.getloadavg()[0]:.2f} (1-minute average, {os.cpu_count()} cores)")
    fmt, frames = frames_of(args.clip, args.size, args.frames)
    by, bx = -(-fmt.height // 16), -(-fmt.width // 16)
    common = {"base": {"qp": args.qp}, "enhancement": {"enabled": True, "quality": args.quality}}
    # the detector's raw person boxes (what the regions start from), for the pixel share
    min_score = load_config().roi.min_score
    det = make_detector("auto")
    raw = np.zeros((fmt.height, fmt.width), bool)
    share = []
    for f in frames:
        raw[:] = False
        d = det.detect(f)
        for (x, y, w, h), s, c in zip(d.boxes, d.scores, d.classes):
            if c == 0 and s >= min_score:
                raw[max(0, int(y)):int(y + h), max(0, int(x)):int(x + w)] = True
        share.append(raw.mean())
    print(f"{args.clip} at {fmt.width}x{fmt.height}, {len(frames)} frames, base QP {args.qp:g}, quality "
          f"{args.quality}: detector's person boxes cover {100 * np.mean(share):.1f}% of the pixels")
    rows = [("full frame", [])]
    for label, roi in (("ROI auto (margin 0.15, temporal 2)", {}), ("ROI, margin 0", {"margin": 0.0}),
                       ("ROI, temporal 0", {"temporal": 0}), ("ROI, margin 0, temporal 0", {"margin": 0.0, "temporal": 0})):
        rows.append((label, [{"enhancement": {"roi": "auto"}, "roi": {**roi, "viewer_quality": "free"}}]))
    full_frames, full_bytes = None, None
    print(f"  {'enhancement':<36} {'bytes':>8} {'/ full':>7} {'side':>6} {'units in':>8} {'PSNR-Y in':>9} "
          f"{'full there':>10}")
    for label, over in rows:
        dec, gops = coded(fmt, frames, [common, *over])
        enh = sum(g[0] for g in gops)
        side = sum(g[1] for g in gops)
        rects = [fr for g in gops for fr in g[2]]
        if full_frames is None:
            full_frames, full_bytes = dec, enh
            print(f"  {label:<36} {enh:8d} {100:6.0f}% {side:6d} {100:7.1f}%")
            continue
        inside, err_roi, err_full, count = [], 0.0, 0.0, 0
        for o, r, f, fr in zip(frames, dec, full_frames, rects):
            m = np.zeros((by * 16, bx * 16), bool)
            for x0, y0, x1, y1 in fr:
                m[y0 * 16:y1 * 16, x0 * 16:x1 * 16] = True
            m = m[:fmt.height, :fmt.width]
            inside.append(m.mean())
            oy = o.y.astype(np.float64)
            err_roi += ((r.y[m] - oy[m]) ** 2).sum()
            err_full += ((f.y[m] - oy[m]) ** 2).sum()
            count += int(m.sum())
        db = (lambda e: 10 * np.log10(255.0 ** 2 / max(e / max(count, 1), 1e-12)))
        print(f"  {label:<36} {enh:8d} {100 * enh / full_bytes:6.0f}% {side:6d} {100 * np.mean(inside):7.1f}% "
              f"{db(err_roi):9.2f} {db(err_full):10.2f}")
    print(f"\nmachine load at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
