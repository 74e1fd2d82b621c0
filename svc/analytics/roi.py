"""Detector-relevant base layer: importance regions from a detector steer the base encoder's bits.

At the encoder the detector runs on the GOP's original frames (already in the GOP buffer). Each box
is grown by ``margin`` (fraction of its size), boxes are smoothed over time (a frame also keeps the
boxes of its ``temporal`` neighbours in the GOP, so a missed detection does not drop the region).
Two ways to spend the bits there (``method``):

* ``blur`` (:class:`BackgroundSimplifier`): outside the boxes the frame is replaced by a low-pass
  version (downscaled by ``background_scale`` and scaled back), blended over ``feather`` pixels at
  the box edges, before coding at the configured constant QP. The background then costs few bits;
  the boxes are coded exactly as without ROI.
* ``qoffset`` (:class:`RoiFilter`): FFmpeg region-of-interest side data through an ``addroi``
  filter chain: boxes at ``qoffset_roi`` (negative: more bits), then the whole frame at
  ``qoffset_background`` (positive: fewer bits). FFmpeg's first region wins where regions overlap;
  libx265 maps a qoffset of ±1 to ±25 QP and needs adaptive quantization, so this method runs the
  base layer in CRF mode.

``tools/bench_analytics.py`` measures both against plain HEVC (MOTA / mAP BD-rate).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from svc.errors import InputError

ROI_METHODS = ("blur", "qoffset")
VIEWER_QUALITY = ("match", "free")
# Base-layer rate control a method needs: libx265 applies ROI offsets only with adaptive quantization.
ROI_RATE_CONTROL = {"qoffset": "crf"}


def apply_roi_rate_control(cfg: dict) -> dict:
    """Sets ``cfg['base']['rate_control']`` to what ``cfg['roi']['method']`` needs (CRF for qoffset), in
    place, whether or not ROI is on, so a plain anchor can be coded like the ROI points it is compared with."""
    need = ROI_RATE_CONTROL.get(cfg.get("roi", {}).get("method", RoiConfig.method))
    if need:
        cfg["base"]["rate_control"] = need
    return cfg


@dataclass
class RoiConfig:
    method: str = "blur"
    margin: float = 0.15
    temporal: int = 2
    qoffset_roi: float = -0.2
    qoffset_background: float = 0.12
    min_score: float = 0.3
    classes: tuple = (0,)
    background_scale: float = 0.125
    feather: int = 8
    viewer_quality: str = "match"          # with the enhancement layer: match | free (see pipelines.encode)
    max_full_rate_ratio: float | None = 2.0

    @classmethod
    def from_dict(cls, d: dict) -> "RoiConfig":
        known = {k: v for k, v in (d or {}).items() if k in cls.__dataclass_fields__}
        if "classes" in known:
            known["classes"] = tuple(known["classes"])
        rc = cls(**known)
        if rc.method not in ROI_METHODS:
            raise InputError(f"roi.method must be one of {', '.join(ROI_METHODS)}, got {rc.method!r}")
        if not 0 < float(rc.background_scale) <= 1:
            raise InputError(f"roi.background_scale must be in (0, 1], got {rc.background_scale}")
        if rc.viewer_quality not in VIEWER_QUALITY:
            raise InputError(f"roi.viewer_quality must be one of {', '.join(VIEWER_QUALITY)}, got {rc.viewer_quality!r}")
        if rc.max_full_rate_ratio is not None and not float(rc.max_full_rate_ratio) > 0:
            raise InputError(f"roi.max_full_rate_ratio must be > 0, got {rc.max_full_rate_ratio}")
        return rc


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


def make_roi(cfg: dict, fmt, detector=None):
    """(analyzer, filter) from the config's ``roi`` and ``analytics`` sections.

    ``detector`` (optional) is shared with the caller; otherwise one is made from the config. The
    ``qoffset`` method switches the base layer to CRF rate control (:func:`apply_roi_rate_control`)."""
    from svc.analytics.detectors import make_detector

    rc = RoiConfig.from_dict(cfg.get("roi", {}))
    if detector is None:
        det_cfg = dict(cfg.get("analytics", {}).get("detector_options") or {})
        detector = make_detector(cfg.get("roi", {}).get("detector") or cfg.get("analytics", {}).get("detector", "auto"),
                                 **det_cfg)
    apply_roi_rate_control(cfg)
    roi_filter = RoiFilter(fmt, rc) if rc.method == "qoffset" else BackgroundSimplifier(fmt, rc)
    return RoiAnalyzer(detector, fmt, rc), roi_filter
