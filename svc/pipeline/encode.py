"""Encode pipeline: source frames -> GOP buffer -> [ROI analysis] -> base layer -> [enhancement] -> container.

    gops   = GopBuffer(source, gop_size)
    coded  = analysis_stage(gops, analyzer)            # ROI per frame (or None)
    coded  = denoise_stage(coded, denoiser)            # joint denoising: the base codes clean frames (optional)
    coded  = base_encode_stage(coded, plain, reference=True)  # ROI + enhancement: the base without ROI
                                                       # (not sent), the viewer-quality reference
    coded  = base_encode_stage(coded, base_encoder)    # HEVC payload + exact reconstruction (one x265)
    coded  = enhancement_region_stage(coded, regions)  # ROI-selective enhancement: regions per frame (optional)
    coded  = enhancement_encode_stage(coded, codec)    # restoration + block coder (optional)
    coded  = roi_viewer_guard_stage(coded, codec)      # ROI + enhancement: a GOP whose ROI would cost the
                                                       # viewer quality (or too much rate) goes out plain
    coded  = features_encode_stage(coded, features)    # split-DNN feature layer (optional)
    coded  = write_stage(coded, writer)                # one record per GOP, flushed

With ``features.pixels: false`` the base and enhancement stages are left out (a feature-only stream).
With the learned latent codec (``latent``) the GOPs go through one stage instead of the HEVC and
enhancement stages:

    coded  = latent_encode_stage(gops, latent)         # base latents (machines) + enhancement latents
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from svc.base import BaseEncoder
from svc.bitstream import ContainerWriter, Header
from svc.buffer import GopBuffer
from svc.config import SvcConfig
from svc.metrics.quality import Psnr, PsnrAccumulator
from svc.pipeline.stages import (analysis_stage, base_encode_stage, denoise_stage, enhancement_encode_stage,
                                 enhancement_region_stage, features_encode_stage, latent_encode_stage,
                                 roi_viewer_guard_stage, write_stage)


@dataclass(frozen=True)
class EncodeSummary:
    """What one encode produced: bytes per layer, mean PSNR per layer (dB), stage times (s).

    ``psnr_full`` is None for a base-only stream; ``psnr_full_without_roi`` and ``roi_dropped_gops``
    are set only for ROI + enhancement streams with ``roi.viewer_quality: match``."""

    frames: int
    gops: int
    fps: float
    base_bytes: int
    enh_bytes: int
    total_bytes: int
    psnr_base: Psnr
    psnr_full: Psnr | None
    psnr_full_without_roi: Psnr | None
    roi_dropped_gops: int | None
    timings: dict
    wall: float
    feat_bytes: int = 0
    per_gop: tuple = ()      # one dict per GOP: index, frames, bytes per layer, record bytes, PSNR-Y (dB)

    @property
    def feat_kbps(self) -> float:
        return self.kbps(self.feat_bytes)

    def kbps(self, nbytes: int) -> float:
        """``nbytes`` over the sequence's duration, in kbit/s."""
        return nbytes * 8 / 1000 / (self.frames / self.fps) if self.frames else 0.0

    @property
    def base_kbps(self) -> float:
        return self.kbps(self.base_bytes)

    @property
    def enh_kbps(self) -> float:
        return self.kbps(self.enh_bytes)

    @property
    def full_kbps(self) -> float:
        """Base + enhancement payloads (what a viewer receives, container framing excluded)."""
        return self.kbps(self.base_bytes + self.enh_bytes)

    @property
    def total_kbps(self) -> float:
        """The whole container, framing included."""
        return self.kbps(self.total_bytes)

    @property
    def psnr_viewer(self) -> Psnr:
        """The quality a viewer gets: the full layer when there is one, else the base."""
        return self.psnr_full if self.psnr_full is not None else self.psnr_base

    @property
    def encode_fps(self) -> float:
        return self.frames / self.wall if self.wall else 0.0

    def to_dict(self) -> dict:
        """Plain data (JSON-ready with :mod:`svc.io.jsontext`): totals, kbps per layer, PSNR per layer,
        stage times (s), encode fps and the per-GOP rows."""
        d = asdict(self)
        d.update(base_kbps=self.base_kbps, enhancement_kbps=self.enh_kbps, feature_kbps=self.feat_kbps,
                 full_kbps=self.full_kbps, total_kbps=self.total_kbps, encode_fps=self.encode_fps)
        for key in ("psnr_base", "psnr_full", "psnr_full_without_roi"):
            p = getattr(self, key)
            d[key] = None if p is None else {"y": p.y, "u": p.u, "v": p.v, "yuv": p.yuv}
        d["per_gop"] = list(self.per_gop)
        return d


