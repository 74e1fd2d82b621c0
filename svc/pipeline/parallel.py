"""GOP-parallel coding: closed GOPs code and decode alone, so worker processes code GOPs (encode) or
decode records (decode, analyze) while the main process reads the input and emits results in order.

    coded = parallel_coded_gops(gops, cfg, fmt, jobs)               # same bytes as the serial stages
    gops  = parallel_decoded_gops(reader, layer, jobs, loaders)     # same GopRecords in, same frames out

Memory stays bounded by the window of records in flight (``2 * jobs``), not by the stream. Workers are
local processes started with ``spawn`` (no inherited thread pools), each using ``cpu_count // jobs``
threads, or Ray actors (``ray="local"`` or a cluster address; one CPU each); every
decoder involved is exact (integer restoration network, integer block decoder, the latent codec's
integer entropy path), so the frames equal a serial decode bit for bit.
"""
from __future__ import annotations

import os
from collections import deque

_STATE: dict = {}


class WorkerPool:
    """``jobs`` workers, each set up once by ``initializer(*initargs)``: local processes (``spawn``: no
    inherited thread pools), or Ray actors when ``ray`` is given (an address, or ``"local"`` to start a
    Ray instance on this machine). :meth:`map` runs ``func(item)`` on them, in the items' order, with at
    most ``window`` items in flight, so a stream or a list of streams flows through one set of workers.
    On a Ray cluster every node needs svc installed (the same version: workers import it)."""

    def __init__(self, jobs: int, initializer=None, initargs=(), ray: str | None = None):
        self.jobs, self.ray_address = jobs, ray
        if ray is None:
            import multiprocessing

            self._pool = multiprocessing.get_context("spawn").Pool(jobs, initializer, initargs)
        else:
            self._ray = connect_ray(ray, jobs)
            if jobs < 1:       # all the cluster's CPUs
                self.jobs = jobs = max(1, int(self._ray.cluster_resources().get("CPU", 1)))
            worker = self._ray.remote(num_cpus=1)(_RayWorker)
            self._actors = [worker.remote(initializer, initargs) for _ in range(jobs)]

    def map(self, func, items, window: int | None = None):
        """``func(item)`` for each of ``items``, yielded in order; ``items`` is read as results go."""
        window = window or 2 * self.jobs
        pending = deque()
        for k, item in enumerate(items):
            if self.ray_address is None:
                pending.append(self._pool.apply_async(func, (item,)).get)
            else:
                ref = self._actors[k % self.jobs].run.remote(func, item)
                pending.append(lambda ref=ref: self._ray.get(ref))
            if len(pending) >= window:
                yield pending.popleft()()
        while pending:
            yield pending.popleft()()

    def close(self):
        if self.ray_address is None:
            self._pool.terminate()
            self._pool.join()
        else:
            for actor in self._actors:
                self._ray.kill(actor)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _RayWorker:
    """A Ray actor's state: what a local worker's initializer sets up, once."""

    def __init__(self, initializer, initargs):
        if initializer is not None:
            initializer(*initargs)

    def run(self, func, item):
        return func(item)


def connect_ray(address: str, cpus: int = 0):
    """The ``ray`` module, connected to the cluster at ``address`` (``"local"`` or ``""``: a Ray instance
    on this machine with at least ``cpus`` CPUs); an InputError when Ray is not installed."""
    try:
        import ray
    except ImportError:
        from svc.errors import InputError

        raise InputError("--ray needs Ray: pip install 'svc[ray]'") from None
    if not ray.is_initialized():
        local = address in ("", "local")
        ray.init(address=None if local else address, include_dashboard=False, log_to_driver=False,
                 logging_level="ERROR", num_cpus=max(os.cpu_count() or 1, cpus) if local else None)
    return ray


