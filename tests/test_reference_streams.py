"""Frozen reference streams (FFmpeg FATE style): streams written once by earlier versions of svc
(``tests/reference/*.svc``, made by ``tools/make_reference_streams.py`` and never re-encoded) must
decode to exactly the output recorded in ``tests/reference/MD5SUMS``: one line per check, ``MD5 STREAM
LAYER``, where LAYER ``base``/``full`` is the MD5 of ``svc-decode STREAM --layer LAYER -o out.yuv`` and
``features``/``latent`` the MD5 of the MOT file of ``svc-analyze STREAM --from LAYER -o out.txt``.
A change that alters decoded output adds a new stream version; it never rewrites an old line."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from svc.cli.analyze import command as analyze_command
from svc.cli.common import run_main
from svc.cli.decode import decode_command

REFERENCE = Path(__file__).resolve().parent / "reference"
CHECKS = [line.split() for line in (REFERENCE / "MD5SUMS").read_text().splitlines() if line.strip()]


def test_every_reference_stream_is_checked():
    streams = {p.name for p in REFERENCE.glob("*.svc")}
    assert streams and streams == {s for _, s, _ in CHECKS}
    assert all(len(md5) == 32 and layer in ("base", "full", "features", "latent") for md5, _, layer in CHECKS)


@pytest.mark.parametrize("md5,stream,layer", CHECKS, ids=[f"{s}:{layer}" for _, s, layer in CHECKS])
def test_reference_stream_decodes_exactly(tmp_path, md5, stream, layer):
    if layer in ("base", "full"):
        out = tmp_path / "out.yuv"
        status = run_main(decode_command, [str(REFERENCE / stream), "--layer", layer, "-o", str(out), "-q"])
    else:
        out = tmp_path / "out.txt"
        status = run_main(analyze_command, [str(REFERENCE / stream), "--from", layer, "-o", str(out), "-q"])
    assert status == 0
    data = out.read_bytes()
    assert data, "the check produced nothing"
    assert hashlib.md5(data).hexdigest() == md5, f"{stream} --layer {layer} no longer decodes as it did"
