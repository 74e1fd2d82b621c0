"""Static-table entropy coding with CompressAI's rANS coder (the one coder of the project): its C++
encoder, and its decoder or the same decoding compiled (:mod:`svc.rans_kernel`, the default).

A :class:`RansTables` holds probability tables, each over the integer alphabet ``offset .. offset + n - 1``
plus an escape for values outside it (coded by the rANS coder's bypass mode, a few bits more). A
symbol is coded with the table its *table index* names, so context modelling is the caller's choice of
indices; a whole pass of symbols is coded or decoded in one vectorised call.
"""
from __future__ import annotations

import array
from types import SimpleNamespace

import numpy as np

from svc.errors import BitstreamError

PRECISION = 16          # bits of the quantised CDFs
ESCAPE_FLOOR = 1e-5     # probability kept for the escape symbol of every table


_EXT: tuple | None = None


def _load_extension(package_dir: str, name: str):
    """CompressAI's compiled module ``name`` loaded from its file, without importing the compressai
    package (whose __init__ imports its models, datasets and torchvision: seconds per process)."""
    import importlib.machinery
    import importlib.util
    from pathlib import Path

    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = Path(package_dir) / f"{name}{suffix}"
        if path.is_file():
            spec = importlib.util.spec_from_file_location(f"compressai.{name}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    return None


def _compressai():
    """CompressAI's C++ extension modules (_CXX: CDF quantisation, ans: the rANS coder), loaded once.
    Their files are loaded directly when found (fast); otherwise through the package (its torch.jit
    deprecation warning, which says nothing to a user of svc, is silenced)."""
    global _EXT
    if _EXT is None:
        import importlib.util
        import sys

        spec = importlib.util.find_spec("compressai")
        mods = None
        if "compressai" not in sys.modules and spec is not None and spec.submodule_search_locations:
            where = list(spec.submodule_search_locations)[0]
            try:
                mods = (_load_extension(where, "_CXX"), _load_extension(where, "ans"))
            except ImportError:
                mods = None
        if mods is None or None in mods:
            import warnings

            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*torch.jit.script.*deprecated", category=FutureWarning)
                from compressai import _CXX, ans
            mods = (_CXX, ans)
        _EXT = mods
    return _EXT


def rans_encoder():
    return _compressai()[1].RansEncoder()


def rans_decoder():
    return _compressai()[1].RansDecoder()


def quantised_cdf(pmf) -> list[int]:
    """CompressAI's 16-bit quantised CDF of ``pmf`` (every symbol keeps probability >= 2**-16)."""
    return _compressai()[0].pmf_to_quantized_cdf(np.asarray(pmf, np.float64).tolist(), PRECISION)


class RansTables:
    """Tables from ``pmfs`` (each (n,) over its alphabet, escape appended here) and ``offsets`` (the
    value of each table's first symbol). :attr:`bits` gives each table's code lengths, escape last."""

    def __init__(self, pmfs, offsets):
        self.cdfs, self.lengths, self.offsets, self.bits = [], [], [], []
        self._array = None           # cdf_array(), built when a reader first asks
        for pmf, off in zip(pmfs, offsets):
            p = np.asarray(pmf, np.float64)
            p = np.concatenate([p / max(p.sum(), 1e-300) * (1 - ESCAPE_FLOOR), [ESCAPE_FLOOR]])
            cdf = quantised_cdf(p)
            self.cdfs.append(cdf)
            self.lengths.append(len(cdf))
            self.offsets.append(int(off))
            self.bits.append(-np.log2(np.diff(np.asarray(cdf, np.float64)) / (1 << PRECISION)))

    def __len__(self):
        return len(self.cdfs)

    def cdf_array(self):
        """:func:`cdf_array` of these tables (built once)."""
        if self._array is None:
            self._array = cdf_array(SimpleNamespace(cdfs=self.cdfs, lengths=self.lengths, offsets=self.offsets))
        return self._array

    def cost(self, table: int, values) -> np.ndarray:
        """Bits of each of ``values`` in table ``table``, escapes included (:func:`escape_bits`)."""
        v = np.asarray(values) - self.offsets[table]
        n = self.lengths[table] - 2
        inside = (v >= 0) & (v < n)
        b = self.bits[table][np.where(inside, v, n)]
        return b + np.where(inside, 0.0, escape_bits(v, n))


def escape_bits(v, n: int) -> np.ndarray:
    """Approximate bypass bits of escaped symbols ``v`` (relative to a table of ``n`` in-range values):
    the coder writes the magnitude beyond the table in 4-bit chunks, counted as 4 per chunk + 4."""
    v = np.asarray(v)
    raw = np.where(v < 0, -2 * v - 1, 2 * (v - n))
    return 4.0 + 4.0 * np.ceil(np.log2(np.maximum(raw, 1) + 1) / 4)


def localised(table_ids) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct ids of ``table_ids``, ascending; each id's position among them as int32): what
    ``np.unique(..., return_inverse=True)`` gives, by a lookup table instead of a sort."""
    ids = np.asarray(table_ids, np.int64).ravel()
    used = np.flatnonzero(np.bincount(ids))
    lut = np.zeros(int(used[-1]) + 1, np.int32)
    lut[used] = np.arange(used.size, dtype=np.int32)
    return used, lut[ids]


def encode(values, tables_ids, tables: RansTables) -> bytes:
    """One rANS string of ``values`` (int), each coded with table ``tables_ids[i]``."""
    v = np.asarray(values, np.int32).ravel()
    i = np.asarray(tables_ids, np.int32).ravel()
    if v.shape != i.shape:
        raise ValueError(f"{v.size} values but {i.size} table indices")
    if v.size == 0:
        return b""
    return rans_encoder().encode_with_indexes(v.tolist(), i.tolist(), tables.cdfs, tables.lengths, tables.offsets)


def _compiled_decoder():
    """The compiled rANS decoder (:func:`svc.rans_kernel.rans_decode`), or None where the reference
    code is selected (``SVC_KERNELS=reference``: CompressAI's C++ decoder)."""
    from svc import rans_kernel

    return rans_kernel.rans_decode if rans_kernel.ENABLED else None


def cdf_array(tables) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cdfs (T, L) int32 rows zero-padded to the longest, lengths (T,) int32, offsets (T,) int32) of
    ``tables`` (its ``cdf_array()`` where it has one, which may cache it; else built from its
    ``cdfs``, ``lengths`` and ``offsets`` lists)."""
    own = getattr(tables, "cdf_array", None)
    if own is not None:
        return own()
    lengths = np.asarray(tables.lengths, np.int32)
    cdfs = np.zeros((len(lengths), int(lengths.max(initial=1))), np.int32)
    for i, c in enumerate(tables.cdfs):
        cdfs[i, :len(c)] = c
    return cdfs, lengths, np.asarray(tables.offsets, np.int32)


class RansReader:
    """Decodes passes of symbols from one rANS string, in the order they were encoded. At most
    ``max_symbols`` are read (a damaged string cannot make the reader run away); ``what`` names the
    payload in that error. ``tables``: anything with ``cdfs``, ``lengths`` and ``offsets`` lists."""

    def __init__(self, data: bytes, tables: RansTables, max_symbols: int, what: str = "the payload"):
        self.tables, self.left, self.what = tables, int(max_symbols), what
        self._kernel = _compiled_decoder()
        if self._kernel is not None:
            # the compiled decoder reads zeros past the string's end: no padding to allocate
            data = bytes(data)
            self._words = np.frombuffer(data + bytes(-len(data) % 4), "<u4")
            first = [int(w) for w in self._words[:2]] + [0, 0]
            self._state = np.array([first[0] | (first[1] << 32), 2], np.uint64)
            return
        self._dec = rans_decoder()
        # zero padding: a damaged string can make the decoder read past its end (one 32-bit word per
        # symbol at most); zeros also end any run of escape chunks
        self._dec.set_stream(bytes(data) + bytes(4 * self.left + 64))

    def get(self, table_ids, tables=None) -> np.ndarray:
        """The next ``len(table_ids)`` symbols, each decoded with its table (int32 array) of ``tables``
        (default: the reader's)."""
        ids = np.asarray(table_ids, np.int32).ravel()
        if ids.size == 0:
            return np.zeros(0, np.int32)
        self.left -= ids.size
        if self.left < 0:
            raise BitstreamError(f"{self.what} asks for more symbols than it can hold")
        t = self.tables if tables is None else tables
        if self._kernel is not None:
            cdfs, lengths, offsets = cdf_array(t)
            if ids.min() < 0 or ids.max() >= len(lengths):
                raise ValueError(f"table index outside 0..{len(lengths) - 1}")
            out = np.empty(ids.size, np.int32)
            self._kernel(self._words, self._state, ids, cdfs, lengths, offsets, out)
            return out
        # hand the coder only the tables this pass uses (pybind11 converts every table passed, each call)
        used, local = localised(ids)
        u = used.tolist()
        out = self._dec.decode_stream(local.tolist(), [t.cdfs[i] for i in u],
                                      [t.lengths[i] for i in u], [t.offsets[i] for i in u])
        return np.frombuffer(array.array("i", out), np.int32).copy()
