"""Box following between detector runs: optical flow on real texture, and the tracker using it."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from svc.analytics.detectors import Detections
from svc.analytics.flow import follow_boxes
from svc.analytics.tracker import Tracker, TrackerConfig, iou_matrix
from svc.io import open_source


@pytest.fixture(scope="module")
def texture(racehorses_yuv):
    """(480, 832) real luma."""
    return next(iter(open_source(racehorses_yuv, max_frames=1))).y.copy()


def _scene(texture, t, path):
    """A flat grey 240x416 frame with a 60x90 textured patch at ``path(t)``; returns (luma, box)."""
    x, y = path(t)
    frame = np.full((240, 416), 90, np.uint8)
    xi, yi = int(round(x)), int(round(y))
    frame[yi:yi + 90, xi:xi + 60] = texture[200:290, 300:360]
    return frame, np.array([xi, yi, 60, 90], np.float64)


@pytest.mark.parametrize("dx, dy", [(0, 0), (5, -3), (-9, 7)])
def test_follow_boxes_measures_a_real_shift(texture, dx, dy):
    prev = texture[100:340, 200:616]
    cur = texture[100 - dy:340 - dy, 200 - dx:616 - dx]  # content moves by (dx, dy)
    boxes = np.array([[100, 60, 80, 120], [250, 20, 60, 60]], np.float64)
    moved, ok = follow_boxes(prev, cur, boxes)
    assert ok.all()
    np.testing.assert_allclose(moved[:, :2], boxes[:, :2] + (dx, dy), atol=0.5)
    np.testing.assert_allclose(moved[:, 2:], boxes[:, 2:], rtol=0.02)


def test_follow_boxes_measures_a_zoom(texture):
    prev = texture[100:340, 200:616]
    big = cv2.resize(texture, None, fx=1.2, fy=1.2, interpolation=cv2.INTER_CUBIC)
    # the point (cx, cy) of prev maps to 1.2 * (200 + cx, 100 + cy) in big; keep a window centred there
    cx, cy = 208, 120
    ox, oy = int(1.2 * (200 + cx) - cx), int(1.2 * (100 + cy) - cy)
    cur = big[oy:oy + 240, ox:ox + 416]
    moved, ok = follow_boxes(prev, cur, np.array([[cx - 50, cy - 50, 100, 100]], np.float64))
    assert ok[0]
    assert moved[0, 2] == pytest.approx(120, rel=0.03) and moved[0, 3] == pytest.approx(120, rel=0.03)


def test_flat_content_is_not_measured():
    flat = np.full((240, 416), 128, np.uint8)
    moved, ok = follow_boxes(flat, flat, np.array([[10, 10, 50, 50]], np.float64))
    # a flat patch tracks trivially (zero motion) or is rejected: never a made-up move
    assert not ok[0] or np.allclose(moved[0], (10, 10, 50, 50), atol=0.5)


def test_flow_keeps_boxes_on_an_object_that_stops_between_detector_runs(texture):
    # a textured object moves 6 px/frame for 12 frames, then stops; the detector runs every 4th frame.
    # Kalman-only coasting keeps moving the box past where the object stopped; flow does not.
    path = lambda t: (40 + 6 * min(t, 12), 80)  # noqa: E731
    frames = [_scene(texture, t, path) for t in range(24)]
    ious = {}
    for mode in ("kalman", "flow"):
        tr = Tracker(TrackerConfig(min_hits=1, max_age=8))
        worst = 1.0
        for t, (img, box) in enumerate(frames):
            if t % 4 == 0:
                rows = tr.update(Detections(box[None], np.array([0.9]), np.array([0], np.int32)))
            else:
                follow = (lambda b, p=frames[t - 1][0], c=img: follow_boxes(p, c, b)) if mode == "flow" else None
                rows = tr.coast(follow)
            if t > 12:
                assert len(rows) == 1
                worst = min(worst, float(iou_matrix(rows[0][1][None], box[None])[0, 0]))
        ious[mode] = worst
    assert ious["flow"] > 0.8 and ious["flow"] > ious["kalman"] + 0.1, ious
