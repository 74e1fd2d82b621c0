"""Reading configuration: schema defaults, then a YAML file, then ``--set`` overrides, all validated.

Every value is checked against :mod:`svc.config.schema` (type, range, choices); an unknown key is
a one-line :class:`~svc.errors.InputError` naming the key, where it came from and the nearest valid
key. The result is a frozen :class:`~svc.config.schema.SvcConfig`.
"""
from __future__ import annotations

import dataclasses
import difflib
import os
from pathlib import Path

import yaml

from svc.config.schema import SvcConfig, check_value
from svc.errors import InputError

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
CONFIG_DIR = Path(os.environ.get("SVC_CONFIG_DIR", PROJECT_ROOT / "configs"))


# -- schema walking --------------------------------------------------------------------------------
def _fields(cls) -> dict:
    return {f.name: f for f in dataclasses.fields(cls)}


def _keys(cls, prefix: str = "") -> list[str]:
    """Every dotted key path of a schema class (sections expanded)."""
    out = []
    for name, f in _fields(cls).items():
        key = prefix + name
        if f.metadata.get("kind") == "section":
            out.extend(_keys(f.default_factory, key + "."))
        else:
            out.append(key)
    return out


def _unknown(key: str, source: str) -> InputError:
    near = difflib.get_close_matches(key, _keys(SvcConfig), n=1, cutoff=0.6)
    hint = f"; did you mean {near[0]}?" if near else f"; sections are {', '.join(_fields(SvcConfig))}"
    return InputError(f"unknown config key {key} ({source}){hint}")


def _lookup(key: str, source: str):
    """(schema field, remainder) for a dotted key; remainder is the sub-key inside a mapping field."""
    cls, parts = SvcConfig, key.split(".")
    for i, part in enumerate(parts):
        f = _fields(cls).get(part) if cls is not None else None
        if f is None:
            raise _unknown(key, source)
        kind = f.metadata.get("kind")
        if kind == "section":
            cls = f.default_factory
            if i == len(parts) - 1:
                return f, []
            continue
        if kind == "mapping":
            return f, parts[i + 1:]
        if i != len(parts) - 1:
            raise _unknown(key, source)
        return f, []
    raise _unknown(key, source)


# -- building --------------------------------------------------------------------------------------
def to_mapping(cfg) -> dict:
    """Plain nested dict of a schema object (tuples as lists), e.g. for YAML or JSON."""
    out = {}
    for name, f in _fields(type(cfg)).items():
        v = getattr(cfg, name)
        if f.metadata.get("kind") == "section":
            out[name] = to_mapping(v)
        elif isinstance(v, tuple):
            out[name] = list(v)
        elif isinstance(v, dict):
            out[name] = dict(v)
        else:
            out[name] = v
    return out


def _flatten(data: dict, source: str, prefix: str = "") -> list[tuple[str, object]]:
    """(dotted key, value) pairs of a nested mapping from a file; mapping fields stay whole."""
    out = []
    for k, v in data.items():
        key = prefix + str(k)
        f, rest = _lookup(key, source)
        if f.metadata.get("kind") == "section":
            if not isinstance(v, dict):
                raise InputError(f"config section {key} must be a mapping, got {v!r} ({source})")
            out.extend(_flatten(v, source, key + "."))
        else:
            out.append((key, v))
    return out


def apply(cfg: SvcConfig, pairs, source: str) -> SvcConfig:
    """A new config with each (dotted key, value) of ``pairs`` set; validated, ``cfg`` untouched.
    A key inside a mapping field (``base.x265_params.bframes``) sets that one entry."""
    for key, value in pairs:
        f, rest = _lookup(key, source)
        if f.metadata.get("kind") == "section":
            raise InputError(f"config key {key} is a section: set one of its keys, e.g. {key}."
                             f"{next(iter(_fields(f.default_factory)))}=... ({source})")
        path = key.split(".")[: len(key.split(".")) - len(rest)]
        if rest:
            old = _get(cfg, path)
            node = dict(old)
            cur = node
            for p in rest[:-1]:
                cur[p] = dict(cur.get(p) or {})
                cur = cur[p]
            cur[rest[-1]] = value
            value = node
        value = check_value(".".join(path), f.metadata, value, source)
        cfg = _set(cfg, path, value)
    return cfg


