"""Frame-level enhancement codec: codes each frame's residual against its base reconstruction.

Per-frame payload (inside the container's enhancement layer)::

    z_h u16, z_w u16     hyper-latent size (must match the padded frame size / 64)
    y_len u32            bytes of the latent's rANS string
    y string, z string

The entropy-parameter path (hyper-synthesis -> CDF indexes) runs single-threaded so encoder and
decoder derive identical indexes whatever thread count each process uses.
"""
from __future__ import annotations

import contextlib
import struct

import torch

from svc.enhancement.color import pad_to, to_frame420, to_tensor444
from svc.enhancement.models import PAD, ResidualEnhancer
from svc.errors import BitstreamError
from svc.io.frames import VideoFormat, YuvFrame

_HEAD = struct.Struct("<HHI")


@contextlib.contextmanager
def torch_threads(n: int):
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


class _SingleThreadEntropyParams:
    """Wraps ``model._entropy_params`` to run with one thread (bit-exact across processes)."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, z_hat):
        with torch_threads(1):
            return self.fn(z_hat)


class EnhancementCodec:
    """Codes and decodes the enhancement layer of one stream at a fixed quality in [0, 1]."""

    def __init__(self, model: ResidualEnhancer, fmt: VideoFormat, quality: float, model_id: str, weights_sha256: str):
        if not 0.0 <= float(quality) <= 1.0:
            from svc.errors import InputError
            raise InputError(f"enhancement quality must be within 0.0..1.0, got {quality}")
        self.model = model.eval()
        self.model._entropy_params = _SingleThreadEntropyParams(model._entropy_params)
        self.format = fmt
        self.quality = float(quality)
        self.model_id = model_id
        self.weights_sha256 = weights_sha256
        self.z_size = (-(-fmt.height // PAD) * PAD // 64, -(-fmt.width // PAD) * PAD // 64)

    def header_info(self) -> dict:
        return {"model_id": self.model_id, "weights_sha256": self.weights_sha256, "quality": self.quality}

    def _tensor(self, frame: YuvFrame) -> torch.Tensor:
        return pad_to(to_tensor444(frame, self.format.max_value), PAD)

    def _frame(self, t: torch.Tensor) -> YuvFrame:
        return to_frame420(t[..., : self.format.height, : self.format.width], self.format.max_value)

    @torch.inference_mode()
    def encode_frame(self, original: YuvFrame, base: YuvFrame) -> tuple[bytes, YuvFrame]:
        """Payload bytes and the decoder-exact full-quality frame."""
        strings, z_size, x_hat = self.model.compress(self._tensor(base), self._tensor(original), self.quality)
        y, z = strings[0][0], strings[1][0]
        return _HEAD.pack(z_size[0], z_size[1], len(y)) + y + z, self._frame(x_hat)

    @torch.inference_mode()
    def decode_frame(self, base: YuvFrame, payload: bytes, gop_index: int | None = None) -> YuvFrame:
        if len(payload) < _HEAD.size:
            raise BitstreamError("enhancement frame payload too short", gop_index)
        zh, zw, ylen = _HEAD.unpack_from(payload)
        if (zh, zw) != self.z_size or _HEAD.size + ylen > len(payload):
            raise BitstreamError("enhancement frame payload is inconsistent with the stream geometry", gop_index)
        y = payload[_HEAD.size:_HEAD.size + ylen]
        z = payload[_HEAD.size + ylen:]
        try:
            x_hat = self.model.decompress(self._tensor(base), [[y], [z]], (zh, zw), self.quality)
        except Exception as e:  # noqa: BLE001 - the rANS decoder raises plain errors on garbage
            raise BitstreamError(f"enhancement payload does not decode: {e}", gop_index) from None
        return self._frame(x_hat)

    @torch.inference_mode()
    def predict_frame(self, base: YuvFrame) -> YuvFrame:
        """The zero-bit prediction alone (base + predicted residual)."""
        return self._frame(self.model.predict(self._tensor(base)))

    def encode_gop(self, originals: list[YuvFrame], bases: list[YuvFrame]):
        """(payloads, full frames) for one GOP."""
        out = [self.encode_frame(o, b) for o, b in zip(originals, bases)]
        return [p for p, _ in out], [f for _, f in out]

    def decode_gop(self, bases: list[YuvFrame], payloads: list[bytes], gop_index: int | None = None):
        return [self.decode_frame(b, p, gop_index) for b, p in zip(bases, payloads)]
