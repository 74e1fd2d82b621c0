"""The layered latent codec's network (training and inference), built from CompressAI 1.2.8 blocks.

``g_a`` (stride 16) turns an RGB picture into ``y``; its first ``M1`` channels are the base group
``y1``, the rest the enhancement group ``y2``.

* base: hyper-latent ``z = h_a(y1)`` (stride 64, factorised prior, a quantisation step per rate: the
  variable-rate hyper-latent of CompressAI's ``EntropyBottleneckVbr``), integer hyper-synthesis
  ``h_s(z)`` -> mean and scale of each ``y1`` element, gain-based quantisation step of ``y1`` (one
  gain per rate, continuous between learned anchors, as ``compressai.models.vbr``) and a learned
  quantisation-reconstruction offset (per scale-table entry);
* enhancement: hyper-latent ``z2 = h_a2(y2)``; integer ``h_s2(z2)`` and an integer context network
  on the decoded ``y1`` give mean and scale of each ``y2`` element; own gain and offsets;
* ``g_s(y1, y2)`` -> RGB; ``latent_tf(y1)`` -> NanoDet-g ``stage2`` tensor (stride 8).

Every network between decoded symbols and entropy-coder parameters (``h_s``, ``h_s2``, ``ctx``) is a
:class:`QNet`: fixed-point weights and activations; at inference it runs on integers held in float64
(every partial sum an exact integer below 2**53, so the result does not depend on summation order,
thread count or BLAS), in training a straight-through fake-quantised copy of the same arithmetic.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from compressai.entropy_models import EntropyBottleneckVbr, GaussianConditional
from compressai.layers import GDN
from compressai.models.utils import conv, deconv

FW = 12  # fraction bits of QNet weights
FA = 8  # fraction bits of QNet activations, means, scales and decoded latents
ACT_LIMIT = 64.0  # |activation| bound (real units)
W_LIMIT = 7.99
GAIN_BITS = 12  # fraction bits of the integer gains / steps
SCALE_MIN, SCALE_MAX, SCALE_LEVELS = 0.11, 64.0, 48
N_ANCHORS = 6
N_ZLEVELS = 8
QCODES = 256  # quality codes 0..255 in a payload header


def ste_round(x):
    return x + (torch.round(x) - x).detach()


def scale_thresholds() -> torch.Tensor:
    """Integer (FA fraction bits) scale-table entries; the Gaussian tables are built from exactly these."""
    t = torch.exp(torch.linspace(math.log(SCALE_MIN), math.log(SCALE_MAX), SCALE_LEVELS, dtype=torch.float64))
    return torch.round(t * (1 << FA)).to(torch.int64)


class QConv(nn.Module):
    """A conv (or transposed conv) layer with fixed-point weights, bias and output."""

    def __init__(self, cin, cout, k, stride=1, transposed=False, relu=True):
        super().__init__()
        self.transposed, self.relu, self.stride, self.k = transposed, relu, stride, k
        if transposed:
            self.conv = nn.ConvTranspose2d(cin, cout, k, stride, k // 2, output_padding=stride - 1)
        else:
            self.conv = nn.Conv2d(cin, cout, k, stride, k // 2)

    def qweights(self):
        w = ste_round(self.conv.weight.clamp(-W_LIMIT, W_LIMIT) * (1 << FW)) / (1 << FW)
        b = ste_round(self.conv.bias.clamp(-ACT_LIMIT, ACT_LIMIT) * (1 << (FW + FA))) / (1 << (FW + FA))
        return w, b

    def _op(self, x, w, b):
        if self.transposed:
            return F.conv_transpose2d(x, w, b, self.stride, self.k // 2, self.stride - 1)
        return F.conv2d(x, w, b, self.stride, self.k // 2)

    def forward(self, x):  # fake-quantised float (x on the 2**-FA grid)
        w, b = self.qweights()
        y = ste_round(self._op(x, w, b) * (1 << FA)) / (1 << FA)
        y = y.clamp(-ACT_LIMIT, ACT_LIMIT)
        return F.relu(y) if self.relu else y

    def int_params(self):
        """(weights, bias) as integers: weights with FW, bias with FW + FA fraction bits."""
        with torch.no_grad():
            w = torch.round(self.conv.weight.double().clamp(-W_LIMIT, W_LIMIT) * (1 << FW))
            b = torch.round(self.conv.bias.double().clamp(-ACT_LIMIT, ACT_LIMIT) * (1 << (FW + FA)))
        return w.to(torch.int32), b.to(torch.int64)

    def forward_int(self, x, w_int, b_int):
        """x: float64 tensor of integers (FA fraction bits) -> the same for the output; exact."""
        acc = self._op(x, w_int.double(), b_int.double())  # exact integers < 2**53
        y = torch.round(acc / (1 << FW))  # division by a power of two: exact; round half to even
        lim = ACT_LIMIT * (1 << FA)
        y = y.clamp(-lim, lim)
        return y.clamp(min=0) if self.relu else y


class QNet(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def forward_int(self, x, params):
        for layer, (w, b) in zip(self.layers, params):
            x = layer.forward_int(x, w, b)
        return x

    def int_params(self):
        return [layer.int_params() for layer in self.layers]


def lerp_table(table, pos):
    """Linear interpolation of the 1-D ``table`` at fractional positions ``pos`` (clamped)."""
    n = table.numel()
    pos = pos.clamp(0, n - 1)
    i0 = pos.floor().clamp(max=n - 2).long()
    f = pos - i0
    return table[i0] * (1 - f) + table[i0 + 1] * f


class ResBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1), nn.LeakyReLU(0.1), nn.Conv2d(c, c, 3, 1, 1))

    def forward(self, x):
        return x + self.body(x)


class LatentNet(nn.Module):
    """See the module docstring. ``N``: transform width, ``M1``/``M2``: base/enhancement channels."""

    def __init__(self, N=64, M1=64, M2=64, NZ=48, NZ2=32):
        super().__init__()
        self.config = dict(N=N, M1=M1, M2=M2, NZ=NZ, NZ2=NZ2)
        self.M1, self.M2 = M1, M2
        M = M1 + M2
        self.g_a = nn.Sequential(conv(3, N), GDN(N), conv(N, N), GDN(N), conv(N, N), GDN(N), conv(N, M))
        self.g_s = nn.Sequential(deconv(M, N), GDN(N, inverse=True), deconv(N, N), GDN(N, inverse=True),
                                 deconv(N, N), GDN(N, inverse=True), deconv(N, 3))
        self.h_a = nn.Sequential(conv(M1, N, 3, 1), nn.ReLU(), conv(N, N), nn.ReLU(), conv(N, NZ))
        self.h_s = QNet([QConv(NZ, N, 5, 2, True), QConv(N, 96, 5, 2, True), QConv(96, 2 * M1, 3, relu=False)])
        self.h_a2 = nn.Sequential(conv(M2, N, 3, 1), nn.ReLU(), conv(N, N), nn.ReLU(), conv(N, NZ2))
        self.h_s2 = QNet([QConv(NZ2, N, 5, 2, True), QConv(N, N, 5, 2, True)])
        self.ctx = QNet([QConv(M1 + N, 96, 3), QConv(96, 96, 3), QConv(96, 2 * M2, 3, relu=False)])
        self.latent_tf = nn.Sequential(nn.Conv2d(M1, 128, 3, 1, 1), nn.LeakyReLU(0.1), ResBlock(128),
                                       nn.ConvTranspose2d(128, 128, 4, 2, 1), nn.LeakyReLU(0.1),
                                       ResBlock(128), ResBlock(128), nn.Conv2d(128, 128, 1))
        self.eb = EntropyBottleneckVbr(NZ)
        self.eb2 = EntropyBottleneckVbr(NZ2)
        self.gc = GaussianConditional(None)
        # gain anchors (quantisation step 1/gain) per layer, fixed as in compressai.models.vbr; learned
        # hyper-latent steps per z level and reconstruction offsets per scale-table entry
        self.register_buffer("log_gain1", torch.linspace(math.log(0.25), math.log(2.5), N_ANCHORS))
        self.register_buffer("log_gain2", torch.linspace(math.log(0.25), math.log(2.5), N_ANCHORS))
        self.log_zstep1 = nn.Parameter(torch.zeros(N_ZLEVELS))
        self.log_zstep2 = nn.Parameter(torch.zeros(N_ZLEVELS))
        self.offset1 = nn.Parameter(torch.full((SCALE_LEVELS,), -3.0))
        self.offset2 = nn.Parameter(torch.full((SCALE_LEVELS,), -3.0))
        self.register_buffer("pad_feat", torch.zeros(128))  # NanoDet stage2 of a black border

    # ------------------------------------------------------------------ rate-dependent quantities
    @staticmethod
    def qcode_position(qcode):
        return qcode.double() / (QCODES - 1) * (N_ANCHORS - 1)

    def gain(self, layer, qcode):
        """Gain (1/step) of ``layer`` (1 or 2) at quality codes ``qcode`` (tensor of 0..255 values)."""
        table = self.log_gain1 if layer == 1 else self.log_gain2
        return torch.exp(lerp_table(table.double(), self.qcode_position(qcode)))

    def zlevel(self, qcode):
        return torch.round(qcode.double() / (QCODES - 1) * (N_ZLEVELS - 1)).long()

    def zstep(self, layer, qcode):
        t = self.log_zstep1 if layer == 1 else self.log_zstep2
        return torch.exp(t[self.zlevel(qcode)]).clamp(min=0.5)

    def offset(self, layer, sigma_s):
        t = self.offset1 if layer == 1 else self.offset2
        pos = (torch.log(sigma_s.clamp(min=SCALE_MIN)) - math.log(SCALE_MIN)) / (
            math.log(SCALE_MAX) - math.log(SCALE_MIN)) * (SCALE_LEVELS - 1)
        return 0.5 * torch.sigmoid(lerp_table(t, pos))

    # ------------------------------------------------------------------ training forward
    def _z_path(self, eb, z, qs, noise=True):
        """(z_hat (STE, on the FA grid), likelihoods) with a per-sample step ``qs`` (B,1,1,1)."""
        B, C, h, w = z.shape
        med = eb._get_medians().detach().reshape(1, C, 1, 1)
        z_hat = ste_round((z - med) / qs) * qs + med
        z_hat = ste_round(z_hat * (1 << FA)) / (1 << FA)
        zn = z + (torch.rand_like(z) - 0.5) * qs if noise else z_hat
        vals = zn.transpose(0, 1).reshape(C, 1, -1)
        q = qs.expand(B, C, h, w).transpose(0, 1).reshape(C, 1, -1)
        lik, _, _ = eb._likelihood_variable(vals, qs=q)
        lik = eb.likelihood_lower_bound(lik)
        return z_hat, lik.reshape(C, B, h, w).transpose(0, 1)

    def _y_path(self, layer, y, params, gain):
        """(y_hat, likelihoods) of one group: ``params`` (scale, mean) in latent units, ``gain`` (B,1,1,1)."""
        s_raw, mu = params.chunk(2, 1)
        sig_s = (s_raw * gain).clamp(min=SCALE_MIN)
        mu_s = mu * gain
        ys = y * gain
        lik = self.gc._likelihood(ys + torch.rand_like(ys) - 0.5, sig_s, mu_s)
        lik = self.gc.likelihood_lower_bound(lik)
        sym = ste_round(ys - mu_s)
        off = self.offset(layer, sig_s.detach()) * torch.sign(sym).detach()
        y_hat = (mu_s + sym - off) / gain
        return ste_round(y_hat * (1 << FA)) / (1 << FA), lik

    def forward(self, x, q1, q2, enh=True):
        """Training forward: ``x`` (B,3,H,W) RGB in [0,1], quality codes ``q1``/``q2`` (B,) float in
        [0, 255] (continuous in training). Returns dict of x_hat, y1_hat, feat, likelihoods."""
        g1 = self.gain(1, q1).float().view(-1, 1, 1, 1)
        g2 = self.gain(2, q2).float().view(-1, 1, 1, 1)
        y = self.g_a(x)
        y1, y2 = y[:, :self.M1], y[:, self.M1:]
        z = self.h_a(y1)
        z_hat, z_lik = self._z_path(self.eb, z, self.zstep(1, q1).float().view(-1, 1, 1, 1))
        y1_hat, y1_lik = self._y_path(1, y1, self.h_s(z_hat), g1)
        out = {"y1_hat": y1_hat, "feat": None, "lik": {"z": z_lik, "y1": y1_lik}}
        if enh:
            z2 = self.h_a2(y2)
            z2_hat, z2_lik = self._z_path(self.eb2, z2, self.zstep(2, q2).float().view(-1, 1, 1, 1))
            params2 = self.ctx(torch.cat([y1_hat, self.h_s2(z2_hat)], 1))
            y2_hat, y2_lik = self._y_path(2, y2, params2, g2)
            out["lik"].update(z2=z2_lik, y2=y2_lik)
            out["x_hat"] = self.g_s(torch.cat([y1_hat, y2_hat], 1))
        return out


def nanodet_stage2(nd, x):
    """NanoDet-g stage2 tensor of RGB crops ``x`` (B,3,H,W) in [0,1] (BGR, normalised as the detector)."""
    import torch

    from svc.analytics.detectors.nanodet_net import MEAN_BGR, STD_BGR
    from svc.features.split import SplitPoint, run_edge

    bgr = torch.round(x.flip(1) * 255.0)
    mean = torch.tensor(MEAN_BGR, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(STD_BGR, dtype=torch.float32).view(1, 3, 1, 1)
    with torch.no_grad():
        return run_edge(nd, SplitPoint("stage2"), (bgr - mean) / std)[0]
