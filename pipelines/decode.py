"""Decode pipelines.

    records = ContainerReader(fh, read_enhancement=(layer == "full"))
    gops    = base_decode_stage(records, BaseDecoder(fmt))      # HEVC -> frames, per GOP
    gops    = enhancement_decode_stage(gops, codec)              # full layer only
    frames  = frames_stage(gops)                                 # -> sink, GOP by GOP

The base path never reads or parses enhancement bytes and never imports torch.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from svc.base import BaseDecoder
from svc.bitstream import ContainerReader

from pipelines.stages import base_decode_stage, enhancement_decode_stage


@dataclass
class DecodeStats:
    frames: int = 0
    gops: int = 0
    layer: str = "base"
    notes: list = field(default_factory=list)
    skipped: list = field(default_factory=list)      # damaged records dropped (reader errors)
    base_only: list = field(default_factory=list)    # GOPs output from the base layer: enhancement damaged


def open_reader(fh, layer: str = "base", follow: bool = False, on_error: str = "fail") -> ContainerReader:
    if layer not in ("base", "full"):
        raise ValueError("layer must be 'base' or 'full'")
    return ContainerReader(fh, read_enhancement=(layer == "full"), follow=follow, on_error=on_error)


def decoded_gops(reader: ContainerReader, layer: str = "base", codec_loader=None, stats: DecodeStats = None,
                 on_error: str = "fail"):
    """Iterator of :class:`DecodedGop` of the requested layer, one per record as it arrives.

    ``codec_loader(header)`` returns the enhancement codec for the full layer; it is only called
    when the stream carries an enhancement layer.
    """
    stats = stats if stats is not None else DecodeStats()
    stats.layer = layer
    gops = base_decode_stage(reader, BaseDecoder(reader.header.format))
    if layer == "full":
        if reader.header.enhancement is None:
            stats.notes.append("stream has no enhancement layer: --layer full outputs the base frames")
            stats.layer = "base"
        else:
            gops = enhancement_decode_stage(gops, codec_loader(reader.header), on_error, stats.base_only.append)
    for dec in gops:
        stats.gops += 1
        stats.frames += len(dec.frames)
        yield dec
    stats.skipped = list(reader.errors)


def decode(fh, sink, layer: str = "base", codec_loader=None, follow: bool = False, on_error: str = "fail",
           progress=None) -> DecodeStats:
    """Decodes ``fh`` into ``sink`` (``write(frame)``), emitting each GOP as soon as it is decoded."""
    stats = DecodeStats()
    reader = open_reader(fh, layer, follow, on_error)
    for dec in decoded_gops(reader, layer, codec_loader, stats, on_error):
        for frame in dec.frames:
            sink.write(frame)
        if progress is not None:
            progress(len(dec.frames))
    return stats


def extract_base(fh, out_fh, on_error: str = "fail") -> int:
    """Writes the concatenated base payloads (a plain Annex-B HEVC stream); returns GOPs written."""
    reader = ContainerReader(fh, read_enhancement=False, on_error=on_error)
    n = 0
    for rec in reader:
        out_fh.write(rec.base)
        out_fh.flush()
        n += 1
    return n
