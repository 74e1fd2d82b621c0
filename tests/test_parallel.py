"""GOP-parallel decoding (issue 26, decode part): --jobs N gives the same frames, in order, as --jobs 1,
for every layer kind, and reports damage the same way."""
from __future__ import annotations

import io

import numpy as np
import pytest

import svc
from svc.pipeline.decode import DecodeReport


@pytest.fixture(scope="module")
def streams(carphone_yuv, tmp_path_factory):
    folder = tmp_path_factory.mktemp("par")
    out = {}
    for name, options in (("full", {"gop": 4, "qp": 37}), ("latent", {"gop": 2, "codec": "latent"})):
        out[name] = folder / f"{name}.svc"
        svc.encode(carphone_yuv, out[name], frames=12 if name == "full" else 4, **options)
    return out


def _frames(stream, layer, jobs, report=None, on_error="fail"):
    return [np.concatenate([f.y.ravel(), f.u.ravel(), f.v.ravel()]) for f in
            svc.decode(stream, layer, jobs=jobs, report=report, on_error=on_error)]


@pytest.mark.parametrize("name,layer", [("full", "full"), ("full", "base"), ("latent", "full")])
def test_parallel_decode_equals_serial(streams, name, layer):
    serial, parallel = _frames(streams[name], layer, 1), _frames(streams[name], layer, 2)
    assert len(serial) == len(parallel) > 0 and all(np.array_equal(a, b) for a, b in zip(serial, parallel))


def test_parallel_decode_reports_damage_as_serial(streams, tmp_path):
    from svc.bitstream import ContainerReader
    data = bytearray(streams["full"].read_bytes())
    rec = list(ContainerReader(io.BytesIO(bytes(data)), ()))[1]
    data[rec.offset + 16 + 9 * len(rec.sizes) + 4 + rec.sizes["base"] + 3] ^= 0xFF   # GOP 1's enhancement
    reports = {jobs: DecodeReport() for jobs in (1, 2)}
    frames = {jobs: _frames(bytes(data), "full", jobs, reports[jobs], "skip") for jobs in (1, 2)}
    assert all(np.array_equal(a, b) for a, b in zip(frames[1], frames[2])) and len(frames[2]) == 12
    assert len(reports[1].base_only) == len(reports[2].base_only) == 1 and not reports[2].complete
    with pytest.raises(svc.errors.BitstreamError, match="CRC"):
        _frames(bytes(data), "full", 2)


def test_parallel_analysis_equals_serial(streams, tmp_path):
    from svc.cli.analyze import command as analyze_command
    from svc.cli.common import run_main
    outs = {}
    for jobs in (1, 2):
        outs[jobs] = (tmp_path / f"t{jobs}.txt", tmp_path / f"d{jobs}.txt")
        assert run_main(analyze_command, [str(streams["full"]), "-o", str(outs[jobs][0]), "--detections",
                                          str(outs[jobs][1]), "--jobs", str(jobs), "-q"]) == 0
    assert outs[1][0].read_text() == outs[2][0].read_text() and outs[1][0].read_text()
    assert outs[1][1].read_text() == outs[2][1].read_text()


@pytest.mark.parametrize("options", [{"qp": 37}, {"qp": 37, "features_on_base": True, "no_enhancement": True},
                                     {"qp": 37, "denoise": 10, "enh_tiles": 4}])
def test_parallel_encode_gives_the_same_bytes(carphone_yuv, options):
    """svc-encode --jobs 2: GOPs coded by two worker processes, written in order, byte-identical."""
    outs = {}
    for jobs in (1, 2):
        buf = io.BytesIO()
        s = svc.encode(carphone_yuv, buf, frames=12, gop=4, jobs=jobs, **options)
        outs[jobs] = (buf.getvalue(), s)
    assert outs[1][0] == outs[2][0] and outs[1][1].gops == outs[2][1].gops == 3
    assert outs[1][1].psnr_viewer == outs[2][1].psnr_viewer          # the summary sees the same pictures
    assert [g["record_bytes"] for g in outs[1][1].per_gop] == [g["record_bytes"] for g in outs[2][1].per_gop]
