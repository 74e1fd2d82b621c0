"""Open any supported input as a frame source and any output as a frame sink.

Raw ``.yuv`` files need their geometry from the name or from explicit arguments; other
containers (``.mp4``, ``.mkv``, ``.y4m``, ...) are read and written through PyAV.
"""
from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

from svc.errors import InputError
from svc.io.frames import VideoFormat, YuvFrame, parse_fps
from svc.io.yuv import YuvReader, YuvWriter, parse_yuv_name

RAW_SUFFIXES = {".yuv", ".raw", ".i420"}


def _is_raw(path) -> bool:
    return str(path) == "-" or Path(str(path)).suffix.lower() in RAW_SUFFIXES


def raw_format(path, size: str | None = None, fps=None, bit_depth: int | None = None) -> VideoFormat:
    """The :class:`VideoFormat` of a raw file: explicit arguments win over the file name."""
    info = parse_yuv_name(path)
    if size:
        try:
            w, h = (int(v) for v in str(size).lower().split("x"))
        except ValueError:
            raise InputError(f"--size must look like 416x240, got {size!r}") from None
        info.update(width=w, height=h)
    if "width" not in info:
        raise InputError(f"cannot tell the frame size of {path}: name it like Name_416x240_50.yuv or pass --size WxH")
    if fps is not None:
        info["fps"] = parse_fps(fps)
    if bit_depth is not None:
        info["bit_depth"] = int(bit_depth)
    return VideoFormat(info["width"], info["height"], info.get("fps", Fraction(30)), info.get("bit_depth", 8))


class AvSource:
    """Frames of a video container decoded by PyAV, converted to 4:2:0 (8-bit, or 10-bit for deep sources)."""

    def __init__(self, path, max_frames: int | None = None, fps=None):
        import av

        if not os.path.exists(path):
            raise InputError(f"cannot read {path}: no such file")
        if os.path.isdir(path):
            raise InputError(f"cannot read {path}: it is a folder")
        try:
            self._container = av.open(str(path))
        except av.error.FFmpegError as e:
            raise InputError(f"cannot read {path} as video: FFmpeg does not recognise it "
                             f"({getattr(e, 'strerror', None) or e}); raw 4:2:0 input needs a .yuv name") from None
        if not self._container.streams.video:
            self._container.close()
            raise InputError(f"cannot read {path} as video: it holds no video stream")
        self._stream = self._container.streams.video[0]
        cc = self._stream.codec_context
        deep = cc.format is not None and any(c.bits > 8 for c in cc.format.components)
        rate = parse_fps(fps) if fps else (self._stream.average_rate or self._stream.guessed_rate or Fraction(30))
        self.format = VideoFormat(cc.width, cc.height, Fraction(rate), 10 if deep else 8)
        self.path = path
        self.max_frames = max_frames
        n = self._stream.frames or None
        self.num_frames = min(n, max_frames) if (n and max_frames) else (n or max_frames)

    def __iter__(self):
        from svc.io.avframes import from_av

        n = 0
        try:
            for vf in self._container.decode(self._stream):
                if self.max_frames is not None and n >= self.max_frames:
                    break
                yield from_av(vf, self.format)
                n += 1
        finally:
            self._container.close()


def open_input(path):
    """A binary file object for ``path`` (``-`` = stdin)."""
    if path == "-":
        import sys
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except IsADirectoryError:
        raise InputError(f"cannot read {path}: it is a folder") from None
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from None


def open_source(path, size=None, fps=None, bit_depth=None, max_frames=None):
    """A frame source with ``.format`` (:class:`VideoFormat`), ``.num_frames`` (or None) and iteration."""
    if _is_raw(path):
        return YuvReader(path, raw_format(path, size, fps, bit_depth), max_frames=max_frames)
    if size or bit_depth:
        raise InputError("--size and --bit-depth apply to raw .yuv input only")
    return AvSource(path, max_frames=max_frames, fps=fps)


#: Output containers a sink writes, by suffix: FFmpeg muxer name.
AV_SINK_FORMATS = {".y4m": "yuv4mpegpipe", ".mp4": "mp4", ".mkv": "matroska"}


def _device(path) -> bool:
    """An existing output that is not a regular file or folder (``/dev/null``, a named pipe)."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def sink_kind(path) -> str:
    """``'raw'`` or the FFmpeg muxer for an output ``path``; a one-line InputError for a suffix no sink
    writes. A device or named pipe without a known suffix (``/dev/null``) takes raw 4:2:0."""
    if _is_raw(path) or (_device(path) and Path(str(path)).suffix.lower() not in AV_SINK_FORMATS):
        return "raw"
    muxer = AV_SINK_FORMATS.get(Path(str(path)).suffix.lower())
    if muxer is None:
        raise InputError(f"cannot tell what to write to {path}: decoded video goes to .yuv (raw 4:2:0, '-' for "
                         f"stdout), .y4m, .mp4 or .mkv (H.264)")
    return muxer


#: x264 settings of ``.mp4``/``.mkv`` outputs: a 4:2:0 High-profile encode every common player opens
#: (visually lossless at CRF 16), or mathematically lossless on request (qp 0: High 4:4:4 Predictive,
#: which many players refuse)
MP4_OPTIONS = {"crf": "16", "preset": "veryfast"}
MP4_LOSSLESS_OPTIONS = {"qp": "0", "preset": "veryfast"}


class AvSink:
    """Writes frames into a PyAV container: ``.y4m`` raw, ``.mp4``/``.mkv`` H.264 4:2:0 (CRF 16, High
    profile; ``lossless``: qp 0). ``write_path`` (default ``path``) is where the bytes go; the format
    follows ``path``'s suffix."""

    def __init__(self, path, fmt: VideoFormat, write_path=None, lossless: bool = False):
        import av

        self.format = fmt
        muxer = sink_kind(path)
        self._container = av.open(str(write_path or path), "w", format=muxer)
        if muxer == "yuv4mpegpipe":
            self._stream = self._container.add_stream("rawvideo", rate=fmt.fps)
        else:
            self._stream = self._container.add_stream("libx264", rate=fmt.fps)
            self._stream.options = dict(MP4_LOSSLESS_OPTIONS if lossless else MP4_OPTIONS)
        self._stream.width, self._stream.height = fmt.width, fmt.height
        self._stream.pix_fmt = fmt.pix_fmt if self._stream.codec_context.name == "rawvideo" or fmt.bit_depth == 8 else "yuv420p10le"
        self._n = 0

    def write(self, frame: YuvFrame):
        from svc.io.avframes import to_av

        for pkt in self._stream.encode(to_av(frame, self.format, pts=self._n)):
            self._container.mux(pkt)
        self._n += 1

    def close(self):
        for pkt in self._stream.encode(None):
            self._container.mux(pkt)
        self._container.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_sink(path, fmt: VideoFormat, write_path=None, lossless: bool = False):
    """A frame sink with ``write(frame)`` and ``close()``, chosen by ``path``'s suffix (``-`` = raw stdout);
    the bytes go to ``write_path`` when given (a temporary file renamed to ``path`` on success);
    ``lossless``: ``.mp4``/``.mkv`` coded losslessly (raw outputs always are)."""
    if sink_kind(path) == "raw":
        return YuvWriter(write_path or path, fmt)
    return AvSink(path, fmt, write_path, lossless)
