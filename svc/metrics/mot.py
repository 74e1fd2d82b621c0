"""Tracking and detection metrics: MOTA/MOTP/IDF1 (py-motmetrics), HOTA (TrackEval), AP@0.5.

All inputs are MOTChallenge-style rows, arrays of shape (N, >= 6):
``[frame, id, x, y, w, h, conf, class_id, ...]`` with boxes in pixels ((x, y) = top-left
corner). ``conf`` (column 6) is only used to rank detections for AP; ``class_id`` (column 7,
COCO ids) only by :func:`evaluate`. Every ground-truth row counts (no conf/visibility filter).
"""
from __future__ import annotations

import numpy as np

from svc.analytics.boxes import iou_matrix
from svc.compat import patch_numpy

patch_numpy()
import motmetrics as mm  # noqa: E402
from trackeval.metrics import HOTA as _TrackEvalHOTA  # noqa: E402

PERSON = 0

#: What :func:`mot_metrics` returns, mapped to py-motmetrics' metric names.
_MM_FIELDS = {
    "MOTA": "mota",
    "IDF1": "idf1",
    "IDs": "num_switches",
    "FP": "num_false_positives",
    "FN": "num_misses",
    "num_frames": "num_frames",
    "num_objects": "num_objects",
    "num_matches": "num_detections",
    "precision": "precision",
    "recall": "recall",
}


