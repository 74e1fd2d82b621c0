"""The ``nanodet`` backend on real frames: shipped weights vs the conversion's reference, weights
checks, geometry, what a real COCO detector must find in carphone and RaceHorses, class filtering."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from svc.analytics.detectors import (COCO_NAMES, Detections, Letterbox, ModelError, class_ids_from_names,
                                     filter_classes, make_detector)
from svc.analytics.detectors import nanodet_weights as W
from svc.analytics.detectors import tensorfile
from svc.analytics.detectors.nanodet import decode
from svc.errors import InputError
from svc.io import open_source

from tests.conftest import CARPHONE_MP4, RACEHORSES

FIXTURE = Path(__file__).parent / "data" / "nanodet_reference.json"
PERSON, HORSE = 0, 17


@pytest.fixture(scope="module")
def det():
    return make_detector("nanodet")


@pytest.fixture(scope="module")
def carphone():
    return list(open_source(CARPHONE_MP4))


@pytest.fixture(scope="module")
def racehorses():
    return list(open_source(RACEHORSES, max_frames=2))


@pytest.fixture
def torch_one_thread():
    """One torch thread for the test (restored after): on the shared 2-core box two OpenMP threads
    run many times slower whenever another job holds a core (see tools/bench_nanodet.py)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _centre_in(boxes, x0, y0, x1, y1):
    cx, cy = boxes[:, 0] + boxes[:, 2] / 2, boxes[:, 1] + boxes[:, 3] / 2
    return (cx >= x0) & (cx <= x1) & (cy >= y0) & (cy <= y1)


def test_weights_match_conversion_reference(det, carphone, racehorses, torch_one_thread):
    """The shipped float16 weights in the PyTorch module reproduce the outputs that
    tools/convert_nanodet.py's independent numpy interpreter of the TF.js graph gave on fixed frames."""
    import torch

    fx = json.loads(FIXTURE.read_text())
    frames = {"carphone#0": carphone[0], "carphone#60": carphone[60], "RaceHorses#0": racehorses[0]}
    assert [c["label"] for c in fx["cases"]] == list(frames)
    for case in fx["cases"]:
        x, lb = det.prepare(frames[case["label"]])
        assert [lb.input_w, lb.input_h] == case["input"]
        with torch.inference_mode():
            levels = det.net.forward_levels(torch.from_numpy(x))
            scores, dists = (t[0].numpy() for t in det.net(torch.from_numpy(x)))
        for (s, r), ref in zip(levels, case["levels"]):
            assert s.shape[1] == ref["n"]
            s, r = s.numpy().astype(np.float64), r.numpy().astype(np.float64)
            np.testing.assert_allclose([s.max(), s.mean()], [ref["max_score"], ref["mean_score"]], atol=2e-5)
            np.testing.assert_allclose([r.mean(), r.std()], [ref["mean_regression"], ref["std_regression"]], atol=1e-4)
        for t in case["top"]:
            assert abs(scores[t["cell"], t["class"]] - t["score"]) < 2e-5
            np.testing.assert_allclose(dists[t["cell"]], t["distances_px"], atol=5e-3)
        d = decode(scores, dists, lb, fx["min_score"], fx["nms_iou"])
        ref_d = case["detections"]
        assert d.classes.tolist() == [r["class"] for r in ref_d]
        np.testing.assert_allclose(d.scores, [r["score"] for r in ref_d], atol=2e-5)
        np.testing.assert_allclose(d.boxes, [r["box_xywh"] for r in ref_d], atol=0.02)


def _one_line_model_error(**options) -> str:
    with pytest.raises(ModelError) as e:
        make_detector("nanodet", **options)
    msg = str(e.value)
    assert "\n" not in msg and len(msg) < 400
    return msg


