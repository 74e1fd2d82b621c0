"""Designing the feature codec's quantisers and tables from training frames (no network retraining).

Frames go through the edge side of the split detector; every tensor is clipped to its own analytic
range and normalised (as the encoder will), the pooled values design one ECSQ per Lagrangian
(:func:`svc.features.ecsq.design`), and consecutive frames of each clip give the tables of
P(index | previous frame's index) per quantiser (counts with a pseudo-count prior toward the marginal).
"""
from __future__ import annotations

import numpy as np

from svc.features.clipping import fit_model, optimal_range
from svc.features.codec import ALPHA, FeatureModel
from svc.features.ecsq import design

LAMBDAS = (0.00005, 0.0002, 0.0006, 0.0015, 0.004, 0.01, 0.025)


def normalised(x: np.ndarray, n_levels: int) -> np.ndarray:
    """``x`` clipped to its analytic range and mapped to [0, 1] (float32)."""
    lo, hi = optimal_range(fit_model(x, ALPHA), n_levels)
    lo, hi = np.float32(lo), np.float32(max(hi, lo + 1e-6))
    return ((np.clip(x, lo, hi) - lo) / (hi - lo)).astype(np.float32)


def design_model(clips, split: str = "stage2", n_levels: int = 32, lambdas=LAMBDAS, samples: int = 400_000,
                 seed: int = 0, threads: int | None = None, source: str = "", log=print) -> FeatureModel:
    """A :class:`FeatureModel` from ``clips`` (lists of YuvFrame, consecutive frames of one scene each)."""
    from svc.features.split import SplitDetector

    sd = SplitDetector(split, threads=threads)
    rng = np.random.default_rng(seed)
    per_clip = []
    for frames in clips:
        us = []
        for i in range(0, len(frames), 4):
            feats, _ = sd.edge(frames[i:i + 4])
            us.extend([normalised(t, n_levels) for t in f] for f in feats)
        per_clip.append(us)
        log(f"  clip of {len(frames)} frames: {sum(t.size for t in us[0])} elements per frame")
    pool = np.concatenate([t.ravel() for us in per_clip for f in us for t in f])
    sample = rng.choice(pool, min(samples, pool.size), replace=False)
    quantisers, conditional = [], []
    for lam in lambdas:
        q = design(sample, n_levels, lam)
        n = len(q.levels)
        counts = np.zeros((n, n))
        for us in per_clip:
            for prev, cur in zip(us, us[1:]):
                for a, b in zip(prev, cur):
                    np.add.at(counts, (q.quantise(a).ravel(), q.quantise(b).ravel()), 1)
        cond = (counts + 4.0 * q.probs[None, :]) / (counts.sum(1, keepdims=True) + 4.0)
        quantisers.append(q)
        conditional.append(cond)
        log(f"  lambda {lam:g}: {n} levels, {np.sum(-q.probs * np.log2(q.probs)):.3f} bits/element intra")
    return FeatureModel(split, n_levels, quantisers, conditional, source)
