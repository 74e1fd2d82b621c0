"""Decode pipelines.

    records = ContainerReader(fh, layers)                       # base, or base + enhancement
    gops    = base_decode_stage(records, BaseDecoder(fmt))      # HEVC -> frames, per GOP
    gops    = enhancement_decode_stage(gops, codec)              # full layer only
    frames  = frames_stage(gops)                                 # -> sink, GOP by GOP

The base path never reads or parses enhancement bytes and never imports torch.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from svc.base import BaseDecoder
from svc.bitstream import ContainerReader

from svc.pipeline.stages import base_decode_stage, enhancement_decode_stage, latent_decode_stage


@dataclass
class DecodeReport:
    """What a decode produced and what it could not: frames and GOPs output, the layer they are
    from, and every problem (all empty for a whole, clean stream).

    ``skipped``: damaged records the reader dropped (``--on-error skip``); ``lost``: GOPs that never
    arrived (:class:`~svc.bitstream.container.LostGops`); ``truncated``: why the stream ended early, if
    it did; ``base_only``: GOPs output from the base layer because their enhancement was damaged;
    ``trailing``: bytes after the end marker that were not a continuation stream."""

    frames: int = 0
    gops: int = 0
    layer: str = "base"
    notes: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    lost: list = field(default_factory=list)
    truncated: str | None = None
    base_only: list = field(default_factory=list)
    trailing: str | None = None

    @property
    def complete(self) -> bool:
        """True when every GOP of the stream was output at the requested layer."""
        return not (self.skipped or self.lost or self.truncated or self.base_only or self.trailing)

    def take_reader(self, reader: ContainerReader):
        """Copies the reader's findings (call after the reader is exhausted)."""
        # (damage a stage reported on its own, e.g. a latent payload, stays)
        self.skipped = list(reader.errors) + list(self.skipped)
        self.lost, self.truncated = list(reader.lost), reader.truncated
        self.trailing = reader.describe_trailing()

    def shortfall(self) -> str:
        """``''`` for a complete output, else a short count of what is missing (for a summary line)."""
        parts = []
        if self.skipped:
            parts.append(f"{len(self.skipped)} damaged GOP(s) skipped")
        if self.lost:
            parts.append(f"{len(self.lost)} gap(s) of lost GOPs")
        if self.truncated:
            parts.append("the stream was truncated")
        if self.base_only:
            parts.append(f"{len(self.base_only)} GOP(s) with a damaged enhancement layer output as base")
        if self.trailing:
            parts.append("bytes after the end marker ignored")
        return ("; incomplete: " + ", ".join(parts)) if parts else ""

    def problems(self) -> list[str]:
        """One line per problem, for the user."""
        out = [f"skipped damaged data: {e}" for e in self.skipped]
        out += [lost.describe() for lost in self.lost]
        out += [self.truncated] if self.truncated else []
        out += list(self.base_only)
        out += [self.trailing] if self.trailing else []
        return out


READ_LAYERS = {"base": ("base",), "full": ("base", "enhancement"), "features": ("features",),
               "latent": ("latent_base",)}
#: what ``full`` reads from a stream of the learned latent codec
LATENT_FULL = ("latent_base", "latent_enhancement")


def open_reader(fh, layer: str = "base", follow: bool = False, on_error: str = "fail") -> ContainerReader:
    """A reader of the layers ``layer`` needs: base, full (base + enhancement, or both latents), features
    or latent (the latent codec's base latents)."""
    from svc.errors import InputError

    if layer not in READ_LAYERS:
        raise ValueError(f"layer must be one of {sorted(READ_LAYERS)}")
    layers = READ_LAYERS[layer]
    reader = ContainerReader(fh, layers, follow=follow, on_error=on_error)
    if reader.header.latent is not None:
        if layer == "base":
            raise InputError("this stream is coded with the learned latent codec: its base layer is a latent for "
                             "machines, not pictures; detect and track with svc-analyze --from latent, or view "
                             "it with svc-decode --layer full")
        if layer == "features":
            raise InputError("this stream is coded with the learned latent codec: it has no feature layer; "
                             "use svc-analyze --from latent")
        if layer == "full":
            reader.layers = frozenset(LATENT_FULL)
        return reader
    if layer == "latent":
        raise InputError("the stream has no latent layers (svc-encode --codec latent writes them): analyse its "
                         "base layer (svc-analyze) or its feature layer (--from features)")
    if layer == "features" and isinstance(reader.header.features, dict) and reader.header.features.get("interlayer"):
        reader.layers = frozenset(("base",) + layers)  # coded against the base layer: its frames are needed too
    if layer != "features" and reader.header.base is None:
        from svc.errors import InputError
        raise InputError("the stream carries the feature layer only (no pixels): analyse it with "
                         "svc-analyze --from features")
    return reader


