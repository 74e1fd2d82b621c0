"""MS-SSIM of the luma plane (pytorch-msssim), with a window small enough for QCIF-sized frames."""
from __future__ import annotations

import numpy as np


def ms_ssim_y(ref: np.ndarray, test: np.ndarray, max_value: int = 255) -> float:
    """MS-SSIM in [0, 1] between two (H, W) luma planes (5 scales; 11-tap window, 7 below 176 px)."""
    import torch
    from pytorch_msssim import ms_ssim

    win = 11 if min(ref.shape) > 160 else 7
    a = torch.from_numpy(ref.astype(np.float32))[None, None]
    b = torch.from_numpy(test.astype(np.float32))[None, None]
    return float(ms_ssim(a, b, data_range=max_value, win_size=win))
