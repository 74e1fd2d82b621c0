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

ROI-selective enhancement (``regions``, e.g. ``--enh-roi auto``): per frame a set of rectangles in
16x16 units; units outside them are the restored base with no symbol coded at all.

Region decoding (``decode_gop(want=...)``, ``svc-decode --roi``): with tiles (``enhancement.tiles``,
:mod:`svc.enhancement.syntax`) only the tiles holding the wanted units are decoded and only their
bounding rectangle is restored; the output equals a whole decode there and is the base elsewhere.

The enhancement payload's bytes are written and read by :mod:`svc.enhancement.syntax` (``pack_layer``,
``unpack_layer``), the block coder's by the same module.

The header records the codec id, the quality, and the id and SHA-256 of the restoration weights and
of the block coder's context tables; a decoder refuses other weights (:mod:`svc.enhancement.zoo`).
"""
from __future__ import annotations


import numpy as np

from svc.enhancement import syntax
from svc.enhancement.blockcodec import PU, BlockCoder, BlockCoderConfig
from svc.enhancement.syntax import MAX_RECTS
from svc.errors import InputError
from svc.io.frames import VideoFormat, YuvFrame
from svc.metrics.quality import frame_mse, weighted_yuv

CODEC_ID = "svc-enh-v2"
MAX_TRIALS = 5  # codings of a GOP when a target quality must be reached (ROI streams)


class EnhancementCodec:
    """Codes and decodes the enhancement layer of one stream at ``quality`` in [0, 1].

    ``restorer``: a :class:`~svc.enhancement.restoration.Restorer` (None: ``R`` is the base);
    ``base_qp``: the base layer's QP, which the restorer is told; ``tables``: the block coder's
    :class:`~svc.enhancement.context_tables.EntropyModel`; ``ids``: the header's model ids and hashes."""

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
        tiles = {"tiles": self.coder_config.tile} if self.coder_config.tile else {}
        return {"codec": CODEC_ID, "quality": self.quality, **tiles, **self.ids}

    def coder(self, quality: float | None = None) -> BlockCoder:
        q = self.quality if quality is None else float(quality)
        if q not in self._coders:
            self._coders[q] = BlockCoder(self.format, q, self.coder_config, self.tables, self.base_qp)
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
    def restored(self, bases: list[YuvFrame], units=None) -> list[YuvFrame]:
        """The restored base frames of a GOP (the bases themselves without a restorer); ``units``
        ((By, Bx) bool, optional): only the bounding rectangle of these 16x16 units is restored."""
        if self.restorer is None:
            return list(bases)
        window = None
        if units is not None and not np.all(units):
            if not np.any(units):
                return list(bases)
            ys, xs = np.nonzero(units)
            h, w = self.format.height, self.format.width
            window = (ys.min() * PU, min(h, (ys.max() + 1) * PU), xs.min() * PU, min(w, (xs.max() + 1) * PU))
        return self.restorer.restore_gop(bases, self.base_qp, window)

    # -- regions ----------------------------------------------------------------------------------------
    def unit_grid(self) -> tuple[int, int]:
        """(By, Bx): rows and columns of 16x16 units."""
        return -(-self.format.height // PU), -(-self.format.width // PU)

    def unit_rects(self, boxes) -> np.ndarray:
        """(N, 4) int unit rectangles x0, y0, x1, y1 (exclusive ends) covering ``boxes`` (x, y, w, h
        pixels), clipped to the frame; empty boxes dropped, more than :data:`MAX_RECTS` merged."""
        by, bx = self.unit_grid()
        b = np.asarray(boxes, np.float64).reshape(-1, 4)
        r = np.stack([np.floor(b[:, 0] / PU), np.floor(b[:, 1] / PU), np.ceil((b[:, 0] + b[:, 2]) / PU),
                      np.ceil((b[:, 1] + b[:, 3]) / PU)], 1) if len(b) else np.zeros((0, 4))
        r = np.clip(r, 0, [bx, by, bx, by]).astype(np.int64)
        r = np.unique(r[(r[:, 2] > r[:, 0]) & (r[:, 3] > r[:, 1])], axis=0)
        inside_other = [any(j != i and (r[j, :2] <= r[i, :2]).all() and (r[j, 2:] >= r[i, 2:]).all()
                            for j in range(len(r))) for i in range(len(r))]
        r = r[~np.array(inside_other, bool)] if len(r) else r   # (unique: no two are equal)
        if len(r) > MAX_RECTS:
            r = np.array([[r[:, 0].min(), r[:, 1].min(), r[:, 2].max(), r[:, 3].max()]])
        return r

    def unit_map(self, rects) -> np.ndarray:
        """(By, Bx) bool: the units inside any of ``rects``."""
        m = np.zeros(self.unit_grid(), bool)
        for x0, y0, x1, y1 in rects:
            m[y0:y1, x0:x1] = True
        return m

    # -- encoder ----------------------------------------------------------------------------------------
    def encode_gop(self, originals: list[YuvFrame], bases: list[YuvFrame], targets: list | None = None,
                   regions: list | None = None, restored: list[YuvFrame] | None = None) -> tuple[bytes, list[YuvFrame]]:
        """(payload, decoder-exact full frames) of one GOP. ``targets``: per frame a
        :meth:`quality_target` the full frame must reach; the GOP is then coded at the lowest quality
        in [stream quality, 1] found to reach every one (or 1), signalled in its payload.
        ``regions``: per frame boxes (x, y, w, h pixels) outside which nothing is coded (None: the
        whole frame). ``restored``: :meth:`restored` of ``bases``, when already computed."""
        restored = self.restored(bases) if restored is None else restored
        mask = [self.distortion(o, r) < self.distortion(o, b) for o, r, b in zip(originals, restored, bases)]
        pred = [r if m else b for r, m, b in zip(restored, mask, bases)]
        rects = None if regions is None else [self.unit_rects(b) for b in regions]
        if self.quality == 0.0 and targets is None:
            return syntax.pack_layer(mask), pred
        if targets is None:
            return self._code(originals, bases, pred, mask, self.quality, rects)
        return self._reach(originals, bases, pred, mask, targets, rects)

    def _code(self, originals, bases, pred, mask, quality, rects=None):
        if quality == 0.0 or (rects is not None and not any(len(r) for r in rects)):  # nothing to enhance
            return syntax.pack_layer(mask), pred
        inside = None if rects is None else [self.unit_map(r) for r in rects]
        payload, fulls = self.coder(quality).encode_gop(originals, bases, pred, inside)
        return syntax.pack_layer(mask, payload, rects), fulls

    def _reach(self, originals, bases, pred, mask, targets, rects=None):
        """Bisection on the quality (step is log-linear in it) over at most :data:`MAX_TRIALS` codings."""
        def worst(fulls):
            return max(self.target_ratio(o, f, t) for o, f, t in zip(originals, fulls, targets))

        lo, hi = self.quality, 1.0
        best = self._code(originals, bases, pred, mask, lo, rects)
        if worst(best[1]) <= 1.0:
            return best
        top = self._code(originals, bases, pred, mask, hi, rects)
        if worst(top[1]) > 1.0:
            return top
        best = top
        for _ in range(MAX_TRIALS - 2):
            mid = round((lo + hi) / 2, 4)
            cand = self._code(originals, bases, pred, mask, mid, rects)
            if worst(cand[1]) <= 1.0:
                hi, best = mid, cand
            else:
                lo = mid
        return best

    # -- decoder ----------------------------------------------------------------------------------------
    def decode_gop(self, bases: list[YuvFrame], payload: bytes, gop_index: int | None = None,
                   info: list | None = None, want=None) -> list[YuvFrame]:
        """The full frames of one GOP from its base frames and enhancement payload; ``info`` (a list)
        receives the block coder's per-frame symbols (see :meth:`BlockCoder.decode_gop`).

        ``want`` ((By, Bx) bool 16x16 units, see :meth:`region_units`): region decoding. Only the
        units needed for them are decoded (a tiled stream: the tiles holding them; otherwise every
        unit) and restored; those equal a whole decode bit for bit, every other sample is the base.

        The same as :meth:`finish_gop` of :meth:`prepare_gop` (the two halves let a decoder restore
        the next GOP while the block decoder works on this one)."""
        return self.finish_gop(self.prepare_gop(bases, payload, gop_index, want), info)

    def prepare_gop(self, bases: list[YuvFrame], payload: bytes, gop_index: int | None = None, want=None):
        """First half of :meth:`decode_gop`: the payload parsed and the GOP's base frames restored
        (the zero-bit network; no block decoding). Returns the state :meth:`finish_gop` takes."""
        n = len(bases)
        mask, rects, body = syntax.unpack_layer(payload, n, self.unit_grid(), gop_index)
        inside = None if rects is None else [self.unit_map(r) for r in rects]
        area = None
        if want is not None:
            want = np.asarray(want, bool)
            if not want.any():                                      # no region in this GOP: the base
                return {"frames": list(bases)}
            area = self.coder().decoded_units(body, n, want, gop_index) if body is not None else want
        restored = self.restored(bases, area) if any(mask) else bases
        pred = [r if m else b for r, m, b in zip(restored, mask, bases)]
        if body is None:
            return {"frames": pred}
        return {"bases": bases, "pred": pred, "body": body, "gop_index": gop_index, "inside": inside,
                "want": want, "area": area}

    def finish_gop(self, state: dict, info: list | None = None) -> list[YuvFrame]:
        """Second half of :meth:`decode_gop`: the block decoder on a :meth:`prepare_gop` state."""
        if "frames" in state:
            return state["frames"]
        bases, area = state["bases"], state["area"]
        fulls = self.coder().decode_gop(bases, state["pred"], state["body"], state["gop_index"], info,
                                        state["inside"], state["want"])
        if area is None or area.all():
            return fulls
        return [self._paste(b, f, area) for b, f in zip(bases, fulls)]

    def _paste(self, base: YuvFrame, full: YuvFrame, units) -> YuvFrame:
        """``base`` with ``full``'s samples in the 16x16 units ``units`` ((By, Bx) bool)."""
        out = []
        for k, (b, f) in enumerate(zip(base, full)):
            s = PU if k == 0 else PU // 2
            m = np.repeat(np.repeat(units, s, 0), s, 1)[:b.shape[0], :b.shape[1]]
            out.append(np.where(m, f, b))
        return YuvFrame(*out)

    def region_units(self, boxes) -> np.ndarray:
        """(By, Bx) bool: the 16x16 units touched by ``boxes`` (x, y, w, h pixels; clipped to the frame)."""
        return self.unit_map(self.unit_rects(boxes))
