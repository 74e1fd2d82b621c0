"""The one place configuration is read: ``configs/default.yaml`` + a user file + CLI overrides."""
from __future__ import annotations

import copy
import os
from pathlib import Path

import yaml

from svc.errors import InputError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = Path(os.environ.get("SVC_CONFIG_DIR", PROJECT_ROOT / "configs"))


def _merge(dst: dict, src: dict) -> dict:
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            _merge(dst[k], v)
        else:
            dst[k] = copy.deepcopy(v)
    return dst


def read_yaml(path) -> dict:
    try:
        with open(path) as fh:
            data = yaml.safe_load(fh) or {}
    except OSError as e:
        raise InputError(f"cannot read config {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise InputError(f"config {path} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise InputError(f"config {path} must hold a mapping at top level")
    return data


def parse_override(text: str) -> dict:
    """``'base.qp=37'`` -> ``{'base': {'qp': 37}}`` (the value is parsed as YAML)."""
    if "=" not in text:
        raise InputError(f"override must look like section.key=value, got {text!r}")
    key, value = text.split("=", 1)
    out: dict = {}
    node = out
    parts = key.strip().split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = yaml.safe_load(value)
    return out


def load_config(path=None, overrides: list[dict] | None = None, name: str = "default.yaml") -> dict:
    """Defaults from ``configs/<name>``, deep-merged with ``path`` then each override dict."""
    cfg = read_yaml(CONFIG_DIR / name)
    if path:
        _merge(cfg, read_yaml(path))
    for o in overrides or []:
        _merge(cfg, o)
    return cfg


def resolve_path(p) -> Path:
    """A config path made absolute against the project root when it is relative."""
    p = Path(p)
    return p if p.is_absolute() else PROJECT_ROOT / p
