"""Block enhancement coder: bit-exact decoding across processes, temporal prediction and skip on static
content, skip units carry no residual, never below the base, damaged payloads refused."""
from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from svc.enhancement import dmotion
from svc.enhancement import transform as tf
from svc.enhancement.blockcodec import BlockCoder, BlockCoderConfig
from svc.errors import BitstreamError
from svc.io.frames import VideoFormat, YuvFrame
from svc.metrics.quality import psnr

ROOT = Path(__file__).resolve().parent.parent
CARPHONE_MP4 = ROOT.parent / "shared" / "data" / "carphone_176x144_30.mp4"
if not CARPHONE_MP4.exists():
    CARPHONE_MP4 = Path("/work/shared/data/carphone_176x144_30.mp4")


@pytest.fixture(scope="module")
def carphone_gop():
    """8 carphone frames, cropped to 96x64 (not a multiple of 16 wide: exercises the padding), and their
    real base layer (x265 QP 37)."""
    from svc.base import BaseEncoder
    from svc.config import BaseConfig
    from svc.io import open_source

    frames = [YuvFrame(f.y[8:72, 20:108].copy(), f.u[4:36, 10:54].copy(), f.v[4:36, 10:54].copy())
              for f in open_source(CARPHONE_MP4, max_frames=8)]
    fmt = VideoFormat(88, 64, Fraction(30))
    bases = BaseEncoder(fmt, BaseConfig(qp=37)).encode_gop(frames).recon
    return fmt, frames, bases


def _same(a, b):
    return all(np.array_equal(x, y) for fa, fb in zip(a, b) for x, y in zip(fa, fb))


def test_inverse_transform_is_exact_integer_arithmetic():
    rng = np.random.default_rng(0)
    lv = rng.integers(-300, 300, (50, 8, 8))
    sq = rng.integers(16, 2000, 50)
    m = tf.M8.astype(np.int64)
    x = np.einsum("ji,njk,kl->nil", m, lv * sq[:, None, None], m)
    ref = (x + (1 << 18)) >> 19
    assert np.array_equal(tf.inverse(lv, sq), ref)


def test_motion_compensation_paths_agree():
    rng = np.random.default_rng(1)
    ref = rng.integers(0, 256, (48, 64)).astype(np.uint8)
    mv = rng.integers(-60, 60, (3, 4, 2)).astype(np.int32)
    assert np.array_equal(dmotion.LumaMC(ref).predict(mv), dmotion.luma_mc(ref, mv))


def test_roundtrip_and_cross_process_bit_exact(carphone_gop, tmp_path):
    fmt, frames, bases = carphone_gop
    coder = BlockCoder(fmt, 0.55)
    payload, fulls = coder.encode_gop(frames, bases, bases)
    assert _same(coder.decode_gop(bases, bases, payload), fulls)
    np.savez(tmp_path / "gop.npz", **{f"b{i}{k}": p for i, b in enumerate(bases) for k, p in zip("yuv", b)})
    (tmp_path / "payload.bin").write_bytes(payload)
    script = f"""
import numpy as np, sys
from fractions import Fraction
from svc.io.frames import VideoFormat, YuvFrame
from svc.enhancement.blockcodec import BlockCoder
z = np.load(r"{tmp_path / 'gop.npz'}")
bases = [YuvFrame(z[f"b{{i}}y"], z[f"b{{i}}u"], z[f"b{{i}}v"]) for i in range({len(bases)})]
pay = open(r"{tmp_path / 'payload.bin'}", "rb").read()
out = BlockCoder(VideoFormat(88, 64, Fraction(30)), 0.55).decode_gop(bases, bases, pay)
np.savez(r"{tmp_path / 'out.npz'}", **{{f"f{{i}}{{k}}": p for i, f in enumerate(out) for k, p in zip("yuv", f)}})
"""
    env = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, cwd=str(ROOT))
    z = np.load(tmp_path / "out.npz")
    other = [YuvFrame(z[f"f{i}y"], z[f"f{i}u"], z[f"f{i}v"]) for i in range(len(fulls))]
    assert _same(other, fulls)


