"""The compiled kernels (svc.enhancement.kernels) against the numpy reference code: the same integers
on random planes (every kernel, edge and bound cases), and the same stream bytes and decoded frames
whichever runs (also in a fresh process with the reference forced by SVC_KERNELS=reference)."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli
from svc.enhancement import align, dmotion, kernels
from svc.io.frames import VideoFormat, YuvFrame

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(not kernels.ENABLED, reason="numba kernels disabled (SVC_KERNELS=reference)")


def _both(monkeypatch, fn):
    """(fn() with the kernels, fn() with the numpy reference)."""
    compiled = fn()
    monkeypatch.setattr(kernels, "ENABLED", False)
    reference = fn()
    monkeypatch.setattr(kernels, "ENABLED", True)
    return compiled, reference


def _moved(rng, h, w, dtype=np.uint8, maxv=255):
    ref = rng.integers(0, maxv + 1, (h, w)).astype(dtype)
    cur = np.roll(ref, (int(rng.integers(-7, 8)), int(rng.integers(-7, 8))), (0, 1)).astype(np.int64)
    cur = np.clip(cur + rng.integers(-6, 7, cur.shape), 0, maxv).astype(dtype)
    return cur, ref


@pytest.mark.parametrize("seed", range(4))
def test_motion_search_kernels_match_reference(monkeypatch, seed):
    rng = np.random.default_rng(seed)
    h, w = 16 * int(rng.integers(2, 10)), 16 * int(rng.integers(2, 14))
    cur, ref = _moved(rng, h, w)
    if seed == 3:   # flat areas: many equal SADs, so the tie-break order decides
        cur, ref = cur // 64 * 64, ref // 64 * 64
    for subpel in (True, False):
        (mv_c, sad_c), (mv_r, sad_r) = _both(monkeypatch, lambda: dmotion.estimate(cur, ref, subpel))
        assert np.array_equal(mv_c, mv_r) and np.array_equal(sad_c, sad_r)
    down_c, down_r = _both(monkeypatch, lambda: dmotion._down(cur.astype(np.int16), 4))
    assert np.array_equal(down_c, down_r)


@pytest.mark.parametrize("seed", range(3))
def test_motion_compensation_kernels_match_reference(monkeypatch, seed):
    rng = np.random.default_rng(10 + seed)
    h, w = 16 * int(rng.integers(2, 8)), 16 * int(rng.integers(2, 10))
    maxv = 1023 if seed == 2 else 255
    ref = rng.integers(0, maxv + 1, (h, w)).astype(np.uint16 if maxv > 255 else np.uint8)
    chroma = ref[: h // 2, : w // 2]
    by, bx = h // 16, w // 16
    mv = rng.integers(-200, 200, (by, bx, 2)).astype(np.int32)       # beyond the clip range too
    bounds = np.zeros((by, bx, 4), np.int64)                           # motion-constrained tiles
    bounds[..., 1], bounds[..., 3] = h, w
    bounds[:, : bx // 2, 3] = (bx // 2) * 16
    bounds[:, bx // 2:, 2] = (bx // 2) * 16
    cases = [lambda: dmotion.luma_mc(ref, mv, maxv), lambda: dmotion.chroma_mc(chroma, mv),
             lambda: dmotion.luma_mc(ref, mv, maxv, bounds), lambda: dmotion.chroma_mc(chroma, mv, bounds),
             lambda: dmotion.luma_mc(ref, mv[1:, 1:], maxv, bounds[1:, 1:], (1, 1)),
             lambda: dmotion.chroma_mc(chroma, mv[1:, 1:], bounds[1:, 1:], (1, 1))]
    for case in cases:
        c, r = _both(monkeypatch, case)
        assert c.dtype == r.dtype and np.array_equal(c, r)
    assert np.array_equal(dmotion.LumaMC(ref, maxv).predict(mv), dmotion.luma_mc(ref, mv, maxv))


@pytest.mark.parametrize("maxv", [255, 1023])
def test_quarter_pel_phase_planes_match_reference(monkeypatch, maxv):
    """The encoder's 16 quarter-pel phase planes (dmotion.LumaMC): saturated and black areas (clipping),
    the plane's edges (repeated samples), 8 and 10 bits."""
    rng = np.random.default_rng(50 + maxv)
    ref = rng.integers(0, maxv + 1, (48, 80)).astype(np.uint8 if maxv == 255 else np.uint16)
    ref[:12], ref[12:20], ref[:, :5] = maxv, 0, maxv // 2
    c, r = _both(monkeypatch, lambda: dmotion.LumaMC(ref, maxv).phases)
    assert c.dtype == r.dtype and np.array_equal(c, r)
    assert len({bytes(ph) for ph in r}) == 16


