"""Entropy-constrained scalar quantiser (ECSQ) for clipped activations.

The design is the Chou-Lookabaugh-Gray iteration on training samples, minimising the Lagrangian
``J = D + lam * R`` (D: mean squared error, R: mean ideal code length ``-log2 p`` in bits):

1. encoder: each sample takes the index ``i`` minimising ``(x - y_i)^2 + lam * l_i``;
2. decoder: each level moves to the mean of its samples;
3. code: ``l_i = -log2 p_i`` from the index frequencies; unused levels are dropped.

Each step lowers J given the others, so J never rises. The modification for clipped activations:
samples are clipped to the analytic range ``[lo, hi]`` (:mod:`svc.features.clipping`) first, which puts
a point mass on both ends, and the two end levels stay *on* ``lo`` and ``hi`` (only interior levels
move), so the clipped mass is reconstructed exactly where it sits. Quantisers are designed on values
normalised to ``u = (x - lo) / (hi - lo)`` in [0, 1], so one design serves every tensor, each with its
own range as side information.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Ecsq:
    """A designed quantiser on [0, 1]: reconstruction ``levels`` (ascending, first 0, last 1), their
    probabilities ``probs`` on the training data and the Lagrangian ``lam`` it was designed for.
    ``history``: J after each design iteration."""

    levels: np.ndarray
    probs: np.ndarray
    lam: float
    history: tuple = field(default=(), compare=False)

    @property
    def lengths(self) -> np.ndarray:
        """Ideal code lengths in bits."""
        return -np.log2(self.probs)

    def quantise(self, u: np.ndarray) -> np.ndarray:
        """Indices (int32) of normalised values ``u`` (clipped to [0, 1]) by the entropy-constrained rule
        (a threshold search when the cells are intervals, which they are for every designed quantiser;
        ties go to the lower index either way)."""
        u = np.clip(np.asarray(u, np.float64), 0.0, 1.0)
        t = self.thresholds()
        if np.all(np.diff(t) > 0):
            return np.searchsorted(t, u.ravel()).astype(np.int32).reshape(u.shape)
        cost = (u.reshape(-1, 1) - self.levels[None]) ** 2 + self.lam * self.lengths[None]
        return np.argmin(cost, 1).astype(np.int32).reshape(u.shape)

    def dequantise(self, idx: np.ndarray) -> np.ndarray:
        return self.levels[np.asarray(idx)]

    def thresholds(self) -> np.ndarray:
        """Decision thresholds between neighbouring levels (the rule is interval-wise for sorted levels)."""
        y, l = self.levels, self.lengths
        return (y[:-1] + y[1:]) / 2 + self.lam * (l[1:] - l[:-1]) / (2 * (y[1:] - y[:-1]))


def uniform(step: float, lo: float, hi: float) -> tuple[Ecsq, tuple[float, float]]:
    """The uniform quantiser of ``step`` whose grid holds 0 (``k * step`` for every integer ``k`` with
    ``lo <= k * step <= hi``, reached by ``lo``/``hi`` rounded outward), as an :class:`Ecsq` with
    ``lam`` = 0 on the range it spans, and that range (float32 values). Probabilities: uniform until
    :func:`svc.training.features.design_model` counts them."""
    kmin, kmax = int(np.floor(lo / step)), int(np.ceil(hi / step))
    n = kmax - kmin + 1
    return Ecsq(np.linspace(0.0, 1.0, n), np.full(n, 1.0 / n), 0.0), \
        (float(np.float32(kmin * step)), float(np.float32(kmax * step)))


def lagrangian(u: np.ndarray, levels: np.ndarray, lengths: np.ndarray, lam: float, idx: np.ndarray) -> float:
    """J = mean squared error + lam * mean code length of ``u`` quantised to ``idx``."""
    return float(np.mean((u - levels[idx]) ** 2) + lam * np.mean(lengths[idx]))


def design(u: np.ndarray, n_levels: int, lam: float, iterations: int = 60, tol: float = 1e-9) -> Ecsq:
    """ECSQ of at most ``n_levels`` levels for normalised samples ``u`` (clipped to [0, 1]) at
    Lagrangian ``lam`` (squared error per bit, in normalised units). Starts from the uniform quantiser
    with equal code lengths; stops when J improves by less than ``tol`` or after ``iterations``."""
    u = np.clip(np.asarray(u, np.float64).ravel(), 0.0, 1.0)
    levels = np.linspace(0.0, 1.0, n_levels)
    lengths = np.full(n_levels, np.log2(n_levels))
    history = []
    for _ in range(iterations):
        idx = np.argmin((u[:, None] - levels[None]) ** 2 + lam * lengths[None], 1)       # 1. encoder
        counts = np.bincount(idx, minlength=len(levels))
        keep = counts > 0
        if not keep[0] or not keep[-1]:  # the end levels carry the clipped mass: keep them reachable
            keep[0] = keep[-1] = True
            counts = np.maximum(counts, 1)
        sums = np.bincount(idx, weights=u, minlength=len(levels))
        new = np.where(counts > 0, sums / np.maximum(counts, 1), levels)                  # 2. centroids
        new[0], new[-1] = 0.0, 1.0                                                        # ends fixed
        remap = np.cumsum(keep) - 1
        levels, counts, idx = new[keep], counts[keep], remap[idx]
        probs = counts / counts.sum()
        lengths = -np.log2(probs)                                                         # 3. code
        history.append(lagrangian(u, levels, lengths, lam, idx))
        if len(history) > 1 and history[-2] - history[-1] < tol:
            break
    return Ecsq(levels, probs, lam, tuple(history))
