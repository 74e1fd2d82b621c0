"""Base-layer-only analytics pipeline: the enhancement bytes are never read.

    records = ContainerReader(fh, ("base",))
    gops    = base_decode_stage(records, BaseDecoder(fmt))   # HEVC -> frames, per GOP
    gops    = detect_stage(gops, detector, class_ids, k)      # boxes, scores, COCO ids (every k-th frame;
                                                              # a GOP's detected frames in one batch)
    gops    = track_stage(gops, tracker, coast)               # Kalman + Hungarian on IoU; optical flow between
    rows    -> MOTChallenge text, flushed as each GOP completes

From the feature layer instead (``source="features"``, no pixels decoded, except the base layer's
where the feature layer is coded against it, ``features.interlayer``):

    records = ContainerReader(fh, ("features",))
    gops    = features_detect_stage(records, layer, class_ids)  # decode tensors, rest of NanoDet, every frame
    gops    = track_stage(gops, tracker, "kalman")

From the learned latent codec's base latents (``source="latent"``, no pixels, the enhancement latents
never read):

    records = ContainerReader(fh, ("latent_base",))
    gops    = latent_detect_stage(records, layer, class_ids)    # latent -> stage2 tensor -> rest of NanoDet
    gops    = track_stage(gops, tracker, "kalman")
"""
from __future__ import annotations

from dataclasses import dataclass, field

from svc.analytics.mot_io import det_rows, mot_rows
from svc.base import BaseDecoder

from svc.pipeline.decode import DecodeReport, open_reader
from svc.pipeline.stages import (base_decode_stage, detect_stage, features_detect_stage, latent_detect_stage,
                                 track_stage)


@dataclass
class AnalyzeReport(DecodeReport):
    """A :class:`~svc.pipeline.decode.DecodeReport` of the base layer plus what analytics wrote:
    MOT rows, distinct track ids, stage times (s)."""

    damaged: list = field(default_factory=list)  # GOPs whose feature layer was damaged (skipped)
    track_rows: int = 0
    track_ids: set = field(default_factory=set)
    timings: dict = field(default_factory=dict)


def analytics_gops(reader, detector, tracker, class_ids=None, detect_interval: int = 1, coast: str = "flow",
                   batch: bool = True):
    """Iterator of decoded GOPs carrying ``detections`` (None where the detector did not run) and
    ``tracks`` per frame; ``coast`` and ``batch`` as for :func:`svc.pipeline.stages.track_stage` and
    :func:`~svc.pipeline.stages.detect_stage`."""
    gops = base_decode_stage(reader, BaseDecoder(reader.header.format))
    gops = detect_stage(gops, detector, class_ids, detect_interval, batch)
    return track_stage(gops, tracker, coast)


def feature_gops(reader, layer_loader, tracker, class_ids=None, on_error: str = "fail", report=None):
    """Iterator of GOPs (no pixels) with ``detections`` and ``tracks`` per frame from the feature layer;
    ``layer_loader(header)`` gives the :class:`svc.features.layer.FeatureLayer` of the stream; damaged
    feature payloads as for :func:`~svc.pipeline.stages.features_detect_stage`."""
    layer = layer_loader(reader.header)
    coded_on_base = bool(reader.header.features.get("interlayer"))  # the base's frames are decoded too
    gops = features_detect_stage(reader, layer, class_ids, reader.header.format, on_error, report,
                                 BaseDecoder(reader.header.format) if coded_on_base else None)
    return track_stage(gops, tracker, "kalman")


def latent_gops(reader, layer_loader, tracker, class_ids=None, on_error: str = "fail", report=None):
    """Iterator of GOPs (no pixels) with ``detections`` and ``tracks`` per frame from the base latents;
    ``layer_loader(header)`` gives the :class:`svc.latent.layer.LatentLayer` of the stream."""
    layer = layer_loader(reader.header)
    gops = latent_detect_stage(reader, layer, class_ids, reader.header.format, on_error, report)
    return track_stage(gops, tracker, "kalman")


def _pooled_detections(reader, pool, jobs, detector_spec, class_ids, interval, ray):
    from svc.pipeline.parallel import detection_pool, parallel_detected_gops

    if pool is not None:
        yield from parallel_detected_gops(reader, reader.header, pool)
        return
    name, options = detector_spec
    with detection_pool(jobs, name, options, class_ids, interval, ray) as own:
        yield from parallel_detected_gops(reader, reader.header, own)


def analyze(fh, detector, tracker, tracks_out, *, dets_out=None, class_ids=None, follow=False, on_error="fail",
            on_gop=None, detect_interval: int = 1, coast: str = "flow", source: str = "base",
            layer_loader=None, jobs: int = 1, detector_spec=None, ray: str | None = None,
            pool=None) -> AnalyzeReport:
    """Writes MOT rows for every frame of ``fh``'s base layer (into ``tracks_out``, a text file or a
    :class:`svc.analytics.mot_io.PerClassTracks`) (``source="features"``: of its feature
    layer, ``source="latent"``: of its base latents, each with ``layer_loader``; ``detector`` is then
    unused); ``on_gop(decoded_gop, format)`` sees each GOP. ``jobs`` > 1: GOPs are decoded
    and detected in that many processes (feature and latent layers: each loading the layer), each building the detector ``detector_spec`` = (name,
    options), or ``ray`` ("local" or a cluster address: Ray actors); ``pool``: a running
    :func:`svc.pipeline.parallel.detection_pool` to use instead (one pool for many streams). Tracking
    stays in this process, so the rows equal a serial run's."""
    stats = AnalyzeReport()
    reader = open_reader(fh, source, follow, on_error)
    if source in ("features", "latent") and (jobs > 1 or ray is not None):
        from svc.pipeline.parallel import parallel_layer_detections
        gops = track_stage(parallel_layer_detections(reader, reader.header, source, layer_loader, class_ids, on_error,
                                                     jobs, ray, stats.damaged.append), tracker, "kalman")
    elif source == "features":
        gops = feature_gops(reader, layer_loader, tracker, class_ids, on_error, stats.damaged.append)
    elif source == "latent":
        gops = latent_gops(reader, layer_loader, tracker, class_ids, on_error, stats.damaged.append)
    elif jobs > 1 or ray is not None or pool is not None:
        gops = track_stage(_pooled_detections(reader, pool, jobs, detector_spec, class_ids, detect_interval, ray),
                           tracker, coast)
    else:
        gops = analytics_gops(reader, detector, tracker, class_ids, detect_interval, coast)
    for dec in gops:
        first = dec.record.first_frame + 1  # MOTChallenge frames count from 1
        for i, (dets, tracks) in enumerate(zip(dec.detections, dec.tracks)):
            if hasattr(tracks_out, "write_frame"):      # MOT17-style: one file per class
                stats.track_rows += tracks_out.write_frame(first + i, tracks)
            else:
                rows = mot_rows(first + i, tracks)
                tracks_out.write("".join(r + "\n" for r in rows))
                stats.track_rows += len(rows)
            stats.track_ids.update(t[0] for t in tracks)
            if dets_out is not None and dets is not None:
                dets_out.write("".join(r + "\n" for r in det_rows(first + i, dets)))
        tracks_out.flush()
        if dets_out is not None:
            dets_out.flush()
        stats.frames += len(dec.frames)
        stats.gops += 1
        for k, v in dec.timings.items():
            stats.timings[k] = stats.timings.get(k, 0.0) + v
        if on_gop is not None:
            on_gop(dec, reader.header.format)
    stats.take_reader(reader)
    stats.skipped += stats.damaged
    return stats
