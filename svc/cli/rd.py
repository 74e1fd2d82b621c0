"""``svc-rd``: rate-distortion curves of the full layer against single-layer HEVC and simulcast
(:mod:`svc.evaluation.rd`)."""
from __future__ import annotations

import sys

from svc.cli.common import run_main


def command(argv) -> int:
    from svc.evaluation.rd import main as rd

    return rd(argv)


def main(argv=None):
    sys.exit(run_main(command, argv))
