"""Byte API of the layered latent codec: one 4:2:0 frame -> (base payload, enhancement payload).

Deterministic entropy path: everything between decoded symbols and the rANS tables is integer
arithmetic (see :mod:`svc.latent.model`): the hyper-latent is rebuilt as ``median + symbol * step`` on
a fixed-point grid, the hyper-synthesis and the y1 -> y2 context network run on integers in float64
(exact), scales and means are scaled by integer gains with integer rounding, the table index comes
from integer comparisons against integer thresholds, and the reconstruction offsets are integers per
table index. The CDF tables themselves are computed once at export and stored as integers in the
weights file. A payload carries CRC32s of its coded bytes and of its decoded symbols, so damage or a
desynchronised decoder raises :class:`~svc.errors.BitstreamError` instead of giving a wrong picture.

Payload layout (little-endian): magic ``SVLB`` (base) / ``SVLE`` (enhancement), version (u8),
model tag (4 bytes: the weights' SHA-256 prefix), width, height (u16), quality code (u8), for the
enhancement the CRC32 of its base payload, CRC32 of the decoded symbols, CRC32 of the rANS bytes,
then the rANS bytes (hyper-latent and latent symbols of the layer, one stream).
"""
from __future__ import annotations

import hashlib
import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np

from svc.errors import BitstreamError, InputError, ModelError

PAD = 64  # frames are padded (edge replication) to multiples of this
VERSION = 1
_BASE = struct.Struct("<4sB4sHHBII")
_ENH = struct.Struct("<4sB4sHHBIII")


def _quality_code(q, what) -> int:
    q = float(q)
    if not 0.0 <= q <= 1.0:
        raise InputError(f"{what} {q} must lie in [0, 1]")
    return int(round(q * 255))


# --------------------------------------------------------------------------- freezing / export
def freeze(net, meta: dict | None = None) -> dict:
    """The codec's tensors (plain dict) from a trained :class:`~svc.latent.model.LatentNet`."""
    import torch

    from svc.latent.model import FA, GAIN_BITS, N_ZLEVELS, QCODES, scale_thresholds

    net = net.eval()
    out = {}
    with torch.no_grad():
        for name, v in net.state_dict().items():
            if name.startswith(("g_a.", "g_s.", "h_a.", "h_a2.", "latent_tf.")):
                big = v.ndim == 4 and v.numel() > 4096
                out[f"f.{name}"] = v.half() if big else v.float()
        for qname in ("h_s", "h_s2", "ctx"):
            for i, (w, b) in enumerate(getattr(net, qname).int_params()):
                out[f"q.{qname}.{i}.w"] = w.to(torch.int16)
                out[f"q.{qname}.{i}.b"] = b.to(torch.int32)
        codes = torch.arange(QCODES)
        for layer, eb, zname in ((1, net.eb, "z1"), (2, net.eb2, "z2")):
            out[f"gain{layer}"] = torch.round(net.gain(layer, codes) * (1 << GAIN_BITS)).to(torch.int64)
            out[f"istep{layer}"] = torch.round((1 << GAIN_BITS) / net.gain(layer, codes)).to(torch.int64)
            t = net.offset1 if layer == 1 else net.offset2
            out[f"offset{layer}"] = torch.round(0.5 * torch.sigmoid(t.double()) * (1 << FA)).to(torch.int64)
            steps = torch.round(torch.exp(getattr(net, f"log_zstep{layer}").double()).clamp(min=0.5) * (1 << FA))
            out[f"{zname}.step"] = steps.to(torch.int64)
            out[f"{zname}.median"] = torch.round(eb._get_medians().reshape(-1).double() * (1 << FA)).to(torch.int64)
            cdfs, lengths, offsets = [], [], []
            for k in range(N_ZLEVELS):
                eb.update_variable(force=True, qs=float(steps[k]) / (1 << FA))
                cdfs.append(eb._quantized_cdf.clone())
                lengths.append(eb._cdf_length.clone())
                offsets.append(eb._offset.clone())
            width = max(c.shape[1] for c in cdfs)
            out[f"{zname}.cdf"] = torch.stack([torch.nn.functional.pad(c, (0, width - c.shape[1])) for c in cdfs])
            out[f"{zname}.cdf_length"] = torch.stack(lengths).to(torch.int32)
            out[f"{zname}.cdf_offset"] = torch.stack(offsets).to(torch.int32)
        thr = scale_thresholds()
        gc = net.gc
        gc.update_scale_table(thr.double() / (1 << FA), force=True)
        out["y.threshold"] = thr
        out["y.cdf"] = gc._quantized_cdf.clone().to(torch.int32)
        out["y.cdf_length"] = gc._cdf_length.clone().to(torch.int32)
        out["y.cdf_offset"] = gc._offset.clone().to(torch.int32)
        out["pad_feat"] = net.pad_feat.float().clone()
    meta = dict(meta or {})
    meta.pop("history", None)
    meta["config"] = net.config
    meta["format"] = "svc-latent-weights-1"
    out["meta"] = torch.frombuffer(bytearray(json.dumps(meta, sort_keys=True).encode()), dtype=torch.uint8).clone()
    return out


