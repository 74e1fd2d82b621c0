"""Pipeline stages: generators over GOPs, each doing one job.

Encode side items are :class:`CodedGop`; decode side items are :class:`DecodedGop`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import numpy as np

from svc.base import BaseDecoder, BaseEncoder
from svc.bitstream import ContainerWriter, GopRecord
from svc.buffer import Gop
from svc.io.frames import YuvFrame


@dataclass
class CodedGop:
    """A GOP on its way through the encoder: originals, base layer, optional enhancement layer."""

    gop: Gop
    base_payload: bytes = b""
    base_recon: list[YuvFrame] = field(default_factory=list)
    enh_payload: bytes | None = None
    full_recon: list[YuvFrame] | None = None
    roi: object = None
    reference_payload: bytes | None = None         # base layer without ROI (sent only if ROI is dropped)
    reference_recon: list[YuvFrame] | None = None   # ... its reconstruction: the viewer reference
    reference_full: list[YuvFrame] | None = None    # ... and its full layer, whose quality ROI must not lower
    reference_enh_payload: bytes | None = None      # ... that full layer's enhancement payload
    quality_targets: list | None = None             # per frame: the reference's full-layer quality to reach
    roi_dropped: bool = False                       # the GOP went out without ROI (see enhancement_encode_stage)
    timings: dict = field(default_factory=dict)
    feat_payload: bytes | None = None               # the feature layer (split-DNN tensors), when coded
    enh_regions: list | None = None                 # per frame boxes the enhancement is limited to (ROI)
    base_input: list[YuvFrame] | None = None        # what the base layer codes when not the originals (denoised)
    record_bytes: int = 0
    enh_bytes: int = 0
    latent_payloads: tuple[bytes, bytes] | None = None  # the latent codec's (base, enhancement) payloads


@dataclass
class DecodedGop:
    """A GOP on its way through the decoder: its record and the frames decoded so far."""

    record: GopRecord
    frames: list[YuvFrame]
    layer: str = "base"
    timings: dict = field(default_factory=dict)
    detections: list = field(default_factory=list)
    tracks: list = field(default_factory=list)


def _timed(timings: dict, key: str, t0: float):
    timings[key] = timings.get(key, 0.0) + time.perf_counter() - t0


# -- encode ---------------------------------------------------------------------------------------
def analysis_stage(gops: Iterable[Gop], analyzer) -> Iterator[CodedGop]:
    """Runs the encoder-side analyzer (ROI) on each GOP's original frames."""
    for gop in gops:
        t0 = time.perf_counter()
        coded = CodedGop(gop)
        coded.roi = analyzer.analyze(gop.frames) if analyzer is not None else None
        _timed(coded.timings, "analysis", t0)
        yield coded


def denoise_stage(coded_gops: Iterable[CodedGop], denoiser) -> Iterator[CodedGop]:
    """Joint denoising: the base layer will code each GOP's frames denoised (``denoiser.gop``); the
    originals stay what the enhancement layer reconstructs."""
    for coded in coded_gops:
        t0 = time.perf_counter()
        coded.base_input = denoiser.gop(coded.gop.frames)
        _timed(coded.timings, "denoise", t0)
        yield coded


def base_encode_stage(coded_gops: Iterable[CodedGop], encoder: BaseEncoder, roi_filter=None,
                      gop_size: int | None = None, reference: bool = False) -> Iterator[CodedGop]:
    """Codes each GOP as a closed HEVC GOP with an x265 stream of its own (keyint ``gop_size``, default
    the first GOP's length) and attaches its exact reconstruction. Nothing is carried from one GOP to
    the next, so a GOP codes to the same bytes in any process (GOP-parallel encoding); measured against
    one long-lived x265 on carphone and bikes (64 frames, QP 37): the same total bytes and PSNR, only a
    few slice-header bits differ. With ``reference`` the GOPs are coded without ROI into
    ``reference_recon`` only (the base layer the stream would have had without ROI)."""
    key = "reference" if reference else "base"
    for coded in coded_gops:
        t0 = time.perf_counter()
        gop_size = gop_size or len(coded.gop)
        hook = roi_filter.hook(coded.roi) if (roi_filter is not None and coded.roi is not None) else None
        stream = encoder.stream(gop_size)
        done = stream.feed(coded.base_input or coded.gop.frames, roi=None if reference else hook) + stream.flush()
        (base,) = done
        if reference:
            coded.reference_payload, coded.reference_recon = base.payload, base.recon
        else:
            coded.base_payload, coded.base_recon = base.payload, base.recon
        _timed(coded.timings, key, t0)
        yield coded


