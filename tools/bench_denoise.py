#!/usr/bin/env python
"""Joint denoising (svc-encode --denoise) against the cascade and simulcast, on clips with added noise.

    python tools/bench_denoise.py [--clip carphone] [--frames 32] [--noise 10 15 25 sensor]
                                  [--qps 32 37] [--quality 0.6] [--out results/denoise]

For each noise (Gaussian of the given sigma on every plane, or ``sensor``: signal-dependent,
sigma^2 = 0.4 x + 9 on 8-bit values), with the clean clip as the truth:

* **joint** (svc): the base layer codes the NLM-denoised noisy video at each --qps (strength = sigma;
  for sensor noise 12), the enhancement layer reconstructs the noisy input at --quality: base kbps, base
  PSNR-Y against the clean clip, total kbps, full PSNR-Y against the noisy input;
* **cascade**: single-layer x265 of the noisy video at QPs 22..47, denoised after decoding with the same
  denoiser: its PSNR-Y against the clean clip, interpolated at the joint base's rate (log rate);
* **simulcast**: the joint base (a clean stream) plus a single-layer x265 stream of the noisy video at
  the full layer's PSNR-Y against the noisy input (svc.metrics.bdrate.simulcast on the noisy
  single-layer curve, as tools/rd_curves.py computes simulcast);
* **detection**: NanoDet on the clean clip gives the reference; mAP@0.5 of the joint base, and of the
  noisy single layer at the QP whose rate is nearest the joint base's.

Writes a CSV. Everything runs through svc's own base encoder and enhancement codec.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from svc.evaluation.report import write_csv  # noqa: E402

CASCADE_QPS = (22, 27, 32, 37, 42, 47)


def add_noise(frames, kind: str, seed: int = 0):
    """The frames with noise ``kind`` (a sigma, or 'sensor') added to every plane, clipped to 8 bits."""
    from svc.io.frames import YuvFrame

    rng = np.random.default_rng(seed)
    out = []
    for f in frames:
        planes = []
        for p in (f.y, f.u, f.v):
            x = p.astype(np.float64)
            sigma = np.sqrt(0.4 * x + 9.0) if kind == "sensor" else float(kind)
            planes.append(np.clip(np.round(x + rng.normal(0, 1, p.shape) * sigma), 0, 255).astype(np.uint8))
        out.append(YuvFrame(*planes))
    return out


def code_base(fmt, frames, qp: float):
    """(kbps, reconstructed frames) of svc's base encoder at ``qp`` (closed GOPs of 16)."""
    from svc.base import BaseEncoder
    from svc.config import BaseConfig

    stream = BaseEncoder(fmt, BaseConfig(qp=qp, gop=16)).stream(16)
    done = []
    for i in range(0, len(frames), 16):
        done += stream.feed(frames[i:i + 16])
    done += stream.flush()
    nbytes = sum(len(g.payload) for g in done)
    return nbytes * 8 / 1000 / (len(frames) / float(fmt.fps)), [f for g in done for f in g.recon]


def psnr_y(a_frames, b_frames) -> float:
    mse = np.mean([np.mean((a.y.astype(np.float64) - b.y) ** 2) for a, b in zip(a_frames, b_frames)])
    return float(10 * np.log10(255 ** 2 / max(mse, 1e-12)))


def interp_log_rate(rates, values, at):
    """``values`` interpolated at rate ``at`` on a log-rate axis (NaN outside the measured range)."""
    order = np.argsort(rates)
    r, v = np.log(np.asarray(rates)[order]), np.asarray(values)[order]
    return float(np.interp(np.log(at), r, v, left=np.nan, right=np.nan))


def map50(detector, ref, frames) -> float:
    """mAP@0.5 of the detector on ``frames`` against its detections ``ref`` on the clean frames."""
    from svc.metrics.mot import detection_map50

    def rows(dets):
        out = [[i + 1, -1, *b, s, c, -1, -1] for i, d in enumerate(dets) for b, s, c in zip(d.boxes, d.scores, d.classes)]
        return np.array(out, np.float64).reshape(-1, 10)

    g, h = rows(ref), rows(detector.detect_batch(frames))
    cls, cnt = np.unique(g[:, 7], return_counts=True)
    if not len(cls):
        return float("nan")
    return float(np.average([detection_map50(g[g[:, 7] == c], h[h[:, 7] == c]) for c in cls], weights=cnt))


