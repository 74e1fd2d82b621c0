"""Multi-class analytics: class filtering and per-class tracking through the pipeline stages, driven by
a scripted detector that emits several classes (a rider on a horse: two overlapping boxes of two
classes moving together, and a car), and by the real default detector on RaceHorses."""
from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from svc.analytics.detectors import COCO_IDS, Detections, class_ids_from_names
from svc.analytics.mot_io import parse_mot
from svc.analytics.render import label
from svc.analytics.tracker import Tracker
from svc.bitstream import GopRecord
from svc.config import TrackerConfig
from svc.pipeline.stages import DecodedGop, detect_stage, track_stage

from conftest import moving_clip, run_cli

PERSON, CAR, HORSE = COCO_IDS["person"], COCO_IDS["car"], COCO_IDS["horse"]


class RiderDetector:
    """Scripted detections for frame t (its luma sample (0, 0) holds t): a rider (person) and the
    horse under it, boxes overlapping at IoU ~0.5, moving 3 px/frame to the right, and a car
    moving left at the far side of the frame."""

    name = "scripted"

    @staticmethod
    def boxes(t: int):
        return {PERSON: (40 + 3 * t, 30, 40, 70), HORSE: (32 + 3 * t, 55, 60, 60), CAR: (300 - 2 * t, 120, 80, 40)}

    def detect(self, frame) -> Detections:
        t = int(frame.y[0, 0])
        b = self.boxes(t)
        return Detections(np.array(list(b.values()), np.float32), np.full(len(b), 0.9), np.array(list(b)))


def _gops(n=24, gop=8):
    frames = moving_clip(416, 240, n, seed=4)
    for t, f in enumerate(frames):
        f.y[0, 0] = t
    return [DecodedGop(GopRecord(i, i * gop, gop, b""), frames[i * gop:(i + 1) * gop]) for i in range(n // gop)]


def _run(class_ids=None, interval=1, cfg=TrackerConfig()):
    return list(track_stage(detect_stage(_gops(), RiderDetector(), class_ids, interval), Tracker(cfg), "kalman"))


@pytest.mark.parametrize("interval", [1, 3])
def test_each_class_keeps_its_own_track_ids(interval):
    from svc.analytics.boxes import iou_matrix

    b = RiderDetector.boxes(0)
    assert iou_matrix([b[PERSON]], [b[HORSE]])[0, 0] > 0.3  # above the tracker's IoU threshold: only
    # the class keeps the rider's track off the horse
    classes_of = defaultdict(set)
    per_frame = []
    for dec in _run(interval=interval):
        for rows in dec.tracks:
            per_frame.append({r.class_id: r.track_id for r in rows})
            for r in rows:
                classes_of[r.track_id].add(r.class_id)
    assert all(len(c) == 1 for c in classes_of.values()), dict(classes_of)  # an id never changes class
    assert len(classes_of) == 3  # one track per object, all along
    assert sum(len(f) == 3 for f in per_frame) >= len(per_frame) - 1  # all three reported (min_hits 2)
    ids = {cls: tid for f in per_frame for cls, tid in f.items()}
    assert len(set(ids.values())) == 3


def test_class_filter_keeps_only_the_named_classes():
    everything = _run()
    assert {r.class_id for d in everything for rows in d.tracks for r in rows} == {PERSON, HORSE, CAR}
    for names, want in (("horse,car", {HORSE, CAR}), ("person", {PERSON}), ("bicycle", set())):
        out = _run(class_ids_from_names(names))
        dets = {int(c) for d in out for det in d.detections for c in det.classes}
        tracks = {r.class_id for d in out for rows in d.tracks for r in rows}
        assert dets == tracks == want, (names, dets, tracks)


def test_show_labels_name_the_class():
    assert label(3, PERSON) == "3 person" and label(12, COCO_IDS["sports ball"]) == "12 sports ball"
    assert label(4, -1) == "4" and label(5, None) == "5"


@pytest.fixture(scope="module")
def racehorses_svc(tmp_path_factory, racehorses_yuv):
    out = tmp_path_factory.mktemp("mc") / "rh.svc"
    run_cli("svc-encode", racehorses_yuv, "-o", out, "--no-enhancement", "--qp", "30", "--gop", "2")
    return out


def test_analyze_classes_option_on_racehorses(racehorses_svc, tmp_path):
    """The default detector sees riders and horses on the two RaceHorses frames: --classes keeps the
    named ones, MOT column 8 carries their COCO id, and --show draws them."""
    every = parse_mot(run_cli("svc-analyze", racehorses_svc, "-o", "-", "-q", "--set",
                              "analytics.tracker.min_hits=1").stdout.decode())
    assert {PERSON, HORSE} <= set(every[:, 7].astype(int).tolist())
    show = tmp_path / "show.mp4"
    horses = parse_mot(run_cli("svc-analyze", racehorses_svc, "-o", "-", "-q", "--classes", "horse", "--show", show,
                               "--set", "analytics.tracker.min_hits=1").stdout.decode())
    assert len(horses) >= 4 and set(horses[:, 7].astype(int).tolist()) == {HORSE}
    assert len(horses) == int((every[:, 7] == HORSE).sum())
    assert show.stat().st_size > 1000


def test_roi_regions_come_from_the_analytics_classes():
    """The ROI encoder keeps the regions of analytics.classes (all 80 when empty), from the same detector."""
    from svc.analytics.roi_analyzer import make_roi
    from svc.config import load_config
    from svc.io.frames import VideoFormat

    frames = [f for g in _gops(8) for f in g.frames]
    fmt = VideoFormat(416, 240, 30)
    for classes, n in (("horse", 1), ("horse,car,bicycle", 2), ("", 3)):
        cfg = load_config(overrides=[{"roi": {"temporal": 0}, "analytics": {"classes": classes}}])
        analyzer, _ = make_roi(cfg, fmt, RiderDetector())
        assert [len(b) for b in analyzer.analyze(frames)] == [n] * len(frames), classes
