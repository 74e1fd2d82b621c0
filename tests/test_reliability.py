"""Reliability and security (issue 21): one test per defect found by a hostile or careless user, and a
fuzz run of the reader over concatenated streams and trailing data."""
from __future__ import annotations

import io
import os
import signal
import stat
import struct
import subprocess
import sys
import threading
import time
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from svc.bitstream import ContainerReader
from svc.cli.common import run_main
from svc.io.outputs import output_file, output_path
from svc.config import load_config
from svc.errors import BitstreamError, InputError, ModelError
from svc.io import open_source
from svc.pipeline.encode import encode

from conftest import ROOT, write_yuv

BASE_CFG = load_config(overrides=[{"base": {"qp": 34, "gop": 6, "preset": "ultrafast"},
                                   "enhancement": {"enabled": False}}])


@pytest.fixture(scope="module")
def stream(carphone_yuv):
    """A real 12-frame base-only stream (2 GOPs) and its decoded base frames (raw bytes)."""
    buf = io.BytesIO()
    encode(open_source(carphone_yuv, max_frames=12), buf, BASE_CFG)
    return buf.getvalue()


@pytest.fixture(scope="module")
def full_stream(carphone_yuv, tmp_path_factory):
    """A real 12-frame two-layer stream on disk."""
    path = tmp_path_factory.mktemp("full") / "full.svc"
    cfg = load_config(overrides=[{"base": {"qp": 37, "gop": 6, "preset": "ultrafast"}}])
    from svc.enhancement import load_codec_for_encoding
    src = open_source(carphone_yuv, max_frames=12)
    with open(path, "wb") as fh:
        encode(src, fh, cfg, codec=load_codec_for_encoding(cfg, src.format))
    return path


def _cli(command: str, *args) -> int:
    """Runs a command in this process through the same entry point as the console script."""
    import importlib

    from svc.cli import COMMANDS
    module, fn, _ = COMMANDS[command]
    importlib.import_module(module)
    inner = getattr(sys.modules[module], {"main": "command", "decode_main": "decode_command",
                                          "extract_main": "extract_command", "info_main": "info_command"}[fn])
    return run_main(inner, [str(a) for a in args])


def _frames(data: bytes, layer="base"):
    from svc.api import decoders
    from svc.pipeline.decode import decode

    class Sink:
        def __init__(self):
            self.frames = []

        def write(self, f):
            self.frames.append(f.to_i420().tobytes())
    sink = Sink()
    report = decode(io.BytesIO(data), sink, layer, decoders()[0], on_error="skip")
    return sink.frames, report


def _one_line(err: str) -> bool:
    return len(err.strip().splitlines()) == 1 and "Traceback" not in err


# -- 1. no code execution from checkpoints ------------------------------------------------------------
class _Evil:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickled_checkpoints_are_refused_unrun(tmp_path, capsys):
    import torch

    from svc.checkpoint import load_checkpoint, save_checkpoint
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.ckpt"
    torch.save({"ema": _Evil(marker), "step": 1}, evil)
    (tmp_path / "ck").mkdir()
    torch.save({"model": _Evil(marker)}, tmp_path / "ck" / "last.ckpt")
    common = ["--out", tmp_path / "o.pt", "--clips", "skimage:astronaut:4", "--val-clips", "--cache-dir", tmp_path / "c",
              "--steps", "1", "--batch", "1", "--crop", "32", "--channels", "4", "--depth", "1"]
    for extra in (["--export-from", evil], ["--init-from", evil], ["--ckpt-dir", tmp_path / "ck", "--resume"]):
        capsys.readouterr()
        assert _cli("train", "restoration", *common, *extra) == 1, extra
        err = capsys.readouterr().err
        assert _one_line(err) and "not a plain-tensor svc checkpoint" in err, err
        assert not marker.exists(), "the checkpoint's pickle ran a command"
    # the format itself: nested training state round-trips as tensors + JSON (integer keys, RNG state)
    param = torch.nn.Parameter(torch.ones(3))
    param.grad = torch.full((3,), 0.5)
    opt = torch.optim.Adam([param])
    opt.step()
    import random
    state = {"opt": opt.state_dict(), "rng": random.Random(3).getstate(), "w": torch.arange(4.0), "cfg": {"a": (1, 2)}}
    save_checkpoint(tmp_path / "ok.ckpt", state)
    back = load_checkpoint(tmp_path / "ok.ckpt")
    assert torch.equal(back["w"], state["w"]) and back["cfg"] == {"a": [1, 2]}
    assert set(back["opt"]["state"]) == {0} and torch.equal(back["opt"]["state"][0]["exp_avg"],
                                                             state["opt"]["state"][0]["exp_avg"])
    r = random.Random()
    r.setstate((back["rng"][0], tuple(back["rng"][1]), back["rng"][2]))
    assert r.random() == random.Random(3).random()
    with pytest.raises(ModelError, match="not found"):
        load_checkpoint(tmp_path / "missing.ckpt")


