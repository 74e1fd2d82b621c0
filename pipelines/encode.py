#!/usr/bin/env python
"""Encode: raw YUV -> GOPs -> [denoise] -> HEVC base layer -> enhancement layer -> [feature layer]
-> one svc record per GOP.

    python pipelines/encode.py IN_WxH_FPS.yuv OUT.svc [--set section.key=value ...]
    (e.g. --set base.denoise=15, --set features.enabled=true)
"""
import argparse

from svc.base import BaseEncoder
from svc.bitstream import ContainerWriter
from svc.buffer import GopBuffer
from svc.config import load_config
from svc.errors import InputError
from svc.io import open_source
from svc.pipeline.encode import make_header
from svc.pipeline.encoder import Encoder
from svc.pipeline.stages import (analysis_stage, base_encode_stage, denoise_stage, enhancement_encode_stage,
                                 features_encode_stage, write_stage)

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("input")
ap.add_argument("output")
ap.add_argument("--set", action="append", default=[])
args = ap.parse_args()

cfg = load_config(overrides=args.set)
source = open_source(args.input)
parts = Encoder.from_config(cfg, source.format)          # the one place a config becomes an encoder
if parts.analyzer is not None or parts.regions is not None or parts.latent is not None or not parts.pixels:
    raise SystemExit(str(InputError("this pipeline shows the plain layers: use svc-encode for ROI, latent and "
                                    "feature-only streams")))
codec, features = parts.codec, parts.features

with open(args.output, "wb") as fh:
    writer = ContainerWriter(fh, make_header(source.format, cfg, codec, features))
    gops = GopBuffer(source, cfg.base.gop)                                          # frames -> closed GOPs
    coded = analysis_stage(gops, None)                                              # (no ROI analysis)
    if cfg.base.denoise > 0:
        from svc.base.denoise import Denoiser
        coded = denoise_stage(coded, Denoiser(cfg.base.denoise))                    # the base codes clean frames
    coded = base_encode_stage(coded, BaseEncoder(source.format, cfg.base), None, cfg.base.gop)  # HEVC + recon
    if codec is not None:
        coded = enhancement_encode_stage(coded, codec)                              # what the base lost
    if features is not None:
        coded = features_encode_stage(coded, features)                              # split NanoDet tensors
    for c in write_stage(coded, writer):                                            # one record per GOP
        print(f"GOP {c.gop.index}: {len(c.gop)} frames, {c.record_bytes} bytes")
    writer.close()                                                                  # end marker: counts
