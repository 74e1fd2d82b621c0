"""Joint denoising: the base layer codes a denoised video (machines and most viewers want clean
frames, and clean frames cost fewer bits), while the enhancement layer reconstructs the noisy original.

The denoiser is OpenCV's non-local means (Buades et al.), per plane: luma with filter strength ``h``,
chroma with ``0.75 h`` (smaller planes, smaller windows). 8-bit frames only.
"""
from __future__ import annotations

import cv2

from svc.errors import InputError
from svc.io.frames import YuvFrame


class Denoiser:
    """Non-local means denoising of 4:2:0 frames at strength ``h`` (luma; about the noise sigma)."""

    def __init__(self, h: float):
        if h <= 0:
            raise InputError(f"denoising strength must be > 0, got {h}")
        self.h = float(h)

    def frame(self, f: YuvFrame) -> YuvFrame:
        if f.y.dtype != "uint8":
            raise InputError("base.denoise works on 8-bit video only")
        y = cv2.fastNlMeansDenoising(f.y, None, h=self.h, templateWindowSize=7, searchWindowSize=21)
        u = cv2.fastNlMeansDenoising(f.u, None, h=0.75 * self.h, templateWindowSize=5, searchWindowSize=11)
        v = cv2.fastNlMeansDenoising(f.v, None, h=0.75 * self.h, templateWindowSize=5, searchWindowSize=11)
        return YuvFrame(y, u, v)

    def gop(self, frames) -> list[YuvFrame]:
        return [self.frame(f) for f in frames]
