"""Designing the feature codec's quantisers and tables from training frames (no network retraining).

Frames go through the edge side of the split detector. Two kinds of model:

* ``steps`` given (the shipped kind): uniform quantisers of those steps on companded activations
  (:func:`svc.features.codec.compand`), each a grid through 0 over the fixed range ``bounds``; the
  training indices give each quantiser's probabilities;
* otherwise: every tensor is clipped to its own analytic range and normalised (as the encoder will),
  the pooled values design one ECSQ per Lagrangian (:func:`svc.features.ecsq.design`).

Either way, consecutive frames of each clip give the tables of P(index | previous frame's index) per
quantiser (counts with a pseudo-count prior toward the marginal).
"""
from __future__ import annotations

import numpy as np

from svc.features.clipping import fit_model, optimal_range
from svc.features.codec import ALPHA, FeatureCodec, FeatureModel, compand
from svc.features.ecsq import Ecsq, design, uniform

LAMBDAS = (0.00005, 0.0002, 0.0006, 0.0015, 0.004, 0.01, 0.025)
STEPS = (0.06, 0.08, 0.10, 0.12, 0.15, 0.19, 0.24)  # companded units
BOUNDS = (-1.2, 4.0)  # companded range of the uniform quantisers (activations span about -0.28 .. 2.8)


def normalised(x: np.ndarray, n_levels: int, r: float = 1.0) -> np.ndarray:
    """``x`` companded by ``r``, clipped to its analytic range and mapped to [0, 1] (float32)."""
    v = compand(x, r)
    lo, hi = optimal_range(fit_model(v, ALPHA * r), n_levels)
    lo, hi = np.float32(lo), np.float32(max(hi, lo + 1e-6))
    return ((np.clip(v, lo, hi) - lo) / (hi - lo)).astype(np.float32)


def _counted(levels: np.ndarray, idx, lam: float) -> tuple[Ecsq, np.ndarray]:
    """(the quantiser of ``levels`` and Lagrangian ``lam`` with the probabilities of the indices ``idx``
    (per clip, per frame, per tensor), its conditional tables)."""
    counts = sum(np.bincount(i.ravel(), minlength=len(levels)) for c in idx for f in c for i in f)
    q = Ecsq(levels, (counts + 0.5) / (counts.sum() + 0.5 * len(counts)), lam)
    return q, _conditional(q, idx)


def _conditional(q: Ecsq, per_clip_idx) -> np.ndarray:
    n = len(q.levels)
    counts = np.zeros((n, n))
    for idx in per_clip_idx:
        for prev, cur in zip(idx, idx[1:]):
            for a, b in zip(prev, cur):
                np.add.at(counts, (a.ravel(), b.ravel()), 1)
    return (counts + 4.0 * q.probs[None, :]) / (counts.sum(1, keepdims=True) + 4.0)


def design_model(clips, split: str = "stage2", n_levels: int = 32, lambdas=LAMBDAS, samples: int = 400_000,
                 seed: int = 0, threads: int | None = None, source: str = "", log=print, steps=None,
                 compand_slope: float = 1.0, bounds=BOUNDS, rdo: float = 0.0) -> FeatureModel:
    """A :class:`FeatureModel` from ``clips`` (lists of YuvFrame, consecutive frames of one scene each).
    ``rdo``: the uniform quantisers' Lagrangian in units of their squared step (0: nearest level)."""
    from svc.features.split import SplitDetector

    sd = SplitDetector(split, threads=threads)
    feats = []
    for frames in clips:
        f_clip = []
        for i in range(0, len(frames), 4):
            f_clip += sd.edge(frames[i:i + 4])[0]
        feats.append(f_clip)
        log(f"  clip of {len(frames)} frames: {sum(t.size for t in f_clip[0])} elements per frame")
    return design_from_features(feats, split, n_levels, lambdas, samples, seed, source, log, steps,
                                compand_slope, bounds, rdo)


def design_from_features(feats, split: str = "stage2", n_levels: int = 32, lambdas=LAMBDAS, samples: int = 400_000,
                         seed: int = 0, source: str = "", log=print, steps=None, compand_slope: float = 1.0,
                         bounds=BOUNDS, rdo: float = 0.0) -> FeatureModel:
    """:func:`design_model` from the split tensors of each training clip (per clip, per frame, its tensors)."""
    quantisers, conditional, ranges = [], [], []
    if steps is not None:
        for s in steps:
            q, rng = uniform(s, *bounds)
            n = len(q.levels)
            nearest = FeatureCodec(FeatureModel(split, n_levels, [q], [np.full((n, n), 1.0 / n)], compand=compand_slope,
                                                ranges=[rng]), 0, True, rdo=False)
            q, cond = _counted(q.levels, [[[nearest.quantise(t)[0] for t in f] for f in clip] for clip in feats], 0.0)
            if rdo > 0:  # tables of the rate-distortion choice of the indices (one more round, as the ECSQ design)
                lam = rdo / (n - 1) ** 2
                rd = FeatureCodec(FeatureModel(split, n_levels, [Ecsq(q.levels, q.probs, lam)], [cond],
                                               compand=compand_slope, ranges=[rng]), 0, True)
                q, cond = _counted(q.levels, [[[i for i, _, _ in f] for f in rd.indices(clip)] for clip in feats], lam)
            quantisers.append(q)
            conditional.append(cond)
            ranges.append(rng)
            log(f"  step {s:g}: {n} levels on [{rng[0]:.3f}, {rng[1]:.3f}], "
                f"{np.sum(-q.probs * np.log2(q.probs)):.3f} bits/element intra")
        return FeatureModel(split, n_levels, quantisers, conditional, source, compand_slope, ranges)
    rng = np.random.default_rng(seed)
    per_clip = [[[normalised(t, n_levels, compand_slope) for t in f] for f in clip] for clip in feats]
    pool = np.concatenate([t.ravel() for us in per_clip for f in us for t in f])
    sample = rng.choice(pool, min(samples, pool.size), replace=False)
    for lam in lambdas:
        q = design(sample, n_levels, lam)
        quantisers.append(q)
        conditional.append(_conditional(q, [[[q.quantise(t) for t in f] for f in us] for us in per_clip]))
        log(f"  lambda {lam:g}: {len(q.levels)} levels, {np.sum(-q.probs * np.log2(q.probs)):.3f} bits/element intra")
    return FeatureModel(split, n_levels, quantisers, conditional, source, compand_slope)
