"""Shipped latent-codec weights: name -> (file in ``svc/latent/weights``, SHA-256 of the file).

:meth:`svc.latent.codec.LatentCodec.load` refuses a file whose hash differs (:class:`~svc.errors.ModelError`).
Export a checkpoint with ``svc-train latent --export CKPT --out svc/latent/weights/FILE --into-package``
and record the printed hash here.
"""
from __future__ import annotations

from pathlib import Path

from svc.errors import ModelError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
MODELS: dict[str, tuple[str, str]] = {
    "latent-v1": ("latent-v1.pt", "c4a50f901895edb283ca13597049ab69866dd3acacd6127f4e1b8622b24223d5"),
    # latent-v1 warm-started (svc-train latent --init latent-v1), task stage to 25k steps, VBR 800 steps
    "latent-v2": ("latent-v2.pt", "1155ff5832910987c11a318809aba385db978846c50ad3f535249f5e40c99f4f"),
}
DEFAULT = "latent-v2"


def path_of(name: str) -> Path:
    if name not in MODELS:
        raise ModelError(f"unknown latent codec model {name!r}: {', '.join(sorted(MODELS))}")
    return WEIGHTS_DIR / MODELS[name][0]  # an absolute file name stays as it is
