"""Detector-relevant base layer: importance regions from a detector steer the base encoder's bits.

At the encoder the detector runs on the GOP's original frames (already in the GOP buffer). Each box
is grown by ``margin`` (fraction of its size), boxes are smoothed over time (a frame also keeps the
boxes of its ``temporal`` neighbours in the GOP, so a missed detection does not drop the region; for
the enhancement's regions only those that overlap none of its own: :func:`temporal_boxes`).
The base-layer tools that spend the bits there (``roi.method``: ``blur``, background low-passed;
``qoffset``, FFmpeg ROI side data in CRF mode) live in :mod:`svc.base.roi`; :func:`make_roi` pairs
the analyzer with the one the config names.

``tools/bench_analytics.py`` measures both against plain HEVC (MOTA / mAP BD-rate).
"""
from __future__ import annotations

import numpy as np

from svc.base.roi import BackgroundSimplifier, RoiFilter
from svc.config import RoiConfig, SvcConfig


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

    def __init__(self, detector, fmt, config: RoiConfig = RoiConfig(), class_ids=(0,)):
        """``class_ids``: COCO ids whose boxes make regions (None: every class)."""
        self.detector, self.format, self.config = detector, fmt, config
        self.class_ids = None if class_ids is None else np.asarray(list(class_ids), np.int32)

    def analyze(self, frames, gaps_only: bool = False) -> list[np.ndarray]:
        """Per frame its boxes and those of its ``temporal`` neighbours: all of them (the base layer's
        regions), or with ``gaps_only`` only the neighbours' boxes that overlap none of the frame's own
        (:func:`temporal_boxes`; the enhancement's regions)."""
        c = self.config
        per_frame = []
        frames = list(frames)
        found = (self.detector.detect_batch(frames) if hasattr(self.detector, "detect_batch")
                 else [self.detector.detect(f) for f in frames])
        for d in found:
            keep = d.scores >= c.min_score
            if self.class_ids is not None:
                keep &= np.isin(d.classes, self.class_ids)
            per_frame.append(grow_boxes(d.boxes[keep], c.margin, self.format.width, self.format.height))
        return temporal_boxes(per_frame, c.temporal, gaps_only)


def _overlaps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a),) bool: each x, y, w, h box of ``a`` overlaps some box of ``b``."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros(len(a), bool)
    ax0, ay0, ax1, ay1 = a[:, 0, None], a[:, 1, None], (a[:, 0] + a[:, 2])[:, None], (a[:, 1] + a[:, 3])[:, None]
    bx0, by0, bx1, by1 = b[None, :, 0], b[None, :, 1], (b[:, 0] + b[:, 2])[None], (b[:, 1] + b[:, 3])[None]
    return ((np.minimum(ax1, bx1) > np.maximum(ax0, bx0)) & (np.minimum(ay1, by1) > np.maximum(ay0, by0))).any(1)


def temporal_boxes(per_frame: list[np.ndarray], temporal: int, gaps_only: bool = False) -> list[np.ndarray]:
    """Each frame's boxes plus those of its ``temporal`` neighbours in the GOP: all of them, or with
    ``gaps_only`` only those that overlap none of the frame's own (a missed detection does not drop the
    region, while an object detected on the frame is not also covered along its path over the
    neighbouring frames; measured with tools/bench_roi.py: the plain union made 48% of a street clip's
    units regions, this 39%)."""
    out = []
    for i, own in enumerate(per_frame):
        lo, hi = max(0, i - temporal), min(len(per_frame), i + temporal + 1)
        if not gaps_only:
            out.append(np.concatenate(per_frame[lo:hi]))
            continue
        near = [per_frame[j][~_overlaps(per_frame[j], own)] for j in range(lo, hi) if j != i]
        out.append(np.concatenate([own, *near]).astype(np.int32))
    return out


def make_roi(cfg: SvcConfig, fmt, detector=None):
    """(analyzer, filter) from the config's ``roi`` and ``analytics`` sections (``cfg`` is not changed).

    ``detector`` (optional) is shared with the caller; otherwise one is made from the config. The
    ``qoffset`` method needs CRF rate control in the base layer: code with
    :func:`with_roi_rate_control` ``(cfg)`` (the encode pipeline does)."""
    from svc.analytics.detectors import class_ids_from_names, make_detector

    rc = cfg.roi
    if detector is None:
        detector = make_detector(cfg.analytics.detector, **dict(cfg.analytics.detector_options))
    roi_filter = RoiFilter(fmt, rc) if rc.method == "qoffset" else BackgroundSimplifier(fmt, rc)
    classes = class_ids_from_names(cfg.analytics.classes) if cfg.analytics.classes else None  # empty: all 80
    return RoiAnalyzer(detector, fmt, rc, classes), roi_filter