class EncodeStats:
    """Running totals of one encode; :meth:`summary` freezes them into an :class:`EncodeSummary`."""

    def __init__(self, fmt, with_full: bool, with_reference: bool):
        self.fps = float(fmt.fps)
        self.frames = self.gops = self.base_bytes = self.enh_bytes = self.total_bytes = self.feat_bytes = 0
        self.psnr_base = PsnrAccumulator(fmt.max_value)
        self.psnr_full = PsnrAccumulator(fmt.max_value) if with_full else None
        self.psnr_reference = PsnrAccumulator(fmt.max_value) if with_reference else None
        self.roi_dropped_gops = 0
        self.timings: dict = {}
        self.wall = 0.0
        self.per_gop: list = []
        self._max = fmt.max_value

    def add(self, c):
        """Counts one finished :class:`~svc.pipeline.stages.CodedGop`."""
        self.gops += 1
        self.frames += len(c.gop)
        self.base_bytes += len(c.base_payload)
        self.enh_bytes += c.enh_bytes
        if c.latent_payloads is not None:   # the latent codec's layers count as base and enhancement
            self.base_bytes += len(c.latent_payloads[0])
            self.enh_bytes += len(c.latent_payloads[1])
        self.feat_bytes += len(c.feat_payload) if c.feat_payload is not None else 0
        for orig, rec in zip(c.gop.frames, c.base_recon):
            self.psnr_base.add(orig, rec)
        if c.full_recon is not None:
            for orig, rec in zip(c.gop.frames, c.full_recon):
                self.psnr_full.add(orig, rec)
        if c.reference_full is not None:
            for orig, rec in zip(c.gop.frames, c.reference_full):
                self.psnr_reference.add(orig, rec)
            self.roi_dropped_gops += int(c.roi_dropped)
        for k, v in c.timings.items():
            self.timings[k] = self.timings.get(k, 0.0) + v
        self.per_gop.append(self._gop_row(c))

    def _gop_row(self, c) -> dict:
        """One GOP's line of the statistics: bytes per layer and mean PSNR-Y (dB) of its layers."""
        from svc.metrics.quality import psnr

        def mean_psnr(recon):
            if not recon:
                return None
            return float(np.mean([psnr(o.y, r.y, self._max) for o, r in zip(c.gop.frames, recon)]))
        latent = c.latent_payloads or (b"", b"")
        return {"gop": c.gop.index, "frames": len(c.gop), "base_bytes": len(c.base_payload) + len(latent[0]),
                "enhancement_bytes": c.enh_bytes + len(latent[1]),
                "feature_bytes": len(c.feat_payload) if c.feat_payload is not None else 0,
                "record_bytes": c.record_bytes, "psnr_y_base": mean_psnr(c.base_recon),
                "psnr_y_full": mean_psnr(c.full_recon), "seconds": float(sum(c.timings.values()))}

    def summary(self) -> EncodeSummary:
        full = self.psnr_full.mean() if self.psnr_full is not None and self.psnr_full.count else None
        ref = self.psnr_reference is not None and self.psnr_reference.count
        return EncodeSummary(self.frames, self.gops, self.fps, self.base_bytes, self.enh_bytes, self.total_bytes,
                             self.psnr_base.mean(), full, self.psnr_reference.mean() if ref else None,
                             self.roi_dropped_gops if ref else None, dict(self.timings), self.wall, self.feat_bytes,
                             tuple(self.per_gop))


def make_header(fmt, cfg: SvcConfig, codec=None, features=None, pixels: bool = True, regions=None,
                latent=None) -> Header:
    if latent is not None:
        return Header(fmt, cfg.base.gop, None, None, None, latent.header_info())
    enh = None
    if codec is not None:
        enh = codec.header_info()
        if regions is not None:  # the stream says it is ROI-enhanced (svc-info shows it)
            enh["roi"] = getattr(regions, "label", "regions")
    return Header(fmt, cfg.base.gop, cfg.base.to_header() if pixels else None, enh,
                  features.header_info() if features is not None else None)


