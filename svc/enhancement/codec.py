"""Frame-level enhancement codec: codes each frame's residual against its base reconstruction.

Per-frame payload (inside the container's enhancement layer)::

    mode u8              0: base frame as is, 1: base + predicted residual (zero bits),
                         2: base + predicted residual + coded residual,
                         3: carried reference (zero bits), 4: carried reference + coded residual,
                         5: u16 k, then a mode 2 or 4 payload coded at quality k / 65535 (not the stream's);
    modes 2 and 4 are followed by
    z_h u16, z_w u16     hyper-latent size (must match the padded frame size / 32)
    y_len u32            bytes of the latent's rANS string
    y string, z string

The carried reference (modes 3, 4; not on a GOP's first frame) is the base frame plus the previous
full frame's correction (full - base), moved by block motion that both ends estimate on the base
frames (:mod:`svc.enhancement.motion`). What the base layer lost and the previous frame already
restored (texture a blurred ROI background dropped, detail under a static scene) then costs no
bits again. Mode 4 codes the residual with the carried reference in place of the base frame.

The encoder picks the mode per frame by rate-distortion cost J = λ(q)·MSE + bits/pixel with
the same λ(q) the model was trained with, so the full layer is never worse than the base. Given a
target distortion for a frame (ROI streams: the full layer the same stream would have had without
ROI), the encoder raises that frame's quality until the target is met (mode 5).

The entropy-parameter path (hyper-synthesis -> CDF indexes) runs single-threaded so encoder and
decoder derive identical indexes whatever thread count each process uses.
"""
from __future__ import annotations

import contextlib
import math
import struct

import torch

from svc.enhancement.color import pad_to, to_frame420, to_tensor444
from svc.enhancement.models import PAD, ResidualEnhancer
from svc.enhancement.motion import CorrectionCarrier
from svc.errors import BitstreamError
from svc.io.frames import VideoFormat, YuvFrame
from svc.metrics.quality import frame_mse, weighted_yuv

_HEAD = struct.Struct("<HHI")
_QUALITY = struct.Struct("<H")
MODE_BASE, MODE_PREDICT, MODE_CODED, MODE_CARRY, MODE_CARRY_CODED = 0, 1, 2, 3, 4
MODE_QUALITY = 5       # prefix: u16 k, this frame is coded at quality k / QUALITY_STEPS
QUALITY_STEPS = 65535
MAX_TRIALS = 4         # extra codings per frame when a target distortion must be reached


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


def frame_mode(payload: bytes) -> int:
    """The mode of a frame payload, after a quality prefix (mode 5) if it carries one."""
    if len(payload) > 1 + _QUALITY.size and payload[0] == MODE_QUALITY:
        return payload[1 + _QUALITY.size]
    return payload[0] if payload else -1


def payload_quality(payload: bytes, default: float) -> float:
    """The quality a frame payload was coded at: its mode-5 prefix, else ``default`` (the stream's)."""
    if len(payload) >= 1 + _QUALITY.size and payload[0] == MODE_QUALITY:
        return _QUALITY.unpack_from(payload, 1)[0] / QUALITY_STEPS
    return default


