#!/usr/bin/env python
"""Benchmark: enhancement-layer encode / decode speed at 416x240 beside the base layer, in the same run.

    python tools/bench_enhancement.py [--frames 32] [--quality 0.5] [--clip bbb] [--threads 2]
                                      [--region 0.25] [--region-decode 0.1 [--tiles 4]]

Frames: a named clip (svc.datasets.clips; default bbb, 416x240), base QP 37. Prints fps of the base
encode, the enhancement encode, the base decode and the full decode (base + restoration + block
decoder), the restoration's share, the block symbols' histogram (how often each prediction, and skip,
was chosen) and the rates and PSNR-Y of both layers. Speeds are per process wall time; the ratios
against the base layer measured in the same run are the comparable figures.

``--region F`` also measures ROI-selective enhancement: a centred rectangle covering the fraction F of
the frame as the region of every frame, against the full-frame enhancement of the same GOPs at the
same quality: enhancement rate, PSNR-Y inside and outside the region, the rate saving, and decode fps.
"""
from __future__ import annotations

import argparse
import io
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from svc.base import BaseDecoder  # noqa: E402
from svc.bitstream import ContainerReader  # noqa: E402
from svc.config import load_config  # noqa: E402
from svc.datasets.clips import clip  # noqa: E402
from svc.enhancement import load_codec_for_decoding  # noqa: E402
from svc.pipeline.encoder import Encoder  # noqa: E402
from svc.io.memory import FrameCollector, FrameList  # noqa: E402
from svc.pipeline.decode import decode  # noqa: E402

SYMBOLS = ("R skip", "R coded", "F skip", "F coded", "blend skip", "blend coded", "refined skip", "refined coded")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--quality", type=float, default=0.5)
    ap.add_argument("--clip", default="bbb")
    ap.add_argument("--qp", type=float, default=37)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    ap.add_argument("--set", action="append", default=[], help="config override, e.g. enhancement.restoration=false")
    ap.add_argument("--region", type=float, help="also measure ROI-selective enhancement with a centred region "
                                                 "covering this fraction of the frame")
    ap.add_argument("--region-decode", type=float, metavar="F",
                    help="also measure decoder-side region decoding (svc-decode --roi) of a centred region covering "
                         "this fraction of the frame, on streams coded with --tiles and without")
    ap.add_argument("--tiles", type=int, default=4, help="tile side in 16x16 units for --region-decode (default 4)")
    args = ap.parse_args(argv)
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    fmt, frames = clip(args.clip, args.frames)
    cfg = load_config(overrides=[{"base": {"qp": args.qp}, "enhancement": {"quality": args.quality}}, *args.set])
    encoder = Encoder.from_config(cfg, fmt)
    codec = encoder.codec
    buf = io.BytesIO()
    s = encoder.encode(FrameList(fmt, frames), buf)
    data = buf.getvalue()
    n = len(frames)
    t = time.perf_counter()
    decode(io.BytesIO(data), FrameCollector(), layer="base")
    t_base = time.perf_counter() - t
    t = time.perf_counter()
    decode(io.BytesIO(data), FrameCollector(), layer="full", codec_loader=load_codec_for_decoding)
    t_full = time.perf_counter() - t
    reader = ContainerReader(io.BytesIO(data))
    dec, bd = load_codec_for_decoding(reader.header), BaseDecoder(reader.header.format)
    symbols, t_restore = Counter(), 0.0
    for rec in reader:
        bases = bd.decode(rec.base)
        t0 = time.perf_counter()
        dec.restored(bases)
        t_restore += time.perf_counter() - t0
        info = []
        dec.decode_gop(bases, rec.enhancement, rec.index, info)
        for i in info[1:]:  # inter frames
            symbols.update(int(v) for v in i["sym"].ravel())
    total = sum(symbols.values()) or 1
    print(f"{args.clip} {fmt.width}x{fmt.height}, {n} frames, base QP{args.qp:g}, quality {args.quality}")
    print(f"  base encode        {n / s.timings['base']:7.1f} fps")
    print(f"  enhancement encode {n / s.timings['enhancement']:7.1f} fps   ({s.timings['enhancement'] / s.timings['base']:.2f}x "
          "the base encode time)")
    print(f"  base decode        {n / t_base:7.1f} fps")
    print(f"  full decode        {n / t_full:7.1f} fps   (restoration {1000 * t_restore / n:.1f} ms/frame)")
    print(f"  PSNR-Y base {s.psnr_base.y:.2f} dB -> full {s.psnr_full.y:.2f} dB, {s.base_kbps:.1f} + {s.enh_kbps:.1f} kbps")
    if symbols:
        print("  inter-frame block symbols: " + ", ".join(f"{SYMBOLS[k]} {100 * v / total:.0f}%"
                                                         for k, v in sorted(symbols.items())))
    if args.region:
        region_bench(codec, dec, fmt, frames, args.qp, args.region)
    if args.region_decode:
        region_decode_bench(fmt, frames, args, args.region_decode)
    return 0


