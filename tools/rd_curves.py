#!/usr/bin/env python
"""Rate-distortion curves of the full layer against single-layer HEVC and simulcast: the installed
command ``svc-rd`` (:mod:`svc.evaluation.rd`), runnable from a checkout as ``python tools/rd_curves.py``."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from svc.cli.rd import main  # noqa: E402

if __name__ == "__main__":
    main()
