"""Encode pipeline: source frames -> GOP buffer -> [ROI analysis] -> base layer -> [enhancement] -> container.

    gops   = GopBuffer(source, gop_size)
    coded  = analysis_stage(gops, analyzer)            # ROI per frame (or None)
    coded  = base_encode_stage(coded, plain, reference=True)  # ROI + enhancement: the base without ROI
                                                       # (not sent), the viewer-quality reference
    coded  = base_encode_stage(coded, base_encoder)    # HEVC payload + exact reconstruction (one x265)
    coded  = enhancement_encode_stage(coded, codec)    # learned residual layer (optional); an ROI GOP
                                                       # that would cost viewers quality goes out plain
    coded  = write_stage(coded, writer)                # one record per GOP, flushed
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from svc.analytics.roi import RoiConfig
from svc.base import BaseEncoder, BaseSettings
from svc.bitstream import ContainerWriter, Header
from svc.buffer import GopBuffer
from svc.metrics.quality import PsnrAccumulator

from pipelines.stages import analysis_stage, base_encode_stage, enhancement_encode_stage, write_stage


@dataclass
class EncodeStats:
    """Totals of one encode: bytes per layer, mean PSNR per layer (dB), stage times (s)."""

    frames: int = 0
    gops: int = 0
    fps: float = 30.0
    base_bytes: int = 0
    enh_bytes: int = 0
    total_bytes: int = 0
    psnr_base: PsnrAccumulator = None
    psnr_full: PsnrAccumulator = None
    psnr_reference: PsnrAccumulator = None  # ROI streams: the full layer the stream would have had without ROI
    roi_dropped_gops: int = 0               # ... GOPs sent without ROI (viewer quality or rate would suffer)
    timings: dict = field(default_factory=dict)
    wall: float = 0.0

    def kbps(self, nbytes: int) -> float:
        return nbytes * 8 / 1000 / (self.frames / self.fps) if self.frames else 0.0

    def summary(self) -> dict:
        out = {"frames": self.frames, "gops": self.gops,
               "base_kbps": self.kbps(self.base_bytes), "enh_kbps": self.kbps(self.enh_bytes),
               "total_kbps": self.kbps(self.total_bytes),
               "psnr_base": self.psnr_base.mean(), "encode_fps": self.frames / self.wall if self.wall else 0.0,
               "timings": dict(self.timings)}
        if self.psnr_full is not None and self.psnr_full.count:
            out["psnr_full"] = self.psnr_full.mean()
        if self.psnr_reference is not None and self.psnr_reference.count:
            out["psnr_full_without_roi"] = self.psnr_reference.mean()
            out["roi_dropped_gops"] = self.roi_dropped_gops
        return out


def make_header(fmt, cfg: dict, settings: BaseSettings, codec=None) -> Header:
    base = settings.to_dict()
    base["gop"] = int(cfg["base"]["gop"])
    return Header(fmt, int(cfg["base"]["gop"]), base, codec.header_info() if codec is not None else None)


def encode(source, out_fh, cfg: dict, codec=None, analyzer=None, roi_filter=None, progress=None) -> EncodeStats:
    """Codes every frame of ``source`` into ``out_fh`` (a binary file object); returns the totals.

    ``codec`` is an enhancement codec (or None for base only); ``analyzer``/``roi_filter`` make the
    base layer detector-aware; ``progress`` is called with the frame count of each finished GOP.
    """
    fmt = source.format
    settings = BaseSettings.from_config(cfg["base"])
    writer = ContainerWriter(out_fh, make_header(fmt, cfg, settings, codec))
    stats = EncodeStats(fps=float(fmt.fps), psnr_base=PsnrAccumulator(fmt.max_value),
                        psnr_full=PsnrAccumulator(fmt.max_value) if codec is not None else None)
    t0 = time.perf_counter()

    gops = GopBuffer(source, int(cfg["base"]["gop"]))
    coded = analysis_stage(gops, analyzer)
    roi_cfg = RoiConfig.from_dict(cfg.get("roi", {}))
    # ROI + enhancement with roi.viewer_quality: match: also code the GOPs without ROI (the viewer reference)
    reference = codec is not None and analyzer is not None and roi_cfg.viewer_quality == "match"
    if reference:
        stats.psnr_reference = PsnrAccumulator(fmt.max_value)
        coded = base_encode_stage(coded, BaseEncoder(fmt, settings), None, int(cfg["base"]["gop"]), reference=True)
    coded = base_encode_stage(coded, BaseEncoder(fmt, settings), roi_filter, int(cfg["base"]["gop"]))
    if codec is not None:
        ratio = roi_cfg.max_full_rate_ratio
        coded = enhancement_encode_stage(coded, codec, float(ratio) if ratio is not None else None)
    coded = write_stage(coded, writer)

    for c in coded:
        stats.gops += 1
        stats.frames += len(c.gop)
        stats.base_bytes += len(c.base_payload)
        stats.enh_bytes += c.enh_bytes
        for orig, rec in zip(c.gop.frames, c.base_recon):
            stats.psnr_base.add(orig, rec)
        if c.full_recon is not None:
            for orig, rec in zip(c.gop.frames, c.full_recon):
                stats.psnr_full.add(orig, rec)
        if c.reference_full is not None:
            for orig, rec in zip(c.gop.frames, c.reference_full):
                stats.psnr_reference.add(orig, rec)
            stats.roi_dropped_gops += int(c.roi_dropped)
        for k, v in c.timings.items():
            stats.timings[k] = stats.timings.get(k, 0.0) + v
        if progress is not None:
            progress(len(c.gop))
    writer.close()
    stats.wall = time.perf_counter() - t0
    stats.total_bytes = writer.bytes_written
    return stats
