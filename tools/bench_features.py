#!/usr/bin/env python
"""Benchmark the split-DNN feature layer against the HEVC base layer on the same frames.

    python tools/bench_features.py [--clips carphone bikes:100] [--frames 64] [--model PATH] [--out results/features]

For each clip, NanoDet-g on the uncompressed frames gives the reference detections and tracks (the
"uncompressed-feature run"; its own threshold, 0.35). Then, on the same frames:

* the feature layer at every quantiser of the model (intra and temporal coding): the edge runs the
  network to the split point, the features are coded and decoded (svc.features.codec), the cloud runs
  the rest; bits per element, kbps, mAP@0.5 and MOTA against the reference;
* the HEVC base layer at --qps (svc's base encoder, then the whole detector on the decoded frames);
  kbps, mAP@0.5 and MOTA against the same reference;
* with --interlayer QP..: the feature layer coded against the base layer at each of those QPs
  (svc.features.interlayer; temporal), every quantiser: its own bits per element and kbps, and the
  total with the base layer it needs.

mAP@0.5 is averaged over the reference's classes weighted by their instances. As in the standard
protocol (and the papers' figures), the detections under test are ranked by score down to --map-floor
(0.05), not cut at the operating threshold; "mAP@0.5 thr" is the same with the detections cut at the
operating threshold (0.35), which counts every near-threshold score that moves as a miss. MOTA pools
every class (tracks by svc's tracker, on the thresholded detections). "codec fps" times the feature
codec alone (encode: index choice and rANS; decode: rANS and contexts, checked equal to the encoder's
tensors), not the network halves. Writes a CSV and a plot of mAP and MOTA against kbps. ``clip:first`` starts
a clip at frame ``first`` (e.g. bikes:100, where the riders and cars are).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from svc.evaluation.machine import load_frames, reference_run, rows, scores  # noqa: E402
from svc.evaluation.report import write_csv  # noqa: E402


def main(argv=None):
    from svc.base import BaseEncoder
    from svc.config import BaseConfig
    from svc.features.codec import WEIGHTS_DIR, FeatureCodec, FeatureModel
    from svc.features.split import SplitDetector

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", nargs="+", default=["carphone", "bikes:100"])
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--qps", nargs="+", type=float, default=[27, 32, 37, 42, 47])
    ap.add_argument("--model", default=str(WEIGHTS_DIR / "nanodet-g-stage2-v4.npz"))
    ap.add_argument("--no-spatial", action="store_true",
                    help="code with the previous-frame contexts only (the neighbours' contexts switched off)")
    ap.add_argument("--quantisers", nargs="+", type=int, help="quantiser ids (default: all)")
    ap.add_argument("--interlayer", nargs="+", type=float, default=[],
                    help="base-layer QPs to code the feature layer against (inter-layer contexts; the model "
                         "needs their tables)")
    ap.add_argument("--no-independent", action="store_true",
                    help="skip the feature layer coded on its own (intra and temporal rows)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--map-floor", type=float, default=0.05,
                    help="lowest score of the detections ranked for mAP (standard protocol; default 0.05)")
    ap.add_argument("--out", default="results/features")
    args = ap.parse_args(argv)
    model = FeatureModel.load(args.model)
    sd = SplitDetector(model.split, threads=args.threads)
    threshold = sd.detector.min_score
    predictor = None
    if args.interlayer:
        from svc.features.interlayer import BasePredictor
        predictor = BasePredictor(sd)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = []
    for spec in args.clips:
        fmt, frames = load_frames(spec, args.frames)
        n, secs = len(frames), len(frames) / float(fmt.fps)
        feats, lbs, ref, ref_tracks = reference_run(sd, frames)
        elems = sum(t.size for t in feats[0])
        print(f"\n{spec}: {n} frames {fmt.width}x{fmt.height}, split {model.split}: {elems} elements per frame, "
              f"reference: {len(rows(ref))} detections")
        quantisers = args.quantisers if args.quantisers is not None else range(len(model.quantisers))

        def feature_rows(label, codec, base=None, extra=None):
            nbytes, dec, t_enc, t_dec = 0, [], 0.0, 0.0
            for g in range(0, n, 16):
                gop_base = base[g:g + 16] if base is not None else None
                t0 = time.perf_counter()
                payload, d = codec.encode_gop(feats[g:g + 16], gop_base)
                t1 = time.perf_counter()
                again = codec.decode_gop(payload, [t.shape for t in feats[0]], None, gop_base)
                t_enc, t_dec = t_enc + t1 - t0, t_dec + time.perf_counter() - t1
                if not all(np.array_equal(a, b) for fa, fb in zip(again, d) for a, b in zip(fa, fb)):
                    raise SystemExit(f"{spec} {label}: the decoder disagrees with the encoder")
                nbytes += len(payload)
                dec += d
            m, m_thr, mota = scores(ref, ref_tracks, sd.cloud(dec, lbs, args.map_floor), threshold)
            row = {"clip": spec, "layer": label, "bits_per_element": nbytes * 8 / n / elems,
                   "kbps": nbytes * 8 / secs / 1000, "mAP50": m, "mAP50_thr": m_thr, "MOTA": mota,
                   "encode_fps": n / t_enc, "decode_fps": n / t_dec, **(extra or {})}
            if "base_kbps" in row:
                row["total_kbps"] = row["kbps"] + row["base_kbps"]
            table.append(row)
            total = f" (with the base: {row['total_kbps']:.1f})" if "total_kbps" in row else ""
            print(f"  {label:>22}: {row['bits_per_element']:.3f} bits/element {row['kbps']:9.1f} kbps{total}  "
                  f"mAP@0.5 {m:.3f}  mAP@0.5 thr {m_thr:.3f}  MOTA {mota:.3f}  "
                  f"codec fps: encode {row['encode_fps']:.1f} decode {row['decode_fps']:.1f}")
            return row

        for qid in quantisers if not args.no_independent else ():
            for temporal in (False, True):
                feature_rows(f"features q{qid}{' temporal' if temporal else ''}",
                             FeatureCodec(model, qid, temporal, spatial=not args.no_spatial))
        det = sd.detector
        for qp in sorted(set(args.qps) | set(args.interlayer), reverse=True):
            done = BaseEncoder(fmt, BaseConfig(qp=qp, gop=16)).encode_sequence(frames, 16)
            nbytes = sum(len(g.payload) for g in done)
            if qp in args.interlayer:
                t0 = time.perf_counter()
                base = predictor.features([f for g in done for f in g.recon])
                front_fps = n / (time.perf_counter() - t0)
                base_kbps = nbytes * 8 / secs / 1000
                print(f"  base layer QP{qp:g} ({base_kbps:.1f} kbps): its float64 front (the prediction) at "
                      f"{front_fps:.1f} fps")
                for qid in quantisers:
                    feature_rows(f"interlayer q{qid} QP{qp:g}", FeatureCodec(model, qid, True, interlayer=True),
                                 base, {"base_kbps": base_kbps, "prediction_fps": front_fps})
            if qp not in args.qps:
                continue
            det.min_score = args.map_floor
            try:
                found = det.detect_batch([f for g in done for f in g.recon])
            finally:
                det.min_score = threshold
            m, m_thr, mota = scores(ref, ref_tracks, found, threshold)
            row = {"clip": spec, "layer": f"HEVC base QP{qp:g}", "bits_per_element": float("nan"),
                   "kbps": nbytes * 8 / secs / 1000, "mAP50": m, "mAP50_thr": m_thr, "MOTA": mota}
            table.append(row)
            print(f"  {row['layer']:>22}:                    {row['kbps']:9.1f} kbps  mAP@0.5 {m:.3f}  "
                  f"mAP@0.5 thr {m_thr:.3f}  MOTA {mota:.3f}")
    write_csv(out / "features.csv", table)
    _plot(table, out / "features.png")
    print(f"\nwrote {out / 'features.csv'} and {out / 'features.png'}")
    return 0


def _plot(table, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from svc.evaluation.report import log_rate_axis

    clips = sorted({r["clip"] for r in table})
    fig, axes = plt.subplots(2, len(clips), figsize=(5.5 * len(clips), 7), squeeze=False)
    for j, c in enumerate(clips):
        for i, metric in enumerate(("mAP50", "MOTA")):
            ax = axes[i][j]
            for kind, style in (("features", "-o"), ("features temporal", "-s"), ("HEVC", "k-^")):
                pts = sorted((r["kbps"], r[metric]) for r in table if r["clip"] == c and (
                    r["layer"].startswith("HEVC") if kind == "HEVC" else
                    r["layer"].startswith("features") and r["layer"].endswith("temporal") == (kind != "features")))
                if pts:
                    ax.plot(*zip(*pts), style, label=kind if kind != "features" else "features (intra)")
            for qp in sorted({r["layer"].split()[-1] for r in table if r["clip"] == c and "total_kbps" in r}):
                pts = sorted((r["total_kbps"], r[metric]) for r in table
                             if r["clip"] == c and "total_kbps" in r and r["layer"].endswith(" " + qp))
                ax.plot(*zip(*pts), "--x", label=f"features on base {qp} (total kbps)")
            ax.set_title(f"{c}: {metric}")
            log_rate_axis(ax, "kbps")
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