# -- 2. device and FIFO outputs are written through, never replaced ----------------------------------
def test_device_and_fifo_outputs_are_written_in_place(tmp_path, stream, capsys):
    src = tmp_path / "s.svc"
    src.write_bytes(stream)
    assert _cli("decode", src, "--layer", "base", "-o", os.devnull, "-q") == 0
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    fifo = tmp_path / "out_fifo"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
    reader.start()
    assert _cli("decode", src, "--layer", "base", "-o", fifo, "-q") == 0
    reader.join(30)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode), "the named pipe was replaced by a regular file"
    frames, _ = _frames(stream)
    assert got == [b"".join(frames)]
    assert not list(tmp_path.glob(".*.partial"))


# -- 3. two commands writing one output never mix -----------------------------------------------------
def test_two_writers_of_one_output_never_mix(tmp_path, full_stream):
    out = tmp_path / "same.yuv"
    cmds = [[sys.executable, "-m", "svc", "decode", str(full_stream), "--layer", layer, "-o", str(out), "-q", "-y"]
            for layer in ("full", "base")]   # -y: whichever starts after the other finished may replace it
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen(c, env=env, cwd=ROOT) for c in cmds]
    assert [p.wait(300) for p in procs] == [0, 0]
    data = full_stream.read_bytes()
    whole = {layer: b"".join(_frames(data, layer)[0]) for layer in ("base", "full")}
    assert whole["base"] != whole["full"]
    assert out.read_bytes() in (whole["base"], whole["full"]), "the output mixes frames of both commands"
    # in one process: each writer has its own partial file, the last to finish wins whole
    target = tmp_path / "t.bin"
    with output_file(target) as a:
        with output_file(target) as b:
            b.write(b"B" * 10)
        a.write(b"A" * 20)
    assert target.read_bytes() == b"A" * 20
    # a partial file removed under the writer is an error, not a silent success
    with pytest.raises(InputError, match="removed"):
        with output_path(tmp_path / "gone.bin") as p:
            open(p, "wb").write(b"x")
            os.unlink(p)
    # live outputs (written in place) are locked: a second live writer is refused
    with output_file(tmp_path / "live.yuv", live=True) as fh:
        fh.write(b"x")
        with pytest.raises(InputError, match="another command is writing it"):
            with output_file(tmp_path / "live.yuv", live=True):
                pass


