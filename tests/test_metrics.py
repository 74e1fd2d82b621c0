"""Evaluation metrics and the SFU-HW-Tracks-v1 reader, checked against real data and hand results.

Oracle data: the MOTChallenge sequences TUD-Campus / TUD-Stadtmitte shipped inside the
installed py-motmetrics package, with the reference values from motmetrics' own test
(tests/test_metrics.py::test_motchallenge_files).
"""
from __future__ import annotations

import math
import os

import numpy as np
import pytest

from svc.compat import patch_numpy
from svc.analytics.mot_io import read_mot
from svc.datasets import find_annotation_dir, read_sfu_annotations, write_sfu_annotations
from svc.metrics.bdrate import bd_metric, bd_rate, pareto_front
from svc.metrics.mot import detection_map50, evaluate, hota, mot_metrics

import motmetrics  # noqa: E402  (after svc.metrics.mot, which patches numpy first)

MM_DATA = os.path.join(os.path.dirname(motmetrics.__file__), "data")

# ---------------------------------------------------------------------------- numpy shim


def test_patch_numpy_installs_asfarray_when_missing(monkeypatch):
    monkeypatch.delattr(np, "asfarray", raising=False)  # what NumPy 2 looks like
    assert not hasattr(np, "asfarray")
    assert patch_numpy() == ["asfarray"]
    out = np.asfarray([1, 2, 3])
    assert out.dtype == np.float64 and out.tolist() == [1.0, 2.0, 3.0]
    shim = np.asfarray
    assert patch_numpy() == []  # idempotent: nothing replaced on a second call
    assert np.asfarray is shim
    # and the motmetrics code path that needs it works with the shim
    d = motmetrics.distances.iou_matrix([[0, 0, 10, 10]], [[0, 0, 10, 20]], max_iou=1.0)
    assert d.shape == (1, 1) and d[0, 0] == pytest.approx(0.5)


def test_patch_numpy_keeps_native_asfarray():
    patch_numpy()
    assert hasattr(np, "asfarray")
    assert np.asfarray([1, 2]).dtype == np.float64


# ---------------------------------------------------------------------------- MOT oracle

# motmetrics' own expected values for these files (IoU distance threshold 0.5).
TUD_REFERENCE = {
    "TUD-Campus": {"MOTA": 0.526462, "IDF1": 0.557659, "IDs": 7, "FP": 13, "FN": 150},
    "TUD-Stadtmitte": {"MOTA": 0.564014, "IDF1": 0.644619, "IDs": 7, "FP": 45, "FN": 452},
}


@pytest.mark.parametrize("seq", sorted(TUD_REFERENCE))
def test_mot_metrics_match_motmetrics_reference_via_sfu_round_trip(seq, tmp_path):
    gt_mot = read_mot(os.path.join(MM_DATA, seq, "gt.txt"))
    hyp = read_mot(os.path.join(MM_DATA, seq, "test.txt"))
    assert gt_mot.shape[1] == 10 and len(gt_mot) > 300
    # motmetrics' test loads both files with min_confidence=-1, i.e. keeps every row, and
    # only uses the box geometry; so do we. The SFU format has no conf/visibility columns
    # and these MOT15 files keep world coordinates (not class ids) in columns 7-9, so only
    # frame, id and box (columns 0-5) go through the round trip; the reader sets conf=1,
    # class 0 and visibility 1, which the reference does not depend on.
    stem = f"{seq}_640x480_25"
    write_sfu_annotations(gt_mot[:, :6], tmp_path / stem, stem, 640, 480)
    gt = read_sfu_annotations(tmp_path / stem, 640, 480)
    assert gt.shape == (len(gt_mot), 9)
    ref = gt_mot[np.lexsort((gt_mot[:, 1], gt_mot[:, 0]))]
    np.testing.assert_allclose(gt[:, :6], ref[:, :6], atol=1e-5)
    assert np.all(gt[:, 6] == 1) and np.all(gt[:, 7] == 0)

    m = mot_metrics(gt, hyp, iou_threshold=0.5)
    exp = TUD_REFERENCE[seq]
    assert m["MOTA"] == pytest.approx(exp["MOTA"], abs=1e-4)
    assert m["IDF1"] == pytest.approx(exp["IDF1"], abs=1e-4)
    assert (m["IDs"], m["FP"], m["FN"]) == (exp["IDs"], exp["FP"], exp["FN"])
    assert m["num_frames"] == len(np.unique(np.concatenate([gt[:, 0], hyp[:, 0]])))
    assert 0.5 < m["MOTP"] < 1.0  # mean IoU of matches, all >= 0.5 by construction


