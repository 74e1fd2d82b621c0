"""GOP-aware streaming: chunked input, pipes, growing files, bounded memory, no torch on base paths."""
import io
import os
import subprocess
import sys
import threading
import time
import tracemalloc

import numpy as np
import pytest

from svc.bitstream import ContainerReader
from svc.config import load_config
from svc.io import open_source
from svc.io.memory import FrameCollector

from svc.pipeline.decode import decode
from svc.pipeline.encode import encode

from conftest import ROOT, moving_clip


def _cfg(gop=8):
    return load_config(overrides=[{"base": {"qp": 32, "gop": gop, "preset": "ultrafast"},
                                   "enhancement": {"enabled": False}}])




class Trickle(io.RawIOBase):
    """A pipe-like reader that returns at most ``chunk`` bytes per read."""

    def __init__(self, data, chunk):
        self.data, self.pos, self.chunk = data, 0, chunk

    def readable(self):
        return True

    def read(self, n=-1):
        n = self.chunk if n < 0 else min(n, self.chunk)
        out = self.data[self.pos:self.pos + n]
        self.pos += len(out)
        return out


@pytest.fixture(scope="module")
def stream(carphone_yuv):
    buf = io.BytesIO()
    encode(open_source(carphone_yuv, max_frames=40), buf, _cfg())
    return buf.getvalue()


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_chunked_input_same_frames(stream, chunk):
    a, b = FrameCollector(), FrameCollector()
    decode(io.BytesIO(stream), a)
    decode(Trickle(stream, chunk), b)
    assert len(a.frames) == len(b.frames) == 40
    assert all(all(np.array_equal(p, q) for p, q in zip(x, y)) for x, y in zip(a.frames, b.frames))


def test_first_gop_out_before_last_record_written(tmp_path, carphone_yuv):
    """The decoder emits GOP 0 while the encoder side of the pipe has not finished writing."""
    r, w = os.pipe()
    rf, wf = os.fdopen(r, "rb", buffering=0), os.fdopen(w, "wb")
    data = io.BytesIO()
    encode(open_source(carphone_yuv, max_frames=24), data, _cfg())
    blob = data.getvalue()
    reader_done = threading.Event()
    first_gop_time = []

    class Sink:
        n = 0

        def write(self, f):
            Sink.n += 1
            if Sink.n == 8:
                first_gop_time.append(time.monotonic())

    def consume():
        decode(rf, Sink())
        reader_done.set()

    t = threading.Thread(target=consume)
    t.start()
    recs = list(ContainerReader(io.BytesIO(blob)))
    header_len = recs[0].offset
    wf.write(blob[:recs[1].offset])  # header + GOP 0 only
    wf.flush()
    deadline = time.monotonic() + 20
    while not first_gop_time and time.monotonic() < deadline:
        time.sleep(0.01)
    assert first_gop_time, "GOP 0 was not emitted before the rest of the stream arrived"
    assert header_len > 0 and not reader_done.is_set()
    wf.write(blob[recs[1].offset:])
    wf.close()
    t.join(20)
    assert reader_done.is_set() and Sink.n == 24


def test_cli_pipe_encode_to_decode(tmp_path, carphone_yuv):
    out = tmp_path / "base.yuv"
    enc = subprocess.Popen([sys.executable, "-c", "from svc.cli import encode_main; encode_main()",
                            str(carphone_yuv), "-o", "-", "--no-enhancement", "--frames", "32", "--gop", "8",
                            "-q"], stdout=subprocess.PIPE, cwd=ROOT)
    dec = subprocess.run([sys.executable, "-c", "from svc.cli import decode_main; decode_main()", "-",
                          "--layer", "base", "-o", str(out), "-q"], stdin=enc.stdout, cwd=ROOT,
                         capture_output=True, timeout=120)
    enc.stdout.close()
    assert enc.wait(60) == 0 and dec.returncode == 0, dec.stderr
    assert out.stat().st_size == 32 * 176 * 144 * 3 // 2


def test_follow_growing_file(tmp_path, stream):
    path = tmp_path / "growing.svc"
    recs = list(ContainerReader(io.BytesIO(stream)))
    path.write_bytes(stream[:recs[2].offset])

    def grow():
        time.sleep(0.5)
        with open(path, "ab") as fh:
            fh.write(stream[recs[2].offset:])

    t = threading.Thread(target=grow)
    t.start()
    sink = FrameCollector()
    with open(path, "rb") as fh:
        decode(fh, sink, follow=True)
    t.join()
    assert len(sink.frames) == 40


def _peak_encode_memory(frames):
    src = moving_clip(176, 144, 40)
    class Src:
        format = open_source.__globals__["VideoFormat"](176, 144)
        num_frames = None
        def __iter__(self):
            # generate lazily so the source itself holds no frames
            for i in range(frames):
                yield src[i % len(src)]
    class Null(io.RawIOBase):
        def write(self, b):
            return len(b)
    tracemalloc.start()
    encode(Src(), Null(), _cfg(gop=8))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_memory_bounded_by_gop():
    small = _peak_encode_memory(24)
    large = _peak_encode_memory(240)
    # 10x more frames: peak Python-heap memory must stay within a few frames (38 kB each) of the short run
    assert large < small + 8 * 176 * 144 * 3 // 2, (small, large)


