"""The Python API (issue 25): encode, decode both layers, analyze and info on a real clip, with the
command line's defaults; the CLI builds its configuration and sources through the same functions."""
from __future__ import annotations

import io

import numpy as np
import pytest

import svc
from svc.errors import InputError


@pytest.fixture(scope="module")
def stream(carphone_yuv, tmp_path_factory):
    out = tmp_path_factory.mktemp("api") / "api.svc"
    summary = svc.encode(carphone_yuv, out, frames=6, gop=3, qp=37, enh_quality=0.5)
    return out, summary


def test_round_trip_through_the_api(stream, carphone_yuv):
    from svc.io import open_source
    from svc.metrics.quality import PsnrAccumulator

    path, s = stream
    assert s.frames == 6 and s.gops == 2 and s.enh_bytes > 0 and s.psnr_full.y > s.psnr_base.y
    base = list(svc.decode(path, layer="base"))
    full = list(svc.decode(path.read_bytes(), layer="full"))
    assert [f.index for f in full] == list(range(6)) and full[0].y.shape == (144, 176) and full[0].u.dtype == np.uint8
    acc = PsnrAccumulator()
    for o, f in zip(open_source(carphone_yuv, max_frames=6), full):
        acc.add(o, f[:3])
    assert acc.mean().y == pytest.approx(s.psnr_full.y, abs=1e-9)     # the decoder sees what the encoder saw
    assert not np.array_equal(base[0].y, full[0].y)
    info = svc.info(path)
    assert info["frames"] == 6 and info["integrity"]["whole"] and info["layers"]["enhancement"]["quality"] == 0.5


def test_analyze_returns_typed_rows_with_the_cli_defaults(stream, tmp_path):
    from svc.cli.analyze import command as analyze_command
    from svc.cli.common import run_main

    path, _ = stream
    dets = []
    rows = svc.analyze(path, detections=dets)
    assert rows and all(isinstance(r, svc.MotRow) for r in rows) and rows[0].cls == 0 and rows[0].frame >= 1
    assert dets and all(d.id == -1 for d in dets)
    out = tmp_path / "t.txt"
    assert run_main(analyze_command, [str(path), "-o", str(out), "-q"]) == 0
    from svc.analytics.mot_io import read_mot
    cli = read_mot(out)
    assert len(cli) == len(rows) and np.allclose(cli[:, :8], np.array([list(r) for r in rows]), atol=0.01)


def test_encode_from_frames_and_to_a_file_object(carphone_yuv):
    from svc.io import open_source

    frames = list(open_source(carphone_yuv, max_frames=4))
    buf = io.BytesIO()
    s = svc.encode(frames, buf, fps=25, no_enhancement=True, set={"base.preset": "ultrafast"})
    assert s.frames == 4 and s.enh_bytes == 0
    info = svc.info(buf.getvalue())
    assert info["format"]["fps_fraction"] == "25/1" and info["layers"]["base"]["preset"] == "ultrafast"
    assert len(list(svc.decode(buf.getvalue()))) == 4


def test_bad_options_are_one_line_errors(carphone_yuv, tmp_path):
    for options, message in (({"qpp": 3}, "unknown encode option"), ({"qp": 80}, "--qp"),
                             ({"qp": 30, "crf": 30}, "give one"), ({"latent_quality": 0.5}, "--codec latent")):
        with pytest.raises(InputError, match=message):
            svc.encode(carphone_yuv, tmp_path / "x.svc", frames=2, **options)
        assert not (tmp_path / "x.svc").exists()
    with pytest.raises(InputError, match="layer"):
        list(svc.decode(b"", layer="middle"))


def test_low_level_full_decode_without_a_loader_is_a_clear_error(stream):
    """The pipeline function names what it needs instead of failing with a TypeError."""
    from svc.pipeline.decode import decode

    class Sink:
        def write(self, frame):
            pass
    path, _ = stream
    with pytest.raises(InputError, match="codec_loader"):
        decode(io.BytesIO(path.read_bytes()), Sink(), "full")