def test_evaluate_single_class_equals_mot_metrics():
    gt = read_mot(os.path.join(MM_DATA, "TUD-Campus", "gt.txt"))[:, :7]
    hyp = read_mot(os.path.join(MM_DATA, "TUD-Campus", "test.txt"))[:, :7]
    res = evaluate(gt, hyp)
    assert set(res) == {0, "all"}
    assert res["all"]["MOTA"] == pytest.approx(0.526462, abs=1e-4)
    assert res[0]["HOTA"] == pytest.approx(hota(gt, hyp))
    assert 0.0 < res[0]["HOTA"] < res[0]["MOTA"] + 0.5


def _track(tid, frames, box, cls=0):
    return np.array([[f, tid, *box, 1.0, cls, 1.0] for f in frames], dtype=float)


def test_evaluate_matches_only_within_a_class():
    person = _track(1, range(1, 6), (10, 10, 20, 40), cls=0)
    car = _track(2, range(1, 6), (100, 50, 60, 30), cls=2)
    gt = np.vstack([person, car])
    # the tracker labels the car as a person: a FN for class 2 and a FP for class 0
    hyp = np.vstack([person, _track(2, range(1, 6), (100, 50, 60, 30), cls=0)])
    res = evaluate(gt, hyp)
    assert res[0]["FP"] == 5 and res[0]["FN"] == 0
    assert res[2]["FN"] == 5 and res[2]["FP"] == 0
    assert (res["all"]["FP"], res["all"]["FN"]) == (5, 5)
    assert res["all"]["MOTA"] == pytest.approx(1 - 10 / 10)


# ---------------------------------------------------------------------------- HOTA


def test_hota_perfect_and_empty():
    gt = np.vstack([_track(1, range(1, 11), (10, 10, 20, 40)), _track(2, range(3, 9), (60, 10, 20, 40))])
    assert hota(gt, gt) == pytest.approx(1.0)
    hyp = gt.copy()
    hyp[:, 1] += 100  # track ids need not equal gt ids
    assert hota(gt, hyp) == pytest.approx(1.0)
    assert hota(gt, np.empty((0, 9))) == 0.0


def test_hota_hand_computed_switch_and_localisation():
    # One object over 4 frames. The hypothesis box is 10x16 against a 10x10 gt box sharing
    # the top-left corner: IoU = 100/160 = 0.625, so it matches for the 12 alphas
    # 0.05..0.60 and for none of 0.65..0.95 (19 alphas). The track id switches after frame 2.
    # Where matched: DetA = 1; each match's association score is TPA/(TPA+FNA+FPA) =
    # 2/(2+2+0) = 0.5, so AssA = 0.5 and HOTA_alpha = sqrt(0.5). Unmatched alphas: DetA = 0.
    gt = _track(1, range(1, 5), (0, 0, 10, 10))
    hyp = np.vstack([_track(7, [1, 2], (0, 0, 10, 16)), _track(8, [3, 4], (0, 0, 10, 16))])
    expected = math.sqrt(0.5) * 12 / 19
    assert hota(gt, hyp) == pytest.approx(expected, abs=1e-12)
    d = hota(gt, hyp, details=True)
    assert d["DetA"] == pytest.approx(12 / 19) and d["AssA"] == pytest.approx(0.5 * 12 / 19)


# ---------------------------------------------------------------------------- mAP@0.5


