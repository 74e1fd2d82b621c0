"""The feature layer's codec: compand, clip, quantise and entropy-code split-layer activations per GOP.

Per tensor of every frame: the activations are first companded, ``v = x`` for ``x >= 0`` and
``v = compand * x`` below (the model's ``compand``; 1 leaves them as they are), which stretches the
leaky-ReLU's negative part so that it gets finer cells (measured: the detector needs the small negative
activations far more finely than their size suggests). ``v`` is clipped to ``[lo, hi]`` (side
information, two float32 per tensor), normalised to ``u = (clip(v) - lo) / (hi - lo)`` and quantised
with one of the model's quantisers (its id is the rate knob); the indices are coded with rANS. The range
is either the model's fixed range of that quantiser (uniform quantisers: a grid of step ``s`` through 0
spanning every activation the network makes, so nothing is clipped in practice) or, in models without
one, the optimal clipping range of the fitted activation model for ``n_levels`` levels
(:mod:`svc.features.clipping`) with a designed entropy-constrained quantiser (:mod:`svc.features.ecsq`).
Intra, each index uses the quantiser's marginal table; with ``temporal`` a frame's index is coded with
the table conditioned on the previous frame's decoded index at the same position (learned on training
clips), since consecutive frames' features agree where the scene does. With ``spatial`` (models
that carry the tables) each tensor is coded in channel groups and a checkerboard, and a cell's
context adds what the cells decoded before it did (:mod:`svc.features.context`): intra, its
neighbours' values; inter, how many cells changed since the previous frame around it. With
``interlayer`` (models that carry the tables; the stream must carry the base layer) a cell's context
is instead the index predicted from the decoded base layer's frames (:mod:`svc.features.interlayer`),
with the previous index in inter frames.

GOP payload::

    u8 version (1) | u8 split id | u8 quantiser id |
    u8 flags (bit 0: temporal, bit 1: spatial contexts, bit 2: inter-layer contexts; 1 and 2 exclusive) |
    u16 frames | u16 tensors per frame | frames x tensors x (f32 lo, f32 hi) |
    [bit 2: u32 crc32 of the indices (int32 little-endian, frame by frame, tensor by tensor)] |
    u32 crc32 (of everything before it and the string) | rANS string

(The syntax is the same for both kinds of model; the model file, named by SHA-256 in the stream
header, says how indices map to values.) Everything the decoder computes from the stream is exact
(stored float32 ranges, table lookups, float32 arithmetic), so decoding is bit-exact across processes
and machines.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from svc.errors import BitstreamError, ModelError
from svc.features import context
from svc.features.interlayer import KINDS as BASE_KINDS, contexts as base_contexts, table_rows as base_table_rows
from svc.features.clipping import fit_model, optimal_range
from svc.features.ecsq import Ecsq
from svc.features.split import SPLITS, SplitPoint

VERSION = 1
_HEAD = struct.Struct("<BBBBHH")
_RANGE = struct.Struct("<ff")
ALPHA = 0.1  # NanoDet's LeakyReLU slope
WEIGHTS_DIR = Path(__file__).with_name("weights")


def compand(x: np.ndarray, r: float, dtype=np.float32) -> np.ndarray:
    """``x`` with its negative part scaled by ``r`` (``dtype``, float32 unless asked)."""
    x = np.asarray(x, dtype)
    return x if r == 1.0 else np.where(x > 0, x, x * dtype(r)).astype(dtype)


def expand(v: np.ndarray, r: float) -> np.ndarray:
    """The inverse of :func:`compand` (float32)."""
    v = np.asarray(v, np.float32)
    return v if r == 1.0 else np.where(v > 0, v, v / np.float32(r)).astype(np.float32)


@dataclass
class FeatureModel:
    """What the codec needs beside the stream: the split point, the levels count of the range
    optimisation, the designed quantisers (id = position, ascending lambda) and, per quantiser, the
    table of P(index | previous frame's index) (rows sum to 1); optionally, per quantiser, the tables
    of the spatio-temporal contexts (``{kind: (rows, levels)}``, :mod:`svc.features.context`)."""

    split: str
    n_levels: int
    quantisers: list
    conditional: list
    source: str = ""  # how it was made (command, data)
    compand: float = 1.0  # slope applied to negative activations before quantisation
    ranges: list | None = None  # fixed (lo, hi) per quantiser (companded units); None: analytic per tensor
    spatial: list | None = None  # per quantiser {context kind: table}; None: previous-frame contexts only
    interlayer: list | None = None  # per quantiser {kind: table} of the base-layer prediction's contexts
    train_clips: tuple = ()  # the training clips' names (svc.datasets.registry checks them)

    def zero_index(self, quantiser: int) -> int:
        """The index of quantiser ``quantiser`` whose value is nearest 0 (models with fixed ranges)."""
        lo, hi = self.ranges[quantiser]
        return int(np.argmin(np.abs(lo + self.quantisers[quantiser].levels * (hi - lo))))

    def save(self, path):
        arrays = {"split": np.array(self.split), "n_levels": np.array(self.n_levels), "source": np.array(self.source),
                  "compand": np.array(self.compand)}
        if self.train_clips:
            arrays["train_clips"] = np.array(list(self.train_clips))
        for i, (q, c) in enumerate(zip(self.quantisers, self.conditional)):
            arrays[f"levels_{i}"], arrays[f"probs_{i}"] = q.levels, q.probs
            arrays[f"lam_{i}"], arrays[f"cond_{i}"] = np.array(q.lam), c
            if self.ranges is not None:
                arrays[f"range_{i}"] = np.array(self.ranges[i], np.float32)
            for extra in (self.spatial, self.interlayer):
                for kind, t in (extra[i] if extra is not None else {}).items():
                    arrays[f"{kind}_{i}"] = np.asarray(t, np.float16)  # coded sizes within 0.02% of float32
        tmp = Path(str(path) + ".partial.npz")
        np.savez_compressed(tmp, **arrays)
        tmp.replace(path)

    @classmethod
    def load(cls, path) -> "FeatureModel":
        path = Path(path)
        if not path.is_file():
            raise ModelError(f"feature codec model {path} not found (make one with svc-train features)")
        try:
            with np.load(path, allow_pickle=False) as z:
                n = sum(1 for k in z.files if k.startswith("levels_"))
                qs = [Ecsq(z[f"levels_{i}"], z[f"probs_{i}"], float(z[f"lam_{i}"])) for i in range(n)]
                ranges = [tuple(float(v) for v in z[f"range_{i}"]) for i in range(n)] if "range_0" in z.files else None
                compand = float(z["compand"]) if "compand" in z.files else 1.0
                if not compand >= 1.0:
                    raise ValueError(f"compand {compand} < 1")
                spatial = None
                if f"{context.KINDS[0]}_0" in z.files:
                    if ranges is None:
                        raise ValueError("spatial context tables need fixed ranges")
                    spatial = [{k: z[f"{k}_{i}"].astype(np.float64) for k in context.KINDS} for i in range(n)]
                    for i, t in enumerate(spatial):
                        want = context.table_rows(len(qs[i].levels))
                        if any(t[k].shape != (want[k], len(qs[i].levels)) for k in context.KINDS):
                            raise ValueError(f"spatial context tables of quantiser {i} have the wrong shape")
                inter = None
                if f"{BASE_KINDS[0]}_0" in z.files:
                    if ranges is None:
                        raise ValueError("inter-layer context tables need fixed ranges")
                    inter = [{k: z[f"{k}_{i}"].astype(np.float64) for k in BASE_KINDS} for i in range(n)]
                    for i, t in enumerate(inter):
                        want = base_table_rows(len(qs[i].levels))
                        if any(t[k].shape != (want[k], len(qs[i].levels)) for k in BASE_KINDS):
                            raise ValueError(f"inter-layer context tables of quantiser {i} have the wrong shape")
                return cls(str(z["split"]), int(z["n_levels"]), qs, [z[f"cond_{i}"] for i in range(n)],
                           str(z["source"]), compand, ranges, spatial, inter,
                           tuple(str(c) for c in z["train_clips"]) if "train_clips" in z.files else ())
        except Exception as e:  # noqa: BLE001 - any failure means an unusable file
            raise ModelError(f"cannot load feature codec model {path}: {e}") from None


class FeatureCodec:
    """Codes the feature tensors of a GOP at quantiser ``quantiser`` (0 = finest) of ``model``;
    ``spatial``: with the spatio-temporal contexts, where the model has their tables; ``interlayer``:
    with the base layer's prediction as context instead (the model must have those tables; every GOP
    then needs the tensors of its decoded base frames)."""

    def __init__(self, model: FeatureModel, quantiser: int, temporal: bool = True, rdo: bool = True,
                 spatial: bool = True, interlayer: bool = False):
        from svc.rans import RansTables

        if not 0 <= quantiser < len(model.quantisers):
            raise ValueError(f"quantiser {quantiser} not in 0..{len(model.quantisers) - 1}")
        if interlayer and model.interlayer is None:
            raise ModelError("this feature codec model has no inter-layer context tables "
                             "(use nanodet-g-stage2-v4.npz or later, or switch features.interlayer off)")
        self.model, self.quantiser, self.temporal, self.rdo = model, int(quantiser), bool(temporal), bool(rdo)
        self.interlayer = bool(interlayer)
        self.spatial = bool(spatial) and model.spatial is not None and not self.interlayer
        self.split = SplitPoint(model.split)
        self._tables, self._first_row, self._rd_bits = {}, {}, {}
        for i, (q, cond) in enumerate(zip(model.quantisers, model.conditional)):
            rows, first = [q.probs] + list(cond), {}
            for kinds, extra in ((context.KINDS, model.spatial), (BASE_KINDS, model.interlayer)):
                for kind in (kinds if extra is not None else ()):
                    first[kind] = len(rows)
                    rows += list(extra[i][kind])
            self._tables[i], self._first_row[i] = RansTables(rows, [0] * len(rows)), first

    # -- encoder ----------------------------------------------------------------------------------
    def quantise(self, x: np.ndarray, quantiser: int | None = None, prev: np.ndarray | None = None,
                 pred: np.ndarray | None = None):
        """(indices int32 like ``x``, lo, hi) of one float tensor; ``prev``: the previous frame's indices
        of the tensor (the coding context; None: intra); ``pred``: the indices predicted from the base
        layer (:meth:`predicted`; the context with ``interlayer``).

        Models with fixed ranges (uniform quantisers) choose each index by rate-distortion: the one
        minimising ``(u - level)^2 + lam * bits``, ``bits`` its code length in the table it will be coded
        with (intra: the marginal, temporal: the row of the previous index), ``lam`` the quantiser's
        Lagrangian (0: the nearest level; also with ``rdo`` off). Where the scene is still, keeping the
        previous index is cheap, so values that only flicker around a cell boundary stop costing bits.
        Other models use their ECSQ's rule (marginal code lengths)."""
        qid = self.quantiser if quantiser is None else quantiser
        q, r = self.model.quantisers[qid], self.model.compand
        v = compand(x, r)
        if self.model.ranges is not None:
            lo, hi = self.model.ranges[qid]
        else:
            lo, hi = optimal_range(fit_model(v, ALPHA * r), self.model.n_levels)
        lo, hi = np.float32(lo), np.float32(max(hi, lo + 1e-6))
        u = (np.clip(v, lo, hi) - lo) / (hi - lo)
        if self.model.ranges is None:
            return q.quantise(u), float(lo), float(hi)
        if not self.rdo or q.lam <= 0:
            return Ecsq(q.levels, np.full(len(q.levels), 1.0 / len(q.levels)), 0.0).quantise(u), float(lo), float(hi)
        return self._rd_indices(u, qid, prev, pred), float(lo), float(hi)

    def predicted(self, x: np.ndarray, quantiser: int | None = None) -> np.ndarray:
        """The nearest-level indices (int32 like ``x``) of a float64 tensor of the base layer's frames
        (:class:`svc.features.interlayer.BasePredictor`), computed in float64 so that encoder and
        decoder agree (models with fixed ranges)."""
        qid = self.quantiser if quantiser is None else quantiser
        lo, hi = self.model.ranges[qid]
        v = compand(x, self.model.compand, np.float64)
        u = (np.clip(v, lo, hi) - lo) / (hi - lo)
        levels = self.model.quantisers[qid].levels.astype(np.float64)
        return np.searchsorted((levels[1:] + levels[:-1]) / 2, u).astype(np.int32)

    def _rd_indices(self, u: np.ndarray, qid: int, prev: np.ndarray | None, pred: np.ndarray | None) -> np.ndarray:
        q = self.model.quantisers[qid]
        n = len(q.levels)
        if self.interlayer:
            if pred is None:
                raise ValueError("inter-layer coding needs the base layer's predicted indices")
            first, key = self._first_row[qid], ("interlayer", qid)
            bits = self._rd_bits.get(key)
            if bits is None:  # the inter-layer rows (they come last), escape dropped; built once
                bits = self._rd_bits[key] = np.stack([b[:n] for b in self._tables[qid].bits[first[BASE_KINDS[0]]:]])
            kind, ctx = base_contexts(pred, prev if self.temporal else None)
            tid = (ctx + first[kind] - first[BASE_KINDS[0]]).ravel()
        else:
            bits = self._rd_bits.get(qid)
            if bits is None:  # (marginal + previous-index rows, levels), escape dropped; built once
                bits = self._rd_bits[qid] = np.stack([b[:n] for b in self._tables[qid].bits[:1 + n]])
            tid = self._table_ids(prev, u.size)
        flat = np.clip(np.asarray(u, np.float64), 0.0, 1.0).ravel()
        out = np.empty(flat.size, np.int32)
        for a in range(0, flat.size, 1 << 15):
            cost = (flat[a:a + (1 << 15), None] - q.levels[None]) ** 2 + q.lam * bits[tid[a:a + (1 << 15)]]
            out[a:a + (1 << 15)] = np.argmin(cost, 1)
        return out.reshape(u.shape)

    def _predictions(self, base, frames: int) -> list:
        """Per frame, per tensor, the base layer's predicted indices (None per frame without ``interlayer``)."""
        if not self.interlayer:
            return [None] * frames
        if base is None or len(base) != frames:
            raise ValueError(f"inter-layer coding needs the base layer's tensors of all {frames} frames")
        return [[self.predicted(t) for t in f] for f in base]

    def indices(self, frames: list[list[np.ndarray]], base=None) -> list[list[tuple]]:
        """(indices, lo, hi) of each tensor of each frame of a GOP, as :meth:`encode_gop` codes them;
        ``base``: per frame, the float64 tensors of the decoded base frame (with ``interlayer``)."""
        return self._indices(frames, self._predictions(base, len(frames)))

    def _indices(self, frames, preds) -> list[list[tuple]]:
        out, prev = [], None
        for tensors, pred in zip(frames, preds):
            cur = [self.quantise(x, prev=prev[k][0] if prev is not None and self.temporal else None,
                                 pred=pred[k] if pred is not None else None)
                   for k, x in enumerate(tensors)]
            out.append(cur)
            prev = cur
        return out

    def encode_gop(self, frames: list[list[np.ndarray]], base=None) -> tuple[bytes, list[list[np.ndarray]]]:
        """(payload, decoded tensors) of a GOP: ``frames`` holds per frame its float32 tensors; ``base``
        (with ``interlayer``): per frame, the float64 tensors of its decoded base frame
        (:meth:`svc.features.interlayer.BasePredictor.features`)."""
        from svc.rans import encode

        n_t = len(frames[0])
        flags = int(self.temporal) | 2 * int(self.spatial) | 4 * int(self.interlayer)
        head = _HEAD.pack(VERSION, SPLITS.index(self.split.name), self.quantiser, flags, len(frames), n_t)
        side, values, tables, decoded, prev = [], [], [], [], None
        preds = self._predictions(base, len(frames))
        index_crc = 0
        for coded, pred in zip(self._indices(frames, preds), preds):
            idx_f, out = [], []
            for k, (idx, lo, hi) in enumerate(coded):
                side.append(_RANGE.pack(lo, hi))
                v, t = self._symbols(idx, prev[k] if prev is not None else None, pred[k] if pred is not None else None)
                index_crc = zlib.crc32(np.ascontiguousarray(idx, "<i4").tobytes(), index_crc)
                values.append(v)
                tables.append(t)
                idx_f.append(idx)
                out.append(self.dequantise(idx, lo, hi))
            decoded.append(out)
            prev = idx_f
        body = head + b"".join(side) + (struct.pack("<I", index_crc) if self.interlayer else b"")
        string = encode(np.concatenate(values), np.concatenate(tables), self._tables[self.quantiser])
        return body + struct.pack("<I", zlib.crc32(body + string)) + string, decoded

    def _symbols(self, idx: np.ndarray, prev_idx: np.ndarray | None, pred: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
        """(indices in coding order, their table ids) of one tensor; ``prev_idx``: the previous frame's;
        ``pred``: the base layer's predicted indices (with ``interlayer``)."""
        if not self.temporal:
            prev_idx = None
        if self.interlayer:
            kind, ctx = base_contexts(pred, prev_idx)
            return idx.ravel(), (ctx.ravel() + self._first_row[self.quantiser][kind]).astype(np.int32)
        if not self.spatial:
            return idx.ravel(), self._table_ids(prev_idx, idx.size)
        first = self._first_row[self.quantiser]
        anchor_ctx, other_ctx = context.contexts(idx, prev_idx, self.model.zero_index(self.quantiser))
        kinds = ("intra_anchor", "intra_other") if prev_idx is None else ("inter_anchor", "inter_other")
        anchor = context.anchors(*idx.shape[1:])
        ids = np.where(anchor, anchor_ctx + first[kinds[0]], other_ctx + first[kinds[1]])
        return context.order(idx, anchor), context.order(ids, anchor).astype(np.int32)

    def _table_ids(self, prev_idx, size: int) -> np.ndarray:
        if prev_idx is None or not self.temporal:
            return np.zeros(size, np.int32)
        return 1 + prev_idx.ravel().astype(np.int32)

    def dequantise(self, idx: np.ndarray, lo: float, hi: float, quantiser: int | None = None) -> np.ndarray:
        q = self.model.quantisers[self.quantiser if quantiser is None else quantiser]
        v = (np.float32(lo) + q.levels.astype(np.float32)[idx] * (np.float32(hi) - np.float32(lo))).astype(np.float32)
        return expand(v, self.model.compand)

    # -- decoder ----------------------------------------------------------------------------------
    def decode_gop(self, payload: bytes, shapes, gop_index: int | None = None, base=None) -> list[list[np.ndarray]]:
        """The decoded tensors of each frame; ``shapes``: (C, H, W) of each tensor of a frame; ``base``:
        per frame, the float64 tensors of its decoded base frame (payloads coded with ``interlayer``)."""
        from svc.rans import RansReader

        if len(payload) < _HEAD.size + 4:
            raise BitstreamError("feature payload too short", gop_index)
        version, split, qid, flags, frames, n_t = _HEAD.unpack_from(payload)
        if version != VERSION or split >= len(SPLITS) or SPLITS[split] != self.split.name \
                or qid >= len(self.model.quantisers) or n_t != len(shapes) or frames == 0:
            raise BitstreamError("feature payload does not match the stream's feature codec", gop_index)
        temporal, spatial, inter = bool(flags & 1), bool(flags & 2), bool(flags & 4)
        pos = _HEAD.size + _RANGE.size * frames * n_t + 4 * inter
        if pos + 4 > len(payload):
            raise BitstreamError("feature payload side information truncated", gop_index)
        (crc,) = struct.unpack_from("<I", payload, pos)
        if zlib.crc32(payload[:pos] + payload[pos + 4:]) != crc:
            raise BitstreamError("feature payload fails its CRC", gop_index)
        sizes = [int(np.prod(s)) for s in shapes]
        reader = RansReader(payload[pos + 4:], self._tables[qid], frames * sum(sizes))
        n_levels = len(self.model.quantisers[qid].levels)
        if spatial and self.model.spatial is None:
            raise BitstreamError("feature payload uses spatial contexts that the model has no tables for", gop_index)
        if inter and (spatial or self.model.interlayer is None):
            raise BitstreamError("feature payload uses inter-layer contexts that "
                                 + ("exclude spatial ones" if spatial else "the model has no tables for"), gop_index)
        if inter and (base is None or len(base) != frames):
            raise BitstreamError("feature payload is coded against the base layer, whose frames are missing", gop_index)
        first = self._first_row[qid]
        index_crc = 0

        def get(kind, ids):
            return reader.get(ids + first[kind])

        out, prev = [], None
        for f in range(frames):
            tensors, idx_f = [], []
            for k, shape in enumerate(shapes):
                lo, hi = _RANGE.unpack_from(payload, _HEAD.size + _RANGE.size * (f * n_t + k))
                p = prev[k] if prev is not None and temporal else None
                if inter:
                    kind, ctx = base_contexts(self.predicted(base[f][k], qid).reshape(shape), p)
                    idx = reader.get(ctx.ravel() + first[kind])
                elif spatial:
                    idx = context.ChannelDecoder(shape, self.model.zero_index(qid)).decode(get, p)
                else:
                    idx = reader.get(np.zeros(sizes[k], np.int32) if p is None else 1 + p.ravel())
                if idx.size and (idx.min() < 0 or idx.max() >= n_levels):
                    raise BitstreamError("feature payload decodes to an index outside the quantiser", gop_index)
                idx = idx.reshape(shape).astype(np.int32)
                idx_f.append(idx)
                if inter:
                    index_crc = zlib.crc32(np.ascontiguousarray(idx, "<i4").tobytes(), index_crc)
                tensors.append(self.dequantise(idx, lo, hi, qid))
            out.append(tensors)
            prev = idx_f
        if inter and struct.unpack_from("<I", payload, pos - 4)[0] != index_crc:
            raise BitstreamError("feature indices disagree with the encoder's: the base layer's prediction "
                                 "differs from the one the encoder used", gop_index)
        return out

    def bits_estimate(self, frames_idx: list[list[np.ndarray]], base=None) -> float:
        """Ideal code length (bits) of already quantised indices with this codec's tables (``base`` as
        for :meth:`encode_gop`)."""
        t = self._tables[self.quantiser]
        bits, prev = 0.0, None
        for idx_f, pred in zip(frames_idx, self._predictions(base, len(frames_idx))):
            for k, idx in enumerate(idx_f):
                values, ids = self._symbols(idx, prev[k] if prev is not None else None,
                                            pred[k] if pred is not None else None)
                for tid in np.unique(ids):
                    bits += float(t.cost(int(tid), values[ids == tid]).sum())
            prev = idx_f
        return bits