def worker_threads(jobs: int, ray: str | None) -> int:
    """Torch/OpenMP threads of each worker: a share of this machine's cores (a Ray actor holds one CPU)."""
    return 1 if ray is not None else max(1, (os.cpu_count() or 1) // jobs)


def ordered_map(func, items, jobs: int, initializer=None, initargs=(), window: int | None = None,
                ray: str | None = None):
    """``func(item)`` for each of ``items`` in a :class:`WorkerPool` of ``jobs`` workers, in order."""
    with WorkerPool(jobs, initializer, initargs, ray) as pool:
        yield from pool.map(func, items, window)


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


def _init_detect(detector_name, detector_options, class_ids, interval, threads):
    os.environ["OMP_NUM_THREADS"] = str(threads)
    from svc.analytics.detectors import make_detector

    options = dict(detector_options)
    if detector_name in ("auto", "nanodet") and "num_threads" not in options:
        options["num_threads"] = threads
    _STATE.update(bases={}, detector=make_detector(detector_name, **options), class_ids=class_ids,
                  interval=interval)
    _torch_threads(threads)


def _detect_record(item):
    """The decoded GOP of one record (``item`` = (format, record)) with its detections: base decode,
    then the detector."""
    from svc.base import BaseDecoder
    from svc.pipeline.stages import base_decode_stage, detect_stage

    fmt, rec = item
    s = _STATE
    base = s["bases"].get(fmt) or s["bases"].setdefault(fmt, BaseDecoder(fmt))
    out = list(detect_stage(base_decode_stage([rec], base), s["detector"], s["class_ids"], s["interval"]))
    for dec in out:
        dec.record.payloads = {}
    return out


def detection_pool(jobs: int, detector_name: str, detector_options: dict, class_ids=None, interval: int = 1,
                   ray: str | None = None) -> WorkerPool:
    """Workers that each hold a detector (``detector_name`` with ``detector_options``) and decode base
    GOPs of any format: one pool serves any number of streams (:func:`parallel_detected_gops`)."""
    return WorkerPool(jobs, _init_detect, (detector_name, dict(detector_options), class_ids, interval,
                                           worker_threads(jobs, ray)), ray)


def parallel_detected_gops(records, header, pool: WorkerPool):
    """Decoded base GOPs of ``records`` with ``detections``, decoded and detected by ``pool``
    (:func:`detection_pool`), in stream order; the tracker then runs in the caller, in display order,
    as for a serial analysis."""
    for decs in pool.map(_detect_record, ((header.format, rec) for rec in records)):
        yield from decs


def _init_layer_detect(header, source, loader, class_ids, on_error, threads):
    os.environ["OMP_NUM_THREADS"] = str(threads)
    from svc.base import BaseDecoder

    coded_on_base = source == "features" and bool(header.features.get("interlayer"))
    _STATE.update(layer=loader(header), source=source, class_ids=class_ids, on_error=on_error, fmt=header.format,
                  base=BaseDecoder(header.format) if coded_on_base else None)
    _torch_threads(threads)


def _layer_detect_record(rec):
    """(GOPs with detections from the feature layer or the base latents of one record, reports)."""
    from svc.pipeline.stages import features_detect_stage, latent_detect_stage

    s, reports = _STATE, []
    if s["source"] == "features":
        gops = features_detect_stage([rec], s["layer"], s["class_ids"], s["fmt"], s["on_error"], reports.append,
                                     s["base"])
    else:
        gops = latent_detect_stage([rec], s["layer"], s["class_ids"], s["fmt"], s["on_error"], reports.append)
    out = list(gops)
    for dec in out:
        dec.record.payloads = {}
    return out, reports


def parallel_layer_detections(records, header, source: str, loader, class_ids, on_error: str, jobs: int,
                              ray: str | None = None, report=None):
    """GOPs with detections (no pixels) of ``records`` from the feature layer (``source="features"``) or
    the base latents (``"latent"``), each worker loading the layer with ``loader(header)``; in stream
    order, damaged payloads ``report``ed as the serial stages do."""
    for decs, reports in ordered_map(_layer_detect_record, records, jobs, _init_layer_detect,
                                     (header, source, loader, class_ids, on_error, worker_threads(jobs, ray)),
                                     ray=ray):
        for r in reports:
            if report is not None:
                report(r)
        yield from decs


def parallel_decoded_gops(records, header, layer: str, jobs: int, codec_loader, latent_loader,
                          on_error: str = "fail", region=None, skipped=None, base_only=None, ray: str | None = None):
    """The decoded GOPs of ``records`` (an iterator of :class:`~svc.bitstream.GopRecord`) at ``layer``,
    decoded by ``jobs`` processes, in stream order. ``codec_loader`` / ``latent_loader`` (picklable,
    module-level) load the learned layers in each worker; damaged layers under ``on_error="skip"`` are
    appended to ``skipped`` (latent GOPs dropped) or ``base_only`` (GOPs output from the base).
    ``ray``: Ray actors instead of local processes (:class:`WorkerPool`)."""
    threads = worker_threads(jobs, ray)
    for decs, reports in ordered_map(_decode_record, records, jobs, _init,
                                     (header, layer, on_error, region, codec_loader, latent_loader, threads), ray=ray):
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
    """One GOP through the serial encode stages (the latent codec's, for a latent encoder); its
    originals are not sent back (the caller has them)."""
    from svc.pipeline.encode import coded_gops
    from svc.pipeline.stages import analysis_stage, latent_encode_stage

    s = _STATE
    e = s["encoder"]
    if e.latent is not None:
        (coded,) = list(latent_encode_stage(analysis_stage([gop], None), e.latent))
    else:
        (coded,) = list(coded_gops(iter([gop]), s["cfg"], s["fmt"], e.codec, e.analyzer, e.roi_filter, e.features,
                                   e.regions))
    coded.gop = type(gop)(gop.index, gop.first_frame, [])
    return coded


def parallel_coded_gops(gops, cfg, fmt, jobs: int, ray: str | None = None):
    """:func:`svc.pipeline.encode.coded_gops` (or, with ``cfg.latent.enabled``, the latent codec's stage)
    of ``gops`` in ``jobs`` worker processes, each building the encoder ``cfg`` describes (``cfg`` with
    the ROI rate control in effect); yielded in order with their original frames (at most ``2 * jobs``
    GOPs in flight); ``ray``: on Ray actors. The same bytes as the serial stages."""
    held = deque()

    def feed():
        for gop in gops:
            held.append(gop)
            yield gop
    for coded in ordered_map(_encode_gop, feed(), jobs, _init_encode, (cfg, fmt, worker_threads(jobs, ray)), ray=ray):
        coded.gop = held.popleft()
        yield coded
