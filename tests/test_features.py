"""Split-DNN feature codec: analytic clipping range, ECSQ design."""
import numpy as np
import pytest

from svc.features.clipping import ActivationModel, fit_model, optimal_range
from svc.features.ecsq import design


def _empirical(x, lo, hi, levels):
    step = (hi - lo) / (levels - 1)
    q = lo + np.round((np.clip(x, lo, hi) - lo) / step) * step
    return float(np.mean((x - q) ** 2))


@pytest.mark.parametrize("family,alpha,levels", [("gauss", 0.1, 8), ("laplace", 0.1, 16), ("gauss", 0.0, 8),
                                                 ("laplace", 0.0, 4)])
def test_clipping_range_matches_the_numerical_optimum(family, alpha, levels):
    """The range chosen from the fitted model (two parameters, closed-form errors) is as good as the
    best range found by brute force on the samples themselves."""
    truth = ActivationModel(family, 0.3, 1.0, alpha)
    x = truth.sample(60000, seed=1)
    model = fit_model(x, alpha)
    assert model.family == family and abs(model.mu - 0.3) < 0.05 and abs(model.scale - 1.0) < 0.05
    lo, hi = optimal_range(model, levels)
    # the model predicts the error it will have (within the sampling noise of a heavy-tailed clipping error)
    assert model.total_error(lo, hi, levels) == pytest.approx(_empirical(x, lo, hi, levels), rel=0.1)
    los = np.linspace(-0.8, 0.0, 33) if alpha > 0 else [0.0]
    best = min((_empirical(x, a, b, levels), a, b) for a in los for b in np.linspace(0.5, 8.0, 76))
    assert _empirical(x, lo, hi, levels) <= best[0] * 1.02, (lo, hi, best)
    assert abs(hi - best[2]) < 0.25
    # clipping and quantisation trade off: a narrower range clips more and quantises finer
    assert model.clipping_error(lo, hi * 0.7) > model.clipping_error(lo, hi)
    assert model.quantisation_error(lo, hi * 0.7, levels) < model.quantisation_error(lo, hi, levels)


def test_ecsq_design_lowers_the_lagrangian_every_iteration():
    m = ActivationModel("laplace", 0.3, 0.8, 0.1)
    x = m.sample(40000)
    lo, hi = optimal_range(m, 16)
    u = (np.clip(x, lo, hi) - lo) / (hi - lo)
    for lam in (0.0005, 0.005):
        q = design(u, 16, lam)
        assert len(q.history) > 2 and all(b <= a + 1e-12 for a, b in zip(q.history, q.history[1:]))
        assert q.levels[0] == 0.0 and q.levels[-1] == 1.0 and np.all(np.diff(q.levels) > 0)
        idx = q.quantise(u)
        # the designed quantiser beats the uniform one with the same levels at the same lambda
        uni = np.linspace(0, 1, len(q.levels))
        ui = np.argmin((u[:, None] - uni[None]) ** 2, 1)
        p = np.bincount(ui, minlength=len(uni)) / len(u)
        j_uni = np.mean((u - uni[ui]) ** 2) + lam * np.mean(-np.log2(p[ui]))
        assert q.history[-1] < j_uni
        assert np.all(np.diff(q.thresholds()) > 0)  # interval cells: the rule is a threshold search
        assert np.array_equal(np.searchsorted(q.thresholds(), u), idx)


def test_split_inference_equals_the_whole_network(carphone_yuv):
    """Edge + cloud at every split point give the full detector's detections on a real frame."""
    from svc.features.split import SPLITS, SplitDetector, SplitPoint
    from svc.io import open_source

    frames = list(open_source(carphone_yuv, max_frames=2))
    whole = None
    for name in SPLITS:
        sd = SplitDetector(name, threads=1)
        feats, lbs = sd.edge(frames)
        assert [f.shape for f in feats[0]] == SplitPoint(name).shapes(lbs[0].input_w, lbs[0].input_h)
        dets = sd.cloud(feats, lbs)
        if whole is None:
            whole = sd.detector.detect_batch(frames)
            assert all(0 in d.classes for d in whole)  # the carphone person
        for a, b in zip(dets, whole):
            assert np.array_equal(a.classes, b.classes) and np.allclose(a.boxes, b.boxes, atol=0.05)