def enhancement_region_stage(coded_gops: Iterable[CodedGop], source) -> Iterator[CodedGop]:
    """Attaches the regions the enhancement layer is limited to (``source.regions(gop)``,
    :mod:`svc.analytics.enhancement_regions`) to each GOP."""
    for coded in coded_gops:
        t0 = time.perf_counter()
        coded.enh_regions = source.regions(coded.gop)
        _timed(coded.timings, "analysis", t0)
        yield coded


def enhancement_encode_stage(coded_gops: Iterable[CodedGop], codec, lookahead: int = 0) -> Iterator[CodedGop]:
    """Codes each GOP's enhancement layer against its base reconstruction (:mod:`svc.enhancement.codec`).

    Where the GOP carries a without-ROI reference (ROI streams, ``roi.viewer_quality: match``), that
    reference is enhanced first (``reference_enh_payload``, ``reference_full``) and the GOP's own
    enhancement is coded to reach, frame by frame, the reference's full-layer quality
    (``quality_targets``); :func:`roi_viewer_guard_stage` then decides which of the two goes out.

    ``lookahead`` 1: the next GOP's base frames are restored (the zero-bit network) in a thread while
    this GOP is block-coded (the same bytes; one more GOP held, and a GOP goes out only once the next
    one is base-coded: for complete inputs, not live ones); 0: one GOP at a time."""

    def finish(coded, restored):
        if coded.reference_recon is not None:
            t0 = time.perf_counter()
            coded.reference_enh_payload, coded.reference_full = codec.encode_gop(
                coded.gop.frames, coded.reference_recon, regions=coded.enh_regions)
            coded.quality_targets = [codec.quality_target(o, f) for o, f in zip(coded.gop.frames,
                                                                                coded.reference_full)]
            _timed(coded.timings, "reference", t0)
        t0 = time.perf_counter()
        coded.enh_payload, coded.full_recon = codec.encode_gop(coded.gop.frames, coded.base_recon,
                                                               coded.quality_targets, coded.enh_regions, restored())
        _timed(coded.timings, "enhancement", t0)
        return coded

    return _ahead(coded_gops, lambda coded: codec.restored(coded.base_recon), finish, lookahead)


def _ahead(items: Iterable, start, finish, lookahead: int) -> Iterator:
    """``finish(item, result)`` for each item, in order, where ``result()`` gives ``start(item)``.
    ``lookahead`` >= 1: ``start`` runs in a thread as soon as an item arrives, while the items before it
    finish (at most ``lookahead`` items held beyond the one finishing; an item goes out only once the
    next has arrived); 0: ``start`` runs when the item's turn comes. Errors of ``start`` are raised by
    ``result()``, in order."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    if lookahead < 1:
        for item in items:
            yield finish(item, lambda item=item: start(item))
        return
    pending = deque()
    with ThreadPoolExecutor(1, thread_name_prefix="svc-ahead") as pool:
        try:
            for item in items:
                pending.append((item, pool.submit(start, item)))
                while len(pending) > lookahead:
                    item0, fut = pending.popleft()
                    yield finish(item0, fut.result)
            while pending:
                item0, fut = pending.popleft()
                yield finish(item0, fut.result)
        finally:
            for _, fut in pending:        # stopped early (an error, or the consumer closed us)
                fut.cancel()


def roi_viewer_guard_stage(coded_gops: Iterable[CodedGop], codec, max_rate_ratio: float | None = None
                           ) -> Iterator[CodedGop]:
    """ROI never costs the viewer: a GOP with a without-ROI reference (see
    :func:`enhancement_encode_stage`) goes out as that reference (base without ROI, and its
    enhancement) when some full frame misses the reference's quality (PSNR-Y and 6:1:1 distortion),
    even at quality 1, or when the GOP's two layers cost more than ``max_rate_ratio`` times the
    reference's (``roi_dropped`` is then set). Other GOPs pass unchanged."""
    for coded in coded_gops:
        if coded.quality_targets is not None and (not all(
                codec.target_ratio(o, f, target) <= 1.0
                for o, f, target in zip(coded.gop.frames, coded.full_recon, coded.quality_targets)) or (
                max_rate_ratio is not None and len(coded.base_payload) + len(coded.enh_payload)
                > max_rate_ratio * (len(coded.reference_payload) + len(coded.reference_enh_payload)))):
            coded.base_payload, coded.base_recon = coded.reference_payload, coded.reference_recon
            coded.enh_payload, coded.full_recon = coded.reference_enh_payload, coded.reference_full
            coded.roi_dropped = True
        yield coded