def encode(source, out_fh, cfg: SvcConfig, codec=None, analyzer=None, roi_filter=None, progress=None,
           features=None, regions=None, latent=None, jobs: int = 1, ray: str | None = None) -> EncodeSummary:
    """Codes every frame of ``source`` into ``out_fh`` (a binary file object); returns the summary.

    ``codec`` is an enhancement codec (or None for base only); ``analyzer``/``roi_filter`` make the
    base layer detector-aware (with ``roi.method: qoffset`` the base is coded in CRF, see
    :func:`svc.base.roi.with_roi_rate_control`); ``progress`` is called with the frame count of
    each finished GOP; ``regions`` (a source of :mod:`svc.analytics.enhancement_regions`, with ``codec``) limits the
    enhancement to regions; ``features`` is a :class:`svc.features.layer.FeatureLayer` (or None). With
    ``cfg.features.pixels`` false (and ``features`` given) only the feature layer is coded. ``latent``
    (a :class:`svc.latent.layer.LatentLayer`) codes the stream with the learned latent codec instead
    of HEVC: then no other layer may be given. ``jobs`` > 1: GOPs are coded by that many worker
    processes, each building the parts ``cfg`` describes (:class:`~svc.pipeline.encoder.Encoder`), and
    written in order: the same bytes as ``jobs=1``; ``ray`` ("local" or a cluster address): by that
    many Ray actors.
    """
    from svc.errors import InputError
    from svc.base.roi import with_roi_rate_control

    fmt = source.format
    if latent is not None:
        if codec is not None or analyzer is not None or features is not None or regions is not None:
            raise InputError("the latent codec codes its own base and enhancement layers: it takes no HEVC "
                             "enhancement, ROI or feature layer (--codec latent with --no-enhancement, no --roi, "
                             "--enh-roi or --features)")
        if cfg.base.denoise > 0:
            raise InputError("joint denoising (--denoise) applies to the HEVC base layer, not to --codec latent")
        return _encode_latent(source, out_fh, cfg, latent, progress, jobs, ray)
    if analyzer is not None:
        cfg = with_roi_rate_control(cfg)
    gop_size, roi = cfg.base.gop, cfg.roi
    pixels = features is None or cfg.features.pixels
    if not pixels and (codec is not None or analyzer is not None):
        raise InputError("a feature-only stream (features.pixels: false) has no base layer for the enhancement "
                         "layer or ROI: add --no-enhancement, leave --roi off")
    if not pixels and features.interlayer:
        raise InputError("a feature-only stream (features.pixels: false) has no base layer to code the feature "
                         "layer against: set features.interlayer=false or keep the pixel layers")
    writer = ContainerWriter(out_fh, make_header(fmt, cfg, codec, features, pixels, regions))
    # ROI + enhancement with roi.viewer_quality: match: also code the GOPs without ROI (the viewer reference)
    reference = codec is not None and analyzer is not None and roi.viewer_quality == "match"
    stats = EncodeStats(fmt, codec is not None, reference)
    t0 = time.perf_counter()
    gops = GopBuffer(source, gop_size)
    if jobs > 1 or ray is not None:
        from svc.pipeline.parallel import parallel_coded_gops
        coded = parallel_coded_gops(gops, cfg, fmt, jobs, ray)
    else:
        # a complete input (a file of known length, frames in memory): restore the next GOP while this
        # one is block-coded; a live input (a pipe) is coded one GOP at a time (no added wait)
        lookahead = 1 if getattr(source, "num_frames", None) is not None else 0
        coded = coded_gops(gops, cfg, fmt, codec, analyzer, roi_filter, features, regions, lookahead)
    return _drain(write_stage(coded, writer, pixels), writer, stats, progress, t0)


def coded_gops(gops, cfg: SvcConfig, fmt, codec=None, analyzer=None, roi_filter=None, features=None, regions=None,
               lookahead: int = 0):
    """The encode stages over ``gops`` (GOPs of original frames), up to the written record: each GOP
    is coded alone (its own x265 stream: closed GOPs, no state carried between them), so GOPs can be
    coded in any process and give the same bytes. ``cfg`` is the configuration in effect (ROI rate
    control applied); ``lookahead``: see :func:`svc.pipeline.stages.enhancement_encode_stage`."""
    gop_size, roi = cfg.base.gop, cfg.roi
    pixels = features is None or cfg.features.pixels
    reference = codec is not None and analyzer is not None and roi.viewer_quality == "match"
    coded = analysis_stage(gops, analyzer)
    if cfg.base.denoise > 0 and pixels:
        from svc.base.denoise import Denoiser
        coded = denoise_stage(coded, Denoiser(cfg.base.denoise))
    if reference:
        coded = base_encode_stage(coded, BaseEncoder(fmt, cfg.base), None, gop_size, reference=True)
    if pixels:
        coded = base_encode_stage(coded, BaseEncoder(fmt, cfg.base), roi_filter, gop_size)
    if codec is not None and regions is not None:
        coded = enhancement_region_stage(coded, regions)
    if codec is not None:
        coded = enhancement_encode_stage(coded, codec, lookahead)
    if reference:
        coded = roi_viewer_guard_stage(coded, codec, roi.max_full_rate_ratio)
    if features is not None:
        coded = features_encode_stage(coded, features)
    return coded


def _drain(coded, writer: ContainerWriter, stats: EncodeStats, progress, t0: float) -> EncodeSummary:
    """Runs the composed stages to the end (``coded``: the written GOPs), closes the stream, and
    freezes the statistics."""
    for c in coded:
        stats.add(c)
        if progress is not None:
            progress(len(c.gop))
    writer.close()
    stats.wall = time.perf_counter() - t0
    stats.total_bytes = writer.bytes_written
    return stats.summary()


def _encode_latent(source, out_fh, cfg: SvcConfig, latent, progress=None, jobs: int = 1,
                   ray: str | None = None) -> EncodeSummary:
    """:func:`encode` with the learned latent codec: base and enhancement latents per GOP (in ``jobs``
    workers or on Ray actors: the same bytes)."""
    writer = ContainerWriter(out_fh, make_header(source.format, cfg, latent=latent))
    stats = EncodeStats(source.format, True, False)
    t0 = time.perf_counter()
    gops = GopBuffer(source, cfg.base.gop)
    if jobs > 1 or ray is not None:
        from svc.pipeline.parallel import parallel_coded_gops
        coded = parallel_coded_gops(gops, cfg, source.format, jobs, ray)
    else:
        coded = latent_encode_stage(analysis_stage(gops, None), latent)
    return _drain(write_stage(coded, writer, pixels=False), writer, stats, progress, t0)
