"""Bjøntegaard delta (BD-rate, BD-metric) with piecewise cubic (PCHIP) interpolation.

This is the method of the JCT-VC / JVET common-test-condition spreadsheets (JCTVC-L1100,
JVET-T2010; also the default ``method='pchip'`` of the ``bjontegaard`` package): the
shape-preserving piecewise cubic Hermite interpolant of log10(rate) against the metric
(BD-rate) or of the metric against log10(rate) (BD-metric), integrated exactly over the
interval where both curves are defined. SciPy's ``PchipInterpolator`` uses the same interior
slopes (weighted harmonic mean) and end-point rule as the spreadsheet's ``bdRIntEnh``.

Rates are in any positive unit (kbps, bytes, bpp) as long as both curves use the same one;
the metric can be PSNR (dB), MS-SSIM, MOTA, mAP, ... Each curve needs >= 2 points (4, as
in the CTC, recommended), and after sorting by rate its metric must be strictly monotonic
(both curves the same direction); :func:`pareto_front` gives the operational curve of noisy
measurements.
"""
from __future__ import annotations

import numpy as np
from scipy.interpolate import PchipInterpolator


def _curve(rate, metric, name: str):
    """Validated ``(log10 rate, metric)`` arrays sorted by increasing rate, plus direction."""
    r = np.asarray(rate, dtype=np.float64).ravel()
    m = np.asarray(metric, dtype=np.float64).ravel()
    if r.size != m.size:
        raise ValueError(f"{name}: {r.size} rates but {m.size} metric values")
    if r.size < 2:
        raise ValueError(f"{name}: need at least 2 rate/metric points (4 recommended), got {r.size}")
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(m))):
        raise ValueError(f"{name}: rates and metric values must be finite")
    if np.any(r <= 0):
        raise ValueError(f"{name}: rates must be > 0 (log10 is taken), got {r.tolist()}")
    order = np.argsort(r, kind="stable")
    r, m = r[order], m[order]
    if np.any(np.diff(r) == 0):
        raise ValueError(f"{name}: duplicate rates {r.tolist()}")
    dm = np.diff(m)
    if np.all(dm > 0):
        direction = 1
    elif np.all(dm < 0):
        direction = -1
    else:
        raise ValueError(
            f"{name}: metric is not strictly monotonic in rate after sorting by rate "
            f"(rates {r.tolist()}, metric {m.tolist()}); BD needs a one-to-one RD curve"
        )
    return np.log10(r), m, direction


def pareto_front(rate, metric, higher_is_better: bool = True) -> np.ndarray:
    """Indices, in increasing rate, of the points no cheaper-or-equal point beats or ties.

    Measured task metrics (MOTA, mAP) are noisy and often not monotonic in rate, which BD refuses;
    the common remedy is the operational RD curve: drop each point that costs at least as much as
    another with an equal or better metric. For a strictly monotonic curve that is every point.
    Ties in rate keep the better metric."""
    r = np.asarray(rate, dtype=np.float64).ravel()
    m = np.asarray(metric, dtype=np.float64).ravel()
    if r.size != m.size:
        raise ValueError(f"{r.size} rates but {m.size} metric values")
    sign = 1.0 if higher_is_better else -1.0
    order = np.lexsort((-sign * m, r))  # by rate, then best metric first
    keep, best = [], -np.inf
    for i in order:
        if sign * m[i] > best and (not keep or r[i] > r[keep[-1]]):
            keep.append(int(i))
            best = sign * m[i]
    return np.asarray(keep, np.int64)


def _curves(rate_anchor, metric_anchor, rate_test, metric_test):
    la, ma, da = _curve(rate_anchor, metric_anchor, "anchor")
    lt, mt, dt = _curve(rate_test, metric_test, "test")
    if da != dt:
        raise ValueError("anchor and test metrics change in opposite directions with rate")
    return la, ma, lt, mt


def _mean_difference(xa, ya, xt, yt, axis_name: str) -> float:
    """Mean of ``pchip_test(x) - pchip_anchor(x)`` over the overlap of the two x ranges."""
    lo = max(xa.min(), xt.min())
    hi = min(xa.max(), xt.max())
    if not hi > lo:
        raise ValueError(
            f"the curves do not overlap in {axis_name} (anchor [{xa.min():g}, {xa.max():g}], "
            f"test [{xt.min():g}, {xt.max():g}])"
        )
    oa, ot = np.argsort(xa), np.argsort(xt)
    ia = PchipInterpolator(xa[oa], ya[oa], extrapolate=False).integrate(lo, hi)
    it = PchipInterpolator(xt[ot], yt[ot], extrapolate=False).integrate(lo, hi)
    return float((it - ia) / (hi - lo))


def bd_rate(rate_anchor, metric_anchor, rate_test, metric_test) -> float:
    """BD-rate in percent: mean rate change of test vs anchor at equal metric.

    Negative means the test needs fewer bits for the same quality (e.g. -10.0 = 10 % saving).
    Inputs are 1-D sequences of equal length per curve (order does not matter).
    """
    la, ma, lt, mt = _curves(rate_anchor, metric_anchor, rate_test, metric_test)
    avg_log_diff = _mean_difference(ma, la, mt, lt, "metric")
    return float((10.0 ** avg_log_diff - 1.0) * 100.0)


def bd_metric(rate_anchor, metric_anchor, rate_test, metric_test) -> float:
    """BD-metric (e.g. BD-PSNR in dB): mean metric change of test vs anchor at equal rate.

    In the metric's own unit; positive means the test scores higher at the same rate.
    """
    la, ma, lt, mt = _curves(rate_anchor, metric_anchor, rate_test, metric_test)
    return _mean_difference(la, ma, lt, mt, "log10(rate)")


bd_psnr = bd_metric


def rate_at(rate, metric, targets) -> np.ndarray:
    """Rates at which the RD curve (``rate``, ``metric``; strictly monotonic) reaches each of ``targets``:
    the PCHIP interpolant of log10(rate) against the metric, as BD-rate integrates it; NaN outside the
    curve's metric range (no extrapolation)."""
    lr, m, direction = _curve(rate, metric, "curve")
    if direction < 0:
        lr, m = lr[::-1], m[::-1]
    order = np.argsort(m)
    f = PchipInterpolator(m[order], lr[order], extrapolate=False)
    return 10 ** f(np.asarray(targets, np.float64))


def simulcast(base_rate: float, anchor_rate, anchor_metric, metric) -> np.ndarray:
    """Simulcast rates of points of quality ``metric``: the base layer (``base_rate``) plus an
    independent single-layer stream reaching the same quality on the anchor curve (:func:`rate_at`);
    NaN where the anchor does not reach it."""
    return base_rate + rate_at(anchor_rate, anchor_metric, metric)