def compute_pad_feat(net) -> None:
    """Store NanoDet-g's stage2 value of a black letterbox border (what the detector sees there)."""
    import torch

    from svc.analytics.detectors.nanodet_weights import load_nanodet
    from svc.latent.model import nanodet_stage2

    f = nanodet_stage2(load_nanodet().eval(), torch.zeros(1, 3, 128, 128))
    net.pad_feat.copy_(f[0, :, 8, 8])


def export_weights(net, meta: dict, dest: Path) -> str:
    """Write the weights file of ``net``; its SHA-256."""
    import torch

    compute_pad_feat(net)
    tensors = freeze(net, meta)
    buf = io.BytesIO()
    torch.save(tensors, buf)
    data = buf.getvalue()
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- codec
def _round_div(a, bits: int):
    """round(a / 2**bits) of an int64 tensor, ties up (exact integer arithmetic)."""
    import torch

    return torch.div(a + (1 << (bits - 1)), 1 << bits, rounding_mode="floor")


def read_weights(name_or_path=None) -> tuple[Path, str, str, dict]:
    """(path, model id, SHA-256, tensors) of the shipped model (None), a zoo name (its file's hash
    checked against the zoo) or a file, read once and loaded without unpickling code; a
    :class:`~svc.errors.ModelError` in one line for a missing, damaged or foreign file."""
    import torch

    from svc.latent import zoo

    if name_or_path is None or str(name_or_path) in zoo.MODELS:
        name = zoo.DEFAULT if name_or_path is None else str(name_or_path)
        path, want = zoo.path_of(name), zoo.MODELS[name][1]
    else:
        path, want, name = Path(name_or_path), None, Path(name_or_path).stem
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ModelError(f"latent codec weights {path}: {exc.strerror or exc}") from None
    digest = hashlib.sha256(data).hexdigest()
    if want is not None and digest != want:
        raise ModelError(f"latent codec weights {path}: SHA-256 {digest[:12]}... is not the expected "
                         f"{want[:12]}... (damaged or replaced file)")
    try:
        tensors = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"latent codec weights {path}: not a weights file ({type(exc).__name__})") from None
    if not isinstance(tensors, dict):
        raise ModelError(f"latent codec weights {path}: not a weights file")
    return Path(path), name, digest, tensors


