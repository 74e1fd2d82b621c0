"""Context-modelled entropy coding of the block enhancement coder (CompressAI's C++ rANS).

Every symbol is coded with a static probability table chosen by a *context*: an integer both ends
compute before the symbol is decoded (block mode, transform band, decoded position of the last
coefficient, quantised decoder-side cues such as how far the restored base and the motion-compensated
previous frame disagree). The tables are learned offline: counts of each (family, context, value) on
training clips (``svc-train tables``, :mod:`svc.enhancement.train_tables`), stored in ``weights/blockcoder-tables.npz`` and turned
into 16-bit quantised CDFs here. A whole pass of symbols (a frame's modes, its coefficients, ...) is
coded or decoded in one vectorised call.

A *family* is a kind of symbol with ``n_ctx`` contexts over values ``offset .. offset + alphabet - 1``;
values outside that range are coded by the rANS coder's escape (its bypass mode), which only
coefficient levels use.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from svc.entropy import PRECISION, RansReader, encode, escape_bits, quantised_cdf

COEF_K = 16        # coefficient levels -16..16 are modelled, larger ones escape

# name: (contexts, alphabet, offset)
FAMILIES: dict[str, tuple[int, int, int]] = {
    "blk_i": (8, 2, 0),           # intra frame: coded flag of a 16x16 unit | cue
    "blk_p": (10 * 8 * 4, 8, 0),  # inter frame: mode * 2 + coded | previous co-located symbol, cue, base change
    "mvd": (1, 24, 0),            # coded vector refinement (5x5 quarter-pel window minus zero)
    "cbf": (2 * 5 * 8, 2, 0),     # 8x8 transform unit coded | plane, mode, cue
    "last": (2 * 5 * 8, 64, 0),   # scan position of the last non-zero level | plane, mode, cue
    "coef": (2 * 2 * 9 * 2 * 4 * 8, 2 * COEF_K + 1, -COEF_K),  # level | plane, intra, band, is-last, last bucket, cue
}
NAMES = tuple(FAMILIES)
TABLES = Path(__file__).with_name("weights") / "blockcoder-tables.npz"


def _prior(name: str) -> np.ndarray:
    """Untrained probabilities (n_ctx, alphabet + 1): the last column is the escape."""
    n, a, off = FAMILIES[name]
    if name == "coef":
        v = np.arange(a) + off
        p = np.exp(-np.abs(v) / 0.6)[None, :].repeat(n, 0)
    elif name == "last":
        p = np.exp(-np.arange(a) / 6.0)[None, :].repeat(n, 0)
    else:
        p = np.ones((n, a))
    p = np.concatenate([p / p.sum(1, keepdims=True), np.full((n, 1), 1e-4)], 1)
    return p / p.sum(1, keepdims=True)


class EntropyModel:
    """Quantised CDFs of every (family, context) and their bit costs (for the encoder's decisions)."""

    def __init__(self, probs: dict[str, np.ndarray]):
        self.base, self.cdfs, self.lengths, self.offsets = {}, [], [], []
        self.bits = {}
        for name in NAMES:
            n, a, off = FAMILIES[name]
            p = np.asarray(probs[name], np.float64)
            if p.shape != (n, a + 1):
                raise ValueError(f"entropy table {name}: shape {p.shape}, expected {(n, a + 1)}")
            self.base[name] = len(self.cdfs)
            bits = np.empty((n, a + 1))
            for c in range(n):
                cdf = quantised_cdf(p[c])
                self.cdfs.append(cdf)
                self.lengths.append(len(cdf))
                self.offsets.append(off)
                q = np.diff(np.asarray(cdf, np.float64)) / (1 << PRECISION)
                bits[c] = -np.log2(q)
            self.bits[name] = bits

    @classmethod
    def from_counts(cls, counts: dict[str, np.ndarray], strength: float = 8.0) -> "EntropyModel":
        return cls(probs_from_counts(counts, strength))

    @classmethod
    def load(cls, path=TABLES, pool: str | None = None) -> "EntropyModel":
        """Tables from ``path`` (flat priors if it does not exist). ``pool`` (ablation): "cues" merges
        the decoder-side cue contexts, "all" every context (one table per family)."""
        path = Path(path)
        if not path.exists():
            return cls({n: _prior(n) for n in NAMES})
        with np.load(path) as z:
            counts = {}
            for n in NAMES:
                c = z[n]
                want = (FAMILIES[n][0], FAMILIES[n][1] + 1)
                if c.shape != want and c.shape[1] == want[1] and want[0] % c.shape[0] == 0:
                    c = np.repeat(c, want[0] // c.shape[0], axis=0)   # tables of a coarser context set
                counts[n] = c
            if pool:
                counts = pool_counts(counts, pool)
            return cls.from_counts(counts, float(z["strength"]) if "strength" in z else 8.0)

    def cost(self, name: str, ctx, values) -> np.ndarray:
        """Bits of coding ``values`` in contexts ``ctx`` (broadcast), escapes included."""
        n, a, off = FAMILIES[name]
        v = np.asarray(values) - off
        inside = (v >= 0) & (v < a)
        b = self.bits[name][ctx, np.where(inside, v, a)]
        if name != "coef":
            return b
        return b + np.where(inside, 0.0, escape_bits(v, a))


# context layouts (outer .. inner), and which axes are decoder-side cues
_LAYOUT = {"blk_i": ((8,), (0,)), "blk_p": ((10, 8, 4), (1, 2)), "mvd": ((1,), ()),
           "cbf": ((10, 8), (1,)), "last": ((10, 8), (1,)), "coef": ((2, 2, 9, 2, 4, 8), (5,))}


def pool_counts(counts: dict, level: str) -> dict:
    """Counts with the cue axes ("cues") or all context axes ("all") summed and spread back, so
    every context of a merged group has the same table (for ablations)."""
    out = {}
    for n in NAMES:
        shape, cue_axes = _LAYOUT[n]
        c = np.asarray(counts[n]).reshape(shape + (-1,))
        axes = tuple(range(len(shape))) if level == "all" else cue_axes
        if axes:
            c = np.broadcast_to(c.sum(axis=axes, keepdims=True), c.shape)
        out[n] = np.ascontiguousarray(c).reshape(counts[n].shape)
    return out


def probs_from_counts(counts: dict[str, np.ndarray], strength: float = 8.0) -> dict[str, np.ndarray]:
    """Per-context probabilities from counts with a two-level back-off: each context is shrunk by
    ``strength`` pseudo-counts toward its group with the decoder-side cues merged, which is shrunk
    toward the family's pooled distribution (rarely seen contexts fall back step by step)."""
    out = {}
    merged = pool_counts(counts, "cues")
    for name in NAMES:
        c = np.asarray(counts[name], np.float64)
        pooled = c.sum(0) + _prior(name)[0] * 4.0
        pooled /= pooled.sum()
        g = np.asarray(merged[name], np.float64)
        parent = g + strength * pooled[None, :]
        parent /= parent.sum(1, keepdims=True)
        p = c + strength * parent
        out[name] = p / p.sum(1, keepdims=True)
    return out


class SymbolWriter:
    """Collects (family, context, value) symbols in decoding order; ``encode`` makes one rANS string.
    ``counts`` (optional dict of arrays) accumulates statistics for training."""

    def __init__(self, model: EntropyModel, counts: dict | None = None):
        self.model = model
        self.values: list[np.ndarray] = []
        self.indexes: list[np.ndarray] = []
        self.counts = counts
        self.bits = {n: 0.0 for n in NAMES}     # estimated bits per family (model costs)

    def put(self, name: str, ctx, values):
        values = np.asarray(values, np.int32).ravel()
        ctx = np.asarray(ctx, np.int32).ravel() if np.ndim(ctx) else np.full(values.shape, int(ctx), np.int32)
        if ctx.shape != values.shape:
            raise ValueError(f"{name}: {ctx.size} contexts for {values.size} values")
        if values.size == 0:
            return
        self.values.append(values)
        self.indexes.append(ctx + self.model.base[name])
        self.bits[name] += float(self.model.cost(name, ctx, values).sum())
        if self.counts is not None:
            n, a, off = FAMILIES[name]
            v = values - off
            v = np.where((v >= 0) & (v < a), v, a)
            np.add.at(self.counts[name], (ctx, v), 1)

    def encode(self) -> bytes:
        if not self.values:
            return b""
        return encode(np.concatenate(self.values), np.concatenate(self.indexes), self.model)


class SymbolReader:
    """Decodes passes of symbols from one rANS string, in the order they were put (a
    :class:`svc.entropy.RansReader` over the model's tables, addressed by family and context)."""

    def __init__(self, model: EntropyModel, data: bytes, max_symbols: int):
        self.model = model
        self._rans = RansReader(data, model, max_symbols, "enhancement payload")

    def get(self, name: str, ctx, count: int | None = None) -> np.ndarray:
        ctx = np.asarray(ctx, np.int32).ravel() if count is None else np.full(count, int(ctx), np.int32)
        return self._rans.get(ctx + self.model.base[name])


def empty_counts() -> dict[str, np.ndarray]:
    return {n: np.zeros((FAMILIES[n][0], FAMILIES[n][1] + 1), np.int64) for n in NAMES}

