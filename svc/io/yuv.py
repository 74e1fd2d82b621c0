"""Raw planar YUV 4:2:0 files, read and written frame by frame.

File names follow the HEVC CTC / Vooya conventions, e.g. ``BasketballPass_416x240_50.yuv``,
``Kimono1_1920x1080_24_10bit.yuv``, ``foo_1280x720_60Hz_P420_8bit.yuv``; :func:`parse_yuv_name`
recovers width, height, fps and bit depth from them. 10-bit samples are little-endian uint16.
"""
from __future__ import annotations

import os
import re
import stat
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

from svc.errors import InputError
from svc.io.frames import VideoFormat, YuvFrame

_SIZE = re.compile(r"(?:^|[_\-.])(\d{2,5})x(\d{2,5})(?=$|[_\-.])")
_FPS = re.compile(r"^(\d+(?:\.\d+)?)(?:hz|fps|p)?$", re.IGNORECASE)
_DEPTH = re.compile(r"^(?:(\d+)bit|(\d+)b)$", re.IGNORECASE)
_PIXFMT = re.compile(r"^(?:p420|i420|yuv420p?)(?:(\d+)(?:le)?)?$", re.IGNORECASE)


def parse_yuv_name(path) -> dict:
    """Geometry from a CTC / Vooya style name: ``{'width', 'height', 'fps', 'bit_depth'}``.

    Keys absent from the name are absent from the result. Width and height are required for a
    raw file; fps and bit depth have defaults applied by the caller.
    """
    stem = Path(str(path)).name
    for ext in (".yuv", ".raw", ".i420"):
        if stem.lower().endswith(ext):
            stem = stem[: -len(ext)]
    m = _SIZE.search(stem)
    if not m:
        return {}
    out = {"width": int(m.group(1)), "height": int(m.group(2))}
    for tok in re.split(r"[_\-]", stem[m.end():]):
        if not tok:
            continue
        if "fps" not in out and (f := _FPS.match(tok)):
            out["fps"] = Fraction(f.group(1))
        elif d := _DEPTH.match(tok):
            out["bit_depth"] = int(d.group(1) or d.group(2))
        elif p := _PIXFMT.match(tok):
            if p.group(1):
                out["bit_depth"] = int(p.group(1))
    return out


def _is_stdio(path) -> bool:
    return str(path) == "-"


class YuvReader:
    """Iterates the frames of a raw 4:2:0 file (or ``-`` for stdin) one at a time.

    A seekable file whose size is not a whole number of frames is refused at construction,
    before any frame is produced; a pipe that ends inside a frame raises at that point.
    """

    def __init__(self, path, fmt: VideoFormat, max_frames: int | None = None):
        self.format = fmt
        self.path = path
        self.max_frames = max_frames
        if _is_stdio(path):
            self._fh = sys.stdin.buffer
            self.num_frames = None
        else:
            try:
                self._fh = open(path, "rb")
            except OSError as e:
                raise InputError(f"cannot read {path}: {e.strerror}") from None
            st = os.fstat(self._fh.fileno())
            size = st.st_size
            if not stat.S_ISREG(st.st_mode):   # a named pipe or device: streamed like stdin
                size = None
                self.num_frames = None
            elif size == 0:
                self._fh.close()
                raise InputError(f"{path} is empty: no frames to code")
            elif size % fmt.frame_bytes:
                self._fh.close()
                raise InputError(
                    f"{path}: size {size} bytes is not a whole number of {fmt.width}x{fmt.height} "
                    f"{fmt.bit_depth}-bit 4:2:0 frames ({fmt.frame_bytes} bytes each, "
                    f"{size / fmt.frame_bytes:.3f} frames); check --size / the file name")
            if size is not None:
                self.num_frames = size // fmt.frame_bytes
        if max_frames is not None and self.num_frames is not None:
            self.num_frames = min(self.num_frames, max_frames)

    def __iter__(self):
        fmt, n = self.format, 0
        try:
            while self.max_frames is None or n < self.max_frames:
                data = _read_exact(self._fh, fmt.frame_bytes)
                if not data:
                    break
                if len(data) < fmt.frame_bytes:
                    raise InputError(f"{self.path}: input ended inside frame {n} "
                                     f"({len(data)} of {fmt.frame_bytes} bytes)")
                buf = np.frombuffer(data, dtype="<u2" if fmt.bit_depth > 8 else np.uint8)
                if fmt.bit_depth > 8:
                    buf = buf.astype(np.uint16)
                    top = int(buf.max())
                    if top >= 1 << fmt.bit_depth:
                        raise InputError(
                            f"{self.path}: frame {n} holds the sample value {top}, beyond {fmt.bit_depth}-bit "
                            f"(0..{(1 << fmt.bit_depth) - 1}): is it 8-bit video? (drop --bit-depth / _10bit)")
                yield YuvFrame.from_i420(buf, fmt.width, fmt.height)
                n += 1
        finally:
            self.close()

    def close(self):
        if self._fh is not sys.stdin.buffer:
            self._fh.close()


def _read_exact(fh, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        b = fh.read(n - got)
        if not b:
            break
        chunks.append(b)
        got += len(b)
    return b"".join(chunks)


class YuvWriter:
    """Writes 4:2:0 frames to a raw planar file (or ``-`` for stdout), flushing each frame."""

    def __init__(self, path, fmt: VideoFormat):
        self.format = fmt
        self._own = not _is_stdio(path)
        self._fh = open(path, "wb") if self._own else sys.stdout.buffer

    def write(self, frame: YuvFrame):
        dt = "<u2" if self.format.bit_depth > 8 else np.uint8
        for plane in frame:
            self._fh.write(np.ascontiguousarray(plane, dtype=dt).tobytes())
        self._fh.flush()

    def close(self):
        if self._own:
            self._fh.close()
        else:
            self._fh.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
