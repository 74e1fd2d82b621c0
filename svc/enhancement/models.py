"""The enhancement network: a zero-bit residual predictor and a base-conditioned learned residual codec.

All tensors are YUV 4:4:4 in [0, 1], shape (B, 3, H, W) with H, W multiples of :data:`PAD`
(chroma upsampled from 4:2:0 by sample repetition; see :mod:`svc.enhancement.color`).

    pred   = P(base)                         residual guess from the base alone (no bits)
    r      = x - (base + pred)               what remains
    y      = T(r) + A([r, base])              latent, 192 channels at H/8 (T: learnable 8x8 DCT)
    z      = h_a(y)                          hyper-latent, H/32, coded with a factorized prior at step 1/g_z
    μ, σ   = h_s(ẑ)                          Gaussian parameters of y
    k      = round((y - μ)·g)                coded with rANS at scale σ·g
    x̂      = base + pred + T⁻¹(ŷ) + S(T⁻¹(ŷ), base, pred)
"""
from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn

# compressai 1.2.8 uses torch.jit.script at import time, which torch 2.14 reports as deprecated
warnings.filterwarnings("ignore", message=r"`torch.jit.script` is deprecated", category=FutureWarning)
from compressai.entropy_models import EntropyBottleneck, GaussianConditional
from compressai.models import CompressionModel

from svc.enhancement.vbr import GainSchedule, QrOffset, dequantize, round_ste

PAD = 64
BLOCK = 8


def conv(cin, cout, k=5, s=2):
    return nn.Conv2d(cin, cout, k, s, k // 2)


def deconv(cin, cout, k=5, s=2):
    return nn.ConvTranspose2d(cin, cout, k, s, k // 2, output_padding=s - 1)


def dct_basis(n: int = BLOCK) -> torch.Tensor:
    """Orthonormal 2-D DCT-II basis as an (n*n, n*n) matrix: row u*n+v, column i*n+j."""
    k = torch.arange(n, dtype=torch.float64)
    c = torch.cos(torch.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * n)) * (2.0 / n) ** 0.5
    c[0] /= 2 ** 0.5
    return torch.einsum("ui,vj->uvij", c, c).reshape(n * n, n * n).float()


def zero_init(layer: nn.Module) -> nn.Module:
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class BlockTransform(nn.Module):
    """Learnable per-plane 8x8 block transform, initialised at the orthonormal DCT.

    ``forward``: (B, 3, H, W) -> (B, 3*64, H/8, W/8) coefficients; ``inverse`` the synthesis,
    a separate learnable matrix initialised at the DCT's transpose.
    """

    def __init__(self, planes: int = 3):
        super().__init__()
        d = dct_basis()
        eye = torch.eye(planes)
        self.analysis = nn.Conv2d(planes * BLOCK * BLOCK, planes * BLOCK * BLOCK, 1, bias=False)
        self.synthesis = nn.Conv2d(planes * BLOCK * BLOCK, planes * BLOCK * BLOCK, 1, bias=False)
        with torch.no_grad():
            self.analysis.weight.copy_(torch.kron(eye, d)[..., None, None])
            self.synthesis.weight.copy_(torch.kron(eye, d.T.contiguous())[..., None, None])
        self.unshuffle, self.shuffle = nn.PixelUnshuffle(BLOCK), nn.PixelShuffle(BLOCK)

    def forward(self, x):
        return self.analysis(self.unshuffle(x))

    def inverse(self, y):
        return self.shuffle(self.synthesis(y))


class ResidualPredictor(nn.Module):
    """Predicts (original - base) from the base reconstruction alone. Starts as the zero map."""

    def __init__(self, ch: int = 32):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, ch, 3, 1, 1), nn.LeakyReLU(0.1),
            nn.Conv2d(ch, ch, 3, 1, 1), nn.LeakyReLU(0.1),
            nn.Conv2d(ch, ch, 3, 1, 1), nn.LeakyReLU(0.1),
            nn.Conv2d(ch, 3, 3, 1, 1))
        nn.init.zeros_(self.body[-1].weight)
        nn.init.zeros_(self.body[-1].bias)

    def forward(self, base):
        return self.body(base)


