"""One evaluation point: code a sequence, analyse its base layer, score the tracks against ground truth.

    source -> encode (base with or without ROI [+ enhancement]) -> container bytes
           -> analytics_gops (base decode -> detect -> track)   -> hypothesis rows
           -> evaluate(ground truth, hypothesis, detections)     -> MOTA, IDF1, HOTA, mAP@0.5 ...

The ``uncompressed`` configuration runs detect -> track on the original frames (the upper bound). The
``features`` configuration codes the split-DNN feature layer alone at quantiser ``qp`` (the point's
``qp`` is the quantiser id there) and analyses it as ``svc-analyze --from features`` does; its
``base_kbps`` is the feature layer's rate (what the machine consumer receives). ``features-base``
codes the feature layer against the base layer at the configuration's ``base.qp``
(``features.interlayer``), analysed the same way; its ``base_kbps`` is feature layer + base layer.
Analytics track the configuration's ``analytics.classes`` (as ``svc-analyze`` does); the scored
classes are the point's ``object_classes`` (default: every class in the sequence's ground truth),
each class on its own and pooled.
"""
from __future__ import annotations

import dataclasses
import io
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from svc.bitstream import GopRecord
from svc.buffer import GopBuffer
from svc.config import SvcConfig, load_config
from svc.evaluation.rows import EvaluationRow

from svc.pipeline.stages import DecodedGop, detect_stage, track_stage

CONFIGURATIONS = ("roi", "plain", "uncompressed", "features", "features-base")
FEATURE_CONFIGURATIONS = ("features", "features-base")  # points whose qp is the feature quantiser


@dataclass(frozen=True)
class PointSpec:
    """Everything that determines one result row (also the cache key)."""

    sequence: str          # file stem, e.g. BasketballPass_416x240_50
    ctc_class: str
    path: str
    annotations: str
    width: int
    height: int
    fps: float
    frames: int
    configuration: str     # roi | plain | uncompressed | features | features-base
    qp: int | None = None  # base QP; features, features-base: the feature quantiser id
    enh_quality: float | None = None
    detector: str | None = None  # None: the configuration's analytics.detector
    object_classes: tuple | None = None  # COCO ids to score; None: every class in the ground truth
    overrides: tuple = field(default_factory=tuple)  # (("base.preset", "fast"), ...) applied to the config

    def key_fields(self) -> dict:
        d = asdict(self)
        d.pop("path")
        d.pop("annotations")
        return d


def point_config(spec: PointSpec) -> SvcConfig:
    """The configuration of one point: the spec's overrides, then its QP, ROI mode and enhancement."""
    from svc.base.roi import with_roi_rate_control

    cfg = load_config(overrides=[f"{k}={v}" for k, v in spec.overrides])
    over = {"roi.mode": "auto" if spec.configuration == "roi" else "off",
            "enhancement.enabled": spec.enh_quality is not None}
    if spec.configuration in FEATURE_CONFIGURATIONS:
        on_base = spec.configuration == "features-base"
        over.update({"features.enabled": True, "features.pixels": on_base, "features.interlayer": on_base,
                     "enhancement.enabled": False})
        if spec.qp is not None:
            over["features.quantiser"] = spec.qp
    elif spec.qp is not None:
        over["base.qp"] = spec.qp
    if spec.enh_quality is not None:
        over["enhancement.quality"] = spec.enh_quality
    # the plain anchor gets the rate control the ROI method forces, so the two differ by the ROI alone
    return with_roi_rate_control(load_config(overrides=[over], base=cfg))


def _rows(gops, first_frame=1):
    """(tracks, detections) as MOTChallenge arrays with the COCO class in column 7."""
    tracks, dets = [], []
    for dec in gops:
        base = dec.record.first_frame + first_frame
        for i, (d, t) in enumerate(zip(dec.detections, dec.tracks)):
            for tid, box, score, cls in t:
                tracks.append([base + i, tid, *box, score, cls, -1, -1])
            if d is None:  # detector skipped this frame (analytics.detect_interval)
                continue
            for box, score, cls in zip(d.boxes, d.scores, d.classes):
                dets.append([base + i, -1, *box, score, cls, -1, -1])
    return np.array(tracks, np.float64).reshape(-1, 10), np.array(dets, np.float64).reshape(-1, 10)


def _original_gops(source, gop_size):
    for gop in GopBuffer(source, gop_size):
        yield DecodedGop(GopRecord(gop.index, gop.first_frame, len(gop), b""), gop.frames, layer="original")


@dataclass
class PointOutput:
    """What one point's analytics produced: ``hyp`` track rows and ``dets`` detection rows (N, 10)
    MOTChallenge arrays with the COCO class in column 7, ``frames`` analysed, ``coded`` rate / PSNR
    fields of the coded base layer (empty for ``uncompressed``), the ``tracked`` class ids (None: all)."""

    hyp: np.ndarray
    dets: np.ndarray
    frames: int
    coded: dict
    tracked: list | None
    seconds: float


