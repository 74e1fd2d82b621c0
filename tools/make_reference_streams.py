#!/usr/bin/env python
"""Writes the frozen reference streams of ``tests/reference/`` (FFmpeg FATE style) and the MD5 lines
for them. Run once per new stream version; never re-encode an existing stream.

    python tools/make_reference_streams.py tests/reference NAME [NAME ...]   # writes NAME.svc, prints MD5 lines

Each stream is a few frames of the shipped carphone clip coded with today's models. The MD5 of what
``svc-decode STREAM --layer L`` writes (raw 4:2:0) or of the MOT file of ``svc-analyze STREAM --from
L`` pins the decoder: a change that alters decoded output must add a new stream version (a new NAME),
not rewrite an old MD5 line.
"""
from __future__ import annotations

import hashlib
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CARPHONE = ROOT.parent / "shared" / "data" / "carphone_176x144_30.mp4"

#: name -> (svc-encode options, the checks: layers to decode or 'features' / 'latent' to analyse)
STREAMS = {
    "base-v1": (["--frames", "6", "--gop", "3", "--qp", "37", "--no-enhancement"], ["base"]),
    "full-v1": (["--frames", "6", "--gop", "3", "--qp", "37", "--enh-quality", "0.5"], ["base", "full"]),
    "tiles-v1": (["--frames", "4", "--gop", "4", "--qp", "37", "--enh-tiles", "4"], ["full"]),
    "features-v1": (["--frames", "4", "--gop", "2", "--qp", "37", "--no-enhancement", "--features"],
                    ["base", "features"]),
    "features-on-base-v1": (["--frames", "4", "--gop", "2", "--qp", "37", "--no-enhancement", "--features-on-base"],
                            ["features"]),
    "denoised-v1": (["--frames", "4", "--gop", "4", "--qp", "37", "--denoise", "10"], ["base", "full"]),
    # the learned latent codec with its first shipped model (latent-v1: its base latent finds no track on
    # these frames, so only the pictures are pinned; the `latent` check comes with a model that detects)
    "latent-v1": (["--frames", "4", "--gop", "2", "--codec", "latent", "--latent-quality", "0.8",
                   "--set", f"latent.model={ROOT / 'svc/latent/weights/latent-v1.pt'}"], ["full"]),
    # the second shipped model (latent-v2, the default since 2026-12-04): its base latent tracks the
    # person on these frames, so the detections from the base latent are pinned too
    "latent-v2": (["--frames", "4", "--gop", "2", "--codec", "latent", "--latent-quality", "0.8",
                   "--set", f"latent.model={ROOT / 'svc/latent/weights/latent-v2.pt'}"], ["full", "latent"]),
}


def md5_of_check(stream: Path, check: str) -> str:
    """The MD5 of what one check writes (``base``/``full``: decoded YUV; ``features``/``latent``: MOT rows)."""
    from svc.cli.analyze import command as analyze_command
    from svc.cli.common import run_main
    from svc.cli.decode import decode_command

    with tempfile.TemporaryDirectory() as tmp:
        if check in ("base", "full"):
            out = Path(tmp) / "out.yuv"
            status = run_main(decode_command, [str(stream), "--layer", check, "-o", str(out), "-q"])
        else:
            out = Path(tmp) / "out.txt"
            status = run_main(analyze_command, [str(stream), "--from", check, "-o", str(out), "-q"])
        if status != 0:
            raise RuntimeError(f"{stream.name} {check}: exit status {status}")
        return hashlib.md5(out.read_bytes()).hexdigest()


def main(argv=None) -> int:
    from svc.cli.common import run_main
    from svc.cli.encode import command as encode_command

    argv = list(sys.argv[1:] if argv is None else argv)
    folder, names = Path(argv[0]), argv[1:]
    for name in names:
        options, checks = STREAMS[name]
        path = folder / f"{name}.svc"
        if path.exists():
            raise SystemExit(f"{path} exists: reference streams are never re-encoded; add a new version")
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "carphone_176x144_30.yuv"
            from svc.io import open_source
            from svc.io.yuv import YuvWriter
            src = open_source(CARPHONE, max_frames=8)
            with YuvWriter(raw, src.format) as w:
                for f in src:
                    w.write(f)
            if run_main(encode_command, [str(raw), "-o", str(path), "-q", *options]) != 0:
                raise SystemExit(f"encoding {name} failed")
        for check in checks:
            print(f"{md5_of_check(path, check)}  {path.name}  {check}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
