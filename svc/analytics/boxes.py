"""Box geometry shared by the tracker and the metrics (the detectors use ``torchvision.ops``)."""
from __future__ import annotations

import numpy as np


def iou_matrix(a, b) -> np.ndarray:
    """(N, M) IoU of boxes ``a`` (N, 4) and ``b`` (M, 4) given as x, y, w, h rows in pixels (x, y the
    top-left corner); 0 where a union is empty, negative sizes count as 0."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    aw, ah = np.clip(a[:, 2], 0, None), np.clip(a[:, 3], 0, None)
    bw, bh = np.clip(b[:, 2], 0, None), np.clip(b[:, 3], 0, None)
    iw = np.clip(np.minimum(a[:, None, 0] + aw[:, None], b[None, :, 0] + bw[None])
                 - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, None, 1] + ah[:, None], b[None, :, 1] + bh[None])
                 - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = iw * ih
    union = (aw * ah)[:, None] + (bw * bh)[None] - inter
    out = np.zeros_like(inter)
    np.divide(inter, union, out=out, where=union > 0)
    return out
