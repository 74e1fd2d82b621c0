"""Frame and format types shared by every stage.

A frame is three 4:2:0 planes: ``y`` of shape (H, W) and ``u``, ``v`` of shape (H/2, W/2), dtype
``uint8`` for 8-bit video and ``uint16`` (values < 2**bit_depth) for 10-bit video.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

import numpy as np

from svc.errors import InputError

SUPPORTED_BIT_DEPTHS = (8, 10)
MAX_DIMENSION = 16384
#: highest frame rate accepted (frames per second); high-speed cameras stay below it
MAX_FPS = 1000


def parse_fps(text) -> Fraction:
    """A frame rate from ``30``, ``29.97`` or ``30000/1001`` (frames per second); a one-line InputError
    for anything that is not a positive, finite rate up to :data:`MAX_FPS`."""
    try:
        fps = Fraction(str(text).strip())
    except (ValueError, ZeroDivisionError):
        raise InputError(f"frame rate must be a number like 30, 29.97 or 30000/1001, got {text!r}") from None
    if not 0 < fps <= MAX_FPS:
        raise InputError(f"frame rate must be above 0 and at most {MAX_FPS} fps, got {text!r}")
    return fps


class YuvFrame(NamedTuple):
    """One 4:2:0 picture: planes y (H, W), u and v (H/2, W/2)."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray

    def to_i420(self) -> np.ndarray:
        """The planes stacked as one (H*3/2, W) array: the raw-file and PyAV ndarray layout."""
        w = self.y.shape[1]
        return np.concatenate([self.y.ravel(), self.u.ravel(), self.v.ravel()]).reshape(-1, w)

    @classmethod
    def from_i420(cls, buf: np.ndarray, width: int, height: int) -> "YuvFrame":
        """Views into a flat or (H*3/2, W) buffer holding Y, U, V planes one after the other."""
        flat = buf.reshape(-1)
        n_y, n_c = width * height, (width // 2) * (height // 2)
        y = flat[:n_y].reshape(height, width)
        u = flat[n_y:n_y + n_c].reshape(height // 2, width // 2)
        v = flat[n_y + n_c:n_y + 2 * n_c].reshape(height // 2, width // 2)
        return cls(y, u, v)


@dataclass(frozen=True)
class VideoFormat:
    """Geometry and sampling of a 4:2:0 sequence. ``fps`` is frames per second (exact fraction)."""

    width: int
    height: int
    fps: Fraction = Fraction(30)
    bit_depth: int = 8

    def __post_init__(self):
        object.__setattr__(self, "fps", Fraction(self.fps).limit_denominator(1001000))
        if not (0 < self.width <= MAX_DIMENSION and 0 < self.height <= MAX_DIMENSION):
            raise InputError(f"unsupported frame size {self.width}x{self.height} (1..{MAX_DIMENSION} per side)")
        if self.width % 2 or self.height % 2:
            raise InputError(f"frame size {self.width}x{self.height} is odd: 4:2:0 needs even width and height")
        if self.bit_depth not in SUPPORTED_BIT_DEPTHS:
            raise InputError(f"unsupported bit depth {self.bit_depth} (supported: 8, 10)")
        if not 0 < self.fps <= MAX_FPS:
            raise InputError(f"frame rate must be above 0 and at most {MAX_FPS} fps, got {float(self.fps):g}")

    @property
    def dtype(self):
        return np.uint8 if self.bit_depth == 8 else np.uint16

    @property
    def bytes_per_sample(self) -> int:
        return 1 if self.bit_depth == 8 else 2

    @property
    def frame_bytes(self) -> int:
        """Bytes of one frame in a raw planar file."""
        return self.width * self.height * 3 // 2 * self.bytes_per_sample

    @property
    def pix_fmt(self) -> str:
        """FFmpeg pixel format name."""
        return "yuv420p" if self.bit_depth == 8 else "yuv420p10le"

    @property
    def max_value(self) -> int:
        return (1 << self.bit_depth) - 1

    def blank(self) -> YuvFrame:
        """A mid-grey frame (used for tests and padding)."""
        mid = 1 << (self.bit_depth - 1)
        buf = np.full(self.width * self.height * 3 // 2, mid, dtype=self.dtype)
        return YuvFrame.from_i420(buf, self.width, self.height)