# -- 4. SIGTERM and SIGHUP clean up like SIGINT -------------------------------------------------------
@pytest.mark.parametrize("sig,status", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_stop_signals_clean_up(tmp_path, carphone_yuv, sig, status):
    out = tmp_path / "int.svc"
    p = subprocess.Popen([sys.executable, "-m", "svc", "encode", str(carphone_yuv), "-o", str(out),
                          "--no-enhancement", "--preset", "slow", "-q"], cwd=ROOT, stderr=subprocess.PIPE,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".int.svc.*.partial")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    p.send_signal(sig)
    _, err = p.communicate(timeout=60)
    assert p.returncode == status and f"stopped by {signal.Signals(sig).name}" in err.decode(), err
    assert not out.exists() and not list(tmp_path.glob(".int.svc*.partial"))


# -- 5. data after the end marker ---------------------------------------------------------------------
def test_concatenated_streams_decode_and_trailing_data_is_reported(tmp_path, stream, carphone_yuv, capsys):
    one, report = _frames(stream)
    assert len(one) == 12 and report.complete
    two, report = _frames(stream + stream)
    assert two == one + one and report.complete and report.gops == 4
    reader = ContainerReader(io.BytesIO(stream * 3), ("base",))
    recs = list(reader)
    assert [r.index for r in recs] == list(range(6)) and [r.first_frame for r in recs] == [0, 6, 12, 18, 24, 30]
    assert reader.streams == 3 and reader.trailing is None
    # garbage, a partial copy, or a stream with another header: decoded up to the marker, reported, exit 3
    other = io.BytesIO()
    encode(open_source(carphone_yuv, max_frames=6), other, load_config(overrides=[{
        "base": {"qp": 30, "gop": 3, "preset": "ultrafast"}, "enhancement": {"enabled": False}}]))
    for tail in (b"garbage!", stream[:50], other.getvalue()):
        frames, report = _frames(stream + tail)
        assert frames == one and not report.complete
        assert f"{len(tail)} bytes after the end marker" in report.trailing
        path = tmp_path / "t.svc"
        path.write_bytes(stream + tail)
        capsys.readouterr()
        assert _cli("decode", path, "--layer", "base", "-o", tmp_path / "t.yuv", "-q", "-y") == 3
        assert f"{len(tail)} bytes after the end marker" in capsys.readouterr().err
        assert _cli("info", path) == 3
        assert "bytes after the end marker" in capsys.readouterr().out


# -- 6. svc-info checks every payload's CRC -------------------------------------------------------------
def test_info_checks_every_payload_crc(tmp_path, full_stream, capsys):
    data = full_stream.read_bytes()
    recs = list(ContainerReader(io.BytesIO(data), ()))
    assert _cli("info", full_stream) == 0 and "whole" in capsys.readouterr().out
    second = recs[1]
    head = 16 + 9 * len(second.sizes) + 4
    for layer, at in (("base", second.offset + head + 20),
                      ("enhancement", second.offset + head + second.sizes["base"] + 5)):
        bad = bytearray(data)
        bad[at] ^= 0x10
        path = tmp_path / f"{layer}.svc"
        path.write_bytes(bytes(bad))
        assert _cli("info", path) == 3, layer
        out = capsys.readouterr().out
        assert f"{layer} payload CRC mismatch (GOP 1" in out and "whole" not in out


# -- 7. model ids in a header are names ---------------------------------------------------------------
def test_header_model_ids_are_names_never_paths(tmp_path, full_stream, capsys):
    import json

    from svc.bitstream.container import Header
    from svc.shipped import check_model_id, find_shipped
    for bad in ("../../../etc/passwd", "a/b", "..", "x\\y", "", "/abs", "..hidden", None, 3):
        with pytest.raises(ModelError, match="not a model name"):
            check_model_id(bad, "weights")
    with pytest.raises(ModelError, match="not a model name"):
        find_shipped({"id": "../../features/weights/nanodet-g-stage2-v4", "sha256": "0" * 64}, "tables",
                     ROOT / "svc" / "enhancement" / "weights", ".npz")
    # a forged stream whose header points the tables at another shipped file by a relative path
    data = full_stream.read_bytes()
    reader = ContainerReader(io.BytesIO(data), ())
    h = reader.header
    h.enhancement = json.loads(json.dumps(h.enhancement))
    h.enhancement["tables"]["id"] = "../../features/weights/nanodet-g-stage2-v4"
    old_len = len(Header.to_bytes(ContainerReader(io.BytesIO(data), ()).header))
    forged = tmp_path / "forged.svc"
    forged.write_bytes(h.to_bytes() + data[old_len:])
    capsys.readouterr()
    assert _cli("decode", forged, "--layer", "full", "-o", tmp_path / "f.yuv") == 1
    err = capsys.readouterr().err
    assert _one_line(err) and "not a model name" in err and not (tmp_path / "f.yuv").exists()


# -- 8. memory stays bounded in skip mode and in svc-info --------------------------------------------------
_RSS = ("import resource, sys; from svc.cli import main; code = 0\n"
        "try:\n    main(sys.argv[1:])\n"
        "except SystemExit as e:\n    code = e.code\n"
        "print('RSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, code, file=sys.stderr)")


def _peak_rss_mb(args, data: bytes) -> tuple[float, int]:
    p = subprocess.run([sys.executable, "-c", _RSS, *map(str, args)], input=data, capture_output=True, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    line = [x for x in p.stderr.decode().splitlines() if x.startswith("RSS ")][-1].split()
    return int(line[1]) / 1024, int(line[2]) if line[2] != "None" else 0


def test_reader_memory_is_bounded_by_what_it_holds(tmp_path, stream):
    from svc.bitstream.container import Limits
    claimed = Limits().max_base_bytes        # a record claiming the largest payload a reader accepts
    body = 96 << 20                          # ... of which 96 MiB arrive
    head = struct.pack("<4sIIHBB", b"SVCG", 0, 0, 6, 2, 0)
    end_of_header = len(ContainerReader(io.BytesIO(stream), ()).header.to_bytes())
    head += struct.pack("<BII", 0, 1000, zlib.crc32(b"\0" * 1000)) + struct.pack("<BII", 1, claimed, 0)
    head += struct.pack("<I", zlib.crc32(head))
    forged = stream[:end_of_header] + head + b"\0" * 1000 + b"\1" * body
    small, _ = _peak_rss_mb(["decode", "-", "--layer", "base", "-o", tmp_path / "a.yuv", "-q"], stream)
    # skip mode (stdin's default): the claimed enhancement payload is passed over in chunks
    peak, code = _peak_rss_mb(["decode", "-", "--layer", "base", "-o", tmp_path / "b.yuv", "-q"], forged)
    assert code == 3 and peak - small < 48, (small, peak)
    info = tmp_path / "forged.svc"
    info.write_bytes(forged)
    peak, code = _peak_rss_mb(["info", info], b"")
    assert code == 3 and peak - small < 48, (small, peak)
    # a payload it must hold (the full layer reads the enhancement): at most twice what arrived
    peak, code = _peak_rss_mb(["decode", "-", "--layer", "full", "-o", tmp_path / "c.yuv", "-q"], forged)
    assert code == 3 and peak - small < 2.5 * (body >> 20) + 48, (small, peak)


# -- 9, 10. values are checked before any coder opens; NaN and infinity are refused --------------------
def test_bad_values_are_one_line_errors(tmp_path, carphone_yuv, capsys):
    tiny = write_yuv(tmp_path / "tiny.yuv", [_gray(8, 8)] * 2)
    cases = [([carphone_yuv, "--fps", "nan"], "frame rate"), ([carphone_yuv, "--fps", "1/0"], "frame rate"),
             ([carphone_yuv, "--fps", "1e12"], "frame rate"), ([carphone_yuv, "--fps", "-5"], "frame rate"),
             ([tiny, "--size", "8x8"], "too small"), ([carphone_yuv, "--denoise", "nan"], "base.denoise"),
             ([carphone_yuv, "--qp", "inf"], "base.qp"), ([carphone_yuv, "--set", "enhancement.quality=nan"],
                                                           "enhancement.quality")]
    for args, message in cases:
        out = tmp_path / "o.svc"
        capsys.readouterr()
        assert _cli("encode", *args, "-o", out, "--frames", "2", "-q") == 1, args
        err = capsys.readouterr().err
        assert _one_line(err) and message in err, (args, err)
        assert not out.exists() and not list(tmp_path.glob(".o.svc*"))
    from svc.config import BaseConfig
    for v in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(InputError, match="base.qp"):
            BaseConfig(qp=v)


def _gray(w, h):
    from svc.io.frames import YuvFrame
    return YuvFrame(np.full((h, w), 128, np.uint8), np.full((h // 2, w // 2), 128, np.uint8),
                    np.full((h // 2, w // 2), 128, np.uint8))


def test_damaged_detector_cache_is_rebuilt(tmp_path, monkeypatch):
    from svc.analytics.detectors import nanodet_runtime as rt
    monkeypatch.setenv("SVC_CACHE_DIR", str(tmp_path))
    made = []
    good = rt._disk_cached("m.onnx", lambda: made.append(1) or b"model bytes")
    assert rt._disk_cached("m.onnx", lambda: made.append(1) or b"model bytes") == good and len(made) == 1
    (tmp_path / "m.onnx").write_bytes(b"model by")          # truncated by a crash or a full disk
    assert rt._disk_cached("m.onnx", lambda: made.append(1) or b"model bytes") == good and len(made) == 2
    assert (tmp_path / "m.onnx").read_bytes() == good     # repaired on disk
    (tmp_path / "m.onnx.sha256").unlink()                  # a cache written by an older svc: no hash
    assert rt._disk_cached("m.onnx", lambda: made.append(1) or b"model bytes") == good and len(made) == 3


# -- 11. training never writes over the shipped models by default ------------------------------------------
def test_training_never_writes_into_the_package_by_default(tmp_path, capsys):
    from svc.cli.train import build_parser
    from svc.enhancement.zoo import WEIGHTS_DIR
    shipped = WEIGHTS_DIR / "blockcoder-tables.npz"
    before = shipped.stat().st_mtime_ns
    assert build_parser().parse_args(["tables"]).out == "blockcoder-tables.npz"   # the current folder
    for args in (["tables", "--out", shipped, "--frames", "1"],
                 ["restoration", "--out", WEIGHTS_DIR / "svc-restore-v1.pt", "--steps", "1"]):
        capsys.readouterr()
        assert _cli("train", *args) == 1
        err = capsys.readouterr().err
        assert _one_line(err) and "--into-package" in err, err
    assert shipped.stat().st_mtime_ns == before


# -- 12. the smaller ones ------------------------------------------------------------------------------
def test_named_pipe_input_is_streamed(tmp_path, carphone_yuv):
    fifo = tmp_path / "x_176x144_30.yuv"
    os.mkfifo(fifo)
    data = carphone_yuv.read_bytes()[:6 * 176 * 144 * 3 // 2]
    feeder = threading.Thread(target=lambda: open(fifo, "wb").write(data))
    feeder.start()
    assert _cli("encode", fifo, "-o", tmp_path / "x.svc", "--no-enhancement", "-q") == 0
    feeder.join(30)
    frames, report = _frames((tmp_path / "x.svc").read_bytes())
    assert len(frames) == 6 and report.complete


def test_ten_bit_flag_on_eight_bit_data_is_refused(tmp_path, carphone_yuv, capsys):
    assert _cli("encode", carphone_yuv, "--bit-depth", "10", "-o", tmp_path / "x.svc", "--frames", "2", "-q") == 1
    err = capsys.readouterr().err
    assert _one_line(err) and "beyond 10-bit" in err and not (tmp_path / "x.svc").exists()


def test_stalled_pipe_ends_after_the_idle_timeout(stream):
    r, w = os.pipe()
    os.write(w, stream[:len(stream) // 2])            # the writer stalls half way, its end still open
    try:
        reader = ContainerReader(os.fdopen(r, "rb"), ("base",), follow=True, idle_timeout=1.0, on_error="skip")
        t0 = time.monotonic()
        recs = list(reader)
        assert time.monotonic() - t0 < 10
        assert reader.truncated or reader.lost or reader.errors
        assert len(recs) <= 1
    finally:
        os.close(w)


def test_location_is_named_once():
    e = BitstreamError(BitstreamError("feature payload CRC mismatch", 1, 500), 1)
    assert str(e).count("GOP 1") == 1 and str(e).count("byte offset 500") == 1


def test_closed_output_pipe_is_one_line(tmp_path, stream):
    src = tmp_path / "s.svc"
    src.write_bytes(stream)
    p = subprocess.Popen([sys.executable, "-m", "svc", "decode", str(src), "--layer", "base", "-o", "-", "-q"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    p.stdout.read(100)
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(60) == 1 and _one_line(err) and "closed by its reader" in err, err


# -- fuzz: concatenations, partial copies and trailing bytes --------------------------------------------
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(copies=st.integers(1, 3), cut=st.one_of(st.none(), st.integers(0, 2000)), tail=st.binary(max_size=64),
       on_error=st.sampled_from(["skip", "fail"]))
def test_fuzz_reader_over_concatenations(stream, copies, cut, tail, on_error):
    data = stream * copies + (stream[:cut] if cut is not None else b"") + tail
    reader = ContainerReader(io.BytesIO(data), ("base",), on_error=on_error)
    try:
        recs = list(reader)
    except BitstreamError:
        assert on_error == "fail"
        return
    assert len(recs) >= 2 * copies
    assert [r.index for r in recs] == list(range(len(recs)))
    extra = (stream[:cut] if cut is not None else b"") + tail
    if not extra:
        assert reader.trailing is None and reader.streams == copies and len(recs) == 2 * copies
    elif reader.streams == copies:
        assert reader.trailing is not None or reader.truncated or reader.errors