def _get(obj, path):
    for p in path:
        obj = getattr(obj, p)
    return obj


def _set(obj, path, value):
    if len(path) == 1:
        return dataclasses.replace(obj, **{path[0]: value})
    return dataclasses.replace(obj, **{path[0]: _set(getattr(obj, path[0]), path[1:], value)})


def read_yaml(path) -> dict:
    try:
        with open(path) as fh:
            data = yaml.safe_load(fh) or {}
    except OSError as e:
        raise InputError(f"cannot read config {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise InputError(f"config {path} is not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise InputError(f"config {path} must hold a mapping at top level")
    return data


def parse_override(text: str) -> tuple[str, object]:
    """``'base.qp=37'`` -> ``('base.qp', 37)``: the value is parsed as YAML; the key is checked later."""
    if "=" not in text:
        raise InputError(f"--set takes section.key=value, got {text!r}")
    key, value = text.split("=", 1)
    key = key.strip()
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    _lookup(key, f"--set {text}")
    return key, parsed


def load_config(path=None, overrides=(), base: SvcConfig | None = None) -> SvcConfig:
    """Schema defaults (or ``base``), then the YAML file ``path``, then ``overrides``: each an
    ``'a.b=c'`` string, a ``(key, value)`` pair or a dict (nested sections like a file, or dotted keys)."""
    cfg = base if base is not None else SvcConfig()
    if path:
        cfg = apply(cfg, _flatten(read_yaml(path), str(path)), str(path))
    for o in overrides:
        if isinstance(o, str):
            cfg = apply(cfg, [parse_override(o)], f"--set {o}")
        elif isinstance(o, dict):  # nested sections and/or dotted keys
            cfg = apply(cfg, _flatten(o, "override"), "override")
        else:
            cfg = apply(cfg, [tuple(o)], "override")
    return cfg


def dump_yaml(cfg: SvcConfig | None = None) -> str:
    """The configuration as commented YAML (``configs/default.yaml`` is this of the defaults)."""
    cfg = cfg if cfg is not None else SvcConfig()
    lines = ["# svc configuration, generated from svc/config/schema.py by `svc-config` (python -m svc config).",
             "# Override any key with --config FILE (same layout, only the keys you change) or",
             "# --set section.key=value on the command line; unknown keys and bad values are refused."]

    def emit(obj, indent):
        for name, f in _fields(type(obj)).items():
            v = getattr(obj, name)
            pad = "  " * indent
            if f.metadata.get("kind") == "section":
                lines.append(f"{pad}{name}:".ljust(32) + f"# {f.metadata['doc']}" if indent else f"{pad}{name}:")
                emit(v, indent + 1)
                continue
            text = yaml.safe_dump(list(v) if isinstance(v, tuple) else v, default_flow_style=True,
                                  width=1000).strip()
            if text.endswith("..."):
                text = text[:-3].strip()
            text = text.splitlines()[0] if text else text
            if isinstance(v, str) and v in ("off", "on", "yes", "no", "true", "false"):
                text = f'"{v}"'
            lines.append(f"{pad}{name}: {text}".ljust(31) + f" # {f.metadata['doc']}")

    emit(cfg, 0)
    return "\n".join(lines) + "\n"


def resolve_path(p) -> Path:
    """A config path made absolute: a relative path names a file in the current folder when one is
    there (what a user means by ``--set enhancement.tables=my.npz``), else one of the package's own
    files (the defaults, ``svc/.../weights/...``, relative to the project root)."""
    p = Path(p)
    if p.is_absolute():
        return p
    here = Path.cwd() / p
    return here if here.exists() else PROJECT_ROOT / p
