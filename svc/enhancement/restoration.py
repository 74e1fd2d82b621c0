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

Runtime. The network runs as an ONNX graph in ONNX Runtime (Pad, Conv, Mul, Add, Round, Clip; the
per-QP requantisation tables are graph inputs), built once per weights file and kept in
:func:`svc.cache.cache_dir`; weights files are read without torch (:mod:`svc.tensor_archive`), so a
decode imports neither torch nor the training model (:mod:`svc.training.restore_net`).
``SVC_KERNELS=reference`` runs the numpy float64 reference instead (the same integers).
"""
from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path

import numpy as np

from svc import tensor_archive
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
INPUT_ZERO = 128       # the network sees (pixel - 128) / 64 ...
INPUT_SCALE = 64.0     # ... folded into the first layer's integer bias on export

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


def network_input(cur: YuvFrame, neighbours: list[np.ndarray], frames: int) -> np.ndarray:
    """(1, 4 * frames + 2, H/2, W/2) float32 integers: the unshuffled luma of the current frame and its
    aligned neighbours (only the current one when ``frames`` == 1; each 2x2 group's samples in raster
    order make 4 channels, as torch's ``pixel_unshuffle``), then U, V."""
    lumas = [cur.y] + (list(neighbours) if frames > 1 else [])
    y = np.stack([_to8(p) for p in lumas])                                               # (F, H, W)
    f, h, w = y.shape
    y = y.reshape(f, h // 2, 2, w // 2, 2).transpose(0, 2, 4, 1, 3).reshape(4 * f, h // 2, w // 2)
    uv = np.stack([_to8(cur.u), _to8(cur.v)])
    return np.concatenate([y, uv]).astype(np.float32)[None]


# ------------------------------------------------------------------------------------------------
# integer inference

def _reference_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """3x3 'valid' convolution in float64 (exact on these integers): x (N, C, H, W), w (O, C, 3, 3)."""
    n, c, h, wd = x.shape
    cols = np.stack([x[:, :, dy:dy + h - 2, dx:dx + wd - 2] for dy in range(3) for dx in range(3)], 2)
    return np.einsum("nckhw,ock->nohw", cols.astype(np.float64), w.reshape(w.shape[0], c, 9).astype(np.float64),
                     optimize=True) + b.astype(np.float64)[None, :, None, None]


def _onnx_graph(layers) -> bytes:
    """The ONNX model of the integer network (input ``x`` (N, C, h, w); inputs ``s{i}``, ``o{i}``
    (N, C_i, 1, 1): each layer's requantisation; output ``y``). Needs the ``onnx`` package."""
    from onnx import TensorProto, helper, numpy_helper

    f32 = TensorProto.FLOAT
    inputs = [helper.make_tensor_value_info("x", f32, ["N", int(layers[0][0].shape[1]), "H", "W"])]
    inits = [numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads"),
             numpy_helper.from_array(np.array(float(INPUT_ZERO), np.float32), "zero"),
             numpy_helper.from_array(np.array(0.0, np.float32), "lo"),
             numpy_helper.from_array(np.array(float(ACT_MAX), np.float32), "hi")]
    nodes = [helper.make_node("Pad", ["x", "pads", "zero"], ["a_in"], mode="constant")]
    cur = "a_in"
    for i, (w, b, _, _) in enumerate(layers):
        c = int(w.shape[0])
        inits += [numpy_helper.from_array(np.ascontiguousarray(w, np.float32), f"w{i}"),
                  numpy_helper.from_array(np.ascontiguousarray(b, np.float32), f"b{i}")]
        inputs += [helper.make_tensor_value_info(f"s{i}", f32, ["N", c, 1, 1]),
                   helper.make_tensor_value_info(f"o{i}", f32, ["N", c, 1, 1])]
        pads = [0, 0, 0, 0] if i == 0 else [1, 1, 1, 1]     # the input is padded with its zero point above
        nodes += [helper.make_node("Conv", [cur, f"w{i}", f"b{i}"], [f"acc{i}"], kernel_shape=[3, 3], pads=pads),
                  helper.make_node("Mul", [f"acc{i}", f"s{i}"], [f"mul{i}"]),       # separate multiply, add,
                  helper.make_node("Add", [f"mul{i}", f"o{i}"], [f"add{i}"])]       # round: no fused multiply-add
        last = i + 1 == len(layers)
        nodes.append(helper.make_node("Round", [f"add{i}"], ["y" if last else f"r{i}"]))   # half to even
        if not last:
            nodes.append(helper.make_node("Clip", [f"r{i}", "lo", "hi"], [f"a{i}"]))
            cur = f"a{i}"
    out = helper.make_tensor_value_info("y", f32, ["N", int(layers[-1][0].shape[0]), "H", "W"])
    model = helper.make_model(helper.make_graph(nodes, "svc-restoration", inputs, [out], inits),
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


class IntegerNet:
    """Integer inference of an exported restoration network (see the module docstring). ``layers``:
    dicts of numpy arrays ``weight`` (O, C, 3, 3) int8, ``bias`` (O,) int32, ``scale`` and ``offset``
    (52, O) float32 (per integer QP 0..51). ``backend``: ``onnxruntime`` or ``reference`` (numpy
    float64); default: ``reference`` under ``SVC_KERNELS=reference``, else ``onnxruntime``."""

    def __init__(self, layers: list[dict], config: dict, backend: str | None = None):
        self.config = dict(config)
        self.frames = int(config["frames"])
        self.backend = backend or ("reference" if os.environ.get("SVC_KERNELS") == "reference" else "onnxruntime")
        self.layers = []
        for i, layer in enumerate(layers):
            w = np.asarray(layer["weight"]).astype(np.float32)
            b = np.asarray(layer["bias"]).astype(np.float32)
            scale = np.asarray(layer["scale"]).astype(np.float32)
            offset = np.asarray(layer["offset"]).astype(np.float32)
            n_qp = QP_RANGE[1] - QP_RANGE[0] + 1
            if w.ndim != 4 or w.shape[-2:] != (3, 3) or b.shape != (w.shape[0],) \
                    or scale.shape != (n_qp, w.shape[0]) or offset.shape != scale.shape:
                raise ModelError(f"restoration layer {i} has inconsistent shapes")
            if i == 0 and w.shape[1] != 4 * self.frames + 2:
                raise ModelError(f"restoration input layer takes {w.shape[1]} channels, "
                                 f"{4 * self.frames + 2} expected")
            if i and w.shape[1] != self.layers[-1][0].shape[0]:
                raise ModelError(f"restoration layer {i} takes {w.shape[1]} channels, "
                                 f"layer {i - 1} gives {self.layers[-1][0].shape[0]}")
            if not (np.isfinite(scale).all() and np.isfinite(offset).all()):
                raise ModelError(f"restoration layer {i} has non-finite requantisation")
            bound = np.abs(w).sum(axis=(1, 2, 3)).astype(np.float64) * ACT_MAX + np.abs(b).astype(np.float64)
            if bound.max() >= EXACT_LIMIT:
                raise ModelError(f"restoration layer {i} could exceed exact float32 sums "
                                 f"({int(bound.max())} >= 2**24)")
            self.layers.append((w, b, scale, offset))
        if self.layers[-1][0].shape[0] != (6 if self.config.get("chroma", True) else 4):
            raise ModelError("restoration output layer must give 6 channels (4 luma phases, U, V), "
                             "or 4 for a luma-only model")
        self._session = None

    @property
    def params(self) -> int:
        return sum(w.size + b.size for w, b, _, _ in self.layers)

    def macs_per_pixel(self) -> float:
        """Multiply-accumulates per luma pixel (the network runs on 2x2 pixel groups)."""
        return sum(w.size for w, _, _, _ in self.layers) / 4.0

    def digest(self) -> str:
        """SHA-256 of the network's integers and tables (names its cached ONNX graph)."""
        h = hashlib.sha256(repr(sorted(self.config.items())).encode())
        for layer in self.layers:
            for a in layer:
                h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()

    def _tables(self, qp: float) -> list[tuple[np.ndarray, np.ndarray]]:
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
                s = scale[lo].astype(np.float64) * (1 - f) + scale[hi].astype(np.float64) * f
                o = offset[lo].astype(np.float64) * (1 - f) + offset[hi].astype(np.float64) * f
                out.append((s.astype(np.float32), o.astype(np.float32)))
        return out

    def session(self):
        """The ONNX Runtime session (built on first use; the graph is kept in the cache folder)."""
        if self._session is None:
            import onnxruntime as ort

            from svc.cache import disk_cached

            blob = disk_cached(f"restoration-{self.digest()[:24]}-opset17.onnx", lambda: _onnx_graph(self.layers))
            so = ort.SessionOptions()
            # basic optimisations only: measured faster here than the blocked-layout (NCHWc) kernels
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
            threads = os.environ.get("OMP_NUM_THREADS", "")
            so.intra_op_num_threads = int(threads) if threads.isdigit() else 0
            so.inter_op_num_threads = 1
            # no spinning between runs: the block decoder works beside this thread on the same cores
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
            so.log_severity_level = 3
            self._session = ort.InferenceSession(blob, so, providers=["CPUExecutionProvider"])
        return self._session

    def correction(self, x: np.ndarray, qp, backend: str | None = None) -> np.ndarray:
        """x (N, C, h, w) float32 integers 0..255 -> (N, 6 or 4, h, w) float32 integer corrections;
        ``qp``: one QP for all N inputs or a sequence of N."""
        x = np.ascontiguousarray(x, np.float32)
        qps = [float(qp)] * x.shape[0] if isinstance(qp, (int, float)) else [float(q) for q in qp]
        per = [self._tables(q) for q in qps]
        tables = [(np.stack([t[i][0] for t in per])[:, :, None, None], np.stack([t[i][1] for t in per])[:, :, None, None])
                  for i in range(len(self.layers))]
        if (backend or self.backend) == "reference":
            return self._reference(x, tables)
        feed = {"x": x}
        for i, (s, o) in enumerate(tables):
            feed[f"s{i}"], feed[f"o{i}"] = np.ascontiguousarray(s), np.ascontiguousarray(o)
        return self.session().run(["y"], feed)[0]

    def _reference(self, x: np.ndarray, tables) -> np.ndarray:
        a = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=float(INPUT_ZERO))
        for i, ((w, b, _, _), (s, o)) in enumerate(zip(self.layers, tables)):
            if i:
                a = np.pad(a, ((0, 0), (0, 0), (1, 1), (1, 1)))
            acc = _reference_conv(a, w, b).astype(np.float32)      # exact integers below 2**24
            a = np.rint(acc * s + o)                                 # float32 multiply, add; half to even
            if i + 1 < len(self.layers):
                a = np.clip(a, 0, ACT_MAX)
        return a.astype(np.float32)

    def self_test(self) -> None:
        """Checks that this machine's runtime computes the network exactly (a transform-based kernel,
        e.g. Winograd, would not): the whole network on random integers at two QPs against the float64
        reference."""
        if self.backend == "reference":
            return
        rng = np.random.default_rng(0)
        x = rng.integers(0, ACT_MAX + 1, (2, self.layers[0][0].shape[1], 20, 36)).astype(np.float32)
        if not np.array_equal(self.correction(x, [37.0, 24.5]), self.correction(x, [37.0, 24.5], "reference")):
            raise ModelError("this machine's convolution runtime is not exact on integers: restoration would not "
                             "be bit-exact (SVC_KERNELS=reference runs the reference code)")


def _apply(cur: YuvFrame, d: np.ndarray, chroma: bool, max_value: int) -> YuvFrame:
    """``cur`` plus the integer correction d (6 or 4 (luma only), h, w), clipped."""
    shift = 0 if max_value == 255 else 2                      # 10-bit: corrections in 8-bit steps
    h, w = d.shape[1:]
    dy = d[0:4].reshape(2, 2, h, w).transpose(2, 0, 3, 1).reshape(2 * h, 2 * w).astype(np.int32) << shift
    y = np.clip(cur.y.astype(np.int32) + dy, 0, max_value).astype(cur.y.dtype)
    if not chroma:
        return YuvFrame(y, cur.u, cur.v)
    du = d[4].astype(np.int32) << shift
    dv = d[5].astype(np.int32) << shift
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
        x = np.concatenate([network_input(f, n, net.frames) for f, n in zip(frames[i:i + batch], neighbours[i:i + batch])])
        d = net.correction(x, qps[i:i + batch])
        out.extend(_apply(f, d[k], net.config.get("chroma", True), max_value) for k, f in enumerate(frames[i:i + batch]))
    return out


# ------------------------------------------------------------------------------------------------
# weights files and the public API

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
            blob = tensor_archive.load(data)
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
