"""Clipping range of (leaky-)ReLU activations from a fitted distribution model.

A split layer's activations are ``x = z`` for ``z >= 0`` and ``x = alpha * z`` below (``alpha = 0`` for
ReLU, 0.1 for NanoDet's leaky ReLU); the pre-activation ``z`` is modelled per tensor as a Gaussian
``N(mu, sigma^2)`` or a Laplacian ``L(mu, b)`` fitted to the observed values (the one of higher
likelihood is kept). Coding with ``levels`` uniform reconstruction levels ``lo + k * step`` (``step =
(hi - lo) / (levels - 1)``) costs

* the clipping error ``E[(x - clip(x, lo, hi))^2]`` and
* the quantisation error of the clipped value,

and both follow in closed form from the model's truncated moments: the expected squared error of
every quantiser cell (the outer cells reach to infinity, which is the clipping) is a sum of
``E[(z - r)^2; a < z < b]`` terms. :func:`optimal_range` minimises the total over ``(lo, hi)``: a wide
range spends levels on rare values, a narrow one clips. No sample enters the optimisation, only the
two fitted parameters; the tests check it against a brute-force search on samples.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

SQRT2PI = math.sqrt(2 * math.pi)
FAR = 60.0  # model scales standing for infinity in the tail integrals


@dataclass(frozen=True)
class ActivationModel:
    """Pre-activation distribution (``family`` 'gauss' with ``scale`` = sigma, or 'laplace' with
    ``scale`` = b), and the activation's negative slope ``alpha``."""

    family: str
    mu: float
    scale: float
    alpha: float = 0.1

    def _upper_moments(self, c):
        """(P(z > c), E[(z - c); z > c], E[(z - c)^2; z > c]) of the pre-activation, arrays."""
        c = np.clip(np.asarray(c, np.float64), self.mu - FAR * self.scale, self.mu + FAR * self.scale)
        s = self.scale
        if self.family == "gauss":
            t = (c - self.mu) / s
            q, pdf = 1 - ndtr(t), np.exp(-0.5 * t * t) / SQRT2PI
            return q, s * (pdf - t * q), s * s * ((1 + t * t) * q - t * pdf)
        d = (c - self.mu) / s
        e = 0.5 * np.exp(-np.abs(d))
        above = d >= 0  # above the mode: k! b^k e^-d / 2; below it: the full moment minus the lower tail
        m0 = np.where(above, e, 1 - e)
        m1 = np.where(above, s * e, (self.mu - c) + s * e)
        m2 = np.where(above, 2 * s * s * e, 2 * s * s + (self.mu - c) ** 2 - 2 * s * s * e)
        return m0, m1, m2

    def _z_error_above(self, c, r):
        """E[(z - r)^2; z > c]."""
        c = np.clip(np.asarray(c, np.float64), self.mu - FAR * self.scale, self.mu + FAR * self.scale)
        m0, m1, m2 = self._upper_moments(c)
        return m2 + 2 * (c - r) * m1 + (c - r) ** 2 * m0

    def _z_error(self, a, b, r):
        """E[(z - r)^2; a < z < b] (a <= b)."""
        return self._z_error_above(a, r) - self._z_error_above(b, r)

    def segment_error(self, a, b, r):
        """E[(x - r)^2; a < x < b] for the activation x (arrays broadcast; a <= b)."""
        a, b, r = (np.asarray(v, np.float64) for v in (a, b, r))
        pa, pb = np.maximum(a, 0.0), np.maximum(b, 0.0)
        out = self._z_error(pa, pb, r)                                 # x = z >= 0
        if self.alpha > 0:                                             # x = alpha z < 0
            na, nb = np.minimum(a, 0.0) / self.alpha, np.minimum(b, 0.0) / self.alpha
            out = out + self.alpha ** 2 * self._z_error(na, nb, r / self.alpha)
        return out

    def cell_bounds(self, lo, hi, levels: int):
        """Reconstruction levels (..., levels) and cell bounds (..., levels + 1) of the uniform quantiser
        on [lo, hi] (outer bounds at +-infinity, standing in for the clipping)."""
        lo, hi = np.asarray(lo, np.float64)[..., None], np.asarray(hi, np.float64)[..., None]
        k = np.arange(levels)
        step = (hi - lo) / (levels - 1)
        rec = lo + k * step
        inner = lo + (k[:-1] + 0.5) * step
        far = FAR * self.scale + abs(self.mu)
        big = np.full_like(lo, far * max(1.0, 1 / max(self.alpha, 1e-3)))
        return rec, np.concatenate([-big, inner, big], -1)

    def total_error(self, lo, hi, levels: int) -> np.ndarray:
        """E[(x - Q(x))^2] of the uniform ``levels``-level quantiser on [lo, hi], clipping included."""
        rec, bounds = self.cell_bounds(lo, hi, levels)
        return self.segment_error(bounds[..., :-1], bounds[..., 1:], rec).sum(-1)

    def clipping_error(self, lo, hi) -> np.ndarray:
        """E[(x - clip(x, lo, hi))^2]: what the range alone loses."""
        lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
        far = FAR * self.scale + abs(self.mu)
        return self.segment_error(hi, far, hi) + self.segment_error(-far / max(self.alpha, 1e-3), lo, lo)

    def quantisation_error(self, lo, hi, levels: int) -> np.ndarray:
        """The rest of :meth:`total_error` (the error of quantising the clipped value)."""
        return self.total_error(lo, hi, levels) - self.clipping_error(lo, hi)

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` activations drawn from the model (for tests and tables)."""
        rng = np.random.default_rng(seed)
        z = rng.normal(self.mu, self.scale, n) if self.family == "gauss" else rng.laplace(self.mu, self.scale, n)
        return np.where(z < 0, self.alpha * z, z)


def fit_model(x: np.ndarray, alpha: float = 0.1) -> ActivationModel:
    """The Gaussian or Laplacian pre-activation model of higher likelihood for activations ``x``.

    With a leaky slope the pre-activations are recovered exactly (``z = x / alpha`` below 0) and both
    fits are closed-form (mean/std; median/mean absolute deviation). For ReLU (``alpha = 0``) the zeros
    are censored: the censored likelihood is maximised numerically."""
    x = np.asarray(x, np.float64).ravel()
    if alpha > 0:
        z = np.where(x < 0, x / alpha, x)
        mu, sigma = float(z.mean()), max(float(z.std()), 1e-9)
        med = float(np.median(z))
        b = max(float(np.mean(np.abs(z - med))), 1e-9)
        ll_gauss = -(math.log(sigma * SQRT2PI) + 0.5)
        ll_laplace = -(math.log(2 * b) + 1)
        return ActivationModel("gauss", mu, sigma, alpha) if ll_gauss >= ll_laplace else \
            ActivationModel("laplace", med, b, alpha)
    return _fit_censored(x)


def _fit_censored(x: np.ndarray) -> ActivationModel:
    from scipy.optimize import minimize

    pos = x[x > 0]
    n0 = len(x) - len(pos)
    best = None
    for family in ("gauss", "laplace"):
        def nll(p, family=family):
            m = ActivationModel(family, p[0], math.exp(p[1]), 0.0)
            p0 = max(1 - float(m._upper_moments(0.0)[0]), 1e-300)
            if family == "gauss":
                lp = -0.5 * ((pos - p[0]) / m.scale) ** 2 - math.log(m.scale * SQRT2PI)
            else:
                lp = -np.abs(pos - p[0]) / m.scale - math.log(2 * m.scale)
            return -(n0 * math.log(p0) + lp.sum())
        start = [float(pos.mean()) if len(pos) else 0.0, math.log(float(pos.std()) + 1e-6 if len(pos) else 1.0)]
        r = minimize(nll, start, method="Nelder-Mead")
        if best is None or r.fun < best[0]:
            best = (r.fun, ActivationModel(family, float(r.x[0]), float(math.exp(r.x[1])), 0.0))
    return best[1]


def optimal_range(model: ActivationModel, levels: int, grid: int = 64) -> tuple[float, float]:
    """The (lo, hi) minimising :meth:`ActivationModel.total_error` for ``levels`` levels: a grid over
    the model's scale, then Nelder-Mead from the best grid point. ``lo`` is 0 for ReLU."""
    from scipy.optimize import minimize

    s, mu = model.scale, model.mu
    his = np.linspace(max(mu, 0) + 0.05 * s, max(mu, 0) + 8 * s, grid)
    if model.alpha > 0:
        los = np.linspace(model.alpha * min(mu - 8 * s, -0.05 * s), 0.0, grid)
        L, H = np.meshgrid(los, his, indexing="ij")
        i, j = np.unravel_index(np.argmin(model.total_error(L, H, levels)), L.shape)
        r = minimize(lambda p: float(model.total_error(min(p[0], 0.0), max(p[1], 1e-9 * s), levels)),
                     [los[i], his[j]], method="Nelder-Mead", options={"xatol": 1e-5 * s, "fatol": 1e-14})
        return float(min(r.x[0], 0.0)), float(max(r.x[1], 1e-9 * s))
    err = model.total_error(np.zeros_like(his), his, levels)
    j = int(np.argmin(err))
    r = minimize(lambda p: float(model.total_error(0.0, max(p[0], 1e-9 * s), levels)), [his[j]],
                 method="Nelder-Mead", options={"xatol": 1e-5 * s, "fatol": 1e-14})
    return 0.0, float(max(r.x[0], 1e-9 * s))
