"""Damaged, truncated and hostile bitstreams; encoder input errors; determinism (property-based)."""
import io
import struct
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from svc.base import BaseDecoder
from svc.bitstream import ContainerReader, Limits
from svc.bitstream.container import MAGIC, VERSION
from svc.config import load_config
from svc.errors import BitstreamError, SvcError, TruncatedError
from svc.io import open_source

from svc.pipeline.encode import encode

from conftest import ROOT, run_cli

CFG = load_config(overrides=[{"base": {"qp": 34, "gop": 6, "preset": "ultrafast"}, "enhancement": {"enabled": False}}])


@pytest.fixture(scope="module")
def clean(carphone_yuv):
    """A real 24-frame stream (4 GOPs), its record offsets and its decoded frames per GOP."""
    buf = io.BytesIO()
    encode(open_source(carphone_yuv, max_frames=24), buf, CFG)
    data = buf.getvalue()
    reader = ContainerReader(io.BytesIO(data))
    dec = BaseDecoder(reader.header.format)
    recs = list(reader)
    ends = [r.offset for r in recs[1:]] + [len(data) - 16]
    gops = [[f.y.copy() for f in dec.decode(r.base)] for r in recs]
    return data, [(r.offset, e) for r, e in zip(recs, ends)], gops


def _decode_all(data, on_error="fail"):
    """Decoded Y planes per GOP index, the error raised (or None) and the reader's skip list."""
    out, err = {}, None
    reader = None
    try:
        reader = ContainerReader(io.BytesIO(data), on_error=on_error)
        dec = BaseDecoder(reader.header.format)
        for rec in reader:
            out[rec.index] = [f.y for f in dec.decode(rec.base, rec.index)]
    except SvcError as e:
        err = e
    return out, err, (reader.errors if reader else [])


def _check_intact_prefix(clean, damaged_from, out):
    data, spans, gops = clean
    for i, (start, end) in enumerate(spans):
        if end <= damaged_from:
            assert i in out, f"intact GOP {i} (bytes {start}..{end}) lost; damage at {damaged_from}"
            assert all(np.array_equal(a, b) for a, b in zip(out[i], gops[i]))


mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10 ** 9), st.integers(1, 255)),
    st.tuples(st.just("insert"), st.integers(0, 10 ** 9), st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("delete"), st.integers(0, 10 ** 9), st.integers(1, 200)),
    st.tuples(st.just("truncate"), st.integers(0, 10 ** 9), st.just(0)),
)


def _mutate(data, m):
    kind, pos, arg = m
    if not data:
        return data, 0
    pos %= len(data)
    if kind == "flip":
        return data[:pos] + bytes([data[pos] ^ arg]) + data[pos + 1:], pos
    if kind == "insert":
        return data[:pos] + arg + data[pos:], pos
    if kind == "delete":
        return data[:pos] + data[pos + arg:], pos
    return data[:pos], pos


