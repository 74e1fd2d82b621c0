"""Box following between detector runs: median optical flow of points inside each box (MedianFlow).

With the detector on every k-th frame only (``analytics.detect_interval``), the frames in between
used to move tracks by their Kalman prediction alone, which drifts off a person who turns or stops.
:func:`follow_boxes` measures each box's motion on the decoded luma instead: a grid of points inside
the box is tracked forward and back with pyramidal Lucas-Kanade (``cv2.calcOpticalFlowPyrLK``);
points whose forward-backward error exceeds ``max_fb_error`` pixels are dropped; the box moves by
the median displacement and scales by the median ratio of point-pair distances (Kalal et al. 2010).
Cost: ~25 us CPU per box and frame pair plus the pyramids (~0.3 ms at 416x240), against ~40 ms per
detector run (measured with tools/bench_analytics.py).
"""
from __future__ import annotations

import cv2
import numpy as np

GRID = 5            # points per box side
MIN_POINTS = 5      # fewer reliable points: the box is not measured
# 11x11 windows on a 4-level pyramid (motion up to ~40 px per frame), at most 10 iterations a level
_LK = dict(winSize=(11, 11), maxLevel=3, criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 10, 0.03))


# the grid of one box, as fractions of its size: (GRID * GRID, 2) x, y from 0.15 to 0.85
_UNIT = np.stack(np.meshgrid(np.linspace(0.15, 0.85, GRID), np.linspace(0.15, 0.85, GRID)), -1).reshape(-1, 2)
_PAIRS = np.triu_indices(GRID * GRID, 1)  # every pair of a box's points, for its scale change


def _nanmedian_rows(a: np.ndarray) -> np.ndarray:
    """(M,) medians of the non-NaN values of each row of (M, K) ``a`` (NaN for a row without any);
    a sort does it, which is ~10x faster than ``np.nanmedian`` on these small arrays."""
    s = np.sort(a, axis=1)  # NaN sorts last
    k = np.sum(~np.isnan(a), axis=1)
    lo = np.take_along_axis(s, (np.maximum(k - 1, 0) // 2)[:, None], 1)[:, 0]
    hi = np.take_along_axis(s, (k // 2)[:, None], 1)[:, 0]  # k <= K, so k // 2 < K for K >= 1
    return np.where(k > 0, (lo + hi) / 2, np.nan)


def follow_boxes(prev_y: np.ndarray, cur_y: np.ndarray, boxes: np.ndarray, max_fb_error: float = 1.0):
    """Moves (N, 4) x, y, w, h ``boxes`` of luma frame ``prev_y`` (H, W) to ``cur_y``.

    Returns ``(moved (N, 4) float, ok (N,) bool)``; where ``ok`` is False the box was not measured
    (too few reliably tracked points) and ``moved`` repeats the input box. All boxes go through one
    forward and one backward Lucas-Kanade call, and the medians are taken over all boxes at once.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    moved, ok = boxes.copy(), np.zeros(len(boxes), bool)
    if len(boxes) == 0:
        return moved, ok
    if prev_y.dtype != np.uint8:  # 10-bit and other depths: LK wants 8-bit
        shift = int(np.ceil(np.log2(max(int(prev_y.max()), int(cur_y.max()), 1) + 1))) - 8
        prev_y, cur_y = ((p >> max(shift, 0)).astype(np.uint8) for p in (prev_y, cur_y))
    n, g = len(boxes), GRID * GRID
    p0 = boxes[:, None, :2] + boxes[:, None, 2:] * _UNIT[None]  # (N, G, 2)
    pts = p0.reshape(-1, 1, 2).astype(np.float32)
    fwd, st1, _ = cv2.calcOpticalFlowPyrLK(prev_y, cur_y, pts, None, **_LK)
    back, st2, _ = cv2.calcOpticalFlowPyrLK(cur_y, prev_y, fwd, None, **_LK)
    good = ((st1[:, 0] == 1) & (st2[:, 0] == 1)
            & (np.linalg.norm((back - pts)[:, 0], axis=1) <= max_fb_error)).reshape(n, g)
    p0 = pts[:, 0].astype(np.float64).reshape(n, g, 2)
    p1 = fwd[:, 0].astype(np.float64).reshape(n, g, 2)
    ok = good.sum(1) >= MIN_POINTS
    if not ok.any():
        return moved, ok
    with np.errstate(invalid="ignore", divide="ignore"):
        shift = np.where(good[..., None], p1 - p0, np.nan)
        m = int(ok.sum())
        d = _nanmedian_rows(shift[ok].transpose(0, 2, 1).reshape(2 * m, g)).reshape(m, 2)
        i, j = _PAIRS
        d0 = np.linalg.norm(p0[:, i] - p0[:, j], axis=2)
        d1 = np.linalg.norm(p1[:, i] - p1[:, j], axis=2)
        ratio = np.where(good[:, i] & good[:, j] & (d0 > 1e-6), d1 / d0, np.nan)[ok]
        scale = _nanmedian_rows(ratio)
    scale = np.where(np.isfinite(scale), scale, 1.0)
    b = boxes[ok]
    cx, cy = b[:, 0] + b[:, 2] / 2 + d[:, 0], b[:, 1] + b[:, 3] / 2 + d[:, 1]
    w, h = b[:, 2] * scale, b[:, 3] * scale
    moved[ok] = np.stack([cx - w / 2, cy - h / 2, w, h], 1)
    return moved, ok
