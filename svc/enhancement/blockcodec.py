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
context tables (:mod:`svc.enhancement.entropy`). The first frame of a GOP has R only. Chroma (4:2:0)
follows its unit's mode (chroma vectors are the luma ones, at eighth-pel bilinear).

Everything the decoder computes (vectors, predictions, contexts, inverse transform) is integer
arithmetic, so encoder and decoder agree bit-exactly across processes and machines. The payload
syntax is in :mod:`svc.enhancement.syntax`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import time

import numpy as np

from svc.enhancement import dmotion, syntax
from svc.enhancement import transform as tf
from svc.enhancement.entropy import COEF_K, EntropyModel, SymbolReader, SymbolWriter
from svc.errors import BitstreamError
from svc.io.frames import VideoFormat, YuvFrame

PU = dmotion.PU
NT = 6                                   # transform units per 16x16 unit: 4 luma, U, V
PLANE_OF_TU = np.array([0, 0, 0, 0, 1, 1])
MODE_I, MODE_R, MODE_F, MODE_B, MODE_D = 0, 1, 2, 3, 4    # context mode ids (intra frame: MODE_I)
N_PMODES = 4                             # inter-frame modes R, F, B, D
CUE_THR = np.array([0.5, 1, 2, 4, 8, 16, 32], np.float64)   # cue buckets (sum |coef| / step)
N_CUE = len(CUE_THR) + 1
# scan position -> band; last position -> bucket
BAND = np.repeat(np.arange(9), [1, 2, 3, 4, 5, 6, 7, 14, 22])
N_BAND = 9
LAST_BUCKET = np.digitize(np.arange(64), [3, 10, 25])
DELTAS = np.array([(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if (dy, dx) != (0, 0)], np.int32)
SYMS_PER_UNIT = 2 + NT * 66              # bound on symbols per unit (reader padding / sanity)
MOTION_MARGIN = 48                       # luma samples beyond its block that dmotion.estimate reads (<= 34)
SAD_THR = np.array([1, 128, 512])        # base change along the decoder-side vector (16x16 luma SAD; 0: identical)

# coefficient context = sum of these strides (see entropy.FAMILIES["coef"])
_S_CUE, _S_LB, _S_ISLAST, _S_BAND = 1, N_CUE, N_CUE * 4, N_CUE * 4 * 2
_S_INTRA = _S_BAND * N_BAND
_S_PLANE = _S_INTRA * 2


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
    """Codes the enhancement layer of one stream at quality ``quality`` in [0, 1]."""

    def __init__(self, fmt: VideoFormat, quality: float, config: BlockCoderConfig | None = None,
                 model: EntropyModel | None = None):
        self.format = fmt
        self.config = config or BlockCoderConfig()
        self.model = model or EntropyModel.load()
        self.quality = float(quality)
        self.stepq = tf.step_from_quality(quality)
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
    def _stepq_tu(self, stepq, stepq_c):
        return np.array([stepq] * 4 + [stepq_c] * 2, np.float64)

    def _cues(self, r_tus, f_tus, stepq, stepq_c):
        """(TU cue buckets (NB, 6), unit cue buckets (NB,)): intra frames, the restored base's AC
        energy; inter frames, the energy of R - F. Exact integers compared with exact thresholds."""
        if f_tus is None:
            t = np.abs(tf.forward_int(r_tus))
            t[..., 0, 0] = 0
        else:
            t = np.abs(tf.forward_int(r_tus - f_tus))
        s = t.sum(axis=(-2, -1))                                   # (NB, 6), exact
        sq = self._stepq_tu(stepq, stepq_c)
        # s / (INT_SCALE * stepq / 16) >= thr  <=>  s >= thr * 2048 * stepq
        tu = (s[..., None] >= CUE_THR * 2048.0 * sq[None, :, None]).sum(-1)
        pu = (s[:, :4].sum(1)[:, None] >= CUE_THR * 2048.0 * 4 * stepq).sum(-1)
        return tu.astype(np.int32), pu.astype(np.int32)

    @staticmethod
    def _tu_ctx(mode_id, cue_tu):
        """cbf / last context: (plane, mode, cue)."""
        return (PLANE_OF_TU * 5 + mode_id) * N_CUE + cue_tu

    @staticmethod
    def _coef_ctx_base(intra: bool, cue_tu):
        return PLANE_OF_TU * _S_PLANE + int(intra) * _S_INTRA + cue_tu

    # -- prediction ------------------------------------------------------------------------------
    def _motion(self, base_y, prev_base_y, rect=None):
        """Decoder-side vectors (By, Bx, 2) and the base's change along them, bucketed (a context cue,
        (NB,)). ``rect`` (units y0, y1, x0, x1): only the units inside are needed; the search runs on a
        crop grown by its reach (:data:`MOTION_MARGIN`), which gives them the whole frame's vectors (a
        block's search reads no farther); the other units get zeros."""
        if rect is None:
            mv, sad = dmotion.estimate(base_y, prev_base_y)
            return mv, np.searchsorted(SAD_THR, sad.ravel(), side="right").astype(np.int32)
        m = MOTION_MARGIN // PU
        y0, y1, x0, x1 = max(0, rect[0] - m), min(self.by, rect[1] + m), max(0, rect[2] - m), min(self.bx, rect[3] + m)
        crop = np.s_[y0 * PU:y1 * PU, x0 * PU:x1 * PU]
        mv_c, sad_c = dmotion.estimate(base_y[crop], prev_base_y[crop])
        mv = np.zeros((self.by, self.bx, 2), np.int32)
        sadb = np.zeros((self.by, self.bx), np.int32)
        mv[y0:y1, x0:x1] = mv_c
        sadb[y0:y1, x0:x1] = np.searchsorted(SAD_THR, sad_c, side="right")
        return mv, sadb.ravel()

    def _unit_rect(self, units) -> tuple[int, int, int, int]:
        """(y0, y1, x0, x1): the bounding rectangle, in units, of the (NB,) bool ``units``."""
        ys, xs = np.nonzero(units.reshape(self.by, self.bx))
        return int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1

    def _mc(self, full, mv, bounds=None, rect=None):
        """Motion-compensated planes (padded size); ``rect`` (units y0, y1, x0, x1): only those units
        are predicted (the others are zero)."""
        if rect is None:
            return (dmotion.luma_mc(full[0], mv, self.maxv, bounds), dmotion.chroma_mc(full[1], mv, bounds),
                    dmotion.chroma_mc(full[2], mv, bounds))
        y0, y1, x0, x1 = rect
        sub = np.s_[y0:y1, x0:x1]
        b = None if bounds is None else bounds[sub]
        out = []
        for k, plane in enumerate(full):
            s = PU if k == 0 else PU // 2
            o = np.zeros(plane.shape, np.int32)
            o[y0 * s:y1 * s, x0 * s:x1 * s] = (dmotion.luma_mc(plane, mv[sub], self.maxv, b, (y0, x0)) if k == 0
                                               else dmotion.chroma_mc(plane, mv[sub], b, (y0, x0)))
            out.append(o)
        return tuple(out)

    @staticmethod
    def _blend(r, f):
        return tuple((a + b + 1) >> 1 for a, b in zip(r, f))

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
            mv, sadb = self._motion(by_, prev["base_y"])
            t0 = self._tick("motion", t0)
            f = self._mc(prev["full"], mv, bounds)
            f_t = self._tus(f)
            cands = [r, f, self._blend(r, f)]
            t0 = self._tick("mc", t0)
            mode_ids = np.array([MODE_R, MODE_F, MODE_B, MODE_D])
            delta = np.zeros(nb, np.int32)
            if cfg.temporal and cfg.mv_refine:
                delta = self._search_delta(o[0], prev["full"][0], mv)
                t0 = self._tick("mv_refine", t0)
                d = DELTAS[delta].reshape(self.by, self.bx, 2)
                cands.append(self._mc(prev["full"], mv + d, bounds))
            else:
                cands.append(f)
        cue_tu, cue_pu = self._cues(r_t, f_t, stepq, stepq_c)
        t0 = time.perf_counter()
        c_t = np.stack([self._tus(c) for c in cands])                       # (M, NB, 6, 8, 8)
        coefs = tf.to_scan(tf.forward(o_t[None] - c_t))                      # (M, NB, 6, 64)
        nm = len(cands)
        t0 = self._tick("transform", t0)
        levels, last, d_q, d_0, bits_q = self._quantise_rd(coefs, step_tu, lam, wt, intra, cue_tu, m)
        t0 = self._tick("rd", t0)
        cbf_ctx = self._tu_ctx(mode_ids[:nm, None, None], cue_tu[None])    # (M, NB, 6)
        b_cbf0 = m.bits["cbf"][cbf_ctx, 0]
        b_cbf1 = m.bits["cbf"][cbf_ctx, 1]
        j_zero = wt * d_0 + lam * b_cbf0
        j_code = np.where(last >= 0, wt * d_q + lam * (b_cbf1 + bits_q), np.inf)
        cbf = j_code < j_zero                                                # (M, NB, 6)
        j_skip = (wt * d_0).sum(-1)                                          # (M, NB)
        j_coded = np.minimum(j_zero, j_code).sum(-1)
        # guard: no unit's luma error above that of the restored base as it is (so the full layer is
        # never below R, whatever lambda says; candidate 0 is R)
        dy_skip = d_0[..., :4].sum(-1)                                       # (M, NB)
        dy_coded = np.where(cbf, d_q, d_0)[..., :4].sum(-1)
        limit = dy_skip[0] * (1.0 + 1e-9) + 1e-6
        bad_skip = (dy_skip > limit) if cfg.guard else np.zeros_like(dy_skip, bool)
        bad_coded = (dy_coded > limit) if cfg.guard else np.zeros_like(dy_skip, bool)
        bad_skip[0] = bad_coded[0] = False
        # block symbol costs
        if intra:
            blk_ctx = cue_pu
            b_blk = m.bits["blk_i"][blk_ctx]                                 # (NB, 2)
            j = np.stack([j_skip[0] + lam * b_blk[:, 0], j_coded[0] + lam * b_blk[:, 1]], -1)   # (NB, 2)
            j[:, 1] = np.where(dy_coded[0] > limit, np.inf, j[:, 1]) if cfg.guard else j[:, 1]
            if not cfg.skip:
                j[:, 0] = np.inf
            if inside is not None:
                j[~inside, 0], j[~inside, 1] = 0.0, np.inf     # outside the regions: R, no residual
            choice = np.argmin(j, -1)
        else:
            blk_ctx = (prev["sym"] * N_CUE + cue_pu) * 4 + sadb
            b_blk = m.bits["blk_p"][blk_ctx]                                 # (NB, 8)
            b_mvd = m.bits["mvd"][0, delta]
            j = np.empty((nb, 8))
            for pm in range(N_PMODES):
                extra = lam * b_mvd if pm == 3 else 0.0
                j[:, 2 * pm] = np.where(bad_skip[pm], np.inf, j_skip[pm] + lam * b_blk[:, 2 * pm] + extra)
                j[:, 2 * pm + 1] = np.where(bad_coded[pm], np.inf, j_coded[pm] + lam * b_blk[:, 2 * pm + 1] + extra)
            if not cfg.temporal:
                j[:, 2:] = np.inf
            if not cfg.blend:
                j[:, 4:6] = np.inf
            if not cfg.mv_refine:
                j[:, 6:8] = np.inf
            if not cfg.skip:
                j[:, 0::2] = np.inf
            if inside is not None:
                j[~inside] = np.inf
                j[~inside, 0] = 0.0                              # outside the regions: R skip
            choice = np.argmin(j, -1)
        # intra: choice 0/1 = R skip/coded; inter: 2 * prediction + coded (0 = R skip)
        pmode = np.zeros(nb, np.int64) if intra else choice // 2
        coded = (choice if intra else choice % 2).astype(bool)
        ar = np.arange(nb)
        tu_cbf = cbf[pmode, ar] & coded[:, None]                             # (NB, 6)
        lv = levels[pmode, ar]                                               # (NB, 6, 64)
        # reconstruction (exactly what the decoder computes)
        full_t = self._reconstruct(c_t[pmode, ar], lv, tu_cbf, stepq, stepq_c)
        if cfg.guard:
            # the decisions above estimate errors in the transform domain over the padded unit; the
            # reconstruction is rounded and clipped and only the visible pixels count: a unit whose
            # visible luma error ends above R's falls back to R skip (exactly R, no residual)
            worse = self._visible_sse(full_t, o_t) > self._visible_sse(c_t[0], o_t)
            if worse.any():
                choice[worse], pmode[worse], coded[worse], tu_cbf[worse] = 0, 0, False, False
                full_t[worse] = c_t[0, worse]
        sym = choice.astype(np.int32)
        prev_sym = 8 + sym if intra else sym
        mode_tu = mode_ids[pmode][:, None]
        cbf_ctx = self._tu_ctx(mode_tu, cue_tu)
        ls = last[pmode, ar]
        for k, w in enumerate(writers):            # per tile its own string, the passes in order
            tm = np.ones(nb, bool) if len(writers) == 1 else ids == k
            um = tm if inside is None else tm & inside
            w.put("blk_i" if intra else "blk_p", blk_ctx[um], sym[um])
            if not intra:
                w.put("mvd", 0, delta[(pmode == 3) & tm])
            w.put("cbf", cbf_ctx[coded & tm], tu_cbf[coded & tm].astype(np.int32))
            sel = tu_cbf & tm[:, None]
            self._put_levels(w, lv[sel], ls[sel], np.broadcast_to(mode_tu, sel.shape)[sel], cue_tu[sel],
                             np.nonzero(sel)[1], intra)
        t0 = self._tick("decide", t0)
        full = self._untus(full_t)
        self.stats.append({"modes": np.bincount(choice, minlength=8 if not intra else 2),
                           "coded_tus": int(tu_cbf.sum()),
                           "bits": {n: sum(w.bits[n] for w in writers) for n in writers[0].bits}})
        return full, {"full": full, "base_y": by_, "sym": prev_sym.astype(np.int32)}

    def _search_delta(self, o_y, prev_full_y, mv):
        """Encoder: per unit, the refinement (index into DELTAS) of least luma SAD."""
        mc = dmotion.LumaMC(prev_full_y, self.maxv)
        rng = self.config.mv_range
        best = best_i = None
        ob = o_y.reshape(self.by, PU, self.bx, PU)
        for i, (dy, dx) in enumerate(DELTAS):
            if max(abs(dy), abs(dx)) > rng:
                continue
            p = mc.predict(mv + np.array([dy, dx], np.int32)).reshape(self.by, PU, self.bx, PU)
            s = np.abs(ob - p).sum(axis=(1, 3)).ravel()
            if best is None:
                best, best_i = s, np.full(s.shape, i, np.int32)
            else:
                better = s < best
                best = np.where(better, s, best)
                best_i = np.where(better, i, best_i)
        return best_i

    @staticmethod
    def _zero_run_bits(model):
        """Z[(plane, intra, cue), last]: bits of the zero levels at scan positions 0..last-1 (their
        contexts depend on the last position's bucket), cached per entropy model."""
        z = model.derived.get("zero_run")
        if z is None:
            b0 = model.bits["coef"][:, COEF_K]                        # bits of level 0 per context
            base = (np.arange(2)[:, None, None] * _S_PLANE + np.arange(2)[None, :, None] * _S_INTRA
                    + np.arange(N_CUE)[None, None, :]).reshape(-1)        # (2 * 2 * N_CUE,)
            z = np.zeros((base.size, 64))
            for last in range(1, 64):
                ctx = base[:, None] + BAND[:last] * _S_BAND + LAST_BUCKET[last] * _S_LB
                z[:, last] = b0[ctx].sum(-1)
            model.derived["zero_run"] = z
        return z

    def _quantise_rd(self, coefs, step_tu, lam, wt, intra, cue_tu, model):
        """Levels (dead zone + rate-aware rounding), last position, squared errors of the coded and
        zeroed unit, and bits of last + levels, for every candidate and transform unit. Dense work is
        a few passes over the coefficients; rates and errors are computed on the non-zero levels."""
        cfg, m = self.config, model
        s = step_tu[:, None]                                                # (6, 1)
        a = np.abs(coefs) / s
        d_0 = np.einsum("...k,...k->...", a, a) * step_tu ** 2             # (M, NB, 6)
        lvl = np.floor(a + cfg.rounding)
        nzm = lvl > 0
        anyz = nzm.any(-1)
        last = np.where(anyz, 63 - np.argmax(nzm[..., ::-1], -1), -1)
        idx = np.nonzero(nzm)
        mi, bi, ti, ki = idx
        av = a[idx]
        lv = lvl[idx]
        base = PLANE_OF_TU[ti] * _S_PLANE + int(intra) * _S_INTRA + cue_tu[bi, ti] + BAND[ki] * _S_BAND
        coef_bits = m.bits["coef"]
        flat = coef_bits.ravel()
        width = coef_bits.shape[1]
        esc = coef_bits[:, -1]

        def bits_of(ctx, mag):
            v = np.minimum(mag, COEF_K).astype(np.int64) + COEF_K
            b = flat[ctx * width + v]
            over = mag > COEF_K
            if over.any():
                raw = 2 * (mag[over] - COEF_K - 1)
                b[over] = esc[ctx[over]] + 4.0 + 4.0 * np.ceil(np.log2(raw + 1) / 4)
            return b

        lst = last[mi, bi, ti]
        if cfg.rdoq:
            ctx = base + LAST_BUCKET[lst] * _S_LB
            lo = lv - 1
            w = (wt[ti] * step_tu[ti] ** 2)
            j_hi = w * (av - lv) ** 2 + lam * bits_of(ctx, lv)
            j_lo = w * (av - lo) ** 2 + lam * bits_of(ctx, lo)
            lv = np.where(j_lo < j_hi, lo, lv)
            keep = lv > 0
            mi, bi, ti, ki, av, lv, base = mi[keep], bi[keep], ti[keep], ki[keep], av[keep], lv[keep], base[keep]
            # the last position may move back (np.nonzero order: scan position ascending per unit)
            t = np.ravel_multi_index((mi, bi, ti), last.shape)
            ends = np.r_[t[1:] != t[:-1], True] if t.size else np.zeros(0, bool)
            last = np.full(last.size, -1)
            last[t[ends]] = ki[ends]
            last = last.reshape(lv.shape[:0] + coefs.shape[:-1])
            lst = last[mi, bi, ti]
        sign = np.sign(coefs[mi, bi, ti, ki])
        levels = np.zeros(coefs.shape, np.int32)
        levels[mi, bi, ti, ki] = (sign * lv).astype(np.int32)
        tflat = np.ravel_multi_index((mi, bi, ti), last.shape)
        gain = np.bincount(tflat, (av ** 2 - (av - lv) ** 2) * step_tu[ti] ** 2, last.size).reshape(last.shape)
        d_q = d_0 - gain
        # rates: zero run before last (table) + (level - zero) at non-last positions + the last level
        lc = np.maximum(last, 0)
        z = self._zero_run_bits(m)
        tu_base = ((PLANE_OF_TU * 2 + int(intra)) * N_CUE)[None, None, :] + cue_tu[None]   # (1, NB, 6)
        b = z[tu_base, lc]
        is_last = ki == lst
        ctx = base + LAST_BUCKET[lst] * _S_LB + is_last * _S_ISLAST
        contrib = bits_of(ctx, lv) - np.where(is_last, 0.0, coef_bits[ctx, COEF_K])
        b = b + np.bincount(tflat, contrib, last.size).reshape(last.shape)
        nm = coefs.shape[0]
        mode_ids = np.array([MODE_I]) if intra else np.array([MODE_R, MODE_F, MODE_B, MODE_D])[:nm]
        lctx = self._tu_ctx(mode_ids[:, None, None], cue_tu[None])
        b = b + m.bits["last"][lctx, lc]
        return levels, last, d_q, d_0, b

    def _coef_positions(self, last, tu_plane_idx, cue, intra):
        """Per coded TU (n,) with its last position: the flat TU index, scan position and context of
        every coded level (positions 0..last)."""
        n = last.size
        cnt = last + 1
        tu = np.repeat(np.arange(n), cnt)
        start = np.cumsum(cnt) - cnt
        pos = np.arange(int(cnt.sum())) - np.repeat(start, cnt)
        lt = last[tu]
        ctx = (PLANE_OF_TU[tu_plane_idx[tu]] * _S_PLANE + int(intra) * _S_INTRA + BAND[pos] * _S_BAND
               + (pos == lt) * _S_ISLAST + LAST_BUCKET[lt] * _S_LB + cue[tu])
        return tu, pos, ctx

    def _put_levels(self, writer, lv, last, mode_id, cue, tu_idx, intra):
        writer.put("last", self._tu_ctx_flat(tu_idx, mode_id, cue), last)
        tu, pos, ctx = self._coef_positions(last, tu_idx, cue, intra)
        writer.put("coef", ctx, lv[tu, pos])

    @staticmethod
    def _tu_ctx_flat(tu_idx, mode_id, cue):
        return (PLANE_OF_TU[tu_idx] * 5 + mode_id) * N_CUE + cue

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

        def bad(what):
            return BitstreamError(f"block enhancement payload does not decode ({what})", gop_index)

        def get(name, ctx, item_tile):
            """Values of a pass's items (contexts ``ctx``, tiles ``item_tile``), each from its tile's string."""
            ctx = np.asarray(ctx, np.int32).ravel()
            if nt == 1:
                if not ctx.size:
                    return np.zeros(0, np.int32)
                if readers[0] is None:
                    raise BitstreamError("block enhancement payload has no symbols", gop_index)
                return readers[0].get(name, ctx)
            out = np.zeros(ctx.size, np.int32)
            order = np.argsort(item_tile, kind="stable")               # items grouped by tile, in order
            ends = np.cumsum(np.bincount(item_tile, minlength=nt))
            for k, rd in readers.items():
                seg = order[(ends[k - 1] if k else 0):ends[k]]
                if seg.size:
                    if rd is None:
                        raise BitstreamError(f"block enhancement tile {k} has no symbols", gop_index)
                    out[seg] = rd.get(name, ctx[seg])
            return out

        units = np.isin(ids, list(readers)) if nt > 1 else np.ones(nb, bool)    # the units decoded
        rect = None if units.all() else self._unit_rect(units)
        if inside is not None:
            units &= inside
        sym = np.zeros(nb, np.int32)
        if intra:
            cue_tu, cue_pu = self._cues(r_t, None, stepq, stepq_c)
            sym[units] = get("blk_i", cue_pu[units], ids[units])
            if sym.min() < 0 or sym.max() > 1:
                raise bad("block symbol")
            pmode = np.zeros(nb, np.int64)
            coded = sym.astype(bool)
            mode_ids = np.array([MODE_I])
            pred = r_t
            prev_sym = 8 + sym
        else:
            mv, sadb = self._motion(by_, prev["base_y"], rect)
            f = self._mc(prev["full"], mv, bounds, rect)
            f_t = self._tus(f)
            cue_tu, cue_pu = self._cues(r_t, f_t, stepq, stepq_c)
            ctx = (prev["sym"] * N_CUE + cue_pu) * 4 + sadb
            sym[units] = get("blk_p", ctx[units], ids[units])
            if sym.min() < 0 or sym.max() > 7:
                raise bad("block symbol")
            pmode, coded = sym // 2, (sym % 2).astype(bool)
            d_units = pmode == 3
            delta = get("mvd", np.zeros(int(d_units.sum()), np.int32), ids[d_units])
            if delta.size and (delta.min() < 0 or delta.max() >= len(DELTAS)):
                raise bad("vector refinement")
            mode_ids = np.array([MODE_R, MODE_F, MODE_B, MODE_D])
            cands = [r_t, f_t, self._tus(self._blend(r, f))]
            if d_units.any():
                d = np.zeros((nb, 2), np.int32)
                d[d_units] = DELTAS[delta]
                cands.append(self._tus(self._mc(prev["full"], mv + d.reshape(self.by, self.bx, 2), bounds, rect)))
            else:
                cands.append(f_t)
            pred = np.stack(cands)[pmode, np.arange(nb)]
            prev_sym = sym
        mode_tu = mode_ids[pmode][:, None]
        cbf_vals = get("cbf", self._tu_ctx(mode_tu, cue_tu)[coded], np.repeat(ids[coded], NT))
        if cbf_vals.size and (cbf_vals.min() < 0 or cbf_vals.max() > 1):
            raise bad("transform flag")
        tu_cbf = np.zeros((nb, NT), bool)
        tu_cbf[coded] = cbf_vals.reshape(-1, NT).astype(bool)
        nb_i, tu_i = np.nonzero(tu_cbf)
        mt = np.broadcast_to(mode_tu, tu_cbf.shape)[tu_cbf]
        last = get("last", self._tu_ctx_flat(tu_i, mt, cue_tu[tu_cbf]), ids[nb_i])
        if last.size and (last.min() < 0 or last.max() > 63):
            raise bad("last position")
        tu, pos, ctx = self._coef_positions(last, tu_i, cue_tu[tu_cbf], intra)
        vals = get("coef", ctx, ids[nb_i[tu]])
        levels = np.zeros((nb, NT, 64), np.int32)
        levels[nb_i[tu], tu_i[tu], pos] = np.clip(vals, -tf.MAX_LEVEL, tf.MAX_LEVEL)
        full_t = self._reconstruct(pred, levels, tu_cbf, stepq, stepq_c)
        full = self._untus(full_t)
        if info is not None:
            info.append({"sym": sym, "tu_cbf": tu_cbf, "pred_tus": pred, "full_tus": full_t})
        return full, {"full": full, "base_y": by_, "sym": prev_sym.astype(np.int32)}
