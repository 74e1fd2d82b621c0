"""Decoder-side motion for the block enhancement coder, and integer motion compensation.

Both ends know the decoded base frames, so motion estimated on them costs no bits. Everything that
decides a vector or a predicted sample is integer arithmetic (or integer-valued float arithmetic
whose values stay below 2**24 / 2**53, which IEEE computes exactly in any order), so encoder and
decoder derive identical vectors and predictions on any machine.

- :func:`estimate` -- hierarchical block search (quarter-resolution full search, half- and full-
  resolution +-1 refinement, quarter-pel refinement from the SAD parabola) for 16x16 blocks.
- :class:`LumaMC` -- quarter-pel luma prediction with HEVC's 8-tap filters (all 16 phase planes
  are computed once per reference, so many candidate vectors cost one gather each).
- :func:`chroma_mc` -- eighth-pel bilinear chroma prediction for 4:2:0 (the luma quarter-pel vector
  in chroma eighth-pel units).
Vectors are (dy, dx) in luma quarter-pel units: ``pred[y, x] = ref[y + dy/4, x + dx/4]``.
"""
from __future__ import annotations

import cv2
import numpy as np

from svc.enhancement import kernels

PU = 16            # prediction unit (luma samples)
SEARCH_Q = 6       # quarter-resolution full search range: +-24 luma samples
PAD = 48           # reference padding (luma samples) >= max vector + filter reach

_TAPS = np.array([[0, 0, 0, 64, 0, 0, 0, 0],
                  [-1, 4, -10, 58, 17, -5, 1, 0],
                  [-1, 4, -11, 40, 40, -11, 4, -1],
                  [0, 1, -5, 17, 58, -10, 4, -1]], np.float32)