def features_encode_stage(coded_gops: Iterable[CodedGop], layer) -> Iterator[CodedGop]:
    """Runs the detector's front on each GOP's original frames and codes the tensors
    (:class:`svc.features.layer.FeatureLayer`; coded against the GOP's decoded base frames where the
    layer is ``interlayer``)."""
    for coded in coded_gops:
        t0 = time.perf_counter()
        coded.feat_payload = layer.encode_gop(coded.gop.frames, coded.base_recon if layer.interlayer else None)
        _timed(coded.timings, "features", t0)
        yield coded


def latent_encode_stage(coded_gops: Iterable[CodedGop], layer) -> Iterator[CodedGop]:
    """Codes each GOP's original frames with the learned latent codec
    (:class:`svc.latent.layer.LatentLayer`): base and enhancement latents, and the pictures a decoder
    will reconstruct from both (``full_recon``)."""
    for coded in coded_gops:
        t0 = time.perf_counter()
        base, enh, coded.full_recon = layer.encode_gop(coded.gop.frames)
        coded.latent_payloads = (base, enh)
        _timed(coded.timings, "latent", t0)
        yield coded


def write_stage(coded_gops: Iterable[CodedGop], writer: ContainerWriter, pixels: bool = True) -> Iterator[CodedGop]:
    """Appends one container record per GOP as soon as the GOP is coded (``pixels=False``: no HEVC base
    or enhancement layer: a feature-only or latent record)."""
    for coded in coded_gops:
        enh = coded.enh_payload
        coded.enh_bytes = len(enh) if enh is not None else 0
        latent_base, latent_enh = coded.latent_payloads or (None, None)
        coded.record_bytes = writer.write_gop(len(coded.gop), {
            "base": coded.base_payload if pixels else None, "enhancement": enh, "features": coded.feat_payload,
            "latent_base": latent_base, "latent_enhancement": latent_enh})
        yield coded


# -- decode ---------------------------------------------------------------------------------------
def base_decode_stage(records: Iterable[GopRecord], decoder: BaseDecoder) -> Iterator[DecodedGop]:
    """Decodes each record's base payload to frames in display order."""
    for rec in records:
        t0 = time.perf_counter()
        frames = decoder.decode(rec.base, rec.index)
        dec = DecodedGop(rec, frames)
        _timed(dec.timings, "decode", t0)
        yield dec


def enhancement_decode_stage(gops: Iterable[DecodedGop], codec, on_error: str = "fail",
                             report=None, region=None, lookahead: int = 0) -> Iterator[DecodedGop]:
    """Adds the decoded enhancement to each GOP's base frames (full layer). ``region`` (optional, e.g.
    :class:`svc.analytics.enhancement_regions.FixedRegion`; ``region.boxes(first_frame, count)``): decode the
    enhancement only where the GOP's boxes are (all of them, over the GOP), the base elsewhere.

    ``lookahead`` 1: the next GOP's restoration (:meth:`EnhancementCodec.prepare_gop`, the network)
    runs in a thread while the block decoder works on this GOP (the same frames; one more GOP held;
    a GOP is output only once the next one has arrived, so it suits files, not live streams); 0:
    one GOP at a time."""
    from svc.errors import BitstreamError

    def prepare(arrived):
        dec = arrived[0]
        rec = dec.record
        if "enhancement" in rec.errors:
            raise BitstreamError(rec.errors["enhancement"])
        if rec.enhancement is None:
            return None
        want = None
        if region is not None:
            want = codec.region_units(np.concatenate(region.boxes(rec.first_frame, len(dec.frames))))
        return codec.prepare_gop(dec.frames, rec.enhancement, rec.index, want=want)

    def finish(arrived, prepared):
        dec, started = arrived
        try:
            state = prepared()
            if state is not None:
                dec.frames = codec.finish_gop(state)
                dec.layer = "full"
        except BitstreamError as e:
            if on_error == "fail":
                raise
            if report is not None:
                report(f"GOP {dec.record.index}: enhancement layer damaged, base frames output ({e})")
        _timed(dec.timings, "enhancement", started)
        return dec

    return _ahead(((dec, time.perf_counter()) for dec in gops), prepare, finish, lookahead)


