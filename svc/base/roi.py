"""Detector-relevant base-layer coding: the tools that spend the HEVC base layer's bits where the
importance regions are (the regions themselves come from :class:`svc.analytics.roi_analyzer.RoiAnalyzer`).

* ``blur`` (:class:`BackgroundSimplifier`): outside the boxes the frame is replaced by a low-pass
  version (downscaled by ``background_scale`` and scaled back), blended over ``feather`` pixels at
  the box edges, before coding at the configured constant QP. The background then costs few bits;
  the boxes are coded exactly as without ROI.
* ``qoffset`` (:class:`RoiFilter`): FFmpeg region-of-interest side data through an ``addroi``
  filter chain: boxes at ``qoffset_roi`` (negative: more bits), then the whole frame at
  ``qoffset_background`` (positive: fewer bits). FFmpeg's first region wins where regions overlap;
  libx265 maps a qoffset of ±1 to ±25 QP and needs adaptive quantization, so this method runs the
  base layer in CRF mode (:func:`with_roi_rate_control`).
"""
from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import numpy as np

from svc.config import RoiConfig, SvcConfig

# Base-layer rate control a method needs: libx265 applies ROI offsets only with adaptive quantization.
ROI_RATE_CONTROL = {"qoffset": "crf"}


def with_roi_rate_control(cfg: SvcConfig) -> SvcConfig:
    """``cfg`` with the base layer's rate control set to what ``roi.method`` needs (CRF for qoffset),
    whether or not ROI is on, so a plain anchor can be coded like the ROI points it is compared with.
    Returns a new config; ``cfg`` is not changed."""
    need = ROI_RATE_CONTROL.get(cfg.roi.method)
    if need and cfg.base.rate_control != need:
        return replace(cfg, base=replace(cfg.base, rate_control=need))
    return cfg


class RoiFilter:
    """Attaches region-of-interest side data to frames before libx265 codes them."""

    def __init__(self, fmt, config: RoiConfig = RoiConfig()):
        self.format, self.config = fmt, config

    def _attach(self, vf, boxes):
        import av

        fmt, c = self.format, self.config
        graph = av.filter.Graph()
        node = graph.add_buffer(width=fmt.width, height=fmt.height, format=fmt.pix_fmt,
                                time_base=Fraction(1, 1) / Fraction(fmt.fps))
        head = node
        regions = [(int(x), int(y), int(w), int(h), c.qoffset_roi) for x, y, w, h in boxes]
        if c.qoffset_background:
            regions.append((0, 0, fmt.width, fmt.height, c.qoffset_background))
        for x, y, w, h, q in regions:
            f = graph.add("addroi", f"x={x}:y={y}:w={w}:h={h}:qoffset={q:.4f}:clear=0")
            node.link_to(f)
            node = f
        sink = graph.add("buffersink")
        node.link_to(sink)
        graph.configure()
        graph.push(vf)
        out = graph.pull()
        out.pts = vf.pts
        return out if head is not None else vf

    def hook(self, rois):
        """``(index_in_gop, av_frame) -> av_frame`` for :meth:`BaseEncoder.encode_gop`."""
        return lambda i, vf: self._attach(vf, rois[i])


class BackgroundSimplifier:
    """Low-passes everything outside the importance boxes before libx265 codes the frame."""

    def __init__(self, fmt, config: RoiConfig = RoiConfig()):
        self.format, self.config = fmt, config

    def mask(self, boxes, width: int, height: int) -> np.ndarray:
        """(height, width) float32 weight of the original: 1 inside the boxes, 0 far outside."""
        import cv2

        m = np.zeros((height, width), np.float32)
        for x, y, w, h in boxes:
            m[max(0, y):y + h, max(0, x):x + w] = 1.0
        k = 2 * int(self.config.feather) + 1
        return cv2.blur(m, (k, k)) if k > 1 else m

    def simplify(self, frame, boxes):
        """A :class:`YuvFrame` with the background of ``frame`` low-passed (same shape and dtype)."""
        import cv2
        from svc.io.frames import YuvFrame

        s = float(self.config.background_scale)
        planes = []
        m_full = self.mask(boxes, frame.y.shape[1], frame.y.shape[0])
        for p in frame:
            h, w = p.shape
            m = m_full if (h, w) == m_full.shape else cv2.resize(m_full, (w, h), interpolation=cv2.INTER_AREA)
            small = cv2.resize(p, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
            low = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
            out = low + m * (p.astype(np.float32) - low)
            planes.append(np.clip(np.rint(out), 0, self.format.max_value).astype(p.dtype))
        return YuvFrame(*planes)

    def hook(self, rois):
        """``(index_in_gop, av_frame) -> av_frame`` for :meth:`BaseEncoder.encode_gop`."""
        from svc.io.avframes import from_av, to_av

        def apply(i, vf):
            return to_av(self.simplify(from_av(vf, self.format), rois[i]), self.format, pts=vf.pts)
        return apply
