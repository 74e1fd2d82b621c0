"""Inter-layer prediction of the feature layer from the HEVC base layer (scalable coding for machines).

Where a stream carries the base layer, the cloud can decode it and run the detector's front on the
decoded base frames: those tensors are a prediction of the edge's (the same network on a coarser
picture). Each index's coding context then adds the *predicted index* ``pred``, the index the same
quantiser gives the base frame's tensor (nearest level):

* intra: the context is ``pred`` (one row per level);
* inter (the previous frame's indices ``prev`` known): ``prev`` times ``clip(pred - prev, -D, D)``,
  the direction and size of the change that the base layer sees (:data:`D` = 3).

Measured on bikes (64 frames, quantiser 1, empirical entropies against the previous-frame context):
intra 2.86 -> 1.28 bits per element with a QP32 base, inter 0.97 -> 0.72; with a QP27 base 1.02 / 0.63,
with QP37 1.57 / 0.80. Coded (tables from the training clips), bikes at quantiser 1 costs 0.75 bits per
element against a QP32 base where the neighbours' contexts of :mod:`svc.features.context` need 1.02.
Predicting the *value* instead (coding ``index - pred`` with exact contexts) gains little in inter
frames (0.93), because the gain is in the spread that ``pred - prev`` announces. Adding the neighbours'
motion share to these contexts measured at most 10% of the inter bits more (not built: the tables
would grow 5x).

Exactness: a context that differed between encoder and decoder would desynchronise the entropy decoder,
so the prediction is computed in float64 (:class:`BasePredictor`): its differences between machines,
thread counts or batchings are ~1e-15 of a value (measured: none between 1 and 2 threads, batch 1 and 4),
so an index sits that close to a cell boundary about once in 10^13 elements. Each payload also carries
a CRC of its indices, so a disagreement is reported as damage, never decoded silently. The price is
speed: float64 runs the front about 8x slower than float32 (73 ms a 416x192 frame on 2 cores).
"""
from __future__ import annotations

import copy

import numpy as np

D = 3  # inter: pred - prev clipped to -D .. D
KINDS = ("base_intra", "base_inter")


def table_rows(n_levels: int) -> dict:
    """Rows (contexts) of each kind's table for a quantiser of ``n_levels`` levels."""
    return {"base_intra": n_levels, "base_inter": (2 * D + 1) * n_levels}


def contexts(pred: np.ndarray, prev: np.ndarray | None) -> tuple[str, np.ndarray]:
    """(kind, context id of every cell, int32 like ``pred``) from the predicted indices ``pred`` and
    the previous frame's decoded indices ``prev`` (None: intra)."""
    pred = np.asarray(pred, np.int32)
    if prev is None:
        return "base_intra", pred
    prev = np.asarray(prev, np.int32)
    return "base_inter", (prev * (2 * D + 1) + np.clip(pred - prev, -D, D) + D).astype(np.int32)


class BasePredictor:
    """The split tensors of decoded base-layer frames, in float64 (see the module docstring).
    ``split_detector``: the :class:`svc.features.split.SplitDetector` whose front it copies."""

    BATCH = 4

    def __init__(self, split_detector):
        self.sd = split_detector
        self.net = copy.deepcopy(split_detector.net).double().eval()

    def features(self, frames) -> list[list[np.ndarray]]:
        """Per frame, its tensors as float64 (C, H, W) arrays."""
        import torch

        from svc.features.split import run_edge

        out = []
        for i in range(0, len(frames), self.BATCH):
            prepared = [self.sd.detector.prepare(f)[0] for f in frames[i:i + self.BATCH]]
            with torch.inference_mode():
                outs = run_edge(self.net, self.sd.split, torch.from_numpy(np.concatenate(prepared)).double())
            out += [[o[j].numpy() for o in outs] for j in range(len(prepared))]
        return out
