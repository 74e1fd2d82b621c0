"""In-memory frame sources and sinks (for tools, benchmarks and tests)."""
from __future__ import annotations

from svc.io.frames import VideoFormat, YuvFrame


class FrameList:
    """A frame source over a list: ``format``, ``num_frames`` and iteration, like :func:`open_source`."""

    def __init__(self, fmt: VideoFormat, frames: list[YuvFrame]):
        self.format, self.frames, self.num_frames = fmt, list(frames), len(frames)

    def __iter__(self):
        return iter(self.frames)

    @classmethod
    def read(cls, path, max_frames=None) -> "FrameList":
        """All frames of ``path`` (any input :func:`open_source` takes) held in memory."""
        from svc.io.sources import open_source

        src = open_source(path, max_frames=max_frames)
        return cls(src.format, list(src))


class FrameCollector:
    """A sink that keeps every written frame in ``frames``."""

    def __init__(self):
        self.frames: list[YuvFrame] = []

    def write(self, frame: YuvFrame):
        self.frames.append(frame)

    def close(self):
        pass