def _centred(fmt, fraction):
    """(x, y, w, h) even pixels: a centred rectangle covering ``fraction`` of the frame."""
    f = fraction ** 0.5
    w, h = int(fmt.width * f) // 2 * 2, int(fmt.height * f) // 2 * 2
    return (fmt.width - w) // 2 // 2 * 2, (fmt.height - h) // 2 // 2 * 2, w, h


def region_decode_bench(fmt, frames, args, fraction):
    """Decoder-side region decoding: the same clip coded with tiles and without; the tiles' rate cost,
    and the enhancement decode time of the whole frame against a centred region (see the docstring)."""
    x, y, w, h = _centred(fmt, fraction)
    res = {}
    for tiles in (0, args.tiles):
        cfg = load_config(overrides=[{"base": {"qp": args.qp}, "enhancement": {"quality": args.quality,
                                                                               "tiles": tiles}}, *args.set])
        buf = io.BytesIO()
        s = Encoder.from_config(cfg, fmt).encode(FrameList(fmt, frames), buf)
        reader = ContainerReader(io.BytesIO(buf.getvalue()))
        dec, bd = load_codec_for_decoding(reader.header), BaseDecoder(reader.header.format)
        want = dec.region_units(np.array([[x, y, w, h]]))
        recs = [(bd.decode(rec.base), rec) for rec in reader]
        times = {}
        outs = {}
        for label, wnt in (("whole", None), ("region", want)):
            t0 = time.perf_counter()
            outs[label] = [f for bases, rec in recs for f in dec.decode_gop(bases, rec.enhancement, rec.index, want=wnt)]
            times[label] = time.perf_counter() - t0
        exact = all(np.array_equal(a.y[y:y + h, x:x + w], b.y[y:y + h, x:x + w])
                    for a, b in zip(outs["whole"], outs["region"]))
        res[tiles] = (s.enh_kbps, s.psnr_full.y, times, exact)
        n = len(frames)
        print(f"  tiles {tiles}: enhancement {s.enh_kbps:7.1f} kbps, full PSNR-Y {s.psnr_full.y:.2f} dB; enhancement "
              f"decode whole {n / times['whole']:6.1f} fps, region {x},{y},{w},{h} ({100 * w * h / (fmt.width * fmt.height):.0f}%) "
              f"{n / times['region']:6.1f} fps ({times['whole'] / times['region']:.2f}x), region bit-exact: {exact}")
    r0, r1 = res[0], res[args.tiles]
    print(f"  tiles of {args.tiles}x{args.tiles} units: {100 * (r1[0] / r0[0] - 1):+.1f}% enhancement rate, "
          f"{r1[1] - r0[1]:+.3f} dB full PSNR-Y; region decode {r0[2]['whole'] / r1[2]['region']:.2f}x faster than a "
          "whole decode of the untiled stream")


def region_bench(codec, dec, fmt, frames, qp, fraction):
    """ROI-selective vs full-frame enhancement of the same base GOPs (see the module docstring)."""
    from svc.base import BaseEncoder

    f = fraction ** 0.5
    w, h = int(fmt.width * f) // 2 * 2, int(fmt.height * f) // 2 * 2
    x, y = (fmt.width - w) // 2 // 2 * 2, (fmt.height - h) // 2 // 2 * 2
    inside = np.zeros((fmt.height, fmt.width), bool)
    inside[y:y + h, x:x + w] = True
    cfg = load_config(overrides=[{"base": {"qp": qp}}])
    stream = BaseEncoder(fmt, cfg.base).stream(16)
    gops = []
    for i in range(0, len(frames), 16):
        gops += stream.feed(frames[i:i + 16])
    gops += stream.flush()
    res = {}
    for label, regions in (("full frame", None), ("region", np.array([[x, y, w, h]]))):
        nbytes, se_in, se_out, t_dec, k = 0, 0.0, 0.0, 0.0, 0
        for g in gops:
            orig = frames[k:k + len(g.recon)]
            k += len(g.recon)
            payload, fulls = codec.encode_gop(orig, g.recon, regions=None if regions is None else [regions] * len(orig))
            nbytes += len(payload)
            t0 = time.perf_counter()
            dec.decode_gop(g.recon, payload)
            t_dec += time.perf_counter() - t0
            for o, fr in zip(orig, fulls):
                d = (o.y.astype(np.float64) - fr.y) ** 2
                se_in, se_out = se_in + d[inside].mean(), se_out + d[~inside].mean()
        n = len(frames)
        res[label] = (nbytes * 8 / 1000 / (n / float(fmt.fps)), 10 * np.log10(255 ** 2 / (se_in / n)),
                      10 * np.log10(255 ** 2 / (se_out / n)), n / t_dec)
        kbps, p_in, p_out, fps = res[label]
        print(f"  {label:>10}: enhancement {kbps:8.1f} kbps, PSNR-Y inside {p_in:.2f} dB, outside {p_out:.2f} dB, "
              f"decode {fps:.1f} fps")
    print(f"  region {w}x{h} ({100 * w * h / (fmt.width * fmt.height):.0f}% of the frame): "
          f"{100 * (1 - res['region'][0] / res['full frame'][0]):.0f}% less enhancement rate, inside PSNR-Y "
          f"{res['region'][1] - res['full frame'][1]:+.2f} dB")


if __name__ == "__main__":
    sys.exit(main())
