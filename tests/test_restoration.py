"""Zero-bit restoration: integer motion, bit-exact integer network (threads, processes), a real gain on a
held-out clip, weights errors, and the training tool end to end."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from svc.errors import InputError
import torch

from svc.enhancement.align import align_plane, hierarchical_motion
from svc.enhancement.restoration import DEFAULT_WEIGHTS, Restorer
from svc.errors import ModelError
from svc.io import open_source

from conftest import CARPHONE_MP4, ROOT

needs_weights = pytest.mark.skipif(not DEFAULT_WEIGHTS.exists(), reason=f"{DEFAULT_WEIGHTS} not present")


@pytest.fixture(scope="module")
def carphone_qp37():
    """(originals, base frames) of carphone's first 16 frames coded at QP 37 (one closed GOP)."""
    from svc.base import BaseEncoder
    from svc.config import BaseConfig
    src = open_source(CARPHONE_MP4, max_frames=16)
    frames = list(src)
    return frames, BaseEncoder(src.format, BaseConfig(qp=37)).encode_gop(frames).recon


@pytest.mark.parametrize("dy, dx", [(0, 0), (4, -6), (-10, 14), (3, -21)])
def test_hierarchical_motion_finds_a_real_shift(racehorses_yuv, dy, dx):
    tex = next(iter(open_source(racehorses_yuv, max_frames=1))).y
    ref = tex[100:340, 200:616]
    cur = tex[100 + dy:340 + dy, 200 + dx:616 + dx]          # cur[y, x] = ref[y + dy, x + dx]
    vec, sad = hierarchical_motion(cur, ref)
    inner = vec[2:-2, 2:-2].reshape(-1, 2)
    assert (inner == (dy, dx)).mean() > 0.65                 # real grass texture: most blocks exact
    moved = align_plane(ref, vec)
    exact = (sad == 0)
    assert exact[2:-2, 2:-2].mean() > 0.65
    # where the search says "exact", the aligned block is the current block
    big = np.kron(exact, np.ones((8, 8), bool))[:cur.shape[0], :cur.shape[1]]
    assert np.array_equal(moved[big], cur[big])
    assert np.array_equal(hierarchical_motion(cur, ref)[0], vec)


def test_alignment_helps_on_real_motion():
    from svc.metrics.quality import psnr
    frames = [f.y for f in open_source(CARPHONE_MP4, max_frames=12)]
    zero = np.mean([psnr(frames[t], frames[t - 1]) for t in range(1, 12)])
    aligned = np.mean([psnr(frames[t], align_plane(frames[t - 1], hierarchical_motion(frames[t], frames[t - 1])[0]))
                       for t in range(1, 12)])
    assert aligned > zero + 0.5


_RESTORE_SCRIPT = r"""
import sys, hashlib, numpy as np
from svc.enhancement.restoration import Restorer
from svc.io.frames import YuvFrame
data = np.load(sys.argv[1])
n = data["y"].shape[0]
bases = [YuvFrame(data["y"][i], data["u"][i], data["v"][i]) for i in range(n)]
out = Restorer.load().restore_gop(bases, 37)
h = hashlib.sha256()
for f in out:
    for p in f:
        h.update(np.ascontiguousarray(p).tobytes())
print(h.hexdigest(), "torch" in sys.modules)
"""


def _digest(frames) -> str:
    import hashlib
    h = hashlib.sha256()
    for f in frames:
        for p in f:
            h.update(np.ascontiguousarray(p).tobytes())
    return h.hexdigest()


@needs_weights
def test_restore_is_bit_exact_across_thread_counts_and_kernels(carphone_qp37, monkeypatch):
    """ONNX Runtime with 1 and 2 threads, its blocked-layout (NCHWc) kernels, and the numpy float64
    reference give the same frames."""
    import onnxruntime as ort

    _, bases = carphone_qp37
    digests = []
    for th in ("1", "2"):
        monkeypatch.setenv("OMP_NUM_THREADS", th)
        digests.append(_digest(Restorer.load().restore_gop(bases[:6], 37)))
    restorer = Restorer.load()
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    restorer.net._session = ort.InferenceSession(_graph_bytes(restorer.net), so, providers=["CPUExecutionProvider"])
    digests.append(_digest(restorer.restore_gop(bases[:6], 37)))
    restorer.net.backend = "reference"
    digests.append(_digest(restorer.restore_gop(bases[:6], 37)))
    assert len(set(digests)) == 1, digests


def _graph_bytes(net) -> bytes:
    from svc.enhancement.restoration import _onnx_graph
    return _onnx_graph(net.layers)


@needs_weights
def test_restore_is_bit_exact_across_processes_and_kernels(carphone_qp37, tmp_path):
    """Other processes rebuild the same frames: ONNX Runtime on one thread, and the numpy reference
    (``SVC_KERNELS=reference``); neither imports torch."""
    _, bases = carphone_qp37
    bases = bases[:6]
    want = _digest(Restorer.load().restore_gop(bases, 37))
    npz = tmp_path / "bases.npz"
    np.savez(npz, y=np.stack([b.y for b in bases]), u=np.stack([b.u for b in bases]), v=np.stack([b.v for b in bases]))
    base_env = dict(os.environ, PYTHONPATH=str(ROOT))
    for extra in ({"OMP_NUM_THREADS": "1"}, {"SVC_KERNELS": "reference"}):
        out = subprocess.run([sys.executable, "-c", _RESTORE_SCRIPT, str(npz)], capture_output=True,
                             text=True, env={**base_env, **extra}, cwd=ROOT, timeout=120)
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == [want, "False"], extra


