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