def analyse_point(spec: PointSpec) -> PointOutput:
    """Codes the point's sequence (plain or ROI base layer; nothing for ``uncompressed``) and runs the
    configured analytics on the base layer (or on the original frames)."""
    from svc.analytics.detectors import make_detector
    from svc.analytics.tracker import Tracker
    from svc.io import open_source

    t0 = time.perf_counter()
    cfg = point_config(spec)
    tracked = tracked_class_ids(cfg)  # what the analytics keep, as svc-analyze does (None: all 80)
    source = open_source(spec.path, max_frames=spec.frames)
    detector = make_detector(spec.detector or cfg.analytics.detector, **dict(cfg.analytics.detector_options))
    tracker = Tracker(cfg.analytics.tracker)
    interval, coast = cfg.analytics.detect_interval, cfg.analytics.coast
    if spec.configuration == "uncompressed":
        gops = track_stage(detect_stage(_original_gops(source, cfg.base.gop), detector, tracked,
                                        interval), tracker, coast)
        hyp, dets = _rows(gops)
        return PointOutput(hyp, dets, source.num_frames, {}, tracked, time.perf_counter() - t0)
    from svc.pipeline.analyze import analytics_gops, feature_gops
    from svc.pipeline.decode import open_reader
    from svc.pipeline.encoder import Encoder

    if spec.configuration in FEATURE_CONFIGURATIONS:
        encoder = Encoder.from_config(cfg, source.format, detector)
        layer = encoder.features
        buf = io.BytesIO()
        s = encoder.encode(source, buf)
        reader = open_reader(io.BytesIO(buf.getvalue()), "features")
        hyp, dets = _rows(feature_gops(reader, lambda header: layer, tracker, tracked))
        if spec.configuration == "features":
            coded = dict(base_kbps=s.feat_kbps, full_kbps=s.feat_kbps, psnr_y_base=float("nan"),
                         psnr_y_full=float("nan"))
        else:  # what the machine consumer receives: the feature layer and the base it is coded on
            kbps = s.feat_kbps + s.base_kbps
            coded = dict(base_kbps=kbps, full_kbps=kbps, psnr_y_base=s.psnr_base.y, psnr_y_full=s.psnr_base.y)
        return PointOutput(hyp, dets, s.frames, coded, tracked, time.perf_counter() - t0)

    buf = io.BytesIO()
    s = Encoder.from_config(cfg, source.format, detector).encode(source, buf)
    reader = open_reader(io.BytesIO(buf.getvalue()), "base")
    hyp, dets = _rows(analytics_gops(reader, detector, tracker, tracked, interval, coast))
    coded = dict(base_kbps=s.base_kbps, full_kbps=s.full_kbps, psnr_y_base=s.psnr_base.y,
                 psnr_y_full=s.psnr_viewer.y)
    if s.roi_dropped_gops is not None:  # ROI + enhancement: GOPs sent without ROI to keep the viewer's quality
        coded.update(roi_dropped_gops=s.roi_dropped_gops, gops=s.gops,
                     psnr_y_full_without_roi=s.psnr_full_without_roi.y)
    return PointOutput(hyp, dets, s.frames, coded, tracked, time.perf_counter() - t0)


def score_point(spec: PointSpec, gt: np.ndarray, out: PointOutput) -> EvaluationRow:
    """The result row of ``out`` against ground-truth rows ``gt`` (N, >= 8; class in column 7): the
    scored classes (``spec.object_classes``, default every class in ``gt``) pooled, and each in
    ``per_class``. A point without ground truth scores the tracked classes (every row a false positive)."""
    from svc.analytics.detectors import COCO_NAMES
    from svc.metrics.mot import evaluate

    if spec.object_classes is None:
        scored = sorted({int(c) for c in gt[:, 7]}) or sorted({int(c) for c in out.hyp[:, 7]}) or [0]
    else:
        scored = [int(c) for c in spec.object_classes]
    # mAP@0.5 scores the detector where it ran (every analytics.detect_interval-th frame; every frame of
    # the feature layer)
    k = 1 if spec.configuration in FEATURE_CONFIGURATIONS else point_config(spec).analytics.detect_interval
    m = evaluate(gt[np.isin(gt[:, 7], scored)], out.hyp, out.dets, classes=scored,
                 det_frames=range(1, out.frames + 1, k))
    metrics = {k: m["all"][k] for k in ("MOTA", "MOTP", "IDF1", "IDs", "FP", "FN", "HOTA", "mAP50")}
    per_class = {COCO_NAMES[c]: dict({k: m[c][k] for k in PER_CLASS_KEYS},
                                     tracked=out.tracked is None or c in out.tracked) for c in scored}
    return EvaluationRow(spec.sequence, spec.ctc_class, spec.configuration, spec.qp, out.frames, **out.coded,
                         **metrics, per_class=per_class, seconds=out.seconds)


def run_point(spec: PointSpec) -> EvaluationRow:
    """Computes one result row (:func:`analyse_point`, then :func:`score_point` against the sequence's
    SFU-HW-Tracks-v1 annotations)."""
    from svc.datasets.sfu_hw import read_sfu_annotations

    t0 = time.perf_counter()
    gt = read_sfu_annotations(spec.annotations, spec.width, spec.height, num_frames=spec.frames)
    row = score_point(spec, gt, analyse_point(spec))
    return dataclasses.replace(row, seconds=time.perf_counter() - t0)


#: Metrics kept for each scored class of a point (:attr:`EvaluationRow.per_class`).
PER_CLASS_KEYS = ("MOTA", "IDF1", "HOTA", "mAP50", "IDs", "FP", "FN", "num_objects")


def tracked_class_ids(cfg: SvcConfig) -> list[int] | None:
    """COCO ids of ``analytics.classes`` (None: empty setting, all 80 classes are tracked)."""
    from svc.analytics.detectors import class_ids_from_names

    return class_ids_from_names(cfg.analytics.classes) if cfg.analytics.classes else None
