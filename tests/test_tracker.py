"""Tracker (Kalman + Hungarian, ByteTrack two-stage) on synthetic boxes, and MOT text rows."""
from __future__ import annotations

import numpy as np
import pytest

from svc.analytics.detectors import Detections
from svc.analytics.mot_io import det_rows, mot_rows, parse_mot
from svc.analytics.tracker import Tracker, iou_matrix
from svc.config import TrackerConfig


def dets(*objs):
    """Detections from (x, y, w, h[, score[, class]]) tuples."""
    if not objs:
        return Detections.empty()
    rows = [tuple(o) + (0.9, 0)[len(o) - 4:] for o in objs]
    a = np.array(rows, np.float64)
    return Detections(a[:, :4], a[:, 4], a[:, 5].astype(np.int32))


def ids_by_frame(tracker, frames):
    return [{tid: box for tid, box, _s, _c in tracker.update(d)} for d in frames]


def test_crossing_objects_keep_ids():
    # A moves right along y=100, B moves left along y=120; 40x80 boxes overlap heavily while crossing.
    frames = [dets((20 + 8 * t, 100, 40, 80), (340 - 8 * t, 120, 40, 80)) for t in range(41)]
    out = ids_by_frame(Tracker(TrackerConfig(min_hits=1)), frames)
    assert sorted(out[0]) == [1, 2]
    assert all(sorted(o) == [1, 2] for o in out), [sorted(o) for o in out]
    # id 1 started as A (left, moving right): it must end on the right, id 2 on the left
    for t, o in enumerate(out):
        assert abs(o[1][0] - (20 + 8 * t)) < 6 and abs(o[2][0] - (340 - 8 * t)) < 6, (t, o)


def test_missing_detections_do_not_break_track():
    tr = Tracker(TrackerConfig(max_age=5, min_hits=2))
    seen = []
    for t in range(30):
        d = dets() if t in (10, 11, 20) else dets((50 + 5 * t, 60 + 2 * t, 30, 60))
        seen.append([tid for tid, *_ in tr.update(d)])
    assert seen[0] == [] and seen[1] == [1]  # min_hits=2: reported from the 2nd frame
    assert seen[10] == seen[11] == seen[20] == []  # nothing matched, nothing reported
    assert all(s == [1] for t, s in enumerate(seen) if t >= 1 and t not in (10, 11, 20))


def test_track_dies_after_max_age():
    tr = Tracker(TrackerConfig(max_age=2, min_hits=1))
    box = (100, 100, 40, 40)
    assert [r[0] for r in tr.update(dets(box))] == [1]
    for _ in range(3):  # unmatched 3 > max_age frames
        tr.update(dets())
    assert [r[0] for r in tr.update(dets(box))] == [2]


def test_new_object_gets_new_id():
    tr = Tracker(TrackerConfig(min_hits=1))
    out = []
    for t in range(12):
        objs = [(20 + 3 * t, 30, 30, 60)]
        if t >= 5:
            objs.append((200, 40 + 2 * t, 30, 60))
        out.append({tid: b for tid, b, *_ in tr.update(dets(*objs))})
    assert all(list(o) == [1] for o in out[:5])
    assert all(sorted(o) == [1, 2] for o in out[5:])
    assert abs(out[-1][2][0] - 200) < 3 and abs(out[-1][1][0] - 53) < 3


def test_min_hits_suppresses_new_and_spurious_tracks():
    tr = Tracker(TrackerConfig(min_hits=3))
    reported = [[tid for tid, *_ in tr.update(dets((10 + 4 * t, 10, 20, 40)))] for t in range(5)]
    assert reported == [[], [], [1], [1], [1]]
    # a one-frame false positive is never reported, though it consumed id 2
    out = tr.update(dets((30, 10, 20, 40), (300, 300, 20, 20)))
    assert [r[0] for r in out] == [1]
    out = tr.update(dets((34, 10, 20, 40), (400, 10, 20, 20)))
    assert [r[0] for r in out] == [1] and tr.next_id == 4


def test_classes_are_tracked_separately():
    tr = Tracker(TrackerConfig(min_hits=1))
    out = tr.update(dets((10, 10, 40, 80, 0.9, 0), (12, 10, 40, 80, 0.9, 2)))
    assert [(r[0], r[3]) for r in out] == [(1, 0), (2, 2)]
    out = tr.update(dets((14, 10, 40, 80, 0.9, 2)))  # only the car: the person track is not reused
    assert [(r[0], r[3]) for r in out] == [(2, 2)]
    out = tr.update(dets((300, 10, 40, 80, 0.9, 1)))  # a new class far away: new id
    assert [(r[0], r[3]) for r in out] == [(3, 1)]


