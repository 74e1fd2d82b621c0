"""MOTChallenge text rows, written and read in one place.

Written rows: ``frame,id,x,y,w,h,conf,class,-1,-1`` (frames from 1, boxes in pixels with (x, y) the
top-left corner, ``conf`` in [0, 1], ``class`` the COCO class id, -1 when unknown; detections carry
id -1). Column 8 holds the class as in MOT16+ ground truth and SFU-HW-Tracks-v1 converted to MOT.
"""
from __future__ import annotations

import re

import numpy as np

MOT_COLUMNS = 10  # frame, id, x, y, w, h, conf, class (MOT15: world x), c8, c9
#: Values of missing trailing columns when reading: conf 1 (a ground-truth row counts), the rest -1.
_DEFAULTS = [np.nan] * 6 + [1.0, -1.0, -1.0, -1.0]


def _row(frame_number: int, track_id: int, box, conf: float, cls=None) -> str:
    x, y, w, h = (float(v) for v in box)
    c = -1 if cls is None else int(cls)
    return f"{int(frame_number)},{int(track_id)},{x:.2f},{y:.2f},{w:.2f},{h:.2f},{float(conf):.3f},{c},-1,-1"


def mot_rows(frame_number: int, tracks, mot17: bool = False) -> list[str]:
    """Rows (no newline) for the tracks of one frame: :class:`~svc.analytics.tracker.TrackRow` s, or any
    ``(track_id, box, score[, class_id])`` tuples. ``mot17``: column 8 is -1, as MOTChallenge tracker
    files have it (TrackEval refuses any other class there)."""
    return [_row(frame_number, tid, box, score, None if mot17 or not rest else rest[0])
            for tid, box, score, *rest in tracks]


class PerClassTracks:
    """MOT17-style track outputs: one file per class, each with column 8 = -1. ``open_output(cls)``
    opens the file of a COCO class id (called once per class, on its first row); persons (0) are
    opened at the start, so a run without any person still writes its (empty) file."""

    def __init__(self, open_output):
        self._open, self._files = open_output, {}
        self.for_class(0)

    def for_class(self, cls: int):
        if cls not in self._files:
            self._files[cls] = self._open(int(cls))
        return self._files[cls]

    def write_frame(self, frame_number: int, tracks) -> int:
        """Writes one frame's tracks into their classes' files; the number of rows."""
        by_class: dict = {}
        for t in tracks:
            by_class.setdefault(int(t[3]) if len(t) > 3 else 0, []).append(t)
        for cls, rows in by_class.items():
            self.for_class(cls).write("".join(r + "\n" for r in mot_rows(frame_number, rows, mot17=True)))
        return len(tracks)

    def flush(self):
        for fh in self._files.values():
            fh.flush()


def class_file(path: str, cls: int) -> str:
    """The MOT17-style file of COCO class ``cls`` for the output ``path``: ``path`` itself for persons,
    ``STEM_<class name>SUFFIX`` beside it for the others (``tracks.txt`` -> ``tracks_car.txt``)."""
    import os

    from svc.analytics.detectors.coco import COCO_NAMES

    if cls == 0 or path == "-":
        return path
    stem, suffix = os.path.splitext(path)
    return f"{stem}_{COCO_NAMES[cls].replace(' ', '_')}{suffix}"


def det_rows(frame_number: int, dets) -> list[str]:
    """Rows with id -1 for a :class:`~svc.analytics.detectors.Detections` of one frame."""
    return [_row(frame_number, -1, b, s, c) for b, s, c in zip(dets.boxes, dets.scores, dets.classes)]


def parse_mot(text: str, source: str = "MOT text") -> np.ndarray:
    """(N, 10) float64 array of MOT rows. Fields are separated by commas and/or whitespace; blank
    lines and ``#`` comments are skipped; rows of 6..10 fields get conf 1 and -1 for the missing
    trailing columns. A malformed line raises ``ValueError`` naming ``source`` and the line."""
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = [f for f in re.split(r"[,\s]+", line) if f]
        try:
            if not 6 <= len(fields) <= MOT_COLUMNS:
                raise ValueError(f"expected 6..{MOT_COLUMNS} fields, got {len(fields)}")
            vals = [float(f) for f in fields]
        except ValueError as e:
            raise ValueError(f"{source}, line {n}: malformed MOT row {line!r}: {e}") from None
        rows.append(vals + _DEFAULTS[len(vals):])
    return np.asarray(rows, np.float64).reshape(-1, MOT_COLUMNS)


def read_mot(path) -> np.ndarray:
    """:func:`parse_mot` of a file."""
    with open(path, encoding="utf-8") as fh:
        return parse_mot(fh.read(), str(path))