def test_static_content_costs_almost_nothing():
    """A still picture: after the first frame, the motion-compensated previous full frame wins every
    unit as a skip, and each further frame costs well under a byte."""
    import cv2

    rng = np.random.default_rng(2)
    fmt = VideoFormat(64, 48, Fraction(30))
    y = cv2.GaussianBlur(rng.integers(0, 256, (48, 64)).astype(np.uint8), (5, 5), 1.0)
    orig = YuvFrame(y, np.full((24, 32), 120, np.uint8), np.full((24, 32), 130, np.uint8))
    base = YuvFrame(cv2.GaussianBlur(y, (7, 7), 2.0), orig.u, orig.v)
    coder = BlockCoder(fmt, 0.6)
    one = len(coder.encode_gop([orig], [base], [base])[0])
    payload, fulls = coder.encode_gop([orig] * 16, [base] * 16, [base] * 16)
    assert len(payload) - one <= 15 * 1, (len(payload), one)
    for s in coder.stats[1:]:
        assert s["modes"][2] == s["modes"].sum()     # symbol 2 = F, skip
    info = []
    coder.decode_gop([base] * 16, [base] * 16, payload, info=info)
    assert all((i["sym"] == 2).all() for i in info[1:])
    assert psnr(orig.y, fulls[-1].y) >= psnr(orig.y, fulls[0].y) - 1e-9


def test_skip_units_carry_no_residual(carphone_gop):
    fmt, frames, bases = carphone_gop
    coder = BlockCoder(fmt, 0.45)
    payload, fulls = coder.encode_gop(frames, bases, bases)
    info = []
    coder.decode_gop(bases, bases, payload, info=info)
    skipped = 0
    for i in info:
        skip = (i["sym"] % 2) == 0
        assert not i["tu_cbf"][skip].any()
        assert np.array_equal(i["full_tus"][skip], i["pred_tus"][skip])
        skipped += int(skip.sum())
    assert skipped > 0