def decoded_gops(reader: ContainerReader, layer: str = "base", codec_loader=None, stats: DecodeReport = None,
                 on_error: str = "fail", region=None, latent_loader=None, jobs: int = 1, ray: str | None = None):
    """Iterator of :class:`DecodedGop` of the requested layer, one per record as it arrives.

    ``codec_loader(header)`` returns the enhancement codec for the full layer; it is only called
    when the stream carries an enhancement layer. ``latent_loader(header)`` returns the latent layers
    (:class:`svc.latent.layer.LatentLayer`) of a latent-codec stream (the pictures come from both
    latents). ``region``: decode the enhancement only there (see
    :func:`svc.pipeline.stages.enhancement_decode_stage`). The loaders keep the base path free of
    the learned layers' imports. ``jobs`` > 1: the GOPs are decoded by that many worker processes
    (:mod:`svc.pipeline.parallel`; the loaders must then be module-level functions), the same frames;
    ``ray`` ("local" or a cluster address): by that many Ray actors.
    """
    from svc.errors import InputError

    stats = stats if stats is not None else DecodeReport()
    stats.layer = layer
    if jobs > 1 or ray is not None:
        yield from _parallel(reader, layer, codec_loader, stats, on_error, region, latent_loader, jobs, ray)
        return
    if reader.header.latent is not None:          # the learned latent codec: pictures from both latents
        if region is not None:
            raise InputError("--roi decodes the HEVC stream's enhancement in a region; a latent-codec stream "
                             "decodes whole pictures")
        if latent_loader is None:
            raise InputError("this stream is coded with the learned latent codec; this reader has no latent "
                             "decoder")
        gops = latent_decode_stage(reader, latent_loader(reader.header), on_error, stats.skipped.append)
    else:
        gops = base_decode_stage(reader, BaseDecoder(reader.header.format))
    if layer == "full" and reader.header.latent is None:
        if reader.header.enhancement is None:
            stats.notes.append("stream has no enhancement layer: --layer full outputs the base frames")
            stats.layer = "base"
        else:
            if codec_loader is None:
                raise InputError("the full layer needs the enhancement decoder: pass codec_loader "
                                 "(svc.api.decoders()[0]), or decode with svc.decode")
            # a complete file: restore the next GOP while this one is block-decoded (no added wait)
            gops = enhancement_decode_stage(gops, codec_loader(reader.header), on_error, stats.base_only.append,
                                            region, lookahead=1 if reader.complete_file else 0)
    for dec in gops:
        stats.gops += 1
        stats.frames += len(dec.frames)
        yield dec
    stats.take_reader(reader)


def _parallel(reader, layer, codec_loader, stats, on_error, region, latent_loader, jobs, ray):
    """:func:`decoded_gops` with ``jobs`` worker processes (same checks, same reports)."""
    from svc.errors import InputError
    from svc.pipeline.parallel import parallel_decoded_gops

    header = reader.header
    if header.latent is not None and (region is not None or latent_loader is None):
        raise InputError("a latent-codec stream decodes whole pictures with its latent decoder")
    if layer == "full" and header.latent is None:
        if header.enhancement is None:
            stats.notes.append("stream has no enhancement layer: --layer full outputs the base frames")
            stats.layer = "base"
    base_only = [] if header.latent is None else None
    for dec in parallel_decoded_gops(reader, header, layer, jobs, codec_loader, latent_loader, on_error, region,
                                     stats.skipped, base_only, ray):
        stats.gops += 1
        stats.frames += len(dec.frames)
        yield dec
    stats.base_only.extend(base_only or [])
    stats.take_reader(reader)


def decode(fh, sink, layer: str = "base", codec_loader=None, follow: bool = False, on_error: str = "fail",
           progress=None, latent_loader=None) -> DecodeReport:
    """Decodes ``fh`` into ``sink`` (``write(frame)``), emitting each GOP as soon as it is decoded
    (loaders as for :func:`decoded_gops`)."""
    stats = DecodeReport()
    reader = open_reader(fh, layer, follow, on_error)
    for dec in decoded_gops(reader, layer, codec_loader, stats, on_error, latent_loader=latent_loader):
        for frame in dec.frames:
            sink.write(frame)
        if progress is not None:
            progress(len(dec.frames))
    return stats


def extract_base_container(fh, path: str, muxer: str, write_path=None, on_error: str = "fail") -> DecodeReport:
    """Remuxes the base payloads into a ``muxer`` container (``mp4``, ``matroska``) at ``path`` (bytes to
    ``write_path`` when given) without re-encoding, timed at the header's frame rate
    (:func:`svc.base.remux.remux_base`)."""
    from svc.base.remux import remux_base

    reader = open_reader(fh, "base", on_error=on_error)
    report = DecodeReport()

    def payloads():
        for rec in reader:
            report.gops += 1
            report.frames += rec.frame_count
            yield rec.base
    remux_base(payloads(), reader.header.format.fps, path, muxer, write_path)
    report.take_reader(reader)
    return report


def extract_base(fh, out_fh, on_error: str = "fail") -> DecodeReport:
    """Writes the concatenated base payloads (a plain Annex-B HEVC stream) without decoding them."""
    reader = open_reader(fh, "base", on_error=on_error)
    report = DecodeReport()
    for rec in reader:
        out_fh.write(rec.base)
        out_fh.flush()
        report.gops += 1
        report.frames += rec.frame_count
    report.take_reader(reader)
    return report
