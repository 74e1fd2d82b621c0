"""Ways to run :class:`~.nanodet_net.NanoDet` on the CPU, all with one call signature:
``runner(x) -> (scores, distances)`` for ``x`` (B, 3, H, W) float32 normalised BGR, giving numpy
float32 scores (B, N, 80) and distances (B, N, 4) in input pixels.

* ``torch``: the module itself under ``torch.inference_mode``, channels-last memory by default;
* ``onnxruntime``: ONNX Runtime on the module exported with ``torch.onnx.export`` (needs the
  ``onnx`` and ``onnxruntime`` packages; the export runs once, in memory, at start-up);
* ``opencv``: OpenCV's DNN module (``cv2.dnn.readNetFromONNX``) on the same export, one ONNX model
  per input shape (OpenCV's importer fixes the shapes).

``auto`` (the default) is ``onnxruntime`` when ``onnxruntime`` and ``onnx`` import, else ``torch``.
Measured with tools/bench_nanodet.py on the 2-core VM (416x240 frames, input 416x256, 2026-11-28,
other jobs loading the cores to a load average of 6-10): CPU time per frame ONNX Runtime 43 ms,
OpenCV DNN 59 ms, torch 66-71 ms (one thread); wall time with two threads ONNX Runtime 75-125 ms,
OpenCV 100-130 ms, torch 430-980 ms (two OpenMP threads collapse when another job holds a core);
in a quieter moment (load 2-3) ONNX Runtime 24 ms, torch channels-last 27 ms, torch 42 ms. All agree
with torch float32 (same boxes, scores within 2e-6).

``threads`` sets the intra-op threads of the runtime (torch: ``torch.set_num_threads``, which is
process-wide; None leaves the runtime's default: all cores).
"""
from __future__ import annotations

import hashlib
import importlib.util
import io

import numpy as np

from svc.cache import cache_dir, disk_cached as _disk_cached  # noqa: F401 - cache_dir: part of this module's API

from svc.errors import InputError, ModelError

RUNTIMES = ("auto", "torch", "onnxruntime", "opencv")
OPSET = 17
_ONNX_CACHE: dict[tuple, bytes] = {}  # (weights digest, W, H, batch, dynamic) -> ONNX bytes


def resolve_runtime(runtime: str) -> str:
    """``runtime`` with ``auto`` replaced by ``onnxruntime`` (when it and ``onnx`` import) or ``torch``."""
    if runtime not in RUNTIMES:
        raise InputError(f"nanodet: unknown runtime {runtime!r} (known: {', '.join(RUNTIMES)})")
    if runtime != "auto":
        return runtime
    have = all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "onnx"))
    return "onnxruntime" if have else "torch"


class TorchRunner:
    """The PyTorch module in inference mode; ``channels_last`` stores activations NHWC."""

    name = "torch"

    def __init__(self, net, threads: int | None = None, channels_last: bool = True):
        import torch

        if threads:
            torch.set_num_threads(int(threads))
        self.channels_last = bool(channels_last)
        self.net = net.eval().to(memory_format=torch.channels_last) if channels_last else net.eval()

    def __call__(self, x: np.ndarray):
        import torch

        t = torch.from_numpy(np.ascontiguousarray(x, np.float32))
        if self.channels_last:
            t = t.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            scores, dists = self.net(t)
        return scores.numpy(), dists.numpy()


def export_onnx(net, input_w: int, input_h: int, batch: int = 1, dynamic: bool = True) -> bytes:
    """ONNX bytes of ``net`` (input ``input`` (B, 3, H, W), outputs ``scores``, ``distances``);
    ``dynamic`` leaves batch, height and width free. Needs the ``onnx`` package. An export takes a
    few seconds: exports are kept per weights, shape, opset and torch version in the process and in
    :func:`cache_dir` (so a new process starts ~3 s sooner)."""
    import torch

    digest = hashlib.sha256()
    for k, v in net.state_dict().items():
        digest.update(k.encode())
        digest.update(v.detach().cpu().numpy().tobytes())
    key = (digest.hexdigest(), input_w, input_h, batch, dynamic)
    if key not in _ONNX_CACHE:
        name = (f"nanodet-{key[0][:16]}-{input_w}x{input_h}-b{batch}{'-dynamic' if dynamic else ''}-opset{OPSET}-"
                f"torch{torch.__version__.split('+')[0]}.onnx")
        _ONNX_CACHE[key] = _disk_cached(name, lambda: _export(net, input_w, input_h, batch, dynamic))
    return _ONNX_CACHE[key]


def _export(net, input_w: int, input_h: int, batch: int, dynamic: bool) -> bytes:
    """``torch.onnx.export`` of ``net`` to bytes (see :func:`export_onnx`)."""
    import warnings

    import torch

    buf = io.BytesIO()
    axes = {"input": {0: "batch", 2: "height", 3: "width"}, "scores": {0: "batch", 1: "cells"},
            "distances": {0: "batch", 1: "cells"}} if dynamic else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(net.eval(), (torch.zeros(batch, 3, input_h, input_w),), buf, dynamo=False,
                              opset_version=OPSET, input_names=["input"], output_names=["scores", "distances"],
                              dynamic_axes=axes)
    except Exception as e:  # noqa: BLE001 - missing onnx package or an exporter failure
        raise ModelError(f"nanodet: ONNX export failed ({str(e).splitlines()[0] if str(e) else type(e).__name__}); "
                         f"pip install onnx, or use runtime torch") from None
    return buf.getvalue()


class OnnxRuntimeRunner:
    """ONNX Runtime CPU session on the exported module (dynamic batch and size)."""

    name = "onnxruntime"

    def __init__(self, net, threads: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError:
            raise ModelError("nanodet runtime 'onnxruntime' needs pip install onnxruntime onnx") from None
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = int(threads)
            opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # no busy-waiting between runs: on a shared 2-core machine spinning threads steal the CPU
        # that decoding, tracking and the codec need between detector calls
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(export_onnx(net, 416, 256), opts, providers=["CPUExecutionProvider"])

    def __call__(self, x: np.ndarray):
        scores, dists = self.session.run(["scores", "distances"], {"input": np.ascontiguousarray(x, np.float32)})
        return scores, dists


class OpenCvDnnRunner:
    """OpenCV DNN on the exported module; one network per (B, H, W), exported on first use."""

    name = "opencv"

    def __init__(self, net, threads: int | None = None):
        import cv2

        if threads:
            cv2.setNumThreads(int(threads))
        self.torch_net, self._nets = net.eval(), {}

    def __call__(self, x: np.ndarray):
        import cv2

        b, _, h, w = x.shape
        dnn = self._nets.get((b, h, w))
        if dnn is None:
            blob = export_onnx(self.torch_net, w, h, batch=b, dynamic=False)
            dnn = self._nets[(b, h, w)] = cv2.dnn.readNetFromONNX(np.frombuffer(blob, np.uint8))
            dnn.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        dnn.setInput(np.ascontiguousarray(x, np.float32))
        scores, dists = dnn.forward(["scores", "distances"])
        return np.asarray(scores).reshape(b, -1, 80), np.asarray(dists).reshape(b, -1, 4)


def make_runner(runtime: str, net, threads: int | None = None, channels_last: bool = True):
    """The runner called ``runtime`` (one of RUNTIMES; ``auto`` see :func:`resolve_runtime`) for ``net``."""
    runtime = resolve_runtime(runtime)
    if runtime == "torch":
        return TorchRunner(net, threads, channels_last)
    if runtime == "onnxruntime":
        return OnnxRuntimeRunner(net, threads)
    return OpenCvDnnRunner(net, threads)
