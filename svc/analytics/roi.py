"""Detector-relevant base layer: importance regions from a detector, turned into x265 QP offsets.

At the encoder the detector runs on the GOP's original frames (already in the GOP buffer). Each box
is grown by ``margin`` (fraction of its size), boxes are smoothed over time (a frame also keeps the
boxes of its ``temporal`` neighbours in the GOP, so a missed detection does not drop the region),
and every frame gets FFmpeg region-of-interest side data through an ``addroi`` filter chain:
boxes at ``qoffset_roi`` (negative: more bits), then the whole frame at ``qoffset_background``
(positive: fewer bits). FFmpeg's first region wins where regions overlap; libx265 maps a qoffset of
±1 to ±25 QP and needs adaptive quantization, so ROI coding runs the base layer in CRF mode.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np


@dataclass
class RoiConfig:
    margin: float = 0.15
    temporal: int = 2
    qoffset_roi: float = -0.2
    qoffset_background: float = 0.12
    min_score: float = 0.3
    classes: tuple = (0,)

    @classmethod
    def from_dict(cls, d: dict) -> "RoiConfig":
        known = {k: v for k, v in (d or {}).items() if k in cls.__dataclass_fields__}
        if "classes" in known:
            known["classes"] = tuple(known["classes"])
        return cls(**known)


def grow_boxes(boxes: np.ndarray, margin: float, width: int, height: int) -> np.ndarray:
    """(N, 4) x, y, w, h boxes grown by ``margin`` of their size each side, clipped, even-aligned ints."""
    if len(boxes) == 0:
        return np.zeros((0, 4), np.int32)
    b = np.asarray(boxes, np.float64)
    x0 = np.clip(b[:, 0] - margin * b[:, 2], 0, width)
    y0 = np.clip(b[:, 1] - margin * b[:, 3], 0, height)
    x1 = np.clip(b[:, 0] + (1 + margin) * b[:, 2], 0, width)
    y1 = np.clip(b[:, 1] + (1 + margin) * b[:, 3], 0, height)
    out = np.stack([np.floor(x0 / 2) * 2, np.floor(y0 / 2) * 2, np.ceil(x1 / 2) * 2, np.ceil(y1 / 2) * 2], 1)
    out[:, 2:] -= out[:, :2]
    return out[(out[:, 2] > 0) & (out[:, 3] > 0)].astype(np.int32)


class RoiAnalyzer:
    """Per-frame importance boxes (x, y, w, h ints) for a GOP of original frames."""

    def __init__(self, detector, fmt, config: RoiConfig = RoiConfig()):
        self.detector, self.format, self.config = detector, fmt, config

    def analyze(self, frames) -> list[np.ndarray]:
        c = self.config
        per_frame = []
        for f in frames:
            d = self.detector.detect(f)
            keep = (d.scores >= c.min_score) & np.isin(d.classes, c.classes)
            per_frame.append(grow_boxes(d.boxes[keep], c.margin, self.format.width, self.format.height))
        smoothed = []
        for i in range(len(per_frame)):
            lo, hi = max(0, i - c.temporal), min(len(per_frame), i + c.temporal + 1)
            smoothed.append(np.concatenate(per_frame[lo:hi]) if hi > lo else np.zeros((0, 4), np.int32))
        return smoothed


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


def make_roi(cfg: dict, fmt):
    """(analyzer, filter) from the config's ``roi`` and ``analytics`` sections; forces CRF rate control."""
    from svc.analytics.detectors import make_detector

    rc = RoiConfig.from_dict(cfg.get("roi", {}))
    det_cfg = dict(cfg.get("analytics", {}).get("detector_options") or {})
    detector = make_detector(cfg.get("roi", {}).get("detector") or cfg.get("analytics", {}).get("detector", "auto"),
                             **det_cfg)
    cfg["base"]["rate_control"] = "crf"
    return RoiAnalyzer(detector, fmt, rc), RoiFilter(fmt, rc)
