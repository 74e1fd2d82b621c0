"""Enhancement modes beyond the per-frame residual: the carried reference (decoder-side base motion moves
the previous correction, modes 3 and 4) and per-frame quality targets (mode 5, ROI viewer quality)."""
from fractions import Fraction

import cv2
import numpy as np
import pytest

from svc.config import EnhancementConfig, load_config, resolve_path
from svc.enhancement.motion import block_motion, warp_plane
from svc.errors import BitstreamError
from svc.io import open_source
from svc.io.frames import VideoFormat, YuvFrame

WEIGHTS = resolve_path(load_config().enhancement.model)


def _texture(racehorses_yuv, h, w):
    """A real luma texture (H, W) from the RaceHorses sample."""
    return next(iter(open_source(racehorses_yuv, max_frames=1))).y[:h, :w].copy()


@pytest.mark.parametrize("dy, dx", [(0, 0), (4, -6), (-10, 14)])
def test_block_motion_finds_a_real_shift_and_warp_undoes_it(racehorses_yuv, dy, dx):
    tex = _texture(racehorses_yuv, 400, 800)
    ref = tex[100:244, 200:408]
    cur = tex[100 + dy:244 + dy, 200 + dx:408 + dx]  # cur[y, x] = ref[y + dy, x + dx]
    vec, sad = block_motion(cur, ref)
    inner = vec[1:-1, 1:-1].reshape(-1, 2)
    assert (inner == (dy, dx)).all() and (vec % 2 == 0).all()
    assert sad[1:-1, 1:-1].max() == 0
    moved = warp_plane(ref.astype(np.int32), vec, 16, sad <= 6)
    assert np.array_equal(moved[16:-16, 16:-16], cur[16:-16, 16:-16])
    # the search is deterministic and integer: same input, same vectors
    assert np.array_equal(block_motion(cur, ref)[0], vec)


def _blurred_background_gop(racehorses_yuv, n=6, shift=2, factor=8):
    """Originals: a real texture panning by ``shift`` px/frame with a moving square; bases: the same frames
    with the background blurred (as ROI blur does) and coded at QP 37."""
    from svc.base import BaseEncoder
    from svc.config import BaseConfig

    w, h = 192, 128
    tex = _texture(racehorses_yuv, 400, 800)
    fmt = VideoFormat(w, h, Fraction(25))
    originals, simplified = [], []
    for t in range(n):
        y = tex[100:100 + h, 100 + shift * t:100 + shift * t + w].copy()
        y[40:88, 20 + 8 * t:68 + 8 * t] = 200
        small = cv2.resize(cv2.resize(y, (w // factor, h // factor), interpolation=cv2.INTER_AREA), (w, h),
                           interpolation=cv2.INTER_LINEAR)
        small[40:88, 20 + 8 * t:68 + 8 * t] = 200  # the region of interest stays sharp
        uv = np.full((h // 2, w // 2), 128, np.uint8)
        originals.append(YuvFrame(y, uv, uv.copy()))
        simplified.append(YuvFrame(small, uv, uv.copy()))
    bases = BaseEncoder(fmt, BaseConfig(qp=37)).encode_gop(simplified).recon
    return fmt, originals, bases


@pytest.mark.skipif(not WEIGHTS.exists(), reason=f"shipped weights {WEIGHTS} not present")
def test_carried_reference_restores_a_blurred_background_cheaply(racehorses_yuv):
    from svc.enhancement import load_codec_for_encoding
    from svc.enhancement.codec import MODE_CARRY, MODE_CARRY_CODED
    from svc.metrics.quality import psnr

    fmt, originals, bases = _blurred_background_gop(racehorses_yuv)
    results = {}
    for temporal in (False, True):
        codec = load_codec_for_encoding(EnhancementConfig(model=str(WEIGHTS), quality=0.75, temporal=temporal), fmt)
        payloads, fulls = codec.encode_gop(originals, bases)
        quality = np.mean([psnr(o.y, f.y) for o, f in zip(originals, fulls)])
        cost = sum(codec._cost(o, f, len(p)) for o, f, p in zip(originals, fulls, payloads))
        results[temporal] = (sum(map(len, payloads)), quality, cost)
        if temporal:
            assert all(p[0] in (MODE_CARRY, MODE_CARRY_CODED) for p in payloads[1:])
            # a fresh codec (the decoder) rebuilds the same frames from the payloads and the bases
            decoder = load_codec_for_encoding(EnhancementConfig(model=str(WEIGHTS), quality=0.75), fmt)
            decoded = decoder.decode_gop(bases, payloads)
            assert all(np.array_equal(a, b) for d, f in zip(decoded, fulls) for a, b in zip(d, f))
            # without the previous frame a carried payload cannot be decoded
            with pytest.raises(BitstreamError, match="previous frame"):
                decoder.decode_frame(bases[1], payloads[1])
    (bytes_off, psnr_off, cost_off), (bytes_on, psnr_on, cost_on) = results[False], results[True]
    assert cost_on < 0.9 * cost_off
    assert bytes_on < bytes_off and psnr_on > psnr_off


@pytest.mark.skipif(not WEIGHTS.exists(), reason=f"shipped weights {WEIGHTS} not present")
def test_quality_targets_keep_the_full_layer_of_a_simplified_base(racehorses_yuv):
    """ROI's promise to viewers: with a blurred-background base, every full frame still reaches the
    quality the plain base + enhancement gives (frames coded at a higher quality, signalled per frame)."""
    from svc.base import BaseEncoder
    from svc.config import BaseConfig
    from svc.enhancement import load_codec_for_encoding
    from svc.enhancement.codec import MODE_QUALITY, payload_quality

    fmt, originals, bases = _blurred_background_gop(racehorses_yuv, n=4, factor=2)  # reachable at q <= 1
    plain = BaseEncoder(fmt, BaseConfig(qp=37)).encode_gop(originals).recon
    codec = load_codec_for_encoding(EnhancementConfig(model=str(WEIGHTS), quality=0.5), fmt)
    _, reference = codec.encode_gop(originals, plain)
    targets = [codec.quality_target(o, f) for o, f in zip(originals, reference)]
    free_payloads, free = codec.encode_gop(originals, bases)
    payloads, fulls = codec.encode_gop(originals, bases, targets)
    assert any(max(m / t for m, t in zip(codec.quality_target(o, f), ts)) > 1 for o, f, ts in zip(originals, free, targets))
    assert all(m <= t for o, f, ts in zip(originals, fulls, targets) for m, t in zip(codec.quality_target(o, f), ts))
    assert any(p[0] == MODE_QUALITY and payload_quality(p, 0.5) > 0.5 for p in payloads)
    assert sum(map(len, payloads)) > sum(map(len, free_payloads))  # what it costs: rate
    decoder = load_codec_for_encoding(EnhancementConfig(model=str(WEIGHTS), quality=0.5), fmt)
    decoded = decoder.decode_gop(bases, payloads)
    assert all(np.array_equal(a, b) for d, f in zip(decoded, fulls) for a, b in zip(d, f))
    p = next(p for p in payloads if p[0] == MODE_QUALITY)
    for bad in (p[:2], p[:3] + bytes([0]) + p[4:]):  # truncated prefix; prefix on a zero-bit mode
        with pytest.raises(BitstreamError):
            decoder.decode_frame(bases[0], bad)
