"""SORT / ByteTrack-style multi-object tracker: Kalman filter + Hungarian assignment on IoU.

Each track keeps a constant-velocity Kalman filter on ``(cx, cy, s, r)`` (box centre in pixels,
area s in pixels^2, aspect ratio r = w / h, constant) as in SORT (Bewley et al. 2016). Every frame:
predict all tracks, then, per class (tracks never switch class), match detections to tracks by
maximum total IoU (``scipy.optimize.linear_sum_assignment``; pairs below ``iou_threshold`` are
rejected). With ``two_stage`` (ByteTrack, Zhang et al. 2022) detections scoring >= ``high_score``
are matched first and those in [``low_score``, ``high_score``) then rescue the still-unmatched
tracks; only high-score detections start tracks. Without it, every detection >= ``low_score``
is matched in one stage and may start a track (SORT). Fully deterministic.

When the detector runs only on every k-th frame (``analytics.detect_interval``), the frames in
between go to :meth:`Tracker.coast`: tracks move by the box motion measured on the frames (optical
flow, :mod:`svc.analytics.flow`) when the caller gives it, else by their Kalman prediction, and
those matched on the last detected frame are reported.
"""
from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from svc.analytics.boxes import iou_matrix
from svc.analytics.detectors import Detections
from svc.config import TrackerConfig


class TrackRow(NamedTuple):
    """One track on one frame: id (from 1), box (4,) x, y, w, h in pixels, score in [0, 1], COCO class id."""

    track_id: int
    box: np.ndarray
    score: float
    class_id: int


def xywh_to_z(b) -> np.ndarray:
    """(4,) x, y, w, h -> measurement (cx, cy, s, r)."""
    x, y, w, h = (float(v) for v in b)
    return np.array([x + w / 2, y + h / 2, w * h, w / max(h, 1e-6)])


def x_to_xywh(x) -> np.ndarray:
    """Kalman state (>= 4 values cx, cy, s, r, ...) -> (4,) x, y, w, h."""
    s, r = max(float(x[2]), 0.0), max(float(x[3]), 1e-6)
    w = np.sqrt(s * r)
    h = s / w if w > 0 else 0.0
    return np.array([x[0] - w / 2, x[1] - h / 2, w, h])


# SORT's constant-velocity model: state (cx, cy, s, r, vcx, vcy, vs), measurement (cx, cy, s, r).
_F = np.eye(7)
_F[0, 4] = _F[1, 5] = _F[2, 6] = 1.0
_H = np.eye(4, 7)
_R = np.diag([1.0, 1.0, 10.0, 10.0])
_Q = np.diag([1.0, 1.0, 1.0, 1.0, 0.01, 0.01, 1e-4])
_P0 = np.diag([10.0, 10.0, 10.0, 10.0, 1e4, 1e4, 1e4])


class KalmanBoxTrack:
    """One track: Kalman state ``x`` (7,), covariance ``P`` (7, 7), bookkeeping counters."""

    def __init__(self, track_id: int, box, score: float, cls: int):
        self.id, self.cls, self.score = track_id, int(cls), float(score)
        self.x = np.zeros(7)
        self.x[:4] = xywh_to_z(box)
        self.P = _P0.copy()
        self.hits, self.age, self.time_since_update = 1, 0, 0
        self.held: list[tuple[int, np.ndarray, float]] = []  # (frame, box, score) while not yet confirmed

    def predict(self) -> np.ndarray:
        if self.x[2] + self.x[6] <= 0:  # area must stay positive
            self.x[6] = 0.0
        self.x = _F @ self.x
        return self._step()

    def move(self, box):
        """A measured move on a frame without detections (instead of :meth:`predict`): the state
        jumps to (4,) x, y, w, h ``box`` and its velocity becomes the change; not a hit."""
        z = xywh_to_z(box)
        self.x[4:] = z[:3] - self.x[:3]
        self.x[:4] = z
        return self._step()

    def _step(self) -> np.ndarray:
        """One frame passes (after the state moved): covariance grows, counters advance."""
        self.P = _F @ self.P @ _F.T + _Q
        self.age += 1
        self.time_since_update += 1
        return self.box()

    def update(self, box, score: float):
        z = xywh_to_z(box)
        y = z - _H @ self.x
        S = _H @ self.P @ _H.T + _R
        # P H^T S^-1 (S, P symmetric); OpenCV's Cholesky solve: a 4x4 system through OpenBLAS's LAPACK wakes
        # its thread pool and stalls for milliseconds on a busy machine
        K = cv2.solve(S, _H @ self.P, flags=cv2.DECOMP_CHOLESKY)[1].T
        self.x = self.x + K @ y
        self.P = (np.eye(7) - K @ _H) @ self.P
        self.hits += 1
        self.time_since_update = 0
        self.score = float(score)

    def box(self) -> np.ndarray:
        return x_to_xywh(self.x)


def _assign(track_boxes: np.ndarray, det_boxes: np.ndarray, threshold: float):
    """Hungarian matching maximising IoU; returns [(track_index, det_index)] with IoU >= threshold."""
    if len(track_boxes) == 0 or len(det_boxes) == 0:
        return []
    iou = iou_matrix(track_boxes, det_boxes)
    rows, cols = linear_sum_assignment(-iou)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if iou[r, c] >= threshold]


