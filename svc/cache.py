"""The per-user cache of derived files (exported detector models, restoration graphs): where it is and
how a file is kept there (checked by its SHA-256, written atomically)."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path


def cache_dir() -> Path:
    """Where derived files are kept between processes: ``$SVC_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/svc``, else ``~/.cache/svc``."""
    if os.environ.get("SVC_CACHE_DIR"):
        return Path(os.environ["SVC_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "svc"


def disk_cached(name: str, make) -> bytes:
    """``make()``'s bytes, kept as ``cache_dir() / name`` with their SHA-256 beside them in
    ``name.sha256`` (each written atomically). A cached file whose bytes do not match its hash
    (truncated, damaged, or written without one) is made again and replaced; a cache folder that
    cannot be written is skipped, the bytes are then made each time."""
    path = cache_dir() / name
    sha_path = path.with_name(path.name + ".sha256")
    try:
        blob = path.read_bytes()
        if hashlib.sha256(blob).hexdigest() == sha_path.read_text().strip():
            return blob
    except OSError:
        pass
    blob = make()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for target, data in ((sha_path, hashlib.sha256(blob).hexdigest().encode()), (path, blob)):
            tmp = target.with_name(f".{target.name}.{os.getpid()}.partial")
            tmp.write_bytes(data)
            os.replace(tmp, target)
    except OSError:
        pass
    return blob
