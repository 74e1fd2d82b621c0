#!/usr/bin/env python
"""Base-layer analytics: svc records -> base frames -> detector -> tracker -> MOTChallenge rows.

    python pipelines/analyze.py IN.svc TRACKS.txt [--set analytics.detect_interval=3 ...]
"""
import argparse

from svc.analytics.mot_io import mot_rows
from svc.base import BaseDecoder
from svc.bitstream import ContainerReader
from svc.config import load_config
from svc.pipeline.analyzer import Analyzer
from svc.pipeline.stages import base_decode_stage, detect_stage, track_stage

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("input")
ap.add_argument("output")
ap.add_argument("--set", action="append", default=[])
args = ap.parse_args()
cfg = load_config(overrides=args.set)
a, analysis = cfg.analytics, Analyzer.from_config(cfg)                          # the one place a config becomes an analysis

with open(args.input, "rb") as fh, open(args.output, "w") as out:
    records = ContainerReader(fh, ("base",))                                         # enhancement bytes skipped
    gops = base_decode_stage(records, BaseDecoder(records.header.format))          # HEVC -> frames
    gops = detect_stage(gops, analysis.detector, analysis.class_ids, a.detect_interval)  # boxes, every k-th frame
    for gop in track_stage(gops, analysis.tracker(), a.coast):                       # ids; coasting in between
        for i, tracks in enumerate(gop.tracks):
            out.writelines(r + "\n" for r in mot_rows(gop.record.first_frame + 1 + i, tracks))
