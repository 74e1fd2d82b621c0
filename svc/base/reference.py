"""Reference encodes for measurement: plain FFmpeg/libx265 with its own defaults (not svc's settings)."""
from __future__ import annotations

from fractions import Fraction

import av

from svc.io.avframes import from_av, to_av
from svc.io.frames import VideoFormat, YuvFrame


def plain_x265(fmt: VideoFormat, frames: list[YuvFrame], params: dict, preset: str | None = None):
    """(Annex-B bytes, decoded frames) of ``frames`` coded by libx265 with FFmpeg's defaults except one
    frame thread and ``params`` (x265 parameters, e.g. ``{"crf": 28}``) and ``preset`` (default: x265's, medium)."""
    ctx = av.CodecContext.create("libx265", "w")
    ctx.width, ctx.height, ctx.pix_fmt = fmt.width, fmt.height, fmt.pix_fmt
    ctx.time_base = 1 / Fraction(fmt.fps)
    ctx.framerate = Fraction(fmt.fps)
    # frame-threads=1 (as the base layer): the same bytes on machines with more cores
    opts = {"x265-params": ":".join(f"{k}={v}" for k, v in {"log-level": "error", "frame-threads": 1,
                                                             **params}.items())}
    if preset:
        opts["preset"] = preset
    ctx.options = opts
    packets = []
    for i, f in enumerate(frames):
        packets.extend(bytes(p) for p in ctx.encode(to_av(f, fmt, pts=i)))
    packets.extend(bytes(p) for p in ctx.encode(None))
    data = b"".join(packets)
    dec = av.CodecContext.create("hevc", "r")
    out = []
    for pkt in dec.parse(data) + dec.parse(None):
        out.extend(dec.decode(pkt))
    out.extend(dec.decode(None))
    return data, [from_av(vf, fmt) for vf in out]
