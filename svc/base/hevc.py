"""HEVC base layer through PyAV / libx265.

One libx265 instance codes the whole sequence with ``keyint = min-keyint = GOP size``, no scene
cuts and closed GOPs (:class:`GopStreamEncoder`), so every GOP payload starts with VPS/SPS/PPS + IDR,
decodes alone, and the payloads of consecutive GOPs concatenate into one valid Annex-B ``.hevc``
stream. Packets are assigned to GOPs by their pts; a GOP is handed on as soon as all of its frames'
packets are out, so the encoder holds one GOP plus x265's look-ahead (~24 frames at preset fast).
(An instance per GOP would drain x265's frame-parallel pipeline at every GOP end: ~10% slower.)
The encoder decodes its own packets to obtain the exact reconstruction a decoder will see.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction

import av

from svc.config import BaseConfig
from svc.errors import BitstreamError, InputError
from svc.io.avframes import from_av, to_av
from svc.io.frames import VideoFormat, YuvFrame


@dataclass
class BaseGop:
    """One coded GOP: Annex-B ``payload`` bytes and the decoded ``recon`` frames in display order."""

    payload: bytes
    recon: list[YuvFrame]


#: smallest frame side x265 opens (measured with PyAV 18.1: 14 fails, 16 codes)
MIN_DIMENSION = 16


class BaseEncoder:
    """Codes a list of frames (one GOP) into a closed HEVC GOP and returns its reconstruction.

    ``roi`` (optional) is called as ``roi(frame_index_in_gop, av_frame) -> av_frame`` before
    coding, so region-of-interest side data or pre-filtering can be attached per frame.
    """

    def __init__(self, fmt: VideoFormat, settings: BaseConfig):
        if settings.rate_control not in ("qp", "crf"):
            raise InputError(f"rate_control must be 'qp' or 'crf', got {settings.rate_control!r}")
        if not 0 <= float(settings.qp) <= 51:
            raise InputError(f"QP must be within 0..51, got {settings.qp}")
        if min(fmt.width, fmt.height) < MIN_DIMENSION:
            raise InputError(f"frame size {fmt.width}x{fmt.height} is too small for the HEVC base layer "
                             f"(x265 needs at least {MIN_DIMENSION} pixels a side)")
        self.format = fmt
        self.settings = settings
        self._decoder = BaseDecoder(fmt)

    def _params(self, gop_len: int) -> str:
        s = self.settings
        # frame-threads=1: x265 picks more frame threads on machines with more cores, and they change
        # (and make run-to-run variable) the coded stream; one frame thread keeps the base layer the
        # same bytes on every machine (WPP rows still run in parallel)
        params = {"keyint": gop_len, "min-keyint": gop_len, "scenecut": 0, "open-gop": 0,
                  "repeat-headers": 1, "log-level": "error", "info": 0, "frame-threads": 1,
                  s.rate_control: s.qp}
        params.update(s.x265_params)
        return ":".join(f"{k}={v}" for k, v in params.items())

    def _open(self, gop_len: int) -> av.CodecContext:
        fmt = self.format
        ctx = av.CodecContext.create("libx265", "w")
        ctx.width, ctx.height, ctx.pix_fmt = fmt.width, fmt.height, fmt.pix_fmt
        ctx.time_base = 1 / Fraction(fmt.fps)
        ctx.framerate = Fraction(fmt.fps)
        if self.settings.threads:
            ctx.thread_count = self.settings.threads
        ctx.options = {"preset": self.settings.preset, "x265-params": self._params(gop_len)}
        return ctx

    def stream(self, gop_size: int) -> "GopStreamEncoder":
        """A long-lived encoder for consecutive GOPs of ``gop_size`` frames (the last may be shorter)."""
        return GopStreamEncoder(self, gop_size)

    def encode_gop(self, frames: list[YuvFrame], roi=None) -> BaseGop:
        """``frames`` coded alone as one closed GOP."""
        stream = self.stream(len(frames))
        done = stream.feed(frames, roi) + stream.flush()
        return done[0]

    def encode_sequence(self, frames: list[YuvFrame], gop_size: int) -> list[BaseGop]:
        """``frames`` coded as consecutive closed GOPs of ``gop_size`` frames (the last may be shorter),
        through one encoder (:meth:`stream`)."""
        stream = self.stream(gop_size)
        done = []
        for i in range(0, len(frames), gop_size):
            done += stream.feed(frames[i:i + gop_size])
        return done + stream.flush()


@dataclass
class _OpenGop:
    first_pts: int
    frames: int
    packets: list = field(default_factory=list)


class GopStreamEncoder:
    """Feeds GOPs to one libx265 instance and returns each GOP's payload and reconstruction once
    all of its packets have come out. ``feed`` / ``flush`` return lists of finished :class:`BaseGop`
    in order (``feed`` often returns none: x265 still holds the GOP's last frames in its look-ahead)."""

    def __init__(self, encoder: BaseEncoder, gop_size: int):
        self.encoder = encoder
        self.gop_size = int(gop_size)
        self._ctx = encoder._open(self.gop_size)
        self._pts = 0
        self._open: deque[_OpenGop] = deque()
        self._last_short = False

    def feed(self, frames: list[YuvFrame], roi=None) -> list[BaseGop]:
        if not frames or len(frames) > self.gop_size or self._last_short:
            raise ValueError(f"GOPs of {self.gop_size} frames expected (only the last may be shorter), "
                             f"got {len(frames)}{' after a short GOP' if self._last_short else ''}")
        self._last_short = len(frames) < self.gop_size
        fmt = self.encoder.format
        self._open.append(_OpenGop(self._pts, len(frames)))
        for i, frame in enumerate(frames):
            vf = to_av(frame, fmt, pts=self._pts)
            self._pts += 1
            if roi is not None:
                vf = roi(i, vf)
            self._take(self._ctx.encode(vf))
        return self._finished()

    def flush(self) -> list[BaseGop]:
        """Drains the encoder; every fed GOP is finished afterwards."""
        self._take(self._ctx.encode(None))
        done = self._finished()
        if self._open:
            g = self._open[0]
            raise RuntimeError(f"base encoder returned {len(g.packets)} packets for a GOP of {g.frames} frames")
        return done

    def _take(self, packets):
        for p in packets:
            for g in self._open:
                if g.first_pts <= p.pts < g.first_pts + g.frames:
                    if not g.packets and not p.is_keyframe:
                        raise RuntimeError(f"base GOP at frame {g.first_pts} does not start with an IDR picture")
                    g.packets.append(bytes(p))
                    break
            else:
                raise RuntimeError(f"base encoder returned a packet for unknown frame {p.pts}")

    def _finished(self) -> list[BaseGop]:
        out = []
        while self._open and len(self._open[0].packets) == self._open[0].frames:
            g = self._open.popleft()
            payload = b"".join(g.packets)
            recon = self.encoder._decoder.decode(payload)
            if len(recon) != g.frames:
                raise RuntimeError(f"base encoder produced {len(recon)} frames for a GOP of {g.frames}")
            out.append(BaseGop(payload, recon))
        return out


class BaseDecoder:
    """Decodes one GOP payload (Annex-B HEVC) at a time to frames in display order.

    One FFmpeg decoder is reused across GOPs: each payload is parsed and drained to its last frame,
    then the decoder is reset (``flush_buffers``) for the next closed GOP; after an error it is
    replaced by a fresh one, so a damaged GOP cannot affect the next."""

    def __init__(self, fmt: VideoFormat, threads: int = 0):
        self.format = fmt
        self.threads = threads
        self._ctx = None

    def _context(self) -> av.CodecContext:
        if self._ctx is None:
            self._ctx = av.CodecContext.create("hevc", "r")
            if self.threads:
                self._ctx.thread_count = self.threads
        return self._ctx

    def decode(self, payload: bytes, gop_index: int | None = None) -> list[YuvFrame]:
        ctx = self._context()
        frames = []
        try:
            for pkt in ctx.parse(payload) + ctx.parse(None):
                frames.extend(ctx.decode(pkt))
            frames.extend(ctx.decode(None))
            ctx.flush_buffers()
        except av.error.FFmpegError as e:
            self._ctx = None
            raise BitstreamError(f"HEVC base payload does not decode: {e}", gop_index) from None
        for vf in frames:
            if (vf.width, vf.height) != (self.format.width, self.format.height):
                self._ctx = None
                raise BitstreamError(f"HEVC picture is {vf.width}x{vf.height}, header says "
                                     f"{self.format.width}x{self.format.height}", gop_index)
        return [from_av(vf, self.format) for vf in frames]