def _gt_boxes():
    rows = []
    for f in range(1, 6):
        for k in range(4):
            rows.append([f, k + 1, 30 * k, 10, 20, 40, 1, 0, 1])
    return np.asarray(rows, float)


def test_map50_perfect_fp_and_missing():
    gt = _gt_boxes()
    det = gt.copy()
    det[:, 6] = np.linspace(0.9, 0.99, len(det))
    assert detection_map50(gt, det) == pytest.approx(1.0)

    fp = det.copy()
    fp[:, 3] += 200  # far away from every gt box
    fp[:, 6] = 0.1  # lower scores than every true positive
    assert detection_map50(gt, np.vstack([det, fp])) == pytest.approx(1.0)

    assert detection_map50(gt, det[::2]) == pytest.approx(0.5)
    assert detection_map50(gt, np.empty((0, 9))) == 0.0


def test_map50_hand_computed_interleaved():
    # ranked: TP (0.9), FP (0.8), TP (0.7) with 2 gt boxes -> precision 1, 1/2, 2/3 at
    # recall 1/2, 1/2, 1; envelope: 1 up to recall 1/2, 2/3 up to 1 -> AP = 0.5 + 1/3.
    gt = np.array([[1, 1, 0, 0, 10, 10, 1, 0, 1], [1, 2, 50, 0, 10, 10, 1, 0, 1]], float)
    det = np.array([[1, 5, 0, 0, 10, 10, 0.9], [1, 6, 200, 0, 10, 10, 0.8], [1, 7, 50, 1, 10, 10, 0.7]], float)
    assert detection_map50(gt, det) == pytest.approx(0.5 + 1 / 3)
    # the precision envelope matters: TP, FP, TP, TP with 3 gt boxes gives precision
    # 1, 1/2, 2/3, 3/4 at recall 1/3, 1/3, 2/3, 1; interpolated: 1, 3/4, 3/4 per third.
    gt3 = np.vstack([gt, [1, 3, 100, 0, 10, 10, 1, 0, 1]])
    det4 = np.vstack([det, [1, 8, 100, 0, 10, 10, 0.6]])
    assert detection_map50(gt3, det4) == pytest.approx((1 + 0.75 + 0.75) / 3)
    # a second detection of an already matched object is a false positive
    dup = np.vstack([det[:1], det[:1] * [1, 1, 1, 1, 1, 1, 0.95]])
    assert detection_map50(gt, dup) == pytest.approx(0.5)


# ---------------------------------------------------------------------------- BD-rate

# FAU-LMS/bjontegaard README example data (x265 presets), 4 points per curve.
FAU_RATE_A = [9487.76, 4593.60, 2486.44, 1358.24]
FAU_PSNR_A = [40.037, 38.615, 36.845, 34.851]
FAU_RATE_T = [9787.80, 4469.00, 2451.52, 1356.24]
FAU_PSNR_T = [40.121, 38.651, 36.970, 34.987]


def test_bd_identical_curves_are_zero():
    assert bd_rate(FAU_RATE_A, FAU_PSNR_A, FAU_RATE_A, FAU_PSNR_A) == pytest.approx(0.0, abs=1e-12)
    assert bd_metric(FAU_RATE_A, FAU_PSNR_A, FAU_RATE_A, FAU_PSNR_A) == pytest.approx(0.0, abs=1e-12)


def test_bd_rate_constant_ratio_is_exact():
    test_rate = [0.9 * r for r in FAU_RATE_A]
    assert bd_rate(FAU_RATE_A, FAU_PSNR_A, test_rate, FAU_PSNR_A) == pytest.approx(-10.0, abs=1e-9)
    # order of the points does not matter
    assert bd_rate(FAU_RATE_A[::-1], FAU_PSNR_A[::-1], test_rate, FAU_PSNR_A) == pytest.approx(-10.0, abs=1e-9)