def _latent_payloads(rec: GopRecord, kinds):
    """The record's latent payloads of ``kinds``; a BitstreamError for a damaged or missing one."""
    from svc.errors import BitstreamError

    for kind in kinds:
        if kind in rec.errors:
            raise BitstreamError(rec.errors[kind], rec.index)
        if rec.payloads.get(kind) is None:
            raise BitstreamError(f"record carries no {kind.replace('_', ' ')} layer", rec.index)
    return [rec.payloads[k] for k in kinds]


def latent_decode_stage(records: Iterable[GopRecord], layer, on_error: str = "fail", report=None
                        ) -> Iterator[DecodedGop]:
    """Pictures of each record from its base and enhancement latents
    (:class:`svc.latent.layer.LatentLayer`). A damaged latent payload raises, or with
    ``on_error="skip"`` drops the GOP and is ``report``ed."""
    from svc.errors import BitstreamError

    for rec in records:
        t0 = time.perf_counter()
        try:
            base, enh = _latent_payloads(rec, ("latent_base", "latent_enhancement"))
            frames = layer.decode_gop(base, enh, rec.frame_count, rec.index)
        except BitstreamError as e:
            if on_error == "fail":
                raise
            if report is not None:
                report(BitstreamError(f"latent layers damaged, the GOP's {rec.frame_count} frames skipped ({e})",
                                      rec.index))
            continue
        dec = DecodedGop(rec, frames, layer="full")
        _timed(dec.timings, "decode", t0)
        yield dec


def latent_detect_stage(records: Iterable[GopRecord], layer, class_ids=None, fmt=None, on_error: str = "fail",
                        report=None) -> Iterator[DecodedGop]:
    """Detections of each record from its base latents alone (NanoDet's back half on the latent
    transform's ``stage2`` tensors; no pixels, the enhancement latents never read)."""
    from svc.analytics.detectors import filter_classes
    from svc.errors import BitstreamError

    for rec in records:
        t0 = time.perf_counter()
        try:
            (base,) = _latent_payloads(rec, ("latent_base",))
            found = layer.detect_gop(base, fmt, rec.frame_count, rec.index)
        except BitstreamError as e:
            if on_error == "fail":
                raise
            if report is not None:
                report(f"GOP {rec.index}: latent base layer damaged, its {rec.frame_count} frames skipped ({e})")
            continue
        dec = DecodedGop(rec, [None] * rec.frame_count, layer="latent")
        dec.detections = [filter_classes(d, class_ids) if class_ids else d for d in found]
        _timed(dec.timings, "detect", t0)
        yield dec


def frames_stage(gops: Iterable[DecodedGop]) -> Iterator[YuvFrame]:
    """Flattens GOPs into frames in display order."""
    for dec in gops:
        yield from dec.frames


