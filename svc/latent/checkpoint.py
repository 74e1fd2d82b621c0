"""Checkpoints of the latent codec's training: ``torch.save`` of a flat dict of plain tensors (``model.*``,
``opt.*``) next to a JSON file of metadata (read back with ``weights_only``, never unpickling code).

:func:`net_from_weights` rebuilds a trainable network from a shipped weights file (a warm start when
the run's checkpoints are gone: the transforms come back as they were, the integer hyper-networks,
hyper-latent steps and reconstruction offsets from their fixed-point values; only the factorised
priors, stored as CDF tables, start afresh around the stored medians)."""
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


def net_from_weights(tensors: dict):
    """(network, metadata) of a codec weights file's tensors (:func:`svc.latent.codec.freeze`'s dict)."""
    import torch

    from svc.latent.model import FA, FW, LatentNet

    meta = json.loads(bytes(tensors["meta"].numpy().tobytes()).decode())
    net = LatentNet(**meta["config"])
    state = net.state_dict()
    for k, v in tensors.items():
        if k.startswith("f.") and k[2:] in state and state[k[2:]].shape == v.shape:
            state[k[2:]] = v.to(state[k[2:]].dtype)
    net.load_state_dict(state)
    with torch.no_grad():
        for qname in ("h_s", "h_s2", "ctx"):
            for i, layer in enumerate(getattr(net, qname).layers):
                layer.conv.weight.copy_(tensors[f"q.{qname}.{i}.w"].double() / (1 << FW))
                layer.conv.bias.copy_(tensors[f"q.{qname}.{i}.b"].double() / (1 << (FW + FA)))
        for layer, eb, zname in ((1, net.eb, "z1"), (2, net.eb2, "z2")):
            frac = (tensors[f"offset{layer}"].double() / (0.5 * (1 << FA))).clamp(1e-3, 1 - 1e-3)
            getattr(net, f"offset{layer}").copy_(torch.log(frac / (1 - frac)))
            getattr(net, f"log_zstep{layer}").copy_(torch.log(tensors[f"{zname}.step"].double() / (1 << FA)))
            med = tensors[f"{zname}.median"].double() / (1 << FA)
            spread = eb.quantiles[:, 0, 2] - eb.quantiles[:, 0, 1]
            eb.quantiles.copy_(torch.stack([med - spread, med, med + spread], 1).view_as(eb.quantiles))
        net.pad_feat.copy_(tensors["pad_feat"].float())
    return net, meta