def _down(plane: np.ndarray, f: int) -> np.ndarray:
    """f x f integer mean (rounded) of an int16 plane, dims multiples of f (int16 from the kernel, int32
    from the reference: the caller casts)."""
    if kernels.ENABLED:
        return kernels.down(np.ascontiguousarray(plane, np.int16), f)
    h, w = plane.shape
    s = plane.reshape(h // f, f, w // f, f).sum(axis=(1, 3), dtype=np.int32)
    return (s + (f * f) // 2) // (f * f)


def _grid(by: int, bx: int, bs: int):
    ys = (np.arange(by) * bs)[:, None, None, None] + np.arange(bs)[None, None, :, None]
    xs = (np.arange(bx) * bs)[None, :, None, None] + np.arange(bs)[None, None, None, :]
    return ys, xs      # (By,1,bs,1), (1,Bx,1,bs)


def _blocks(plane: np.ndarray, bs: int) -> np.ndarray:
    h, w = plane.shape
    return plane.reshape(h // bs, bs, w // bs, bs).transpose(0, 2, 1, 3)


def _offsets(rng: int) -> np.ndarray:
    """(K, 2) integer offsets of a +-rng window, in tie-break order: smaller |dy| + |dx| first, then
    raster order."""
    offs = sorted(((dy, dx) for dy in range(-rng, rng + 1) for dx in range(-rng, rng + 1)),
                  key=lambda o: (abs(o[0]) + abs(o[1]), o))
    return np.array(offs, np.int32)


def _sads(cur, ref, bs, vy, vx, offs, pad):
    """SAD of every block (bs x bs) of ``cur`` against ``ref`` at vectors (vy, vx) + each offset:
    (K, By, Bx) int32, one vectorised gather (flat indices into the padded reference)."""
    by, bx = vy.shape
    rp = np.pad(ref, pad, mode="edge")
    ty = np.clip(vy[None] + offs[:, 0, None, None], -pad, pad)                     # (K,By,Bx)
    tx = np.clip(vx[None] + offs[:, 1, None, None], -pad, pad)
    if kernels.ENABLED:
        return kernels.block_sads(cur, rp, pad, bs, ty.astype(np.int64), tx.astype(np.int64)), ty, tx
    wp = rp.shape[1]
    ys, xs = _grid(by, bx, bs)
    base = ((ys + pad) * wp + xs + pad).astype(np.int32)                            # (By,Bx,bs,bs)
    idx = base[None] + (ty * wp + tx)[..., None, None].astype(np.int32)
    r = np.take(rp, idx)                                                             # (K,By,Bx,bs,bs)
    d = np.abs(r - _blocks(cur, bs)[None])
    return d.reshape(len(offs), by, bx, bs * bs).sum(-1, dtype=np.int32), ty, tx


def _best(sads, ty, tx):
    """Per block the first (in offset order) vector of least SAD."""
    k = np.argmin(sads, 0)
    sel = (k[None] == np.arange(len(sads))[:, None, None])
    return (ty * sel).sum(0), (tx * sel).sum(0), k


def _full_search(cur, ref, bs, rng):
    """Integer full search +-rng per bs x bs block (all offsets at once on the padded reference)."""
    h, w = cur.shape
    by, bx = h // bs, w // bs
    rp = np.pad(ref, rng, mode="edge")
    offs = _offsets(rng)
    if kernels.ENABLED:
        return kernels.full_search(cur, rp, bs, rng, offs)
    win = np.lib.stride_tricks.sliding_window_view(rp, (h, w))                      # (2r+1, 2r+1, h, w)
    win = win[offs[:, 0] + rng, offs[:, 1] + rng]                                    # (K, h, w)
    d = np.abs(win - cur[None]).astype(np.int32)
    while d.shape[-1] > bx:                     # block sums by pairwise strided adds (fast)
        d = d[..., 0::2] + d[..., 1::2]
    while d.shape[-2] > by:
        d = d[..., 0::2, :] + d[..., 1::2, :]
    k = np.argmin(d, 0)
    return offs[k, 0], offs[k, 1]


_WIN1 = _offsets(1)
_CROSS = np.array([(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)], np.int32)


def estimate(cur: np.ndarray, ref: np.ndarray, subpel: bool = True):
    """Motion of ``cur`` from ``ref`` (both (H, W) luma, H and W multiples of 16) per 16x16 block:
    ((By, Bx, 2) int32 quarter-pel vectors, (By, Bx) int64 SAD at the integer vector), the same at
    both ends (decoder-side)."""
    cur = cur.astype(np.int16)
    ref = ref.astype(np.int16)
    # quarter resolution: full search
    c4, r4 = _down(cur, 4).astype(np.int16), _down(ref, 4).astype(np.int16)
    vy, vx = _full_search(c4, r4, PU // 4, SEARCH_Q)
    # half and full resolution: +-1 around the doubled vector
    c2, r2 = _down(cur, 2).astype(np.int16), _down(ref, 2).astype(np.int16)
    pad1 = 2 * SEARCH_Q + 2
    vy, vx, _ = _best(*_sads(c2, r2, PU // 2, 2 * vy, 2 * vx, _WIN1, pad1))
    pad0 = 4 * SEARCH_Q + 8
    sads, ty, tx = _sads(cur, ref, PU, 2 * vy, 2 * vx, _WIN1, pad0)
    vy, vx, k = _best(sads, ty, tx)
    if not subpel:
        best = np.take_along_axis(sads, k[None], 0)[0].astype(np.int64)
        return np.stack([4 * vy, 4 * vx], axis=-1).astype(np.int32), best
    # quarter-pel offset from the SAD parabola through the integer minimum, per axis:
    # round(2 * (s- - s+) / d) = floor((4 * (s- - s+) + d) / (2 * d)), d = s- - 2 s0 + s+ > 0
    s, _, _ = _sads(cur, ref, PU, vy, vx, _CROSS, pad0 + 1)
    s = s.astype(np.int64)
    out = []
    for sm, sp in ((s[1], s[2]), (s[3], s[4])):
        d = sm - 2 * s[0] + sp
        safe = np.where(d > 0, d, 1)
        q = np.floor_divide(4 * (sm - sp) + safe, 2 * safe)
        out.append(np.where(d > 0, np.clip(q, -2, 2), 0))
    return np.stack([4 * vy + out[0], 4 * vx + out[1]], axis=-1).astype(np.int32), s[0]


class LumaMC:
    """Quarter-pel luma prediction from one reference plane (H, W), H and W multiples of 16."""

    def __init__(self, ref: np.ndarray, max_value: int = 255):
        self.h, self.w = ref.shape
        if kernels.ENABLED:
            p = np.pad(ref.astype(np.int32), PAD, mode="edge")
            self.phases = np.empty((16,) + p.shape, np.uint8 if max_value <= 255 else np.uint16)
            kernels.luma_phases(p, _TAPS.astype(np.int32), max_value, self.phases)
        else:
            p = np.pad(ref.astype(np.float32), PAD, mode="edge")
            self.phases = self._phases(p, max_value)
        by, bx = self.h // PU, self.w // PU
        ys, xs = _grid(by, bx, PU)
        self._base = (ys * p.shape[1] + xs).astype(np.int64)                         # (By,Bx,PU,PU)

    @staticmethod
    def _phases(p: np.ndarray, max_value: int) -> np.ndarray:
        """The reference: (16, Hp, Wp) phase planes of the padded float32 plane ``p``."""
        phases = np.empty((16,) + p.shape, np.uint8 if max_value <= 255 else np.uint16)
        # integer-valued float32: every product and partial sum < 2**24, so exact in any order;
        # one horizontal pass per x phase, then one vertical pass per (y, x) phase
        hor = [p * 64.0] + [cv2.filter2D(p, cv2.CV_32F, _TAPS[fx][None, :], anchor=(3, 0),
                                         borderType=cv2.BORDER_REPLICATE) for fx in (1, 2, 3)]
        for fy in range(4):
            for fx in range(4):
                if fx == 0 and fy == 0:
                    phases[0] = p
                    continue
                v = hor[fx] * 64.0 if fy == 0 else cv2.filter2D(hor[fx], cv2.CV_32F, _TAPS[fy][:, None],
                                                                 anchor=(0, 3), borderType=cv2.BORDER_REPLICATE)
                phases[fy * 4 + fx] = np.clip(np.floor((v + 2048.0) / 4096.0), 0, max_value)
        return phases

    def predict(self, mv: np.ndarray) -> np.ndarray:
        """(By, Bx, 2) quarter-pel vectors -> (H, W) int32 prediction."""
        vy, vx = mv[..., 0], mv[..., 1]
        iy = np.clip(vy >> 2, -PAD + 4, PAD - 4)
        ix = np.clip(vx >> 2, -PAD + 4, PAD - 4)
        ph = (vy & 3) * 4 + (vx & 3)
        hp, wp = self.phases.shape[1:]
        off = (ph * hp + iy + PAD) * wp + ix + PAD                                   # (By,Bx)
        out = np.take(self.phases, self._base + off[:, :, None, None].astype(np.int64))
        by, bx = vy.shape
        return out.transpose(0, 2, 1, 3).reshape(by * PU, bx * PU).astype(np.int32)


def _clamp(coords: np.ndarray, lo, hi) -> np.ndarray:
    return coords if lo is None else np.clip(coords, lo, hi)


def _bounds(bounds, pad: int, scale: int = 1):
    """Per-block (y_lo, y_hi, x_lo, x_hi) inclusive padded-plane coordinates of ``bounds`` (By, Bx, 4)
    = (y0, y1, x0, x1) luma pixels, exclusive ends, divided by ``scale``; (None,) * 4 without bounds."""
    if bounds is None:
        return None, None, None, None
    b = np.asarray(bounds, np.int64)[:, :, :, None, None] // scale + pad
    return b[:, :, 0], b[:, :, 1] - 1, b[:, :, 2], b[:, :, 3] - 1


def _kernel_args(mv):
    """(vy, vx) of (By, Bx, 2) vectors as contiguous int64 planes, for the kernels."""
    mv = np.asarray(mv, np.int64)
    return np.ascontiguousarray(mv[..., 0]), np.ascontiguousarray(mv[..., 1])


def _kernel_bounds(bounds, by: int, bx: int):
    """(bounds (By, Bx, 4) int64, has_bounds) for the kernels (zeros when there are none)."""
    if bounds is None:
        return np.zeros((by, bx, 4), np.int64), False
    return np.ascontiguousarray(np.asarray(bounds, np.int64)), True


def chroma_mc(ref: np.ndarray, mv: np.ndarray, bounds=None, origin=(0, 0)) -> np.ndarray:
    """Eighth-pel bilinear prediction of a 4:2:0 chroma plane (H/2, W/2) by luma quarter-pel vectors
    (By, Bx, 2) (= chroma eighth-pel), 8x8 chroma blocks -> (H/2, W/2) int32. ``bounds`` (By, Bx, 4):
    per block the luma rectangle (y0, y1, x0, x1) it may read, edges extended beyond it (motion-
    constrained tiles); None: the whole plane. ``origin`` (row, column) in blocks: ``mv`` covers the
    blocks from there (a part of the plane; the output is that part)."""
    bs = PU // 2
    pad = PAD // 2
    rp = np.pad(ref.astype(np.int32), pad, mode="edge")
    by, bx = mv.shape[:2]
    if kernels.ENABLED:
        return kernels.chroma_mc(rp, *_kernel_args(mv), *_kernel_bounds(bounds, by, bx),
                                 origin[0], origin[1], bs, pad)
    vy, vx = mv[..., 0], mv[..., 1]
    iy = np.clip(vy >> 3, -pad + 2, pad - 2)[:, :, None, None]
    ix = np.clip(vx >> 3, -pad + 2, pad - 2)[:, :, None, None]
    fy = (vy & 7)[:, :, None, None]
    fx = (vx & 7)[:, :, None, None]
    ys, xs = _grid(by, bx, bs)
    ys, xs = ys + origin[0] * bs, xs + origin[1] * bs
    ylo, yhi, xlo, xhi = _bounds(bounds, pad, 2)
    y0 = ys + iy + pad
    x0 = xs + ix + pad
    y1, x1 = _clamp(y0 + 1, ylo, yhi), _clamp(x0 + 1, xlo, xhi)
    y0, x0 = _clamp(y0, ylo, yhi), _clamp(x0, xlo, xhi)
    a = rp[y0, x0]
    b = rp[y0, x1]
    c = rp[y1, x0]
    d = rp[y1, x1]
    out = ((8 - fy) * ((8 - fx) * a + fx * b) + fy * ((8 - fx) * c + fx * d) + 32) >> 6
    return out.transpose(0, 2, 1, 3).reshape(by * bs, bx * bs).astype(np.int32)


def luma_mc(ref: np.ndarray, mv: np.ndarray, max_value: int = 255, bounds=None, origin=(0, 0)) -> np.ndarray:
    """Quarter-pel luma prediction (HEVC 8-tap filters) of the 16x16 blocks at vectors ``mv``
    (By, Bx, 2) from ``ref`` (H, W): (H, W) int32. Per-block gather and filtering (cheap when each
    block needs one vector); identical to :meth:`LumaMC.predict` without ``bounds``. ``bounds``
    (By, Bx, 4): per block the rectangle (y0, y1, x0, x1) it may read, its edges extended beyond
    (motion-constrained tiles). ``origin`` (row, column) in blocks: ``mv`` covers the blocks from
    there (a part of the plane; the output is that part)."""
    h, w = ref.shape
    by, bx = mv.shape[:2]
    rp = np.pad(ref.astype(np.int32), PAD, mode="edge")
    if kernels.ENABLED:
        return kernels.luma_mc(rp, *_kernel_args(mv), _TAPS.astype(np.int32), *_kernel_bounds(bounds, by, bx),
                               origin[0], origin[1], max_value, PU, PAD)
    vy, vx = mv[..., 0], mv[..., 1]
    iy = np.clip(vy >> 2, -PAD + 4, PAD - 4)[:, :, None, None]
    ix = np.clip(vx >> 2, -PAD + 4, PAD - 4)[:, :, None, None]
    taps = _TAPS.astype(np.int32)
    ty = taps[vy & 3][:, :, :, None, None]          # (By,Bx,8,1,1)
    tx = taps[vx & 3][:, :, :, None, None]
    r = np.arange(PU + 7) - 3
    ys = ((np.arange(by) + origin[0]) * PU)[:, None, None, None] + r[None, None, :, None] + iy + PAD
    xs = ((np.arange(bx) + origin[1]) * PU)[None, :, None, None] + r[None, None, None, :] + ix + PAD
    ylo, yhi, xlo, xhi = _bounds(bounds, PAD)
    patch = rp[_clamp(ys, ylo, yhi), _clamp(xs, xlo, xhi)]                    # (By,Bx,23,23)
    hor = sum(tx[:, :, k] * patch[:, :, :, k:k + PU] for k in range(8))        # (By,Bx,23,16)
    ver = sum(ty[:, :, k] * hor[:, :, k:k + PU, :] for k in range(8))          # (By,Bx,16,16)
    out = np.clip((ver + 2048) >> 12, 0, max_value)
    return out.transpose(0, 2, 1, 3).reshape(by * PU, bx * PU).astype(np.int32)