def test_damaged_or_wrong_weights_give_one_line_error(tmp_path):
    blob = W.WEIGHTS_PATH.read_bytes()
    assert W.sha256_bytes(blob) == W.WEIGHTS_SHA256
    flipped = bytearray(blob)
    flipped[len(blob) // 2] ^= 0x01  # one bit in a weight
    (tmp_path / "flipped.safetensors").write_bytes(bytes(flipped))
    assert "sha256" in _one_line_model_error(weights=tmp_path / "flipped.safetensors")
    (tmp_path / "short.safetensors").write_bytes(blob[:100_000])
    assert "sha256" in _one_line_model_error(weights=tmp_path / "short.safetensors")
    # without the hash check the structure checks still refuse them
    assert "unusable" in _one_line_model_error(weights=tmp_path / "short.safetensors", sha256=None)
    (tmp_path / "other.safetensors").write_bytes(
        tensorfile.dumps({"conv.weight": np.zeros((8, 3, 3, 3), np.float16)}, {"format": W.FORMAT}))
    assert "do not fit" in _one_line_model_error(weights=tmp_path / "other.safetensors", sha256=None)
    (tmp_path / "foreign.safetensors").write_bytes(tensorfile.dumps({"a": np.zeros(3, np.float32)}))
    assert "format" in _one_line_model_error(weights=tmp_path / "foreign.safetensors", sha256=None)
    assert "unreadable" in _one_line_model_error(weights=tmp_path / "missing.safetensors")


def test_tensorfile_round_trip_is_deterministic():
    t = {"b": np.arange(6, dtype=np.float16).reshape(2, 3), "a": np.array([7], np.int32)}
    blob = tensorfile.dumps(t, {"k": "v"})
    assert blob == tensorfile.dumps(dict(reversed(list(t.items()))), {"k": "v"})
    back, meta = tensorfile.loads(blob)
    assert meta == {"k": "v"} and set(back) == {"a", "b"}
    np.testing.assert_array_equal(back["b"], t["b"])
    with pytest.raises(ValueError):
        tensorfile.loads(blob + b"\0")


def test_letterbox_geometry():
    for (w, h), (iw, ih) in {(416, 240): (416, 256), (176, 144): (416, 352), (832, 480): (416, 256),
                             (240, 416): (256, 416), (1920, 1080): (416, 256)}.items():
        lb = Letterbox.fit(w, h, 416)
        assert (lb.input_w, lb.input_h) == (iw, ih)
        assert lb.resized_w <= iw and lb.resized_h <= ih and max(lb.resized_w, lb.resized_h) == 416
        corners = np.array([[lb.pad_x, lb.pad_y, lb.pad_x + lb.resized_w, lb.pad_y + lb.resized_h]])
        np.testing.assert_allclose(lb.to_frame(corners), [[0, 0, w, h]], atol=0.51 / lb.scale)
    lb = Letterbox.fit(416, 240)
    img = np.full((240, 416, 3), 200, np.uint8)
    out = lb.apply(img)
    assert out.shape == (256, 416, 3) and out[:8].max() == 0 and out[8:248].min() == 200 and out[248:].max() == 0


def test_decode_maps_cells_to_frame_boxes():
    """One strong cell of the stride-8 level: its box is the cell centre -/+ the distances, then
    taken back through the letterbox (832x480 frame: scale 0.5, input 416x256, 8 px top border)."""
    lb = Letterbox.fit(832, 480)
    n = (416 // 8) * (256 // 8) + (416 // 16) * (256 // 16) + (416 // 32) * (256 // 32)
    scores, dists = np.zeros((n, 80), np.float32), np.zeros((n, 4), np.float32)
    cell = 10 * 52 + 20  # row 10, column 20: centre (164, 84) in input pixels
    scores[cell, HORSE], dists[cell] = 0.9, [20, 30, 40, 50]
    scores[cell + 1, HORSE], dists[cell + 1] = 0.5, [28, 30, 32, 50]  # same box, lower score: suppressed
    scores[cell + 1, PERSON] = 0.6  # same box, other class: kept (class-aware NMS)
    scores[cell + 2, PERSON] = 0.2  # below min_score
    d = decode(scores, dists, lb, min_score=0.35, nms_iou=0.5)
    assert d.classes.tolist() == [HORSE, PERSON]
    np.testing.assert_allclose(d.scores, [0.9, 0.6])
    x0, y0, x1, y1 = 164 - 20, 84 - 30 - 8, 164 + 40, 84 + 50 - 8
    np.testing.assert_allclose(d.boxes[0], [2 * x0, 2 * y0, 2 * (x1 - x0), 2 * (y1 - y0)], atol=1e-4)


def test_finds_carphone_person_in_nearly_every_frame(det, carphone):
    """The man in the car: a person box centred in the middle of the 176x144 frame."""
    h, w = carphone[0].y.shape
    t0 = time.perf_counter()
    dets = [d for i in range(0, len(carphone), 8) for d in det.detect_batch(carphone[i:i + 8])]
    ms = 1000 * (time.perf_counter() - t0) / len(carphone)
    hits, best = 0, []
    for d in dets:
        p = d.select(d.classes == PERSON)
        if len(p):
            k = int(np.argmax(p.scores))
            hits += bool(_centre_in(p.boxes[k:k + 1], 0.25 * w, 0.2 * h, 0.75 * w, 0.8 * h)[0])
            best.append(float(p.scores[k]))
    print(f"\nnanodet: carphone person in {hits}/{len(carphone)} frames (best person score "
          f"{min(best):.2f}..{max(best):.2f}); {ms:.0f} ms/frame at 176x144 (input 416x352, batches of 8)")
    assert hits >= 0.95 * len(carphone)


def test_finds_racehorses_riders_and_horses(det, racehorses):
    riders = [(280, 120, 420, 330), (610, 80, 770, 280)]  # where each jockey's box centre lies
    horses = [(150, 200, 450, 400), (600, 200, 780, 400)]  # the front-left and the right horse
    for i, d in enumerate(det.detect_batch(racehorses)):
        print(f"\nRaceHorses frame {i}: " + ", ".join(
            f"{COCO_NAMES[c]} {s:.2f}" for c, s in zip(d.classes, d.scores)))
        people, nags = d.boxes[d.classes == PERSON], d.boxes[d.classes == HORSE]
        for r in riders:
            assert _centre_in(people, *r).any(), f"frame {i}: no rider centred in {r}"
        for r in horses:
            assert _centre_in(nags, *r).any(), f"frame {i}: no horse centred in {r}"
        assert set(d.classes.tolist()) <= {PERSON, HORSE}, "only riders and horses are in the picture"


def test_class_filtering_with_several_classes(det, racehorses):
    d = det.detect(racehorses[0])
    assert {PERSON, HORSE} <= set(d.classes.tolist())
    only = filter_classes(d, class_ids_from_names("horse"))
    assert len(only) == int((d.classes == HORSE).sum()) > 0 and set(only.classes.tolist()) == {HORSE}
    np.testing.assert_array_equal(only.boxes, d.boxes[d.classes == HORSE])
    both = filter_classes(d, class_ids_from_names(["person", "horse"]))
    assert len(both) == len(d)
    assert len(filter_classes(d, class_ids_from_names("car,bicycle"))) == 0


def test_batch_matches_single_frames_and_threshold(det, carphone, racehorses):
    frames = [carphone[0], racehorses[1], carphone[30]]  # two sizes in one call
    batch = det.detect_batch(frames)
    for f, b in zip(frames, batch):
        s = det.detect(f)
        assert s.classes.tolist() == b.classes.tolist()
        np.testing.assert_allclose(s.scores, b.scores, atol=1e-5)
        np.testing.assert_allclose(s.boxes, b.boxes, atol=1e-3)
    strict = make_detector("nanodet", min_score=0.6).detect(racehorses[1])
    assert 0 < len(strict) < len(batch[1]) and strict.scores.min() >= 0.6


def test_named_stages_compose(det, torch_one_thread):
    """backbone -> neck -> head as separate calls give the whole network's output (split inference)."""
    import torch

    x = torch.randn(2, 3, 256, 416)
    with torch.inference_mode():
        feats = det.net.backbone(x)
        assert [tuple(f.shape[1:]) for f in feats] == [(128, 32, 52), (256, 16, 26), (512, 8, 13)]
        neck = det.net.neck(feats)
        assert [tuple(f.shape[1:]) for f in neck] == [(128, 32, 52), (128, 16, 26), (128, 8, 13)]
        s, dist = det.net.head(neck)
        s2, d2 = det.net(x)
    assert s.shape == (2, 52 * 32 + 26 * 16 + 13 * 8, 80) and dist.shape == (2, s.shape[1], 4)
    assert torch.equal(s, s2) and torch.equal(dist, d2)


def test_options_are_checked():
    with pytest.raises(InputError):
        make_detector("nanodet", input_size=400)
    with pytest.raises(InputError):
        make_detector("nanodet", runtime="tensorflow")
    with pytest.raises(InputError):
        make_detector("nanodet", sources="face")
    assert make_detector("auto").name == "nanodet"  # the offline default


def test_auto_falls_back_to_opencv_without_the_weights_file(monkeypatch, tmp_path):
    from svc.analytics.detectors import auto_backend, nanodet_weights

    monkeypatch.setattr(nanodet_weights, "WEIGHTS_PATH", tmp_path / "gone.safetensors")
    assert auto_backend({}) == "opencv"


def test_auto_runtime_is_onnxruntime_where_installed(det):
    import importlib.util

    have = all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "onnx"))
    assert det.runtime == ("onnxruntime" if have else "torch")


