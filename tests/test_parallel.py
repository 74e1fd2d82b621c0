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


_PEAK_RSS = """
import resource, sys, svc
s = svc.encode(sys.argv[1], sys.argv[2], gop=16, qp=37, preset="ultrafast", jobs=2, **eval(sys.argv[3]))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, s.gops, s.frames)
"""


def _long_input(path, frames, w=64, h=48):
    """A raw 4:2:0 file of ``frames`` small frames: a noise texture sliding sideways."""
    rng = np.random.default_rng(0)
    tex = rng.integers(0, 255, (h, w + 17), dtype=np.uint8)
    chroma = np.full(w * h // 2, 128, np.uint8).tobytes()
    with open(path, "wb") as f:
        for i in range(frames):
            f.write(np.ascontiguousarray(tex[:, i % 17:i % 17 + w]).tobytes() + chroma)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("frames, options", [(3000, {"no_enhancement": True}), (480, {})],
                         ids=["base-3000-frames", "full-480-frames"])
def test_long_input_codes_in_bounded_memory_with_the_same_bytes(tmp_path, frames, options):
    """svc-encode --jobs 2 on thousands of small frames: the main process's peak memory does not grow
    with the input (a short input's peak + 25 MB), and the bytes equal --jobs 1's."""
    import subprocess
    import sys

    peaks = {}
    for n in (frames // 10, frames):
        src = _long_input(tmp_path / f"long{n}_64x48_25.yuv", n)
        p = subprocess.run([sys.executable, "-c", _PEAK_RSS, str(src), str(tmp_path / f"{n}.svc"), repr(options)],
                           capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, p.stderr[-2000:]
        peak, gops, coded = map(int, p.stdout.split())
        assert (gops, coded) == (-(-n // 16), n)
        peaks[n] = peak
    assert peaks[frames] < peaks[frames // 10] + 25, peaks
    serial = tmp_path / "serial.svc"
    svc.encode(src, serial, gop=16, qp=37, preset="ultrafast", jobs=1, **options)
    assert serial.read_bytes() == (tmp_path / f"{frames}.svc").read_bytes()


def test_many_streams_share_one_pool_with_one_mot_file_each(streams, carphone_yuv, tmp_path):
    """svc-analyze a.svc b.svc -o DIR --jobs 2: one workers' pool for both streams, each stream its own
    tracker and file, the rows of analysing each stream alone."""
    from svc.cli.analyze import command as analyze_command
    from svc.cli.common import run_main

    other = tmp_path / "other.svc"
    raw = carphone_yuv.read_bytes()
    part = tmp_path / "part_176x144_30.yuv"
    part.write_bytes(raw[40 * 176 * 144 * 3 // 2:52 * 176 * 144 * 3 // 2])     # frames 40..51, another scene
    svc.encode(part, other, gop=4, qp=37, no_enhancement=True)
    inputs = [streams["full"], other]
    alone = []
    for i, s in enumerate(inputs):
        alone.append(tmp_path / f"alone{i}.txt")
        assert run_main(analyze_command, [str(s), "-o", str(alone[-1]), "-q"]) == 0
    assert run_main(analyze_command, [*map(str, inputs), "-o", str(tmp_path / "many"), "--detections",
                                      str(tmp_path / "dets"), "--jobs", "2", "-q"]) == 0
    assert sorted(p.name for p in (tmp_path / "many").iterdir()) == ["full.txt", "other.txt"]
    for s, a in zip(inputs, alone):
        assert (tmp_path / "many" / f"{s.stem}.txt").read_text() == a.read_text() != ""
        assert (tmp_path / "dets" / f"{s.stem}.txt").exists()
    # an output file where a folder is needed is refused before anything is read
    (tmp_path / "file.txt").write_text("x")
    assert run_main(analyze_command, [*map(str, inputs), "-o", str(tmp_path / "file.txt"), "-q", "-y"]) == 1


@pytest.mark.slow
@pytest.mark.xdist_group("ray")
def test_ray_gives_the_same_bytes_frames_and_rows(streams, carphone_yuv, local_ray, tmp_path):
    """--ray (a local Ray instance): encode, full decode and base analysis on Ray actors equal --jobs 1."""
    buf = {}
    for ray in (None, local_ray):
        out = io.BytesIO()
        svc.encode(carphone_yuv, out, frames=8, gop=4, qp=37, jobs=2 if ray else 1, ray=ray)
        buf[ray] = out.getvalue()
    assert buf[None] == buf[local_ray]
    serial = _frames(streams["full"], "full", 1)
    remote = [np.concatenate([f.y.ravel(), f.u.ravel(), f.v.ravel()])
              for f in svc.decode(streams["full"], "full", jobs=2, ray=local_ray)]
    assert len(serial) == len(remote) == 12 and all(np.array_equal(a, b) for a, b in zip(serial, remote))
    assert svc.analyze(streams["full"]) == svc.analyze(streams["full"], jobs=2, ray=local_ray) != []


@pytest.mark.parametrize("source", ["features", "latent"])
def test_parallel_layer_analysis_equals_serial(streams, carphone_yuv, tmp_path, source):
    """svc-analyze --from features / --from latent --jobs 2: each worker loads the layer; same rows."""
    from svc.cli.analyze import command as analyze_command
    from svc.cli.common import run_main

    stream = streams["latent"]
    if source == "features":
        stream = tmp_path / "f.svc"
        svc.encode(carphone_yuv, stream, frames=8, gop=4, qp=37, features=True, no_enhancement=True)
    outs = {}
    for jobs in (1, 2):
        outs[jobs] = (tmp_path / f"t{jobs}.txt", tmp_path / f"d{jobs}.txt")
        assert run_main(analyze_command, [str(stream), "-o", str(outs[jobs][0]), "--detections", str(outs[jobs][1]),
                                          "--from", source, "--jobs", str(jobs), "-q"]) == 0
    assert outs[1][0].read_text() == outs[2][0].read_text()
    assert outs[1][1].read_text() == outs[2][1].read_text() != ""


def test_parallel_latent_encode_gives_the_same_bytes(carphone_yuv):
    outs = {}
    for jobs in (1, 2):
        buf = io.BytesIO()
        svc.encode(carphone_yuv, buf, frames=4, gop=2, codec="latent", jobs=jobs)
        outs[jobs] = buf.getvalue()
    assert outs[1] == outs[2] and len(outs[1]) > 1000
