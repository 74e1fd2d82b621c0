"""The enhancement layer of a stream: zero-bit restoration of the base, then the block coder.

Per GOP:

1. **Restoration** (zero bits): every base frame is restored from itself and its aligned neighbours by
   the integer network of :mod:`svc.enhancement.restoration`, told the base QP. A per-frame flag keeps
   the plain base where restoration would not help (the encoder compares both with the original), so
   the prediction ``R`` is never worse than the base.
2. **Block coder** (:mod:`svc.enhancement.blockcodec`; quality > 0): per 16x16 unit the RD choice
   among ``R``, the previous full frame moved by decoder-side motion, their blend and a refined
   vector, with skip, and a transform-coded residual. Quality 0 codes no residual: the full layer is
   ``R`` (a few bytes per GOP).

Enhancement payload of a GOP (the record's enhancement layer)::

    u8  version (2)
    u8  flags            bit 0: a block-coder payload follows
    u8[ceil(n / 8)]      restoration flags, bit t % 8 of byte t // 8: frame t uses the restored base
    ...                  block-coder payload (:mod:`svc.enhancement.syntax`), when flagged

The header records the codec id, the quality, and the id and SHA-256 of the restoration weights and
of the block coder's context tables; a decoder refuses other weights (:mod:`svc.enhancement.zoo`).
"""
from __future__ import annotations

import math

from svc.enhancement.blockcodec import BlockCoder, BlockCoderConfig
from svc.errors import BitstreamError, InputError
from svc.io.frames import VideoFormat, YuvFrame
from svc.metrics.quality import frame_mse, weighted_yuv

CODEC_ID = "svc-enh-v2"
VERSION = 2
FLAG_CODED = 1
MAX_TRIALS = 5  # codings of a GOP when a target quality must be reached (ROI streams)


