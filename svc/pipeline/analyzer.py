"""One way to build an analysis: :meth:`Analyzer.from_config` turns a configuration and the layer to
analyse (``base``, ``features`` or ``latent``) into the detector (or the layer's loader), the classes
and the tracker settings, so the command line, the API, the pipelines and the tools analyse the same way.

    analyzer = Analyzer.from_config(cfg, "base")
    report = analyzer.analyze(stream_fh, tracks_out)      # svc.pipeline.analyze.analyze with those parts
"""
from __future__ import annotations

from dataclasses import dataclass

from svc.config import SvcConfig

SOURCES = ("base", "features", "latent")


@dataclass(frozen=True)
class Analyzer:
    """The parts of an analysis. ``detector``: the detector of the base layer (None when the workers of a
    parallel analysis build their own, or for the other layers); ``loader(header)``: the feature or
    latent layer of a stream; ``class_ids``: the COCO ids kept (None: all)."""

    config: SvcConfig
    source: str = "base"
    detector: object = None
    loader: object = None
    class_ids: tuple | None = None

    @classmethod
    def from_config(cls, cfg: SvcConfig, source: str = "base", detector: bool = True) -> "Analyzer":
        """The analysis ``cfg`` describes of the ``source`` layer; ``detector=False``: no detector in this
        process (the workers of :meth:`analyze` with ``jobs``/``ray``, or of :meth:`pool`, build them)."""
        from functools import partial

        from svc.analytics.detectors import class_ids_from_names, make_detector
        from svc.errors import InputError

        if source not in SOURCES:
            raise InputError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
        acfg = cfg.analytics
        options = dict(acfg.detector_options)
        det = loader = None
        if source == "features":
            from svc.features.layer import load_features_for_decoding
            loader = partial(load_features_for_decoding, detector_options=options)
        elif source == "latent":
            from svc.latent.layer import load_latent_for_decoding
            loader = partial(load_latent_for_decoding, detector_options=options)
        elif detector:
            det = make_detector(acfg.detector, **options)
        class_ids = tuple(class_ids_from_names(acfg.classes)) if acfg.classes else None
        return cls(cfg, source, det, loader, class_ids)

    @property
    def detector_spec(self) -> tuple[str, dict]:
        """(backend name, options): what each worker builds its detector from."""
        return self.config.analytics.detector, dict(self.config.analytics.detector_options)

    def tracker(self):
        """A fresh tracker (one per stream)."""
        from svc.analytics.tracker import Tracker

        return Tracker(self.config.analytics.tracker)

    def pool(self, jobs: int, ray: str | None = None):
        """Base-layer workers (processes or Ray actors), each with this analysis's detector, to share
        over several streams (:func:`svc.pipeline.parallel.detection_pool`)."""
        from svc.pipeline.parallel import detection_pool

        name, options = self.detector_spec
        return detection_pool(jobs, name, options, self.class_ids, self.config.analytics.detect_interval, ray)

    def analyze(self, fh, tracks_out, *, dets_out=None, follow: bool = False, on_error: str = "fail", on_gop=None,
                jobs: int = 1, ray: str | None = None, pool=None):
        """MOT rows of the stream ``fh`` into ``tracks_out`` with a fresh tracker
        (:func:`svc.pipeline.analyze.analyze`); the :class:`~svc.pipeline.analyze.AnalyzeReport`."""
        from svc.pipeline.analyze import analyze

        acfg = self.config.analytics
        return analyze(fh, self.detector, self.tracker(), tracks_out, dets_out=dets_out, class_ids=self.class_ids,
                       follow=follow, on_error=on_error, on_gop=on_gop, detect_interval=acfg.detect_interval,
                       coast=acfg.coast, source=self.source, layer_loader=self.loader, jobs=jobs,
                       detector_spec=self.detector_spec, ray=ray, pool=pool)
