#!/usr/bin/env python
"""Tracker evaluation on the HEVC CTC sequences with SFU-HW-Tracks-v1 (same as ``svc-eval-tracking``).

    python tools/eval_tracking.py --sequences /data/ctc --annotations /data/SFU-HW-Tracks-v1 \
        --classes D,C --qps 22 27 32 37 --out results/ --jobs 2
"""
import sys

from svc.tools_cli import eval_tracking_main

if __name__ == "__main__":
    sys.exit(eval_tracking_main())