class ResidualEnhancer(CompressionModel):
    """Base-conditioned, variable-rate residual codec. ``q`` is the quality in [0, 1] (tensor (B,)).

    Analysis: y = T(r) + A([r, base]); synthesis: r̂ = T⁻¹(ŷ) + S([T⁻¹(ŷ), base, pred]), where T is a
    learnable 8x8 block transform initialised at the DCT and A, S are convolutional branches whose
    last layers start at zero. So training starts from a working DCT residual coder with a learned
    mean-scale hyperprior, and learns the base-conditioned corrections (a design that converges
    within a CPU-hour budget, where a plain deep autoencoder on residuals did not).
    """

    def __init__(self, N: int = 64, F_: int = 32, gain_min: float = 0.5, gain_max: float = 16.0,
                 residual_scale: float = 16.0, lambda_range: tuple = (0.01, 0.6)):
        super().__init__()
        M = 3 * BLOCK * BLOCK
        # lambda_range: the λ(q) the model was trained for (MSE on 0..255 samples vs bits per pixel);
        # the encoder's per-frame mode decision uses the same λ(q)
        self.config = {"N": N, "F_": F_, "gain_min": gain_min, "gain_max": gain_max,
                       "residual_scale": residual_scale, "lambda_range": list(lambda_range)}
        # residuals of a good base codec are ~1/100 of the signal range: scale them to unit range
        self.residual_scale = residual_scale
        self.predictor = ResidualPredictor()
        self.transform = BlockTransform()
        self.a_branch = nn.Sequential(conv(6, N), nn.LeakyReLU(0.1), conv(N, N), nn.LeakyReLU(0.1),
                                      zero_init(conv(N, M)))
        self.h_a = nn.Sequential(conv(M, N, 3, 1), nn.LeakyReLU(0.1), conv(N, N), nn.LeakyReLU(0.1), conv(N, N))
        self.h_s = nn.Sequential(deconv(N, N), nn.LeakyReLU(0.1), deconv(N, N), nn.LeakyReLU(0.1),
                                 conv(N, 2 * M, 3, 1))
        self.s_branch = nn.Sequential(nn.Conv2d(9, F_, 3, 1, 1), nn.LeakyReLU(0.1),
                                      nn.Conv2d(F_, F_, 3, 1, 1), nn.LeakyReLU(0.1),
                                      zero_init(nn.Conv2d(F_, 3, 3, 1, 1)))
        self.entropy_bottleneck = EntropyBottleneck(N)
        self.gaussian_conditional = GaussianConditional(None)
        self.gains = GainSchedule(gain_min, gain_max)
        self.qr_offset = QrOffset()

    # -- shared pieces ---------------------------------------------------------------------------
    def _analysis(self, base, x):
        pred = self.predictor(base)
        r = (x - base - pred) * self.residual_scale
        y = self.transform(r) + self.a_branch(torch.cat([r, base], 1))
        return pred, y

    def _entropy_params(self, z_hat):
        scales, means = self.h_s(z_hat).chunk(2, 1)
        return F.softplus(scales) + 1e-3, means

    def _synthesis(self, y_hat, base, pred):
        r_lin = self.transform.inverse(y_hat)
        r_hat = r_lin + self.s_branch(torch.cat([r_lin, base, pred * self.residual_scale], 1))
        return base + pred + r_hat / self.residual_scale
    # -- training --------------------------------------------------------------------------------
    def forward(self, base, x, q):
        """Training / evaluation pass with rate estimates. Returns x_hat, x_pred and likelihoods."""
        g = self.gains.gain(q).view(-1, 1, 1, 1)
        gz = self.gains.hyper_gain(g)
        pred, y = self._analysis(base, x)
        z = self.h_a(y)
        z_tilde, z_lik = self.entropy_bottleneck(z * gz)
        if self.training:
            medians = self.entropy_bottleneck._get_medians()
            z_tilde = round_ste(z * gz - medians) + medians  # STE for the synthesis path
        scales, means = self._entropy_params(z_tilde / gz)
        u = (y - means) * g
        scale_q = scales * g
        # rate of the rounded symbols (straight-through): additive noise would charge ~0.2 bit even
        # for latents that quantize to zero, a fake floor that made training switch the latent off
        gc = self.gaussian_conditional
        y_lik = gc.likelihood_lower_bound(gc._likelihood(round_ste(u), scale_q))
        k_abs = round_ste(u.abs())
        y_hat = dequantize(torch.sign(u) * k_abs, self.qr_offset(scale_q), g, means)
        x_hat = self._synthesis(y_hat, base, pred)
        return {"x_hat": x_hat, "x_pred": base + pred, "likelihoods": {"y": y_lik, "z": z_lik}}

    # -- coding ----------------------------------------------------------------------------------
    def predict(self, base):
        """The zero-bit enhancement: base + predicted residual."""
        return base + self.predictor(base)

    def compress(self, base, x, q: float):
        """Entropy-codes ``x`` given ``base``; returns (strings ``[y, z]``, z size, decoder-exact x_hat)."""
        g = self.gains.gain(torch.tensor([float(q)])).view(-1, 1, 1, 1)
        gz = self.gains.hyper_gain(g)
        pred, y = self._analysis(base, x)
        z = self.h_a(y) * gz
        z_strings = self.entropy_bottleneck.compress(z)
        z_size = tuple(z.shape[-2:])
        y_strings, x_hat = self._decode_y(base, pred, z_strings, z_size, g, gz, y=y)
        return [y_strings, z_strings], z_size, x_hat

    def decompress(self, base, strings, z_size, q: float):
        g = self.gains.gain(torch.tensor([float(q)])).view(-1, 1, 1, 1)
        gz = self.gains.hyper_gain(g)
        pred = self.predictor(base)
        _, x_hat = self._decode_y(base, pred, strings[1], z_size, g, gz, y_strings=strings[0])
        return x_hat

    def _decode_y(self, base, pred, z_strings, z_size, g, gz, y=None, y_strings=None):
        """Shared by encoder and decoder so both reconstruct from identical values."""
        z_hat = self.entropy_bottleneck.decompress(z_strings, z_size) / gz
        scales, means = self._entropy_params(z_hat)
        scale_q = scales * g
        indexes = self.gaussian_conditional.build_indexes(scale_q)
        if y is not None:
            y_strings = self.gaussian_conditional.compress((y - means) * g, indexes)
            k = torch.round((y - means) * g)
        else:
            k = self.gaussian_conditional.decompress(y_strings, indexes)
        y_hat = dequantize(k, self.qr_offset(scale_q), g, means)
        return y_strings, self._synthesis(y_hat, base, pred)
