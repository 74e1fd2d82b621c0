#!/usr/bin/env python
"""GOP-parallel speed-up and memory of the command-line tools (issue 26), as users run them.

    python tools/bench_parallel.py [--clip bikes] [--size 768x576] [--frames 64] [--jobs 1 2] [--ray]

Writes the clip (scaled, raw 4:2:0) to a temporary folder, then times ``svc-encode`` (base + enhancement),
``svc-decode --layer full`` and ``svc-analyze`` (base layer, NanoDet) once per worker count: wall time
of the whole command (start-up included), the speed-up against the first count, and the peak RSS of
the largest process of each run (main or worker). Checks that every run gives the same bytes / frames /
rows as the first. Prints the machine's load beside the numbers; run it on an otherwise idle machine.
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


def write_clip(name: str, size: str, frames: int, folder: Path) -> Path:
    from svc.datasets.clips import clip, resize

    w, h = (int(v) for v in size.split("x"))
    fmt, fr = clip(name, frames)
    path = folder / f"{name}_{w}x{h}_{int(fmt.fps)}.yuv"
    with open(path, "wb") as f:
        for x in fr:
            x = resize(x, w, h) if (x.y.shape[1], x.y.shape[0]) != (w, h) else x
            f.write(x.y.tobytes() + x.u.tobytes() + x.v.tobytes())
    return path


def timed(cmd: list[str]) -> tuple[float, int]:
    """(wall seconds, peak RSS in MiB of the largest process of the run)."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {p.stderr.read().decode(errors='replace')[-2000:]}")
    return wall, usage.ru_maxrss // 1024


def digest(path: Path) -> str:
    if path.is_dir():
        return hashlib.md5(b"".join(p.read_bytes() for p in sorted(path.iterdir()))).hexdigest()
    return hashlib.md5(path.read_bytes()).hexdigest()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", default="bikes", help="svc.datasets.clips name")
    ap.add_argument("--size", default="768x576")
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="worker counts (the first is the reference)")
    ap.add_argument("--ray", action="store_true", help="also time --ray (a local Ray instance) with the last count")
    ap.add_argument("--stages", nargs="+", default=["encode", "decode", "analyze"])
    ap.add_argument("--qp", type=float, default=37)
    args = ap.parse_args(argv)
    exe = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = write_clip(args.clip, args.size, args.frames, tmp)
        stream = tmp / "ref.svc"
        subprocess.run([exe / "svc-encode", src, "-o", stream, "--qp", str(args.qp), "-q"], check=True)
        runs = [(j, None) for j in args.jobs] + ([(args.jobs[-1], "local")] if args.ray else [])
        print(f"{args.clip} {args.size}, {args.frames} frames, base QP {args.qp:g}, GOP 16; "
              f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f} at start")
        print("| stage | workers | wall s | speed-up | fps | peak RSS MiB | same output |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for stage in args.stages:
            ref_time = ref_digest = None
            for jobs, ray in runs:
                out = tmp / f"{stage}-{jobs}-{ray}"
                common = ["--jobs", str(jobs)] + (["--ray"] if ray else []) + ["-q", "-y"]
                if stage == "encode":
                    cmd = [exe / "svc-encode", src, "-o", out.with_suffix(".svc"), "--qp", str(args.qp)]
                    target = out.with_suffix(".svc")
                elif stage == "decode":
                    cmd = [exe / "svc-decode", stream, "--layer", "full", "-o", out.with_suffix(".yuv")]
                    target = out.with_suffix(".yuv")
                else:
                    cmd = [exe / "svc-analyze", stream, "-o", out.with_suffix(".txt")]
                    target = out.with_suffix(".txt")
                wall, rss = timed([str(c) for c in cmd] + common)
                d = digest(target)
                ref_time, ref_digest = ref_time or wall, ref_digest or d
                label = f"{jobs}" + (" (Ray)" if ray else "")
                print(f"| {stage} | {label} | {wall:.1f} | {ref_time / wall:.2f}x | {args.frames / wall:.1f} | {rss} | "
                      f"{'yes' if d == ref_digest else 'NO'} |", flush=True)
        print(f"load {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
