"""The block enhancement encoder's decisions (the decoder needs none of this): the quarter-pel
refinement search, rate-distortion optimised quantisation (RDOQ) with the context tables' bit costs,
and the choice of each unit's mode under the never-below-the-restored-base guard.

``coder`` is the :class:`svc.enhancement.blockcodec.BlockCoder` whose geometry (``by``, ``bx``,
``maxv``) and settings (``config``) the decision uses.
"""
from __future__ import annotations

import numpy as np

from svc.enhancement import contexts as cx
from svc.enhancement import dmotion, kernels
from svc.enhancement.contexts import BAND, LAST_BUCKET, N_CUE, PLANE_OF_TU
from svc.enhancement.context_tables import COEF_K
from svc.enhancement.predict import DELTAS

PU = dmotion.PU


def search_delta(coder, o_y, prev_full_y, mv):
    """Encoder: per unit, the refinement (index into DELTAS) of least luma SAD."""
    mc = dmotion.LumaMC(prev_full_y, coder.maxv)
    rng = coder.config.mv_range
    if kernels.ENABLED and rng >= 1:
        return kernels.best_refinement(mc.phases, np.ascontiguousarray(o_y, np.int32),
                                       np.ascontiguousarray(mv[..., 0], np.int64),
                                       np.ascontiguousarray(mv[..., 1], np.int64), DELTAS.astype(np.int64), rng,
                                       PU, dmotion.PAD)
    best = best_i = None
    ob = o_y.reshape(coder.by, PU, coder.bx, PU)
    for i, (dy, dx) in enumerate(DELTAS):
        if max(abs(dy), abs(dx)) > rng:
            continue
        p = mc.predict(mv + np.array([dy, dx], np.int32)).reshape(coder.by, PU, coder.bx, PU)
        s = np.abs(ob - p).sum(axis=(1, 3)).ravel()
        if best is None:
            best, best_i = s, np.full(s.shape, i, np.int32)
        else:
            better = s < best
            best = np.where(better, s, best)
            best_i = np.where(better, i, best_i)
    return best_i

def zero_run_bits(model):
    """Z[(plane, intra, cue), last]: bits of the zero levels at scan positions 0..last-1 (their
    contexts depend on the last position's bucket), cached per entropy model."""
    z = model.derived.get("zero_run")
    if z is None:
        b0 = model.bits["coef"][:, COEF_K]                        # bits of level 0 per context
        plane, intra, cue = (g.reshape(-1, 1) for g in np.meshgrid(np.arange(2), np.arange(2), np.arange(N_CUE),
                                                                    indexing="ij"))   # (2 * 2 * N_CUE, 1)
        z = np.zeros((plane.size, 64))
        for last in range(1, 64):
            z[:, last] = b0[cx.coef(plane, intra, BAND[:last], 0, LAST_BUCKET[last], cue)].sum(-1)
        model.derived["zero_run"] = z
    return z

def quantise_rd(coder, coefs, step_tu, lam, wt, intra, cue_tu, model):
    """Levels (dead zone + rate-aware rounding), last position, squared errors of the coded and
    zeroed unit, and bits of last + levels, for every candidate and transform unit. Dense work is
    a few passes over the coefficients; rates and errors are computed on the non-zero levels."""
    cfg, m = coder.config, model
    nm = coefs.shape[0]
    mode_ids = np.array([cx.MODE_I]) if intra else cx.INTER_MODE_IDS[:nm]
    lctx = cx.tu(mode_ids[:, None, None], cue_tu[None])                # (M, NB, 6)
    if kernels.ENABLED:
        return _compiled_rd(coefs, step_tu, cfg, lam, wt, intra, cue_tu, m, lctx)
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
        ctx = cx.coef(PLANE_OF_TU[ti], intra, BAND[ki], 0, LAST_BUCKET[lst], cue_tu[bi, ti])
        lo = lv - 1
        w = (wt[ti] * step_tu[ti] ** 2)
        j_hi = w * (av - lv) ** 2 + lam * bits_of(ctx, lv)
        j_lo = w * (av - lo) ** 2 + lam * bits_of(ctx, lo)
        lv = np.where(j_lo < j_hi, lo, lv)
        keep = lv > 0
        mi, bi, ti, ki, av, lv = mi[keep], bi[keep], ti[keep], ki[keep], av[keep], lv[keep]
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
    z = zero_run_bits(m)
    tu_base = ((PLANE_OF_TU * 2 + int(intra)) * N_CUE)[None, None, :] + cue_tu[None]   # (1, NB, 6)
    b = z[tu_base, lc]
    is_last = ki == lst
    ctx = cx.coef(PLANE_OF_TU[ti], intra, BAND[ki], is_last, LAST_BUCKET[lst], cue_tu[bi, ti])
    contrib = bits_of(ctx, lv) - np.where(is_last, 0.0, coef_bits[ctx, COEF_K])
    b = b + np.bincount(tflat, contrib, last.size).reshape(last.shape)
    b = b + m.bits["last"][lctx, lc]
    return levels, last, d_q, d_0, b


