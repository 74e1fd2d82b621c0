"""Frame conversion for the detectors: 4:2:0 YUV to BGR, and letterboxing to a network's input size."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from svc.io.frames import YuvFrame


def yuv_to_bgr(frame: YuvFrame, bit_depth: int | None = None) -> np.ndarray:
    """(H, W, 3) uint8 BGR of a 4:2:0 frame; deeper samples (uint16, 10-bit unless told) shift to 8 bits."""
    import cv2

    if frame.y.dtype != np.uint8:
        shift = (bit_depth or 10) - 8
        frame = YuvFrame(*((p >> shift).astype(np.uint8) for p in frame))
    return cv2.cvtColor(np.ascontiguousarray(frame.to_i420()), cv2.COLOR_YUV2BGR_I420)


@dataclass(frozen=True)
class Letterbox:
    """How a ``frame_w`` x ``frame_h`` frame sits in an ``input_w`` x ``input_h`` network input:
    resized by ``scale`` to ``resized_w`` x ``resized_h`` (aspect ratio kept) and placed with its
    top-left corner at ``(pad_x, pad_y)``; the border is padding. All sizes in pixels."""

    frame_w: int
    frame_h: int
    input_w: int
    input_h: int
    scale: float
    resized_w: int
    resized_h: int
    pad_x: int
    pad_y: int

    @classmethod
    def fit(cls, frame_w: int, frame_h: int, long_side: int = 416, multiple: int = 32) -> "Letterbox":
        """The geometry that scales the frame's long side to ``long_side`` and rounds the input up to
        a multiple of ``multiple`` on both sides (416x240 -> input 416x256, 176x144 -> 416x352,
        832x480 -> 416x256), the frame centred in it."""
        scale = long_side / max(frame_w, frame_h)
        rw, rh = max(1, round(frame_w * scale)), max(1, round(frame_h * scale))
        iw, ih = multiple * math.ceil(rw / multiple), multiple * math.ceil(rh / multiple)
        return cls(frame_w, frame_h, iw, ih, scale, rw, rh, (iw - rw) // 2, (ih - rh) // 2)

    def apply(self, image: np.ndarray, pad_value: int = 0) -> np.ndarray:
        """(input_h, input_w, C) image: ``image`` (frame_h, frame_w, C) resized (bilinear) and padded."""
        import cv2

        if image.shape[:2] != (self.frame_h, self.frame_w):
            raise ValueError(f"letterbox for {self.frame_w}x{self.frame_h} got a "
                             f"{image.shape[1]}x{image.shape[0]} image")
        if (self.resized_w, self.resized_h) != (self.frame_w, self.frame_h):
            image = cv2.resize(image, (self.resized_w, self.resized_h), interpolation=cv2.INTER_LINEAR)
        out = np.full((self.input_h, self.input_w) + image.shape[2:], pad_value, image.dtype)
        out[self.pad_y:self.pad_y + self.resized_h, self.pad_x:self.pad_x + self.resized_w] = image
        return out

    def to_frame(self, boxes_xyxy) -> np.ndarray:
        """(N, 4) x0, y0, x1, y1 in input pixels -> the same in frame pixels, clipped to the frame."""
        b = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
        b = (b - [self.pad_x, self.pad_y, self.pad_x, self.pad_y]) / self.scale
        return np.clip(b, 0, [self.frame_w, self.frame_h, self.frame_w, self.frame_h])
