"""The restoration network's float training model (quantisation-aware) and its weights writer; the
integer network it exports runs in :mod:`svc.enhancement.restoration` (which does not import torch).
"""
from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from svc.enhancement.restoration import (ACT_MAX, FORMAT, FORMAT_VERSION, INPUT_SCALE, INPUT_ZERO, QP_RANGE,
                                         WEIGHT_MAX, IntegerNet)


def network_input(cur, neighbours, frames: int) -> torch.Tensor:
    """:func:`svc.enhancement.restoration.network_input` as a torch tensor (training batches)."""
    from svc.enhancement.restoration import network_input as _input

    return torch.from_numpy(_input(cur, neighbours, frames))


def _ste_round(x: torch.Tensor) -> torch.Tensor:
    return x + (torch.round(x) - x).detach()


class QpFilm(nn.Module):
    """Per-channel gains (1 + g) and offsets of every hidden layer as a function of the QP."""

    def __init__(self, widths: list[int], hidden: int = 32):
        super().__init__()
        self.widths = list(widths)
        self.mlp = nn.Sequential(nn.Linear(1, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, 2 * sum(widths)))
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, qp: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """qp (B,) -> [(gain (B, C), offset (B, C)) per layer]."""
        out = self.mlp(((qp - 32.0) / 10.0)[:, None])
        g, b = out.split(sum(self.widths), 1)
        res, i = [], 0
        for w in self.widths:
            res.append((1 + g[:, i:i + w], 0.1 * b[:, i:i + w]))
            i += w
        return res


