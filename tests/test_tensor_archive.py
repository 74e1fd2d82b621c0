"""The torch-free reader of torch.save archives: the same arrays as torch.load, views and scalars
included; anything that is not plain data or tensors is refused unread."""
from __future__ import annotations

import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from svc import tensor_archive  # noqa: E402


def _saved(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def test_same_arrays_as_torch_load():
    x = torch.arange(24.0).reshape(4, 6)
    obj = {"view": x[1:, 2:5].t(), "scalar": x[0, 1], "ints": torch.tensor([-3, 7], dtype=torch.int8),
           "nested": [{"b": torch.tensor([1 << 20], dtype=torch.int32)}, (1.5, "s", None, True)],
           "half": torch.tensor([0.5, -2.0], dtype=torch.float16)}
    got = tensor_archive.load(_saved(obj))
    assert np.array_equal(got["view"], x[1:, 2:5].t().numpy()) and got["view"].flags.c_contiguous
    assert got["scalar"] == 1.0
    assert got["ints"].dtype == np.int8 and got["ints"].tolist() == [-3, 7]
    assert got["nested"][0]["b"].dtype == np.int32 and got["nested"][0]["b"][0] == 1 << 20
    assert got["nested"][1] == (1.5, "s", None, True)
    assert got["half"].dtype == np.float16 and got["half"].tolist() == [0.5, -2.0]


class _Runs:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_refuses_code_and_garbage(capsys):
    with pytest.raises(ValueError, match="refused"):
        tensor_archive.load(_saved({"x": _Runs()}))
    assert "never run" not in capsys.readouterr().out
    with pytest.raises(ValueError):
        tensor_archive.load(b"not an archive")
    data = bytearray(_saved({"t": torch.zeros(1000)}))
    with pytest.raises(ValueError):
        tensor_archive.load(bytes(data[: len(data) // 2]))      # truncated
