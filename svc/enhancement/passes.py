"""The pass table of the block enhancement coder: the one description of a frame's symbols that the
writer and the reader both step through (:func:`code_frame`), so the decoder is not a hand-written
mirror of the encoder.

Per frame, in this order (each pass one vectorised call per tile string; contexts from
:mod:`svc.enhancement.contexts`):

====  ========  =========================================================================
pass  family    symbols
====  ========  =========================================================================
A     blk_i/p   one block symbol per coded unit: intra frame -> coded flag; inter frame ->
                mode * 2 + coded (mode 0 R, 1 F, 2 blend, 3 F + refinement)
B     mvd       the vector refinement (index into 24 quarter-pel offsets) of each mode-3 unit
C     cbf       the coded flag of each TU (4 luma, U, V) of the coded units
D     last      the scan position of the last non-zero level of each coded TU
E     coef      the levels at scan positions 0..last of each coded TU
====  ========  =========================================================================

A :class:`FrameSymbols` holds what the passes code. The encoder fills it with its decisions and
hands :func:`code_frame` a :class:`PassWriter`; the decoder hands it an empty one and a
:class:`PassReader`, and gets it back filled. Either way the same code computes every context
and selects every item, in the same order.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from svc.enhancement import contexts as cx
from svc.enhancement import transform as tf
from svc.errors import BitstreamError

N_DELTAS = 24
LAST_MAX = 63                         # scan positions 0..63


@dataclass
class FrameSymbols:
    """One frame's coded symbols and the decoder-side inputs of their contexts.

    Inputs (both ends): ``intra``; ``ids`` (NB,) tile of each unit; ``units`` (NB,) bool, the units
    whose symbols are in the strings (decoded tiles, inside the regions); ``block_ctx`` (NB,);
    ``cue_tu`` (NB, 6). Symbols (the encoder's decisions, the decoder's results): ``sym`` (NB,),
    ``delta`` (NB,) refinement of mode-3 units, ``tu_cbf`` (NB, 6) bool, ``last`` (NB, 6) (-1: not
    coded), ``levels`` (NB, 6, 64) int32 in scan order."""

    intra: bool
    ids: np.ndarray
    units: np.ndarray
    block_ctx: np.ndarray
    cue_tu: np.ndarray
    sym: np.ndarray = None
    delta: np.ndarray = None
    tu_cbf: np.ndarray = None
    last: np.ndarray = None
    levels: np.ndarray = None

    def __post_init__(self):
        nb = self.ids.size
        if self.sym is None:
            self.sym = np.zeros(nb, np.int32)
        if self.delta is None:
            self.delta = np.zeros(nb, np.int32)
        if self.tu_cbf is None:
            self.tu_cbf = np.zeros((nb, cx.NT), bool)
        if self.last is None:
            self.last = np.full((nb, cx.NT), -1, np.int32)
        if self.levels is None:
            self.levels = np.zeros((nb, cx.NT, 64), np.int32)

    @property
    def pmode(self) -> np.ndarray:
        """(NB,) prediction of each unit: 0 R (always in an intra frame), 1 F, 2 blend, 3 F + refinement."""
        return np.zeros(self.sym.size, np.int64) if self.intra else (self.sym // 2).astype(np.int64)

    @property
    def coded(self) -> np.ndarray:
        """(NB,) bool: the unit carries a residual."""
        return (self.sym if self.intra else self.sym % 2).astype(bool)

    @property
    def mode_ids(self) -> np.ndarray:
        """(NB,) context mode id of each unit's prediction."""
        return np.full(self.sym.size, cx.MODE_I) if self.intra else cx.INTER_MODE_IDS[self.pmode]


class PassWriter:
    """Puts each pass's items into their tiles' :class:`~svc.enhancement.context_tables.SymbolWriter`."""

    def __init__(self, writers):
        self.writers = writers

    def code(self, family, ctx, tiles, values):
        ctx = np.broadcast_to(np.asarray(ctx, np.int32), np.shape(values)).ravel()
        values = np.asarray(values, np.int32).ravel()
        if len(self.writers) == 1:
            self.writers[0].put(family, ctx, values)
        else:
            for k, w in enumerate(self.writers):
                sel = tiles == k
                w.put(family, ctx[sel], values[sel])
        return values


