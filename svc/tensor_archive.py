"""Reading ``torch.save`` archives of plain data and tensors without torch (so a decoder that needs no
training code does not import it), as safely as ``torch.load(weights_only=True)``: the unpickler builds
only dicts, lists, tuples, numbers, strings and tensors (as numpy arrays); any other class in the file
is refused.
"""
from __future__ import annotations

import collections
import io
import pickle
import zipfile

import numpy as np

_STORAGES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
             "IntStorage": np.int32, "LongStorage": np.int64, "ShortStorage": np.int16,
             "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_}


class _StorageType:
    def __init__(self, name: str):
        self.dtype = np.dtype(_STORAGES[name]).newbyteorder("<")


def _rebuild_tensor(storage, offset, size, stride, *_):
    """A torch tensor's view of ``storage`` (a 1-D numpy array) as an independent numpy array."""
    size, stride = tuple(size), tuple(stride)
    if not size:
        return storage[offset].copy()
    need = offset + 1 + sum((n - 1) * s for n, s in zip(size, stride) if n > 0)
    if any(s < 0 for s in stride) or need > storage.size and 0 not in size:
        raise pickle.UnpicklingError("tensor outside its storage")
    view = np.lib.stride_tricks.as_strided(storage[offset:], size, [s * storage.itemsize for s in stride])
    return np.array(view, dtype=storage.dtype.newbyteorder("="), order="C")


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str):
        super().__init__(io.BytesIO(data))
        self.archive, self.prefix, self.storages = archive, prefix, {}

    def find_class(self, module, name):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch" and name in _STORAGES:
            return _StorageType(name)
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"refused to build {module}.{name} (plain data and tensors only)")

    def persistent_load(self, pid):
        # ('storage', storage type, key, location, number of elements)
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
            raise pickle.UnpicklingError("unknown persistent id")
        key = str(pid[2])
        if key not in self.storages:
            raw = self.archive.read(f"{self.prefix}/data/{key}")
            a = np.frombuffer(raw, dtype=pid[1].dtype)
            if a.size < int(pid[4]):
                raise pickle.UnpicklingError(f"storage {key} is truncated")
            self.storages[key] = a
        return self.storages[key]


def load(data: bytes):
    """The object saved by ``torch.save`` in ``data`` (bytes of a zip archive), tensors as numpy arrays.
    Raises ``ValueError`` for anything else (not an archive, a big-endian file, a refused class)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
        pkl = next(n for n in names if n.endswith("/data.pkl"))
        prefix = pkl[:-len("/data.pkl")]
        order = f"{prefix}/byteorder"
        if order in names and archive.read(order).strip() != b"little":
            raise ValueError("a big-endian tensor archive")
        return _Unpickler(archive.read(pkl), archive, prefix).load()
    except StopIteration:
        raise ValueError("not a torch archive (no data.pkl)") from None
    except (zipfile.BadZipFile, pickle.UnpicklingError, KeyError, EOFError, TypeError, AttributeError) as e:
        raise ValueError(str(e).splitlines()[0] if str(e) else type(e).__name__) from None
