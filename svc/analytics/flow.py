"""Box following between detector runs: median optical flow of points inside each box (MedianFlow).

With the detector on every k-th frame only (``analytics.detect_interval``), the frames in between
used to move tracks by their Kalman prediction alone, which drifts off a person who turns or stops.
:func:`follow_boxes` measures each box's motion on the decoded luma instead: a grid of points inside
the box is tracked forward and back with pyramidal Lucas-Kanade (``cv2.calcOpticalFlowPyrLK``);
points whose forward-backward error exceeds ``max_fb_error`` pixels are dropped; the box moves by
the median displacement and scales by the median ratio of point-pair distances (Kalal et al. 2010).
About 1 ms per frame at 416x240, against ~40 ms for the offline detector.
"""
from __future__ import annotations

import cv2
import numpy as np

GRID = 6            # points per box side
MIN_POINTS = 6      # fewer reliable points: the box is not measured
_LK = dict(winSize=(15, 15), maxLevel=2, criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03))


def _grid(box) -> np.ndarray:
    x, y, w, h = box
    xs = x + w * np.linspace(0.15, 0.85, GRID)
    ys = y + h * np.linspace(0.15, 0.85, GRID)
    return np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 1, 2).astype(np.float32)


def follow_boxes(prev_y: np.ndarray, cur_y: np.ndarray, boxes: np.ndarray, max_fb_error: float = 1.0):
    """Moves (N, 4) x, y, w, h ``boxes`` of luma frame ``prev_y`` (H, W) to ``cur_y``.

    Returns ``(moved (N, 4) float, ok (N,) bool)``; where ``ok`` is False the box was not measured
    (too few reliably tracked points) and ``moved`` repeats the input box.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    moved, ok = boxes.copy(), np.zeros(len(boxes), bool)
    if len(boxes) == 0:
        return moved, ok
    if prev_y.dtype != np.uint8:  # 10-bit and other depths: LK wants 8-bit
        shift = int(np.ceil(np.log2(max(int(prev_y.max()), int(cur_y.max()), 1) + 1))) - 8
        prev_y, cur_y = ((p >> max(shift, 0)).astype(np.uint8) for p in (prev_y, cur_y))
    pts = np.concatenate([_grid(b) for b in boxes])
    fwd, st1, _ = cv2.calcOpticalFlowPyrLK(prev_y, cur_y, pts, None, **_LK)
    back, st2, _ = cv2.calcOpticalFlowPyrLK(cur_y, prev_y, fwd, None, **_LK)
    good = (st1[:, 0] == 1) & (st2[:, 0] == 1) & (np.linalg.norm((back - pts)[:, 0], axis=1) <= max_fb_error)
    n = GRID * GRID
    for i, b in enumerate(boxes):
        sel = good[i * n:(i + 1) * n]
        if sel.sum() < MIN_POINTS:
            continue
        p0, p1 = pts[i * n:(i + 1) * n][sel, 0].astype(np.float64), fwd[i * n:(i + 1) * n][sel, 0].astype(np.float64)
        d = np.median(p1 - p0, axis=0)
        iu, ju = np.triu_indices(len(p0), 1)
        d0 = np.linalg.norm(p0[iu] - p0[ju], axis=1)
        d1 = np.linalg.norm(p1[iu] - p1[ju], axis=1)
        keep = d0 > 1e-6
        scale = float(np.median(d1[keep] / d0[keep])) if keep.any() else 1.0
        cx, cy = b[0] + b[2] / 2 + d[0], b[1] + b[3] / 2 + d[1]
        w, h = b[2] * scale, b[3] * scale
        moved[i] = (cx - w / 2, cy - h / 2, w, h)
        ok[i] = True
    return moved, ok