def test_bd_hand_computed_linear_curves():
    # Anchor gains 2 dB per rate doubling, test 3 dB, both from (100 kbps, 30 dB):
    #   anchor: log10 r = 2 + L (m - 30) / 2,  test: log10 r = 2 + L (m - 30) / 3,  L = log10 2.
    # PCHIP reproduces straight lines exactly. BD-rate over the common metric range [30, 36]:
    #   mean(test - anchor) = mean(-L (m - 30) / 6) = -L * 3 / 6 = -L / 2
    #   -> 10^(-L/2) - 1 = 2^(-1/2) - 1 = -29.2893 %.
    # BD-PSNR over the common log-rate range [2, 2 + 3L]: the difference is (x - 2) / L,
    #   whose mean over [0, 3L] is 1.5 dB.
    rate = [100, 200, 400, 800]
    a = [30, 32, 34, 36]
    t = [30, 33, 36, 39]
    assert bd_rate(rate, a, rate, t) == pytest.approx((2 ** -0.5 - 1) * 100, abs=1e-9)
    assert bd_metric(rate, a, rate, t) == pytest.approx(1.5, abs=1e-12)
    assert bd_rate(rate, t, rate, a) == pytest.approx((2 ** 0.5 - 1) * 100, abs=1e-9)


def _jctvc_pchip_integral(x, y, lo, hi):
    """Independent oracle: the JCT-VC CTC spreadsheet's PCHIP (bdRIntEnh), integrated exactly.

    Slopes per Fritsch-Carlson/Moler: interior = weighted harmonic mean of the secant slopes
    (0 at a sign change); ends = three-point formula, set to 0 if its sign differs from the
    first secant, limited to 3x the secant when the secants change sign. The integral of each
    Hermite cubic is taken from its power-basis coefficients.
    """
    o = np.argsort(x)
    x, y = np.asarray(x, float)[o], np.asarray(y, float)[o]
    h = np.diff(x)
    delta = np.diff(y) / h
    n = len(x)
    d = np.zeros(n)
    for i in range(1, n - 1):
        if delta[i - 1] * delta[i] > 0:
            c1 = (h[i - 1] + 2 * h[i]) / (3 * (h[i - 1] + h[i]))
            c2 = (2 * h[i - 1] + h[i]) / (3 * (h[i - 1] + h[i]))
            d[i] = delta[i - 1] * delta[i] / (c1 * delta[i] + c2 * delta[i - 1])

    def end(h0, h1, d0, d1):
        s = ((2 * h0 + h1) * d0 - h0 * d1) / (h0 + h1)
        if s * d0 <= 0:
            return 0.0
        if d0 * d1 < 0 and abs(s) > abs(3 * d0):
            return 3 * d0
        return s

    d[0] = end(h[0], h[1], delta[0], delta[1])
    d[-1] = end(h[-1], h[-2], delta[-1], delta[-2])
    total = 0.0
    for i in range(n - 1):
        a, b = max(lo, x[i]), min(hi, x[i + 1])
        if b <= a:
            continue
        c0, c1_ = y[i], d[i]
        c2 = (3 * delta[i] - 2 * d[i] - d[i + 1]) / h[i]
        c3 = (d[i] + d[i + 1] - 2 * delta[i]) / h[i] ** 2
        prim = lambda t: c0 * t + c1_ * t ** 2 / 2 + c2 * t ** 3 / 3 + c3 * t ** 4 / 4  # noqa: E731
        total += prim(b - x[i]) - prim(a - x[i])
    return total