def main(argv=None):
    from svc.analytics.detectors import make_detector
    from svc.base.denoise import Denoiser
    from svc.config import load_config
    from svc.datasets.clips import clip
    from svc.enhancement import load_codec_for_encoding
    from svc.metrics.bdrate import simulcast

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", default="carphone", help="a named clip of svc.datasets.clips")
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--noise", nargs="+", default=["10", "15", "25", "sensor"])
    ap.add_argument("--qps", nargs="+", type=float, default=[32, 37], help="base QPs of the joint stream")
    ap.add_argument("--quality", type=float, default=0.6, help="enhancement quality of the joint stream")
    ap.add_argument("--no-detection", action="store_true", help="skip the detection comparison")
    ap.add_argument("--out", default="results/denoise")
    args = ap.parse_args(argv)
    fmt, clean = clip(args.clip, args.frames)
    detector = None if args.no_detection else make_detector("nanodet")
    ref = None if detector is None else detector.detect_batch(clean)
    table = []
    for kind in args.noise:
        noisy = add_noise(clean, kind)
        strength = 12.0 if kind == "sensor" else float(kind)
        den = Denoiser(strength)
        denoised = den.gop(noisy)
        single = {qp: code_base(fmt, noisy, qp) for qp in CASCADE_QPS}   # the noisy single layer
        s_rates = [single[q][0] for q in CASCADE_QPS]
        cascade_clean = [psnr_y(clean, den.gop(single[q][1])) for q in CASCADE_QPS]
        noisy_psnr = [psnr_y(noisy, single[q][1]) for q in CASCADE_QPS]
        print(f"\n{args.clip} {fmt.width}x{fmt.height}, {len(clean)} frames, noise {kind}: noisy input PSNR-Y "
              f"{psnr_y(clean, noisy):.2f} dB, denoised {psnr_y(clean, denoised):.2f} dB (against the clean clip)")
        for qp in args.qps:
            cfg = load_config(overrides=[{"base": {"qp": qp}, "enhancement": {"quality": args.quality}}])
            base_kbps, base = code_base(fmt, denoised, qp)
            codec = load_codec_for_encoding(cfg, fmt)
            enh_bytes, full = 0, []
            for i in range(0, len(noisy), 16):
                payload, f = codec.encode_gop(noisy[i:i + 16], base[i:i + 16])
                enh_bytes += len(payload)
                full += f
            total = base_kbps + enh_bytes * 8 / 1000 / (len(noisy) / float(fmt.fps))
            full_psnr = psnr_y(noisy, full)
            sim = float(simulcast(base_kbps, s_rates, noisy_psnr, [full_psnr])[0])
            row = {"noise": kind, "qp": qp, "base_kbps": base_kbps, "base_psnr_clean": psnr_y(clean, base),
                   "cascade_psnr_clean_at_base_rate": interp_log_rate(s_rates, cascade_clean, base_kbps),
                   "total_kbps": total, "full_psnr_noisy": full_psnr, "simulcast_kbps": sim}
            if detector is not None:
                near = min(CASCADE_QPS, key=lambda q: abs(np.log(single[q][0] / base_kbps)))
                row.update(map50_base=map50(detector, ref, base), map50_noisy_single=map50(detector, ref, single[near][1]),
                           noisy_single_kbps=single[near][0])
            table.append(row)
            print(f"  base QP{qp:g}: base {base_kbps:8.1f} kbps, PSNR-Y vs clean {row['base_psnr_clean']:.2f} dB "
                  f"(cascade at that rate {row['cascade_psnr_clean_at_base_rate']:.2f} dB); full {total:8.1f} kbps, "
                  f"PSNR-Y vs noisy {full_psnr:.2f} dB (simulcast {sim:8.1f} kbps, {100 * (total / sim - 1):+.1f}%)"
                  + (f"; mAP@0.5 base {row['map50_base']:.3f} vs noisy single layer {row['map50_noisy_single']:.3f} "
                     f"at {row['noisy_single_kbps']:.1f} kbps" if detector is not None else ""))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "denoise.csv", table)
    print(f"\nwrote {out / 'denoise.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