class RestoreNet(nn.Module):
    """The float training model; :meth:`export` turns it into an :class:`IntegerNet`.

    Hidden layers are conv -> batch norm -> FiLM(QP) -> ReLU clipped at a learned level (PACT) ->
    8-bit quantisation; batch norm and FiLM are per-channel affine maps that fold into the integer
    network's requantisation tables (batch norm uses its running statistics once training turns
    quantisation-aware)."""

    def __init__(self, frames: int = 3, channels: int = 24, depth: int = 4, qp_aware: bool = True,
                 chroma: bool = True, intra_qp_offset: float = -3.0, bn: bool = True):
        super().__init__()
        self.config = {"frames": frames, "channels": channels, "depth": depth, "qp_aware": qp_aware,
                       "chroma": chroma, "intra_qp_offset": intra_qp_offset, "bn": bn}
        self.frames = frames
        cin = 4 * frames + 2
        self.convs = nn.ModuleList()
        self.bns = nn.ModuleList()
        for i in range(depth):
            self.convs.append(nn.Conv2d(cin if i == 0 else channels, channels, 3, padding=1, bias=not bn))
            self.bns.append(nn.BatchNorm2d(channels) if bn else nn.Identity())
        self.out = nn.Conv2d(channels, 6, 3, padding=1)
        nn.init.normal_(self.out.weight, std=1e-3)
        nn.init.zeros_(self.out.bias)
        # activation clip values (PACT), as logs; activations are quantised to 0..ACT_MAX steps
        self.log_alpha = nn.Parameter(torch.full((depth,), math.log(4.0)))
        self.film = QpFilm([channels] * depth) if qp_aware else None
        self.quant = False

    def set_quant(self, on: bool) -> None:
        """Quantisation-aware from now on: batch norm switches to its running statistics."""
        self.quant = on
        for b in self.bns:
            b.train(not on and self.training)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.quant:
            for b in self.bns:
                b.eval()
        return self

    @staticmethod
    def _wq(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Fake-quantised weights (per output channel) and their scales."""
        s = w.detach().abs().amax(dim=(1, 2, 3)).clamp_min(1e-8) / WEIGHT_MAX
        return _ste_round(w / s[:, None, None, None]).clamp(-WEIGHT_MAX, WEIGHT_MAX) * s[:, None, None, None], s

    def _conv(self, conv: nn.Conv2d, x: torch.Tensor, s_in: float | torch.Tensor):
        if not self.quant:
            return conv(x)
        w, s_w = self._wq(conv.weight)
        b = None
        if conv.bias is not None:
            acc_scale = s_in * s_w
            b = _ste_round(conv.bias / acc_scale) * acc_scale
        return F.conv2d(x, w, b, padding=1)

    def forward(self, x: torch.Tensor, qp: torch.Tensor) -> torch.Tensor:
        """x: (B, 4F+2, h, w) integer-valued input (0..255); qp (B,). Returns the correction
        (B, 6, h, w) in pixel units (rounded when quantising)."""
        s = 1.0 / INPUT_SCALE
        a = (x - INPUT_ZERO) * s
        film = self.film(qp) if self.film is not None else None
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            y = bn(self._conv(conv, a, s))
            if film is not None:
                g, b = film[i]
                y = y * g[:, :, None, None] + b[:, :, None, None]
            alpha = self.log_alpha[i].exp()
            y = torch.minimum(F.relu(y), alpha)
            s = alpha / ACT_MAX
            a = _ste_round(y / s) * s if self.quant else y
        d = self._conv(self.out, a, s) * 255.0
        return _ste_round(d) if self.quant else d

    def restore(self, x: torch.Tensor, qp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(luma (B, 1, H, W), chroma (B, 2, h, w)) restored, unclipped floats in pixel units."""
        d = self.forward(x, qp)
        y = x[:, 0:4] + d[:, 0:4]
        c = x[:, -2:] + d[:, 4:6] if self.config["chroma"] else x[:, -2:]
        return F.pixel_shuffle(y, 2), c

    @torch.no_grad()
    def export(self, chroma: bool | None = None) -> "IntegerNet":
        """The integer network: int weights, integer biases, per-QP requantisation tables.
        ``chroma=False`` drops the chroma outputs (a luma-only restorer; default: as trained)."""
        chroma = self.config["chroma"] if chroma is None else chroma
        qps = torch.arange(QP_RANGE[0], QP_RANGE[1] + 1, dtype=torch.float32)
        film = self.film(qps) if self.film is not None else None
        layers = []
        s_in = torch.tensor(1.0 / INPUT_SCALE, dtype=torch.float64)
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            w = conv.weight.double()
            s_w = w.abs().amax(dim=(1, 2, 3)).clamp_min(1e-8) / WEIGHT_MAX
            w_int = torch.round(w / s_w[:, None, None, None]).clamp(-WEIGHT_MAX, WEIGHT_MAX)
            acc_scale = s_in * s_w
            b_int = torch.round(conv.bias.double() / acc_scale) if conv.bias is not None else torch.zeros_like(s_w)
            if i == 0:   # the input's zero point, folded: conv(x - 128) = conv(x) - 128 * sum(w)
                b_int = b_int - INPUT_ZERO * w_int.sum(dim=(1, 2, 3))
            # the layer's float output is  acc * acc_scale, then batch norm, then FiLM
            if isinstance(bn, nn.BatchNorm2d):
                inv = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
                bn_scale, bn_shift = inv, bn.bias.double() - bn.running_mean.double() * inv
            else:
                bn_scale, bn_shift = torch.ones_like(s_w), torch.zeros_like(s_w)
            if film is not None:
                g, b = (t.double() for t in film[i])                                   # (Q, C)
            else:
                g = torch.ones(len(qps), w.shape[0], dtype=torch.float64)
                b = torch.zeros_like(g)
            s_out = self.log_alpha[i].double().exp() / ACT_MAX
            layers.append({"weight": w_int.to(torch.int8), "bias": b_int.to(torch.int32),
                           "scale": (g * bn_scale * acc_scale / s_out).float(),
                           "offset": ((g * bn_shift + b) / s_out).float()})
            s_in = s_out
        n_out = 6 if chroma else 4
        w = self.out.weight.double()[:n_out]
        s_w = w.abs().amax(dim=(1, 2, 3)).clamp_min(1e-8) / WEIGHT_MAX
        w_int = torch.round(w / s_w[:, None, None, None]).clamp(-WEIGHT_MAX, WEIGHT_MAX)
        acc_scale = s_in * s_w
        b_int = torch.round(self.out.bias.double()[:n_out] / acc_scale)
        scale = (acc_scale * 255.0).float()[None].expand(len(qps), -1).contiguous()
        layers.append({"weight": w_int.to(torch.int8), "bias": b_int.to(torch.int32), "scale": scale,
                       "offset": torch.zeros_like(scale)})
        return IntegerNet([{k: v.numpy() for k, v in layer.items()} for layer in layers], {**self.config, "chroma": chroma})



def save_weights(path, net: IntegerNet, meta: dict | None = None) -> None:
    """Writes an integer network (+ ``meta``: the command, seed, data list, ...) to ``path`` (a
    ``torch.save`` archive of plain tensors; read back without torch by :class:`Restorer`)."""
    blob = {"format": FORMAT, "version": FORMAT_VERSION, "config": net.config,
            "layers": [{"weight": torch.from_numpy(w.astype(np.int8)), "bias": torch.from_numpy(b.astype(np.int32)),
                        "scale": torch.from_numpy(s.copy()), "offset": torch.from_numpy(o.copy())}
                       for w, b, s, o in net.layers],
            "meta": dict(meta or {})}
    buf = io.BytesIO()
    torch.save(blob, buf)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(buf.getvalue())
