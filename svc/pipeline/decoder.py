"""One way to decode: a :class:`Decoder` holds how (layer, damage policy, workers) and loads the learned
layers a stream's header names when the stream needs them (a base decode never imports torch).

    decoder = Decoder("full", on_error="skip", jobs=2)
    for gop in decoder.gops(reader, report):              # svc.pipeline.decode.decoded_gops
        ...
"""
from __future__ import annotations

from dataclasses import dataclass


def load_enhancement(header):
    """The enhancement decoder a stream's header names (imports torch on first use)."""
    from svc.enhancement import load_codec_for_decoding
    return load_codec_for_decoding(header)


def load_latent(header):
    """The latent layers a stream's header names (imports torch on first use)."""
    from svc.latent.layer import load_latent_for_decoding
    return load_latent_for_decoding(header)


@dataclass(frozen=True)
class Decoder:
    """``layer``: ``base`` (what analytics see) or ``full`` (base + enhancement, or a latent stream's
    pictures); ``on_error``: ``fail`` or ``skip`` (damaged GOPs reported); ``jobs``/``ray``: GOPs decoded
    by worker processes or Ray actors (the same frames)."""

    layer: str = "base"
    on_error: str = "fail"
    jobs: int = 1
    ray: str | None = None

    def __post_init__(self):
        from svc.errors import InputError

        if self.layer not in ("base", "full"):
            raise InputError(f"layer must be base or full, got {self.layer!r}")
        if self.on_error not in ("fail", "skip"):
            raise InputError(f"on_error must be fail or skip, got {self.on_error!r}")

    def open(self, fh, follow: bool = False):
        """The :class:`~svc.bitstream.ContainerReader` of ``fh`` for this layer (header checked)."""
        from svc.pipeline.decode import open_reader

        return open_reader(fh, self.layer, follow, self.on_error)

    def gops(self, reader, report=None, region=None):
        """Decoded GOPs of ``reader`` (:func:`svc.pipeline.decode.decoded_gops`); ``report`` (a
        :class:`~svc.pipeline.decode.DecodeReport`) collects what was skipped; ``region``: decode the
        enhancement only there."""
        from svc.pipeline.decode import DecodeReport, decoded_gops

        return decoded_gops(reader, self.layer, load_enhancement, report if report is not None else DecodeReport(),
                            self.on_error, region, load_latent, self.jobs, self.ray)
