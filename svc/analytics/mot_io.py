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


def mot_rows(frame_number: int, tracks) -> list[str]:
    """Rows (no newline) for the tracks of one frame: :class:`~svc.analytics.tracker.TrackRow` s, or any
    ``(track_id, box, score[, class_id])`` tuples."""
    return [_row(frame_number, tid, box, score, rest[0] if rest else None) for tid, box, score, *rest in tracks]


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
