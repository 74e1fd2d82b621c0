"""Picture quality: PSNR per plane and the 6:1:1 weighted YUV PSNR."""
from __future__ import annotations

import math

import numpy as np

from svc.io.frames import YuvFrame


def mse(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared error of two same-shape arrays (OpenCV's L2 norm for 8/16-bit samples: ~50x
    faster than numpy at 416x240, which matters in the encoder's per-frame summary)."""
    if a.shape != b.shape:
        raise ValueError(f"mse: shapes differ {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    if a.dtype == b.dtype and a.dtype in (np.uint8, np.uint16):
        import cv2
        return float(cv2.norm(np.ascontiguousarray(a), np.ascontiguousarray(b), cv2.NORM_L2SQR)) / a.size
    d = a.astype(np.float64) - b.astype(np.float64)
    return float(np.mean(d * d))


def psnr(a: np.ndarray, b: np.ndarray, max_value: int = 255) -> float:
    """PSNR in dB between two planes; capped at 100 dB for identical planes."""
    m = mse(a, b)
    return 100.0 if m <= 1e-10 else min(100.0, 10 * math.log10(max_value ** 2 / m))


def frame_psnr(ref: YuvFrame, test: YuvFrame, max_value: int = 255) -> dict:
    """``{'y', 'u', 'v', 'yuv'}`` PSNR in dB; ``yuv`` weights Y:U:V as 6:1:1."""
    y, u, v = (psnr(r, t, max_value) for r, t in zip(ref, test))
    return {"y": y, "u": u, "v": v, "yuv": (6 * y + u + v) / 8}


class PsnrAccumulator:
    """Averages per-frame PSNR (the CTC convention) over a sequence."""

    def __init__(self, max_value: int = 255):
        self.max_value = max_value
        self.sums = {"y": 0.0, "u": 0.0, "v": 0.0, "yuv": 0.0}
        self.count = 0

    def add(self, ref: YuvFrame, test: YuvFrame) -> dict:
        p = frame_psnr(ref, test, self.max_value)
        for k in self.sums:
            self.sums[k] += p[k]
        self.count += 1
        return p

    def mean(self) -> dict:
        return {k: (v / self.count if self.count else float("nan")) for k, v in self.sums.items()}
