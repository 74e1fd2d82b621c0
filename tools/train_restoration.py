#!/usr/bin/env python
"""Train the zero-bit restoration network (svc.enhancement.restoration) on CPU.

Thin wrapper over :mod:`svc.enhancement.train_restoration` (clip specs, cache, checkpoints, --resume);
the command that made the shipped weights is stored inside them (``meta['command']``) and in the
README. Run from the repository root with ``python tools/train_restoration.py --help``.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from svc.enhancement.train_restoration import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