class Tracker:
    """Call :meth:`update` once per frame, in display order; ids start at 1 and only increase."""

    def __init__(self, config: TrackerConfig | None = None):
        self.config = config or TrackerConfig()
        self.reset()

    def reset(self):
        self.tracks: list[KalmanBoxTrack] = []
        self.next_id = 1
        self.frame_count = 0
        self.frames_since_detection = 0
        # rows of earlier frames released by the last call: (frame_count of that frame, row)
        self.backfill: list[tuple[int, TrackRow]] = []

    def _report(self, tracks) -> list[TrackRow]:
        """Rows of this frame for ``tracks`` (those that would be reported): confirmed ones now, each
        releasing into :attr:`backfill` the rows held while it was not yet confirmed; others held."""
        out = []
        for t in tracks:
            if t.hits >= self.config.min_hits:
                out.append(TrackRow(t.id, t.box(), t.score, t.cls))
                self.backfill += [(f, TrackRow(t.id, b, sc, t.cls)) for f, b, sc in t.held]
                t.held = []
            else:
                t.held.append((self.frame_count, t.box(), t.score))
        return sorted(out, key=lambda r: r[0])

    def coast(self, follow=None) -> list[TrackRow]:
        """Advances one frame on which the detector did not run; returns, like :meth:`update`, the
        confirmed tracks that were matched on the last detected frame, at their predicted boxes.

        ``follow``: optional ``(boxes (N, 4) on the previous frame) -> (moved (N, 4), ok (N,))``
        measuring where boxes went (:func:`svc.analytics.flow.follow_boxes`). It measures the tracks
        matched on the last detected frame (those reported); a measured track moves there (its velocity
        becomes the measured change), the others (and unmeasured ones) by prediction."""
        self.frame_count += 1
        self.frames_since_detection += 1
        self.backfill = []
        live = [t for t in self.tracks if t.time_since_update == self.frames_since_detection - 1]
        moved, ok = np.zeros((len(live), 4)), np.zeros(len(live), bool)
        if follow is not None and live:
            moved, ok = follow(np.array([t.box() for t in live]).reshape(-1, 4))
        measured = {id(t): box for t, box, m in zip(live, moved, ok) if m and box[2] > 0 and box[3] > 0}
        for t in self.tracks:
            if id(t) in measured:
                t.move(measured[id(t)])
            else:
                t.predict()
        self.tracks = [t for t in self.tracks if np.all(np.isfinite(t.x))]
        # no pruning between detector runs: as in SORT, a track is matched at the next run before
        # ``max_age`` is checked (see :meth:`update`: one missed run never ends it)
        return self._report([t for t in self.tracks if t.time_since_update == self.frames_since_detection])

    def update(self, dets: Detections) -> list[TrackRow]:
        """This frame's ``(track_id, box_xywh (4,) float, score, class_id)`` for confirmed tracks
        (``min_hits`` matches so far) matched in this frame, sorted by id."""
        c = self.config
        self.frame_count += 1
        gap = self.frames_since_detection + 1  # frames since the previous detector run (k with detect_interval k)
        self.frames_since_detection = 0
        self.backfill = []
        for t in self.tracks:
            t.predict()
        self.tracks = [t for t in self.tracks if np.all(np.isfinite(t.x))]
        boxes = np.asarray(dets.boxes, np.float64).reshape(-1, 4)
        scores = np.asarray(dets.scores, np.float64).reshape(-1)
        classes = np.asarray(dets.classes, np.int64).reshape(-1)
        valid = (scores >= c.low_score) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
        high = valid & (scores >= c.high_score) if c.two_stage else valid

        matched: set[int] = set()
        starts = []
        for cls in sorted(set(classes[valid].tolist()) | {t.cls for t in self.tracks}):
            tr = [i for i, t in enumerate(self.tracks) if t.cls == cls]
            stages = [np.flatnonzero(high & (classes == cls))]
            if c.two_stage:
                stages.append(np.flatnonzero(valid & ~high & (classes == cls)))
            for stage, det_idx in enumerate(stages):
                free = [i for i in tr if i not in matched]
                tb = np.array([self.tracks[i].box() for i in free]).reshape(-1, 4)
                pairs = _assign(tb, boxes[det_idx], c.iou_threshold)
                for ti, di in pairs:
                    self.tracks[free[ti]].update(boxes[det_idx[di]], scores[det_idx[di]])
                    matched.add(free[ti])
                if stage == 0:  # unmatched high-score detections start tracks
                    used = {di for _, di in pairs}
                    starts += [int(det_idx[j]) for j in range(len(det_idx)) if j not in used]

        reported = [t for i, t in enumerate(self.tracks) if i in matched]
        # a track survives ``max_age`` frames unmatched, and always one missed detector run: with the detector
        # on every k-th frame (k > max_age) one miss would otherwise end every track it touches
        self.tracks = [t for t in self.tracks if t.time_since_update <= max(c.max_age, gap)]
        for d in sorted(starts):  # ids in detection order: deterministic
            t = KalmanBoxTrack(self.next_id, boxes[d], scores[d], classes[d])
            self.next_id += 1
            self.tracks.append(t)
            reported.append(t)
        return self._report(reported)
