#!/usr/bin/env python
"""RD and speed harness of the block enhancement coder: full layer vs single layer vs simulcast.

    python tools/bench_blockcoder.py [--clips carphone bikes bbb racehorses] [--frames 64]
        [--base-qps 37 32] [--qualities 0.3 0.4 0.5 0.6 0.7] [--set lam=0.1 --set blend=false]
        [--coder block|compressai] [--msssim] [--speed] [--json out.json]

Definitions (issue 11):
- single-layer anchor: the project's base encoder alone (svc.base.BaseEncoder, x265 preset fast,
  constant QP, closed 16-frame GOPs) at --anchor-qps;
- full layer: the base at QP 37 or 32 + the enhancement at each quality;
- simulcast: the base rate + the anchor's rate at the full layer's PSNR-Y (PCHIP of log rate on the
  anchor curve), at the same points;
- BD-rate (PSNR-Y) of the full layer and of simulcast vs the anchor, over the same PSNR points.
Rates are payload bytes (base HEVC + enhancement), no container framing. Base codings are cached in
results/bc_cache/. ``--set`` overrides BlockCoderConfig fields (the tools' ablation switches).
``--speed`` times encode and decode of the enhancement at 416x240 (bigbuckbunny, base QP 37).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from bc_data import GOP, base_coding, clip, kbps  # noqa: E402
from svc.metrics.bdrate import bd_rate  # noqa: E402
from svc.metrics.quality import frame_psnr  # noqa: E402


def _mean_psnr(orig, test):
    ps = [frame_psnr(o, t) for o, t in zip(orig, test)]
    return float(np.mean([p["y"] for p in ps])), float(np.mean([p["yuv"] for p in ps]))


def _msssim(orig, test):
    from svc.metrics.msssim import ms_ssim_y
    return float(np.mean([ms_ssim_y(o.y, t.y) for o, t in zip(orig, test)]))


def anchor_points(name, frames, qps, msssim=False):
    fmt, orig = clip(name, frames)
    pts = []
    for qp in qps:
        nbytes, rec = base_coding(name, frames, qp)
        y, yuv = _mean_psnr(orig, rec)
        p = {"qp": qp, "kbps": kbps(nbytes, fmt, len(orig)), "psnr_y": y, "psnr_yuv": yuv}
        if msssim:
            p["msssim"] = _msssim(orig, rec)
        pts.append(p)
    return pts


def parse_set(items):
    out = {}
    for it in items or []:
        k, v = it.split("=", 1)
        v = {"true": True, "false": False}.get(v.lower(), v)
        if isinstance(v, str):
            for conv in (int, float):
                try:
                    v = conv(v)
                    break
                except ValueError:
                    pass
        out[k] = v
    return out


def make_coder(kind, fmt, q, overrides, tables=None):
    if kind == "block":
        from svc.enhancement.blockcodec import BlockCoder, BlockCoderConfig
        from svc.enhancement.entropy import TABLES, EntropyModel
        ov = dict(overrides)
        pool = ov.pop("pool", None)       # --set pool=cues|all: context ablation
        model = EntropyModel.load(tables or TABLES, pool=pool)
        return BlockCoder(fmt, q, BlockCoderConfig(**ov), model)
    if kind == "compressai":
        return CompressAIResidual(fmt, q, overrides)
    raise ValueError(kind)


class CompressAIResidual:
    """The existing conditional CompressAI codec (svc.enhancement.codec.EnhancementCodec) behind the
    same encode_gop / decode_gop interface (R = the base frame; it has its own zero-bit predictor)."""

    def __init__(self, fmt, q, overrides):
        from svc.enhancement.codec import EnhancementCodec
        from svc.enhancement.zoo import WEIGHTS_DIR, load_model
        model, mid, sha = load_model(WEIGHTS_DIR / "svc-enh-v1.pt")
        self.codec = EnhancementCodec(model, fmt, q, mid, sha, temporal=bool(overrides.get("temporal", True)))

    def encode_gop(self, originals, bases, restored):
        return self.codec.encode_gop(originals, bases)

    def decode_gop(self, bases, restored, payloads):
        return self.codec.decode_gop(bases, payloads)


def full_points(name, frames, base_qp, qualities, kind, overrides, tables=None, msssim=False, verify=False):
    fmt, orig = clip(name, frames)
    nbytes, rec = base_coding(name, frames, base_qp)
    pts = []
    for q in qualities:
        coder = make_coder(kind, fmt, q, overrides, tables)
        enh, fulls = 0, []
        t_enc = t_dec = 0.0
        for i in range(0, len(orig), GOP):
            t = time.perf_counter()
            pay, f = coder.encode_gop(orig[i:i + GOP], rec[i:i + GOP], rec[i:i + GOP])
            t_enc += time.perf_counter() - t
            enh += sum(len(p) for p in pay)
            fulls += f
            if verify:
                t = time.perf_counter()
                d = coder.decode_gop(rec[i:i + GOP], rec[i:i + GOP], pay)
                t_dec += time.perf_counter() - t
                assert all(np.array_equal(a.y, b.y) and np.array_equal(a.u, b.u) and np.array_equal(a.v, b.v)
                           for a, b in zip(f, d)), "decoder mismatch"
        y, yuv = _mean_psnr(orig, fulls)
        p = {"q": q, "base_kbps": kbps(nbytes, fmt, len(orig)), "enh_kbps": kbps(enh, fmt, len(orig)),
             "psnr_y": y, "psnr_yuv": yuv, "enc_fps": len(orig) / t_enc}
        if verify:
            p["dec_fps"] = len(orig) / t_dec
        p["kbps"] = p["base_kbps"] + p["enh_kbps"]
        if msssim:
            p["msssim"] = _msssim(orig, fulls)
        pts.append(p)
    return pts


def simulcast(anchor, full, metric="psnr_y"):
    """Simulcast rate at each full-layer point: base + anchor rate at that metric (PCHIP of log rate)."""
    from scipy.interpolate import PchipInterpolator
    a = sorted(anchor, key=lambda p: p[metric])
    f = PchipInterpolator([p[metric] for p in a], np.log10([p["kbps"] for p in a]), extrapolate=False)
    out = []
    for p in full:
        r = f(p[metric])
        if np.isfinite(r):
            out.append({"kbps": p["base_kbps"] + 10 ** float(r), metric: p[metric]})
    return out


def bd(anchor, test, metric="psnr_y"):
    from svc.metrics.bdrate import pareto_front
    idx = pareto_front([p["kbps"] for p in test], [p[metric] for p in test])
    t = [test[i] for i in idx]
    try:
        return bd_rate([p["kbps"] for p in anchor], [p[metric] for p in anchor],
                       [p["kbps"] for p in t], [p[metric] for p in t])
    except ValueError:
        return float("nan")


def evaluate(clips, frames, base_qps, qualities, anchor_qps, kind="block", overrides=None, tables=None,
             msssim=False, verify=False, quiet=False):
    rows = []
    for name in clips:
        n = 2 if name == "racehorses" else frames
        anchor = anchor_points(name, n, anchor_qps, msssim)
        for bqp in base_qps:
            full = full_points(name, n, bqp, qualities, kind, overrides or {}, tables, msssim, verify)
            # the anchor points used: those within the full layer's PSNR span (+ one either side)
            sim = simulcast(anchor, full)
            inside = [p for p in full if any(abs(s["psnr_y"] - p["psnr_y"]) < 1e-9 for s in sim)]
            row = {"clip": name, "base_qp": bqp, "points": full,
                   "bd_full": bd(anchor, inside), "bd_simulcast": bd(anchor, sim)}
            if msssim:
                simm = simulcast(anchor, full, "msssim")
                insm = [p for p in full if any(abs(s["msssim"] - p["msssim"]) < 1e-12 for s in simm)]
                row["bd_full_msssim"] = bd(anchor, insm, "msssim")
                row["bd_simulcast_msssim"] = bd(anchor, simm, "msssim")
            rows.append(row)
            if not quiet:
                print(f"{name:10s} base QP{bqp}: BD-rate full {row['bd_full']:+7.1f}%  simulcast "
                      f"{row['bd_simulcast']:+7.1f}%" + (f"  | MS-SSIM full {row['bd_full_msssim']:+7.1f}% simulcast "
                                                        f"{row['bd_simulcast_msssim']:+7.1f}%" if msssim else ""))
                for p in full:
                    print(f"    q {p['q']:.2f}: {p['base_kbps']:7.1f} + {p['enh_kbps']:7.1f} kbps  PSNR-Y "
                          f"{p['psnr_y']:.2f}  YUV {p['psnr_yuv']:.2f}  enc {p['enc_fps']:.1f} fps"
                          + (f"  dec {p['dec_fps']:.1f} fps" if "dec_fps" in p else ""), flush=True)
    return rows


def speed(frames=32, q=0.5, overrides=None, repeat=2, clip_name="bbb"):
    """Encode and decode fps of the enhancement at 416x240 (bigbuckbunny, base QP 37), by wall clock
    and by the process's CPU time (what the coder needs of the machine: on a shared VM the wall
    clock also counts other users' load)."""
    from svc.enhancement.blockcodec import BlockCoder, BlockCoderConfig
    fmt, orig = clip(clip_name, frames)
    _, rec = base_coding(clip_name, frames, 37)
    coder = BlockCoder(fmt, q, BlockCoderConfig(**(overrides or {})))
    res = {}
    for _ in range(repeat):
        te = td = ce = cd = 0.0
        for i in range(0, len(orig), GOP):
            t, c = time.perf_counter(), time.process_time()
            pay, _ = coder.encode_gop(orig[i:i + GOP], rec[i:i + GOP], rec[i:i + GOP])
            te += time.perf_counter() - t
            ce += time.process_time() - c
            t, c = time.perf_counter(), time.process_time()
            coder.decode_gop(rec[i:i + GOP], rec[i:i + GOP], pay)
            td += time.perf_counter() - t
            cd += time.process_time() - c
        for k, v in (("enc_wall", te), ("dec_wall", td), ("enc_cpu", ce), ("dec_cpu", cd)):
            res[k] = min(res.get(k, float("inf")), v)
    n = len(orig)
    import os
    print(f"{fmt.width}x{fmt.height} {clip_name}, {n} frames, base QP37, q {q} (best of {repeat}; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores):\n"
          f"  encode {n / res['enc_wall']:.1f} fps wall, {n / res['enc_cpu']:.1f} fps CPU time\n"
          f"  decode {n / res['dec_wall']:.1f} fps wall, {n / res['dec_cpu']:.1f} fps CPU time")
    m = repeat * n
    print("  encoder stages, ms/frame (wall): " + ", ".join(f"{k} {1000 * v / m:.1f}" for k, v in coder.timing.items()))
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", nargs="+", default=["carphone", "bikes", "bbb", "racehorses"])
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--base-qps", nargs="+", type=int, default=[37, 32])
    ap.add_argument("--qualities", nargs="+", type=float, default=[0.3, 0.4, 0.5, 0.6, 0.7])
    ap.add_argument("--anchor-qps", nargs="+", type=int, default=[17, 20, 22, 24, 27, 29, 32, 34, 37, 40, 42])
    ap.add_argument("--coder", default="block", choices=["block", "compressai"])
    ap.add_argument("--set", action="append", help="BlockCoderConfig override, e.g. --set blend=false")
    ap.add_argument("--tables", help="context tables .npz (default: the shipped ones)")
    ap.add_argument("--msssim", action="store_true")
    ap.add_argument("--verify", action="store_true", help="decode too: check bit-exactness, time the decoder")
    ap.add_argument("--speed", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args()
    ov = parse_set(args.set)
    if args.speed:
        speed(overrides=ov)
        return
    rows = evaluate(args.clips, args.frames, args.base_qps, args.qualities, args.anchor_qps, args.coder, ov,
                    args.tables, args.msssim, args.verify)
    full = [r["bd_full"] for r in rows]
    sim = [r["bd_simulcast"] for r in rows]
    print(f"mean BD-rate: full {np.nanmean(full):+.1f}%  simulcast {np.nanmean(sim):+.1f}%  "
          f"(full - simulcast {np.nanmean(np.array(full) - np.array(sim)):+.1f} points)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