def test_bd_matches_independent_ctc_spreadsheet_formula():
    la, lt = np.log10(FAU_RATE_A), np.log10(FAU_RATE_T)
    lo, hi = max(min(FAU_PSNR_A), min(FAU_PSNR_T)), min(max(FAU_PSNR_A), max(FAU_PSNR_T))
    avg = (_jctvc_pchip_integral(FAU_PSNR_T, lt, lo, hi) - _jctvc_pchip_integral(FAU_PSNR_A, la, lo, hi)) / (hi - lo)
    expected_rate = (10 ** avg - 1) * 100
    lo, hi = max(la.min(), lt.min()), min(la.max(), lt.max())
    expected_psnr = (_jctvc_pchip_integral(lt, FAU_PSNR_T, lo, hi) - _jctvc_pchip_integral(la, FAU_PSNR_A, lo, hi)) / (hi - lo)
    got_rate = bd_rate(FAU_RATE_A, FAU_PSNR_A, FAU_RATE_T, FAU_PSNR_T)
    got_psnr = bd_metric(FAU_RATE_A, FAU_PSNR_A, FAU_RATE_T, FAU_PSNR_T)
    assert got_rate == pytest.approx(expected_rate, abs=1e-9)
    assert got_psnr == pytest.approx(expected_psnr, abs=1e-9)
    # the test curve is slightly better: fewer bits and more dB
    assert -10 < got_rate < 0 and 0 < got_psnr < 1


@pytest.mark.parametrize("args, match", [
    (([100], [30], [100], [30]), "at least 2"),
    (([100, 200], [30, 31, 32], [100, 200], [30, 31]), "rates but"),
    (([100, 200, 400], [30, 32, 31], [100, 200, 400], [30, 31, 32]), "not strictly monotonic"),
    (([100, 100, 400], [30, 31, 32], [100, 200, 400], [30, 31, 32]), "duplicate"),
    (([0, 200], [30, 31], [100, 200], [30, 31]), "> 0"),
    (([100, 200], [30, 31], [100, 200], [40, 41]), "do not overlap"),
])
def test_bd_rejects_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        bd_rate(*args)


def test_pareto_front_keeps_monotonic_curves_and_drops_dominated_points():
    assert pareto_front(FAU_RATE_A, FAU_PSNR_A).tolist() == [3, 2, 1, 0]  # increasing rate, all kept
    # MOTA measured on a real run: QP42 (115 kbps) scored below QP46 (78 kbps); a tie at 163 kbps
    rate = [401.8, 261.0, 172.7, 115.2, 77.6]
    mota = [0.716, 0.705, 0.611, 0.453, 0.474]
    assert pareto_front(rate, mota).tolist() == [4, 2, 1, 0]
    assert pareto_front([74.2, 110.4, 163.4, 250.7], [0.495, 0.579, 0.579, 0.789]).tolist() == [0, 1, 3]
    assert pareto_front([100, 100, 200], [0.5, 0.6, 0.7]).tolist() == [1, 2]  # same rate: the better one
    # lower-is-better metrics (MSE): the front falls
    assert pareto_front([100, 200, 300], [5.0, 6.0, 2.0], higher_is_better=False).tolist() == [0, 2]
    with pytest.raises(ValueError, match="rates but"):
        pareto_front([1, 2], [1.0])


def test_report_bd_rates_use_the_pareto_front_and_say_what_they_dropped():
    from svc.evaluation.report import bd_rates, format_table

    from svc.evaluation.rows import EvaluationRow

    def row(cfg, qp, kbps, mota):
        return EvaluationRow("S_416x240_30", "D", cfg, qp, 16, base_kbps=kbps, full_kbps=kbps, MOTA=mota, IDF1=0.5,
                             HOTA=0.5, mAP50=mota, psnr_y_base=30.0, seconds=1.0)
    plain = [row("plain", q, r, m) for q, r, m in ((30, 401.8, 0.716), (34, 261.0, 0.705), (38, 172.7, 0.611),
                                                 (42, 115.2, 0.453), (46, 77.6, 0.474))]
    roi = [row("roi", q, r, m) for q, r, m in ((30, 388.1, 0.905), (34, 250.7, 0.789), (38, 163.4, 0.579),
                                             (42, 110.4, 0.579), (46, 74.2, 0.495))]
    value, note = bd_rates(plain + roi, "MOTA")[("S_416x240_30", "D")]
    expected = bd_rate([77.6, 172.7, 261.0, 401.8], [0.474, 0.611, 0.705, 0.716],
                       [74.2, 110.4, 250.7, 388.1], [0.495, 0.579, 0.789, 0.905])
    assert value == pytest.approx(expected, abs=1e-12) and value < 0
    assert note == "off the Pareto front: plain QP 42; roi QP 38"
    assert "BD-rate ROI vs plain on MOTA (mean over sequences): D: " in format_table(plain + roi)
    # monotonic curves: a plain number, nothing dropped
    assert isinstance(bd_rates(plain[:4] + roi[3:], "MOTA")[("S_416x240_30", "D")], float)
    assert bd_rates(plain, "MOTA")[("S_416x240_30", "D")].startswith("n/a")


