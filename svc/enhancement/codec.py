"""Frame-level enhancement codec: codes each frame's residual against its base reconstruction.

Per-frame payload (inside the container's enhancement layer)::

    mode u8              0: base frame as is, 1: base + predicted residual (zero bits),
                         2: base + predicted residual + coded residual, followed by
    z_h u16, z_w u16     hyper-latent size (must match the padded frame size / 32)
    y_len u32            bytes of the latent's rANS string
    y string, z string

The encoder picks the mode per frame by rate-distortion cost J = λ(q)·MSE + bits/pixel with
the same λ(q) the model was trained with, so the full layer is never worse than the base.

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
MODE_BASE, MODE_PREDICT, MODE_CODED = 0, 1, 2


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

    def __init__(self, model: ResidualEnhancer, fmt: VideoFormat, quality: float, model_id: str, weights_sha256: str,
                 code_residual: bool = True):
        if not 0.0 <= float(quality) <= 1.0:
            from svc.errors import InputError
            raise InputError(f"enhancement quality must be within 0.0..1.0, got {quality}")
        self.model = model.eval()
        self.model._entropy_params = _SingleThreadEntropyParams(model._entropy_params)
        self.format = fmt
        self.quality = float(quality)
        self.code_residual = code_residual  # False: zero-bit enhancement (base or prediction per frame)
        self.model_id = model_id
        self.weights_sha256 = weights_sha256
        self.z_size = (-(-fmt.height // PAD) * PAD // 32, -(-fmt.width // PAD) * PAD // 32)

    def header_info(self) -> dict:
        return {"model_id": self.model_id, "weights_sha256": self.weights_sha256, "quality": self.quality}

    def _tensor(self, frame: YuvFrame) -> torch.Tensor:
        return pad_to(to_tensor444(frame, self.format.max_value), PAD)

    def _frame(self, t: torch.Tensor) -> YuvFrame:
        return to_frame420(t[..., : self.format.height, : self.format.width], self.format.max_value)

    @property
    def rd_lambda(self) -> float:
        lo, hi = self.model.config["lambda_range"]
        return lo * (hi / lo) ** self.quality

    def _cost(self, original: YuvFrame, candidate: YuvFrame, nbytes: int) -> float:
        from svc.metrics.quality import mse

        scale = (255.0 / self.format.max_value) ** 2
        d = (6 * mse(original.y, candidate.y) + mse(original.u, candidate.u) + mse(original.v, candidate.v)) / 8
        return self.rd_lambda * d * scale + nbytes * 8 / (self.format.width * self.format.height)

    @torch.inference_mode()
    def encode_frame(self, original: YuvFrame, base: YuvFrame) -> tuple[bytes, YuvFrame]:
        """Payload bytes and the decoder-exact full-quality frame (best of the three modes)."""
        options = [(bytes([MODE_BASE]), base), (bytes([MODE_PREDICT]), self.predict_frame(base))]
        if self.code_residual:
            strings, z_size, x_hat = self.model.compress(self._tensor(base), self._tensor(original), self.quality)
            y, z = strings[0][0], strings[1][0]
            options.append((bytes([MODE_CODED]) + _HEAD.pack(z_size[0], z_size[1], len(y)) + y + z, self._frame(x_hat)))
        return min(options, key=lambda o: self._cost(original, o[1], len(o[0])))

    @torch.inference_mode()
    def decode_frame(self, base: YuvFrame, payload: bytes, gop_index: int | None = None) -> YuvFrame:
        mode = payload[0] if payload else -1
        if mode == MODE_BASE and len(payload) == 1:
            return base
        if mode == MODE_PREDICT and len(payload) == 1:
            return self.predict_frame(base)
        if mode != MODE_CODED or len(payload) < 1 + _HEAD.size:
            raise BitstreamError("enhancement frame payload has an unknown mode or is too short", gop_index)
        zh, zw, ylen = _HEAD.unpack_from(payload, 1)
        if (zh, zw) != self.z_size or 1 + _HEAD.size + ylen > len(payload):
            raise BitstreamError("enhancement frame payload is inconsistent with the stream geometry", gop_index)
        y = payload[1 + _HEAD.size:1 + _HEAD.size + ylen]
        z = payload[1 + _HEAD.size + ylen:]
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
