"""Zero-bit restoration of the decoded base layer: a small quantised CNN, bit-exact on any machine.

The decoder has every base frame of a GOP, so it can restore each one from itself and its
neighbours (t-1 and t+1, replicated at the GOP's edges), aligned to frame t by block motion that it
estimates on the base frames (:func:`svc.enhancement.align.hierarchical_motion`: integer, no bits).
The network is told the base QP (FiLM: per-channel gain and offset of every hidden layer as a
function of the QP, learned over QP 22..42), so one model serves every rate.

Network (``RestoreNet``), at half resolution: the luma planes are pixel-unshuffled (2x2 -> 4
channels), so current + 2 aligned neighbours + the current U and V make 14 input channels of
(H/2, W/2); ``depth`` 3x3 convolutions of ``channels`` channels with ReLU; a last 3x3 convolution
predicts 6 channels: the luma correction of the 4 phases and the U, V corrections, added to the
base frame and clipped.

Bit-exactness. The encoder uses the restored frame as a prediction, so a decoder in another
process, with another thread count or CPU, must rebuild it bit for bit. The network is trained
quantisation-aware and runs on integers: int8 weights (per output channel scale), integer biases,
8-bit activations (0..255); each layer's requantisation (scale, FiLM gain and offset folded
together) is an element-wise float32 multiply, add and round. The convolutions run in float32 on
integer-valued tensors whose every partial sum stays below 2**24 (checked when the weights are
written and loaded: sum |w| * 255 + |b| < 2**24 per output channel), so each sum is exact in
whatever order a kernel adds it, and element-wise IEEE operations are correctly rounded everywhere:
the result does not depend on thread count, kernel choice (as long as it is not a Winograd/FFT
transform, which :meth:`IntegerNet.self_test` would catch) or instruction set. Motion search is
integer too.
"""
from __future__ import annotations

import hashlib
import io
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from svc.enhancement.align import align_to
from svc.errors import ModelError
from svc.io.frames import YuvFrame

FORMAT = "svc-restoration"
FORMAT_VERSION = 1
ACT_MAX = 255          # activations are 0..255
WEIGHT_MAX = 127       # weights are -127..127
EXACT_LIMIT = 1 << 24  # float32 holds every integer below this exactly
QP_RANGE = (0, 51)     # the QP tables cover every integer QP of HEVC
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "svc-restore-v1.pt"


# ------------------------------------------------------------------------------------------------
# inputs

ALIGN_MARGIN = 80  # luma samples beyond which no aligned sample's vector search reads (align.py: <= 48)
ALIGN_WORKERS = 2  # threads aligning a GOP's frame pairs (numpy and OpenCV release the GIL; same results)


def aligned_neighbours(lumas: list[np.ndarray], span: int = 1) -> list[list[np.ndarray]]:
    """For each frame t of a GOP (luma planes), the neighbours t-span .. t-1, t+1 .. t+span aligned to
    frame t (a frame outside the GOP is replaced by frame t itself). The pairs are aligned by
    :data:`ALIGN_WORKERS` threads; each pair's result does not depend on which thread ran it."""
    from concurrent.futures import ThreadPoolExecutor

    n = len(lumas)
    pairs = [(t, t + d) for t in range(n) for d in [*range(-span, 0), *range(1, span + 1)]]
    jobs = [(t, s) for t, s in pairs if 0 <= s < n]
    if ALIGN_WORKERS > 1 and len(jobs) > 1:
        with ThreadPoolExecutor(ALIGN_WORKERS) as pool:
            done = dict(zip(jobs, pool.map(lambda ts: align_to(lumas[ts[0]], lumas[ts[1]]), jobs)))
    else:
        done = {(t, s): align_to(lumas[t], lumas[s]) for t, s in jobs}
    return [[done[(t, s)] if 0 <= s < n else lumas[t] for tt, s in pairs if tt == t] for t in range(n)]


def _to8(plane: np.ndarray) -> np.ndarray:
    """8-bit samples of a plane (10-bit planes rounded to 8 bits)."""
    if plane.dtype == np.uint8:
        return plane
    return np.minimum((plane.astype(np.int32) + 2) >> 2, 255).astype(np.uint8)