def features_detect_stage(records: Iterable[GopRecord], layer, class_ids=None, fmt=None, on_error: str = "fail",
                          report=None, base_decoder=None) -> Iterator[DecodedGop]:
    """Cloud side of the feature layer: each record's feature payload through the rest of the detector.
    The GOPs carry no pixels (``frames`` holds None per frame), detections on every frame. A damaged
    or missing feature payload raises, or with ``on_error="skip"`` drops the GOP and is ``report``ed.
    ``base_decoder`` (a :class:`~svc.base.BaseDecoder`; streams whose feature layer is coded against the
    base layer): each record's base payload is decoded first; a record without one counts as damaged."""
    from svc.analytics.detectors import filter_classes
    from svc.errors import BitstreamError

    for rec in records:
        t0 = time.perf_counter()
        try:
            if "features" in rec.errors:
                raise BitstreamError(rec.errors["features"], rec.index)
            if rec.payloads.get("features") is None:
                raise BitstreamError("record carries no feature layer", rec.index)
            base_frames = None
            if base_decoder is not None:  # (a record whose base payload is damaged never gets here: the reader drops it)
                if rec.base is None:
                    raise BitstreamError("record carries no base layer, which its feature layer is coded against",
                                         rec.index)
                base_frames = base_decoder.decode(rec.base, rec.index)
            found = layer.detect_gop(rec.payloads["features"], fmt, rec.frame_count, rec.index, base_frames)
        except BitstreamError as e:
            if on_error == "fail":
                raise
            if report is not None:
                report(f"GOP {rec.index}: feature layer {'or its base ' if base_decoder else ''}damaged, "
                       f"its {rec.frame_count} frames skipped ({e})")
            continue
        dec = DecodedGop(rec, [None] * rec.frame_count, layer="features")
        dec.detections = [filter_classes(d, class_ids) if class_ids else d for d in found]
        _timed(dec.timings, "detect", t0)
        yield dec


# -- analytics ------------------------------------------------------------------------------------
def detect_stage(gops: Iterable[DecodedGop], detector, class_ids=None, interval: int = 1,
                 batch: bool = True) -> Iterator[DecodedGop]:
    """Runs the detector on every ``interval``-th frame (frame numbers 0, k, 2k, ... of the stream;
    ``None`` for the others); keeps only ``class_ids`` when given. With ``batch`` and a detector that
    has ``detect_batch(frames)``, a GOP's detected frames go through it in one call (one network batch)."""
    from svc.analytics.detectors import filter_classes

    interval = max(1, int(interval))
    for dec in gops:
        t0 = time.perf_counter()
        first = dec.record.first_frame
        picked = [i for i in range(len(dec.frames)) if (first + i) % interval == 0]
        frames = [dec.frames[i] for i in picked]
        if batch and frames and hasattr(detector, "detect_batch"):
            found = detector.detect_batch(frames)
        else:
            found = [detector.detect(f) for f in frames]
        dec.detections = [None] * len(dec.frames)
        for i, d in zip(picked, found):
            dec.detections[i] = filter_classes(d, class_ids) if class_ids else d
        _timed(dec.timings, "detect", t0)
        yield dec


def track_stage(gops: Iterable[DecodedGop], tracker, coast: str = "flow") -> Iterator[DecodedGop]:
    """Feeds each frame's detections to the tracker, in display order across GOPs. Frames the
    detector skipped (``None``) coast: with ``coast="flow"`` each box moves by the optical flow
    measured between the previous and this decoded frame; with ``"kalman"`` by the prediction alone.
    Output is per GOP, so when a track is confirmed (``min_hits``) its earlier rows in the same GOP
    are filled in."""
    from functools import partial

    from svc.analytics.flow import follow_boxes

    if coast not in ("flow", "kalman"):
        from svc.errors import InputError
        raise InputError(f"analytics.coast must be flow or kalman, got {coast!r}")
    prev = None
    for dec in gops:
        t0 = time.perf_counter()
        dec.tracks = []
        first = tracker.frame_count + 1  # the tracker's count for this GOP's first frame
        for frame, d in zip(dec.frames, dec.detections):
            if d is not None:
                dec.tracks.append(tracker.update(d))
            else:
                use = partial(follow_boxes, prev.y, frame.y) if coast == "flow" and prev is not None else None
                dec.tracks.append(tracker.coast(use))
            # a track confirmed now is also reported on its earlier frames that are still in this GOP
            for f, row in tracker.backfill:
                if f >= first:
                    dec.tracks[f - first] = sorted(dec.tracks[f - first] + [row], key=lambda r: r[0])
            prev = frame
        _timed(dec.timings, "track", t0)
        yield dec
