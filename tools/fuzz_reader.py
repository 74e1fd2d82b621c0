#!/usr/bin/env python
"""Coverage-guided fuzzing (atheris / libFuzzer) of the container reader and base decoding.

    pip install atheris
    python tools/fuzz_reader.py --make-corpus fuzz/corpus          # real encoded files as seeds
    python tools/fuzz_reader.py fuzz/corpus -max_total_time=600     # any libFuzzer flags follow
    python tools/fuzz_reader.py --replay fuzz/corpus                # run the target on each file, no atheris

The target parses a stream in both error policies, decodes every base payload and every
enhancement frame table it accepts. Anything but :class:`svc.errors.SvcError` is a finding
(libFuzzer writes the input to crash-*); a read that takes over -timeout seconds is a hang.
"""
from __future__ import annotations

import io
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_corpus(folder: str):
    from svc.config import load_config
    from svc.io import open_source
    from svc.pipeline.encode import encode

    os.makedirs(folder, exist_ok=True)
    clip = ROOT.parent / "shared" / "data" / "carphone_176x144_30.mp4"
    for frames, gop, qp in ((6, 3, 40), (12, 4, 45), (4, 2, 30)):
        cfg = load_config(overrides=[{"base": {"qp": qp, "gop": gop, "preset": "ultrafast"},
                                      "enhancement": {"enabled": False}}])
        buf = io.BytesIO()
        encode(open_source(clip, max_frames=frames), buf, cfg)
        Path(folder, f"carphone_{frames}f_gop{gop}_qp{qp}.svc").write_bytes(buf.getvalue())
    print(f"corpus written to {folder}")


def fuzz_one(data: bytes):
    from svc.base import BaseDecoder
    from svc.bitstream import ContainerReader, Limits, unpack_frame_payloads
    from svc.errors import SvcError

    limits = Limits(max_dimension=1024, max_gop_frames=64, max_base_bytes=1 << 20, max_enh_bytes=1 << 20)
    for policy in ("fail", "skip"):
        try:
            reader = ContainerReader(io.BytesIO(data), limits=limits, on_error=policy)
            dec = BaseDecoder(reader.header.format)
            for rec in reader:
                dec.decode(rec.base, rec.index)
                if rec.enhancement is not None:
                    unpack_frame_payloads(rec.enhancement, rec.frame_count, rec.index)
        except SvcError:
            pass


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--make-corpus":
        return make_corpus(sys.argv[2])
    if len(sys.argv) > 2 and sys.argv[1] == "--replay":
        files = sorted(p for p in Path(sys.argv[2]).iterdir() if p.is_file())
        for p in files:
            fuzz_one(p.read_bytes())
        print(f"replayed {len(files)} inputs: no finding")
        return 0
    import atheris

    with atheris.instrument_imports():
        import svc.bitstream.container  # noqa: F401
        import svc.base.hevc  # noqa: F401
    atheris.Setup(sys.argv, fuzz_one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