def network_input(cur: YuvFrame, neighbours: list[np.ndarray], frames: int) -> torch.Tensor:
    """(1, 4 * frames + 2, H/2, W/2) float32 integer tensor: the unshuffled luma of the current
    frame and its aligned neighbours (only the current one when ``frames`` == 1), then U, V."""
    lumas = [cur.y] + (list(neighbours) if frames > 1 else [])
    y = torch.from_numpy(np.stack([_to8(p) for p in lumas]).astype(np.float32))[None]    # (1, F, H, W)
    y = F.pixel_unshuffle(y, 2)                                                             # (1, 4F, ...)
    uv = torch.from_numpy(np.stack([_to8(cur.u), _to8(cur.v)]).astype(np.float32))[None]
    return torch.cat([y, uv], 1)


# ------------------------------------------------------------------------------------------------
# training model (float, quantisation-aware)

def _ste_round(x: torch.Tensor) -> torch.Tensor:
    return x + (torch.round(x) - x).detach()


class QpFilm(nn.Module):
    """Per-channel gains (1 + g) and offsets of every hidden layer as a function of the QP."""

    def __init__(self, widths: list[int], hidden: int = 32):
        super().__init__()
        self.widths = list(widths)
        self.mlp = nn.Sequential(nn.Linear(1, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, 2 * sum(widths)))
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, qp: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """qp (B,) -> [(gain (B, C), offset (B, C)) per layer]."""
        out = self.mlp(((qp - 32.0) / 10.0)[:, None])
        g, b = out.split(sum(self.widths), 1)
        res, i = [], 0
        for w in self.widths:
            res.append((1 + g[:, i:i + w], 0.1 * b[:, i:i + w]))
            i += w
        return res


INPUT_ZERO = 128       # the network sees (pixel - 128) / 64 ...
INPUT_SCALE = 64.0     # ... folded into the first layer's integer bias on export