class PassReader:
    """Reads each pass's items from their tiles' :class:`~svc.enhancement.context_tables.SymbolReader`
    (``readers``: tile -> reader or None for a tile without symbols; tiles not in it are not decoded)."""

    def __init__(self, readers: dict, tiles: int, gop_index=None):
        self.readers, self.tiles, self.gop_index = readers, tiles, gop_index

    def code(self, family, ctx, tiles, values=None):
        ctx = np.asarray(ctx, np.int32).ravel()
        if self.tiles == 1:
            if not ctx.size:
                return np.zeros(0, np.int32)
            if self.readers[0] is None:
                raise BitstreamError("block enhancement payload has no symbols", self.gop_index)
            return self.readers[0].get(family, ctx)
        out = np.zeros(ctx.size, np.int32)
        tiles = np.asarray(tiles).ravel()
        order = np.argsort(tiles, kind="stable")                     # items grouped by tile, in order
        ends = np.cumsum(np.bincount(tiles, minlength=self.tiles))
        for k, rd in self.readers.items():
            seg = order[(ends[k - 1] if k else 0):ends[k]]
            if seg.size:
                if rd is None:
                    raise BitstreamError(f"block enhancement tile {k} has no symbols", self.gop_index)
                out[seg] = rd.get(family, ctx[seg])
        return out


def _check(values, lo, hi, what, gop_index):
    if values.size and (values.min() < lo or values.max() > hi):
        raise BitstreamError(f"block enhancement payload does not decode ({what})", gop_index)


def code_frame(io, s: FrameSymbols, gop_index=None) -> FrameSymbols:
    """Steps through passes A-E for one frame with ``io`` (:class:`PassWriter`: the values in ``s``
    are written; :class:`PassReader`: they are read into ``s``). Values out of range raise a
    :class:`~svc.errors.BitstreamError`."""
    ids, u = s.ids, s.units
    # A: block symbols of the coded units
    vals = io.code("blk_i" if s.intra else "blk_p", s.block_ctx[u], ids[u], s.sym[u])
    _check(vals, 0, 1 if s.intra else 7, "block symbol", gop_index)
    s.sym[u] = vals
    # B: refinements of the mode-3 units
    if not s.intra:
        d_units = s.pmode == 3
        vals = io.code("mvd", np.zeros(int(d_units.sum()), np.int32), ids[d_units], s.delta[d_units])
        _check(vals, 0, N_DELTAS - 1, "vector refinement", gop_index)
        s.delta[d_units] = vals
    # C: coded flags of the TUs of coded units
    coded = s.coded
    mode_tu = s.mode_ids[:, None]
    vals = io.code("cbf", cx.tu(mode_tu, s.cue_tu)[coded], np.repeat(ids[coded], cx.NT), s.tu_cbf[coded])
    _check(vals, 0, 1, "transform flag", gop_index)
    s.tu_cbf[coded] = vals.reshape(-1, cx.NT).astype(bool)
    # D: last positions of the coded TUs
    nb_i, tu_i = np.nonzero(s.tu_cbf)
    mt = np.broadcast_to(mode_tu, s.tu_cbf.shape)[s.tu_cbf]
    cue = s.cue_tu[s.tu_cbf]
    last = io.code("last", cx.tu_flat(tu_i, mt, cue), ids[nb_i], s.last[nb_i, tu_i])
    _check(last, 0, LAST_MAX, "last position", gop_index)
    s.last[nb_i, tu_i] = last
    # E: levels at positions 0..last
    which, pos, ctx = cx.coef_positions(last, tu_i, cue, s.intra)
    vals = io.code("coef", ctx, ids[nb_i[which]], s.levels[nb_i[which], tu_i[which], pos])
    s.levels[nb_i[which], tu_i[which], pos] = np.clip(vals, -tf.MAX_LEVEL, tf.MAX_LEVEL)
    return s
