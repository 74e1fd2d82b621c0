"""GOP-aware buffering: group a frame iterator into complete GOPs.

Memory held is one GOP of frames; the last GOP of a sequence may be short.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator

from svc.io.frames import YuvFrame


@dataclass
class Gop:
    """``frames`` of GOP ``index``; ``first_frame`` is the display index of ``frames[0]``."""

    index: int
    first_frame: int
    frames: list[YuvFrame] = field(default_factory=list)

    def __len__(self):
        return len(self.frames)


class GopBuffer:
    """Iterator of :class:`Gop` of ``gop_size`` frames each, taken from ``frames`` as they arrive."""

    def __init__(self, frames: Iterable[YuvFrame], gop_size: int):
        if gop_size < 1:
            raise ValueError("gop_size must be >= 1")
        self.frames = frames
        self.gop_size = gop_size

    def __iter__(self) -> Iterator[Gop]:
        gop = Gop(0, 0)
        for frame in self.frames:
            gop.frames.append(frame)
            if len(gop.frames) == self.gop_size:
                yield gop
                gop = Gop(gop.index + 1, gop.first_frame + self.gop_size)
        if gop.frames:
            yield gop
