"""Shipped enhancement weights: loading, identification (model id + SHA-256) and matching to streams."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from svc.config import PROJECT_ROOT, resolve_path
from svc.errors import ModelError

WEIGHTS_DIR = PROJECT_ROOT / "svc" / "enhancement" / "weights"


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_model(path):
    """(model, model_id, sha256) from a weights file written by :func:`svc.enhancement.train.save_weights`."""
    import torch

    from svc.enhancement.models import ResidualEnhancer

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"enhancement model file {path} not found: train one with svc-train "
                         f"(see README) or pass --no-enhancement")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=False)
        if blob.get("format") != "svc-enhancement":
            raise ValueError("not an svc enhancement weights file")
        model = ResidualEnhancer(**blob["config"])
        model.load_state_dict(blob["state_dict"])
    except Exception as e:  # noqa: BLE001 - any failure here means an unusable file
        raise ModelError(f"cannot load enhancement model {path}: {e}") from None
    return model.eval(), path.stem, sha256_file(path)


def load_codec_for_encoding(cfg, fmt):
    """The codec for ``cfg`` (the config's ``enhancement`` section, :class:`svc.config.EnhancementConfig`)
    and the stream format."""
    from svc.enhancement.codec import EnhancementCodec

    model, model_id, sha = load_model(resolve_path(cfg.model))
    return EnhancementCodec(model, fmt, cfg.quality, model_id, sha, code_residual=cfg.residual,
                            temporal=cfg.temporal)


def _candidates(model_id: str):
    """Where the weights of ``model_id`` are looked for: only $SVC_ENH_WEIGHTS when it is set."""
    env = os.environ.get("SVC_ENH_WEIGHTS")
    return [Path(env)] if env else [WEIGHTS_DIR / f"{model_id}.pt"]


def load_codec_for_decoding(header, weights=None):
    """The codec matching a stream's header; refuses weights whose SHA-256 differs from the stream's."""
    from svc.enhancement.codec import EnhancementCodec

    info = header.enhancement or {}
    model_id, want = str(info.get("model_id", "")), str(info.get("weights_sha256", ""))
    tried = []
    for cand in ([Path(weights)] if weights else list(_candidates(model_id))):
        if not cand.is_file():
            tried.append(f"{cand} (missing)")
            continue
        sha = sha256_file(cand)
        if sha != want:
            tried.append(f"{cand} (sha256 {sha[:12]})")
            continue
        model, _, _ = load_model(cand)
        return EnhancementCodec(model, header.format, float(info.get("quality", 0.5)), model_id, sha)
    raise ModelError(f"stream needs enhancement model {model_id!r} with weights sha256 {want[:12]}..., "
                     f"not available: tried {', '.join(tried)}; decode --layer base, or set SVC_ENH_WEIGHTS")