# ---------------------------------------------------------------------------- SFU reader


def test_find_annotation_dir_tells_racehorses_apart(tmp_path):
    big = _track(1, range(1, 4), (100, 100, 80, 60))
    small = _track(1, range(1, 3), (50, 50, 40, 30))
    # layout 1: folders named by the sequence file stem
    write_sfu_annotations(big, tmp_path / "a" / "RaceHorses_832x480_30", "RaceHorses_832x480_30", 832, 480)
    write_sfu_annotations(small, tmp_path / "a" / "RaceHorses_416x240_30", "RaceHorses_416x240_30", 416, 240)
    # layout 2: class-letter folders holding the same file names
    write_sfu_annotations(big, tmp_path / "b" / "RaceHorsesC", "RaceHorses_832x480_30", 832, 480)
    write_sfu_annotations(small, tmp_path / "b" / "RaceHorsesD", "RaceHorses_416x240_30", 416, 240)
    for root, c, d in (("a", "RaceHorses_832x480_30", "RaceHorses_416x240_30"), ("b", "RaceHorsesC", "RaceHorsesD")):
        for name in ("RaceHorses", "RaceHorses_832x480_30", "RaceHorses_416x240_30"):
            w, h = (416, 240) if "416" in name else (832, 480)
            found = find_annotation_dir(tmp_path / root, name, w, h)
            assert found.name == (d if w == 416 else c)
        assert len(read_sfu_annotations(find_annotation_dir(tmp_path / root, "RaceHorses", 416, 240), 416, 240)) == 2
    with pytest.raises(FileNotFoundError):
        find_annotation_dir(tmp_path / "a", "RaceHorses", 1920, 1080)
    with pytest.raises(FileNotFoundError):
        find_annotation_dir(tmp_path / "a", "BasketballPass", 416, 240)


def test_read_sfu_flat_folder_picks_resolution(tmp_path):
    write_sfu_annotations(_track(1, range(1, 4), (100, 100, 80, 60)), tmp_path, "RaceHorses_832x480_30", 832, 480)
    write_sfu_annotations(_track(3, range(1, 3), (50, 50, 40, 30)), tmp_path, "RaceHorses_416x240_30", 416, 240)
    big = read_sfu_annotations(tmp_path, 832, 480)
    assert big.shape == (3, 9) and set(big[:, 1]) == {1}
    small = read_sfu_annotations(tmp_path, 416, 240)
    np.testing.assert_allclose(small[:, 2:6], [[50, 50, 40, 30]] * 2, atol=1e-6)
    with pytest.raises(ValueError, match="832x480"):
        read_sfu_annotations(tmp_path, 416, 240, seq_stem="RaceHorses_832x480_30")


def test_read_sfu_frames_and_values(tmp_path):
    d = tmp_path / "Cactus_1920x1080_50"
    d.mkdir()
    # frame 000: two objects; 001 missing; 002 empty; 1000: 4-digit index
    (d / "Cactus_1920x1080_50_seq_000.txt").write_text("0 5 0.5 0.5 0.1 0.2\n\n2 9 0.25 0.75 0.5 0.5\n")
    (d / "Cactus_1920x1080_50_seq_002.txt").write_text("")
    (d / "Cactus_1920x1080_50_seq_1000.txt").write_text("0 5 0.5 0.5 0.1 0.2\n")
    rows = read_sfu_annotations(d, 1920, 1080)
    np.testing.assert_allclose(rows, [
        [1, 5, 960 - 96, 540 - 108, 192, 216, 1, 0, 1],
        [1, 9, 480 - 480, 810 - 270, 960, 540, 1, 2, 1],
        [1001, 5, 864, 432, 192, 216, 1, 0, 1],
    ])
    assert len(read_sfu_annotations(d, 1920, 1080, num_frames=3)) == 2