def test_two_stage_low_scores_keep_tracks_but_do_not_start_them():
    cfg = TrackerConfig(min_hits=1, high_score=0.5, low_score=0.1)
    tr = Tracker(cfg)
    assert [r[0] for r in tr.update(dets((10, 10, 40, 80, 0.9)))] == [1]
    out = tr.update(dets((14, 10, 40, 80, 0.3), (200, 10, 40, 80, 0.3)))
    assert [r[0] for r in out] == [1]  # low-score det rescued track 1; the other started nothing
    assert abs(out[0][2] - 0.3) < 1e-6
    assert tr.update(dets((200, 10, 40, 80, 0.05))) == []  # below low_score: ignored
    # one-stage (SORT) mode: a 0.3 detection does start a track
    sort = Tracker(TrackerConfig(min_hits=1, two_stage=False))
    assert [r[0] for r in sort.update(dets((200, 10, 40, 80, 0.3)))] == [1]


def _noisy_scene(seed=3, n=60):
    rng = np.random.default_rng(seed)
    frames = []
    for t in range(n):
        objs = []
        for k in range(4):
            if rng.random() < 0.15:
                continue  # missed detection
            x, y = 30 + 60 * k + 2 * t * (-1) ** k, 40 + 20 * k + t
            objs.append((x + rng.normal(0, 1.5), y + rng.normal(0, 1.5), 30 + rng.normal(0, 1), 60 + rng.normal(0, 1),
                         float(rng.uniform(0.2, 1.0)), k % 2))
        if rng.random() < 0.3:  # clutter
            objs.append((*rng.uniform(0, 400, 2), 20, 20, float(rng.uniform(0.1, 0.9)), 0))
        frames.append(dets(*objs))
    return frames


def test_deterministic():
    frames = _noisy_scene()
    runs = []
    for _ in range(2):
        tr = Tracker(TrackerConfig())
        runs.append([[(tid, tuple(np.round(b, 6)), round(s, 6), c) for tid, b, s, c in tr.update(d)] for d in frames])
    assert runs[0] == runs[1]
    tr.reset()
    again = [[(tid, tuple(np.round(b, 6)), round(s, 6), c) for tid, b, s, c in tr.update(d)] for d in frames]
    assert again == runs[0]
    ids = {r[0] for f in runs[0] for r in f}
    assert 4 <= len(ids) <= 12  # four walkers, a few clutter tracks at most


def test_iou_matrix():
    iou = iou_matrix(np.array([[0, 0, 10, 10]]), np.array([[0, 0, 10, 10], [5, 0, 10, 10], [20, 20, 5, 5]]))
    np.testing.assert_allclose(iou, [[1.0, 50 / 150, 0.0]])


def test_mot_rows_round_trip():
    tracks = [(3, np.array([10.123, 20.5, 30.0, 40.25]), 0.876, 0), (7, np.array([1, 2, 3, 4.0]), 1.0, 2)]
    rows = mot_rows(5, tracks)
    assert rows[0] == "5,3,10.12,20.50,30.00,40.25,0.876,0,-1,-1"  # column 8: the COCO class
    d = Detections(np.array([[1.5, 2.25, 3, 4]]), np.array([0.5]), np.array([0]))
    assert det_rows(1, d) == ["1,-1,1.50,2.25,3.00,4.00,0.500,0,-1,-1"]
    a = parse_mot("\n".join(rows) + "\n\n# comment\n1,2,3,4,5,6,1,0,0.5\n")
    assert a.shape == (3, 10)
    np.testing.assert_allclose(a[1], [5, 7, 1, 2, 3, 4, 1, 2, -1, -1])
    np.testing.assert_allclose(a[2, 7:], [0, 0.5, -1])
    with pytest.raises(ValueError):
        parse_mot("1,2,3\n")