@settings(max_examples=60, deadline=5000, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(mutations=st.lists(mutation, min_size=1, max_size=3), on_error=st.sampled_from(["fail", "skip"]))
def test_damage_never_crashes_and_keeps_intact_gops(clean, mutations, on_error):
    data, first = clean[0], None
    for m in mutations:
        data, pos = _mutate(data, m)
        first = pos if first is None else min(first, pos)
    t = time.monotonic()
    out, err, skipped = _decode_all(data, on_error)  # only SvcError may escape (anything else fails the test)
    assert time.monotonic() - t < 5
    _check_intact_prefix(clean, first, out)
    if err is None and on_error == "fail" and data != clean[0]:
        # undetected damage may only be damage that changes nothing we decode
        assert len(out) == len(clean[2])


def test_truncation_everywhere_decodes_complete_gops(clean):
    data, spans, gops = clean
    for cut in range(0, len(data), 97):
        out, err, _ = _decode_all(data[:cut])
        assert isinstance(err, BitstreamError), cut
        _check_intact_prefix(clean, cut, out)
        assert len(out) == sum(1 for s, e in spans if e <= cut)


def test_truncated_message_names_gop_and_offset(clean):
    data, spans, _ = clean
    cut = spans[2][0] + 50
    out, err, _ = _decode_all(data[:cut])
    assert isinstance(err, TruncatedError) and sorted(out) == [0, 1]
    assert "GOP 2" in str(err) and "byte offset" in str(err)


def test_skip_policy_resyncs_after_damaged_gop(clean):
    data, spans, gops = clean
    s, e = spans[1]
    bad = data[:s + 60] + bytes(b ^ 0x55 for b in data[s + 60:s + 90]) + data[s + 90:]
    out, err, skipped = _decode_all(bad, "skip")
    assert err is None and sorted(out) == [0, 2, 3] and len(skipped) == 1
    assert "GOP 1" in str(skipped[0])
    for i in (0, 2, 3):
        assert all(np.array_equal(a, b) for a, b in zip(out[i], gops[i]))
    out, err, _ = _decode_all(bad, "fail")
    assert isinstance(err, BitstreamError) and "CRC" in str(err) and sorted(out) == [0]


def _header(w=176, h=144, gop=8, meta=b"{}", version=VERSION):
    body = struct.pack("<IIBBIII", w, h, 8, 1, 30, 1, gop) + struct.pack("<I", len(meta)) + meta
    crc_part = bytes([version]) + struct.pack("<I", len(body)) + body
    return MAGIC + crc_part + struct.pack("<I", zlib.crc32(crc_part))


@pytest.mark.parametrize("blob, message", [
    (b"", "bad magic"),
    (b"RIFF....", "bad magic"),
    (_header(100000, 100000), "exceeds the limit"),
    (_header(gop=100000), "GOP size"),
    (_header(version=9), "unsupported container version"),
    (MAGIC + bytes([VERSION]) + struct.pack("<I", (4 << 30) - 1), "header length"),
    (_header()[:-1] + b"\x00", "CRC"),
])
def test_hostile_headers_refused(blob, message):
    with pytest.raises(BitstreamError, match=message):
        ContainerReader(io.BytesIO(blob))


def _record_head(frames, *entries):
    head = struct.pack("<4sIIHBB", b"SVCG", 0, 0, frames, len(entries), 0)
    head += b"".join(struct.pack("<BII", *e) for e in entries)
    return head + struct.pack("<I", zlib.crc32(head))


def test_huge_payload_claim_refused_before_allocation():
    blob = _header() + _record_head(8, (0, (4 << 30) - 1, 0))
    with pytest.raises(BitstreamError, match="beyond the limit"):
        list(ContainerReader(io.BytesIO(blob)))
    blob = _header() + _record_head(60000, (0, 10, 0))
    with pytest.raises(BitstreamError, match="frames"):
        list(ContainerReader(io.BytesIO(blob), limits=Limits(max_gop_frames=1024)))
    for entries in (((0, 1, 0), (0, 1, 0)), ((1, 1, 0), (0, 1, 0)), ((7, 1, 0),)):  # repeated, unordered, unknown
        with pytest.raises(BitstreamError, match="layer table"):
            list(ContainerReader(io.BytesIO(_header() + _record_head(8, *entries))))


def test_version_1_streams_are_refused_by_name():
    with pytest.raises(BitstreamError, match="version-1 svc stream"):
        ContainerReader(io.BytesIO(_header(version=1)))


def test_cli_damaged_file_exit_status_and_one_line(tmp_path, clean):
    data, spans, _ = clean
    s, _ = spans[1]
    bad = tmp_path / "bad.svc"
    bad.write_bytes(data[:s + 60] + b"\xff" * 10 + data[s + 70:])
    p = run_cli("svc-decode", bad, "--layer", "base", "-o", tmp_path / "x.yuv", check=False)
    assert p.returncode == 1 and len(p.stderr.decode().strip().splitlines()) == 1 and "CRC" in p.stderr.decode()
    p = run_cli("svc-decode", bad, "--layer", "base", "-o", tmp_path / "y.yuv", "--on-error", "skip", check=False)
    assert p.returncode == 3 and "1 damaged GOP" in p.stderr.decode()
    assert (tmp_path / "y.yuv").stat().st_size == 18 * 176 * 144 * 3 // 2
    p = run_cli("svc-decode", bad, "--layer", "base", "-o", tmp_path / "z.yuv", "--debug", check=False)
    assert b"Traceback" in p.stderr


def test_encoder_input_errors_leave_no_output(tmp_path):
    cases = [(tmp_path / "missing_176x144_30.yuv", "cannot read"),
             (tmp_path / "empty_176x144_30.yuv", "empty"),
             (tmp_path / "noname.yuv", "cannot tell the frame size"),
             (tmp_path / "garbage.mp4", "cannot read")]
    (tmp_path / "empty_176x144_30.yuv").write_bytes(b"")
    (tmp_path / "noname.yuv").write_bytes(b"\x00" * 100)
    (tmp_path / "garbage.mp4").write_bytes(b"not a video at all" * 10)
    for path, message in cases:
        out = tmp_path / "out.svc"
        p = run_cli("svc-encode", path, "-o", out, "--no-enhancement", check=False)
        assert p.returncode == 1 and message in p.stderr.decode(), (path, p.stderr)
        assert len(p.stderr.decode().strip().splitlines()) == 1
        assert not out.exists() and not list(tmp_path.glob(".out.svc*.partial"))


def test_interrupted_encode_leaves_no_output(tmp_path, carphone_yuv):
    import signal
    out = tmp_path / "int.svc"
    p = subprocess.Popen([sys.executable, "-c", "from svc.cli import encode_main; encode_main()", str(carphone_yuv),
                          "-o", str(out), "--no-enhancement", "--preset", "slow", "-q"], cwd=ROOT,
                         stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".int.svc.*.partial")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    p.send_signal(signal.SIGINT)
    rc = p.wait(60)
    assert rc == 130, (rc, p.stderr.read().decode(errors="replace")[-2000:])
    assert not out.exists() and not list(tmp_path.glob(".int.svc*.partial"))


def test_deterministic_across_runs_and_processes(tmp_path, carphone_yuv):
    a, b = tmp_path / "a.svc", tmp_path / "b.svc"
    for out in (a, b):
        run_cli("svc-encode", carphone_yuv, "-o", out, "--frames", "20", "--no-enhancement")
    buf = io.BytesIO()
    encode(open_source(carphone_yuv, max_frames=20), buf, load_config(overrides=[{"enhancement": {"enabled": False}}]))
    assert a.read_bytes() == b.read_bytes() == buf.getvalue()


def test_signal_inside_a_library_is_an_interruption_not_a_crash():
    """SIGINT landing inside a library that turns the KeyboardInterrupt into its own error (numpy's C
    import raises ImportError; seen under load when the signal hit a lazy import): exit status 130 and
    the interruption's one line, not a traceback."""
    import os
    import signal

    from svc.cli.common import run_main

    def main(argv):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        except KeyboardInterrupt:
            raise ImportError("numpy._core.multiarray failed to import") from None

    assert run_main(main, []) == 130

    def crash(argv):
        raise ImportError("a real import error")

    with pytest.raises(ImportError):            # without a signal an error is still an error
        run_main(crash, [])
