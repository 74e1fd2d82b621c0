"""The switch and decorator of svc's compiled (numba) kernels.

``SVC_KERNELS=reference`` in the environment selects the reference code everywhere (numpy, or
CompressAI's C++ rANS decoder); the kernels compute the same integers. Compiled once per machine:
``cache=True`` keeps the machine code beside the module (or in ``$NUMBA_CACHE_DIR``).
"""
from __future__ import annotations

import os

ENABLED = os.environ.get("SVC_KERNELS", "compiled") != "reference"
if ENABLED:
    try:
        from numba import njit as _numba_njit
    except ImportError:          # pragma: no cover - numba is a dependency; the reference still works
        ENABLED = False


def njit(**options):
    """numba's ``njit`` with ``options``; without a writable cache location (a read-only install and
    home), compiled per process instead of failing; without numba (``SVC_KERNELS=reference``), the
    plain Python function (never called: the reference code runs)."""
    def wrap(f):
        if not ENABLED:
            return f
        try:
            return _numba_njit(**options)(f)
        except RuntimeError:     # "cannot cache function ...: no locator available"
            return _numba_njit(**{k: v for k, v in options.items() if k != "cache"})(f)
    return wrap
