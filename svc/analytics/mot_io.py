"""MOTChallenge text rows: ``frame,id,x,y,w,h,conf,-1,-1,-1`` (frames from 1, boxes in pixels)."""
from __future__ import annotations

import numpy as np


def _row(frame_number: int, track_id: int, box, conf: float) -> str:
    x, y, w, h = (float(v) for v in box)
    return f"{int(frame_number)},{int(track_id)},{x:.2f},{y:.2f},{w:.2f},{h:.2f},{float(conf):.3f},-1,-1,-1"


def mot_rows(frame_number: int, tracks) -> list[str]:
    """Rows (no newline) for ``[(track_id, box_xywh, score, class_id), ...]`` of one frame."""
    return [_row(frame_number, tid, box, score) for tid, box, score, *_ in tracks]


def det_rows(frame_number: int, dets) -> list[str]:
    """Rows with id -1 for a :class:`~svc.analytics.detectors.Detections` of one frame."""
    return [_row(frame_number, -1, b, s) for b, s in zip(dets.boxes, dets.scores)]


def parse_mot(text: str) -> np.ndarray:
    """(N, 10) float64 array of MOT rows; shorter rows (e.g. 9-column ground truth) are padded with -1.

    Blank lines and lines starting with ``#`` are skipped; commas or whitespace separate fields.
    """
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.replace(",", " ").split()
        if not 6 <= len(fields) <= 10:
            raise ValueError(f"MOT line {n}: expected 6..10 fields, got {len(fields)}: {line!r}")
        vals = [float(f) for f in fields] + [-1.0] * (10 - len(fields))
        rows.append(vals)
    return np.asarray(rows, np.float64).reshape(-1, 10)
