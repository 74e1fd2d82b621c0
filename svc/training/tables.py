"""Learning the block coder's context tables from training clips (:mod:`svc.enhancement.context_tables`).

The encoder codes every training clip (:data:`svc.datasets.clips.TRAIN_CLIPS`; never an evaluation
clip) at every quality, exactly as a stream is coded (restoration included), and counts each (family,
context, value) it puts in the stream; the counts are the tables (shrunk toward each family's pooled
distribution when they become CDFs). The encoder's decisions depend on the tables' bit costs, so the
run iterates: each iteration codes with the previous iteration's tables (the first with flat priors or
``init``).
"""
from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

from svc.datasets.clips import GOP, TRAIN_CLIPS
from svc.datasets.registry import check_training

DEFAULT_QUALITIES = (0.3, 0.45, 0.6, 0.75)


def count_clip(name: str, frames: int, qp: float, qualities, tables_path, restoration_model, gops: int = 1) -> dict:
    """Symbol counts of coding ``gops`` GOPs of clip ``name`` (base at ``qp``) at each quality."""
    from svc.config import load_config
    from svc.datasets.clips import base_coding, clip
    from svc.enhancement.context_tables import EntropyModel, empty_counts
    from svc.enhancement.zoo import load_codec_for_encoding

    over = {"base.qp": qp, "enhancement.restoration": restoration_model is not None}
    if restoration_model is not None:
        over["enhancement.restoration_model"] = str(restoration_model)
    cfg = load_config(overrides=[over])
    fmt, orig = clip(name, frames)
    _, rec = base_coding(name, frames, qp)
    counts = empty_counts()
    codec = load_codec_for_encoding(cfg, fmt)
    codec.tables = EntropyModel.load(tables_path) if tables_path else EntropyModel.load("/nonexistent")
    codec.coder_config = replace(codec.coder_config, counts=counts)
    for q in qualities:
        codec.quality, codec._coders = q, {}
        for i in range(0, min(len(orig), gops * GOP), GOP):
            codec.encode_gop(orig[i:i + GOP], rec[i:i + GOP])
    return counts


def train_tables(out, iterations: int = 2, frames: int = 32, qps=(32, 37), qualities=DEFAULT_QUALITIES,
                 clips=TRAIN_CLIPS, jobs: int = 2, gops: int = 1, strength: float = 8.0, init=None,
                 restoration_model=None, log=print) -> Path:
    """Writes the tables to ``out`` (npz of counts per family, and ``strength``); returns the path."""
    from svc.enhancement.context_tables import NAMES, EntropyModel, empty_counts

    check_training(clips)
    out = Path(out)
    table = init
    for it in range(iterations):
        t = time.perf_counter()
        args = [(c, frames, qp, tuple(qualities), table, restoration_model, gops) for c in clips for qp in qps]
        total = empty_counts()
        with ProcessPoolExecutor(jobs) as ex:
            for counts in ex.map(count_clip, *zip(*args)):
                for n in NAMES:
                    total[n] += counts[n]
        tmp = out.with_name(f"{out.stem}.it{it}.npz")
        np.savez_compressed(tmp, strength=strength, train_clips=np.array(list(clips)),
                            **{n: total[n].astype(np.int32) for n in NAMES})
        model = EntropyModel.load(tmp)
        bits = {n: float((total[n] * model.bits[n]).sum()) for n in NAMES}
        log(f"iteration {it}: {time.perf_counter() - t:.0f} s, symbols "
            + ", ".join(f"{n} {int(total[n].sum())} ({bits[n] / max(total[n].sum(), 1):.3f} b)" for n in NAMES))
        table = str(tmp)
    Path(table).replace(out)
    for p in out.parent.glob(out.stem + ".it*.npz"):
        p.unlink()
    return out


HELP = "the block coder's context tables (counts of coded symbols)"


def add_arguments(t) -> None:
    """The options of ``svc-train tables`` (``--into-package`` and ``--version`` come from svc-train)."""
    t.add_argument("--iterations", type=int, default=2, help="codings with the previous tables")
    t.add_argument("--frames", type=int, default=32, help="frames read per clip")
    t.add_argument("--gops", type=int, default=1, help="16-frame GOPs coded per clip")
    t.add_argument("--qps", nargs="+", type=float, default=[32, 37], help="base QPs")
    t.add_argument("--qualities", nargs="+", type=float, default=list(DEFAULT_QUALITIES))
    t.add_argument("--clips", nargs="+", default=list(TRAIN_CLIPS), help="training clips (svc.datasets.clips names)")
    t.add_argument("--jobs", type=int, default=2, help="worker processes")
    t.add_argument("--strength", type=float, default=8.0, help="back-off pseudo-counts")
    t.add_argument("--init", help="tables to start from (default: flat priors)")
    t.add_argument("--no-restoration", action="store_true", help="code with R = the base (no restoration network)")
    t.add_argument("--restoration-model", default="svc/enhancement/weights/svc-restore-v1.pt")
    t.add_argument("--out", default="blockcoder-tables.npz",
                   help="tables file to write (use it with --set enhancement.tables=PATH)")


def run(args, argv) -> int:
    """``svc-train tables`` with parsed ``args``."""
    import sys

    from svc.config import resolve_path
    from svc.shipped import check_output

    def log(m):
        print(m, file=sys.stderr, flush=True)
    out = train_tables(check_output(args.out, args.into_package), args.iterations, args.frames, args.qps, args.qualities,
                       args.clips, args.jobs, args.gops, args.strength, args.init,
                       None if args.no_restoration else resolve_path(args.restoration_model), log)
    log(f"svc-train: wrote {out} ({out.stat().st_size} bytes)")
    return 0
