"""svc-eval-tracking end to end on a small CTC-named clip with SFU-HW-Tracks-v1 style annotations."""
import csv
import json

import numpy as np
import pytest

from svc.datasets.sfu_hw import write_sfu_annotations

from conftest import write_yuv
from test_analytics import _person_on_background


@pytest.fixture(scope="module")
def ctc_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("ctc")
    frames, _ = _person_on_background(16)
    (root / "seqs").mkdir()
    write_yuv(root / "seqs" / "BasketballPass_416x240_50.yuv", frames)
    rows = [[i + 1, 1, 200, 48, 176, 144, 1, 0, 1] for i in range(16)]
    # a tie (COCO 27, not in analytics.classes) annotated on 4 frames, with object id 1 as the person's: ids
    # are per class in SFU-HW-Tracks-v1
    rows += [[i + 1, 1, 20, 20, 10, 30, 1, 27, 1] for i in range(4)]
    write_sfu_annotations(np.array(rows, float), root / "ann" / "BasketballPass_416x240_50",
                          "BasketballPass_416x240_50", 416, 240)
    return root


def _run(ctc_tree, out, *extra):
    from svc.cli.evaluate import command as eval_tracking_cmd
    return eval_tracking_cmd(["--sequences", str(ctc_tree / "seqs"), "--annotations", str(ctc_tree / "ann"),
                              "--classes", "D,C", "--qps", "30", "38", "--out", str(out), "-q", *extra])


def test_end_to_end_parallel_and_resumable(ctc_tree, tmp_path, capsys):
    out = tmp_path / "res"
    assert _run(ctc_tree, out, "--jobs", "2") == 0
    err = capsys.readouterr()
    assert "skipping RaceHorsesC" in err.err and "5 computed" in err.err  # missing sequences reported, not fatal
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert {(r["configuration"], r["qp"]) for r in rows} == {("roi", "30"), ("roi", "38"), ("plain", "30"),
                                                            ("plain", "38"), ("uncompressed", "")}
    for r in rows:
        assert r["sequence"] == "BasketballPass_416x240_50" and r["class"] == "D" and int(r["frames"]) == 16
        assert 0.0 <= float(r["IDF1"]) <= 1.0 and -1.0 <= float(r["MOTA"]) <= 1.0
    unc = [r for r in rows if r["configuration"] == "uncompressed"][0]
    per_class = list(csv.DictReader(open(out / "results_per_class.csv")))
    assert {(r["configuration"], r["object_class"]) for r in per_class} == {
        (c, k) for c in ("roi", "plain", "uncompressed") for k in ("person", "tie")}
    person = [r for r in per_class if r["configuration"] == "uncompressed" and r["object_class"] == "person"][0]
    assert float(person["MOTA"]) > 0.5 and float(person["mAP50"]) > 0.5  # the detector finds the pasted person
    assert person["tracked"] == "True" and int(person["num_objects"]) == 16
    tie = [r for r in per_class if r["configuration"] == "uncompressed" and r["object_class"] == "tie"][0]
    assert tie["tracked"] == "False" and int(tie["FN"]) == 4 and float(tie["MOTA"]) == 0.0  # can only be missed
    assert int(unc["FN"]) == int(person["FN"]) + 4  # pooled over the scored classes
    plain = sorted((r for r in rows if r["configuration"] == "plain"), key=lambda r: int(r["qp"]))
    assert float(plain[0]["base_kbps"]) > float(plain[1]["base_kbps"])
    assert json.loads((out / "results.json").read_text())[0]["sequence"] == "BasketballPass_416x240_50"
    assert "NaN" not in (out / "results.json").read_text()   # standard JSON: the uncompressed point's PSNR is null
    assert (out / "mota_vs_kbps.png").stat().st_size > 5000
    assert "BD-rate ROI vs plain on MOTA" in err.out
    assert "tie *" in err.out and "can only be missed" in err.out  # the per-class table marks the untracked class
    # rerun: everything comes from the cache
    assert _run(ctc_tree, out) == 0
    assert "0 computed, 5 cached" in capsys.readouterr().err


def test_missing_everything_is_a_clear_error(tmp_path):
    from svc.errors import InputError
    from svc.cli.evaluate import command as eval_tracking_cmd
    (tmp_path / "s").mkdir()
    with pytest.raises(InputError, match="no sequence has both"):
        eval_tracking_cmd(["--sequences", str(tmp_path / "s"), "--annotations", str(tmp_path), "--out",
                           str(tmp_path / "o"), "-q"])


@pytest.mark.slow
@pytest.mark.xdist_group("ray")
def test_ray_backend(ctc_tree, tmp_path, local_ray):
    assert _run(ctc_tree, tmp_path / "ray", "--ray", "local", "--configurations", "uncompressed") == 0
    assert len(list(csv.DictReader(open(tmp_path / "ray" / "results.csv")))) == 1


def test_qoffset_roi_points_have_a_crf_plain_anchor():
    """x265 ROI offsets need CRF: with roi.method=qoffset both configurations code in CRF, so they
    differ by the ROI alone; blur keeps constant QP for both."""
    from svc.evaluation.point import PointSpec, point_config

    common = dict(sequence="S_416x240_30", ctc_class="D", path="s.yuv", annotations="a", width=416, height=240,
                  fps=30, frames=8, qp=32)
    for method, rc in (("qoffset", "crf"), ("blur", "qp")):
        for configuration in ("plain", "roi"):
            cfg = point_config(PointSpec(configuration=configuration, overrides=(("roi.method", method),), **common))
            assert cfg.base.rate_control == rc, (method, configuration)
            assert cfg.roi.mode == ("auto" if configuration == "roi" else "off")
    assert point_config(PointSpec(configuration="plain", **common)).base.rate_control == "qp"


def test_feature_layer_points(ctc_tree, tmp_path):
    """The features configurations: the split-DNN layer alone per quantiser, and coded on a QP32 base
    layer (8 frames, to keep the test short), scored like the others; a coarser quantiser costs fewer
    kbps; on the base the layer costs fewer kbps in all (base included) than alone; the finer points
    track the pasted person."""
    out, out_base = tmp_path / "feat", tmp_path / "feat_base"
    assert _run(ctc_tree, out, "--configurations", "features", "--feature-quantisers", "2", "5") == 0
    rows = sorted(csv.DictReader(open(out / "results.csv")), key=lambda r: int(r["qp"]))
    assert [(r["configuration"], r["qp"]) for r in rows] == [("features", "2"), ("features", "5")]
    assert float(rows[0]["base_kbps"]) > float(rows[1]["base_kbps"]) > 0
    assert _run(ctc_tree, out_base, "--configurations", "features-base", "--feature-quantisers", "2", "--frames", "8",
                "--set", "base.qp=32") == 0
    (on_base,) = csv.DictReader(open(out_base / "results.csv"))
    assert (on_base["configuration"], on_base["qp"], on_base["frames"]) == ("features-base", "2", "8")
    assert 0 < float(on_base["base_kbps"]) < float(rows[0]["base_kbps"])
    for folder in (out, out_base):
        person = [r for r in csv.DictReader(open(folder / "results_per_class.csv"))
                  if r["qp"] == "2" and r["object_class"] == "person"][0]
        assert float(person["MOTA"]) > 0.5
