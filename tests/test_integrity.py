"""Container integrity: a missing, repeated, reordered or truncated GOP is never silent."""
import io

import pytest

from svc.bitstream import ContainerReader
from svc.config import load_config
from svc.errors import BitstreamError, TruncatedError
from svc.io import open_source
from svc.pipeline.encode import encode

from conftest import run_cli

CFG = load_config(overrides=[{"base": {"qp": 34, "gop": 6, "preset": "ultrafast"}, "enhancement": {"enabled": False}}])
FRAME_BYTES = 176 * 144 * 3 // 2


@pytest.fixture(scope="module")
def stream(carphone_yuv):
    """A real 24-frame stream (4 GOPs of 6): (bytes, [(start, end) of each record], end-marker start)."""
    buf = io.BytesIO()
    encode(open_source(carphone_yuv, max_frames=24), buf, CFG)
    data = buf.getvalue()
    recs = list(ContainerReader(io.BytesIO(data)))
    end_marker = len(data) - 16
    spans = [(r.offset, nxt) for r, nxt in zip(recs, [r.offset for r in recs[1:]] + [end_marker])]
    return data, spans, end_marker


def _without(data, spans, *gops):
    keep, pos = [], 0
    for g in sorted(gops):
        keep.append(data[pos:spans[g][0]])
        pos = spans[g][1]
    return b"".join(keep) + data[pos:]


def _read(data, on_error):
    r = ContainerReader(io.BytesIO(data), on_error=on_error)
    return [rec.index for rec in r], r


def test_clean_stream_is_whole(stream):
    idx, r = _read(stream[0], "skip")
    assert idx == [0, 1, 2, 3] and not r.errors and not r.lost and r.truncated is None and r.end_counts == (4, 24)


def test_missing_gop_fails_naming_it(stream, tmp_path):
    data, spans, _ = stream
    cut = _without(data, spans, 1)
    with pytest.raises(BitstreamError, match=r"GOP 1 \(frames 6..11, 6 frames\) lost: missing"):
        _read(cut, "fail")
    idx, r = _read(cut, "skip")
    assert idx == [0, 2, 3] and [(x.first_index, x.count, x.frames) for x in r.lost] == [(1, 1, 6)]
    # the command line: fail -> one line, exit 1, no output file; skip -> the other 18 frames, exit 3
    src = tmp_path / "cut.svc"
    src.write_bytes(cut)
    out = tmp_path / "o.yuv"
    p = run_cli("svc-decode", src, "--layer", "base", "-o", out, check=False)
    assert p.returncode == 1 and b"GOP 1" in p.stderr and not out.exists()
    assert len(p.stderr.decode().strip().splitlines()) == 1
    p = run_cli("svc-decode", src, "--layer", "base", "-o", out, "--on-error", "skip", check=False)
    assert p.returncode == 3 and b"GOP 1 (frames 6..11, 6 frames) lost" in p.stderr
    assert out.stat().st_size == 18 * FRAME_BYTES


def test_missing_last_gop_is_caught_by_the_end_marker(stream):
    data, spans, _ = stream
    cut = _without(data, spans, 3)
    with pytest.raises(BitstreamError, match=r"GOP 3 .* lost: missing from the stream before the end marker"):
        _read(cut, "fail")
    idx, r = _read(cut, "skip")
    assert idx == [0, 1, 2] and [(x.first_index, x.frames) for x in r.lost] == [(3, 6)]


def test_duplicated_and_reordered_gops(stream):
    data, spans, end = stream
    rec = [data[s:e] for s, e in spans]
    head, tail = data[:spans[0][0]], data[end:]
    dup = head + rec[0] + rec[1] + rec[1] + rec[2] + rec[3] + tail
    with pytest.raises(BitstreamError, match="GOP 1 arrives again or out of order"):
        _read(dup, "fail")
    idx, r = _read(dup, "skip")
    assert idx == [0, 1, 2, 3] and len(r.errors) == 1 and not r.lost
    swapped = head + rec[0] + rec[2] + rec[1] + rec[3] + tail
    with pytest.raises(BitstreamError, match="GOP 1 .* lost"):
        _read(swapped, "fail")
    idx, r = _read(swapped, "skip")
    assert idx == [0, 2, 3] and [x.first_index for x in r.lost] == [1] and len(r.errors) == 1


def test_truncated_stream_is_reported(stream, tmp_path):
    data, spans, end = stream
    for cut, what, kept in ((data[:end], "without its end marker", [0, 1, 2, 3]),
                            (data[:spans[2][0] + 50], "ends inside", [0, 1])):
        with pytest.raises(TruncatedError, match=what):
            _read(cut, "fail")
        idx, r = _read(cut, "skip")
        assert r.truncated is not None and idx == kept
    src = tmp_path / "t.svc"
    src.write_bytes(data[:end])
    out = tmp_path / "o.yuv"
    p = run_cli("svc-decode", src, "--layer", "base", "-o", out, check=False)
    assert p.returncode == 1 and b"truncated" in p.stderr and not out.exists()
    p = run_cli("svc-decode", src, "--layer", "base", "-o", out, "--on-error", "skip", check=False)
    assert p.returncode == 3 and b"without its end marker" in p.stderr and out.stat().st_size == 24 * FRAME_BYTES


def test_live_stream_without_end_marker_says_so(stream, tmp_path):
    data, _, end = stream
    out = tmp_path / "o.yuv"
    p = run_cli("svc-decode", "-", "--layer", "base", "-o", out, input=data[:end], check=False)
    assert p.returncode == 3 and b"without its end marker" in p.stderr
    assert out.stat().st_size == 24 * FRAME_BYTES


def test_info_reports_integrity(stream, tmp_path):
    data, spans, _ = stream
    src = tmp_path / "cut.svc"
    src.write_bytes(_without(data, spans, 2))
    p = run_cli("svc-info", src, check=False)
    assert p.returncode == 3 and b"GOP 2 (frames 12..17, 6 frames) lost" in p.stdout
    src.write_bytes(data)
    assert b"integrity: whole" in run_cli("svc-info", src).stdout


def test_extract_refuses_a_gap(stream, tmp_path):
    data, spans, _ = stream
    src = tmp_path / "cut.svc"
    src.write_bytes(_without(data, spans, 1))
    out = tmp_path / "b.hevc"
    p = run_cli("svc-extract", src, "-o", out, check=False)
    assert p.returncode == 1 and b"GOP 1" in p.stderr and not out.exists()
