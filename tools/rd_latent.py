#!/usr/bin/env python
"""Rate-distortion of the learned latent codec for machines and for humans, against the alternatives.

    python tools/rd_latent.py [--clips carphone bikes:100 bbb] [--frames 16] [--qualities 0 .2 .4 .6 .8 1]
                              [--qps 22 27 32 37 42 47] [--model NAME|PATH] [--recon-model PATH]
                              [--nonscalable-model PATH] [--compare LABEL=PATH ...] [--out results/latent]

Machines (reference: NanoDet-g on the original frames; mAP@0.5 ranked down to --map-floor, MOTA of svc's
tracker, as ``tools/bench_features.py``), against the kbps the detector's input costs:

* ``latent base``: the base latent alone at each base quality; the latent transform gives NanoDet's
  ``stage2`` tensor, the back half detects (no pixels);
* (a) ``latent pixels``: the whole latent (base and enhancement at the same quality) decoded to
  pixels and the whole NanoDet run on them, with ``--recon-model`` (the network trained for
  reconstruction only, the seeds' "best alternative"; default: the same model);
* (b) ``x265 intra``: every frame an IDR (x265 preset fast, constant QP), NanoDet on the decoded frames;
* (c) ``HEVC base``: svc's base layer (closed 16-frame GOPs), NanoDet on the decoded frames;
* (d) ``features``: the split-DNN feature layer (temporal, each quantiser), the back half on its tensors.

Humans: PSNR-Y and MS-SSIM of ``latent full`` (base + enhancement, both at each quality) against kbps,
against x265 intra, x265 inter (svc's base settings) and ``--nonscalable-model`` when given.

``--single Q=PATH`` (at least 3): models trained at one quality each; their points form the
``single-rate`` curves, and the one VBR model's BD-rate against them is the VBR target's figure.

``--compare LABEL=PATH`` adds another latent model's base and full curves (e.g. an ablation: the same
weights without the reconstruction offsets or without the variable-rate hyper-latent, or a model trained
at one rate), with their BD-rates against the main model (positive: the other model needs more bits).

BD-rates (percent, negative = fewer bits) over each curve's operational points: machines on mAP@0.5,
latent base against (a)-(d); humans on PSNR-Y, latent full against the others. Speed: frames per
second of encode, base latent to detections, and full decode, on this machine (its load printed).
Each clip is labelled held out or seen in training (svc.datasets.registry: the latent codec trains on
photographs and, from latent-v3, frames of bikes and bigbuckbunny; carphone and RaceHorses never train).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import warnings  # noqa: E402

import numpy as np  # noqa: E402

warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=FutureWarning)

from svc.evaluation.machine import bd_rate_or_nan, load_frames, reference_run, scores  # noqa: E402
from svc.evaluation.report import write_csv  # noqa: E402


def quality(orig, recon) -> tuple[float, float]:
    """Mean PSNR-Y (dB) and MS-SSIM-Y of decoded frames."""
    from svc.metrics.msssim import ms_ssim_y
    from svc.metrics.quality import psnr

    p = [psnr(o.y, r.y) for o, r in zip(orig, recon)]
    try:
        s = [ms_ssim_y(o.y, r.y) for o, r in zip(orig, recon)]
    except Exception:  # noqa: BLE001 - frames too small for the 5 MS-SSIM scales
        s = [float("nan")]
    return float(np.mean(p)), float(np.mean(s))


def latent_points(codec, frames, q_base, q_enh, secs, sd, lb, floor):
    """One operating point of a latent codec: bytes, detections from the base latent, pictures."""
    from svc.io.frames import YuvFrame

    base_b = enh_b = 0
    t_enc = t_det = t_full = 0.0
    pics, feats = [], []
    for f in frames:
        t0 = time.perf_counter()
        b, e = codec.encode_frame(f.y, f.u, f.v, q_base, q_enh)
        t1 = time.perf_counter()
        feats.append([codec.decode_base_features(b)[0].numpy()])
        t2 = time.perf_counter()
        pics.append(YuvFrame(*codec.decode_full(b, e)))
        t3 = time.perf_counter()
        base_b, enh_b = base_b + len(b), enh_b + len(e)
        t_enc, t_det, t_full = t_enc + t1 - t0, t_det + t2 - t1, t_full + t3 - t2
    t0 = time.perf_counter()
    dets = sd.cloud(feats, [lb] * len(feats), floor)
    t_det += time.perf_counter() - t0
    n = len(frames)
    return {"base_kbps": base_b * 8 / secs / 1000, "full_kbps": (base_b + enh_b) * 8 / secs / 1000,
            "dets": dets, "pics": pics, "encode_fps": n / t_enc, "detect_fps": n / t_det, "decode_fps": n / t_full}


def main(argv=None):
    from svc.base import BaseEncoder
    from svc.config import BaseConfig
    from svc.features.codec import WEIGHTS_DIR, FeatureCodec, FeatureModel
    from svc.features.split import SplitDetector
    from svc.datasets.registry import label as label_of
    from svc.latent.codec import LatentCodec

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", nargs="+", default=["carphone", "bikes:100", "bbb"])
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--qualities", nargs="+", type=float, default=[0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ap.add_argument("--qps", nargs="+", type=float, default=[22, 27, 32, 37, 42, 47])
    ap.add_argument("--quantisers", nargs="+", type=int, default=[0, 2, 4, 6], help="feature layer quantisers")
    ap.add_argument("--model", help="latent codec (zoo name or weights file; default: the shipped one)")
    ap.add_argument("--recon-model", help="(a): the network trained for reconstruction only (default: --model)")
    ap.add_argument("--nonscalable-model", help="a non-scalable network of the same size, for the human curve")
    ap.add_argument("--compare", action="append", default=[], metavar="LABEL=PATH",
                    help="another latent model's curves, BD-rates against the main model (repeatable)")
    ap.add_argument("--single", action="append", default=[], metavar="Q=PATH",
                    help="a model trained at the one quality Q (svc-train latent --fixed-quality Q): its point "
                         "at Q; the 'single-rate' curves and the VBR model's BD-rate against them (repeatable)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--map-floor", type=float, default=0.05)
    ap.add_argument("--out", default="results/latent")
    args = ap.parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)

    codec = LatentCodec.load(args.model)
    recon_codec = LatentCodec.load(args.recon_model) if args.recon_model else codec
    nonscalable = LatentCodec.load(args.nonscalable_model) if args.nonscalable_model else None
    others = {}
    for item in args.compare:
        label, _, path = item.partition("=")
        if not path:
            ap.error(f"--compare {item}: expected LABEL=PATH")
        others[label] = LatentCodec.load(path)
    singles = []
    for item in args.single:
        q, _, path = item.partition("=")
        try:
            q = float(q)
        except ValueError:
            q = -1.0
        if not path or not 0.0 <= q <= 1.0:
            ap.error(f"--single {item}: expected Q=PATH with Q in [0, 1]")
        singles.append((q, LatentCodec.load(path)))
    sd = SplitDetector("stage2", threads=args.threads)
    det = sd.detector
    threshold = det.min_score
    feat_model = FeatureModel.load(WEIGHTS_DIR / "nanodet-g-stage2-v4.npz")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table, bd = [], []
    print(f"machine load at start: {os.getloadavg()[0]:.2f} (1-minute average, {os.cpu_count()} cores); "
          f"latent model {codec.model_id} sha256 {codec.sha256[:12]}...")

    def detect_pixels(frames):
        det.min_score = args.map_floor
        try:
            return det.detect_batch(frames)
        finally:
            det.min_score = threshold

    for spec in args.clips:
        fmt, frames = load_frames(spec, args.frames)
        n, secs = len(frames), len(frames) / float(fmt.fps)
        feats, lbs, ref, ref_tracks = reference_run(sd, frames)
        print(f"\n{spec} ({label_of(spec.split(':')[0])}): {n} frames {fmt.width}x{fmt.height}, "
              f"reference: {sum(len(d.boxes) for d in ref)} detections")

        def add(curve, kbps, dets=None, pics=None, **extra):
            row = {"clip": spec, "curve": curve, "kbps": kbps, **extra}
            if dets is not None:
                row["mAP50"], row["mAP50_thr"], row["MOTA"] = scores(ref, ref_tracks, dets, threshold)
            if pics is not None:
                row["PSNR_Y"], row["MS_SSIM"] = quality(frames, pics)
            table.append(row)
            shown = "  ".join(f"{k} {v:.3f}" for k, v in row.items() if k in ("mAP50", "MOTA", "PSNR_Y", "MS_SSIM"))
            print(f"  {curve:>24} {kbps:9.1f} kbps  {shown}")

        for q in args.qualities:
            p = latent_points(codec, frames, q, q, secs, sd, lbs[0], args.map_floor)
            add("latent base", p["base_kbps"], p["dets"], quality=q, encode_fps=p["encode_fps"],
                detect_fps=p["detect_fps"])
            add("latent full", p["full_kbps"], pics=p["pics"], quality=q, decode_fps=p["decode_fps"])
            if recon_codec is codec:
                add("(a) latent pixels", p["full_kbps"], detect_pixels(p["pics"]), quality=q)
            else:
                r = latent_points(recon_codec, frames, q, q, secs, sd, lbs[0], args.map_floor)
                add("(a) latent pixels", r["full_kbps"], detect_pixels(r["pics"]), quality=q)
            if nonscalable is not None:
                s = latent_points(nonscalable, frames, q, q, secs, sd, lbs[0], args.map_floor)
                add("non-scalable", s["full_kbps"], pics=s["pics"], quality=q)
            for label, other in others.items():
                o = latent_points(other, frames, q, q, secs, sd, lbs[0], args.map_floor)
                add(f"{label} base", o["base_kbps"], o["dets"], quality=q)
                add(f"{label} full", o["full_kbps"], pics=o["pics"], quality=q)
        for q, single in singles:
            o = latent_points(single, frames, q, q, secs, sd, lbs[0], args.map_floor)
            add("single-rate base", o["base_kbps"], o["dets"], quality=q)
            add("single-rate full", o["full_kbps"], pics=o["pics"], quality=q)
        for qp in args.qps:
            for curve, gop in (("(b) x265 intra", 1), ("(c) HEVC base", 16)):
                done = BaseEncoder(fmt, BaseConfig(qp=qp, gop=gop)).encode_sequence(frames, gop)
                recon = [f for g in done for f in g.recon]
                add(curve, sum(len(g.payload) for g in done) * 8 / secs / 1000, detect_pixels(recon), recon, qp=qp)
        for qid in args.quantisers:
            fc = FeatureCodec(feat_model, qid, True)
            nbytes, dec = 0, []
            for g in range(0, n, 16):
                payload, d = fc.encode_gop(feats[g:g + 16])
                nbytes, dec = nbytes + len(payload), dec + d
            add("(d) features", nbytes * 8 / secs / 1000, sd.cloud(dec, lbs, args.map_floor), quantiser=qid)

        def curve(name, metric):
            rows = [r for r in table if r["clip"] == spec and r["curve"] == name and metric in r]
            return [r["kbps"] for r in rows], [r[metric] for r in rows]

        def report_bd(test, anchor, metric):
            """BD-rate of curve ``test`` against curve ``anchor`` on ``metric``: into the table, printed."""
            value = bd_rate_or_nan(*curve(anchor, metric), *curve(test, metric))
            bd.append({"clip": spec, "test": test, "anchor": anchor, "metric": metric, "bd_rate_percent": value})
            print(f"  BD-rate {test} vs {anchor} on {metric}: {value:+.1f}%")

        for test, metric, anchors in (("latent base", "mAP50", ("(a) latent pixels", "(b) x265 intra", "(c) HEVC base",
                                                                 "(d) features")),
                                      ("latent full", "PSNR_Y", ("non-scalable", "(b) x265 intra", "(c) HEVC base"))):
            for anchor in anchors:
                if len(curve(anchor, metric)[0]) >= 2:
                    report_bd(test, anchor, metric)
        for part, metric in (("base", "mAP50"), ("full", "PSNR_Y")):
            if singles:          # the one VBR model against the single-rate models
                report_bd(f"latent {part}", f"single-rate {part}", metric)
            for label in others:
                report_bd(f"{label} {part}", f"latent {part}", metric)
    write_csv(out / "latent_rd.csv", [{k: v for k, v in r.items()} for r in table])
    write_csv(out / "latent_bd.csv", bd)
    print(f"\nmachine load at end: {os.getloadavg()[0]:.2f}; wrote {out / 'latent_rd.csv'} and {out / 'latent_bd.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
