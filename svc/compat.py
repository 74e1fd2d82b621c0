"""Compatibility shims for third-party libraries (the one place for them).

Checked against the installed sources:

* py-motmetrics 1.4.0 calls ``np.asfarray`` in ``motmetrics.distances.iou_matrix`` (at call
  time, not import time). NumPy 2.0 removed ``np.asfarray``, so under NumPy >= 2 every IoU
  distance computation would raise ``AttributeError``.
* TrackEval 1.0.0 needs nothing: it uses no removed aliases (``np.float``, ``np.int``,
  ``np.bool``, ``np.asfarray``, ...), only ``np.float64``/``np.int64``-style names.

Call :func:`patch_numpy` before importing motmetrics / trackeval (the metric modules do).
"""
from __future__ import annotations

import numpy as np


def _asfarray(a, dtype=np.float64):
    # Same contract as the removed numpy function: an ndarray of a floating dtype.
    if not np.issubdtype(np.dtype(dtype), np.inexact):
        dtype = np.float64
    return np.asarray(a, dtype=dtype)


def patch_numpy() -> list[str]:
    """Install missing NumPy names that pinned third-party libraries still use.

    Idempotent: each call only adds what is missing, never replaces a NumPy original.
    Returns the names added by this call (empty when nothing was needed).
    """
    added = []
    # motmetrics 1.4.0 (distances.iou_matrix) uses np.asfarray, removed in NumPy 2.0.
    if not hasattr(np, "asfarray"):
        np.asfarray = _asfarray
        added.append("asfarray")
    return added