@pytest.mark.parametrize("quality", [0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
def test_full_layer_never_below_base(carphone_gop, quality):
    fmt, frames, bases = carphone_gop
    _, fulls = BlockCoder(fmt, quality).encode_gop(frames, bases, bases)
    for o, b, f in zip(frames, bases, fulls):
        assert psnr(o.y, f.y) >= psnr(o.y, b.y) - 1e-9


@pytest.mark.parametrize("seed", [0, 1])
def test_guard_holds_on_visible_pixels(carphone_gop, seed):
    """A base that is not x265's (blurred, with noise; 88 wide, so the last unit column is half
    padding) at a coarse step: the decisions' transform-domain errors would let a frame fall below the
    base; the guard measures the reconstruction on the visible pixels."""
    import cv2

    fmt, frames, _ = carphone_gop
    rng = np.random.default_rng(seed)
    bases = [YuvFrame(np.clip(cv2.GaussianBlur(f.y, (5, 5), 1.5).astype(np.int32)
                              + rng.integers(-6, 7, f.y.shape), 0, 255).astype(np.uint8), f.u, f.v)
             for f in frames]
    for quality in (0.05, 0.15):
        _, fulls = BlockCoder(fmt, quality).encode_gop(frames, bases, bases)
        for o, b, f in zip(frames, bases, fulls):
            assert psnr(o.y, f.y) >= psnr(o.y, b.y) - 1e-9


def test_tiles_keep_prediction_inside_and_decode_alone(carphone_gop):
    """Tiles of 2 x 2 units (88x64: 3 x 2 tiles): a whole decode reproduces the encoder; decoding one
    tile gives its samples exactly; the MC of a tile's units never reads another tile (a reference
    that differs only outside the tile predicts the same)."""
    fmt, frames, bases = carphone_gop
    coder = BlockCoder(fmt, 0.6, BlockCoderConfig(tile=2))
    payload, fulls = coder.encode_gop(frames, bases, bases)
    assert _same(coder.decode_gop(bases, bases, payload), fulls)
    want = np.zeros((4, 6), bool)
    want[2, 3] = True                                        # tile (row 1, column 1): rows 32..63, x 32..63
    part = coder.decode_gop(bases, bases, payload, want=want)
    assert all(np.array_equal(p.y[32:64, 32:64], f.y[32:64, 32:64]) for p, f in zip(part, fulls))
    _, _, bounds = coder._tiles(2)
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 256, (64, 96)).astype(np.int32)
    other = rng.integers(0, 256, (64, 96)).astype(np.int32)
    other[32:64, 32:64] = ref[32:64, 32:64]
    mv = rng.integers(-40, 41, (4, 6, 2)).astype(np.int32)
    a, b = dmotion.luma_mc(ref, mv, 255, bounds), dmotion.luma_mc(other, mv, 255, bounds)
    assert np.array_equal(a[32:64, 32:64], b[32:64, 32:64]) and not np.array_equal(a, b)


def test_damaged_payload_raises(carphone_gop):
    fmt, frames, bases = carphone_gop
    coder = BlockCoder(fmt, 0.5)
    payload, _ = coder.encode_gop(frames, bases, bases)
    p = bytearray(payload)
    for where in (len(p) - 1, 12, 3):
        bad = bytearray(p)
        bad[where] ^= 0x5A
        with pytest.raises(BitstreamError):
            coder.decode_gop(bases, bases, bytes(bad))
    with pytest.raises(BitstreamError):
        coder.decode_gop(bases, bases, bytes(p[:-5]))
    with pytest.raises(BitstreamError):
        coder.decode_gop(bases, bases, bytes(p[:5]))
    with pytest.raises(BitstreamError):
        coder.decode_gop(bases[:-1], bases[:-1], payload)


def test_adapted_tables_exact_and_incremental():
    """Adapted tables are exact 16-bit integer CDFs; contexts never seen keep the static table; a
    string's frame-by-frame in-place adaptation equals adapting the static tables to the cumulative
    counts; a reader decodes a string whose tables adapted across frames, and adaptation makes
    symbols far from the static statistics cheaper."""
    from svc.enhancement.context_tables import FAMILIES, NAMES, EntropyModel, SymbolReader, SymbolWriter, empty_counts

    static = EntropyModel.load()
    rng = np.random.default_rng(3)
    ctx = [rng.integers(0, 40, 3000) for _ in range(3)]
    val = [np.clip(np.round(rng.normal(0, 6, 3000)), -20, 20).astype(np.int32) for _ in range(3)]  # escapes too
    sizes = {}
    for adapt in (False, True):
        w = SymbolWriter(static, adapt=adapt)
        for c, v in zip(ctx, val):
            w.put("coef", c, v)
            w.put("blk_i", c % 8, v & 1)
            w.frame_done()
        data = sizes[adapt] = w.encode()
        r = SymbolReader(static, data, 20000, adapt=adapt)
        for c, v in zip(ctx, val):
            assert np.array_equal(r.get("coef", c), v)
            assert np.array_equal(r.get("blk_i", c % 8), v & 1)
            r.frame_done()
    assert len(sizes[True]) < 0.9 * len(sizes[False])
    counts = empty_counts()
    for c, v in zip(ctx, val):
        np.add.at(counts["coef"], (c, np.where(np.abs(v) <= 16, v + 16, 33)), 1)
        np.add.at(counts["blk_i"], (c % 8, v & 1), 1)
    pure = static.adapted(counts)
    for n in NAMES:
        f = pure.freqs[n]
        assert f.dtype == np.int64 and (f >= 1).all() and (f.sum(1) == 1 << 16).all()
        assert np.array_equal(w.model.freqs[n], f) and np.array_equal(r.model.freqs[n], f)
        unseen = counts[n].sum(1) == 0
        assert np.array_equal(f[unseen], static.freqs[n][unseen])
        assert np.allclose(w.model.bits[n], -np.log2(f / 65536.0))
        assert w.model.cdfs[static.base[n]] == [0] + np.cumsum(f[0]).tolist()
    assert FAMILIES["coef"][0] > 40 and unseen.any()


def test_adaptation_codes_noise_cheaper(carphone_gop):
    """Noise (sigma 20) in the original, far from the clips the static tables were counted on: with
    tables adapting within the GOP the layer costs fewer bytes and reaches a higher PSNR; both flags
    decode exactly."""
    fmt, frames, bases = carphone_gop
    rng = np.random.default_rng(0)
    noisy = [YuvFrame(*[np.clip(p + np.round(rng.normal(0, 20, p.shape)), 0, 255).astype(np.uint8) for p in f])
             for f in frames]
    out = {}
    for adapt in (False, True):
        coder = BlockCoder(fmt, 0.6, BlockCoderConfig(adapt=adapt))
        payload, fulls = coder.encode_gop(noisy, bases, bases)
        assert _same(BlockCoder(fmt, 0.6).decode_gop(bases, bases, payload), fulls)
        out[adapt] = len(payload), np.mean([psnr(o.y, f.y) for o, f in zip(noisy, fulls)])
    assert out[True][0] < 0.95 * out[False][0] and out[True][1] > out[False][1] + 0.3, out
