"""Shipped model files (weights, tables), each named in a stream's header by its id (the file's stem)
and SHA-256: identifying a file for the header, finding the file a header names."""
from __future__ import annotations

import hashlib
from pathlib import Path

from svc.errors import ModelError


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def identify(path: Path) -> dict:
    """The header entry of the file at ``path``: {"id", "sha256"} (the file must exist)."""
    return {"id": Path(path).stem, "sha256": sha256_file(path)}


def find_shipped(entry: dict | None, what: str, folder: Path, suffix: str, hint: str = "") -> Path:
    """The file in ``folder`` that a header ``entry`` ({"id", "sha256"}) names, checked against its
    SHA-256; ``what`` names the model in errors, ``hint`` (e.g. "; decode --layer base") ends them."""
    if not isinstance(entry, dict) or "id" not in entry or "sha256" not in entry:
        raise ModelError(f"the stream's header does not name its {what}")
    path = Path(folder) / f"{entry['id']}{suffix}"
    if not path.is_file():
        raise ModelError(f"the stream needs {what} {entry['id']!r}, which this installation does not have{hint}")
    sha = sha256_file(path)
    if sha != entry["sha256"]:
        raise ModelError(f"the stream was coded with other {what} ({entry['id']!r} sha256 {entry['sha256'][:12]}..., "
                         f"this installation has {sha[:12]}...){hint}")
    return path