class RestoreNet(nn.Module):
    """The float training model; :meth:`export` turns it into an :class:`IntegerNet`.

    Hidden layers are conv -> batch norm -> FiLM(QP) -> ReLU clipped at a learned level (PACT) ->
    8-bit quantisation; batch norm and FiLM are per-channel affine maps that fold into the integer
    network's requantisation tables (batch norm uses its running statistics once training turns
    quantisation-aware)."""

    def __init__(self, frames: int = 3, channels: int = 24, depth: int = 4, qp_aware: bool = True,
                 chroma: bool = True, intra_qp_offset: float = -3.0, bn: bool = True):
        super().__init__()
        self.config = {"frames": frames, "channels": channels, "depth": depth, "qp_aware": qp_aware,
                       "chroma": chroma, "intra_qp_offset": intra_qp_offset, "bn": bn}
        self.frames = frames
        cin = 4 * frames + 2
        self.convs = nn.ModuleList()
        self.bns = nn.ModuleList()
        for i in range(depth):
            self.convs.append(nn.Conv2d(cin if i == 0 else channels, channels, 3, padding=1, bias=not bn))
            self.bns.append(nn.BatchNorm2d(channels) if bn else nn.Identity())
        self.out = nn.Conv2d(channels, 6, 3, padding=1)
        nn.init.normal_(self.out.weight, std=1e-3)
        nn.init.zeros_(self.out.bias)
        # activation clip values (PACT), as logs; activations are quantised to 0..ACT_MAX steps
        self.log_alpha = nn.Parameter(torch.full((depth,), math.log(4.0)))
        self.film = QpFilm([channels] * depth) if qp_aware else None
        self.quant = False

    def set_quant(self, on: bool) -> None:
        """Quantisation-aware from now on: batch norm switches to its running statistics."""
        self.quant = on
        for b in self.bns:
            b.train(not on and self.training)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.quant:
            for b in self.bns:
                b.eval()
        return self

    @staticmethod
    def _wq(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Fake-quantised weights (per output channel) and their scales."""
        s = w.detach().abs().amax(dim=(1, 2, 3)).clamp_min(1e-8) / WEIGHT_MAX
        return _ste_round(w / s[:, None, None, None]).clamp(-WEIGHT_MAX, WEIGHT_MAX) * s[:, None, None, None], s

    def _conv(self, conv: nn.Conv2d, x: torch.Tensor, s_in: float | torch.Tensor):
        if not self.quant:
            return conv(x)
        w, s_w = self._wq(conv.weight)
        b = None
        if conv.bias is not None:
            acc_scale = s_in * s_w
            b = _ste_round(conv.bias / acc_scale) * acc_scale
        return F.conv2d(x, w, b, padding=1)

    def forward(self, x: torch.Tensor, qp: torch.Tensor) -> torch.Tensor:
        """x: (B, 4F+2, h, w) integer-valued input (0..255); qp (B,). Returns the correction
        (B, 6, h, w) in pixel units (rounded when quantising)."""
        s = 1.0 / INPUT_SCALE
        a = (x - INPUT_ZERO) * s
        film = self.film(qp) if self.film is not None else None
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            y = bn(self._conv(conv, a, s))
            if film is not None:
                g, b = film[i]
                y = y * g[:, :, None, None] + b[:, :, None, None]
            alpha = self.log_alpha[i].exp()
            y = torch.minimum(F.relu(y), alpha)
            s = alpha / ACT_MAX
            a = _ste_round(y / s) * s if self.quant else y
        d = self._conv(self.out, a, s) * 255.0
        return _ste_round(d) if self.quant else d

    def restore(self, x: torch.Tensor, qp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(luma (B, 1, H, W), chroma (B, 2, h, w)) restored, unclipped floats in pixel units."""
        d = self.forward(x, qp)
        y = x[:, 0:4] + d[:, 0:4]
        c = x[:, -2:] + d[:, 4:6] if self.config["chroma"] else x[:, -2:]
        return F.pixel_shuffle(y, 2), c

    @torch.no_grad()
    def export(self, chroma: bool | None = None) -> "IntegerNet":
        """The integer network: int weights, integer biases, per-QP requantisation tables.
        ``chroma=False`` drops the chroma outputs (a luma-only restorer; default: as trained)."""
        chroma = self.config["chroma"] if chroma is None else chroma
        qps = torch.arange(QP_RANGE[0], QP_RANGE[1] + 1, dtype=torch.float32)
        film = self.film(qps) if self.film is not None else None
        layers = []
        s_in = torch.tensor(1.0 / INPUT_SCALE, dtype=torch.float64)
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            w = conv.weight.double()
            s_w = w.abs().amax(dim=(1, 2, 3)).clamp_min(1e-8) / WEIGHT_MAX
            w_int = torch.round(w / s_w[:, None, None, None]).clamp(-WEIGHT_MAX, WEIGHT_MAX)
            acc_scale = s_in * s_w
            b_int = torch.round(conv.bias.double() / acc_scale) if conv.bias is not None else torch.zeros_like(s_w)
            if i == 0:   # the input's zero point, folded: conv(x - 128) = conv(x) - 128 * sum(w)
                b_int = b_int - INPUT_ZERO * w_int.sum(dim=(1, 2, 3))
            # the layer's float output is  acc * acc_scale, then batch norm, then FiLM
            if isinstance(bn, nn.BatchNorm2d):
                inv = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
                bn_scale, bn_shift = inv, bn.bias.double() - bn.running_mean.double() * inv
            else:
                bn_scale, bn_shift = torch.ones_like(s_w), torch.zeros_like(s_w)
            if film is not None:
                g, b = (t.double() for t in film[i])                                   # (Q, C)
            else:
                g = torch.ones(len(qps), w.shape[0], dtype=torch.float64)
                b = torch.zeros_like(g)
            s_out = self.log_alpha[i].double().exp() / ACT_MAX
            layers.append({"weight": w_int.to(torch.int8), "bias": b_int.to(torch.int32),
                           "scale": (g * bn_scale * acc_scale / s_out).float(),
                           "offset": ((g * bn_shift + b) / s_out).float()})
            s_in = s_out
        n_out = 6 if chroma else 4
        w = self.out.weight.double()[:n_out]
        s_w = w.abs().amax(dim=(1, 2, 3)).clamp_min(1e-8) / WEIGHT_MAX
        w_int = torch.round(w / s_w[:, None, None, None]).clamp(-WEIGHT_MAX, WEIGHT_MAX)
        acc_scale = s_in * s_w
        b_int = torch.round(self.out.bias.double()[:n_out] / acc_scale)
        scale = (acc_scale * 255.0).float()[None].expand(len(qps), -1).contiguous()
        layers.append({"weight": w_int.to(torch.int8), "bias": b_int.to(torch.int32), "scale": scale,
                       "offset": torch.zeros_like(scale)})
        return IntegerNet(layers, {**self.config, "chroma": chroma})


# ------------------------------------------------------------------------------------------------
# integer inference

class IntegerNet:
    """Integer inference of an exported :class:`RestoreNet` (see the module docstring)."""

    def __init__(self, layers: list[dict], config: dict):
        self.config = dict(config)
        self.frames = int(config["frames"])
        self.layers = []
        for i, layer in enumerate(layers):
            w = layer["weight"].to(torch.float32).contiguous()
            b = layer["bias"].to(torch.float32).contiguous()
            scale, offset = layer["scale"].to(torch.float32), layer["offset"].to(torch.float32)
            n_qp = QP_RANGE[1] - QP_RANGE[0] + 1
            if w.dim() != 4 or w.shape[-2:] != (3, 3) or b.shape != (w.shape[0],) \
                    or scale.shape != (n_qp, w.shape[0]) or offset.shape != scale.shape:
                raise ModelError(f"restoration layer {i} has inconsistent shapes")
            if i == 0 and w.shape[1] != 4 * self.frames + 2:
                raise ModelError(f"restoration input layer takes {w.shape[1]} channels, "
                                 f"{4 * self.frames + 2} expected")
            if i and w.shape[1] != self.layers[-1][0].shape[0]:
                raise ModelError(f"restoration layer {i} takes {w.shape[1]} channels, "
                                 f"layer {i - 1} gives {self.layers[-1][0].shape[0]}")
            if not (torch.isfinite(scale).all() and torch.isfinite(offset).all()):
                raise ModelError(f"restoration layer {i} has non-finite requantisation")
            bound = w.abs().sum(dim=(1, 2, 3)).double() * ACT_MAX + b.abs().double()
            if bound.max() >= EXACT_LIMIT:
                raise ModelError(f"restoration layer {i} could exceed exact float32 sums "
                                 f"({int(bound.max())} >= 2**24)")
            # NHWC: oneDNN's fastest layout for these few channels (the integers are the same in any layout)
            self.layers.append((w.contiguous(memory_format=torch.channels_last), b, scale, offset))
        if self.layers[-1][0].shape[0] != (6 if self.config.get("chroma", True) else 4):
            raise ModelError("restoration output layer must give 6 channels (4 luma phases, U, V), "
                             "or 4 for a luma-only model")

    @property
    def params(self) -> int:
        return sum(w.numel() + b.numel() for w, b, _, _ in self.layers)

    def macs_per_pixel(self) -> float:
        """Multiply-accumulates per luma pixel (the network runs on 2x2 pixel groups)."""
        return sum(w.numel() for w, _, _, _ in self.layers) / 4.0

    def _tables(self, qp: float) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Requantisation (scale, offset) per layer at ``qp`` (linear between integer QPs, float64
        element-wise then rounded to float32: the same on every machine)."""
        q = min(max(float(qp), QP_RANGE[0]), QP_RANGE[1]) - QP_RANGE[0]
        lo = int(math.floor(q))
        hi = min(lo + 1, QP_RANGE[1] - QP_RANGE[0])
        f = q - lo
        out = []
        for _, _, scale, offset in self.layers:
            if f == 0.0:
                out.append((scale[lo], offset[lo]))
            else:
                s = scale[lo].double() * (1 - f) + scale[hi].double() * f
                o = offset[lo].double() * (1 - f) + offset[hi].double() * f
                out.append((s.float(), o.float()))
        return out

    def correction(self, x: torch.Tensor, qp) -> torch.Tensor:
        """x (N, C, h, w) float32 integers 0..255 -> (N, 6 or 4, h, w) float32 integer corrections;
        ``qp``: one QP for all N inputs or a sequence of N."""
        qps = [float(qp)] * x.shape[0] if isinstance(qp, (int, float)) else [float(q) for q in qp]
        per = [self._tables(q) for q in qps]
        a = x.contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            for i, (w, b, _, _) in enumerate(self.layers):
                s = torch.stack([t[i][0] for t in per])[:, :, None, None]
                o = torch.stack([t[i][1] for t in per])[:, :, None, None]
                if i == 0:   # the input is centred (its zero point folded into the bias): pad with it
                    a = F.pad(a, (1, 1, 1, 1), value=float(INPUT_ZERO)).contiguous(memory_format=torch.channels_last)
                    acc = F.conv2d(a, w, b)
                else:
                    acc = F.conv2d(a, w, b, padding=1)
                # separate multiply, add and round (no fused multiply-add: the same rounding everywhere)
                a = acc.mul_(s).add_(o).round_()
                if i + 1 < len(self.layers):
                    a = a.clamp_(0, ACT_MAX)
        return a.contiguous()

    def self_test(self) -> None:
        """Checks that this machine's float32 convolution is exact on integers for these layers
        (a transform-based kernel, e.g. Winograd, would not be): compares with float64."""
        g = torch.Generator().manual_seed(0)
        for i, (w, b, _, _) in enumerate(self.layers):
            x = torch.randint(0, ACT_MAX + 1, (1, w.shape[1], 24, 40), generator=g).float()
            a = F.conv2d(x, w, b, padding=1)
            ref = F.conv2d(x.double(), w.double(), b.double(), padding=1)
            if not torch.equal(a.double(), ref):
                raise ModelError(f"this machine's float32 convolution is not exact on integers (layer {i}): "
                                 f"restoration would not be bit-exact")


def _apply(cur: YuvFrame, d: torch.Tensor, chroma: bool, max_value: int) -> YuvFrame:
    """``cur`` plus the integer correction d (6 or 4 (luma only), h, w), clipped."""
    shift = 0 if max_value == 255 else 2                      # 10-bit: corrections in 8-bit steps
    dy = F.pixel_shuffle(d[None, 0:4], 2)[0, 0].numpy().astype(np.int32) << shift
    y = np.clip(cur.y.astype(np.int32) + dy, 0, max_value).astype(cur.y.dtype)
    if not chroma:
        return YuvFrame(y, cur.u, cur.v)
    du = d[4].numpy().astype(np.int32) << shift
    dv = d[5].numpy().astype(np.int32) << shift
    u = np.clip(cur.u.astype(np.int32) + du, 0, max_value).astype(cur.u.dtype)
    v = np.clip(cur.v.astype(np.int32) + dv, 0, max_value).astype(cur.v.dtype)
    return YuvFrame(y, u, v)


def restore_planes(net: IntegerNet, cur: YuvFrame, neighbours: list[np.ndarray], qp: float,
                   max_value: int = 255) -> YuvFrame:
    """The restored frame: ``cur`` plus the network's integer correction, clipped."""
    d = net.correction(network_input(cur, neighbours, net.frames), qp)
    return _apply(cur, d[0], net.config.get("chroma", True), max_value)


def restore_batch(net: IntegerNet, frames: list[YuvFrame], neighbours: list[list[np.ndarray]], qps: list[float],
                  max_value: int = 255, batch: int = 2) -> list[YuvFrame]:
    """:func:`restore_planes` for several frames of one size, ``batch`` at a time (the same result,
    faster: the network runs once per batch)."""
    out = []
    for i in range(0, len(frames), batch):
        x = torch.cat([network_input(f, n, net.frames) for f, n in zip(frames[i:i + batch], neighbours[i:i + batch])])
        d = net.correction(x, qps[i:i + batch])
        out.extend(_apply(f, d[k], net.config.get("chroma", True), max_value) for k, f in enumerate(frames[i:i + batch]))
    return out


# ------------------------------------------------------------------------------------------------
# weights files and the public API

def save_weights(path, net: IntegerNet, meta: dict | None = None) -> None:
    """Writes an integer network (+ ``meta``: the command, seed, data list, ...) to ``path``."""
    blob = {"format": FORMAT, "version": FORMAT_VERSION, "config": net.config,
            "layers": [{"weight": w.to(torch.int8), "bias": b.to(torch.int32), "scale": s, "offset": o}
                       for w, b, s, o in net.layers],
            "meta": dict(meta or {})}
    buf = io.BytesIO()
    torch.save(blob, buf)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(buf.getvalue())


class Restorer:
    """Restores decoded base frames at zero bits (see the module docstring).

    ``Restorer.load(path)`` (default: the shipped weights), then ``restore_gop(bases, qp)``, or per
    frame ``neighbours(bases)`` once per GOP and ``restore_frame(base, neighbours[t], qp, intra)``.
    """

    def __init__(self, net: IntegerNet, model_id: str = "", sha256: str = "", meta: dict | None = None):
        self.net = net
        self.model_id = model_id
        self.sha256 = sha256
        self.meta = dict(meta or {})
        self.intra_qp_offset = float(net.config.get("intra_qp_offset", 0.0))

    @classmethod
    def load(cls, path=None, self_test: bool = True) -> "Restorer":
        path = Path(path) if path is not None else DEFAULT_WEIGHTS
        if not path.is_file():
            raise ModelError(f"restoration weights {path} not found")
        try:
            data = path.read_bytes()
            blob = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
            if not isinstance(blob, dict) or blob.get("format") != FORMAT:
                raise ValueError("not an svc restoration weights file")
            if blob.get("version") != FORMAT_VERSION:
                raise ValueError(f"format version {blob.get('version')} (this reader knows {FORMAT_VERSION})")
            net = IntegerNet(blob["layers"], blob["config"])
        except ModelError as e:
            raise ModelError(f"cannot load restoration weights {path}: {e}") from None
        except Exception as e:  # noqa: BLE001 - any failure here means an unusable file
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise ModelError(f"cannot load restoration weights {path}: {msg}") from None
        if self_test:
            net.self_test()
        return cls(net, path.stem, hashlib.sha256(data).hexdigest(), blob.get("meta"))

    def frame_qp(self, qp: float, intra: bool) -> float:
        """The QP the network is told for a frame: the base QP, offset on the GOP's intra frame
        (x265 codes it about 3 QP finer)."""
        return float(qp) + (self.intra_qp_offset if intra else 0.0)

    def neighbours(self, bases: list[YuvFrame]) -> list[list[np.ndarray]]:
        """Per frame, its aligned neighbour lumas (empty lists for a single-frame model)."""
        if self.net.frames == 1:
            return [[] for _ in bases]
        return aligned_neighbours([b.y for b in bases], (self.net.frames - 1) // 2)

    def restore_frame(self, base: YuvFrame, neighbours: list[np.ndarray], qp: float,
                      intra: bool = False, max_value: int | None = None) -> YuvFrame:
        if max_value is None:
            max_value = 255 if base.y.dtype == np.uint8 else 1023
        return restore_planes(self.net, base, neighbours, self.frame_qp(qp, intra), max_value)

    def restore_gop(self, bases: list[YuvFrame], qp: float, window=None) -> list[YuvFrame]:
        """Every frame of a closed GOP restored (the first is its intra frame). ``window`` (y0, y1,
        x0, x1 luma pixels, even): restore only that rectangle, the same samples as a whole-frame
        restoration there; the rest of each frame is its base (the network runs on the window grown by
        its receptive field)."""
        if not bases:
            return []
        max_value = 255 if bases[0].y.dtype == np.uint8 else 1023
        qps = [self.frame_qp(qp, t == 0) for t in range(len(bases))]
        if window is None:
            return restore_batch(self.net, bases, self.neighbours(bases), qps, max_value)
        h, w = bases[0].y.shape
        y0, y1, x0, x1 = (int(v) for v in window)
        if any(v % 2 for v in (y0, y1, x0, x1)) or not (0 <= y0 < y1 <= h and 0 <= x0 < x1 <= w):
            raise ValueError(f"restoration window {window} is not an even rectangle inside {w}x{h}")
        m = 2 * len(self.net.layers)      # each 3x3 layer at half resolution reaches 2 luma samples
        cy0, cy1, cx0, cx1 = max(0, y0 - m), min(h, y1 + m), max(0, x0 - m), min(w, x1 + m)
        # alignment on a crop grown by the motion search's reach, on its 16-sample grid: the same
        # vectors as on the whole frame for the blocks of the network's crop
        a = ALIGN_MARGIN
        ay0, ax0 = max(0, cy0 - a) // 16 * 16, max(0, cx0 - a) // 16 * 16
        ay1, ax1 = min(h, -(-(cy1 + a) // 16) * 16), min(w, -(-(cx1 + a) // 16) * 16)
        near = self.neighbours([YuvFrame(b.y[ay0:ay1, ax0:ax1], b.u, b.v) for b in bases])
        neighbours = [[n[cy0 - ay0:cy1 - ay0, cx0 - ax0:cx1 - ax0] for n in nb] for nb in near]

        def crop(f: YuvFrame) -> YuvFrame:
            return YuvFrame(f.y[cy0:cy1, cx0:cx1], f.u[cy0 // 2:cy1 // 2, cx0 // 2:cx1 // 2],
                            f.v[cy0 // 2:cy1 // 2, cx0 // 2:cx1 // 2])

        done = restore_batch(self.net, [crop(b) for b in bases], neighbours, qps, max_value)
        out = []
        for b, c in zip(bases, done):
            planes = [p.copy() for p in b]
            for k, (p, q) in enumerate(zip(planes, c)):
                d = 1 if k == 0 else 2
                p[y0 // d:y1 // d, x0 // d:x1 // d] = q[(y0 - cy0) // d:(y1 - cy0) // d, (x0 - cx0) // d:(x1 - cx0) // d]
            out.append(YuvFrame(*planes))
        return out