def _rows(a, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.size == 0:
        return a.reshape(0, max(6, a.shape[-1] if a.ndim == 2 else 6))
    if a.ndim != 2 or a.shape[1] < 6:
        raise ValueError(f"{name}: expected MOTChallenge rows of shape (N, >= 6), got {a.shape}")
    return a


def _by_frame(rows: np.ndarray) -> dict[int, np.ndarray]:
    frames = rows[:, 0].astype(np.int64)
    order = np.argsort(frames, kind="stable")
    rows, frames = rows[order], frames[order]
    uniq, starts = np.unique(frames, return_index=True)
    return dict(zip(uniq.tolist(), np.split(rows, starts[1:]))) if len(uniq) else {}


def _accumulate(gt: np.ndarray, hyp: np.ndarray, iou_threshold: float) -> "mm.MOTAccumulator":
    """One MOTAccumulator over the union of the frames in gt and hyp."""
    acc = mm.MOTAccumulator(auto_id=False)
    g, h = _by_frame(gt), _by_frame(hyp)
    empty = np.empty((0, 6))
    for f in sorted(set(g) | set(h)):
        gf, hf = g.get(f, empty), h.get(f, empty)
        dists = mm.distances.iou_matrix(gf[:, 2:6], hf[:, 2:6], max_iou=1.0 - iou_threshold)
        acc.update(gf[:, 1].astype(np.int64), hf[:, 1].astype(np.int64), dists, frameid=f)
    return acc


def _summary(accs: list, names: list) -> dict:
    """Metric dicts per name (and 'OVERALL' when several) from MOTAccumulators."""
    mh = mm.metrics.create()
    metrics = sorted(set(_MM_FIELDS.values()) | {"motp"})
    df = mh.compute_many(accs, metrics=metrics, names=names, generate_overall=len(accs) > 1)
    out = {}
    for name, row in df.iterrows():
        d = {k: float(row[v]) for k, v in _MM_FIELDS.items()}
        for k in ("IDs", "FP", "FN", "num_frames", "num_objects", "num_matches"):
            d[k] = int(d[k])
        # motmetrics' MOTP is the mean IoU *distance* (1 - IoU) of matches; report the
        # MOTChallenge convention instead: mean IoU of matches (higher is better).
        d["MOTP"] = 1.0 - float(row["motp"]) if d["num_matches"] else float("nan")
        if d["num_objects"] == 0:  # motmetrics divides by zero here (-inf / nan)
            d["MOTA"] = float("nan")
        out[name] = d
    return out


def mot_metrics(gt_rows, hyp_rows, iou_threshold: float = 0.5) -> dict:
    """CLEAR-MOT and identity metrics of one sequence (py-motmetrics, IoU matching).

    Returns ``{'MOTA', 'MOTP', 'IDF1', 'IDs', 'FP', 'FN', 'num_frames', 'num_objects',
    'num_matches', 'precision', 'recall'}``. A pair can match when IoU >= iou_threshold.
    MOTP here is the mean IoU of matched pairs (MOTChallenge convention, 1 = perfect), i.e.
    1 - motmetrics' ``motp``. Frames are the union of those in gt and hyp. MOTA/IDF1 are NaN
    when undefined (no ground truth).
    """
    gt, hyp = _rows(gt_rows, "gt_rows"), _rows(hyp_rows, "hyp_rows")
    return _summary([_accumulate(gt, hyp, iou_threshold)], ["seq"])["seq"]


def _relabel(ids: np.ndarray) -> tuple[np.ndarray, int]:
    uniq, inv = np.unique(ids.astype(np.int64), return_inverse=True)
    return inv.astype(np.int64), len(uniq)


def hota_data(gt_rows, hyp_rows) -> dict:
    """TrackEval's per-sequence data dict (IoU similarity), ids relabelled 0..n-1.

    Timesteps are the sorted union of frames present in gt or hyp (frames with neither do not
    change HOTA).
    """
    gt, hyp = _rows(gt_rows, "gt_rows"), _rows(hyp_rows, "hyp_rows")
    gt_lab, n_gt = _relabel(gt[:, 1])
    hyp_lab, n_hyp = _relabel(hyp[:, 1])
    frames = sorted(set(gt[:, 0].astype(np.int64).tolist()) | set(hyp[:, 0].astype(np.int64).tolist()))
    gf, hf = gt[:, 0].astype(np.int64), hyp[:, 0].astype(np.int64)
    data = {"gt_ids": [], "tracker_ids": [], "similarity_scores": [], "gt_dets": [], "tracker_dets": []}
    for f in frames:
        gm, hm = gf == f, hf == f
        g_ids, h_ids = gt_lab[gm], hyp_lab[hm]
        if len(np.unique(g_ids)) != len(g_ids) or len(np.unique(h_ids)) != len(h_ids):
            raise ValueError(f"frame {f}: an object/track id appears twice")
        data["gt_ids"].append(g_ids)
        data["tracker_ids"].append(h_ids)
        data["gt_dets"].append(gt[gm, 2:6])
        data["tracker_dets"].append(hyp[hm, 2:6])
        data["similarity_scores"].append(iou_matrix(gt[gm, 2:6], hyp[hm, 2:6]))
    data.update(num_timesteps=len(frames), num_gt_ids=n_gt, num_tracker_ids=n_hyp,
                num_gt_dets=len(gt), num_tracker_dets=len(hyp))
    return data


def _hota_res(gt_rows, hyp_rows) -> dict:
    return _TrackEvalHOTA().eval_sequence(hota_data(gt_rows, hyp_rows))


def _hota_summary(res: dict) -> dict:
    return {k: float(np.mean(res[k])) for k in ("HOTA", "DetA", "AssA", "LocA")}


def hota(gt_rows, hyp_rows, details: bool = False):
    """HOTA of one sequence (TrackEval), averaged over alpha = 0.05..0.95 as TrackEval reports.

    Returns a float in [0, 1]; with ``details=True`` a dict ``{'HOTA', 'DetA', 'AssA', 'LocA'}``
    (each alpha-averaged). An empty hypothesis (or empty ground truth) gives 0.
    """
    s = _hota_summary(_hota_res(gt_rows, hyp_rows))
    return s if details else s["HOTA"]


def detection_map50(gt_rows, det_rows, iou_threshold: float = 0.5) -> float:
    """Average precision at IoU 0.5 for one class (all-point interpolation, VOC 2010+ style).

    Detections are ranked by ``conf`` (column 6; stable order for ties) over the whole
    sequence; each is matched, within its frame, to the unmatched ground-truth box with the
    highest IoU >= iou_threshold (COCO-style greedy matching), else it is a false positive.
    AP is the area under the precision envelope over recall. NaN if there is no ground truth.
    """
    gt, det = _rows(gt_rows, "gt_rows"), _rows(det_rows, "det_rows")
    n_gt = len(gt)
    if n_gt == 0:
        return float("nan")
    if len(det) == 0:
        return 0.0
    scores = det[:, 6] if det.shape[1] > 6 else np.ones(len(det))
    order = np.argsort(-scores, kind="stable")
    gt_by_frame = _by_frame(gt)
    used = {f: np.zeros(len(r), dtype=bool) for f, r in gt_by_frame.items()}
    tp = np.zeros(len(det))
    for k, i in enumerate(order):
        f = int(det[i, 0])
        if f not in gt_by_frame:
            continue
        iou = iou_matrix(det[i:i + 1, 2:6], gt_by_frame[f][:, 2:6])[0]
        iou[used[f]] = -1.0
        j = int(np.argmax(iou))
        if iou[j] >= iou_threshold:
            used[f][j] = True
            tp[k] = 1.0
    ctp = np.cumsum(tp)
    recall = ctp / n_gt
    precision = ctp / np.arange(1, len(det) + 1)
    mrec = np.concatenate([[0.0], recall, [recall[-1]]])
    mpre = np.concatenate([[1.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    return float(np.sum((mrec[1:] - mrec[:-1]) * mpre[1:]))


def _classes_of(rows: np.ndarray) -> np.ndarray:
    """Class id per row: column 7 when present and >= 0, else person (0)."""
    if rows.shape[1] > 7:
        c = rows[:, 7].astype(np.int64)
        return np.where(c >= 0, c, PERSON)
    return np.full(len(rows), PERSON, dtype=np.int64)


def evaluate(gt_rows, hyp_rows, det_rows=None, classes=None, iou_threshold: float = 0.5, det_frames=None) -> dict:
    """All metrics per class id and over all classes.

    Returns ``{class_id: {...}, 'all': {...}}`` where each entry holds the keys of
    :func:`mot_metrics` plus ``'HOTA'`` (and ``'mAP50'`` when ``det_rows`` is given).
    Matching is always within a class. ``'all'`` pools the per-class matches: MOT counts
    are summed (motmetrics' overall row), HOTA is TrackEval's detection-weighted class
    combination, and ``mAP50`` is the mean of the per-class APs that are defined.
    Classes default to the union of those in gt and hyp (and det); class ids come from
    column 7 (negative or missing = person, 0). ``det_frames``: the frames the detector ran on
    (with a detector interval); mAP@0.5 is scored on those frames only (None: every frame).
    """
    gt, hyp = _rows(gt_rows, "gt_rows"), _rows(hyp_rows, "hyp_rows")
    det = _rows(det_rows, "det_rows") if det_rows is not None else None
    gc, hc = _classes_of(gt), _classes_of(hyp)
    dc = _classes_of(det) if det is not None else None
    if classes is None:
        pool = [gc, hc] + ([dc] if dc is not None else [])
        classes = sorted(set(np.concatenate(pool).tolist()))
    classes = [int(c) for c in classes]
    if not classes:
        raise ValueError("no classes to evaluate (empty ground truth and hypothesis)")

    accs, hota_res, out = [], {}, {}
    for c in classes:
        accs.append(_accumulate(gt[gc == c], hyp[hc == c], iou_threshold))
        hota_res[c] = _hota_res(gt[gc == c], hyp[hc == c])
    summ = _summary(accs, classes)
    for c in classes:
        out[c] = dict(summ[c], HOTA=_hota_summary(hota_res[c])["HOTA"])
    out["all"] = dict(summ["OVERALL"] if len(classes) > 1 else summ[classes[0]])
    if len(classes) > 1:
        combined = _TrackEvalHOTA().combine_classes_det_averaged(hota_res)
        out["all"]["HOTA"] = _hota_summary(combined)["HOTA"]
    else:
        out["all"]["HOTA"] = out[classes[0]]["HOTA"]
    if det is not None:
        aps = []
        on = np.ones(len(gt), bool) if det_frames is None else np.isin(gt[:, 0], np.asarray(list(det_frames)))
        for c in classes:
            out[c]["mAP50"] = detection_map50(gt[(gc == c) & on], det[dc == c], iou_threshold)
            if not np.isnan(out[c]["mAP50"]):
                aps.append(out[c]["mAP50"])
        out["all"]["mAP50"] = float(np.mean(aps)) if aps else float("nan")
    return out
