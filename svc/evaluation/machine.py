"""Scoring a detector's output on decoded data against its output on the originals (the protocol of
the feature-layer and latent-codec benchmarks): mAP@0.5 of the detections ranked by score, the same
cut at the operating threshold, and MOTA of svc's tracker on the thresholded detections."""
from __future__ import annotations

import numpy as np


def load_frames(spec: str, n: int):
    """(format, frames) of at most ``n`` frames of a named clip (``name[:first frame]``,
    :func:`svc.datasets.clips.clip`)."""
    from svc.datasets.clips import clip

    name, _, first = spec.partition(":")
    fmt, frames = clip(name, n + int(first or 0))
    return fmt, frames[int(first or 0):]


def reference_run(sd, frames, batch: int = 4):
    """The detector on the original frames (the reference every decoded variant is scored against):
    (split tensors per frame, letterboxes, detections, MOT rows of svc's tracker on them); ``sd`` a
    :class:`svc.features.split.SplitDetector`."""
    feats, lbs = [], []
    for i in range(0, len(frames), batch):
        f, lb = sd.edge(frames[i:i + batch])
        feats += f
        lbs += lb
    ref = sd.cloud(feats, lbs)
    return feats, lbs, ref, tracks(ref)


def rows(dets) -> np.ndarray:
    """MOT rows (frame from 1, id -1, box, score, class) of per-frame detections."""
    out = [[i + 1, -1, *b, s, c, -1, -1] for i, d in enumerate(dets) for b, s, c in zip(d.boxes, d.scores, d.classes)]
    return np.array(out, np.float64).reshape(-1, 10)


def tracks(dets) -> np.ndarray:
    """MOT rows of svc's tracker run over per-frame detections."""
    from svc.analytics.tracker import Tracker

    tr, out = Tracker(), []
    for i, d in enumerate(dets):
        out += [[i + 1, t.track_id, *t.box, t.score, t.class_id, -1, -1] for t in tr.update(d)]
    return np.array(out, np.float64).reshape(-1, 10)


def scores(ref_dets, ref_tracks, dets, threshold: float) -> tuple[float, float, float]:
    """(mAP@0.5 of ``dets`` ranked by score, mAP@0.5 of those scoring >= ``threshold``, MOTA of those),
    against the reference; mAPs instance-weighted over the reference's classes."""
    from svc.metrics.mot import detection_map50, evaluate

    g, h = rows(ref_dets), rows(dets)
    cls, cnt = np.unique(g[:, 7], return_counts=True)
    if not len(cls):
        return float("nan"), float("nan"), float("nan")
    cut = h[h[:, 6] >= threshold]
    aps = [detection_map50(g[g[:, 7] == c], h[h[:, 7] == c]) for c in cls]
    aps_cut = [detection_map50(g[g[:, 7] == c], cut[cut[:, 7] == c]) for c in cls]
    kept = [d.select(d.scores >= threshold) for d in dets]
    mota = evaluate(ref_tracks, tracks(kept), classes=[int(c) for c in cls])["all"]["MOTA"]
    return float(np.average(aps, weights=cnt)), float(np.average(aps_cut, weights=cnt)), float(mota)


def bd_rate_or_nan(rate_anchor, metric_anchor, rate_test, metric_test) -> float:
    """BD-rate (percent) over each curve's operational (Pareto) points; NaN where the curves do not
    overlap or have fewer than two points (task metrics are noisy)."""
    from svc.metrics.bdrate import bd_rate, pareto_front

    ra, ma, rt, mt = (np.asarray(v, np.float64) for v in (rate_anchor, metric_anchor, rate_test, metric_test))
    ia, it = pareto_front(ra, ma), pareto_front(rt, mt)
    try:
        return bd_rate(ra[ia], ma[ia], rt[it], mt[it])
    except ValueError:
        return float("nan")