@pytest.mark.parametrize("runtime,module", [("onnxruntime", "onnxruntime"), ("opencv", "cv2")])
def test_runtimes_agree_with_torch(racehorses, carphone, runtime, module, torch_one_thread):
    pytest.importorskip(module)
    pytest.importorskip("onnx", reason="the ONNX export needs the onnx package")
    ref, other = make_detector("nanodet", runtime="torch"), make_detector("nanodet", runtime=runtime)
    assert other.runtime == runtime
    for f in (racehorses[0], carphone[0]):
        a, b = ref.detect(f), other.detect(f)
        assert a.classes.tolist() == b.classes.tolist()
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-4)
        np.testing.assert_allclose(a.boxes, b.boxes, atol=0.05)
    pair = other.detect_batch([carphone[1], carphone[2]])
    assert len(pair) == 2 and isinstance(pair[1], Detections) and len(pair[1]) > 0


def test_onnx_export_is_kept_between_processes(det, monkeypatch, tmp_path):
    """A new process reads the exported model from the cache folder instead of exporting again (~3 s);
    a cache folder that cannot be written only costs the export."""
    pytest.importorskip("onnx", reason="the ONNX export needs the onnx package")
    from svc.analytics.detectors import nanodet_runtime as R

    monkeypatch.setenv("SVC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(R, "_ONNX_CACHE", {})
    blob = R.export_onnx(det.net, 416, 256)
    files = list((tmp_path / "cache").glob("nanodet-*-416x256-b1-dynamic-opset*.onnx"))
    assert len(files) == 1 and files[0].read_bytes() == blob
    monkeypatch.setattr(R, "_ONNX_CACHE", {})  # as in a new process
    monkeypatch.setattr(R, "_export", lambda *a: pytest.fail("exported again"))
    assert R.export_onnx(det.net, 416, 256) == blob
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("SVC_CACHE_DIR", str(tmp_path / "file" / "cache"))  # not a folder: nothing kept
    monkeypatch.setattr(R, "_ONNX_CACHE", {})
    monkeypatch.setattr(R, "_export", lambda *a: b"made")
    assert R.export_onnx(det.net, 416, 256) == b"made"
