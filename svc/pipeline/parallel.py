"""GOP-parallel coding: closed GOPs code and decode alone, so worker processes code GOPs (encode) or
decode records (decode, analyze) while the main process reads the input and emits results in order.

    coded = parallel_coded_gops(gops, cfg, fmt, jobs)               # same bytes as the serial stages
    gops  = parallel_decoded_gops(reader, layer, jobs, loaders)     # same GopRecords in, same frames out

Memory stays bounded by the window of records in flight (``2 * jobs``), not by the stream. Workers are
started with ``spawn`` (no inherited thread pools) and each uses ``cpu_count // jobs`` threads; every
decoder involved is exact (integer restoration network, integer block decoder, the latent codec's
integer entropy path), so the frames equal a serial decode bit for bit.
"""
from __future__ import annotations

import os
from collections import deque

_STATE: dict = {}


def ordered_map(func, items, jobs: int, initializer=None, initargs=(), window: int | None = None):
    """``func(item)`` for each of ``items`` in ``jobs`` worker processes, yielded in the items' order;
    at most ``window`` (default ``2 * jobs``) items are in flight, and ``items`` is read as results go."""
    import multiprocessing

    window = window or 2 * jobs
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(jobs, initializer, initargs) as pool:
        pending = deque()
        for item in items:
            pending.append(pool.apply_async(func, (item,)))
            if len(pending) >= window:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def _torch_threads(threads: int):
    """Limits torch to ``threads`` in a worker whose decoders loaded it (``OMP_NUM_THREADS`` is set
    first thing in each initializer, before anything loads OpenMP)."""
    import sys

    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def _init(header, layer, on_error, region, codec_loader, latent_loader, threads):
    os.environ["OMP_NUM_THREADS"] = str(threads)
    from svc.base import BaseDecoder

    _STATE.update(layer=layer, on_error=on_error, region=region, base=BaseDecoder(header.format), codec=None,
                  latent=None)
    if header.latent is not None:
        _STATE["latent"] = latent_loader(header)
    elif layer == "full" and header.enhancement is not None:
        _STATE["codec"] = codec_loader(header)
    _torch_threads(threads)


def _decode_record(rec):
    """(decoded GOPs of one record, what the stages reported): the serial stages on one record."""
    from svc.pipeline.stages import base_decode_stage, enhancement_decode_stage, latent_decode_stage

    s, reports = _STATE, []
    if s["latent"] is not None:
        gops = latent_decode_stage([rec], s["latent"], s["on_error"], reports.append)
    else:
        gops = base_decode_stage([rec], s["base"])
        if s["codec"] is not None:
            gops = enhancement_decode_stage(gops, s["codec"], s["on_error"], reports.append, s["region"])
    out = list(gops)
    for dec in out:
        dec.record.payloads = {}                 # the caller has them; only the frames travel back
    return out, reports


def _init_detect(header, detector_name, detector_options, class_ids, interval, threads):
    os.environ["OMP_NUM_THREADS"] = str(threads)
    from svc.analytics.detectors import make_detector
    from svc.base import BaseDecoder

    options = dict(detector_options)
    if detector_name in ("auto", "nanodet") and "num_threads" not in options:
        options["num_threads"] = threads
    _STATE.update(base=BaseDecoder(header.format), detector=make_detector(detector_name, **options),
                  class_ids=class_ids, interval=interval)
    _torch_threads(threads)


def _detect_record(rec):
    """The decoded GOP of one record with its detections (base decode, then the detector)."""
    from svc.pipeline.stages import base_decode_stage, detect_stage

    s = _STATE
    out = list(detect_stage(base_decode_stage([rec], s["base"]), s["detector"], s["class_ids"], s["interval"]))
    for dec in out:
        dec.record.payloads = {}
    return out


def parallel_detected_gops(records, header, jobs: int, detector_name: str, detector_options: dict, class_ids=None,
                           interval: int = 1):
    """Decoded base GOPs with ``detections``, decode and detection in ``jobs`` processes (each its own
    detector, ``detector_name`` with ``detector_options``), in stream order; the tracker then runs in
    the caller, in display order, as for a serial analysis."""
    threads = max(1, (os.cpu_count() or 1) // jobs)
    for decs in ordered_map(_detect_record, records, jobs, _init_detect,
                            (header, detector_name, dict(detector_options), class_ids, interval, threads)):
        yield from decs


def parallel_decoded_gops(records, header, layer: str, jobs: int, codec_loader, latent_loader,
                          on_error: str = "fail", region=None, skipped=None, base_only=None):
    """The decoded GOPs of ``records`` (an iterator of :class:`~svc.bitstream.GopRecord`) at ``layer``,
    decoded by ``jobs`` processes, in stream order. ``codec_loader`` / ``latent_loader`` (picklable,
    module-level) load the learned layers in each worker; damaged layers under ``on_error="skip"`` are
    appended to ``skipped`` (latent GOPs dropped) or ``base_only`` (GOPs output from the base)."""
    threads = max(1, (os.cpu_count() or 1) // jobs)
    for decs, reports in ordered_map(_decode_record, records, jobs, _init,
                                     (header, layer, on_error, region, codec_loader, latent_loader, threads)):
        target = skipped if header.latent is not None else base_only
        if target is not None:
            target.extend(reports)
        yield from decs


def _init_encode(cfg, fmt, threads):
    os.environ["OMP_NUM_THREADS"] = str(threads)
    from svc.pipeline.encoder import Encoder

    enc = Encoder.from_config(cfg, fmt)
    _STATE.update(encoder=enc, cfg=cfg, fmt=fmt)
    _torch_threads(threads)


def _encode_gop(gop):
    """One GOP through the serial encode stages; its originals are not sent back (the caller has them)."""
    from svc.pipeline.encode import coded_gops

    s = _STATE
    e = s["encoder"]
    (coded,) = list(coded_gops(iter([gop]), s["cfg"], s["fmt"], e.codec, e.analyzer, e.roi_filter, e.features,
                               e.regions))
    coded.gop = type(gop)(gop.index, gop.first_frame, [])
    return coded


def parallel_coded_gops(gops, cfg, fmt, jobs: int):
    """:func:`svc.pipeline.encode.coded_gops` of ``gops`` in ``jobs`` worker processes, each building the
    encoder ``cfg`` describes (``cfg`` with the ROI rate control in effect); yielded in order with
    their original frames (at most ``2 * jobs`` GOPs in flight)."""
    threads = max(1, (os.cpu_count() or 1) // jobs)
    held = deque()

    def feed():
        for gop in gops:
            held.append(gop)
            yield gop
    for coded in ordered_map(_encode_gop, feed(), jobs, _init_encode, (cfg, fmt, threads)):
        coded.gop = held.popleft()
        yield coded