@pytest.mark.parametrize("rng_", [1, 2])
def test_refinement_search_kernel_matches_reference(monkeypatch, rng_):
    """The encoder's quarter-pel refinement choice (decision.search_delta), ties included."""
    from types import SimpleNamespace

    from svc.enhancement import decision

    rng = np.random.default_rng(30 + rng_)
    h, w = 64, 96
    cur, ref = _moved(rng, h, w)
    ref[:, :32] = 100                                          # flat: every refinement ties
    coder = SimpleNamespace(by=h // 16, bx=w // 16, maxv=255, config=SimpleNamespace(mv_range=rng_))
    mv = rng.integers(-40, 40, (h // 16, w // 16, 2)).astype(np.int32)
    c, r = _both(monkeypatch, lambda: decision.search_delta(coder, cur.astype(np.int32), ref, mv))
    assert np.array_equal(c, r) and len(set(r.tolist())) > 1


@pytest.mark.parametrize("intra, rdoq", [(True, True), (False, True), (False, False)])
def test_rd_quantiser_kernel_matches_reference(monkeypatch, intra, rdoq):
    """The encoder's rate-distortion quantiser (decision.quantise_rd) on random coefficients: small and
    large levels (escapes past the tables' 16), exact dead-zone boundaries, empty units; every output
    equal, floats bit for bit."""
    from types import SimpleNamespace

    from svc.enhancement import decision
    from svc.enhancement.blockcodec import BlockCoderConfig
    from svc.enhancement.zoo import WEIGHTS_DIR, _load_tables

    rng = np.random.default_rng(40 + 2 * intra + rdoq)
    model = _load_tables(WEIGHTS_DIR / "blockcoder-tables.npz")
    m, nb = (1 if intra else 4), 37
    step_tu = np.array([45.25] * 4 + [40.5] * 2)
    scale = rng.choice([0.2, 1.0, 4.0, 60.0], (m, nb, 6, 1))          # units from empty to escapes
    coefs = rng.laplace(0, 1, (m, nb, 6, 64)) * scale * step_tu[:, None]
    coefs[..., 5] = 1.5 * step_tu                                        # a + 0.5 lands on an integer
    coefs[:, :3] = 0.0                                                   # empty units
    coder = SimpleNamespace(config=BlockCoderConfig(rdoq=rdoq))
    cue_tu = rng.integers(0, 8, (nb, 6))
    wt = np.where(np.arange(6) < 4, 1.0, 0.8)
    lam = 0.12 * 45.25 ** 2
    c, r = _both(monkeypatch, lambda: decision.quantise_rd(coder, coefs, step_tu, lam, wt, intra, cue_tu, model))
    for x, y in zip(c, r):
        assert x.shape == y.shape and x.dtype == y.dtype and np.array_equal(x, y)
    levels = r[0]
    assert (np.abs(levels) > 16).any() and (levels != 0).any() and (r[1] == -1).any()


@pytest.mark.parametrize("seed", range(3))
def test_rans_decoder_kernel_matches_compressai(monkeypatch, seed):
    """The compiled rANS decoder gives CompressAI's symbols: random tables (short and long alphabets,
    skewed), values inside and far outside them (escapes of 1-7 bypass chunks), passes of several
    calls on one string; and on damaged strings (bytes flipped, cut short) the same symbols as the C++
    decoder with its zero padding, never reading past the string."""
    from svc import rans_kernel
    from svc.rans import RansReader, RansTables, encode

    rng = np.random.default_rng(seed)
    pmfs = [rng.dirichlet(np.full(n, a)) for n, a in zip(rng.integers(1, 70, 40), rng.uniform(0.05, 3, 40))]
    tables = RansTables(pmfs, rng.integers(-20, 5, 40))
    ids = rng.integers(0, 40, 5000).astype(np.int32)
    values = np.array([rng.integers(o - 2, o + n + 2) for o, n in
                       zip(np.asarray(tables.offsets)[ids], np.asarray(tables.lengths)[ids] - 2)], np.int32)
    far = rng.random(ids.size) < 0.02
    values[far] = rng.integers(-(1 << 26), 1 << 26, far.sum())   # CompressAI codes |2v| < 2**28
    data = encode(values, ids, tables)
    cuts = np.sort(rng.choice(np.arange(1, ids.size), 3, replace=False))

    def passes(string):
        r = RansReader(string, tables, ids.size)
        return np.concatenate([r.get(part) for part in np.split(ids, cuts)])

    damaged = bytearray(data)
    for k in rng.integers(0, len(data), 6):
        damaged[k] ^= 0xFF
    for string in (data, bytes(damaged), data[:len(data) // 3], data[:5]):
        compiled = passes(string)
        monkeypatch.setattr(rans_kernel, "ENABLED", False)
        reference = passes(string)
        monkeypatch.setattr(rans_kernel, "ENABLED", True)
        assert np.array_equal(compiled, reference)
        if string is data:
            assert np.array_equal(compiled, values)


@pytest.mark.parametrize("seed", range(4))
def test_alignment_kernel_matches_reference(monkeypatch, seed):
    rng = np.random.default_rng(20 + seed)
    h, w = int(rng.integers(20, 150)), int(rng.integers(20, 200))      # any size: edges clamp
    ten_bit = seed == 3
    cur, ref = _moved(rng, h, w, np.uint16 if ten_bit else np.uint8, 1023 if ten_bit else 255)
    if seed == 2:
        cur, ref = cur // 32 * 32, ref // 32 * 32
    (v_c, s_c), (v_r, s_r) = _both(monkeypatch, lambda: align.hierarchical_motion(cur, ref))
    assert np.array_equal(v_c, v_r) and np.array_equal(s_c, s_r)
    a_c, a_r = _both(monkeypatch, lambda: align.align_to(cur, ref))
    assert np.array_equal(a_c, a_r)


def _carphone(frames=8):
    from svc.io import open_source

    path = ROOT.parent / "shared" / "data" / "carphone_176x144_30.mp4"
    return [YuvFrame(*(p.copy() for p in f)) for f in open_source(path, max_frames=frames)]


def test_enhancement_bytes_and_frames_identical_with_reference(monkeypatch):
    """A real GOP (carphone, x265 QP 37 base, restoration, block coder at q 0.6): the same payload and
    full frames whether the kernels or the numpy reference run, at both ends."""
    from svc.base import BaseEncoder
    from svc.config import BaseConfig, load_config
    from svc.enhancement import load_codec_for_encoding

    frames = _carphone()
    fmt = VideoFormat(176, 144, Fraction(30))
    bases = BaseEncoder(fmt, BaseConfig(qp=37)).encode_gop(frames).recon
    config = load_config(overrides=["enhancement.quality=0.6"])

    def code():
        codec = load_codec_for_encoding(config, fmt)
        payload, fulls = codec.encode_gop(frames, bases)
        decoded = codec.decode_gop(bases, payload)
        return payload, fulls, decoded

    (p_c, f_c, d_c), (p_r, f_r, d_r) = _both(monkeypatch, code)
    assert p_c == p_r and len(p_c) > 100
    for a, b in [*zip(f_c, f_r), *zip(d_c, d_r), *zip(d_c, f_c)]:
        assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_reference_forced_in_a_fresh_process_decodes_the_same(tmp_path, carphone_yuv):
    """svc-encode with the kernels, then svc-decode --layer full in a process where
    SVC_KERNELS=reference: the same frames as a decode with the kernels."""
    stream = tmp_path / "c.svc"
    run_cli("svc-encode", carphone_yuv, "-o", stream, "--frames", "16")
    run_cli("svc-decode", stream, "--layer", "full", "-o", tmp_path / "k.yuv")
    run_cli("svc-decode", stream, "--layer", "full", "-o", tmp_path / "r.yuv", env={"SVC_KERNELS": "reference"})
    assert (tmp_path / "k.yuv").read_bytes() == (tmp_path / "r.yuv").read_bytes()
    assert (tmp_path / "k.yuv").stat().st_size == 16 * 176 * 144 * 3 // 2


def test_kernels_still_compile_where_no_cache_can_be_written(monkeypatch):
    """A read-only install (no writable cache location: numba refuses cache=True at decoration) compiles
    the kernels per process instead of failing to import."""
    calls = []

    def numba_njit(**options):
        calls.append(options)
        if options.get("cache"):
            raise RuntimeError("cannot cache function 'f': no locator available for file 'kernels.py'")
        return lambda f: f

    from svc import compiled

    monkeypatch.setattr(compiled, "_numba_njit", numba_njit)
    add_one = kernels.njit(cache=True, nogil=True)(lambda x: x + 1)
    assert add_one(1) == 2 and calls == [{"cache": True, "nogil": True}, {"nogil": True}]
