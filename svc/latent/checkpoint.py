"""Checkpoints of the latent codec's training: ``torch.save`` of a flat dict of plain tensors (``model.*``,
``opt.*``) next to a JSON file of metadata (read back with ``weights_only``, never unpickling code)."""
from __future__ import annotations

import json
from pathlib import Path


def save_checkpoint(path: Path, net, opt, meta: dict) -> None:
    import torch

    tensors = {f"model.{k}": v.detach().clone() for k, v in net.state_dict().items()}
    if opt is not None:  # Adam moments, keyed by parameter name
        names = {id(p): n for n, p in net.named_parameters()}
        for group in opt.param_groups:
            for p in group["params"]:
                for k, v in opt.state.get(p, {}).items():
                    tensors[f"opt.{names[id(p)]}.{k}"] = torch.as_tensor(v).detach().clone()
    tmp = path.with_suffix(".tmp")
    torch.save(tensors, tmp)
    tmp.replace(path)
    path.with_suffix(".json").write_text(json.dumps(meta, indent=1))


def load_checkpoint(path) -> tuple[dict, dict]:
    """(tensors, metadata) of a checkpoint; only plain tensors are unpickled (weights_only)."""
    import torch

    path = Path(path)
    tensors = torch.load(path, map_location="cpu", weights_only=True)
    meta_path = path.with_suffix(".json")
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    return tensors, meta


def net_from_checkpoint(tensors: dict, meta: dict):
    from svc.latent.model import LatentNet

    net = LatentNet(**meta.get("config", {}))
    state = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    # CompressAI's entropy models keep their (possibly empty) tables as buffers of varying size
    for k in list(state):
        if k.split(".")[-1] in ("_quantized_cdf", "_offset", "_cdf_length", "scale_table"):
            del state[k]
    own = net.state_dict()
    state = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    net.load_state_dict(state, strict=False)  # parts new to the network keep their initialisation
    return net
