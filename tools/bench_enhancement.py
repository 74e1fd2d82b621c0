#!/usr/bin/env python
"""Benchmark: enhancement-layer encode/decode fps at 416x240 against the base layer in the same run.

    python tools/bench_enhancement.py [--frames 32] [--quality 0.75]

Frames: the carphone clip scaled to 416x240; base QP 37. Prints fps of the base encode, the
enhancement encode (analysis + rANS + the three-mode decision) and the enhancement decode, and
the share of frames that carried a coded residual.
"""
from __future__ import annotations

import argparse
from collections import Counter
import io
import sys
import time
from fractions import Fraction
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from svc.pipeline.decode import decode  # noqa: E402
from svc.pipeline.encode import encode  # noqa: E402
from svc.bitstream import ContainerReader, unpack_frame_payloads  # noqa: E402
from svc.enhancement.codec import (MODE_BASE, MODE_CARRY, MODE_CARRY_CODED, MODE_CODED,  # noqa: E402
                                   MODE_PREDICT, frame_mode)
from svc.config import load_config  # noqa: E402
from svc.enhancement import load_codec_for_decoding, load_codec_for_encoding  # noqa: E402
from svc.io import open_source  # noqa: E402
from svc.io.frames import VideoFormat, YuvFrame  # noqa: E402
from svc.io.memory import FrameCollector, FrameList  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--quality", type=float, default=0.75)
    args = ap.parse_args()
    fmt = VideoFormat(416, 240, Fraction(30))
    frames = []
    for f in open_source(ROOT.parent / "shared" / "data" / "carphone_176x144_30.mp4", max_frames=args.frames):
        bgr = cv2.resize(cv2.cvtColor(f.to_i420(), cv2.COLOR_YUV2BGR_I420), (416, 240), interpolation=cv2.INTER_CUBIC)
        frames.append(YuvFrame.from_i420(cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420), 416, 240))
    cfg = load_config(overrides=[{"base": {"qp": 37}, "enhancement": {"quality": args.quality}}])
    codec = load_codec_for_encoding(cfg.enhancement, fmt)
    buf = io.BytesIO()
    stats = encode(FrameList(fmt, frames), buf, cfg, codec=codec)
    n = len(frames)
    data = buf.getvalue()
    t = time.perf_counter()
    decode(io.BytesIO(data), FrameCollector(), layer="base")
    t_base_dec = time.perf_counter() - t
    t = time.perf_counter()
    decode(io.BytesIO(data), FrameCollector(), layer="full", codec_loader=load_codec_for_decoding)
    t_full_dec = time.perf_counter() - t
    modes = Counter(frame_mode(p) for r in ContainerReader(io.BytesIO(data))
                    for p in unpack_frame_payloads(r.enhancement, r.frame_count))
    coded = modes[MODE_CODED] + modes[MODE_CARRY_CODED]
    s = stats
    print(f"416x240, {n} frames, base QP37, quality {args.quality}: {coded}/{n} frames carry a coded residual "
          f"(against the base: {modes[MODE_CODED]}, against the carried reference: {modes[MODE_CARRY_CODED]}); "
          f"zero-bit: {modes[MODE_BASE]} base, {modes[MODE_PREDICT]} predicted, {modes[MODE_CARRY]} carried")
    print(f"  base encode        {n / stats.timings['base']:7.1f} fps")
    print(f"  enhancement encode {n / stats.timings['enhancement']:7.1f} fps")
    print(f"  base decode        {n / t_base_dec:7.1f} fps")
    print(f"  full decode        {n / t_full_dec:7.1f} fps (base + enhancement)")
    print(f"  PSNR-Y base {s.psnr_base.y:.2f} dB -> full {s.psnr_full.y:.2f} dB, "
          f"{s.base_kbps:.1f} + {s.enh_kbps:.1f} kbps")


if __name__ == "__main__":
    main()
