"""Base-layer analytics (svc-analyze) and the detector-relevant (ROI) base layer."""
import io
from collections import Counter

import av
import numpy as np
import pytest

from svc.analytics.detectors import make_detector
from svc.analytics.mot_io import parse_mot
from svc.analytics.roi_analyzer import make_roi
from svc.base.roi import BackgroundSimplifier, RoiFilter, with_roi_rate_control
from svc.config import RoiConfig, load_config
from svc.io import open_source
from svc.io.frames import VideoFormat, YuvFrame
from svc.io.memory import FrameCollector, FrameList
from svc.metrics.quality import psnr

from svc.pipeline.decode import decode
from svc.pipeline.encode import encode

from conftest import CARPHONE_MP4, moving_clip, run_cli


@pytest.fixture(scope="module")
def carphone_svc(tmp_path_factory, carphone_yuv):
    out = tmp_path_factory.mktemp("an") / "c.svc"
    run_cli("svc-encode", carphone_yuv, "-o", out, "--no-enhancement", "--qp", "32")
    return out


def test_analyze_carphone_finds_one_long_track(tmp_path, carphone_svc, carphone_yuv):
    tracks, dets, show = tmp_path / "t.txt", tmp_path / "d.txt", tmp_path / "show.mp4"
    p = run_cli("svc-analyze", carphone_svc, "-o", tracks, "--detections", dets, "--show", show)
    rows = parse_mot(tracks.read_text())
    assert rows.shape[1] == 10 and np.all(rows[:, 7] == 0) and np.all(rows[:, 8:] == -1)  # class 0: person
    assert rows[:, 0].min() >= 1 and rows[:, 0].max() <= 120
    best_id, n = Counter(rows[:, 1].astype(int)).most_common(1)[0]
    assert n >= 0.8 * 120, f"longest track covers {n} of 120 frames"
    # the track sits on the person (centre of the frame) and is big
    t = rows[rows[:, 1] == best_id]
    cx, cy = t[:, 2] + t[:, 4] / 2, t[:, 3] + t[:, 5] / 2
    assert 40 < np.median(cx) < 136 and 30 < np.median(cy) < 114 and np.median(t[:, 4] * t[:, 5]) > 2000
    d = parse_mot(dets.read_text())
    k = load_config().analytics.detect_interval  # detections are written for the frames the detector ran on
    ran = set(range(1, 121, k))
    assert np.all(d[:, 1] == -1) and set(np.unique(d[:, 0]).astype(int)) <= ran
    assert len(np.unique(d[:, 0])) >= 0.9 * len(ran)
    with av.open(str(show)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 120
    assert "tracks" in p.stderr.decode()


def test_analyze_pipe_equals_file(tmp_path, carphone_yuv, carphone_svc):
    import subprocess
    import sys
    from conftest import ROOT
    a = run_cli("svc-analyze", carphone_svc, "-o", "-", "-q").stdout
    enc = subprocess.Popen([sys.executable, "-c", "from svc.cli import encode_main; encode_main()", str(carphone_yuv),
                            "-o", "-", "--no-enhancement", "--qp", "32", "-q"], stdout=subprocess.PIPE, cwd=ROOT)
    b = subprocess.run([sys.executable, "-c", "from svc.cli import analyze_main; analyze_main()", "-", "-o", "-",
                        "-q"], stdin=enc.stdout, capture_output=True, cwd=ROOT, timeout=300)
    enc.stdout.close()
    assert enc.wait(60) == 0 and b.returncode == 0
    assert a == b.stdout and len(a.splitlines()) > 90


def _person_on_background(n=24):
    """Carphone's person pasted at (200, 48) on a textured, moving 416x240 background."""
    cp = list(open_source(CARPHONE_MP4, max_frames=n))
    frames = []
    for b, c in zip(moving_clip(416, 240, n, seed=1), cp):
        y, u, v = b.y.copy(), b.u.copy(), b.v.copy()
        y[48:192, 200:376], u[24:96, 100:188], v[24:96, 100:188] = c.y, c.u, c.v
        frames.append(YuvFrame(y, u, v))
    mask = np.zeros((240, 416), bool)
    mask[48:192, 200:376] = True
    return frames, mask


def _code(frames, mask, qp, roi=None):
    """(base kbps, PSNR-Y inside mask, outside, analysis s); ``roi``: None (plain) or an ROI method."""
    clip = FrameList(VideoFormat(416, 240, 30), frames)
    cfg = load_config(overrides=[{"base": {"qp": qp, "gop": 8}, "enhancement": {"enabled": False},
                                  "roi": {"method": roi or "blur"}}])
    analyzer = roi_filter = None
    if roi:
        analyzer, roi_filter = make_roi(cfg, clip.format, make_detector("opencv"))
        assert isinstance(roi_filter, {"blur": BackgroundSimplifier, "qoffset": RoiFilter}[roi])
        assert with_roi_rate_control(cfg).base.rate_control == ("crf" if roi == "qoffset" else "qp")
    buf = io.BytesIO()
    stats = encode(clip, buf, cfg, analyzer=analyzer, roi_filter=roi_filter)
    sink = FrameCollector()
    decode(io.BytesIO(buf.getvalue()), sink)
    inside = np.mean([psnr(o.y[mask], d.y[mask]) for o, d in zip(frames, sink.frames)])
    outside = np.mean([psnr(o.y[~mask], d.y[~mask]) for o, d in zip(frames, sink.frames)])
    return stats.base_kbps, inside, outside, stats.timings.get("analysis", 0)


@pytest.fixture(scope="module")
def person_clip():
    frames, mask = _person_on_background()
    return frames, mask, _code(frames, mask, 34)


@pytest.mark.parametrize("method,qps", [("qoffset", (38, 34)), ("blur", (34, 28))])
def test_roi_moves_quality_into_boxes_at_equal_rate(person_clip, method, qps):
    # blur keeps the constant QP, so its points sit at lower rates than qoffset's (CRF) points
    frames, mask, (kbps, inside, outside, _) = person_clip
    lo, hi = _code(frames, mask, qps[0], method), _code(frames, mask, qps[1], method)
    assert lo[0] < kbps < hi[0], ("ROI points must bracket the plain rate", lo, kbps, hi)
    w = (np.log(kbps) - np.log(lo[0])) / (np.log(hi[0]) - np.log(lo[0]))  # interpolate at equal kbps
    roi_in, roi_out = lo[1] + w * (hi[1] - lo[1]), lo[2] + w * (hi[2] - lo[2])
    print(f"\nplain {kbps:.0f} kbps: inside {inside:.2f} outside {outside:.2f} dB; ROI ({method}) at equal rate: "
          f"inside {roi_in:.2f} outside {roi_out:.2f} dB (analysis {lo[3]:.2f} s)")
    assert roi_in > inside + 0.5 and roi_out < outside - 0.5
    assert lo[3] > 0  # encoder-side analysis time is accounted separately


def test_background_simplifier_keeps_boxes_and_smooths_the_rest():
    frames, mask = _person_on_background(2)
    f = frames[0]
    box = np.array([[200, 48, 176, 144]], np.int32)
    bs = BackgroundSimplifier(VideoFormat(416, 240, 30), RoiConfig(feather=4))
    out = bs.simplify(f, box)
    assert out.y.dtype == f.y.dtype and out.y.shape == f.y.shape and out.u.shape == f.u.shape
    inner = np.zeros_like(mask)
    inner[48 + 4:192 - 4, 200 + 4:376 - 4] = True  # inside the box, beyond the feather
    assert np.array_equal(out.y[inner], f.y[inner])
    far = np.ones_like(mask)
    far[48 - 8:192 + 8, 200 - 8:376 + 8] = False
    def grad(y):
        return np.abs(np.diff(y.astype(np.int32), axis=1))[far[:, 1:]].mean()
    assert grad(out.y) < 0.25 * grad(f.y)  # background low-passed
    empty = bs.simplify(f, np.zeros((0, 4), np.int32))
    assert np.abs(empty.y.astype(int) - f.y).mean() > 5  # nothing relevant: the whole frame is background
    bs10 = BackgroundSimplifier(VideoFormat(416, 240, 30, bit_depth=10), RoiConfig(feather=4))
    ten = bs10.simplify(type(f)(*(p.astype(np.uint16) << 2 for p in f)), box)  # 10-bit planes
    assert ten.y.dtype == np.uint16 and np.array_equal(ten.y[inner], f.y[inner].astype(np.uint16) << 2)


def test_roi_config_rejects_unknown_method():
    from svc.errors import InputError
    with pytest.raises(InputError, match="roi.method"):
        RoiConfig(method="sharpen")
    with pytest.raises(InputError, match="roi.viewer_quality"):
        RoiConfig(viewer_quality="best")
    with pytest.raises(InputError, match="roi.max_full_rate_ratio"):
        RoiConfig(max_full_rate_ratio=0)
    assert RoiConfig(max_full_rate_ratio=None).max_full_rate_ratio is None


def test_analyze_detect_every_third_frame(tmp_path, carphone_svc):
    tracks, dets = tmp_path / "t.txt", tmp_path / "d.txt"
    run_cli("svc-analyze", carphone_svc, "-o", tracks, "--detections", dets, "--detect-every", "3", "-q")
    d = parse_mot(dets.read_text())
    assert set(np.unique(d[:, 0]).astype(int)) <= set(range(1, 121, 3))  # frames 1, 4, 7, ... only
    rows = parse_mot(tracks.read_text())
    _, n = Counter(rows[:, 1].astype(int)).most_common(1)[0]
    assert n >= 0.8 * 120, f"longest track covers {n} of 120 frames"  # coasting fills the frames between
    p = run_cli("svc-analyze", carphone_svc, "-o", tmp_path / "x.txt", "--detect-every", "0", check=False)
    assert p.returncode != 0 and "--detect-every" in p.stderr.decode()


def test_cli_roi_auto_codes_a_playable_base_and_says_what_it_costs_viewers(tmp_path, carphone_yuv):
    """--roi auto through the CLI: the base layer still extracts to plain HEVC; with the enhancement
    layer on the summary warns that restoring the simplified background costs enhancement bits."""
    out, hevc = tmp_path / "roi.svc", tmp_path / "roi.hevc"
    # the face-sized boxes of the opencv detector leave a background the enhancement layer restores within
    # roi.max_full_rate_ratio, so the GOP keeps its ROI (NanoDet's whole-person box there does not: the GOP
    # goes out without ROI, the other note)
    p = run_cli("svc-encode", carphone_yuv, "-o", out, "--roi", "auto", "--frames", "4", "--gop", "4",
                "--set", "analytics.detector=opencv")
    err = p.stderr.decode()
    assert "note: --roi auto (blur) simplified the base-layer background" in err
    assert "full without ROI" in err and "without-ROI reference" in err
    run_cli("svc-extract", out, "--layer", "base", "-o", hevc)
    with av.open(str(hevc)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 4
    p = run_cli("svc-encode", carphone_yuv, "-o", tmp_path / "m.svc", "--roi", "auto", "--frames", "4",
                "--no-enhancement")
    assert "note:" not in p.stderr.decode()


def test_roi_with_enhancement_never_costs_the_viewer(tmp_path):
    """--roi auto with the enhancement layer (roi.viewer_quality: match): every full frame reaches the
    quality the stream would have without ROI. A GOP on a plain background keeps its ROI base; a GOP on
    fine texture, whose restoration costs more than roi.max_full_rate_ratio (here 1.2; measured 1.45) times
    the GOP without ROI, goes out without ROI; the mixed base layer is still one HEVC stream FFmpeg decodes;
    the full layer decodes exactly."""
    from svc.pipeline.decode import extract_base
    from svc.enhancement import load_codec_for_encoding, load_codec_for_decoding

    textured, _ = _person_on_background(16)
    flat = []
    for f in textured[:8]:  # the same person on a flat background
        y, u, v = np.full_like(f.y, 110), np.full_like(f.u, 128), np.full_like(f.v, 128)
        y[48:192, 200:376], u[24:96, 100:188], v[24:96, 100:188] = (p[s] for p, s in zip(
            f, (np.s_[48:192, 200:376], np.s_[24:96, 100:188], np.s_[24:96, 100:188])))
        flat.append(YuvFrame(y, u, v))
    clip = FrameList(VideoFormat(416, 240, 30), flat + textured[8:])
    cfg = load_config(overrides=[{"base": {"qp": 37, "gop": 8}, "roi": {"mode": "auto", "max_full_rate_ratio": 1.2},
                                  "enhancement": {"enabled": True, "quality": 0.5}}])
    codec = load_codec_for_encoding(cfg, clip.format)
    analyzer, roi_filter = make_roi(cfg, clip.format, make_detector("opencv"))
    buf = io.BytesIO()
    s = encode(clip, buf, cfg, codec=codec, analyzer=analyzer, roi_filter=roi_filter)
    assert s.gops == 2 and s.roi_dropped_gops == 1
    assert s.psnr_full.y >= s.psnr_full_without_roi.y
    assert s.psnr_base.y < s.psnr_full_without_roi.y  # the kept ROI GOP's base is simplified
    full = FrameCollector()
    decode(io.BytesIO(buf.getvalue()), full, layer="full", codec_loader=load_codec_for_decoding)
    from svc.metrics.quality import PsnrAccumulator
    acc = PsnrAccumulator()
    for o, d in zip(clip.frames, full.frames):
        acc.add(o, d)
    assert acc.count == 16 and acc.mean().y == pytest.approx(s.psnr_full.y, abs=1e-9)
    hevc = tmp_path / "base.hevc"
    with open(hevc, "wb") as fh:
        extract_base(io.BytesIO(buf.getvalue()), fh)
    with av.open(str(hevc)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 16


def test_enhancement_regions_fill_missed_detections_without_adding_paths():
    """temporal_boxes(gaps_only=True): a frame keeps its own boxes; a neighbour's box that overlaps none of them (the frame
    missed that object) is added; a neighbour's box of an object the frame did detect (it overlaps) is
    not, so a moving object's path is not made a region (the plain union, kept for the base layer, adds it)."""
    from svc.analytics.roi_analyzer import temporal_boxes

    walker = [np.array([[10 + 4 * t, 20, 16, 32]], np.int32) for t in range(5)]     # moves 4 px a frame
    other = [np.array([[100, 60, 20, 20]], np.int32) if t != 2 else np.zeros((0, 4), np.int32) for t in range(5)]
    per_frame = [np.concatenate([w, o]) for w, o in zip(walker, other)]
    out = temporal_boxes(per_frame, 2, gaps_only=True)
    assert len(out) == 5
    # frame 2 missed the second object: its neighbours' boxes of it are filled in
    assert any((b == [100, 60, 20, 20]).all() for b in out[2])
    # the walker was detected on every frame: only its own box, not its positions on frames 0-4
    walker_boxes = [b for b in out[2] if b[1] == 20]
    assert len(walker_boxes) == 1 and (walker_boxes[0] == walker[2][0]).all()
    assert all(len(o) >= len(p) for o, p in zip(out, per_frame))     # never fewer than the frame's own
