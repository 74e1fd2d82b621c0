"""Variable-rate quantization from one model (after Kamisli, Racapé & Choi; CompressAI ``models/vbr``).

A continuous quality ``q`` in [0, 1] selects a gain ``g`` (the inverse quantization step Δ = 1/g)
on a log scale. The latent is quantized as ``u = (y - μ)·g``, ``k = round(u)`` and reconstructed
as ``ŷ = sign(k)·(|k| + δ)·Δ + μ`` with a learned quantization-reconstruction offset ``δ``
(δ = 0 where k = 0). The hyper-latent gets its own step from the gain: ``g_z = exp(a·log g + b)``.
"""
from __future__ import annotations

import math

import torch
from torch import nn


class GainSchedule(nn.Module):
    """Maps quality ``q`` in [0, 1] to the latent gain ``g`` and the hyper-latent gain ``g_z``."""

    def __init__(self, gain_min: float = 0.25, gain_max: float = 4.0):
        super().__init__()
        self.register_buffer("log_gain_range", torch.tensor([math.log(gain_min), math.log(gain_max)]))
        # learned hyper-latent step: log g_z = a * log g + b
        self.hyper = nn.Parameter(torch.tensor([0.5, 0.0]))

    def gain(self, q: torch.Tensor) -> torch.Tensor:
        lo, hi = self.log_gain_range
        return torch.exp(lo + q.clamp(0, 1) * (hi - lo))

    def hyper_gain(self, g: torch.Tensor) -> torch.Tensor:
        return torch.exp(self.hyper[0] * torch.log(g) + self.hyper[1])


class QrOffset(nn.Module):
    """Learned reconstruction offset δ(σ_q) in (-0.5, 0), a function of the scale in step units."""

    def __init__(self, hidden: int = 16):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(1, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, 1))

    def forward(self, scale_q: torch.Tensor) -> torch.Tensor:
        x = torch.log(scale_q.clamp_min(1e-3)).unsqueeze(-1)
        return -0.5 * torch.sigmoid(self.net(x)).squeeze(-1)


def dequantize(k: torch.Tensor, delta: torch.Tensor, gain: torch.Tensor, means: torch.Tensor) -> torch.Tensor:
    """ŷ = sign(k)·(|k| + δ·[k ≠ 0]) / g + μ."""
    k_abs = k.abs()
    offset = torch.where(k_abs > 0, delta, torch.zeros_like(delta))
    return torch.sign(k) * (k_abs + offset) / gain + means


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """Rounding with a straight-through gradient."""
    return x + (torch.round(x) - x).detach()
