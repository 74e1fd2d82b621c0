"""Integer block transform and dead-zone quantiser of the block enhancement coder.

The transform is HEVC's 8x8 integer DCT (``M``, entries 18..89, rows of squared norm ~= 2**15).
Only the *inverse* must match bit-exactly at both ends; it runs on integer-valued float64 arrays
(products and sums of integers stay below 2**53, so BLAS computes them exactly in any order) and
rounds once, by a power of two, at the end::

    residual = floor((M.T @ (level * stepq) @ M + 2**18) / 2**19)

``stepq`` is the quantiser step in 1/16 units of the orthonormal-DCT coefficient scale (HEVC's Qstep:
QP 37 is a step of ~45). The forward transform (encoder only) is the matching float transform
``M / (64 * sqrt(8))``, so levels, steps and squared errors live in (almost exactly) orthonormal
units and transform-domain squared error equals pixel-domain squared error.
"""
from __future__ import annotations

import numpy as np

N = 8                      # transform size (luma and chroma)
STEP_FRAC = 16             # stepq = round(step * STEP_FRAC)
MAX_LEVEL = 4095           # decoded levels are clipped to +-MAX_LEVEL (keeps the inverse exact)
_SHIFT = 19                # 2**19 = (64 * 64 * 8) * STEP_FRAC

M8 = np.array([
    [64, 64, 64, 64, 64, 64, 64, 64],
    [89, 75, 50, 18, -18, -50, -75, -89],
    [83, 36, -36, -83, -83, -36, 36, 83],
    [75, -18, -89, -50, 50, 89, 18, -75],
    [64, -64, -64, 64, 64, -64, -64, 64],
    [50, -89, 18, 75, -75, -18, 89, -50],
    [36, -83, 83, -36, -36, 83, -83, 36],
    [18, -50, 75, -89, 89, -75, 50, -18]], dtype=np.float64)
_A = M8 / (64.0 * np.sqrt(8.0))     # forward (float, encoder only)


def _zigzag(n: int) -> np.ndarray:
    """Raster index of each zig-zag scan position (JPEG order: anti-diagonals, alternating)."""
    order = sorted(((y, x) for y in range(n) for x in range(n)),
                   key=lambda p: (p[0] + p[1], p[1] if (p[0] + p[1]) % 2 else p[0]))
    return np.array([y * n + x for y, x in order], np.int64)


ZIGZAG = _zigzag(N)                # scan position -> raster index
RASTER_TO_SCAN = np.argsort(ZIGZAG)


def forward(blocks: np.ndarray) -> np.ndarray:
    """(..., 8, 8) samples -> (..., 8, 8) float64 coefficients in orthonormal units."""
    return _A @ np.asarray(blocks, np.float64) @ _A.T


def forward_int(blocks: np.ndarray) -> np.ndarray:
    """Exact integer transform (integer-valued float64, 2**15 x orthonormal scale): for decoder-side
    context cues, where both ends must get the same numbers."""
    return M8 @ np.asarray(blocks, np.float64) @ M8.T


INT_SCALE = 32768.0                # forward_int ~= INT_SCALE * forward


def inverse(levels: np.ndarray, stepq) -> np.ndarray:
    """(..., 8, 8) integer levels and integer ``stepq`` (scalar or broadcastable to levels[..., 0, 0])
    -> (..., 8, 8) int32 residual samples, bit-exact on any machine."""
    lv = np.clip(np.asarray(levels, np.float64), -MAX_LEVEL, MAX_LEVEL)
    s = np.asarray(stepq, np.float64)
    if s.ndim:
        s = s[..., None, None]
    x = M8.T @ (lv * s) @ M8
    return np.floor((x + float(1 << (_SHIFT - 1))) / float(1 << _SHIFT)).astype(np.int32)


def quantise(coefs: np.ndarray, step, rounding: float) -> np.ndarray:
    """Dead-zone scalar quantiser: sign(c) * floor(|c| / step + rounding), int32."""
    s = np.asarray(step, np.float64)
    if s.ndim:
        s = s[..., None, None]
    a = np.abs(coefs) / s
    return (np.sign(coefs) * np.floor(a + rounding)).astype(np.int32)


def to_scan(blocks: np.ndarray) -> np.ndarray:
    """(..., 8, 8) -> (..., 64) in zig-zag scan order."""
    return np.take(blocks.reshape(*blocks.shape[:-2], N * N), ZIGZAG, axis=-1)     # (a gather: 4x faster than [..., ZIGZAG])


def from_scan(scan: np.ndarray) -> np.ndarray:
    """(..., 64) zig-zag -> (..., 8, 8)."""
    return scan[..., RASTER_TO_SCAN].reshape(*scan.shape[:-1], N, N)


# -- quality knob -> step ------------------------------------------------------------------------
STEP_AT_Q1 = 3.0      # q = 1: near-transparent (orthonormal units)
KNEE = 0.9            # q = 0: this fraction of the base layer's own quantiser step


def base_step(base_qp: float) -> float:
    """HEVC's quantiser step at ``base_qp`` in orthonormal-DCT units (2 ** ((QP - 4) / 6))."""
    return 2.0 ** ((float(base_qp) - 4.0) / 6.0)


def step_from_quality(q: float, base_qp: float = 37.0) -> int:
    """The integer ``stepq`` (1/16 units) of quality ``q`` in [0, 1] over a base coded at ``base_qp``.

    Log-linear from just under the base's own step (q = 0: coarser than the detail the base lost, so
    practically nothing is coded: the restored base) to :data:`STEP_AT_Q1` (q = 1). Above the base's
    step the coder codes nothing, so starting there spreads the PSNR evenly over the knob (measured:
    about the same dB per 0.25 of q at base QP 32 and 37; ``tests/test_enhancement.py``)."""
    q = min(max(float(q), 0.0), 1.0)
    s0 = max(KNEE * base_step(base_qp), 2.0 * STEP_AT_Q1)
    step = s0 * (STEP_AT_Q1 / s0) ** q
    return int(round(step * STEP_FRAC))


# -- block <-> plane layout ---------------------------------------------------------------------

def plane_to_tus(plane: np.ndarray, pu: int) -> np.ndarray:
    """(H, W) plane, H and W multiples of ``pu`` -> (NB, (pu/8)**2, 8, 8): per prediction unit
    (raster order) its 8x8 transform units (raster order inside the unit)."""
    h, w = plane.shape
    k = pu // N
    t = plane.reshape(h // pu, k, N, w // pu, k, N).transpose(0, 3, 1, 4, 2, 5)
    return t.reshape((h // pu) * (w // pu), k * k, N, N)


def tus_to_plane(tus: np.ndarray, by: int, bx: int) -> np.ndarray:
    """Inverse of :func:`plane_to_tus`."""
    k = int(round(np.sqrt(tus.shape[1])))
    t = tus.reshape(by, bx, k, k, N, N).transpose(0, 2, 4, 1, 3, 5)
    return t.reshape(by * k * N, bx * k * N)
