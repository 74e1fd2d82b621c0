"""One way to build an encoder: :meth:`Encoder.from_config` turns a configuration and a video format
into every part a stream needs (enhancement codec, feature layer, ROI analyser and filter, enhancement
regions, or the learned latent codec), with every check of what may go together, so the command line,
the pipelines, the evaluation and the tools build the same encoder the same way.

    encoder = Encoder.from_config(cfg, source.format)
    summary = encoder.encode(source, out_fh)          # svc.pipeline.encode.encode with those parts
"""
from __future__ import annotations

from dataclasses import dataclass

from svc.config import SvcConfig
from svc.errors import InputError


@dataclass(frozen=True)
class Encoder:
    """The parts of one stream's encoder (None: the layer or analysis is off).

    ``codec``: enhancement codec; ``features``: split-DNN feature layer; ``analyzer`` / ``roi_filter``:
    detector-driven base layer (``roi.mode: auto``); ``regions``: ROI-selective enhancement;
    ``latent``: the learned latent codec (then nothing else)."""

    config: SvcConfig
    format: object
    codec: object = None
    features: object = None
    analyzer: object = None
    roi_filter: object = None
    regions: object = None
    latent: object = None

    @classmethod
    def from_config(cls, cfg: SvcConfig, fmt, detector=None) -> "Encoder":
        """The encoder ``cfg`` describes for video of format ``fmt``; ``detector`` (optional) is shared by
        the ROI analysis and the enhancement regions instead of making one from the config. A
        combination that cannot be coded is a one-line InputError before anything is opened."""
        if cfg.latent.enabled:
            if (cfg.features.enabled or cfg.roi.mode != "off" or cfg.enhancement.roi != "off"
                    or cfg.enhancement.tiles or cfg.base.denoise > 0):
                raise InputError("--codec latent codes its own two layers: drop --features, --roi, --enh-roi, "
                                 "--enh-tiles and --denoise")
            from svc.latent.layer import load_latent_for_encoding
            return cls(cfg, fmt, latent=load_latent_for_encoding(cfg))
        features = None
        if cfg.features.enabled:   # (what a feature-only stream cannot have, encode() refuses)
            from svc.features.layer import load_features_for_encoding  # imports torch lazily
            features = load_features_for_encoding(cfg)
        pixels = features is None or cfg.features.pixels
        codec = None
        if cfg.enhancement.enabled and pixels:
            from svc.enhancement import load_codec_for_encoding  # imports torch lazily
            codec = load_codec_for_encoding(cfg, fmt)
        regions = None
        if cfg.enhancement.roi != "off":
            if codec is None:
                raise InputError("--enh-roi needs the enhancement layer (drop --no-enhancement / --features-only)")
            from svc.analytics.enhancement_regions import make_regions
            regions = make_regions(cfg, fmt, detector)
        analyzer = roi_filter = None
        if cfg.roi.mode == "auto":
            from svc.analytics.roi_analyzer import make_roi
            analyzer, roi_filter = make_roi(cfg, fmt, detector)
        return cls(cfg, fmt, codec, features, analyzer, roi_filter, regions)

    @property
    def pixels(self) -> bool:
        """Whether the stream has an HEVC base layer (not feature-only, not the latent codec)."""
        return self.latent is None and (self.features is None or self.config.features.pixels)

    def encode(self, source, out_fh, progress=None, jobs: int = 1, ray: str | None = None):
        """Codes ``source`` into ``out_fh`` (:func:`svc.pipeline.encode.encode`; ``jobs`` worker processes,
        each building this encoder from its configuration: the same bytes); the summary."""
        from svc.pipeline.encode import encode

        return encode(source, out_fh, self.config, codec=self.codec, analyzer=self.analyzer,
                      roi_filter=self.roi_filter, progress=progress, features=self.features, regions=self.regions,
                      latent=self.latent, jobs=jobs, ray=ray)
