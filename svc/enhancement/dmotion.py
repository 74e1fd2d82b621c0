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

PU = 16            # prediction unit (luma samples)
SEARCH_Q = 6       # quarter-resolution full search range: +-24 luma samples
PAD = 48           # reference padding (luma samples) >= max vector + filter reach

_TAPS = np.array([[0, 0, 0, 64, 0, 0, 0, 0],
                  [-1, 4, -10, 58, 17, -5, 1, 0],
                  [-1, 4, -11, 40, 40, -11, 4, -1],
                  [0, 1, -5, 17, 58, -10, 4, -1]], np.float32)


def _down(plane: np.ndarray, f: int) -> np.ndarray:
    """f x f integer mean (rounded), plane dims multiples of f."""
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


def _sad_at(cur_b, ref_pad, pad, ys, xs, vy, vx):
    """SAD per block of cur blocks (By,Bx,bs,bs) against ref at per-block integer vectors (By,Bx)."""
    r = ref_pad[ys + vy[:, :, None, None] + pad, xs + vx[:, :, None, None] + pad]
    return np.abs(cur_b - r).sum(axis=(2, 3), dtype=np.int64)


def _refine(cur, ref, bs, vy, vx, pad, rng=1):
    """Best of the (2*rng+1)**2 integer vectors around (vy, vx) per block (ties: smaller |offset|,
    then scan order). Returns vy, vx, best sad, and the sad of every tried offset (dict)."""
    by, bx = vy.shape
    cur_b = _blocks(cur, bs)
    ref_pad = np.pad(ref, pad, mode="edge")
    ys, xs = _grid(by, bx, bs)
    offs = sorted(((dy, dx) for dy in range(-rng, rng + 1) for dx in range(-rng, rng + 1)),
                  key=lambda o: (abs(o[0]) + abs(o[1]), o))
    best = None
    by_off = {}
    for dy, dx in offs:
        ty = np.clip(vy + dy, -pad, pad)
        tx = np.clip(vx + dx, -pad, pad)
        s = _sad_at(cur_b, ref_pad, pad, ys, xs, ty, tx)
        by_off[(dy, dx)] = s
        if best is None:
            best, bvy, bvx = s, ty, tx
        else:
            m = s < best
            best = np.where(m, s, best)
            bvy = np.where(m, ty, bvy)
            bvx = np.where(m, tx, bvx)
    return bvy, bvx, best


def _subpel(cur, ref, vy, vx, pad):
    """Quarter-pel offset (-2..2 per axis) from the SAD parabola through the integer minimum."""
    by, bx = vy.shape
    cur_b = _blocks(cur, PU)
    ref_pad = np.pad(ref, pad, mode="edge")
    ys, xs = _grid(by, bx, PU)
    s0 = _sad_at(cur_b, ref_pad, pad, ys, xs, vy, vx)
    out = []
    for ay, ax in ((1, 0), (0, 1)):
        sm = _sad_at(cur_b, ref_pad, pad, ys, xs, np.clip(vy - ay, -pad, pad), np.clip(vx - ax, -pad, pad))
        sp = _sad_at(cur_b, ref_pad, pad, ys, xs, np.clip(vy + ay, -pad, pad), np.clip(vx + ax, -pad, pad))
        d = sm - 2 * s0 + sp
        num = sm - sp
        # round(2 * num / d) = floor((4 * num + d) / (2 * d)), for d > 0
        safe = np.where(d > 0, d, 1)
        q = np.floor_divide(4 * num + safe, 2 * safe)
        q = np.where(d > 0, np.clip(q, -2, 2), 0)
        out.append(q.astype(np.int32))
    return out


def _full_search(cur, ref, bs, rng):
    """Integer full search +-rng per bs x bs block by slicing the padded reference (ties: smaller
    |offset|, then scan order)."""
    h, w = cur.shape
    by, bx = h // bs, w // bs
    rp = np.pad(ref, rng, mode="edge")
    offs = sorted(((dy, dx) for dy in range(-rng, rng + 1) for dx in range(-rng, rng + 1)),
                  key=lambda o: (abs(o[0]) + abs(o[1]), o))
    best = np.full((by, bx), np.iinfo(np.int64).max, np.int64)
    vy = np.zeros((by, bx), np.int32)
    vx = np.zeros((by, bx), np.int32)
    for dy, dx in offs:
        d = np.abs(cur - rp[rng + dy:rng + dy + h, rng + dx:rng + dx + w])
        s = d.reshape(by, bs, bx, bs).sum(axis=(1, 3), dtype=np.int64)
        m = s < best
        best = np.where(m, s, best)
        vy[m] = dy
        vx[m] = dx
    return vy, vx