class EnhancementCodec:
    """Codes and decodes the enhancement layer of one stream at a fixed quality in [0, 1]."""

    def __init__(self, model: ResidualEnhancer, fmt: VideoFormat, quality: float, model_id: str, weights_sha256: str,
                 code_residual: bool = True, temporal: bool = True):
        if not 0.0 <= float(quality) <= 1.0:
            from svc.errors import InputError
            raise InputError(f"enhancement quality must be within 0.0..1.0, got {quality}")
        self.model = model.eval()
        self.model._entropy_params = _SingleThreadEntropyParams(model._entropy_params)
        self.format = fmt
        self.quality = float(quality)
        self.code_residual = code_residual  # False: zero-bit enhancement (base or prediction per frame)
        self.temporal = temporal  # False: no carried reference (modes 3, 4), each frame on its own
        self.carrier = CorrectionCarrier(fmt.max_value)
        self.model_id = model_id
        self.weights_sha256 = weights_sha256
        self.z_size = (-(-fmt.height // PAD) * PAD // 32, -(-fmt.width // PAD) * PAD // 32)

    def header_info(self) -> dict:
        return {"model_id": self.model_id, "weights_sha256": self.weights_sha256, "quality": self.quality}

    def _tensor(self, frame: YuvFrame) -> torch.Tensor:
        return pad_to(to_tensor444(frame, self.format.max_value), PAD)

    def _frame(self, t: torch.Tensor) -> YuvFrame:
        return to_frame420(t[..., : self.format.height, : self.format.width], self.format.max_value)

    def rd_lambda(self, quality: float | None = None) -> float:
        """λ of the mode decision at ``quality`` (default: the stream's)."""
        lo, hi = self.model.config["lambda_range"]
        return lo * (hi / lo) ** (self.quality if quality is None else quality)

    def _plane_mse(self, original: YuvFrame, candidate: YuvFrame) -> tuple[float, float, float]:
        """MSE of the Y, U and V planes in 8-bit sample units."""
        return frame_mse(original, candidate, self.format.max_value)

    def distortion(self, original: YuvFrame, candidate: YuvFrame) -> float:
        """The mode decision's distortion: MSE with Y:U:V weighted 6:1:1, in 8-bit sample units."""
        return weighted_yuv(*self._plane_mse(original, candidate))

    def quality_target(self, original: YuvFrame, candidate: YuvFrame) -> tuple[float, float]:
        """(MSE of Y, 6:1:1-weighted YUV MSE) in 8-bit sample units: the two figures a frame given
        ``candidate``'s quality as its target (:meth:`encode_frame`) must not exceed; so neither
        PSNR-Y nor the weighted YUV distortion is lower than ``candidate``'s."""
        y, u, v = self._plane_mse(original, candidate)
        return y, weighted_yuv(y, u, v)

    def target_ratio(self, original: YuvFrame, candidate: YuvFrame, target) -> float:
        """How far ``candidate`` is from ``target`` (:meth:`quality_target`): the worse of its two
        figures over the target's; it reaches the target at <= 1."""
        return max(m / max(float(t), 1e-9) for m, t in zip(self.quality_target(original, candidate), target))

    def _cost(self, original: YuvFrame, candidate: YuvFrame, nbytes: int, quality: float | None = None) -> float:
        return (self.rd_lambda(quality) * self.distortion(original, candidate)
                + nbytes * 8 / (self.format.width * self.format.height))

    def _coded(self, mode: int, reference: YuvFrame, original: YuvFrame, quality: float) -> tuple[bytes, YuvFrame]:
        strings, z_size, x_hat = self.model.compress(self._tensor(reference), self._tensor(original), quality)
        y, z = strings[0][0], strings[1][0]
        head = b"" if quality == self.quality else bytes([MODE_QUALITY]) + _QUALITY.pack(round(quality * QUALITY_STEPS))
        return head + bytes([mode]) + _HEAD.pack(z_size[0], z_size[1], len(y)) + y + z, self._frame(x_hat)

    def _choose(self, original: YuvFrame, base: YuvFrame, carried: YuvFrame | None, quality: float):
        """The option of least RD cost at ``quality``: (payload, full frame)."""
        options = [(bytes([MODE_BASE]), base), (bytes([MODE_PREDICT]), self.predict_frame(base))]
        anchor = (MODE_CODED, base)
        if carried is not None:
            options.append((bytes([MODE_CARRY]), carried))
            # code against whichever of base / carried reference is closer (one compress per frame)
            if self.distortion(original, carried) < self.distortion(original, base):
                anchor = (MODE_CARRY_CODED, carried)
        if self.code_residual:
            options.append(self._coded(*anchor, original, quality))
        return min(options, key=lambda o: self._cost(original, o[1], len(o[0]), quality))

    @torch.inference_mode()
    def encode_frame(self, original: YuvFrame, base: YuvFrame, previous: tuple[YuvFrame, YuvFrame] | None = None,
                     target: tuple[float, float] | None = None,
                     hint: float | None = None) -> tuple[bytes, YuvFrame]:
        """Payload bytes and the decoder-exact full-quality frame (the mode of least RD cost).

        ``previous``: (base, full) of the previous frame in the GOP, for the carried reference.
        ``target``: (Y MSE, weighted MSE) (:meth:`quality_target`) the frame must reach: if the
        stream's quality does not, the frame is coded at the lowest higher quality (signalled in its
        payload) found to reach it in at most :data:`MAX_TRIALS` more codings (or at the best tried).
        ``hint``: the quality the previous frame needed, tried first (frames of a GOP need similar ones)."""
        carried = self.carrier.reference(base, *previous) if previous is not None and self.temporal else None
        if target is None or not self.code_residual:
            return self._choose(original, base, carried, self.quality)
        return self._reach(original, base, carried, target,
                           self.quality if hint is None else max(self.quality, min(1.0, hint)))

    def _reach(self, original, base, carried, target: tuple, first: float):
        """The option at the lowest quality in [stream quality, 1] found to reach ``target``: a secant
        search in log distortion over at most 1 + MAX_TRIALS codings, bracketing the target between
        the highest quality that misses it (lo) and the lowest that reaches it (hi). The distortion
        searched is the worse of the two figures relative to its target (reached at <= 1)."""
        lo = hi = None
        points = []
        q = first if first == self.quality else round(first * QUALITY_STEPS) / QUALITY_STEPS
        for _ in range(1 + MAX_TRIALS):
            cand = self._choose(original, base, carried, q)
            d = max(self.target_ratio(original, cand[1], target), 1e-9)
            points.append((q, math.log(d)))
            if d <= 1.0:
                hi = (q, d, cand) if hi is None or q < hi[0] else hi
            else:
                lo = (q, d, cand) if lo is None or q > lo[0] else lo
            # d log(distortion) / d quality: from the bracket, else the last two trials, else a prior
            slope = -2.5
            if lo is not None and hi is not None:
                (qa, la), (qb, lb) = (lo[0], math.log(lo[1])), (hi[0], math.log(hi[1]))
            elif len(points) > 1:
                (qa, la), (qb, lb) = points[-2], points[-1]
            else:
                qa = qb = 0.0
            if qb != qa and (lb - la) / (qb - qa) < -0.05:
                slope = (lb - la) / (qb - qa)
            ref = lo if lo is not None else hi
            nxt = ref[0] - math.log(ref[1]) / slope
            if lo is not None and hi is not None:
                if hi[0] - lo[0] < 0.02:
                    break
                nxt = min(max(nxt, lo[0] + 0.005), hi[0] - 0.005)
            elif hi is not None:  # all tried reach it: try lower, down to the stream's quality
                if hi[0] <= self.quality:
                    break
                nxt = max(self.quality, min(nxt, hi[0] - 0.01))
            else:  # none reaches it yet: try higher, up to 1
                if lo[0] >= 1.0:
                    break
                nxt = min(1.0, max(nxt, lo[0] + 0.01))
            q = round(nxt * QUALITY_STEPS) / QUALITY_STEPS
        return (hi if hi is not None else lo)[2]

    @torch.inference_mode()
    def decode_frame(self, base: YuvFrame, payload: bytes, gop_index: int | None = None,
                     previous: tuple[YuvFrame, YuvFrame] | None = None) -> YuvFrame:
        """The full frame from ``base`` and its payload; ``previous`` as for :meth:`encode_frame`."""
        quality = self.quality
        if payload and payload[0] == MODE_QUALITY:
            if len(payload) < 2 + _QUALITY.size:
                raise BitstreamError("enhancement frame payload is too short", gop_index)
            k, = _QUALITY.unpack_from(payload, 1)
            if payload[1 + _QUALITY.size] not in (MODE_CODED, MODE_CARRY_CODED):
                raise BitstreamError("enhancement quality prefix on a payload that codes no residual", gop_index)
            quality, payload = k / QUALITY_STEPS, payload[1 + _QUALITY.size:]
        mode = payload[0] if payload else -1
        if mode == MODE_BASE and len(payload) == 1:
            return base
        if mode == MODE_PREDICT and len(payload) == 1:
            return self.predict_frame(base)
        if mode in (MODE_CARRY, MODE_CARRY_CODED):
            if previous is None:
                raise BitstreamError("enhancement payload refers to a previous frame on a GOP's first frame",
                                     gop_index)
            reference = self.carrier.reference(base, *previous)
            if mode == MODE_CARRY and len(payload) == 1:
                return reference
        else:
            reference = base
        if mode not in (MODE_CODED, MODE_CARRY_CODED) or len(payload) < 1 + _HEAD.size:
            raise BitstreamError("enhancement frame payload has an unknown mode or is too short", gop_index)
        zh, zw, ylen = _HEAD.unpack_from(payload, 1)
        if (zh, zw) != self.z_size or 1 + _HEAD.size + ylen > len(payload):
            raise BitstreamError("enhancement frame payload is inconsistent with the stream geometry", gop_index)
        y = payload[1 + _HEAD.size:1 + _HEAD.size + ylen]
        z = payload[1 + _HEAD.size + ylen:]
        try:
            x_hat = self.model.decompress(self._tensor(reference), [[y], [z]], (zh, zw), quality)
        except Exception as e:  # noqa: BLE001 - the rANS decoder raises plain errors on garbage
            raise BitstreamError(f"enhancement payload does not decode: {e}", gop_index) from None
        return self._frame(x_hat)

    @torch.inference_mode()
    def predict_frame(self, base: YuvFrame) -> YuvFrame:
        """The zero-bit prediction alone (base + predicted residual)."""
        return self._frame(self.model.predict(self._tensor(base)))

    def encode_gop(self, originals: list[YuvFrame], bases: list[YuvFrame], targets: list[tuple] | None = None):
        """(payloads, full frames) for one GOP; frames are coded in order (each may carry from the last);
        ``targets``: per frame, the quality to reach (see :meth:`encode_frame`)."""
        payloads, fulls = [], []
        for i, (o, b) in enumerate(zip(originals, bases)):
            p, f = self.encode_frame(o, b, (bases[i - 1], fulls[-1]) if fulls else None,
                                     targets[i] if targets is not None else None,
                                     payload_quality(payloads[-1], self.quality) if payloads else None)
            payloads.append(p)
            fulls.append(f)
        return payloads, fulls

    def decode_gop(self, bases: list[YuvFrame], payloads: list[bytes], gop_index: int | None = None):
        fulls = []
        for b, p in zip(bases, payloads):
            fulls.append(self.decode_frame(b, p, gop_index, (bases[len(fulls) - 1], fulls[-1]) if fulls else None))
        return fulls
