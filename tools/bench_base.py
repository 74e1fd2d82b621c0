#!/usr/bin/env python
"""Benchmark: base-layer encode/decode fps of svc against plain single-layer x265 in the same run.

    python tools/bench_base.py [--frames 64] [--preset fast] [--repeat 3]

For each size (416x240, 832x480; frames are made by scaling the carphone clip) it times
  - svc encode (GOP buffer + long-lived libx265 + self-decode for the reconstruction + container) and
    plain PyAV libx265 with the same settings and keyint, single-layer, no reconstruction;
  - svc decode --layer base (container reader + per-GOP HEVC decoder) and plain PyAV decoding
    of the same HEVC bytes as one stream;
and prints fps and the svc/plain ratio (1.0 = no overhead). Best of --repeat runs, svc and plain
alternating.
"""
from __future__ import annotations

import argparse
import io
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from svc.pipeline.decode import decode  # noqa: E402
from svc.pipeline.encode import encode  # noqa: E402
from svc.base import BaseEncoder  # noqa: E402
from svc.config import load_config  # noqa: E402
from svc.io import open_source  # noqa: E402
from svc.io.avframes import to_av  # noqa: E402
from svc.io.frames import VideoFormat, YuvFrame  # noqa: E402
from svc.io.memory import FrameList  # noqa: E402


def scaled_frames(w, h, n):
    src = list(open_source(ROOT.parent / "shared" / "data" / "carphone_176x144_30.mp4", max_frames=n))
    out = []
    for f in src:
        i420 = cv2.resize(cv2.cvtColor(f.to_i420(), cv2.COLOR_YUV2BGR_I420), (w, h), interpolation=cv2.INTER_CUBIC)
        out.append(YuvFrame.from_i420(cv2.cvtColor(i420, cv2.COLOR_BGR2YUV_I420), w, h))
    return out


class Null:
    def write(self, f):
        pass


def plain_encode(fmt, frames, settings, gop):
    enc = BaseEncoder(fmt, settings)
    ctx = enc._open(gop)  # same parameters, one encoder for the whole sequence
    out = []
    for i, f in enumerate(frames):
        out.extend(bytes(p) for p in ctx.encode(to_av(f, fmt, pts=i)))
    out.extend(bytes(p) for p in ctx.encode(None))
    return b"".join(out)


def plain_decode(data):
    ctx = av.CodecContext.create("hevc", "r")
    n = 0
    for pkt in ctx.parse(data) + ctx.parse(None):
        for f in ctx.decode(pkt):
            f.to_ndarray()
            n += 1
    for f in ctx.decode(None):
        f.to_ndarray()
        n += 1
    return n


def best_pair(fn_a, fn_b, repeat):
    """Best-of-``repeat`` seconds of two callables, run alternately (a, b, a, b, ...) so that load
    drift on a shared machine touches both alike."""
    times = ([], [])
    for _ in range(repeat):
        for fn, ts in zip((fn_a, fn_b), times):
            t = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t)
    return min(times[0]), min(times[1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--gop", type=int, default=16)
    ap.add_argument("--qp", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    cfg = load_config(overrides=[{"base": {"qp": args.qp, "gop": args.gop, "preset": args.preset},
                                  "enhancement": {"enabled": False}}])
    settings = cfg.base
    print(f"{'size':>9} {'svc enc fps':>12} {'x265 fps':>9} {'ratio':>6} {'svc dec fps':>12} {'ffmpeg fps':>10} {'ratio':>6}")
    for w, h in ((416, 240), (832, 480)):
        fmt = VideoFormat(w, h, Fraction(30))
        frames = scaled_frames(w, h, args.frames)
        buf = io.BytesIO()
        t_svc, t_plain = best_pair(lambda: encode(FrameList(fmt, frames), (buf.seek(0), buf.truncate(), buf)[2], cfg),
                                   lambda: plain_encode(fmt, frames, settings, args.gop), args.repeat)
        data = buf.getvalue()
        hevc = io.BytesIO()
        from svc.pipeline.decode import extract_base
        extract_base(io.BytesIO(data), hevc)
        d_svc, d_plain = best_pair(lambda: decode(io.BytesIO(data), Null(), layer="base"),
                                   lambda: plain_decode(hevc.getvalue()), args.repeat)
        n = len(frames)
        print(f"{w}x{h:<5} {n / t_svc:12.1f} {n / t_plain:9.1f} {t_plain / t_svc:6.3f} "
              f"{n / d_svc:12.1f} {n / d_plain:10.1f} {d_plain / d_svc:6.3f}")
    print("ratio = svc speed / plain speed (1.0 = no overhead); svc encode includes decoding its own "
          "packets for the exact reconstruction and PSNR.")


if __name__ == "__main__":
    main()
