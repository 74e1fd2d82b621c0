"""Compiled (numba) kernels of the block coder's and the restoration's integer hot loops.

Each kernel computes exactly what its numpy reference in :mod:`svc.enhancement.dmotion` /
:mod:`svc.enhancement.align` computes -- integer arithmetic only, the same tie-breaks -- so streams are
byte-identical whichever runs (``tests/test_kernels.py`` checks them against each other on random
planes, and encodes with both). The numpy code stays the reference: ``SVC_KERNELS=reference`` in the
environment selects it (and it runs where numba cannot be imported).

Compiled once per machine: ``cache=True`` keeps the machine code beside this file (or in
``$NUMBA_CACHE_DIR``), so a process pays a few milliseconds to load it, not the compilation.
Kernels release the GIL (``nogil``). Shapes and units are those of the reference functions.
"""
from __future__ import annotations

import numpy as np

from svc.compiled import ENABLED, njit  # noqa: F401  (kernels.ENABLED: the switch this module's users read)


@njit(cache=True, nogil=True)
def down(plane, f):
    """``f`` x ``f`` rounded integer mean of an int16 plane (dims multiples of ``f``) -> int16."""
    h, w = plane.shape
    out = np.empty((h // f, w // f), np.int16)
    half, area = (f * f) // 2, f * f
    for i in range(h // f):
        for j in range(w // f):
            s = 0
            for u in range(f):
                for v in range(f):
                    s += plane[i * f + u, j * f + v]
            out[i, j] = (s + half) // area
    return out


@njit(cache=True, nogil=True)
def full_search(cur, rp, bs, rng, offs):
    """Integer full search: per ``bs`` x ``bs`` block of ``cur`` (int16), the first offset of ``offs``
    (K, 2) (in its order) of least SAD against ``rp`` (``cur``'s reference edge-padded by ``rng``).
    Returns (vy, vx) int32 (By, Bx). Offsets outermost, whole rows innermost (vectorised)."""
    h, w = cur.shape
    by, bx = h // bs, w // bs
    best = np.full((by, bx), np.int32(2 ** 31 - 1), np.int32)
    bk = np.zeros((by, bx), np.int32)
    col = np.empty(w, np.int32)
    for k in range(offs.shape[0]):
        oy, ox = rng + offs[k, 0], rng + offs[k, 1]
        for i in range(by):
            col[:] = 0
            for u in range(bs):
                rrow = rp[oy + i * bs + u, ox:ox + w]
                crow = cur[i * bs + u]
                for x in range(w):
                    col[x] += abs(np.int32(rrow[x]) - np.int32(crow[x]))
            for j in range(bx):
                t = np.int32(0)
                for v in range(bs):
                    t += col[j * bs + v]
                if t < best[i, j]:          # strictly less: the first offset of least SAD wins
                    best[i, j] = t
                    bk[i, j] = k
    vy = np.empty((by, bx), np.int32)
    vx = np.empty((by, bx), np.int32)
    for i in range(by):
        for j in range(bx):
            vy[i, j], vx[i, j] = offs[bk[i, j], 0], offs[bk[i, j], 1]
    return vy, vx


@njit(cache=True, nogil=True)
def block_sads(cur, rp, pad, bs, ty, tx):
    """SAD (int32) of each ``bs`` x ``bs`` block (i, j) of ``cur`` against ``rp`` (the reference
    edge-padded by ``pad``) displaced by (ty[k, i, j], tx[k, i, j]) (already clipped to +-pad):
    (K, By, Bx)."""
    K, by, bx = ty.shape
    out = np.empty((K, by, bx), np.int32)
    col = np.empty(bs, np.int32)
    for k in range(K):
        for i in range(by):
            for j in range(bx):
                oy, ox = i * bs + pad + ty[k, i, j], j * bs + pad + tx[k, i, j]
                col[:] = 0
                for u in range(bs):
                    rrow = rp[oy + u, ox:ox + bs]
                    crow = cur[i * bs + u, j * bs:j * bs + bs]
                    for v in range(bs):
                        col[v] += abs(np.int32(rrow[v]) - np.int32(crow[v]))
                s = np.int32(0)
                for v in range(bs):
                    s += col[v]
                out[k, i, j] = s
    return out


@njit(cache=True, nogil=True)
def _block_bounds(bounds, i, j, scale, pad, has_bounds):
    """Block (i, j)'s readable rectangle in padded-plane samples, inclusive: (y_lo, y_hi, x_lo, x_hi) of
    the luma rectangle ``bounds[i, j]`` (y0, y1, x0, x1, exclusive ends) divided by ``scale`` (as
    ``dmotion._bounds``); zeros without bounds (unused then)."""
    if not has_bounds:
        return 0, 0, 0, 0
    return (bounds[i, j, 0] // scale + pad, bounds[i, j, 1] // scale + pad - 1,
            bounds[i, j, 2] // scale + pad, bounds[i, j, 3] // scale + pad - 1)


@njit(cache=True, nogil=True)
def luma_mc(rp, vy, vx, taps, bounds, has_bounds, oy, ox, maxv, pu, pad):
    """Quarter-pel 8-tap luma prediction of ``pu`` x ``pu`` blocks (see ``dmotion.luma_mc``): ``rp``
    int32 reference padded by ``pad``; ``vy``/``vx`` (By, Bx) quarter-pel; ``taps`` (4, 8) int32;
    ``bounds`` (By, Bx, 4) luma rectangles (used when ``has_bounds``); (``oy``, ``ox``) the first
    block's position in blocks. -> (By * pu, Bx * pu) int32."""
    by, bx = vy.shape
    n = pu + 7
    out = np.empty((by * pu, bx * pu), np.int32)
    patch = np.empty((n, n), np.int32)
    hor = np.empty((n, pu), np.int32)
    for i in range(by):
        for j in range(bx):
            iy = min(max(vy[i, j] >> 2, -pad + 4), pad - 4)
            ix = min(max(vx[i, j] >> 2, -pad + 4), pad - 4)
            fy, fx = vy[i, j] & 3, vx[i, j] & 3
            ylo, yhi, xlo, xhi = _block_bounds(bounds, i, j, 1, pad, has_bounds)
            for r in range(n):
                yy = (i + oy) * pu + r - 3 + iy + pad
                if has_bounds:
                    yy = min(max(yy, ylo), yhi)
                for c in range(n):
                    xx = (j + ox) * pu + c - 3 + ix + pad
                    if has_bounds:
                        xx = min(max(xx, xlo), xhi)
                    patch[r, c] = rp[yy, xx]
            for r in range(n):
                for c in range(pu):
                    s = 0
                    for k in range(8):
                        s += taps[fx, k] * patch[r, c + k]
                    hor[r, c] = s
            for r in range(pu):
                for c in range(pu):
                    s = 0
                    for k in range(8):
                        s += taps[fy, k] * hor[r + k, c]
                    out[i * pu + r, j * pu + c] = min(max((s + 2048) >> 12, 0), maxv)
    return out


@njit(cache=True, nogil=True)
def chroma_mc(rp, vy, vx, bounds, has_bounds, oy, ox, bs, pad):
    """Eighth-pel bilinear chroma prediction of ``bs`` x ``bs`` blocks (see ``dmotion.chroma_mc``):
    ``rp`` int32 chroma plane padded by ``pad``; ``bounds`` luma rectangles (halved here).
    -> (By * bs, Bx * bs) int32."""
    by, bx = vy.shape
    out = np.empty((by * bs, bx * bs), np.int32)
    for i in range(by):
        for j in range(bx):
            iy = min(max(vy[i, j] >> 3, -pad + 2), pad - 2)
            ix = min(max(vx[i, j] >> 3, -pad + 2), pad - 2)
            fy, fx = vy[i, j] & 7, vx[i, j] & 7
            ylo, yhi, xlo, xhi = _block_bounds(bounds, i, j, 2, pad, has_bounds)
            for r in range(bs):
                y0 = (i + oy) * bs + r + iy + pad
                y1 = y0 + 1
                if has_bounds:
                    y0, y1 = min(max(y0, ylo), yhi), min(max(y1, ylo), yhi)
                for c in range(bs):
                    x0 = (j + ox) * bs + c + ix + pad
                    x1 = x0 + 1
                    if has_bounds:
                        x0, x1 = min(max(x0, xlo), xhi), min(max(x1, xlo), xhi)
                    a, b, cc, d = rp[y0, x0], rp[y0, x1], rp[y1, x0], rp[y1, x1]
                    out[i * bs + r, j * bs + c] = ((8 - fy) * ((8 - fx) * a + fx * b)
                                                   + fy * ((8 - fx) * cc + fx * d) + 32) >> 6
    return out


@njit(cache=True, nogil=True)
def refine(cur, ref, cy, cx, block, unit):
    """Per ``block`` x ``block`` block (i, j) of ``cur`` (uint8), the vector within +-1 of (cy, cx)[i, j]
    of least SAD + ``unit`` * (|vy| + |vx|) against ``ref`` (uint8, coordinates clamped to the plane);
    ties: the first offset in raster order (see ``align._refine``). -> (vy, vx, sad) int32 (By, Bx)."""
    by, bx = cy.shape
    h, w = ref.shape
    vy = np.empty((by, bx), np.int32)
    vx = np.empty((by, bx), np.int32)
    sad = np.empty((by, bx), np.int32)
    for i in range(by):
        for j in range(bx):
            best, bvy, bvx, bsad = np.int64(1) << 62, 0, 0, 0
            for dy in range(-1, 2):
                for dx in range(-1, 2):
                    ty, tx = cy[i, j] + dy, cx[i, j] + dx
                    y0, x0 = i * block + ty, j * block + tx
                    s = 0
                    if y0 >= 0 and x0 >= 0 and y0 + block <= h and x0 + block <= w:   # inside: no clamping
                        for u in range(block):
                            for v in range(block):
                                s += abs(np.int32(ref[y0 + u, x0 + v]) - np.int32(cur[i * block + u, j * block + v]))
                    else:
                        for u in range(block):
                            yy = min(max(y0 + u, 0), h - 1)
                            for v in range(block):
                                xx = min(max(x0 + v, 0), w - 1)
                                s += abs(np.int32(ref[yy, xx]) - np.int32(cur[i * block + u, j * block + v]))
                    cost = s + (abs(ty) + abs(tx)) * unit
                    if cost < best:
                        best, bvy, bvx, bsad = cost, ty, tx, s
            vy[i, j], vx[i, j], sad[i, j] = bvy, bvx, bsad
    return vy, vx, sad


@njit(cache=True, nogil=True)
def best_refinement(phases, orig, vy, vx, deltas, rng, pu, pad):
    """Encoder: per ``pu`` x ``pu`` unit, the index into ``deltas`` (K, 2) (quarter-pel refinements
    with max(|dy|, |dx|) <= ``rng``) whose prediction from ``phases`` (16, H + 2 pad, W + 2 pad: the
    reference's quarter-pel phase planes, see ``dmotion.LumaMC``) at (vy, vx) + delta has the least
    SAD against ``orig`` (int32 (H, W)); ties: the first index (see ``decision.search_delta``)."""
    by, bx = vy.shape
    out = np.zeros(by * bx, np.int32)
    for i in range(by):
        for j in range(bx):
            best, first = np.int64(0), True
            for k in range(deltas.shape[0]):
                if max(abs(deltas[k, 0]), abs(deltas[k, 1])) > rng:
                    continue
                y, x = vy[i, j] + deltas[k, 0], vx[i, j] + deltas[k, 1]
                iy = min(max(y >> 2, -pad + 4), pad - 4)
                ix = min(max(x >> 2, -pad + 4), pad - 4)
                ph = (y & 3) * 4 + (x & 3)
                s = np.int64(0)
                for u in range(pu):
                    prow = phases[ph, i * pu + u + iy + pad, j * pu + ix + pad:j * pu + ix + pad + pu]
                    orow = orig[i * pu + u, j * pu:j * pu + pu]
                    for v in range(pu):
                        s += abs(np.int64(orow[v]) - np.int64(prow[v]))
                if first or s < best:
                    best, first = s, False
                    out[i * bx + j] = k
    return out


@njit(cache=True, nogil=True)
def _level_bits(coef_bits, ctx, mag, k_max):
    """Bits of a level of magnitude ``mag`` (a float holding an integer) in context ``ctx``: the table's
    entry up to ``k_max``, else the escape (see ``decision.quantise_rd``'s ``bits_of``: the same float
    operations; ceil(log2(n) / 4) computed on integers, which equals it for every n < 2**50)."""
    if mag <= k_max:
        return coef_bits[ctx, np.int64(mag) + k_max]
    n = np.int64(2.0 * (mag - k_max - 1)) + 1
    e = 0
    while (np.int64(1) << (4 * e)) < n:
        e += 1
    return coef_bits[ctx, coef_bits.shape[1] - 1] + 4.0 + 4.0 * e


@njit(cache=True, nogil=True)
def quantise_rd(coefs, step_tu, rounding, rdoq, lam, wt, intra, cue_tu, coef_bits, k_max, zrun, last_bits, lctx,
                plane_of_tu, band, last_bucket, strides):
    """The rate-distortion quantiser of ``decision.quantise_rd``, one transform unit at a time: the same
    float64 operations in the same order (no fused multiply-adds; the per-unit sums add in scan order,
    as ``np.bincount`` does), so the same levels and decisions.

    ``coefs`` (M, NB, 6, 64) float64 in scan order; ``step_tu`` (6,); ``wt`` (6,) distortion weights;
    ``cue_tu`` (NB, 6); ``coef_bits`` (contexts, 2 ``k_max`` + 2) the bits of levels -k_max..k_max, then
    of the escape of larger ones;
    ``zrun`` (2 * 2 * N_CUE, 64) bits of zero runs (``decision.zero_run_bits``); ``last_bits`` the
    last-position table and ``lctx`` (M, NB, 6) each TU's context in it; ``strides`` (S_PLANE, S_INTRA,
    S_BAND, S_ISLAST, S_LB, N_CUE).
    Returns (levels int32 (M, NB, 6, 64), last int64 (M, NB, 6), the magnitudes |coefs| / step (M, NB, 6,
    64), the squared error the coded levels remove, bits float64 (M, NB, 6))."""
    nm, nb, nt, nk = coefs.shape
    s_plane, s_intra, s_band, s_islast, s_lb, n_cue = (strides[0], strides[1], strides[2], strides[3],
                                                       strides[4], strides[5])
    levels = np.zeros((nm, nb, nt, nk), np.int32)
    last = np.full((nm, nb, nt), -1, np.int64)
    mags = np.empty((nm, nb, nt, nk))
    gains = np.empty((nm, nb, nt))
    bits = np.empty((nm, nb, nt))
    lv = np.empty(nk)
    for m in range(nm):
        for b in range(nb):
            for t in range(nt):
                s = step_tu[t]
                cue = cue_tu[b, t]
                base_ctx = plane_of_tu[t] * s_plane + intra * s_intra + cue
                n = 0
                last0 = -1
                av = mags[m, b, t]
                for k in range(nk):
                    a = abs(coefs[m, b, t, k]) / s
                    av[k] = a
                    lvl = np.floor(a + rounding)
                    if lvl > 0:
                        lv[k] = lvl
                        last0 = k
                        n += 1
                    else:
                        lv[k] = 0.0
                lst = last0
                if rdoq and n:
                    w = wt[t] * (s * s)
                    lst = -1
                    for k in range(last0 + 1):
                        if lv[k] > 0:
                            ctx = base_ctx + band[k] * s_band + last_bucket[last0] * s_lb
                            hi, lo = lv[k], lv[k] - 1
                            e_hi, e_lo = av[k] - hi, av[k] - lo
                            j_hi = w * (e_hi * e_hi) + lam * _level_bits(coef_bits, ctx, hi, k_max)
                            j_lo = w * (e_lo * e_lo) + lam * _level_bits(coef_bits, ctx, lo, k_max)
                            if j_lo < j_hi:
                                lv[k] = lo
                            if lv[k] > 0:
                                lst = k
                last[m, b, t] = lst
                gain = 0.0
                contrib = 0.0
                s2 = s * s
                for k in range(lst + 1):
                    if lv[k] > 0:
                        c = coefs[m, b, t, k]
                        levels[m, b, t, k] = np.int32(np.sign(c) * lv[k])
                        e = av[k] - lv[k]
                        gain += (av[k] * av[k] - e * e) * s2
                        is_last = 1 if k == lst else 0
                        ctx = base_ctx + band[k] * s_band + is_last * s_islast + last_bucket[lst] * s_lb
                        r = _level_bits(coef_bits, ctx, lv[k], k_max)
                        contrib += r - (0.0 if is_last else coef_bits[ctx, k_max])
                gains[m, b, t] = gain
                lc = max(lst, 0)
                z = zrun[(plane_of_tu[t] * 2 + intra) * n_cue + cue, lc]
                bits[m, b, t] = (z + contrib) + last_bits[lctx[m, b, t], lc]
    return levels, last, mags, gains, bits


@njit(cache=True, nogil=True)
def luma_phases(p, taps, maxv, out):
    """The 16 quarter-pel phase planes of an edge-padded luma plane (see ``dmotion.LumaMC``): ``p``
    int32 (Hp, Wp); ``taps`` (4, 8) int32; ``out`` (16, Hp, Wp) receives phase fy * 4 + fx: the 8-tap
    horizontal pass (fx), then the vertical one (fy) on its sums, rounded by 2**12 and clipped to
    0..``maxv`` (filter taps read beyond the plane's edge repeat it). Integer sums (below 2**24 for
    10-bit samples): the same numbers as the float32 reference, whose sums are exact."""
    hp, wp = p.shape
    hor = np.empty((4, hp, wp), np.int32)
    ext = np.empty(wp + 7, np.int32)
    for y in range(hp):
        for x in range(wp):
            hor[0, y, x] = p[y, x] * 64
        for x in range(wp + 7):                       # the row with its edges repeated
            ext[x] = p[y, min(max(x - 3, 0), wp - 1)]
        for fx in range(1, 4):
            row = hor[fx, y]
            row[:] = 0
            for k in range(8):
                t = taps[fx, k]
                for x in range(wp):
                    row[x] += t * ext[x + k]
    acc = np.empty(wp, np.int32)
    for fy in range(4):
        for fx in range(4):
            ph = fy * 4 + fx
            for y in range(hp):
                if ph == 0:
                    for x in range(wp):
                        out[0, y, x] = p[y, x]
                    continue
                if fy == 0:
                    for x in range(wp):
                        acc[x] = hor[fx, y, x] * 64
                else:
                    acc[:] = 0
                    for k in range(8):
                        t = taps[fy, k]
                        src = hor[fx, min(max(y + k - 3, 0), hp - 1)]
                        for x in range(wp):
                            acc[x] += t * src[x]
                for x in range(wp):
                    out[ph, y, x] = min(max((acc[x] + 2048) >> 12, 0), maxv)
