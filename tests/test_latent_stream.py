"""The learned latent codec inside the product (issue 23): ``svc-encode --codec latent`` writes a stream
whose records carry the base latents (machines) and the enhancement latents (viewers); ``svc-analyze
--from latent`` detects from the base latents alone, ``svc-decode --layer full`` reconstructs the
pictures, ``--layer base`` says where to go instead, ``svc-info`` names the layers and the model."""
from __future__ import annotations

import io

import numpy as np
import pytest

from svc.bitstream import ContainerReader
from svc.cli.analyze import command as analyze_command
from svc.cli.common import run_main
from svc.cli.decode import decode_command, info_command
from svc.cli.encode import command as encode_command
from svc.latent import zoo


@pytest.fixture(scope="module")
def latent_stream(carphone_yuv, tmp_path_factory):
    """4 carphone frames in 2 GOPs coded with the shipped latent codec, and the encoder's stderr."""
    folder = tmp_path_factory.mktemp("latent")
    path = folder / "lat.svc"
    assert run_main(encode_command, [str(carphone_yuv), "--codec", "latent", "--frames", "4", "--gop", "2",
                                     "-o", str(path)]) == 0
    return path


def _decode(path, tmp_path, *extra):
    out = tmp_path / "out.yuv"
    out.unlink(missing_ok=True)
    status = run_main(decode_command, [str(path), "--layer", "full", "-o", str(out), "-q", *extra])
    return status, (np.fromfile(out, np.uint8).reshape(-1, 144 * 3 // 2, 176) if out.exists() else None)


def test_latent_stream_round_trip(latent_stream, carphone_yuv, tmp_path, capsys):
    from svc.io import open_source
    from svc.latent.layer import load_latent_for_encoding
    from svc.config import load_config

    status, frames = _decode(latent_stream, tmp_path)
    assert status == 0 and frames.shape[0] == 4
    # the decoder reproduces exactly the pictures the encoder reconstructed
    layer = load_latent_for_encoding(load_config(overrides=[{"latent": {"enabled": True}}]))
    src = list(open_source(carphone_yuv, max_frames=4))
    _, _, recon = layer.encode_gop(src[:2])
    assert np.array_equal(frames[0], recon[0].to_i420()) and np.array_equal(frames[1], recon[1].to_i420())
    # two records, each with exactly the two latent layers
    recs = list(ContainerReader(io.BytesIO(latent_stream.read_bytes()), ()))
    assert [sorted(r.sizes) for r in recs] == [["latent_base", "latent_enhancement"]] * 2
    capsys.readouterr()
    assert run_main(info_command, [str(latent_stream)]) == 0
    out = capsys.readouterr().out
    assert "svc-latent-v1" in out and zoo.DEFAULT in out and "latent_base" in out and "kbps" in out


def test_base_layer_request_points_to_the_latent_paths(latent_stream, tmp_path, capsys):
    capsys.readouterr()
    assert run_main(decode_command, [str(latent_stream), "--layer", "base", "-o", str(tmp_path / "b.yuv")]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "svc-analyze --from latent" in err
    assert not (tmp_path / "b.yuv").exists()


def test_analysis_reads_the_base_latents_only(latent_stream, tmp_path, capsys):
    """Damaging every enhancement latent changes nothing for svc-analyze --from latent (it never reads
    them), while svc-decode --layer full refuses the stream in one line."""
    data = bytearray(latent_stream.read_bytes())
    recs = list(ContainerReader(io.BytesIO(bytes(data)), ()))
    for r in recs:
        head = 16 + 9 * len(r.sizes) + 4
        data[r.offset + head + r.sizes["latent_base"] + 10] ^= 0xFF
    damaged = tmp_path / "d.svc"
    damaged.write_bytes(bytes(data))
    rows = {}
    for name, path in (("clean", latent_stream), ("damaged", damaged)):
        out = tmp_path / f"{name}.txt"
        assert run_main(analyze_command, [str(path), "--from", "latent", "-o", str(out), "-q",
                                          "--detections", str(tmp_path / f"{name}.det")]) == 0
        rows[name] = (out.read_text(), (tmp_path / f"{name}.det").read_text())
    assert rows["clean"] == rows["damaged"]
    capsys.readouterr()
    status, _ = _decode(damaged, tmp_path)
    err = capsys.readouterr().err
    assert status == 1 and len(err.strip().splitlines()) == 1 and "latent_enhancement payload CRC" in err


def test_other_model_and_damaged_payloads_are_refused(latent_stream, tmp_path, capsys):
    data = latent_stream.read_bytes()
    header = ContainerReader(io.BytesIO(data), ()).header
    size = len(header.to_bytes())
    for entry, message in (({"id": "latent-v1", "sha256": "0" * 64}, "other latent codec model"),
                           ({"id": "latent-v0", "sha256": "0" * 64}, "does not have"),
                           ({"id": "../zoo", "sha256": "0" * 64}, "not a model name")):
        header.latent = {**header.latent, "model": entry}
        forged = tmp_path / "forged.svc"
        forged.write_bytes(header.to_bytes() + data[size:])
        capsys.readouterr()
        status, _ = _decode(forged, tmp_path)
        err = capsys.readouterr().err
        assert status == 1 and len(err.strip().splitlines()) == 1 and message in err, err
    # a base latent damaged inside (its record CRC recomputed): the codec's own check refuses it
    from svc.latent.layer import unpack_frames
    rec = list(ContainerReader(io.BytesIO(data), ("latent_base", "latent_enhancement")))[0]
    frames = unpack_frames(rec.payloads["latent_base"], rec.frame_count, "latent base")
    from svc.latent.layer import load_latent_for_decoding
    from svc.errors import BitstreamError
    layer = load_latent_for_decoding(ContainerReader(io.BytesIO(data), ()).header)
    bad = bytearray(frames[0])
    bad[len(bad) // 2] ^= 0x5A
    enh = unpack_frames(rec.payloads["latent_enhancement"], rec.frame_count, "latent enhancement")
    with pytest.raises(BitstreamError):
        layer.codec.decode_full(bytes(bad), enh[0])


def test_latent_options_are_checked(carphone_yuv, tmp_path, capsys):
    for args, message in ((["--latent-quality", "0.5"], "--codec latent"),
                          (["--codec", "latent", "--latent-quality", "1.5"], "latent"),
                          (["--codec", "latent", "--features"], "--codec latent")):
        capsys.readouterr()
        assert run_main(encode_command, [str(carphone_yuv), *args, "--frames", "2", "-o", str(tmp_path / "x.svc")]) == 1
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and message in err, (args, err)
        assert not (tmp_path / "x.svc").exists()


def test_shipped_latent_model_never_trained_on_an_evaluation_clip():
    """The weights record their training sources; none may come from an evaluation clip's video."""
    from svc.datasets.clips import EVAL_CLIPS
    from svc.latent.layer import _load

    sources = _load(None).meta.get("train_sources")
    assert sources, "the shipped latent model does not record its training sources"
    videos = {"carphone": "carphone", "racehorses": "racehorses", "bikes": "bikes", "bbb": "bigbuckbunny"}
    assert set(EVAL_CLIPS) <= set(videos)
    for s in sources:
        assert not any(v in s.lower() or name in s.lower().split(":")[0] for name, v in videos.items()), s


def test_models_on_the_model_path_decode_without_touching_the_package(latent_stream, tmp_path, monkeypatch):
    """A retrained model lives outside the package: $SVC_MODEL_PATH is searched first, by name and SHA-256."""
    import shutil

    from svc.latent import zoo
    data = latent_stream.read_bytes()
    header = ContainerReader(io.BytesIO(data), ()).header
    size = len(header.to_bytes())
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(zoo.path_of(zoo.DEFAULT), folder / "latent-retrained.pt")
    header.latent = {**header.latent, "model": {**header.latent["model"], "id": "latent-retrained"}}
    forged = tmp_path / "retrained.svc"
    forged.write_bytes(header.to_bytes() + data[size:])
    assert _decode(forged, tmp_path)[0] == 1          # not on the model path: refused
    monkeypatch.setenv("SVC_MODEL_PATH", str(folder))
    status, frames = _decode(forged, tmp_path)
    status_shipped, shipped = _decode(latent_stream, tmp_path)
    assert status == status_shipped == 0 and np.array_equal(frames, shipped)