def _compiled_rd(coefs, step_tu, cfg, lam, wt, intra, cue_tu, m, lctx):
    """:func:`quantise_rd` by the compiled kernel (:func:`svc.enhancement.kernels.quantise_rd`): the same
    (levels, last, d_q, d_0, bits); the unit's error ``d_0`` is summed by the same ``einsum``."""
    strides = np.array([cx.S_PLANE, cx.S_INTRA, cx.S_BAND, cx.S_ISLAST, cx.S_LB, N_CUE], np.int64)
    levels, last, a, gain, b = kernels.quantise_rd(
        np.ascontiguousarray(coefs, np.float64), np.ascontiguousarray(step_tu, np.float64), float(cfg.rounding),
        bool(cfg.rdoq), float(lam), np.ascontiguousarray(wt, np.float64), int(intra),
        np.ascontiguousarray(cue_tu, np.int64), m.bits["coef"], COEF_K, zero_run_bits(m), m.bits["last"],
        np.ascontiguousarray(lctx, np.int64), PLANE_OF_TU.astype(np.int64), BAND.astype(np.int64),
        LAST_BUCKET.astype(np.int64), strides)
    d_0 = np.einsum("...k,...k->...", a, a) * step_tu ** 2
    return levels, last, d_0 - gain, d_0, b


def choose_modes(cfg, m, lam, wt, intra: bool, mode_ids, cue_tu, blk_ctx, last, d_q, d_0, bits_q, delta=None,
                 inside=None):
    """Each unit's block symbol by J = D + lambda * bits over the candidates (``M`` predictions; the
    first is R), with the TU coded flags that go with it. Inputs per candidate from :func:`quantise_rd`
    (``last``, ``d_q``, ``d_0``, ``bits_q``: (M, NB, 6)); ``delta`` (NB,) the refinement of mode D
    (inter frames); ``inside`` (NB,) bool: units outside are R with no residual. The guard: no unit's
    luma error may exceed that of R as it is, whatever lambda says. Returns (choice (NB,): intra 0/1 =
    R skip/coded, inter 2 * prediction + coded; cbf (M, NB, 6) bool)."""
    cbf_ctx = cx.tu(mode_ids[:, None, None], cue_tu[None])    # (M, NB, 6)
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
        b_blk = m.bits["blk_i"][blk_ctx]                                 # (NB, 2)
        j = np.stack([j_skip[0] + lam * b_blk[:, 0], j_coded[0] + lam * b_blk[:, 1]], -1)   # (NB, 2)
        j[:, 1] = np.where(dy_coded[0] > limit, np.inf, j[:, 1]) if cfg.guard else j[:, 1]
        if not cfg.skip:
            j[:, 0] = np.inf
        if inside is not None:
            j[~inside, 0], j[~inside, 1] = 0.0, np.inf     # outside the regions: R, no residual
        choice = np.argmin(j, -1)
    else:
        b_blk = m.bits["blk_p"][blk_ctx]                                 # (NB, 8)
        b_mvd = m.bits["mvd"][0, delta]
        j = np.empty((blk_ctx.size, 8))
        for pm in range(cx.INTER_MODE_IDS.size):
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
    return choice, cbf


def visible_guard(coder, full_t, o_t, c_t, choice, pmode, coded, tu_cbf) -> None:
    """The decisions estimate errors in the transform domain over the padded unit; the reconstruction is
    rounded and clipped and only the visible pixels count: a unit whose visible luma error ends above
    R's (candidate 0 of ``c_t``) falls back to R skip (exactly R, no residual). Updates the arrays in place."""
    worse = coder._visible_sse(full_t, o_t) > coder._visible_sse(c_t[0], o_t)
    if worse.any():
        choice[worse], pmode[worse], coded[worse], tu_cbf[worse] = 0, 0, False, False
        full_t[worse] = c_t[0, worse]
