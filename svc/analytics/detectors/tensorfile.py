"""A small reader and writer of the safetensors file layout, in numpy (no extra dependency).

Layout: an 8-byte little-endian header length ``n``, ``n`` bytes of JSON
``{name: {"dtype": "F16", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {str: str}}``,
then the tensors' raw little-endian bytes (offsets relative to the end of the header). The writer is
deterministic (sorted names, no timestamps), so the same tensors give the same file and SHA-256.
"""
from __future__ import annotations

import json
import struct

import numpy as np

DTYPES = {"F16": np.dtype("<f2"), "F32": np.dtype("<f4"), "I32": np.dtype("<i4"), "I64": np.dtype("<i8")}
_CODES = {v: k for k, v in DTYPES.items()}
MAX_HEADER = 1 << 24  # bytes; a larger header means a damaged or foreign file


def dumps(tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> bytes:
    """The file bytes of ``tensors`` (name -> array of a DTYPES type) and string ``metadata``."""
    header, chunks, offset = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)
        if a.dtype not in _CODES:
            raise ValueError(f"tensor {name}: dtype {a.dtype} not storable (use one of {', '.join(DTYPES)})")
        raw = a.tobytes()
        header[name] = {"dtype": _CODES[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in sorted(metadata.items())}
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)  # align the data to 8 bytes
    return struct.pack("<Q", len(head)) + head + b"".join(chunks)


def loads(blob: bytes) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(tensors, metadata) of file bytes; ``ValueError`` names what is wrong with a damaged file."""
    if len(blob) < 8:
        raise ValueError(f"{len(blob)} bytes: too short for a tensor file")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > min(MAX_HEADER, len(blob) - 8):
        raise ValueError(f"header length {n} does not fit the {len(blob)}-byte file")
    try:
        header = json.loads(blob[8:8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"unreadable header ({e})") from None
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    metadata = header.pop("__metadata__", {}) or {}
    data = memoryview(blob)[8 + n:]
    tensors, end = {}, 0
    for name, info in header.items():
        try:
            dtype, shape, (b, e) = DTYPES[info["dtype"]], [int(d) for d in info["shape"]], info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"tensor {name}: bad header entry {info!r}") from None
        if not 0 <= b <= e <= len(data) or e - b != dtype.itemsize * int(np.prod(shape, dtype=np.int64)):
            raise ValueError(f"tensor {name}: data offsets {b}..{e} do not fit shape {shape} or the file")
        tensors[name] = np.frombuffer(data[b:e], dtype).reshape(shape)
        end = max(end, e)
    if end != len(data):
        raise ValueError(f"{len(data) - end} bytes after the last tensor")
    return tensors, dict(metadata)
