"""Compiled rANS decoding (:func:`rans_decode`): CompressAI's ``RansDecoder.decode_stream`` as a
numba kernel over the string's words, which reads zeros past the string's end instead of needing
the C++ decoder's zero padding (one 32-bit word per symbol of the budget: tens of MB per GOP at SD).
:class:`svc.rans.RansReader` uses it unless ``SVC_KERNELS=reference``; ``tests/test_kernels.py``
checks it against the C++ decoder on valid and damaged strings."""
from __future__ import annotations

import numpy as np

from svc.compiled import ENABLED, njit  # noqa: F401  (rans_kernel.ENABLED: the switch svc.rans reads)

_RANS_L = np.uint64(1 << 31)        # the decoder's lower bound: below it, a 32-bit word is shifted in
_LOW16 = np.uint64(0xFFFF)


@njit(cache=True, nogil=True)
def _rans_word(words, pos):
    """The string's 32-bit word ``pos`` as uint64; zeros past its end."""
    if pos < words.shape[0]:
        return np.uint64(words[pos])
    return np.uint64(0)


@njit(cache=True, nogil=True)
def _rans_bits(state, words):
    """4 raw bits (the coder's bypass chunk) taken from ``state`` [x, next word], renormalised."""
    x = state[0]
    val = np.int64(x & np.uint64(15))
    x = x >> np.uint64(4)
    if x < _RANS_L:
        x = (x << np.uint64(32)) | _rans_word(words, np.int64(state[1]))
        state[1] += np.uint64(1)
    state[0] = x
    return val


@njit(cache=True, nogil=True)
def rans_decode(words, state, ids, cdfs, lengths, offsets, out):
    """CompressAI's ``RansDecoder.decode_stream`` (16-bit CDFs, 4-bit bypass chunks for escapes) on a
    string of little-endian 32-bit ``words`` (uint32), continuing from ``state`` (uint64 [x, index of
    the next word], updated): symbol ``i`` with table ``ids[i]`` (rows of ``cdfs`` (T, L) int32, each
    [0, ..., 2**16] over ``lengths[t]`` entries; ``offsets[t]`` the value of its first symbol) into
    ``out[i]`` (int32). Words past the string's end read as zeros, as the zero padding the C++ coder
    needs (so a damaged string cannot read beyond its buffer); the same symbols as CompressAI on every
    string it decodes within its padding."""
    x = state[0]
    for i in range(ids.shape[0]):
        t = ids[i]
        size = lengths[t]
        max_value = size - 2
        cum = np.int64(x & _LOW16)
        k = 1
        while k < size - 1 and cdfs[t, k] <= cum:     # the first CDF entry above cum, less one
            k += 1
        s = k - 1
        start = np.uint64(cdfs[t, s])
        freq = np.uint64(cdfs[t, s + 1] - cdfs[t, s])
        x = freq * (x >> np.uint64(16)) + (x & _LOW16) - start
        if x < _RANS_L:
            x = (x << np.uint64(32)) | _rans_word(words, np.int64(state[1]))
            state[1] += np.uint64(1)
        value = np.int64(s)
        if s == max_value:                             # escape: the value in bypass chunks
            state[0] = x
            val = _rans_bits(state, words)
            n_bypass = val
            while val == 15:
                val = _rans_bits(state, words)
                n_bypass += val
            raw = np.int64(0)
            for j in range(n_bypass):
                val = _rans_bits(state, words)
                raw |= val << ((j * 4) & 31)
            raw = ((raw + 2 ** 31) & 0xFFFFFFFF) - 2 ** 31   # int32, as the C++ coder holds it
            value = raw >> 1
            if raw & 1:
                value = -value - 1
            else:
                value += max_value
            x = state[0]
        out[i] = value + offsets[t]
    state[0] = x
