"""Outputs other tools read and the command-line habits of the field (issue 25, in part): --version on
every command, svc-info --json, JSON with null (never NaN), --crf and --x265-params."""
from __future__ import annotations

import io
import json
from fractions import Fraction

import pytest

from svc.cli import COMMANDS
from svc.cli.common import run_main
from svc.cli.decode import info_command
from svc.cli.encode import command as encode_command

from conftest import run_cli


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_version(command):
    from svc import __version__
    p = run_cli(f"svc-{command}", "--version")
    assert p.stdout.decode().strip() == f"svc-{command} (svc) {__version__}"


def test_info_json_parses_and_names_every_layer(tmp_path, carphone_yuv, capsys):
    out = tmp_path / "s.svc"
    assert run_main(encode_command, [str(carphone_yuv), "--frames", "6", "--gop", "3", "-o", str(out), "-q"]) == 0
    capsys.readouterr()
    assert run_main(info_command, [str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"]["width"] == 176 and info["format"]["fps_fraction"] == "30/1" and info["frames"] == 6
    assert [g["frames"] for g in info["gops"]] == [3, 3] and info["integrity"] == {"whole": True, "problems": [],
                                                                                   "streams": 1}
    assert info["layers"]["enhancement"]["tables"]["sha256"] and info["totals"]["base"]["kbps"] > 0
    assert sum(g["bytes"]["enhancement"] for g in info["gops"]) == info["totals"]["enhancement"]["bytes"]
    bad = bytearray(out.read_bytes())
    bad[info["gops"][1]["offset"] + 40] ^= 1
    (tmp_path / "bad.svc").write_bytes(bytes(bad))
    capsys.readouterr()
    assert run_main(info_command, [str(tmp_path / "bad.svc"), "--json"]) == 3
    info = json.loads(capsys.readouterr().out)
    assert not info["integrity"]["whole"] and "CRC" in info["integrity"]["problems"][0]


def test_json_has_null_never_nan():
    from svc.io import jsontext
    import numpy as np
    text = jsontext.dumps({"a": float("nan"), "b": [np.float32(1.5), np.inf], "c": np.int64(3)})
    assert json.loads(text) == {"a": None, "b": [1.5, None], "c": 3} and "NaN" not in text


def test_crf_and_x265_params_reach_the_base_layer(tmp_path, carphone_yuv, capsys):
    from svc.bitstream import ContainerReader
    out = tmp_path / "crf.svc"
    assert run_main(encode_command, [str(carphone_yuv), "--frames", "4", "--no-enhancement", "--crf", "30",
                                     "--x265-params", "bframes=2:aq-mode=2", "-o", str(out), "-q"]) == 0
    base = ContainerReader(io.BytesIO(out.read_bytes()), ()).header.base
    assert base["rate_control"] == "crf" and base["qp"] == 30 and base["x265_params"] == {"bframes": "2",
                                                                                          "aq-mode": "2"}
    for args, message in ((["--qp", "30", "--crf", "30"], "give one"), (["--x265-params", "keyint=3"], "svc sets it"),
                          (["--x265-params", "bframes"], "key=value")):
        capsys.readouterr()
        assert run_main(encode_command, [str(carphone_yuv), "--frames", "2", *args, "-o", str(tmp_path / "x.svc")]) == 1
        assert message in capsys.readouterr().err


def test_existing_outputs_are_refused_without_overwrite(tmp_path, carphone_yuv, capsys):
    out = tmp_path / "x.svc"
    out.write_bytes(b"precious")
    args = [str(carphone_yuv), "--frames", "2", "--no-enhancement", "-o", str(out), "-q"]
    assert run_main(encode_command, args) == 1
    err = capsys.readouterr().err
    assert "already exists" in err and "-y" in err and out.read_bytes() == b"precious"
    assert run_main(encode_command, args + ["-y"]) == 0 and out.read_bytes()[:4] == b"SVC\x89"


def test_trackeval_scores_a_mot17_export_unchanged(tmp_path, carphone_yuv):
    """svc-analyze --mot-format mot17 writes what TrackEval's MOT17 reader takes as it is: the person
    file, scored against ground truth made from the same tracks, gives HOTA and MOTA of 1."""
    import shutil

    import numpy as np
    import trackeval

    from svc.analytics.mot_io import read_mot
    from svc.cli.analyze import command as analyze_command

    stream = tmp_path / "s.svc"
    assert run_main(encode_command, [str(carphone_yuv), "--frames", "8", "--no-enhancement", "-o", str(stream),
                                     "-q"]) == 0
    tracks = tmp_path / "tracks.txt"
    assert run_main(analyze_command, [str(stream), "-o", str(tracks), "--mot-format", "mot17", "-q",
                                      "--detect-every", "1"]) == 0
    rows = read_mot(tracks)
    assert len(rows) and set(rows[:, 7]) == {-1.0}
    seq = "CARPHONE-01"
    gt_dir = tmp_path / "gt" / "MOT17-train" / seq
    (gt_dir / "gt").mkdir(parents=True)
    gt = np.column_stack([rows[:, :6], np.ones(len(rows)), np.ones(len(rows)), np.ones(len(rows))])
    np.savetxt(gt_dir / "gt" / "gt.txt", gt, fmt="%d,%d,%.2f,%.2f,%.2f,%.2f,%d,%d,%.1f")
    (gt_dir / "seqinfo.ini").write_text(f"[Sequence]\nname={seq}\nseqLength=8\nimWidth=176\nimHeight=144\n")
    (tmp_path / "gt" / "seqmaps").mkdir()
    (tmp_path / "gt" / "seqmaps" / "MOT17-train.txt").write_text(f"name\n{seq}\n")
    data = tmp_path / "trackers" / "MOT17-train" / "svc" / "data"
    data.mkdir(parents=True)
    shutil.copy(tracks, data / f"{seq}.txt")                     # the file as svc wrote it
    config = {"GT_FOLDER": str(tmp_path / "gt"), "TRACKERS_FOLDER": str(tmp_path / "trackers"),
              "BENCHMARK": "MOT17", "SPLIT_TO_EVAL": "train", "PRINT_CONFIG": False}
    evaluator = trackeval.Evaluator({"PRINT_RESULTS": False, "PRINT_CONFIG": False, "OUTPUT_SUMMARY": False,
                                     "OUTPUT_DETAILED": False, "PLOT_CURVES": False, "TIME_PROGRESS": False,
                                     "USE_PARALLEL": False})
    res, _ = evaluator.evaluate([trackeval.datasets.MotChallenge2DBox(config)],
                                [trackeval.metrics.HOTA(), trackeval.metrics.CLEAR({"PRINT_CONFIG": False})])
    out = res["MotChallenge2DBox"]["svc"][seq]["pedestrian"]
    assert out["CLEAR"]["MOTA"] == 1.0 and float(np.mean(out["HOTA"]["HOTA"])) > 0.99


def test_encode_stats_json_and_csv(tmp_path, carphone_yuv):
    import csv

    from svc.bitstream import ContainerReader
    js, cs = tmp_path / "s.json", tmp_path / "s.csv"
    out = tmp_path / "s.svc"
    assert run_main(encode_command, [str(carphone_yuv), "--frames", "6", "--gop", "3", "-o", str(out), "-q",
                                     "--stats", str(js)]) == 0
    stats = json.loads(js.read_text())
    recs = list(ContainerReader(io.BytesIO(out.read_bytes()), ()))
    assert [g["record_bytes"] for g in stats["per_gop"]] == [
        16 + 9 * len(r.sizes) + 4 + sum(r.sizes.values()) for r in recs]
    assert sum(g["enhancement_bytes"] for g in stats["per_gop"]) == stats["enh_bytes"] == sum(
        r.sizes["enhancement"] for r in recs)
    assert stats["psnr_full"]["y"] > stats["psnr_base"]["y"] > 25 and stats["encode_fps"] > 0
    assert run_main(encode_command, [str(carphone_yuv), "--frames", "6", "--gop", "3", "-o", str(out), "-q", "-y",
                                     "--no-enhancement", "--stats", str(cs)]) == 0
    rows = list(csv.DictReader(open(cs)))
    assert [int(r["frames"]) for r in rows] == [3, 3] and all(r["psnr_y_full"] == "" for r in rows)
    assert run_main(encode_command, [str(carphone_yuv), "-o", str(out), "-y", "--stats", str(tmp_path / "s.txt")]) == 1


def test_relative_config_paths_resolve_against_the_current_folder(tmp_path, monkeypatch):
    import shutil

    from svc.config import resolve_path
    from svc.enhancement.zoo import WEIGHTS_DIR
    monkeypatch.chdir(tmp_path)
    shutil.copy(WEIGHTS_DIR / "blockcoder-tables.npz", tmp_path / "my-tables.npz")
    assert resolve_path("my-tables.npz") == tmp_path / "my-tables.npz"
    assert resolve_path("svc/enhancement/weights/blockcoder-tables.npz") == WEIGHTS_DIR / "blockcoder-tables.npz"


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_extract_remuxes_into_a_container_at_the_source_rate(tmp_path, carphone_yuv, suffix, capsys):
    """svc-extract -o base.mp4|.mkv: no re-encode (the same pictures as the raw stream, in display order
    despite x265's B-frames), timed at the header's 29.97 fps; unknown suffixes are refused."""
    import av
    import numpy as np

    from svc.cli.decode import extract_command
    stream, raw, out = tmp_path / "s.svc", tmp_path / "b.hevc", tmp_path / f"b{suffix}"
    assert run_main(encode_command, [str(carphone_yuv), "--frames", "20", "--gop", "10", "--fps", "30000/1001",
                                     "--no-enhancement", "-o", str(stream), "-q"]) == 0
    assert run_main(extract_command, [str(stream), "-o", str(raw), "-q"]) == 0
    assert run_main(extract_command, [str(stream), "-o", str(out), "-q"]) == 0
    with av.open(str(raw), format="hevc") as c:
        ref = [f.to_ndarray(format="yuv420p") for f in c.decode(video=0)]
    with av.open(str(out)) as c:
        s = c.streams.video[0]
        assert s.average_rate == Fraction(30000, 1001) and s.codec_context.name == "hevc"
        got = [f.to_ndarray(format="yuv420p") for f in c.decode(s)]
    assert len(got) == len(ref) == 20 and all(np.array_equal(a, b) for a, b in zip(ref, got))
    capsys.readouterr()
    assert run_main(extract_command, [str(stream), "-o", str(tmp_path / "b.avi")]) == 1
    assert ".mp4 or .mkv" in capsys.readouterr().err
