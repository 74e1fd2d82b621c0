"""HEVC base layer through PyAV / libx265.

Each GOP is coded by its own encoder instance with ``keyint = len(gop)``, so every GOP payload is
a closed GOP starting with VPS/SPS/PPS + IDR that decodes alone, and the payloads of consecutive
GOPs concatenate into one valid Annex-B ``.hevc`` stream. (Measured: per-GOP encoders give the
same bytes and speed as one long-lived encoder with the same keyint at constant QP.)
The encoder decodes its own packets to obtain the exact reconstruction a decoder will see.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import av

from svc.errors import BitstreamError, InputError
from svc.io.avframes import from_av, to_av
from svc.io.frames import VideoFormat, YuvFrame


@dataclass
class BaseSettings:
    """Base-layer coding settings. ``qp`` is the constant QP (or CRF value when ``rate_control='crf'``)."""

    qp: float = 32
    preset: str = "fast"
    rate_control: str = "qp"
    x265_params: dict = field(default_factory=dict)
    threads: int = 0

    def __post_init__(self):
        # one spelling per value (37, not 37.0), so headers and x265 parameters are byte-identical
        # whether the QP came from YAML or the command line
        q = float(self.qp)
        self.qp = int(q) if q.is_integer() else q

    @classmethod
    def from_config(cls, cfg: dict) -> "BaseSettings":
        known = {k: cfg[k] for k in ("qp", "preset", "rate_control", "x265_params", "threads") if k in cfg}
        return cls(**known)

    def to_dict(self) -> dict:
        return {"codec": "hevc", "encoder": "libx265", "qp": self.qp, "preset": self.preset,
                "rate_control": self.rate_control, "x265_params": dict(self.x265_params)}


@dataclass
class BaseGop:
    """One coded GOP: Annex-B ``payload`` bytes and the decoded ``recon`` frames in display order."""

    payload: bytes
    recon: list[YuvFrame]


class BaseEncoder:
    """Codes a list of frames (one GOP) into a closed HEVC GOP and returns its reconstruction.

    ``roi`` (optional) is called as ``roi(frame_index_in_gop, av_frame) -> av_frame`` before
    coding, so region-of-interest side data or pre-filtering can be attached per frame.
    """

    def __init__(self, fmt: VideoFormat, settings: BaseSettings):
        if settings.rate_control not in ("qp", "crf"):
            raise InputError(f"rate_control must be 'qp' or 'crf', got {settings.rate_control!r}")
        if not 0 <= float(settings.qp) <= 51:
            raise InputError(f"QP must be within 0..51, got {settings.qp}")
        self.format = fmt
        self.settings = settings
        self._decoder = BaseDecoder(fmt)

    def _params(self, gop_len: int) -> str:
        s = self.settings
        params = {"keyint": gop_len, "min-keyint": gop_len, "scenecut": 0, "open-gop": 0,
                  "repeat-headers": 1, "log-level": "error", "info": 0,
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

    def encode_packets(self, frames: list[YuvFrame], roi=None) -> bytes:
        """The Annex-B payload of ``frames`` coded as one closed GOP."""
        ctx = self._open(len(frames))
        out = []
        for i, frame in enumerate(frames):
            vf = to_av(frame, self.format, pts=i)
            if roi is not None:
                vf = roi(i, vf)
            out.extend(bytes(p) for p in ctx.encode(vf))
        out.extend(bytes(p) for p in ctx.encode(None))
        return b"".join(out)

    def encode_gop(self, frames: list[YuvFrame], roi=None) -> BaseGop:
        payload = self.encode_packets(frames, roi)
        recon = self._decoder.decode(payload)
        if len(recon) != len(frames):
            raise RuntimeError(f"base encoder produced {len(recon)} frames for a GOP of {len(frames)}")
        return BaseGop(payload, recon)


class BaseDecoder:
    """Decodes one GOP payload (Annex-B HEVC) to frames in display order."""

    def __init__(self, fmt: VideoFormat, threads: int = 0):
        self.format = fmt
        self.threads = threads

    def decode(self, payload: bytes, gop_index: int | None = None) -> list[YuvFrame]:
        ctx = av.CodecContext.create("hevc", "r")
        if self.threads:
            ctx.thread_count = self.threads
        frames = []
        try:
            for pkt in ctx.parse(payload) + ctx.parse(None):
                frames.extend(ctx.decode(pkt))
            frames.extend(ctx.decode(None))
        except av.error.FFmpegError as e:
            raise BitstreamError(f"HEVC base payload does not decode: {e}", gop_index) from None
        for vf in frames:
            if (vf.width, vf.height) != (self.format.width, self.format.height):
                raise BitstreamError(f"HEVC picture is {vf.width}x{vf.height}, header says "
                                     f"{self.format.width}x{self.format.height}", gop_index)
        return [from_av(vf, self.format) for vf in frames]