def test_read_sfu_object_ids_are_per_class(tmp_path):
    """SFU-HW-Tracks-v1 numbers objects per class: person 0 and ball 0 in one frame are two objects,
    scored in their own classes; the same id twice within one class is still refused."""
    from svc.metrics.mot import evaluate

    (tmp_path / "BasketballPass_416x240_50_seq_000.txt").write_text("0 0 0.5 0.5 0.2 0.4\n32 0 0.1 0.1 0.02 0.04\n")
    gt = read_sfu_annotations(tmp_path, 416, 240)
    assert gt[:, 1].tolist() == [0, 0] and sorted(gt[:, 7].tolist()) == [0, 32]
    hyp = gt.copy()
    hyp[:, 1] = [7, 8]  # a tracker's ids are unique across classes
    m = evaluate(gt, hyp)
    assert m[0]["MOTA"] == m[32]["MOTA"] == m["all"]["MOTA"] == 1.0 and m["all"]["num_objects"] == 2
    (tmp_path / "BasketballPass_416x240_50_seq_001.txt").write_text("0 3 0.5 0.5 0.2 0.4\n0 3 0.1 0.1 0.2 0.4\n")
    with pytest.raises(ValueError, match="object id 3 of class 0 appears twice"):
        read_sfu_annotations(tmp_path, 416, 240)


@pytest.mark.parametrize("line", ["0 5 0.5 0.5 0.1", "0 5 0.5 0.5 0.1 0.2 0.3", "person 5 0.5 0.5 0.1 0.2",
                                  "0 5 0.5 nan 0.1 0.2", "0 5 0.5 0.5 -0.1 0.2", "0 5.5 0.5 0.5 0.1 0.2"])
def test_read_sfu_malformed_line_names_file_and_line(tmp_path, line):
    name = "Johnny_1280x720_60_seq_003.txt"
    (tmp_path / name).write_text("0 1 0.5 0.5 0.1 0.1\n" + line + "\n")
    with pytest.raises(ValueError, match=rf"{name}, line 2"):
        read_sfu_annotations(tmp_path, 1280, 720)


def test_load_mot_file_pads_and_rejects(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("1,3,10.5,20,30,40\n2, 4, 1, 2, 3, 4, 0.5, -1, -1, -1\n")
    rows = read_mot(p)
    np.testing.assert_allclose(rows, [[1, 3, 10.5, 20, 30, 40, 1, -1, -1, -1], [2, 4, 1, 2, 3, 4, 0.5, -1, -1, -1]])
    p.write_text("1,3,10,20\n")
    with pytest.raises(ValueError, match="line 1"):
        read_mot(p)


@pytest.mark.parametrize("dtype,peak", [(np.uint8, 255), (np.uint16, 1023), (np.float32, 1.0)])
def test_mse_and_psnr_match_the_definition(dtype, peak):
    from svc.metrics.quality import mse, psnr
    rng = np.random.default_rng(3)
    a = (rng.random((240, 416)) * peak).astype(dtype)
    b = np.clip(a.astype(np.float64) + rng.normal(0, peak / 50, a.shape), 0, peak).astype(dtype)
    ref = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    assert mse(a, b) == pytest.approx(ref, rel=1e-9)
    assert mse(a[::2, 1::3], b[::2, 1::3]) == pytest.approx(np.mean((a[::2, 1::3].astype(float) - b[::2, 1::3]) ** 2))
    assert psnr(a, b, peak) == pytest.approx(10 * np.log10(peak ** 2 / ref))
    assert psnr(a, a, peak) == 100.0
    with pytest.raises(ValueError):
        mse(a, b[:10])
