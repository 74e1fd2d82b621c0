"""YUV 4:2:0 frames <-> normalised YUV 4:4:4 tensors for the enhancement network."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from svc.io.frames import YuvFrame


def to_tensor444(frame: YuvFrame, max_value: int = 255) -> torch.Tensor:
    """(1, 3, H, W) float32 in [0, 1]; chroma upsampled by repeating each sample 2x2."""
    y = torch.from_numpy(frame.y.astype(np.float32))
    u = torch.from_numpy(frame.u.astype(np.float32)).repeat_interleave(2, 0).repeat_interleave(2, 1)
    v = torch.from_numpy(frame.v.astype(np.float32)).repeat_interleave(2, 0).repeat_interleave(2, 1)
    return (torch.stack([y, u, v]) / max_value).unsqueeze(0)


def to_planes420(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B, 3, H, W) 4:4:4 -> Y (B, H, W) and 2x2-averaged U, V (B, H/2, W/2), still floats."""
    chroma = F.avg_pool2d(t[:, 1:], 2)
    return t[:, 0], chroma[:, 0], chroma[:, 1]


def to_frame420(t: torch.Tensor, max_value: int = 255) -> YuvFrame:
    """A (1, 3, H, W) tensor in [0, 1] rounded back to integer 4:2:0 planes."""
    dtype = np.uint8 if max_value == 255 else np.uint16
    planes = [(p[0] * max_value).round().clamp(0, max_value).numpy().astype(dtype) for p in to_planes420(t)]
    return YuvFrame(*planes)


def pad_to(t: torch.Tensor, multiple: int) -> torch.Tensor:
    """Replicate-pads H and W up to a multiple of ``multiple``."""
    h, w = t.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    return F.pad(t, (0, pw, 0, ph), mode="replicate") if ph or pw else t
