"""JSON that other tools read: standard JSON only (NaN and infinities, which Python's ``json`` writes
as the non-standard ``NaN`` / ``Infinity``, become ``null``), numpy scalars as numbers, fractions as
floats, paths as strings."""
from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path


def plain(obj):
    """``obj`` with every value JSON can hold: NaN/inf -> None, numpy scalars and arrays -> Python."""
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [plain(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, Fraction):
        obj = float(obj)
    if hasattr(obj, "tolist"):                # numpy scalars and arrays
        return plain(obj.tolist())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, int):
        return obj
    return str(obj)


def dumps(obj, **kwargs) -> str:
    """Standard JSON text of ``obj`` (see :func:`plain`); refuses to write NaN."""
    return json.dumps(plain(obj), allow_nan=False, **kwargs)
