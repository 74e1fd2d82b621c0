"""The predictions both ends of the block enhancement coder build, from what the decoder has.

Per 16x16 unit (``By`` x ``Bx`` units; planes padded to whole units, int32):

* R: the restored base frame (an input);
* F: the previous full frame moved by decoder-side motion estimated on the base frames
  (:func:`motion`, :func:`mc`; no bits);
* B: :func:`blend` of R and F;
* D: F at a coded quarter-pel refinement of the decoder-side vector (:func:`mc` at ``mv + offset``).

Everything here is integer arithmetic, so the encoder's predictions equal the decoder's.
"""
from __future__ import annotations

import numpy as np

from svc.enhancement import contexts as cx
from svc.enhancement import dmotion

PU = dmotion.PU
DELTAS = np.array([(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if (dy, dx) != (0, 0)], np.int32)
"""the coded quarter-pel refinements of mode D (5x5 window without the centre), by index"""
MOTION_MARGIN = 48                       # luma samples beyond its block that dmotion.estimate reads (<= 34)


def motion(base_y, prev_base_y, by: int, bx: int, rect=None):
    """Decoder-side vectors (By, Bx, 2) and the base's change along them, bucketed (a context cue,
    (NB,)). ``rect`` (units y0, y1, x0, x1): only the units inside are needed; the search runs on a
    crop grown by its reach (:data:`MOTION_MARGIN`), which gives them the whole frame's vectors (a
    block's search reads no farther); the other units get zeros."""
    if rect is None:
        mv, sad = dmotion.estimate(base_y, prev_base_y)
        return mv, cx.sad_bucket(sad.ravel())
    m = MOTION_MARGIN // PU
    y0, y1, x0, x1 = max(0, rect[0] - m), min(by, rect[1] + m), max(0, rect[2] - m), min(bx, rect[3] + m)
    crop = np.s_[y0 * PU:y1 * PU, x0 * PU:x1 * PU]
    mv_c, sad_c = dmotion.estimate(base_y[crop], prev_base_y[crop])
    mv = np.zeros((by, bx, 2), np.int32)
    sadb = np.zeros((by, bx), np.int32)
    mv[y0:y1, x0:x1] = mv_c
    sadb[y0:y1, x0:x1] = cx.sad_bucket(sad_c)
    return mv, sadb.ravel()

def unit_rect(units, by: int, bx: int) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1): the bounding rectangle, in units, of the (NB,) bool ``units``."""
    ys, xs = np.nonzero(units.reshape(by, bx))
    return int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1

def mc(full, mv, maxv: int, bounds=None, rect=None):
    """Motion-compensated planes (padded size); ``rect`` (units y0, y1, x0, x1): only those units
    are predicted (the others are zero)."""
    if rect is None:
        return (dmotion.luma_mc(full[0], mv, maxv, bounds), dmotion.chroma_mc(full[1], mv, bounds),
                dmotion.chroma_mc(full[2], mv, bounds))
    y0, y1, x0, x1 = rect
    sub = np.s_[y0:y1, x0:x1]
    b = None if bounds is None else bounds[sub]
    out = []
    for k, plane in enumerate(full):
        s = PU if k == 0 else PU // 2
        o = np.zeros(plane.shape, np.int32)
        o[y0 * s:y1 * s, x0 * s:x1 * s] = (dmotion.luma_mc(plane, mv[sub], maxv, b, (y0, x0)) if k == 0
                                           else dmotion.chroma_mc(plane, mv[sub], b, (y0, x0)))
        out.append(o)
    return tuple(out)

def blend(r, f):
    """The blend prediction B = (R + F + 1) >> 1 of each plane."""
    return tuple((a + b + 1) >> 1 for a, b in zip(r, f))
