"""Shared fixtures: real clips from ../shared/data converted to CTC-named raw YUV, generated clips."""
from __future__ import annotations

import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
RACEHORSES = SHARED / "RaceHorses_832x480_30.yuv"
CARPHONE_MP4 = SHARED / "carphone_176x144_30.mp4"

os.environ.setdefault("OMP_NUM_THREADS", "2")


def write_yuv(path, frames):
    from svc.io.yuv import YuvWriter
    from svc.io.frames import VideoFormat

    h, w = frames[0].y.shape
    with YuvWriter(path, VideoFormat(w, h, Fraction(30), 8 if frames[0].y.dtype == np.uint8 else 10)) as wr:
        for f in frames:
            wr.write(f)
    return Path(path)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def carphone_yuv(data_dir):
    """The 120-frame carphone clip as raw CTC-named YUV."""
    from svc.io import open_source

    path = data_dir / "carphone_176x144_30.yuv"
    if not path.exists():
        write_yuv(path, list(open_source(CARPHONE_MP4)))
    return path


@pytest.fixture(scope="session")
def racehorses_yuv():
    assert RACEHORSES.exists(), f"shared test data missing: {RACEHORSES}"
    return RACEHORSES


def moving_clip(width=176, height=144, frames=40, seed=0, bit_depth=8):
    """A synthetic clip: smooth textured background panning, a bright square moving across."""
    from svc.io.frames import YuvFrame

    rng = np.random.default_rng(seed)
    maxv = (1 << bit_depth) - 1
    yy, xx = np.mgrid[0:height * 2, 0:width * 2]
    bg = (0.5 + 0.25 * np.sin(xx / 9.0) * np.cos(yy / 13.0) + 0.05 * rng.standard_normal(xx.shape)).clip(0, 1)
    dt = np.uint8 if bit_depth == 8 else np.uint16
    out = []
    for t in range(frames):
        y = bg[t:t + height, 2 * t:2 * t + width].copy()
        x0 = (5 + 3 * t) % (width - 24)
        y[40:64, x0:x0 + 24] = 0.9
        y = (y * maxv).round().astype(dt)
        u = np.full((height // 2, width // 2), (maxv + 1) // 2, dt)
        v = (u.astype(np.int32) + (np.arange(width // 2) % 7)).clip(0, maxv).astype(dt)
        out.append(YuvFrame(y, u, v))
    return out


def run_cli(*args, input=None, check=True, env=None, timeout=300, cwd=ROOT, process=False):
    """Runs an svc command (``svc-encode ...``) and returns a ``subprocess.CompletedProcess`` (bytes
    stdout/stderr). In this process, through the same entry point as the console script (``python -m
    svc``: argument parsing, run_main's exit statuses, standard streams swapped for buffers), unless
    ``process`` is set or an environment / working folder is asked for: then as ``python -m svc ...``
    in a new process (what a subprocess proves: a real pipe, exit through the interpreter)."""
    cmd, *rest = args
    argv = [cmd.removeprefix("svc-"), *map(str, rest)]
    if process or env or cwd != ROOT:
        p = subprocess.run([sys.executable, "-m", "svc", *argv], input=input, capture_output=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=timeout, cwd=cwd)
    else:
        p = _run_in_process(argv, input)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd} failed ({p.returncode}): {p.stderr.decode(errors='replace')[-2000:]}")
    return p


def _run_in_process(argv, input):
    import io

    from svc.cli import main

    out, err = io.BytesIO(), io.BytesIO()
    streams = (io.TextIOWrapper(io.BytesIO(input or b""), encoding="utf-8"),
               io.TextIOWrapper(out, encoding="utf-8", write_through=True),
               io.TextIOWrapper(err, encoding="utf-8", write_through=True))
    saved = sys.stdin, sys.stdout, sys.stderr, sys.argv[:]
    sys.stdin, sys.stdout, sys.stderr = streams
    code = 0
    try:
        main(argv)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except Exception:           # what the interpreter does with an uncaught exception (--debug)
        import traceback
        traceback.print_exc()
        code = 1
    finally:
        for s in streams[1:]:
            try:
                s.flush()
            except ValueError:      # closed by the command (a pipe's reader went away)
                pass
        sys.stdin, sys.stdout, sys.stderr, sys.argv[:] = saved
    return subprocess.CompletedProcess(["svc", *argv], code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="session")
def local_ray():
    """One local Ray instance per test process, for every test that uses Ray (they share an xdist
    group, so one instance serves them all): its address for ``--ray`` / ``ray=``."""
    ray = pytest.importorskip("ray", reason="Ray is an optional extra (pip install 'svc[ray]')")
    from svc.pipeline.parallel import connect_ray

    connect_ray("local", 2)
    yield "local"
    ray.shutdown()
