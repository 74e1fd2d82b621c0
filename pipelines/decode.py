#!/usr/bin/env python
"""Decode: svc records -> base frames -> (enhancement) -> raw YUV, one GOP at a time.

    python pipelines/decode.py IN.svc OUT.yuv [--layer base|full] [--roi X,Y,W,H]
"""
import argparse

from svc.base import BaseDecoder
from svc.bitstream import ContainerReader
from svc.io import YuvWriter
from svc.pipeline.stages import base_decode_stage, enhancement_decode_stage, frames_stage

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("input")
ap.add_argument("output")
ap.add_argument("--layer", choices=("base", "full"), default="full")
ap.add_argument("--roi", help="decode the enhancement only there (x,y,w,h pixels or a MOT file)")
args = ap.parse_args()

with open(args.input, "rb") as fh:
    layers = ("base", "enhancement") if args.layer == "full" else ("base",)
    records = ContainerReader(fh, layers)                                          # CRCs, GOP chain, end marker
    fmt = records.header.format
    gops = base_decode_stage(records, BaseDecoder(fmt))                            # HEVC -> frames
    if args.layer == "full" and records.header.enhancement is not None:
        from svc.analytics.enhancement_regions import decode_region
        from svc.pipeline.decoder import load_enhancement
        region = decode_region(args.roi, fmt) if args.roi else None                 # tiles to decode
        gops = enhancement_decode_stage(gops, load_enhancement(records.header), region=region)  # + enhancement
    with YuvWriter(args.output, fmt) as sink:
        for frame in frames_stage(gops):                                           # display order
            sink.write(frame)
