"""Alignment of neighbouring base frames for the zero-bit restoration network
(:mod:`svc.enhancement.restoration`): decoder-side block motion between base-layer frames.

Both ends see the base reconstructions, so motion estimated on them costs no bits. Everything here
is integer arithmetic on numpy arrays, so encoder and decoder derive identical vectors on any
machine (a float optical flow could differ in its last bits and make the two ends drift).
:func:`hierarchical_motion` searches a pyramid of the 8-bit luma; :func:`align_plane` moves a plane
by the vectors; :func:`align_to` does both for one neighbour. (The block coder's own motion, with
sub-pixel refinement, is :mod:`svc.enhancement.dmotion`.)
"""
from __future__ import annotations

import cv2
import numpy as np

from svc.enhancement import kernels


ALIGN_BLOCK = 8      # luma block of the aligned grid
COARSE_SEARCH = 4    # 1/8-resolution full search range: +-32 luma pixels
VECTOR_COST = 1      # SAD units per luma pixel of |dy| + |dx| (a tie-break towards short vectors)


def _luma8(plane: np.ndarray) -> np.ndarray:
    """8-bit luma for motion search (10-bit planes are rounded down to 8 bits)."""
    if plane.dtype == np.uint8:
        return plane
    return np.minimum((plane.astype(np.int32) + 2) >> 2, 255).astype(np.uint8)


def _pyramid(plane: np.ndarray, levels: int) -> list[np.ndarray]:
    """[plane, 1/2, 1/4, ...] uint8, edge-padded first to a multiple of 2**levels * 2."""
    m = 2 << levels
    h, w = plane.shape
    p = np.pad(plane, ((0, (-h) % m), (0, (-w) % m)), mode="edge")
    out = [p]
    for _ in range(levels):
        q = out[-1].astype(np.int16)
        out.append(((q[0::2, 0::2] + q[1::2, 0::2] + q[0::2, 1::2] + q[1::2, 1::2] + 2) >> 2).astype(np.uint8))
    return out


def _block_sads(a: np.ndarray, b: np.ndarray, block: int, origin: int = 0, step: int | None = None) -> np.ndarray:
    """Sums of |a - b| (uint8 planes, int32 result, exact) over the ``block`` x ``block`` squares whose
    top-left corners are at origin + i * step (default step: block) in both directions."""
    step = step or block
    ii = cv2.integral(cv2.absdiff(a, b), sdepth=cv2.CV_32S)
    y0 = np.arange(origin, a.shape[0] - block + 1, step)[:, None]
    x0 = np.arange(origin, a.shape[1] - block + 1, step)[None, :]
    return ii[y0 + block, x0 + block] - ii[y0, x0 + block] - ii[y0 + block, x0] + ii[y0, x0]