def test_base_paths_do_not_import_torch(tmp_path, stream):
    path = tmp_path / "s.svc"
    path.write_bytes(stream)
    code = ("import sys, io; from svc.cli.common import run_main;"
            "from svc.cli.decode import decode_command, extract_command, info_command;"
            f"run_main(decode_command, ['{path}', '--layer', 'base', '-o', '{tmp_path / 'b.yuv'}', '-q']);"
            f"run_main(extract_command, ['{path}', '-o', '{tmp_path / 'b.hevc'}', '-q']);"
            f"sys.stdout = io.StringIO(); run_main(info_command, ['{path}']); sys.stdout = sys.__stdout__;"
            "print('torch' in sys.modules)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode().strip().splitlines()[-1] == "False"


def test_full_decode_does_not_import_torch(tmp_path, carphone_yuv):
    """The full layer (block decoder and restoration network in ONNX Runtime) needs no torch: a decode
    pays no torch import; its frames equal the encoder's (the reference streams pin them)."""
    path = tmp_path / "s.svc"
    from svc.pipeline.encoder import Encoder

    src = open_source(carphone_yuv, max_frames=8)
    with open(path, "wb") as fh:
        Encoder.from_config(load_config(overrides=[{"base": {"qp": 37, "gop": 8, "preset": "ultrafast"}}]),
                            src.format).encode(src, fh)
    assert next(iter(ContainerReader(io.BytesIO(path.read_bytes())))).enhancement
    code = ("import sys; from svc.cli.common import run_main;"
            "from svc.cli.decode import decode_command;"
            f"run_main(decode_command, ['{path}', '--layer', 'full', '-o', '{tmp_path / 'f.yuv'}', '-q']);"
            "print('torch' in sys.modules, 'onnxruntime' in sys.modules)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode().strip().splitlines()[-1] == "False True"
    assert (tmp_path / "f.yuv").stat().st_size > 0


def test_full_decode_reads_ahead_only_from_complete_files(tmp_path, carphone_yuv):
    """The full layer restores the next GOP while block-decoding this one (``lookahead`` 1) when the
    stream is a complete file: the same frames as one GOP at a time, and a damaged enhancement payload
    still gives that GOP's base frames, reported under its own index. A pipe or a followed file is not
    read ahead (its next GOP may not exist yet)."""
    from svc.bitstream.container import ContainerReader
    from svc.pipeline.decoder import load_enhancement
    from svc.pipeline.stages import base_decode_stage, enhancement_decode_stage
    from svc.base import BaseDecoder

    import svc

    buf = io.BytesIO()
    svc.encode(carphone_yuv, buf, frames=12, gop=4, qp=37, enh_quality=0.6)
    data = bytearray(buf.getvalue())
    path = tmp_path / "s.svc"
    path.write_bytes(data)
    with open(path, "rb") as fh:
        assert ContainerReader(fh).complete_file
    with open(path, "rb") as fh:
        assert not ContainerReader(fh, follow=True).complete_file
    r, w = os.pipe()
    threading.Thread(target=lambda: (os.write(w, bytes(data)), os.close(w)), daemon=True).start()
    with os.fdopen(r, "rb") as fh:
        assert not ContainerReader(fh).complete_file

    def run(lookahead, damage=None):
        reader = ContainerReader(io.BytesIO(bytes(data)), on_error="skip")
        codec = load_enhancement(reader.header)
        reports = []
        gops = base_decode_stage(reader, BaseDecoder(reader.header.format))
        if damage is not None:
            gops = (_damaged(g, damage) for g in gops)
        out = list(enhancement_decode_stage(gops, codec, "skip", reports.append, lookahead=lookahead))
        return out, reports

    def _damaged(g, index):
        if g.record.index == index:
            g.record.payloads["enhancement"] = g.record.payloads["enhancement"][:40]   # cut short: refused
        return g

    a, _ = run(0)
    b, _ = run(1)
    assert [g.layer for g in a] == [g.layer for g in b] == ["full"] * 3
    assert all(np.array_equal(p, q) for x, y in zip(a, b) for f, h in zip(x.frames, y.frames) for p, q in zip(f, h))
    c, reports = run(1, damage=1)
    assert [g.layer for g in c] == ["full", "base", "full"]
    assert len(reports) == 1 and reports[0].startswith("GOP 1:")
    assert all(np.array_equal(p, q) for f, h in zip(c[2].frames, a[2].frames) for p, q in zip(f, h))


def test_encode_restores_ahead_only_for_complete_inputs(carphone_yuv):
    """The encoder restores the next GOP in a thread while block-coding this one when the input's
    length is known (a file, frames in memory), and codes a live input (unknown length: a pipe) one GOP
    at a time: the same bytes either way."""
    from svc.pipeline.encoder import Encoder

    cfg = load_config(overrides=[{"base": {"qp": 37, "gop": 4}, "enhancement": {"enabled": True, "quality": 0.5}}])
    src = open_source(carphone_yuv, max_frames=12)
    frames = list(src)

    class Live:                       # what a pipe gives: frames, a format, no length
        format = src.format
        num_frames = None

        def __iter__(self):
            return iter(frames)

    class Complete(Live):
        num_frames = len(frames)

    out = {}
    for name, source in (("live", Live()), ("complete", Complete())):
        buf = io.BytesIO()
        Encoder.from_config(cfg, src.format).encode(source, buf)
        out[name] = buf.getvalue()
    assert out["live"] == out["complete"] and len(out["live"]) > 1000
