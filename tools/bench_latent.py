#!/usr/bin/env python
"""Benchmark the layered learned latent codec (svc.latent) and print a markdown table.

    python tools/bench_latent.py [--model NAME_OR_PATH] [--clips carphone racehorses] [--frames 2]
                                 [--rates 0,0.2,0.4,0.6,0.8,1] [--threads 1]

Per clip and rate (base and enhancement knob set to the same value unless --base is given): base and
enhancement bits per pixel and kbps (at the clip's frame rate), PSNR-Y of the full decode (both layers);
for the base alone: MSE of the decoded NanoDet-g stage2 tensor against NanoDet's own on the original
frame (and that tensor's mean power, for scale), and the recall of NanoDet's detections on the
original frames by the detector tail run on the decoded tensor (IoU >= 0.5, same class). Frames of another size than NanoDet's input scale
(416 px long side) get the stage2 tensor resampled to the letterboxed input (an approximation);
``racehorses@416`` codes the clip scaled to 416x240, where no resampling happens. Then the
encode / decode speed of one 416x240 frame (frames per second, --threads torch threads).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402


def _iou(a, b):
    ax0, ay0, aw, ah = a
    bx0, by0, bw, bh = b
    iw = max(0.0, min(ax0 + aw, bx0 + bw) - max(ax0, bx0))
    ih = max(0.0, min(ay0 + ah, by0 + bh) - max(ay0, by0))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def recall(ref, test) -> tuple[int, int]:
    """(reference detections matched by a test detection of the same class at IoU >= 0.5, all)."""
    used, hit = set(), 0
    for box, cls in zip(ref.boxes, ref.classes):
        best, arg = 0.5, None
        for j, (tb, tc) in enumerate(zip(test.boxes, test.classes)):
            if j not in used and tc == cls:
                v = _iou(box, tb)
                if v >= best:
                    best, arg = v, j
        if arg is not None:
            used.add(arg)
            hit += 1
    return hit, len(ref.boxes)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None, help="zoo name, weights file or training checkpoint (default: shipped)")
    p.add_argument("--clips", nargs="+", default=["carphone", "racehorses", "racehorses@416"],
                   help="clip names; NAME@416: the clip scaled to 416x240")
    p.add_argument("--frames", type=int, default=2)
    p.add_argument("--rates", default="0,0.2,0.4,0.6,0.8,1")
    p.add_argument("--base", type=float, default=None, help="fixed base knob (default: same as the rate)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)

    import torch

    from svc.datasets.clips import clip, resize
    from svc.features.split import SplitDetector
    from svc.io.frames import YuvFrame
    from svc.latent.codec import LatentCodec
    from svc.metrics.quality import psnr

    torch.set_num_threads(args.threads)
    codec = LatentCodec.load(args.model)
    det = SplitDetector("stage2", threads=args.threads)
    rates = [float(r) for r in args.rates.split(",")]
    meta = codec.meta
    print(f"model {codec.model_id} sha256 {codec.sha256[:16]} trained to step {meta.get('step')} "
          f"(stages {[s['stage'] for s in meta.get('stages', [])]})\n")
    print("| clip | base q | enh q | base bpp | enh bpp | base kbps | total kbps | PSNR-Y full (dB) "
          "| stage2 MSE (power) | det recall base |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in args.clips:
        if name.endswith("@416"):  # the clip scaled to 416x240, NanoDet's own input scale (no resampling)
            fmt, frames = clip(name[:-4], args.frames)
            frames = [resize(f, 416, 240) for f in frames]
            fmt = type(fmt)(416, 240, fmt.fps)
        else:
            fmt, frames = clip(name, args.frames)
        fps = float(fmt.fps)
        ref_feats, lbs = det.edge(frames)
        ref_dets = det.cloud(ref_feats, lbs)
        for r in rates:
            qb = r if args.base is None else args.base
            bb = eb = 0
            ps, mses, power, hits, total = [], [], [], 0, 0
            for f, rf, rd, lb in zip(frames, ref_feats, ref_dets, lbs):
                b, e = codec.encode_frame(f.y, f.u, f.v, qb, r)
                bb, eb = bb + len(b), eb + len(e)
                y, _, _ = codec.decode_full(b, e)
                ps.append(psnr(f.y, y))
                feat = codec.decode_base_features(b)[0].numpy()
                mses.append(float(np.mean((feat - rf[0]) ** 2)))
                power.append(float(np.mean(rf[0] ** 2)))
                h, n = recall(rd, det.cloud([[feat]], [lb])[0])
                hits, total = hits + h, total + n
            npx = fmt.width * fmt.height * len(frames)
            print(f"| {name} | {qb:.2f} | {r:.2f} | {8 * bb / npx:.3f} | {8 * eb / npx:.3f} | "
                  f"{8 * bb / len(frames) * fps / 1000:.0f} | {8 * (bb + eb) / len(frames) * fps / 1000:.0f} | "
                  f"{np.mean(ps):.2f} | {np.mean(mses):.4f} ({np.mean(power):.4f}) | "
                  f"{hits}/{total} |")
    # speed at 416x240
    _, frames = clip("racehorses", 1)
    f = resize(frames[0], 416, 240)
    f = YuvFrame(*f)
    codec.encode_frame(f.y, f.u, f.v, 0.5, 0.5)
    n = 3
    t = time.perf_counter()
    for _ in range(n):
        b, e = codec.encode_frame(f.y, f.u, f.v, 0.5, 0.5)
    t_enc = (time.perf_counter() - t) / n
    t = time.perf_counter()
    for _ in range(n):
        codec.decode_base_features(b)
    t_feat = (time.perf_counter() - t) / n
    t = time.perf_counter()
    for _ in range(n):
        codec.decode_full(b, e)
    t_full = (time.perf_counter() - t) / n
    print(f"\n416x240, {args.threads} thread(s): encode {1 / t_enc:.1f} fps, base-feature decode "
          f"{1 / t_feat:.1f} fps, full decode {1 / t_full:.1f} fps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