def _full_search(cur: np.ndarray, ref: np.ndarray, block: int, radius: int, unit: int) -> np.ndarray:
    """(By, Bx, 2) vectors within +-radius minimising the SAD over each block and its eight neighbours
    (3x3-block support: robust on fine texture at a coarse level) + cost * |v| (``unit``: luma pixels
    per sample). Ties: the first offset in raster order."""
    k = 2 * radius + 1
    h, w = cur.shape
    by, bx = h // block, w // block
    rp = np.pad(ref, radius, mode="edge")
    # all k*k shifted references side by side, against as many copies of the current plane
    shifted = np.lib.stride_tricks.sliding_window_view(rp, (h, w))                 # (k, k, H, W) view
    wide_ref = np.ascontiguousarray(shifted.transpose(2, 0, 1, 3)).reshape(h, k * k * w)
    wide_cur = np.tile(cur, (1, k * k))
    sad = _block_sads(wide_cur, wide_ref, block).reshape(by, k * k, bx).transpose(1, 0, 2)
    s = np.pad(sad, ((0, 0), (1, 1), (1, 1)), mode="edge")
    s = s[:, :-2] + s[:, 1:-1] + s[:, 2:]
    s = s[:, :, :-2] + s[:, :, 1:-1] + s[:, :, 2:]
    off = np.arange(-radius, radius + 1)
    pen = (np.abs(off)[:, None] + np.abs(off)[None, :]).reshape(-1, 1, 1) * (9 * VECTOR_COST * unit)
    best = (s + pen).argmin(axis=0)
    return np.stack([best // k - radius, best % k - radius], -1).astype(np.int32)


def _shift_maps(vectors: np.ndarray, block: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel source coordinates (x map, y map), float32 integers, of blockwise ``vectors``."""
    by, bx = vectors.shape[:2]
    ar = np.arange(block, dtype=np.float32)
    oy = (np.arange(by) * block)[:, None] + vectors[..., 0]
    ox = (np.arange(bx) * block)[None, :] + vectors[..., 1]
    my = np.empty((by, block, bx, block), np.float32)
    mx = np.empty((by, block, bx, block), np.float32)
    my[...] = oy.astype(np.float32)[:, None, :, None] + ar[None, :, None, None]
    mx[...] = ox.astype(np.float32)[:, None, :, None] + ar[None, None, None, :]
    return mx.reshape(by * block, bx * block)[:h, :w], my.reshape(by * block, bx * block)[:h, :w]


def _cells(plane: np.ndarray, vectors: np.ndarray, block: int) -> np.ndarray:
    """The (block + 2)-sample cells around each block of ``plane`` moved by ``vectors`` (By, Bx, 2):
    a (By * (block + 2), Bx * (block + 2)) plane whose cell (i, j) holds plane[i * block + dy - 1 + u,
    j * block + dx - 1 + v] for u, v in 0 .. block + 1 (edge-clamped)."""
    by, bx = vectors.shape[:2]
    c = block + 2
    h, w = plane.shape
    oy = (np.arange(by) * block)[:, None] + vectors[..., 0] - 1              # (By, Bx)
    ox = (np.arange(bx) * block)[None, :] + vectors[..., 1] - 1
    ar = np.arange(c, dtype=np.float32)
    my = np.empty((by, c, bx, c), np.float32)
    mx = np.empty((by, c, bx, c), np.float32)
    my[...] = oy.astype(np.float32)[:, None, :, None] + ar[None, :, None, None]
    mx[...] = ox.astype(np.float32)[:, None, :, None] + ar[None, None, None, :]
    my, mx = my.reshape(by * c, bx * c), mx.reshape(by * c, bx * c)
    return cv2.remap(plane, mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)


def _refine(cur: np.ndarray, ref: np.ndarray, centres: np.ndarray, block: int, unit: int):
    """Vectors within +-1 of ``centres`` (By, Bx, 2) minimising SAD + cost * |v| (ties: the first
    offset in raster order), and their SAD. Reference samples outside the plane repeat its edge."""
    by, bx = centres.shape[:2]
    if kernels.ENABLED:
        vy, vx, sad = kernels.refine(np.ascontiguousarray(cur), np.ascontiguousarray(ref),
                                     np.ascontiguousarray(centres[..., 0], np.int64),
                                     np.ascontiguousarray(centres[..., 1], np.int64), block, VECTOR_COST * unit)
        return np.stack([vy, vx], -1), sad
    c = block + 2
    win = _cells(ref, centres, block)
    # the current blocks in the same cell layout, each block at (1, 1) inside its cell
    cc = np.zeros((by, c, bx, c), cur.dtype)
    cc[:, 1:-1, :, 1:-1] = cur[:by * block, :bx * block].reshape(by, block, bx, block)
    cc = cc.reshape(by * c, bx * c)
    winp = np.pad(win, 1, mode="edge")
    # the 9 shifted windows side by side, against 9 copies of the current cells: one pass each
    wide = np.concatenate([winp[1 + dy:1 + dy + by * c, 1 + dx:1 + dx + bx * c]
                           for dy in (-1, 0, 1) for dx in (-1, 0, 1)], axis=1)
    sad = _block_sads(np.tile(cc, (1, 9)), wide, block, origin=1, step=c)              # (By, 9 * Bx)
    sad = sad.reshape(by, 9, bx).transpose(1, 0, 2)                                   # (9, By, Bx)
    off = np.array([(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)], np.int32)
    vecs = centres[None] + off[:, None, None, :]                                      # (9, By, Bx, 2)
    cost = sad + (np.abs(vecs[..., 0]) + np.abs(vecs[..., 1])) * (VECTOR_COST * unit)
    best = cost.argmin(axis=0)[None]                         # first minimum: raster order on ties
    return (np.take_along_axis(vecs, best[..., None], 0)[0],
            np.take_along_axis(sad, best, 0)[0])


def hierarchical_motion(cur: np.ndarray, ref: np.ndarray, search: int = COARSE_SEARCH):
    """Integer-pel motion of ``cur`` (H, W) luma from ``ref``, per 8x8 luma block.

    Returns ``(vectors, sad)``: vectors (By, Bx, 2) int32 (dy, dx) meaning cur[y, x] ≈ ref[y + dy,
    x + dx] (By = ceil(H / 8)); sad (By, Bx) int32, the block's sum of absolute differences (8-bit
    samples) at the chosen vector, on the edge-padded planes. ``search``: 1/8-resolution range.
    """
    by, bx = -(-cur.shape[0] // ALIGN_BLOCK), -(-cur.shape[1] // ALIGN_BLOCK)
    c, r = _pyramid(_luma8(cur), 3), _pyramid(_luma8(ref), 3)
    v = _full_search(c[3], r[3], 2, search, 8)                 # 1/8: 2x2-sample groups = 16x16 luma
    v, _ = _refine(c[2], r[2], v * 2, 4, 4)                     # 1/4: 16x16-luma blocks
    v = np.repeat(np.repeat(v * 2, 2, 0), 2, 1)                # 1/2: 8x8-luma blocks
    v, _ = _refine(c[1], r[1], v, 4, 2)
    v, sad = _refine(c[0], r[0], v * 2, 8, 1)
    return v[:by, :bx], sad[:by, :bx]


def align_plane(plane: np.ndarray, vectors: np.ndarray, block: int = ALIGN_BLOCK) -> np.ndarray:
    """``plane`` (H, W) moved blockwise onto the current frame's grid: out[block at (y, x)] =
    plane[y + dy, x + dx], coordinates clamped to the plane (edge replication)."""
    h, w = plane.shape
    mx, my = _shift_maps(vectors, block, h, w)
    return cv2.remap(plane, mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)


def align_to(cur: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``ref`` (H, W) aligned to ``cur`` by :func:`hierarchical_motion` (same dtype and shape)."""
    vec, _ = hierarchical_motion(cur, ref)
    return align_plane(ref, vec)
