"""Shipped model files (weights, tables), each named in a stream's header by its id (the file's stem)
and SHA-256: identifying a file for the header, finding the file a header names."""
from __future__ import annotations

import hashlib
import os
import re
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


#: what a model id in a stream header may be: a plain file stem, never a path
MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")


def check_model_id(model_id, what: str) -> str:
    """``model_id`` when it is a plain name (letters, digits, ``._+-``, no separator, no ``..``);
    otherwise a one-line ModelError: a header names models, it never points at files."""
    if not isinstance(model_id, str) or not MODEL_ID.fullmatch(model_id) or ".." in model_id:
        raise ModelError(f"the stream's header names its {what} {str(model_id)[:80]!r}, which is not a model "
                         "name (a name has no folder separators or '..'): refused")
    return model_id


def model_search_path(folder: Path) -> list[Path]:
    """Where models are looked for: each folder of ``$SVC_MODEL_PATH`` (``os.pathsep``-separated), in
    order, then the package's own ``folder`` (so a retrained model never has to go into the package)."""
    extra = [Path(p) for p in os.environ.get("SVC_MODEL_PATH", "").split(os.pathsep) if p]
    return extra + [Path(folder)]


def find_shipped(entry: dict | None, what: str, folder: Path, suffix: str, hint: str = "") -> Path:
    """The model file a header ``entry`` ({"id", "sha256"}) names: ``ID + suffix`` in the first folder
    of :func:`model_search_path` that holds a file of that name with that SHA-256; ``what`` names the
    model in errors, ``hint`` (e.g. "; decode --layer base") ends them. The id is a name
    (:func:`check_model_id`), resolved inside those folders only."""
    if not isinstance(entry, dict) or "id" not in entry or "sha256" not in entry:
        raise ModelError(f"the stream's header does not name its {what}")
    name = f"{check_model_id(entry['id'], what)}{suffix}"
    found = []
    for d in model_search_path(folder):
        path = d / name
        if path.resolve().parent != d.resolve():
            raise ModelError(f"the stream's header names its {what} outside the model folder: refused")
        if path.is_file():
            sha = sha256_file(path)
            if sha == entry["sha256"]:
                return path
            found.append(sha)
    if not found:
        raise ModelError(f"the stream needs {what} {entry['id']!r}, which this installation does not have "
                         f"(model path: $SVC_MODEL_PATH, then the package){hint}")
    raise ModelError(f"the stream was coded with other {what} ({entry['id']!r} sha256 {entry['sha256'][:12]}..., "
                     f"this installation has {found[-1][:12]}...){hint}")


def add_package_flag(p):
    """The ``--into-package`` option of the training commands (argparse parser ``p``)."""
    p.add_argument("--into-package", action="store_true",
                   help="allow --out inside the installed package's weights folders (replacing a shipped model "
                        "changes its SHA-256, so streams coded with it no longer decode)")


def check_output(out, into_package: bool) -> Path:
    """``out`` made absolute; an InputError when it lies in the package's shipped weights and
    ``into_package`` is not set (training never overwrites a shipped model by default)."""
    from svc.errors import InputError

    target = Path(out).resolve()
    package = Path(__file__).resolve().parent
    if not into_package and package in target.parents and "weights" in target.relative_to(package).parts:
        raise InputError(f"--out {out} is inside the package's shipped weights ({package}): replacing a shipped "
                         "model breaks every stream coded with it; write elsewhere, or pass --into-package")
    return target
