"""Context-modelled entropy coding of the block enhancement coder (CompressAI's C++ rANS).

Every symbol is coded with a static probability table chosen by a *context*: an integer both ends
compute before the symbol is decoded (block mode, transform band, decoded position of the last
coefficient, quantised decoder-side cues such as how far the restored base and the motion-compensated
previous frame disagree). The tables are learned offline: counts of each (family, context, value) on
training clips (``svc-train tables``, :mod:`svc.training.tables`), stored in ``weights/blockcoder-tables.npz`` and turned
into 16-bit quantised CDFs here. A whole pass of symbols (a frame's modes, its coefficients, ...) is
coded or decoded in one vectorised call.

*Adaptation* (GOP payload flag, :data:`svc.enhancement.syntax.FLAG_ADAPT`): within a GOP, each frame's
tables are the static ones updated by the counts of the symbols of the earlier frames of the GOP (of
the same rANS string, so tiles stay independent), in exact integer arithmetic
(:meth:`EntropyModel.adapted`): a static table weighs as :data:`ADAPT_STRENGTH` symbols. Content far
from the training clips (sensor noise coded in the full layer of a denoised stream) then costs what
its own statistics say, not what the static tables assumed.

A *family* is a kind of symbol with ``n_ctx`` contexts over values ``offset .. offset + alphabet - 1``;
values outside that range are coded by the rANS coder's escape (its bypass mode), which only
coefficient levels use.
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from svc.rans import PRECISION, RansReader, encode, escape_bits, localised, quantised_cdf

COEF_K = 16        # coefficient levels -16..16 are modelled, larger ones escape
ADAPT_STRENGTH = 64   # symbols a static table weighs against a GOP's own counts (syntax: fixed)

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


_BASE = dict(zip(NAMES, np.cumsum([0] + [FAMILIES[n][0] for n in NAMES])[:-1].tolist()))
_LENGTHS = [FAMILIES[n][1] + 2 for n in NAMES for _ in range(FAMILIES[n][0])]
_OFFSETS = [FAMILIES[n][2] for n in NAMES for _ in range(FAMILIES[n][0])]
_FAMILY_OF = [n for n in NAMES for _ in range(FAMILIES[n][0])]


class EntropyModel:
    """Quantised CDFs of every (family, context) and their bit costs (for the encoder's decisions)."""

    base, lengths, offsets = _BASE, _LENGTHS, _OFFSETS     # table index of a family's context 0, ...

    def __init__(self, probs: dict[str, np.ndarray] | None = None, freqs: dict[str, np.ndarray] | None = None):
        """From probabilities ``probs`` (per family (n_ctx, alphabet + 1), escape last), or from exact
        integer frequencies ``freqs`` (same shapes, each row summing to 2**PRECISION, every entry >= 1)."""
        self.freqs = {}
        for name in NAMES:
            n, a, off = FAMILIES[name]
            if freqs is None:
                p = np.asarray(probs[name], np.float64)
                if p.shape != (n, a + 1):
                    raise ValueError(f"entropy table {name}: shape {p.shape}, expected {(n, a + 1)}")
                f = np.diff(np.array([quantised_cdf(p[c]) for c in range(n)], np.int64), axis=1)
            else:
                f = np.asarray(freqs[name], np.int64)
            self.freqs[name] = f
        self.bits = _Bits(self.freqs)
        self.cdfs = _CdfRows(self.freqs)
        self.derived: dict = {}    # users' caches of values derived from the tables; emptied when they change

    def adapted(self, counts: dict[str, np.ndarray], strength: int = ADAPT_STRENGTH) -> "EntropyModel":
        """This (static) model updated by ``counts`` (per family (n_ctx, alphabet + 1) int: symbols seen,
        escape last): a new model; every context with counts is adapted (:meth:`adapt_rows`)."""
        model = self.copy()
        model.adapt_rows(self, counts, {n: np.flatnonzero(np.asarray(counts[n]).sum(1)) for n in NAMES}, strength)
        return model

    def copy(self) -> "EntropyModel":
        """An independent model with the same tables (its CDF lists shared until rows change)."""
        model = EntropyModel(freqs={n: f.copy() for n, f in self.freqs.items()})
        model.cdfs = self.cdfs.copy(model.freqs)
        return model

    def adapt_rows(self, static: "EntropyModel", counts: dict[str, np.ndarray], rows: dict[str, np.ndarray],
                   strength: int = ADAPT_STRENGTH):
        """In place: contexts ``rows[name]`` of each family become the ``static`` tables updated by
        ``counts``: frequencies ``1 + floor(w * (2**16 - k) / sum(w))`` of the weights ``w = strength *
        static + 2**16 * counts`` (k symbols; the remainder goes to the first largest weight). Integers
        only, so encoder and decoder agree on every machine; the other contexts are left as they are."""
        one = 1 << PRECISION
        for name, r in rows.items():
            if not len(r):
                continue
            w = static.freqs[name][r] * int(strength) + (np.asarray(counts[name], np.int64)[r] << PRECISION)
            k = w.shape[1]
            q = 1 + (w * (one - k)) // w.sum(1, keepdims=True)
            q[np.arange(len(q)), np.argmax(w, 1)] += one - q.sum(1)
            self.freqs[name][r] = q
            self.bits.update_rows(name, r)
            self.cdfs.update_rows(name, r)
        self.derived.clear()

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
        with np.load(path, allow_pickle=False) as z:
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

    def cdf_array(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every table as :func:`svc.rans.cdf_array` gives it (cdfs (T, L), lengths, offsets), from the
        frequencies; kept in :attr:`derived` until the tables change."""
        got = self.derived.get("cdf_array")
        if got is None:
            lengths = np.asarray(_LENGTHS, np.int32)
            cdfs = np.zeros((len(lengths), int(lengths.max())), np.int32)
            for name in NAMES:
                f = self.freqs[name]
                np.cumsum(f, axis=1, out=cdfs[_BASE[name]:_BASE[name] + f.shape[0], 1:f.shape[1] + 1])
            got = self.derived["cdf_array"] = (cdfs, lengths, np.asarray(_OFFSETS, np.int32))
        return got

    def cost(self, name: str, ctx, values) -> np.ndarray:
        """Bits of coding ``values`` in contexts ``ctx`` (broadcast), escapes included."""
        n, a, off = FAMILIES[name]
        v = np.asarray(values) - off
        inside = (v >= 0) & (v < a)
        b = self.bits[name][ctx, np.where(inside, v, a)]
        if name != "coef":
            return b
        return b + np.where(inside, 0.0, escape_bits(v, a))


class _Bits(dict):
    """Code lengths (bits) of every family's tables, (n_ctx, alphabet + 1), computed when first asked
    for (a decoder never asks)."""

    def __init__(self, freqs: dict[str, np.ndarray]):
        super().__init__()
        self._freqs = freqs

    def __missing__(self, name: str) -> np.ndarray:
        b = self[name] = -np.log2(self._freqs[name] / float(1 << PRECISION))
        return b

    def update_rows(self, name: str, rows):
        if name in self:
            self[name][rows] = -np.log2(self._freqs[name][rows] / float(1 << PRECISION))


class _CdfRows:
    """The CDF of every table (global table index) as the lists CompressAI's coder takes, built per
    family when first asked for; copies share the lists until their rows change."""

    def __init__(self, freqs: dict[str, np.ndarray], lists: dict[str, list] | None = None):
        self._freqs, self._lists = freqs, dict(lists or {})

    def family(self, name: str) -> list:
        rows = self._lists.get(name)
        if rows is None:
            rows = self._lists[name] = _cdf_lists(self._freqs[name])
        return rows

    def copy(self, freqs: dict[str, np.ndarray]) -> "_CdfRows":
        return _CdfRows(freqs, {n: list(self.family(n)) for n in NAMES})

    def update_rows(self, name: str, rows):
        lists = self._lists.get(name)
        if lists is not None:
            for i, r in zip(np.asarray(rows).tolist(), _cdf_lists(self._freqs[name][rows])):
                lists[i] = r

    def __getitem__(self, i: int) -> list[int]:
        name = _FAMILY_OF[i]
        return self.family(name)[i - _BASE[name]]


def _cdf_lists(freqs: np.ndarray) -> list:
    """Rows of frequencies (n, k) -> n CDF lists [0, f0, f0 + f1, ..., 2**16]."""
    c = np.zeros((freqs.shape[0], freqs.shape[1] + 1), np.int64)
    np.cumsum(freqs, axis=1, out=c[:, 1:])
    return c.tolist()


def _count_into(counts: np.ndarray, name: str, ctx, values):
    """Adds to ``counts`` ((n_ctx, alphabet + 1) of family ``name``, escapes last) the ``values`` seen
    in contexts ``ctx``."""
    n, a, off = FAMILIES[name]
    v = np.asarray(values, np.int64) - off
    v = np.where((v >= 0) & (v < a), v, a)
    c = np.asarray(ctx, np.int64)
    if v.size * 4 >= counts.size:              # many symbols: one pass over the table
        counts += np.bincount(c * (a + 1) + v, minlength=counts.size).reshape(counts.shape)
    else:
        np.add.at(counts, (c, v), 1)


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


class _Adaptive:
    """The model a string's symbols are coded with: the static one, or with ``adapt`` a copy updated
    at each :meth:`frame_done` by the counts of the symbols seen so far (only the contexts of the
    frame just done change)."""

    def __init__(self, model: EntropyModel, adapt: bool):
        self.static = self.model = model
        self.seen = empty_counts() if adapt else None
        self._touched: dict[str, np.ndarray] = {}     # family: contexts seen in the open frame (bool)

    def _saw(self, name: str, ctx, values):
        if self.seen is not None:
            _count_into(self.seen[name], name, ctx, values)
            t = self._touched.get(name)
            if t is None:
                t = self._touched[name] = np.zeros(FAMILIES[name][0], bool)
            t[ctx] = True

    def frame_done(self):
        """A frame's passes are complete: the next frame's symbols use the updated tables."""
        if self.seen is None:
            return
        if self.model is self.static:
            self.model = self.static.copy()
        self.model.adapt_rows(self.static, self.seen, {n: np.flatnonzero(t) for n, t in self._touched.items()})
        self._touched = {}


class SymbolWriter(_Adaptive):
    """Collects (family, context, value) symbols in decoding order; ``encode`` makes one rANS string.
    ``counts`` (optional dict of arrays) accumulates statistics for training; ``adapt``: tables adapt
    frame by frame (call :meth:`frame_done` after each frame; :meth:`EntropyModel.adapt_rows`)."""

    def __init__(self, model: EntropyModel, counts: dict | None = None, adapt: bool = False):
        super().__init__(model, adapt)
        self.values: list[np.ndarray] = []
        self.indexes: list[np.ndarray] = []     # into self.tables (closed frames) or the model (open)
        self.tables: list[list[int]] = []       # the CDFs of the closed frames' symbols
        self.table_offsets: list[int] = []
        self._open = 0                           # index of the first chunk of the open frame
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
            _count_into(self.counts[name], name, ctx, values)
        self._saw(name, ctx, values)

    def _close(self):
        """The open frame's symbols point at copies of the tables they used (the model may change)."""
        if self._open == len(self.indexes):
            return
        used, local = localised(np.concatenate(self.indexes[self._open:]))
        self.indexes[self._open:] = [local + np.int32(len(self.tables))]
        self.tables += [self.model.cdfs[i] for i in used.tolist()]
        self.table_offsets += [_OFFSETS[i] for i in used.tolist()]
        self.values[self._open:] = [np.concatenate(self.values[self._open:])]
        self._open = len(self.indexes)

    def frame_done(self):
        self._close()
        super().frame_done()

    def encode(self) -> bytes:
        """The rANS string of every symbol put (only the tables used are handed to the coder)."""
        self._close()
        if not self.values:
            return b""
        tables = SimpleNamespace(cdfs=self.tables, lengths=[len(c) for c in self.tables],
                                 offsets=self.table_offsets)
        return encode(np.concatenate(self.values), np.concatenate(self.indexes), tables)


class SymbolReader(_Adaptive):
    """Decodes passes of symbols from one rANS string, in the order they were put (a
    :class:`svc.rans.RansReader` over the model's tables, addressed by family and context);
    ``adapt`` as for :class:`SymbolWriter` (call :meth:`frame_done` after each frame)."""

    def __init__(self, model: EntropyModel, data: bytes, max_symbols: int, adapt: bool = False):
        super().__init__(model, adapt)
        self._rans = RansReader(data, model, max_symbols, "enhancement payload")

    def get(self, name: str, ctx, count: int | None = None) -> np.ndarray:
        ctx = np.asarray(ctx, np.int32).ravel() if count is None else np.full(count, int(ctx), np.int32)
        values = self._rans.get(ctx + self.model.base[name], self.model)
        self._saw(name, ctx, values)
        return values


def empty_counts() -> dict[str, np.ndarray]:
    return {n: np.zeros((FAMILIES[n][0], FAMILIES[n][1] + 1), np.int64) for n in NAMES}

