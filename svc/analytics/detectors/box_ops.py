"""Box helpers shared by the backends: format conversion, clipping, NMS (on ``torchvision.ops``).

Boxes are float arrays of shape (N, 4) in pixels: ``xywh`` = left, top, width, height (the
:class:`~svc.analytics.detectors.core.Detections` layout), ``xyxy`` = left, top, right, bottom.
"""
from __future__ import annotations

import numpy as np


def xywh_to_xyxy(boxes) -> np.ndarray:
    """(N, 4) x, y, w, h -> (N, 4) x0, y0, x1, y1 (float64)."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    return np.c_[b[:, :2], b[:, :2] + b[:, 2:]]


def xyxy_to_xywh(boxes) -> np.ndarray:
    """(N, 4) x0, y0, x1, y1 -> (N, 4) x, y, w, h (float64)."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    return np.c_[b[:, :2], b[:, 2:] - b[:, :2]]


def clip_boxes(boxes, width: int, height: int) -> np.ndarray:
    """(N, 4) x, y, w, h boxes cut to the ``width`` x ``height`` frame (float64; w, h >= 0)."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    x0, y0 = np.clip(b[:, 0], 0, width), np.clip(b[:, 1], 0, height)
    x1, y1 = np.clip(b[:, 0] + b[:, 2], 0, width), np.clip(b[:, 1] + b[:, 3], 0, height)
    return np.stack([x0, y0, x1 - x0, y1 - y0], 1)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float, contain: float | None = None) -> np.ndarray:
    """Indices (int64, best score first) kept by greedy class-agnostic non-maximum suppression of
    (N, 4) x, y, w, h boxes with scores (N,).

    A box goes when its IoU with a kept box exceeds ``iou`` (``torchvision.ops.nms``) or, with
    ``contain``, also when at least that fraction of its own area lies inside a kept box."""
    import torch
    from torchvision.ops import box_area, box_iou
    from torchvision.ops import nms as tv_nms

    b = torch.from_numpy(xywh_to_xyxy(boxes))
    s = torch.from_numpy(np.asarray(scores, np.float64).reshape(-1))
    if len(s) == 0:
        return np.zeros(0, np.int64)
    if contain is None:
        return tv_nms(b, s, float(iou)).numpy().astype(np.int64)
    overlap = box_iou(b, b).nan_to_num_(0.0)
    area = box_area(b)
    # intersection from IoU: IoU = I / (A + B - I)  <=>  I = IoU (A + B) / (1 + IoU)
    inter = overlap * (area[:, None] + area[None, :]) / (1 + overlap)
    gone = (overlap > iou) | (inter >= contain * area.clamp(min=1e-9)[None, :])  # gone[i, j]: i removes j
    alive = torch.ones(len(s), dtype=torch.bool)
    keep = []
    for i in torch.argsort(s, descending=True, stable=True).tolist():
        if alive[i]:
            keep.append(i)
            alive &= ~gone[i]
    return np.asarray(keep, np.int64)


def batched_nms(boxes_xyxy: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float) -> np.ndarray:
    """Indices (int64, best score first) kept by class-aware NMS (``torchvision.ops.batched_nms``):
    boxes (N, 4) x0, y0, x1, y1 only suppress boxes of their own class (N,)."""
    import torch
    from torchvision.ops import batched_nms as tv_batched_nms

    if len(scores) == 0:
        return np.zeros(0, np.int64)
    keep = tv_batched_nms(torch.as_tensor(np.asarray(boxes_xyxy, np.float32)),
                          torch.as_tensor(np.asarray(scores, np.float32)),
                          torch.as_tensor(np.asarray(classes, np.int64)), float(iou))
    return keep.numpy().astype(np.int64)
