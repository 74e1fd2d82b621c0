"""Closed-loop, inter-coded block enhancement layer (SHVC-like), decoder-exact integer arithmetic.

Per frame of a closed GOP and per 16x16 unit, the encoder chooses by rate-distortion cost
J = D + lambda * bits (lambda = c * step**2, as in HM) among the predictions

- R: the restored base frame (an input array: the plain base until the restoration network lands),
- F: the previous full reconstruction moved by decoder-side motion estimated on the base frames
  (no bits, :mod:`svc.enhancement.dmotion`),
- B: the blend (R + F + 1) >> 1,
- D: F at a coded quarter-pel refinement of the decoder-side vector (5x5 window),

each either as it is (skip: the unit costs one block symbol) or with a coded residual: 8x8 integer
DCT (HEVC's matrix, :mod:`svc.enhancement.transform`), dead-zone quantiser with a rate-aware
rounding pass, per-transform-unit coded flags, last position and levels coded by rANS with learned
context tables (:mod:`svc.enhancement.context_tables`). The first frame of a GOP has R only. Chroma (4:2:0)
follows its unit's mode (chroma vectors are the luma ones, at eighth-pel bilinear).

Everything the decoder computes (vectors, predictions, contexts, inverse transform) is integer
arithmetic, so encoder and decoder agree bit-exactly across processes and machines. The payload
syntax is in :mod:`svc.enhancement.syntax`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import time

import numpy as np

from svc.enhancement import contexts as cx
from svc.enhancement import decision, dmotion, passes, predict, syntax
from svc.enhancement import transform as tf
from svc.enhancement.contexts import MODE_B, MODE_D, MODE_F, MODE_I, MODE_R, NT, PLANE_OF_TU
from svc.enhancement.predict import DELTAS
from svc.enhancement.context_tables import EntropyModel, SymbolReader, SymbolWriter
from svc.errors import BitstreamError
from svc.io.frames import VideoFormat, YuvFrame

PU = dmotion.PU
SYMS_PER_UNIT = 2 + NT * 66              # bound on symbols per unit (reader padding / sanity)
assert len(DELTAS) == passes.N_DELTAS


@dataclass
class BlockCoderConfig:
    """Tools and encoder settings (the decoder needs none of them: every choice is in the stream)."""

    temporal: bool = True        # F, B and D predictions on inter frames
    blend: bool = True           # B
    mv_refine: bool = True       # D
    mv_range: int = 2            # encoder search window of D (1: 3x3, 2: 5x5 quarter-pel)
    skip: bool = True            # units without residual (else every unit codes its transform flags)
    rdoq: bool = True            # rate-aware rounding of levels
    guard: bool = True           # no unit's luma error above the restored base's (never below R)
    rounding: float = 0.5        # dead-zone rounding offset before the rate-aware pass
    lam: float = 0.12            # lambda = lam * step**2 (squared error in 8-bit units, bits)
    chroma_weight: float = 0.5   # weight of U and V squared error in the decisions
    chroma_step: float = 1.5     # chroma step / luma step (in 1/16)
    intra_step: float = 0.6      # step of a GOP's first frame / step of the others
    cascade: bool = True         # HM low-delay-like step offsets by frame position (syntax.CASCADE)
    adapt: bool = True           # context tables adapt within the GOP (syntax.FLAG_ADAPT)
    tile: int = 0                # independent tiles of tile x tile units (0: none; syntax FLAG_TILES)
    counts: dict | None = field(default=None, repr=False)   # accumulate symbol statistics (training)


def _planes(frame: YuvFrame, hp: int, wp: int):
    """int32 planes edge-padded to (hp, wp) luma."""
    out = []
    for p, (h, w) in zip(frame, ((hp, wp), (hp // 2, wp // 2), (hp // 2, wp // 2))):
        a = p.astype(np.int32)
        if a.shape != (h, w):
            a = np.pad(a, ((0, h - a.shape[0]), (0, w - a.shape[1])), mode="edge")
        out.append(a)
    return tuple(out)


class BlockCoder:
    """Codes the enhancement layer of one stream at quality ``quality`` in [0, 1] over a base layer
    coded at ``base_qp`` (the knob's range starts at the base's quantiser step)."""

    def __init__(self, fmt: VideoFormat, quality: float, config: BlockCoderConfig | None = None,
                 model: EntropyModel | None = None, base_qp: float = 37.0):
        self.format = fmt
        self.config = config or BlockCoderConfig()
        self.model = model or EntropyModel.load()
        self.quality = float(quality)
        self.stepq = tf.step_from_quality(quality, base_qp)
        self.stepq_i = max(1, int(round(self.stepq * self.config.intra_step)))
        self.chroma = min(255, max(1, int(round(16 * self.config.chroma_step))))
        self.hp = -(-fmt.height // PU) * PU
        self.wp = -(-fmt.width // PU) * PU
        self.by, self.bx = self.hp // PU, self.wp // PU
        self.nb = self.by * self.bx
        self.timing: dict[str, float] = {}
        self.maxv = fmt.max_value

    @staticmethod
    def _steps(stepq: int, chroma: int):
        """(luma, chroma) integer steps; chroma = luma * chroma / 16, rounded."""
        return stepq, max(1, (stepq * chroma + 8) >> 4)

    def _tick(self, what: str, t0: float) -> float:
        """Accumulates encoder stage times in ``self.timing`` (seconds); returns now."""
        t = time.perf_counter()
        self.timing[what] = self.timing.get(what, 0.0) + t - t0
        return t

    # -- layout --------------------------------------------------------------------------------
    def _tus(self, planes) -> np.ndarray:
        """(Y, U, V) padded planes -> (NB, 6, 8, 8)."""
        y = tf.plane_to_tus(planes[0], PU)
        u = tf.plane_to_tus(planes[1], PU // 2)
        v = tf.plane_to_tus(planes[2], PU // 2)
        return np.concatenate([y, u, v], axis=1)

    def _tiles(self, tile: int):
        """(tile id of every unit (NB,), tile count, per-unit tile rectangles (By, Bx, 4) = y0, y1, x0,
        x1 padded luma pixels, or None) for tiles of ``tile`` x ``tile`` units (0: one tile, no bounds)."""
        if not tile:
            return np.zeros(self.nb, np.int64), 1, None
        uy, ux = np.divmod(np.arange(self.nb), self.bx)
        ty, tx = syntax.tile_grid(self.by, self.bx, tile)
        ids = (uy // tile) * tx + ux // tile
        y0, x0 = (uy // tile) * tile * PU, (ux // tile) * tile * PU
        rect = np.stack([y0, np.minimum(y0 + tile * PU, self.hp), x0, np.minimum(x0 + tile * PU, self.wp)], -1)
        return ids, ty * tx, rect.reshape(self.by, self.bx, 4)

    def _visible_sse(self, tus: np.ndarray, o_tus: np.ndarray) -> np.ndarray:
        """(NB,) squared luma error of unit TUs ``tus`` (NB, 6, 8, 8) against ``o_tus``, over the
        pixels inside the frame (not the edge padding)."""
        vis = getattr(self, "_vis", None)
        if vis is None:
            m = np.zeros((self.hp, self.wp), np.int64)
            m[:self.format.height, :self.format.width] = 1
            vis = self._vis = tf.plane_to_tus(m, PU)                    # (NB, 4, 8, 8)
        d = tus[:, :4].astype(np.int64) - o_tus[:, :4]
        return (d * d * vis).sum(axis=(1, 2, 3))

    def _untus(self, tus: np.ndarray):
        y = tf.tus_to_plane(tus[:, :4], self.by, self.bx)
        u = tf.tus_to_plane(tus[:, 4:5], self.by, self.bx)
        v = tf.tus_to_plane(tus[:, 5:6], self.by, self.bx)
        return y, u, v

    def _frame(self, planes) -> YuvFrame:
        h, w = self.format.height, self.format.width
        dt = self.format.dtype
        return YuvFrame(planes[0][:h, :w].astype(dt), planes[1][:h // 2, :w // 2].astype(dt),
                        planes[2][:h // 2, :w // 2].astype(dt))

    # -- decoder-side cues ----------------------------------------------------------------------
    @staticmethod
    def _stepq_tu(stepq, stepq_c):
        return cx.step_per_tu(stepq, stepq_c)

    # -- encoder ----------------------------------------------------------------------------------
    def encode_gop(self, originals, bases, restored, inside=None):
        """(payload, full frames) of one GOP. ``restored``: the restored base frames (prediction R);
        ``inside``: per frame a (By, Bx) bool map of the 16x16 units that may be enhanced (None: all);
        the others are R with no residual and carry no symbol (the decoder is given the same maps)."""
        if not (len(originals) == len(bases) == len(restored)) or not 1 <= len(originals) <= 255:
            raise ValueError("encode_gop needs 1..255 originals, bases and restored frames of one GOP")
        tile = self.config.tile
        layout = self._tiles(tile)
        adapt = self.config.adapt
        writers = [SymbolWriter(self.model, self.config.counts, adapt) for _ in range(layout[1])]
        fulls, prev = [], None
        self.stats = []
        flags = ((syntax.FLAG_CASCADE if self.config.cascade else 0) | (syntax.FLAG_TILES if tile else 0)
                 | (syntax.FLAG_ADAPT if adapt else 0))
        model = self.model           # the decisions' rate model: the tables the next frame is coded with
        for t, (o, b, r) in enumerate(zip(originals, bases, restored)):
            stepq = syntax.frame_stepq(t, self.stepq_i, self.stepq, flags)
            full, prev = self._encode_frame(writers, layout, o, b, r, prev, self._steps(stepq, self.chroma),
                                            self._inside(inside, t), model)
            fulls.append(self._frame(full))
            for w in writers:
                w.frame_done()
            if adapt:     # with tiles each string adapts on its own; the decisions use the pooled counts
                model = writers[0].model if len(writers) == 1 else self.model.adapted(
                    {n: sum(w.seen[n] for w in writers) for n in writers[0].seen})
        t0 = time.perf_counter()
        body = syntax.pack_tiles(tile, [w.encode() for w in writers]) if tile else writers[0].encode()
        self._tick("entropy", t0)
        return syntax.pack_gop(self.stepq_i, self.stepq, self.chroma, len(originals), body, flags), fulls

    def _inside(self, inside, t):
        """The flat (nb,) unit map of frame ``t`` (None: every unit)."""
        if inside is None:
            return None
        m = np.asarray(inside[t], bool)
        if m.shape != (self.by, self.bx):
            raise ValueError(f"unit map of shape {m.shape}, expected {(self.by, self.bx)}")
        return m.ravel()

    def _encode_frame(self, writers, layout, original, base, restored, prev, steps, inside=None, model=None):
        cfg, m = self.config, model or self.model
        hp, wp = self.hp, self.wp
        ids, _, bounds = layout
        o = _planes(original, hp, wp)
        r = _planes(restored, hp, wp)
        by_ = _planes(base, hp, wp)[0]
        intra = prev is None
        o_t = self._tus(o)
        r_t = self._tus(r)
        stepq, stepq_c = steps
        step_tu = self._stepq_tu(stepq, stepq_c) / tf.STEP_FRAC
        lam = cfg.lam * (stepq / tf.STEP_FRAC) ** 2
        wt = np.where(PLANE_OF_TU == 0, 1.0, cfg.chroma_weight)             # (6,)
        nb = self.nb
        if intra:
            cands = [r]
            f_t = None
            mode_ids = np.array([MODE_I])
        else:
            t0 = time.perf_counter()
            mv, sadb = predict.motion(by_, prev["base_y"], self.by, self.bx)
            t0 = self._tick("motion", t0)
            f = predict.mc(prev["full"], mv, self.maxv, bounds)
            f_t = self._tus(f)
            cands = [r, f, predict.blend(r, f)]
            t0 = self._tick("mc", t0)
            mode_ids = np.array([MODE_R, MODE_F, MODE_B, MODE_D])
            delta = np.zeros(nb, np.int32)
            if cfg.temporal and cfg.mv_refine:
                delta = decision.search_delta(self, o[0], prev["full"][0], mv)
                t0 = self._tick("mv_refine", t0)
                d = DELTAS[delta].reshape(self.by, self.bx, 2)
                cands.append(predict.mc(prev["full"], mv + d, self.maxv, bounds))
            else:
                cands.append(f)
        cue_tu, cue_pu = cx.cues(r_t, f_t, stepq, stepq_c)
        t0 = time.perf_counter()
        c_t = np.stack([self._tus(c) for c in cands])                       # (M, NB, 6, 8, 8)
        coefs = tf.to_scan(tf.forward(np.subtract(o_t[None], c_t, dtype=np.float64)))   # (M, NB, 6, 64)
        nm = len(cands)
        t0 = self._tick("transform", t0)
        levels, last, d_q, d_0, bits_q = decision.quantise_rd(self, coefs, step_tu, lam, wt, intra, cue_tu, m)
        t0 = self._tick("rd", t0)
        blk_ctx = cx.block_intra(cue_pu) if intra else cx.block_inter(prev["sym"], cue_pu, sadb)
        choice, cbf = decision.choose_modes(cfg, m, lam, wt, intra, mode_ids[:nm], cue_tu, blk_ctx, last, d_q, d_0,
                                            bits_q, None if intra else delta, inside)
        # intra: choice 0/1 = R skip/coded; inter: 2 * prediction + coded (0 = R skip)
        pmode = np.zeros(nb, np.int64) if intra else choice // 2
        coded = (choice if intra else choice % 2).astype(bool)
        ar = np.arange(nb)
        tu_cbf = cbf[pmode, ar] & coded[:, None]                             # (NB, 6)
        lv = levels[pmode, ar]                                               # (NB, 6, 64)
        # reconstruction (exactly what the decoder computes)
        full_t = self._reconstruct(c_t[pmode, ar], lv, tu_cbf, stepq, stepq_c)
        if cfg.guard:
            decision.visible_guard(self, full_t, o_t, c_t, choice, pmode, coded, tu_cbf)
        sym = choice.astype(np.int32)
        prev_sym = 8 + sym if intra else sym
        frame = passes.FrameSymbols(intra, ids, np.ones(nb, bool) if inside is None else inside.copy(), blk_ctx,
                                    cue_tu, sym=sym.copy(), delta=np.where(pmode == 3, delta, 0).astype(np.int32)
                                    if not intra else None, tu_cbf=tu_cbf.copy(), last=np.where(tu_cbf, last[pmode, ar], -1),
                                    levels=np.where(tu_cbf[..., None], lv, 0).astype(np.int32))
        passes.code_frame(passes.PassWriter(writers), frame)
        t0 = self._tick("decide", t0)
        full = self._untus(full_t)
        self.stats.append({"modes": np.bincount(choice, minlength=8 if not intra else 2),
                           "coded_tus": int(tu_cbf.sum()),
                           "bits": {n: sum(w.bits[n] for w in writers) for n in writers[0].bits}})
        return full, {"full": full, "base_y": by_, "sym": prev_sym.astype(np.int32)}

    def _reconstruct(self, pred, levels_scan, tu_cbf, stepq, stepq_c):
        out = pred.copy()
        if tu_cbf.any():
            sq = self._stepq_tu(stepq, stepq_c)
            nb_i, tu_i = np.nonzero(tu_cbf)
            res = tf.inverse(tf.from_scan(levels_scan[nb_i, tu_i]), sq[tu_i])
            out[nb_i, tu_i] += res
        return np.clip(out, 0, self.maxv)

    # -- decoder ----------------------------------------------------------------------------------
    def _parse(self, payload: bytes, frames: int, gop_index):
        """(stepq_i, stepq_p, chroma, flags, tile side (0: untiled), per tile its rANS string)."""
        stepq_i, stepq_p, chroma, flags, body = syntax.unpack_gop(payload, frames, gop_index)
        if flags & syntax.FLAG_TILES:
            tile, strings = syntax.unpack_tiles(body, self.by, self.bx, gop_index)
        else:
            tile, strings = 0, [body]
        return stepq_i, stepq_p, chroma, flags, tile, strings

    def _wanted_tiles(self, tile: int, ids, want) -> list[int]:
        """The tiles holding the (By, Bx) bool units ``want`` (every tile when ``want`` is None or the
        payload is untiled)."""
        if want is None or not tile:
            return list(range(int(ids.max()) + 1))
        w = np.asarray(want, bool)
        if w.shape != (self.by, self.bx):
            raise ValueError(f"unit map of shape {w.shape}, expected {(self.by, self.bx)}")
        return np.unique(ids[w.ravel()]).tolist()

    def decoded_units(self, payload: bytes, frames: int, want, gop_index=None) -> np.ndarray:
        """(By, Bx) bool: the units :meth:`decode_gop` decodes for the units ``want``: those of the tiles
        holding them (every unit of an untiled payload)."""
        tile = self._parse(payload, frames, gop_index)[4]
        ids = self._tiles(tile)[0]
        return np.isin(ids, self._wanted_tiles(tile, ids, want)).reshape(self.by, self.bx)

    def decode_gop(self, bases, restored, payload: bytes, gop_index=None, info: list | None = None, inside=None,
                   want=None):
        """Full frames of one GOP from its base frames, restored base frames and payload. ``info``
        (a list) receives per frame the block symbols, transform flags, predicted and full units;
        ``inside``: the unit maps the encoder was given (see :meth:`encode_gop`).

        ``want`` ((By, Bx) bool units, optional): decode only the tiles holding these units (a tiled
        payload; an untiled one is decoded whole). The other tiles' strings are not read and their
        units are the restored base; inside the decoded tiles the frames equal a whole decode."""
        n = len(bases)
        if len(restored) != n or n < 1:
            raise BitstreamError("block enhancement: frame count mismatch", gop_index)
        stepq_i, stepq_p, chroma, flags, tile, strings = self._parse(payload, n, gop_index)
        layout = self._tiles(tile)
        ids, nt, _ = layout
        tiles = self._wanted_tiles(tile, ids, want)
        if not tiles:                                               # nothing wanted: R everywhere
            return list(restored)
        units = np.bincount(ids, minlength=nt)
        adapt = bool(flags & syntax.FLAG_ADAPT)
        readers = {k: SymbolReader(self.model, strings[k], n * int(units[k]) * SYMS_PER_UNIT, adapt)
                   if strings[k] else None for k in tiles}
        fulls, prev = [], None
        for b, r in zip(bases, restored):
            stepq, stepq_c = self._steps(syntax.frame_stepq(len(fulls), stepq_i, stepq_p, flags), chroma)
            full, prev = self._decode_frame(readers, layout, b, r, prev, stepq, stepq_c, gop_index, info,
                                            self._inside(inside, len(fulls)))
            fulls.append(self._frame(full))
            for rd in readers.values():
                if rd is not None:
                    rd.frame_done()
        return fulls

    def _decode_frame(self, readers, layout, base, restored, prev, stepq, stepq_c, gop_index, info=None, inside=None):
        hp, wp, nb = self.hp, self.wp, self.nb
        ids, nt, bounds = layout
        r = _planes(restored, hp, wp)
        by_ = _planes(base, hp, wp)[0]
        intra = prev is None
        r_t = self._tus(r)

        units = np.isin(ids, list(readers)) if nt > 1 else np.ones(nb, bool)    # the units decoded
        rect = None if units.all() else predict.unit_rect(units, self.by, self.bx)
        if inside is not None:
            units &= inside
        io = passes.PassReader(readers, nt, gop_index)
        if intra:
            cue_tu, cue_pu = cx.cues(r_t, None, stepq, stepq_c)
            s = passes.code_frame(io, passes.FrameSymbols(True, ids, units, cx.block_intra(cue_pu), cue_tu), gop_index)
            pred = r_t
            prev_sym = 8 + s.sym
        else:
            mv, sadb = predict.motion(by_, prev["base_y"], self.by, self.bx, rect)
            f = predict.mc(prev["full"], mv, self.maxv, bounds, rect)
            f_t = self._tus(f)
            cue_tu, cue_pu = cx.cues(r_t, f_t, stepq, stepq_c)
            s = passes.code_frame(io, passes.FrameSymbols(False, ids, units, cx.block_inter(prev["sym"], cue_pu, sadb),
                                                          cue_tu), gop_index)
            pmode = s.pmode
            d_units = pmode == 3
            cands = [r_t, f_t, self._tus(predict.blend(r, f))]
            if d_units.any():
                d = np.zeros((nb, 2), np.int32)
                d[d_units] = DELTAS[s.delta[d_units]]
                cands.append(self._tus(predict.mc(prev["full"], mv + d.reshape(self.by, self.bx, 2), self.maxv, bounds, rect)))
            else:
                cands.append(f_t)
            pred = np.stack(cands)[pmode, np.arange(nb)]
            prev_sym = s.sym
        sym, tu_cbf, levels = s.sym, s.tu_cbf, s.levels
        full_t = self._reconstruct(pred, levels, tu_cbf, stepq, stepq_c)
        full = self._untus(full_t)
        if info is not None:
            info.append({"sym": sym, "tu_cbf": tu_cbf, "pred_tus": pred, "full_tus": full_t})
        return full, {"full": full, "base_y": by_, "sym": prev_sym.astype(np.int32)}
