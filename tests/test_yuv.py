"""Raw YUV I/O and CTC / Vooya file-name parsing."""
from fractions import Fraction

import numpy as np
import pytest

from svc.errors import InputError
from svc.io import open_source, parse_yuv_name
from svc.io.frames import VideoFormat
from svc.io.yuv import YuvReader, YuvWriter

from conftest import moving_clip, run_cli, write_yuv


@pytest.mark.parametrize("name, expected", [
    ("BasketballPass_416x240_50.yuv", dict(width=416, height=240, fps=Fraction(50))),
    ("RaceHorses_832x480_30.yuv", dict(width=832, height=480, fps=Fraction(30))),
    ("/data/ctc/Kimono1_1920x1080_24.yuv", dict(width=1920, height=1080, fps=Fraction(24))),
    ("Cactus_1920x1080_50_10bit.yuv", dict(width=1920, height=1080, fps=Fraction(50), bit_depth=10)),
    ("Johnny_1280x720_60_8bit.yuv", dict(width=1280, height=720, fps=Fraction(60), bit_depth=8)),
    ("foo_1280x720_60Hz_P420_8bit.yuv", dict(width=1280, height=720, fps=Fraction(60), bit_depth=8)),
    ("foo_1920x1080_29.97fps_P420_10b.yuv", dict(width=1920, height=1080, fps=Fraction("29.97"), bit_depth=10)),
    ("bar_640x360_25Hz_P42010.yuv", dict(width=640, height=360, fps=Fraction(25), bit_depth=10)),
    ("clip_352x288.yuv", dict(width=352, height=288)),
    ("noname.yuv", {}),
])
def test_parse_yuv_name(name, expected):
    assert parse_yuv_name(name) == expected


@pytest.mark.parametrize("bit_depth", [8, 10])
def test_yuv_round_trip_bit_exact(tmp_path, bit_depth):
    frames = moving_clip(64, 48, 5, bit_depth=bit_depth)
    fmt = VideoFormat(64, 48, Fraction(30), bit_depth)
    path = tmp_path / f"clip_64x48_30_{bit_depth}bit.yuv"
    with YuvWriter(path, fmt) as w:
        for f in frames:
            w.write(f)
    assert path.stat().st_size == 5 * fmt.frame_bytes
    src = open_source(path)
    assert src.format == fmt and src.num_frames == 5
    back = list(src)
    assert len(back) == 5
    for a, b in zip(frames, back):
        assert all(np.array_equal(p, q) and q.dtype == p.dtype for p, q in zip(a, b))


def test_real_file_reads(racehorses_yuv):
    src = open_source(racehorses_yuv)
    frames = list(src)
    assert src.format.width == 832 and len(frames) == 2
    assert 40 < frames[0].y.mean() < 200 and frames[0].u.shape == (240, 416)


def test_wrong_size_rejected_before_output(tmp_path, racehorses_yuv):
    wrong = tmp_path / "RaceHorses_416x240_30.yuv"   # the 832x480 bytes under a wrong geometry... 2 frames =
    wrong.write_bytes(racehorses_yuv.read_bytes()[:-100])  # ... and not a whole number of frames
    with pytest.raises(InputError, match="not a whole number"):
        YuvReader(wrong, VideoFormat(416, 240))
    out = tmp_path / "out.svc"
    p = run_cli("svc-encode", wrong, "-o", out, "--no-enhancement", check=False)
    assert p.returncode != 0 and b"not a whole number" in p.stderr
    assert len(p.stderr.decode().strip().splitlines()) == 1, "error must be one line"
    assert not out.exists() and not list(tmp_path.glob(".out.svc*.partial"))


@pytest.mark.parametrize("args, message", [
    (["--size", "175x144"], "odd"),
    (["--bit-depth", "12"], "invalid choice"),
    (["--size", "abc"], "must look like"),
])
def test_bad_geometry_messages(tmp_path, args, message):
    path = write_yuv(tmp_path / "clip.yuv", moving_clip(176, 144, 2))
    p = run_cli("svc-encode", path, "-o", tmp_path / "o.svc", "--no-enhancement", *args, check=False)
    assert p.returncode != 0 and message in p.stderr.decode()
    assert not (tmp_path / "o.svc").exists()


def test_av_source_reads_mp4(carphone_yuv):
    from conftest import CARPHONE_MP4
    src = open_source(CARPHONE_MP4)
    assert (src.format.width, src.format.height) == (176, 144)
    assert sum(1 for _ in src) == 120


def test_ctc_table_matches_file_names():
    from svc.config import read_yaml
    from svc.evaluation.runner import CTC_TABLE
    seqs = read_yaml(CTC_TABLE)["sequences"]
    assert len(seqs) == 13 and {s["class"] for s in seqs} == set("BCDE")
    for s in seqs:
        info = parse_yuv_name(s["file"] + ".yuv")
        assert (info["width"], info["height"], info["fps"]) == (s["width"], s["height"], s["fps"]), s
    stems = [s["file"] for s in seqs]
    assert "RaceHorses_832x480_30" in stems and "RaceHorses_416x240_30" in stems
