"""Training checkpoints as plain tensors plus JSON metadata: nothing in a checkpoint can run code.

A checkpoint is written by ``torch.save`` as ``{"tensors": {name: Tensor}, "meta": JSON text}`` and
read back with ``torch.load(..., weights_only=True)``, which refuses any pickled object other than
tensors and plain containers. Nested training state (model, optimiser and RNG states, the config)
is flattened: every tensor goes to ``tensors`` under its dotted path, every other value into the
JSON, where a tensor stands as ``{"__tensor__": name}``. Tuples come back as lists.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from svc.errors import ModelError

_TENSOR = "__tensor__"


def _flatten(obj, path: str, tensors: dict):
    import torch

    if isinstance(obj, torch.Tensor):
        tensors[path] = obj.detach().cpu()
        return {_TENSOR: path}
    if isinstance(obj, dict):
        if not all(isinstance(k, (str, int)) for k in obj):
            raise TypeError(f"checkpoint keys must be strings or integers (at {path or 'top'})")
        # JSON keys are strings: integer keys (optimiser state) are marked to come back as integers
        return {("#" + str(k) if isinstance(k, int) else k): _flatten(v, f"{path}.{k}" if path else str(k), tensors)
                for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_flatten(v, f"{path}.{i}", tensors) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"a checkpoint holds tensors and plain values, not {type(obj).__name__} (at {path})")


def _unflatten(obj, tensors: dict):
    if isinstance(obj, dict):
        if set(obj) == {_TENSOR}:
            return tensors[obj[_TENSOR]]
        return {(int(k[1:]) if k.startswith("#") else k): _unflatten(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_unflatten(v, tensors) for v in obj]
    return obj


def save_checkpoint(path, state: dict):
    """Writes ``state`` (nested dicts/lists of tensors and plain values) to ``path`` atomically."""
    import torch

    tensors: dict = {}
    meta = json.dumps(_flatten(state, "", tensors))
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save({"tensors": tensors, "meta": meta}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path) -> dict:
    """The state :func:`save_checkpoint` wrote, loaded without unpickling anything but tensors; a
    one-line ModelError for a missing, damaged or foreign file (a pickle that would run code is
    refused by ``weights_only=True`` before anything runs)."""
    import pickle

    import torch

    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        tensors, meta = blob["tensors"], json.loads(blob["meta"])
        return _unflatten(meta, tensors)
    except FileNotFoundError:
        raise ModelError(f"checkpoint {path} not found") from None
    except IsADirectoryError:
        raise ModelError(f"checkpoint {path} is a folder") from None
    except (pickle.UnpicklingError, RuntimeError, KeyError, TypeError, ValueError, EOFError, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(f"checkpoint {path} is not a plain-tensor svc checkpoint, refused unread "
                         f"({first[:160]})") from None