class LatentCodec:
    """Layered learned image codec applied per frame (see the module docstring).

    ``model_id`` names the model, ``sha256`` is the weights' hash (its first 4 bytes tag every payload).
    """

    def __init__(self, tensors: dict, sha256: str, model_id: str):
        from svc.latent.model import LatentNet

        try:
            self.meta = json.loads(bytes(tensors["meta"].numpy().tobytes()).decode())
            net = LatentNet(**self.meta["config"])
        except Exception as exc:  # noqa: BLE001 - any malformed file
            raise ModelError(f"latent codec weights {model_id}: unreadable metadata ({exc})") from None
        state = net.state_dict()
        for k, v in tensors.items():
            if k.startswith("f."):
                if k[2:] not in state or state[k[2:]].shape != v.shape:
                    raise ModelError(f"latent codec weights {model_id}: tensor {k[2:]} does not fit the network")
                state[k[2:]] = v.to(state[k[2:]].dtype)
        net.load_state_dict(state)
        self.net = net.eval().double()
        self.t = {k: v for k, v in tensors.items() if not k.startswith("f.")}
        self.qparams = {q: [(self.t[f"q.{q}.{i}.w"].double(), self.t[f"q.{q}.{i}.b"].double())
                            for i in range(len(getattr(net, q).layers))] for q in ("h_s", "h_s2", "ctx")}
        self.sha256, self.model_id = sha256, model_id
        self.tag = bytes.fromhex(sha256[:8])
        self._tables = {}
        self.M1, self.M2 = net.M1, net.M2
        self.pad_feat = self.t["pad_feat"].double()

    # ---------------------------------------------------------------- loading
    @classmethod
    def load(cls, name_or_path=None) -> "LatentCodec":
        """The shipped model (None), a zoo name, a weights file or a training checkpoint (``.pt``)."""
        import torch

        path, name, digest, tensors = read_weights(name_or_path)
        if "meta" not in tensors and any(k.startswith("model.") for k in tensors):
            from svc.latent.checkpoint import load_checkpoint, net_from_checkpoint

            ck, meta = load_checkpoint(path)
            net = net_from_checkpoint(ck, meta)
            compute_pad_feat(net)
            tensors = freeze(net, meta)
            buf = io.BytesIO()
            torch.save(tensors, buf)
            digest = hashlib.sha256(buf.getvalue()).hexdigest()
        return cls(tensors, digest, name)

    # ---------------------------------------------------------------- tables
    def _table_set(self, layer: int, zlevel: int):
        """(cdfs, lengths, offsets, number of z tables) for one rANS stream of ``layer``."""
        key = (layer, zlevel)
        if key not in self._tables:
            z = f"z{layer}"
            lengths_z = self.t[f"{z}.cdf_length"][zlevel].tolist()
            cdfs = [row[:n].tolist() for row, n in zip(self.t[f"{z}.cdf"][zlevel], lengths_z)]
            lengths_y = self.t["y.cdf_length"].tolist()
            cdfs += [row[:n].tolist() for row, n in zip(self.t["y.cdf"], lengths_y)]
            offsets = self.t[f"{z}.cdf_offset"][zlevel].tolist() + self.t["y.cdf_offset"].tolist()
            self._tables[key] = (cdfs, lengths_z + lengths_y, offsets, len(lengths_z))
        return self._tables[key]

    # ---------------------------------------------------------------- integer entropy parameters
    def _z_symbols(self, layer, z, zlevel):
        import torch

        from svc.latent.model import FA

        med = self.t[f"z{layer}.median"].double().view(1, -1, 1, 1)
        step = float(self.t[f"z{layer}.step"][zlevel])
        return torch.round((z * (1 << FA) - med) / step).to(torch.int64)

    def _z_hat(self, layer, sym, zlevel):
        med = self.t[f"z{layer}.median"].view(1, -1, 1, 1)
        return (med + sym * self.t[f"z{layer}.step"][zlevel]).double()

    def _params(self, layer, raw, qcode):
        """(table index, integer mean, offsets) in the symbol domain from integer QNet outputs."""
        import torch

        from svc.latent.model import GAIN_BITS

        raw = raw.to(torch.int64)
        s, mu = raw.chunk(2, 1)
        g = int(self.t[f"gain{layer}"][qcode])
        thr = self.t["y.threshold"]
        sig_s = torch.clamp(_round_div(s * g, GAIN_BITS), min=int(thr[0]))
        mu_s = _round_div(mu * g, GAIN_BITS)
        idx = torch.zeros_like(sig_s)
        for t in thr[:-1].tolist():
            idx += (sig_s > t).to(torch.int64)
        off = self.t[f"offset{layer}"][idx]
        return idx, mu_s, off

    def _y_hat(self, layer, sym, mu_s, off, qcode):
        import torch

        from svc.latent.model import FA, GAIN_BITS

        ys = mu_s + sym * (1 << FA) - torch.sign(sym) * off
        return _round_div(ys * int(self.t[f"istep{layer}"][qcode]), GAIN_BITS)

    def _y_symbols(self, layer, y, mu_s, qcode):
        import torch

        from svc.latent.model import FA, GAIN_BITS

        g = float(self.t[f"gain{layer}"][qcode]) / (1 << GAIN_BITS)
        return torch.round(y * g - mu_s.double() / (1 << FA)).to(torch.int64)

    # ---------------------------------------------------------------- rANS
    def _encode(self, layer, zlevel, zsym, idx, ysym) -> tuple[bytes, int]:
        from compressai.ans import RansEncoder

        cdfs, lengths, offsets, nz = self._table_set(layer, zlevel)
        zidx = np.broadcast_to(np.arange(zsym.shape[0]).reshape(-1, 1, 1), zsym.shape)
        syms = np.concatenate([zsym.numpy().ravel(), ysym.numpy().ravel()]).astype(np.int32)
        idxs = np.concatenate([zidx.ravel(), idx.numpy().ravel() + nz]).astype(np.int32)
        data = RansEncoder().encode_with_indexes(syms.tolist(), idxs.tolist(), cdfs, lengths, offsets)
        return data, zlib.crc32(syms.tobytes())

    def _decode(self, layer, zlevel, data, zshape, idx_fn):
        """Decode the hyper-latent (shape ``zshape``), then the latent whose table indexes
        ``idx_fn(zsym)`` gives; returns (zsym, ysym, crc of symbols, extra from idx_fn)."""
        import torch
        from compressai.ans import RansDecoder

        cdfs, lengths, offsets, nz = self._table_set(layer, zlevel)
        dec = RansDecoder()
        dec.set_stream(data)
        zidx = np.broadcast_to(np.arange(zshape[0]).reshape(-1, 1, 1), zshape).ravel().astype(np.int32)
        zsym = torch.tensor(dec.decode_stream(zidx.tolist(), cdfs, lengths, offsets), dtype=torch.int64)
        zsym = zsym.view(1, *zshape)
        idx, extra = idx_fn(zsym)
        ysym = dec.decode_stream((idx.numpy().ravel() + nz).astype(np.int32).tolist(), cdfs, lengths, offsets)
        ysym = torch.tensor(ysym, dtype=torch.int64).view(idx.shape)
        crc = zlib.crc32(np.concatenate([zsym.numpy().ravel(), ysym.numpy().ravel()]).astype(np.int32).tobytes())
        return zsym, ysym, crc, extra

    # ---------------------------------------------------------------- pixels
    @staticmethod
    def _check_planes(y, u, v):
        y, u, v = (np.asarray(p) for p in (y, u, v))
        if y.ndim != 2 or y.dtype != np.uint8 or y.shape[0] % 2 or y.shape[1] % 2 or min(y.shape) < 2:
            raise InputError(f"latent codec: luma must be a uint8 plane with even sides, got {y.shape} {y.dtype}")
        half = (y.shape[0] // 2, y.shape[1] // 2)
        if u.shape != half or v.shape != half or u.dtype != np.uint8 or v.dtype != np.uint8:
            raise InputError(f"latent codec: chroma planes must be uint8 {half[1]}x{half[0]}")
        if y.shape[0] > 65535 or y.shape[1] > 65535:
            raise InputError("latent codec: frame too large")
        return y, u, v

    @staticmethod
    def _to_tensor(y, u, v):
        import torch

        from svc.analytics.detectors.imaging import yuv_to_bgr
        from svc.io.frames import YuvFrame

        rgb = yuv_to_bgr(YuvFrame(y, u, v))[:, :, ::-1]
        x = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))).double().unsqueeze(0) / 255.0
        h, w = y.shape
        ph, pw = -h % PAD, -w % PAD
        if ph or pw:
            x = torch.nn.functional.pad(x, (0, pw, 0, ph), mode="replicate")
        return x

    def _pixels(self, y1_hat, y2_hat, h, w):
        import cv2
        import torch

        from svc.io.frames import YuvFrame
        from svc.latent.model import FA

        with torch.no_grad():
            x = self.net.g_s(torch.cat([y1_hat, y2_hat], 1).double() / (1 << FA))
        rgb = torch.round(x[0, :, :h, :w].clamp(0, 1) * 255.0).to(torch.uint8).permute(1, 2, 0).numpy()
        f = YuvFrame.from_i420(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420), w, h)
        return f.y.copy(), f.u.copy(), f.v.copy()

    # ---------------------------------------------------------------- public API
    def encode_frame(self, y, u, v, base_quality: float, enh_quality: float) -> tuple[bytes, bytes]:
        """(base payload, enhancement payload) of one 4:2:0 uint8 frame; qualities in [0, 1]."""
        return self.encode_frames([(y, u, v)], base_quality, enh_quality)[0]

    def encode_frames(self, frames, base_quality: float, enh_quality: float, reconstruct: bool = False):
        """Payload pairs of several frames (frames of one size run as one batch: the bytes do not
        depend on the batching). ``reconstruct``: also the encoder-side decoded planes per frame."""
        import torch

        qb, qe = _quality_code(base_quality, "base quality"), _quality_code(enh_quality, "enhancement quality")
        frames = [self._check_planes(*f) for f in frames]
        out = [None] * len(frames)
        groups = {}
        for i, f in enumerate(frames):
            groups.setdefault(f[0].shape, []).append(i)
        net = self.net
        zl1, zl2 = (int(net.zlevel(torch.tensor(q))) for q in (qb, qe))
        for (h, w), idxs in groups.items():
            x = torch.cat([self._to_tensor(*frames[i]) for i in idxs])
            with torch.no_grad():
                y = net.g_a(x)
                y1, y2 = y[:, :self.M1], y[:, self.M1:]
                z1, z2 = net.h_a(y1), net.h_a2(y2)
            for k, i in enumerate(idxs):
                zs1 = self._z_symbols(1, z1[k:k + 1], zl1)
                idx1, mu1, off1 = self._params(1, net.h_s.forward_int(self._z_hat(1, zs1, zl1), self.qparams["h_s"]), qb)
                ys1 = self._y_symbols(1, y1[k:k + 1], mu1, qb)
                y1_hat = self._y_hat(1, ys1, mu1, off1, qb)
                data1, crc1 = self._encode(1, zl1, zs1[0], idx1, ys1)
                base = _BASE.pack(b"SVLB", VERSION, self.tag, w, h, qb, crc1, zlib.crc32(data1)) + data1
                zs2 = self._z_symbols(2, z2[k:k + 1], zl2)
                feats = net.h_s2.forward_int(self._z_hat(2, zs2, zl2), self.qparams["h_s2"])
                raw2 = net.ctx.forward_int(torch.cat([y1_hat.double(), feats], 1), self.qparams["ctx"])
                idx2, mu2, off2 = self._params(2, raw2, qe)
                ys2 = self._y_symbols(2, y2[k:k + 1], mu2, qe)
                data2, crc2 = self._encode(2, zl2, zs2[0], idx2, ys2)
                enh = _ENH.pack(b"SVLE", VERSION, self.tag, w, h, qe, zlib.crc32(base), crc2,
                                zlib.crc32(data2)) + data2
                out[i] = (base, enh)
                if reconstruct:
                    out[i] = (base, enh, self._pixels(y1_hat, self._y_hat(2, ys2, mu2, off2, qe), h, w))
        return out

    def _parse_base(self, base: bytes):
        if not isinstance(base, (bytes, bytearray, memoryview)) or len(base) < _BASE.size:
            raise BitstreamError("latent base payload: truncated (shorter than its header)")
        magic, ver, tag, w, h, qb, crc_sym, crc_data = _BASE.unpack_from(base)
        if magic != b"SVLB":
            raise BitstreamError("latent base payload: bad magic (not a latent-codec base payload)")
        if ver != VERSION:
            raise BitstreamError(f"latent base payload: version {ver} is not supported")
        if tag != self.tag:
            raise BitstreamError(f"latent base payload: coded by another model (tag {tag.hex()}, "
                                 f"this model {self.tag.hex()} = {self.model_id})")
        if w == 0 or h == 0 or w % 2 or h % 2:
            raise BitstreamError(f"latent base payload: bad frame size {w}x{h}")
        data = bytes(base[_BASE.size:])
        if zlib.crc32(data) != crc_data:
            raise BitstreamError("latent base payload: CRC mismatch (damaged payload)")
        return w, h, qb, crc_sym, data

    def _decode_base(self, base: bytes):
        import torch

        w, h, qb, crc_sym, data = self._parse_base(base)
        net = self.net
        zl = int(net.zlevel(torch.tensor(qb)))
        hp, wp = h + (-h % PAD), w + (-w % PAD)
        zshape = (net.config["NZ"], hp // 64, wp // 64)
        state = {}

        def idx_fn(zsym):
            raw = net.h_s.forward_int(self._z_hat(1, zsym, zl), self.qparams["h_s"])
            idx, mu, off = self._params(1, raw, qb)
            state.update(mu=mu, off=off)
            return idx, None

        ys = self._decode_checked(1, zl, data, zshape, idx_fn, crc_sym, "base")
        return w, h, self._y_hat(1, ys, state["mu"], state["off"], qb)

    def _decode_checked(self, layer, zl, data, zshape, idx_fn, crc_sym: int, what: str):
        """The symbols of one layer's payload, checked against the CRC the encoder wrote (a decoder
        out of sync, or bytes that do not decode, is a one-line BitstreamError)."""
        try:
            _, ys, crc, _ = self._decode(layer, zl, data, zshape, idx_fn)
        except (ValueError, RuntimeError, IndexError, OverflowError) as exc:
            raise BitstreamError(f"latent {what} payload: undecodable ({type(exc).__name__})") from None
        if crc != crc_sym:
            raise BitstreamError(f"latent {what} payload: decoded symbols fail their CRC (decoder out of sync)")
        return ys

    def decode_base_features(self, base_bytes: bytes):
        """NanoDet-g stage2 tensor (1, 128, Hn/8, Wn/8) for the network input NanoDet uses for this
        frame (its letterbox: 416x240 -> 416x256), from the base payload alone."""
        import torch

        from svc.analytics.detectors.imaging import Letterbox
        from svc.latent.model import FA

        w, h, y1_hat = self._decode_base(base_bytes)
        with torch.no_grad():
            f = self.net.latent_tf(y1_hat.double() / (1 << FA))[0]  # (128, Hp/8, Wp/8), frame stride 8
        lb = Letterbox.fit(w, h, 416)
        hf, wf = -(-h // 8), -(-w // 8)
        f = f[:, :hf, :wf]
        ay, vy = _resample_matrix(lb.input_h // 8, hf, lb.pad_y, lb.resized_h, lb.scale)
        ax, vx = _resample_matrix(lb.input_w // 8, wf, lb.pad_x, lb.resized_w, lb.scale)
        out = torch.einsum("ij,cjk,lk->cil", ay, f, ax)
        inside = (vy[:, None] & vx[None, :]).unsqueeze(0)
        out = torch.where(inside, out, self.pad_feat.view(-1, 1, 1))
        return out.float().unsqueeze(0)

    def decode_full(self, base_bytes: bytes, enh_bytes: bytes):
        """(y, u, v) uint8 planes from both layers."""
        import torch

        w, h, y1_hat = self._decode_base(base_bytes)
        if not isinstance(enh_bytes, (bytes, bytearray, memoryview)) or len(enh_bytes) < _ENH.size:
            raise BitstreamError("latent enhancement payload: truncated (shorter than its header)")
        magic, ver, tag, we, he, qe, crc_base, crc_sym, crc_data = _ENH.unpack_from(enh_bytes)
        if magic != b"SVLE" or ver != VERSION:
            raise BitstreamError("latent enhancement payload: bad magic or version")
        if tag != self.tag:
            raise BitstreamError(f"latent enhancement payload: coded by another model (tag {tag.hex()})")
        if (we, he) != (w, h) or crc_base != zlib.crc32(bytes(base_bytes)):
            raise BitstreamError("latent enhancement payload: belongs to another base payload")
        data = bytes(enh_bytes[_ENH.size:])
        if zlib.crc32(data) != crc_data:
            raise BitstreamError("latent enhancement payload: CRC mismatch (damaged payload)")
        net = self.net
        zl = int(net.zlevel(torch.tensor(qe)))
        hp, wp = h + (-h % PAD), w + (-w % PAD)
        zshape = (net.config["NZ2"], hp // 64, wp // 64)
        state = {}

        def idx_fn(zsym):
            feats = net.h_s2.forward_int(self._z_hat(2, zsym, zl), self.qparams["h_s2"])
            raw = net.ctx.forward_int(torch.cat([y1_hat.double(), feats], 1), self.qparams["ctx"])
            idx, mu, off = self._params(2, raw, qe)
            state.update(mu=mu, off=off)
            return idx, None

        ys = self._decode_checked(2, zl, data, zshape, idx_fn, crc_sym, "enhancement")
        return self._pixels(y1_hat, self._y_hat(2, ys, state["mu"], state["off"], qe), h, w)


def _resample_matrix(n_out: int, n_in: int, pad: int, resized: int, scale: float):
    """(n_out x n_in bilinear matrix, validity of each output cell) mapping stride-8 cells of the
    frame onto stride-8 cells of the letterboxed network input (cell centres at 8 i + 3.5)."""
    import torch

    c = torch.arange(n_out, dtype=torch.float64) * 8 + 3.5
    valid = (c >= pad) & (c < pad + resized)
    pos = ((c - pad) / scale - 3.5) / 8
    pos = pos.clamp(0, n_in - 1)
    i0 = pos.floor().clamp(max=max(n_in - 2, 0)).long()
    f = pos - i0
    m = torch.zeros(n_out, n_in, dtype=torch.float64)
    rows = torch.arange(n_out)
    m[rows, i0] += 1 - f
    if n_in > 1:
        m[rows, (i0 + 1).clamp(max=n_in - 1)] += f
    return m, valid