@needs_weights
@pytest.mark.parametrize("window", [(32, 96, 48, 112), (0, 32, 144, 176), (100, 144, 0, 40), (0, 144, 0, 176)])
def test_restoring_a_window_gives_the_whole_frames_samples_there(carphone_qp37, window):
    """Region decoding restores only a window (network and alignment on crops grown by their reach):
    inside it every sample equals the whole-frame restoration, outside it is the base."""
    _, bases = carphone_qp37
    restorer = Restorer.load()
    whole = restorer.restore_gop(bases[:6], 37)
    part = restorer.restore_gop(bases[:6], 37, window)
    y0, y1, x0, x1 = window
    inside = np.zeros((144, 176), bool)
    inside[y0:y1, x0:x1] = True
    for w, p, b in zip(whole, part, bases):
        assert np.array_equal(p.y[inside], w.y[inside]) and np.array_equal(p.y[~inside], b.y[~inside])
        assert np.array_equal(p.v[inside[::2, ::2]], w.v[inside[::2, ::2]])
    with pytest.raises(ValueError):
        restorer.restore_gop(bases[:2], 37, (1, 20, 0, 20))


@needs_weights
def test_restored_carphone_beats_the_base_at_qp37(carphone_qp37):
    """Carphone is held out of training. Measured with svc-restore-v1: see MIN_GAIN_DB."""
    from svc.metrics.quality import psnr
    frames, bases = carphone_qp37
    restored = Restorer.load().restore_gop(bases[:8], 37)
    base = np.mean([psnr(o.y, b.y) for o, b in zip(frames, bases[:8])])
    rest = np.mean([psnr(o.y, r.y) for o, r in zip(frames, restored)])
    assert rest > base + MIN_GAIN_DB
    assert sum(psnr(o.y, r.y) > psnr(o.y, b.y) for o, r, b in zip(frames, restored, bases)) >= 7


MIN_GAIN_DB = 0.15


def test_missing_or_corrupt_weights_are_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        Restorer.load(tmp_path / "absent.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a weights file")
    with pytest.raises(ModelError, match="cannot load") as e:
        Restorer.load(bad)
    assert "\n" not in str(e.value)
    other = tmp_path / "other.pt"
    torch.save({"format": "something-else"}, other)
    with pytest.raises(ModelError, match="not an svc restoration"):
        Restorer.load(other)


def test_weights_that_could_overflow_exact_sums_are_refused(tmp_path):
    from svc.training.restore_net import RestoreNet, save_weights
    net = RestoreNet(channels=8, depth=2).export()
    w, b, s, o = net.layers[1]
    net.layers[1] = (np.full_like(w, 127.0), b, s, o)             # 72 * 127 * 255 < 2**24: fine
    path = tmp_path / "ok.pt"
    save_weights(path, net)
    Restorer.load(path)
    net.layers[1] = (w, np.full_like(b, float(1 << 24)), s, o)      # a bias beyond exact float32 sums
    save_weights(path, net)
    with pytest.raises(ModelError, match="exact"):
        Restorer.load(path)


def test_training_tool_runs_end_to_end(tmp_path):
    from svc.cli.train import command

    def main(args):
        return command(["restoration", *args])
    out, ckpt, cache = tmp_path / "tiny.pt", tmp_path / "ckpt", tmp_path / "cache"
    common = ["--out", str(out), "--clips", "skimage:astronaut:4", "--qps", "37", "--val-clips", "--batch", "2",
              "--crop", "32", "--channels", "8", "--depth", "2", "--cache-dir", str(cache), "--ckpt-dir", str(ckpt),
              "--log-every", "1"]
    assert main(common + ["--steps", "4", "--stop-after", "2"]) == 0
    assert (ckpt / "last.ckpt").exists()
    assert main(common + ["--steps", "4", "--resume"]) == 0
    r = Restorer.load(out)
    assert r.meta["trained_steps"] == 4 and r.meta["command"].startswith("svc-train restoration ")
    assert r.meta["train_clips"] == ["skimage:astronaut:4"] and r.meta["seed"] == 0
    frames = list(open_source(CARPHONE_MP4, max_frames=3))
    assert all(a.y.shape == b.y.shape for a, b in zip(r.restore_gop(frames, 37), frames))
    # a luma-only restorer from the same checkpoint: chroma passes through untouched
    luma = tmp_path / "luma.pt"
    assert main(["--out", str(luma), "--export-from", str(ckpt / "last.ckpt"), "--export-chroma", "no"]) == 0
    r2 = Restorer.load(luma)
    assert r2.net.config["chroma"] is False and "--export-from" in r2.meta["export_command"]
    for a, b, f in zip(r2.restore_gop(frames, 37), r.restore_gop(frames, 37), frames):
        assert np.array_equal(a.y, b.y) and np.array_equal(a.u, f.u) and np.array_equal(a.v, f.v)
    # clips of an evaluation source are refused as training data, before any work
    with pytest.raises(InputError, match="evaluation source"):
        main(["--out", str(tmp_path / "x.pt"), "--clips", f"file:{CARPHONE_MP4}:0:4", "--val-clips",
              "--cache-dir", str(cache), "--steps", "1"])
    assert not (tmp_path / "x.pt").exists()
