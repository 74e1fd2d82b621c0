"""Draws track boxes, ids and class names on base frames and writes a video for people to look at."""
from __future__ import annotations

import cv2
import numpy as np

from svc.io.frames import YuvFrame


def label(track_id: int, class_id) -> str:
    """The text drawn on a box: ``'3 person'`` (track id and COCO class name), ``'3'`` for an unknown class."""
    from svc.analytics.detectors.coco import COCO_NAMES

    c = -1 if class_id is None else int(class_id)
    return f"{int(track_id)} {COCO_NAMES[c]}" if 0 <= c < len(COCO_NAMES) else str(int(track_id))


def _colour(track_id: int):
    rng = np.random.default_rng(int(track_id) * 7919)
    return tuple(int(c) for c in rng.integers(64, 256, 3))


class TrackRenderer:
    """Writes frames with track boxes (colour per id, label ``id class``, see :func:`label`) to an
    ``.mp4`` / ``.mkv`` / ``.y4m``."""

    def __init__(self, path, fmt, write_path=None):
        from svc.io import open_sink
        from svc.io.frames import VideoFormat

        self.format = VideoFormat(fmt.width, fmt.height, fmt.fps, 8)
        self._sink = open_sink(path, self.format, write_path)
        self._shift = fmt.bit_depth - 8

    def draw(self, frame: YuvFrame, tracks) -> YuvFrame:
        i420 = frame.to_i420()
        if self._shift:
            i420 = (i420 >> self._shift).astype(np.uint8)
        bgr = cv2.cvtColor(i420, cv2.COLOR_YUV2BGR_I420)
        for tid, box, score, cls in tracks:
            x, y, w, h = (int(round(v)) for v in box)
            col = _colour(tid)
            cv2.rectangle(bgr, (x, y), (x + w, y + h), col, 1 + (bgr.shape[0] > 300))
            cv2.putText(bgr, label(tid, cls), (x + 2, max(10, y + 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, col, 1,
                        cv2.LINE_AA)
        return YuvFrame.from_i420(cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420), self.format.width, self.format.height)

    def write_gop(self, dec):
        for frame, tracks in zip(dec.frames, dec.tracks):
            self._sink.write(self.draw(frame, tracks))

    def close(self):
        self._sink.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