def estimate(cur: np.ndarray, ref: np.ndarray, subpel: bool = True) -> np.ndarray:
    """Motion of ``cur`` from ``ref`` (both (H, W) luma, H and W multiples of 16) per 16x16 block:
    (By, Bx, 2) int32 quarter-pel vectors."""
    cur = cur.astype(np.int32)
    ref = ref.astype(np.int32)
    # quarter resolution: full search
    c4, r4 = _down(cur, 4), _down(ref, 4)
    vy, vx = _full_search(c4, r4, PU // 4, SEARCH_Q)
    # half and full resolution: +-1 around the doubled vector
    c2, r2 = _down(cur, 2), _down(ref, 2)
    vy, vx, _ = _refine(c2, r2, PU // 2, 2 * vy, 2 * vx, 2 * SEARCH_Q + 2, 1)
    vy, vx, _ = _refine(cur, ref, PU, 2 * vy, 2 * vx, 4 * SEARCH_Q + 8, 1)
    if subpel:
        qy, qx = _subpel(cur, ref, vy, vx, 4 * SEARCH_Q + 8)
        vy, vx = 4 * vy + qy, 4 * vx + qx
    else:
        vy, vx = 4 * vy, 4 * vx
    return np.stack([vy, vx], axis=-1).astype(np.int32)


class LumaMC:
    """Quarter-pel luma prediction from one reference plane (H, W), H and W multiples of 16."""

    def __init__(self, ref: np.ndarray, max_value: int = 255):
        self.h, self.w = ref.shape
        p = np.pad(ref.astype(np.float32), PAD, mode="edge")
        phases = np.empty((16,) + p.shape, np.uint8 if max_value <= 255 else np.uint16)
        for fy in range(4):
            for fx in range(4):
                if fx == 0 and fy == 0:
                    phases[0] = p
                    continue
                # integer-valued float32: every product and partial sum < 2**24, so exact
                v = cv2.sepFilter2D(p, cv2.CV_32F, _TAPS[fx], _TAPS[fy], anchor=(3, 3),
                                    borderType=cv2.BORDER_REPLICATE)
                phases[fy * 4 + fx] = np.clip(np.floor((v + 2048.0) / 4096.0), 0, max_value)
        self.phases = phases
        by, bx = self.h // PU, self.w // PU
        self.ys, self.xs = _grid(by, bx, PU)

    def predict(self, mv: np.ndarray) -> np.ndarray:
        """(By, Bx, 2) quarter-pel vectors -> (H, W) int32 prediction."""
        vy, vx = mv[..., 0], mv[..., 1]
        iy = np.clip(vy >> 2, -PAD + 4, PAD - 4)
        ix = np.clip(vx >> 2, -PAD + 4, PAD - 4)
        ph = ((vy & 3) * 4 + (vx & 3))[:, :, None, None]
        out = self.phases[ph, self.ys + iy[:, :, None, None] + PAD, self.xs + ix[:, :, None, None] + PAD]
        by, bx = vy.shape
        return out.transpose(0, 2, 1, 3).reshape(by * PU, bx * PU).astype(np.int32)


def chroma_mc(ref: np.ndarray, mv: np.ndarray) -> np.ndarray:
    """Eighth-pel bilinear prediction of a 4:2:0 chroma plane (H/2, W/2) by luma quarter-pel vectors
    (By, Bx, 2) (= chroma eighth-pel), 8x8 chroma blocks -> (H/2, W/2) int32."""
    bs = PU // 2
    pad = PAD // 2
    rp = np.pad(ref.astype(np.int32), pad, mode="edge")
    by, bx = mv.shape[:2]
    vy, vx = mv[..., 0], mv[..., 1]
    iy = np.clip(vy >> 3, -pad + 2, pad - 2)[:, :, None, None]
    ix = np.clip(vx >> 3, -pad + 2, pad - 2)[:, :, None, None]
    fy = (vy & 7)[:, :, None, None]
    fx = (vx & 7)[:, :, None, None]
    ys, xs = _grid(by, bx, bs)
    y0 = ys + iy + pad
    x0 = xs + ix + pad
    a = rp[y0, x0]
    b = rp[y0, x0 + 1]
    c = rp[y0 + 1, x0]
    d = rp[y0 + 1, x0 + 1]
    out = ((8 - fy) * ((8 - fx) * a + fx * b) + fy * ((8 - fx) * c + fx * d) + 32) >> 6
    return out.transpose(0, 2, 1, 3).reshape(by * bs, bx * bs).astype(np.int32)


def luma_mc(ref: np.ndarray, mv: np.ndarray, max_value: int = 255) -> np.ndarray:
    """Quarter-pel luma prediction (HEVC 8-tap filters) of the 16x16 blocks at vectors ``mv``
    (By, Bx, 2) from ``ref`` (H, W): (H, W) int32. Per-block gather and filtering (cheap when each
    block needs one vector); identical to :meth:`LumaMC.predict`."""
    h, w = ref.shape
    by, bx = mv.shape[:2]
    rp = np.pad(ref.astype(np.int32), PAD, mode="edge")
    vy, vx = mv[..., 0], mv[..., 1]
    iy = np.clip(vy >> 2, -PAD + 4, PAD - 4)[:, :, None, None]
    ix = np.clip(vx >> 2, -PAD + 4, PAD - 4)[:, :, None, None]
    taps = _TAPS.astype(np.int32)
    ty = taps[vy & 3][:, :, :, None, None]          # (By,Bx,8,1,1)
    tx = taps[vx & 3][:, :, :, None, None]
    r = np.arange(PU + 7) - 3
    ys = (np.arange(by) * PU)[:, None, None, None] + r[None, None, :, None] + iy + PAD
    xs = (np.arange(bx) * PU)[None, :, None, None] + r[None, None, None, :] + ix + PAD
    patch = rp[ys, xs]                               # (By,Bx,23,23)
    hor = sum(tx[:, :, k] * patch[:, :, :, k:k + PU] for k in range(8))        # (By,Bx,23,16)
    ver = sum(ty[:, :, k] * hor[:, :, k:k + PU, :] for k in range(8))          # (By,Bx,16,16)
    out = np.clip((ver + 2048) >> 12, 0, max_value)
    return out.transpose(0, 2, 1, 3).reshape(by * PU, bx * PU).astype(np.int32)