class EnhancementCodec:
    """Codes and decodes the enhancement layer of one stream at ``quality`` in [0, 1].

    ``restorer``: a :class:`~svc.enhancement.restoration.Restorer` (None: ``R`` is the base);
    ``base_qp``: the base layer's QP, which the restorer is told; ``tables``: the block coder's
    :class:`~svc.enhancement.entropy.EntropyModel`; ``ids``: the header's model ids and hashes."""

    def __init__(self, fmt: VideoFormat, quality: float, base_qp: float, restorer=None, tables=None,
                 coder_config: BlockCoderConfig | None = None, ids: dict | None = None):
        if not 0.0 <= float(quality) <= 1.0:
            raise InputError(f"enhancement quality must be within 0.0..1.0, got {quality}")
        self.format, self.quality, self.base_qp = fmt, float(quality), float(base_qp)
        self.restorer, self.tables = restorer, tables
        self.coder_config = coder_config or BlockCoderConfig()
        self.ids = dict(ids or {})
        self._coders: dict[float, BlockCoder] = {}

    def header_info(self) -> dict:
        return {"codec": CODEC_ID, "quality": self.quality, **self.ids}

    def coder(self, quality: float | None = None) -> BlockCoder:
        q = self.quality if quality is None else float(quality)
        if q not in self._coders:
            self._coders[q] = BlockCoder(self.format, q, self.coder_config, self.tables)
        return self._coders[q]

    # -- quality figures ---------------------------------------------------------------------------
    def distortion(self, original: YuvFrame, candidate: YuvFrame) -> float:
        """6:1:1-weighted MSE in 8-bit sample units."""
        return weighted_yuv(*frame_mse(original, candidate, self.format.max_value))

    def quality_target(self, original: YuvFrame, candidate: YuvFrame) -> tuple[float, float]:
        """(Y MSE, 6:1:1 MSE), 8-bit units: what a frame given ``candidate``'s quality must not exceed."""
        y, u, v = frame_mse(original, candidate, self.format.max_value)
        return y, weighted_yuv(y, u, v)

    def target_ratio(self, original: YuvFrame, candidate: YuvFrame, target) -> float:
        """The worse of ``candidate``'s two figures over ``target``'s; the target is reached at <= 1."""
        return max(m / max(float(t), 1e-9) for m, t in zip(self.quality_target(original, candidate), target))

    # -- restoration ----------------------------------------------------------------------------------
    def restored(self, bases: list[YuvFrame]) -> list[YuvFrame]:
        """The restored base frames of a GOP (the bases themselves without a restorer)."""
        return self.restorer.restore_gop(bases, self.base_qp) if self.restorer is not None else list(bases)

    @staticmethod
    def _mask_bytes(mask) -> bytes:
        out = bytearray(math.ceil(len(mask) / 8))
        for t, on in enumerate(mask):
            if on:
                out[t // 8] |= 1 << (t % 8)
        return bytes(out)

    # -- encoder ----------------------------------------------------------------------------------------
    def encode_gop(self, originals: list[YuvFrame], bases: list[YuvFrame], targets: list | None = None
                   ) -> tuple[bytes, list[YuvFrame]]:
        """(payload, decoder-exact full frames) of one GOP. ``targets``: per frame a
        :meth:`quality_target` the full frame must reach; the GOP is then coded at the lowest quality
        in [stream quality, 1] found to reach every one (or 1), signalled in its payload."""
        restored = self.restored(bases)
        mask = [self.distortion(o, r) < self.distortion(o, b) for o, r, b in zip(originals, restored, bases)]
        pred = [r if m else b for r, m, b in zip(restored, mask, bases)]
        head = bytes([VERSION, 0]) + self._mask_bytes(mask)
        if self.quality == 0.0 and targets is None:
            return head, pred
        if targets is None:
            return self._code(originals, bases, pred, mask, self.quality)
        return self._reach(originals, bases, pred, mask, targets)

    def _code(self, originals, bases, pred, mask, quality):
        if quality == 0.0:
            return bytes([VERSION, 0]) + self._mask_bytes(mask), pred
        payload, fulls = self.coder(quality).encode_gop(originals, bases, pred)
        return bytes([VERSION, FLAG_CODED]) + self._mask_bytes(mask) + payload, fulls

    def _reach(self, originals, bases, pred, mask, targets):
        """Bisection on the quality (step is log-linear in it) over at most :data:`MAX_TRIALS` codings."""
        def worst(fulls):
            return max(self.target_ratio(o, f, t) for o, f, t in zip(originals, fulls, targets))

        lo, hi = self.quality, 1.0
        best = self._code(originals, bases, pred, mask, lo)
        if worst(best[1]) <= 1.0:
            return best
        top = self._code(originals, bases, pred, mask, hi)
        if worst(top[1]) > 1.0:
            return top
        best = top
        for _ in range(MAX_TRIALS - 2):
            mid = round((lo + hi) / 2, 4)
            cand = self._code(originals, bases, pred, mask, mid)
            if worst(cand[1]) <= 1.0:
                hi, best = mid, cand
            else:
                lo = mid
        return best

    # -- decoder ----------------------------------------------------------------------------------------
    def decode_gop(self, bases: list[YuvFrame], payload: bytes, gop_index: int | None = None,
                   info: list | None = None) -> list[YuvFrame]:
        """The full frames of one GOP from its base frames and enhancement payload; ``info`` (a list)
        receives the block coder's per-frame symbols (see :meth:`BlockCoder.decode_gop`)."""
        n = len(bases)
        nmask = math.ceil(n / 8)
        if len(payload) < 2 + nmask or payload[0] != VERSION or payload[1] & ~FLAG_CODED:
            raise BitstreamError("enhancement payload header is damaged or of another version", gop_index)
        flags, mask_bytes = payload[1], payload[2:2 + nmask]
        mask = [bool(mask_bytes[t // 8] >> (t % 8) & 1) for t in range(n)]
        if any(mask_bytes[t // 8] >> (t % 8) & 1 for t in range(n, 8 * nmask)):
            raise BitstreamError("enhancement payload flags frames the GOP does not have", gop_index)
        restored = self.restored(bases) if any(mask) else bases
        pred = [r if m else b for r, m, b in zip(restored, mask, bases)]
        body = payload[2 + nmask:]
        if not flags & FLAG_CODED:
            if body:
                raise BitstreamError("enhancement payload has trailing bytes", gop_index)
            return pred
        return self.coder().decode_gop(bases, pred, body, gop_index, info)