def test_coasting_between_detections_follows_motion():
    # one object moving 6 px per frame; the detector runs on every 3rd frame only
    truth = [(20 + 6 * t, 50, 40, 80) for t in range(30)]
    tr = Tracker(TrackerConfig(min_hits=2, max_age=5))
    out = [tr.update(dets(b)) if t % 3 == 0 else tr.coast() for t, b in enumerate(truth)]
    assert out[0] == [] and out[1] == [] and out[2] == []  # not confirmed before its second match
    reported = [t for t in range(30) if out[t]]
    assert reported == list(range(3, 30)), reported
    assert all(len(o) == 1 and o[0][0] == 1 for o in out[3:])  # one id throughout
    # coasted boxes follow the motion once the filter has seen it
    err = [abs(out[t][0][1][0] - truth[t][0]) for t in range(10, 30) if t % 3]
    assert max(err) < 6, err


def test_a_missed_detector_run_does_not_end_a_track_between_runs():
    # detector on every 4th frame, max_age 5 frames: the run at frame 16 misses the object; its track
    # coasts (6, 7 frames unmatched by frames 18, 19) and the run at frame 20 matches it again, same
    # id. Two missed runs in a row (32, 36: 8 frames unmatched at the second) end it.
    truth = [(20 + 2 * t, 50, 40, 80) for t in range(48)]
    tr = Tracker(TrackerConfig(min_hits=2, max_age=5))
    ids = {}
    for t, b in enumerate(truth):
        rows = tr.coast() if t % 4 else tr.update(dets() if t in (16, 32, 36) else dets(b))
        ids[t] = [r[0] for r in rows]
    assert all(ids[t] == [1] for t in range(4, 16)) and ids[16] == []
    assert all(ids[t] == [1] for t in range(20, 32)), ids
    assert ids[40] == [] and ids[44] == [2]  # a new track, confirmed at its second match


def test_coasting_reports_only_tracks_matched_on_last_detected_frame():
    tr = Tracker(TrackerConfig(min_hits=1, max_age=10))
    tr.update(dets((0, 0, 40, 80), (200, 0, 40, 80)))
    tr.update(dets((0, 0, 40, 80)))  # the second object is missed here
    assert [r[0] for r in tr.coast()] == [1]


def test_confirmation_releases_the_rows_held_before_it():
    # min_hits=2: the first frame of a track is held back, and released when its second match confirms it
    tr = Tracker(TrackerConfig(min_hits=2, max_age=5))
    assert tr.update(dets((10, 10, 40, 80))) == [] and tr.backfill == []
    out = tr.update(dets((12, 10, 40, 80)))
    assert [r[0] for r in out] == [1]
    assert [(f, r[0]) for f, r in tr.backfill] == [(1, 1)]
    np.testing.assert_allclose(tr.backfill[0][1][1], (10, 10, 40, 80))
    tr.update(dets((14, 10, 40, 80)))
    assert tr.backfill == []  # released once only
    # a detection seen once and never again is never reported
    tr2 = Tracker(TrackerConfig(min_hits=2, max_age=1))
    tr2.update(dets((300, 10, 40, 80)))
    for _ in range(4):
        assert tr2.update(dets()) == [] and tr2.backfill == []


def test_track_stage_fills_a_confirmed_track_back_within_its_gop():
    from types import SimpleNamespace

    from svc.pipeline.stages import track_stage

    frames = [SimpleNamespace(y=np.zeros((8, 8), np.uint8)) for _ in range(4)]
    gop = SimpleNamespace(frames=frames, detections=[dets((10 + 2 * t, 10, 40, 80)) for t in range(4)], timings={})
    out = next(track_stage([gop], Tracker(TrackerConfig(min_hits=2))))
    assert [[r[0] for r in rows] for rows in out.tracks] == [[1], [1], [1], [1]]


def test_a_missed_detector_run_does_not_end_a_track_when_the_interval_exceeds_max_age():
    # detector on every 8th frame, max_age 5 frames: the run at frame 24 misses the object; its track
    # (8 frames unmatched there, more than max_age) lives on to be matched at frame 32 with the same id.
    truth = [(20 + 2 * t, 50, 40, 80) for t in range(56)]
    tr = Tracker(TrackerConfig(min_hits=2, max_age=5))
    ids = {}
    for t, b in enumerate(truth):
        rows = tr.coast() if t % 8 else tr.update(dets() if t in (24, 40, 48) else dets(b))
        ids[t] = [r[0] for r in rows]
    assert all(ids[t] == [1] for t in range(8, 24)) and ids[24] == []
    assert all(ids[t] == [1] for t in range(32, 40)), ids
    assert ids[40] == [] and ids[48] == []  # two missed runs in a row end it
    assert tr.tracks == []
