"""Regions of interest for ROI-selective enhancement: per GOP, per frame boxes (x, y, w, h pixels)
inside which the enhancement layer may spend bits (``enhancement.roi``).

- :class:`DetectorRegions` (``auto``): the encoder-side detector on the original frames, boxes of
  ``analytics.classes`` grown by ``roi.margin``; a frame also takes the boxes of its ``roi.temporal``
  neighbours that overlap none of its own (a missed detection is filled in, an object's path over the
  neighbouring frames is not added: :func:`svc.analytics.roi_analyzer.temporal_boxes`);
- :class:`MotRegions` (a MOT file): the rows of each frame (frames from 1, x, y, w, h in columns 3-6),
  grown by ``roi.margin``.

Decoder side (``svc-decode --roi``, :func:`decode_region`): a :class:`FixedRegion` or a MOT file whose
boxes say which part of the frame to decode (a tiled stream decodes only the tiles they touch).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from svc.analytics.roi_analyzer import grow_boxes
from svc.errors import InputError


class DetectorRegions:
    """Regions from the detector's boxes on a GOP's original frames."""

    label = "auto"

    def __init__(self, analyzer):
        self.analyzer = analyzer

    def regions(self, gop) -> list[np.ndarray]:
        return self.analyzer.analyze(gop.frames, gaps_only=True)


class MotRegions:
    """Regions from a MOTChallenge text file (tracks or detections; the id and class are ignored)."""

    def __init__(self, path, fmt, margin: float = 0.15):
        from svc.analytics.mot_io import read_mot

        path = Path(path)
        if not path.is_file():
            raise InputError(f"region file {path} not found (enhancement.roi takes off, auto or a MOT file)")
        try:
            rows = read_mot(path)
        except ValueError as e:
            raise InputError(f"region file: {e}") from None
        if len(rows) and (rows[:, 0].min() < 1 or np.any(rows[:, 4:6] <= 0)):
            raise InputError(f"region file {path}: frames count from 1 and boxes need a positive width and height")
        self.format, self.margin = fmt, float(margin)
        self.label = f"file {path.name}"
        self.by_frame: dict[int, np.ndarray] = {}
        for f in np.unique(rows[:, 0]).astype(int):
            self.by_frame[f] = rows[rows[:, 0] == f, 2:6]

    def regions(self, gop) -> list[np.ndarray]:
        return self.boxes(gop.first_frame, len(gop))

    def boxes(self, first_frame: int, count: int) -> list[np.ndarray]:
        """Per frame ``first_frame`` .. + count - 1 (from 0) its (N, 4) boxes."""
        out = []
        for i in range(count):
            boxes = self.by_frame.get(first_frame + i + 1, np.zeros((0, 4)))
            out.append(grow_boxes(boxes, self.margin, self.format.width, self.format.height))
        return out


class FixedRegion:
    """One rectangle (x, y, w, h pixels, inside the frame) for every frame."""

    def __init__(self, box, fmt):
        x, y, w, h = (int(v) for v in box)
        if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > fmt.width or y + h > fmt.height:
            raise InputError(f"region {x},{y},{w},{h} is not a rectangle inside the {fmt.width}x{fmt.height} frame")
        self.box = np.array([[x, y, w, h]], np.float64)
        self.label = f"{x},{y},{w},{h}"

    def boxes(self, first_frame: int, count: int) -> list[np.ndarray]:
        return [self.box] * count


def decode_region(text: str, fmt):
    """The region of ``svc-decode --roi``: ``x,y,w,h`` (pixels) or a MOT file of boxes (frames from 1,
    taken as they are)."""
    parts = text.split(",")
    if len(parts) == 4:
        try:
            return FixedRegion([int(p) for p in parts], fmt)
        except ValueError:
            raise InputError(f"region {text!r}: x,y,w,h must be integers (pixels)") from None
    if not Path(text).is_file():
        raise InputError(f"region {text!r} is neither x,y,w,h (pixels) nor a MOT file")
    return MotRegions(text, fmt, margin=0.0)


def make_regions(cfg, fmt, detector=None):
    """The region source of ``cfg.enhancement.roi`` (None when off)."""
    mode = cfg.enhancement.roi
    if mode == "off":
        return None
    if mode == "auto":
        from svc.analytics.roi_analyzer import make_roi

        analyzer, _ = make_roi(cfg, fmt, detector)
        return DetectorRegions(analyzer)
    return MotRegions(mode, fmt, cfg.roi.margin)
