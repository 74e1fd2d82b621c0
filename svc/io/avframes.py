"""Conversion between :class:`YuvFrame` planes and PyAV ``VideoFrame`` objects."""
from __future__ import annotations

import av

from svc.io.frames import VideoFormat, YuvFrame


def to_av(frame: YuvFrame, fmt: VideoFormat, pts: int | None = None) -> av.VideoFrame:
    """A PyAV frame (``yuv420p`` or ``yuv420p10le``) holding a copy of ``frame``."""
    vf = av.VideoFrame.from_ndarray(frame.to_i420(), format=fmt.pix_fmt)
    if pts is not None:
        vf.pts = pts
    return vf


def from_av(vf: av.VideoFrame, fmt: VideoFormat) -> YuvFrame:
    """Planes of a decoded PyAV frame, converted to ``fmt``'s pixel format when they differ."""
    if vf.format.name != fmt.pix_fmt or vf.width != fmt.width or vf.height != fmt.height:
        vf = vf.reformat(width=fmt.width, height=fmt.height, format=fmt.pix_fmt)
    return YuvFrame.from_i420(vf.to_ndarray(), fmt.width, fmt.height)
