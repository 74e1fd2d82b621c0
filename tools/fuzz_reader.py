#!/usr/bin/env python
"""Coverage-guided fuzzing (atheris / libFuzzer) of the container reader and base decoding.

    pip install atheris
    python tools/fuzz_reader.py --make-corpus fuzz/corpus          # real encoded files as seeds
    python tools/fuzz_reader.py fuzz/corpus -max_total_time=600     # any libFuzzer flags follow
    python tools/fuzz_reader.py --replay fuzz/corpus                # run the target on each file, no atheris

The target parses a stream in both error policies and decodes every layer it accepts: base
payloads (HEVC), enhancement payloads (restoration flags and block coder) and feature payloads (rANS;
against the decoded base where they are coded on it). Anything but :class:`svc.errors.SvcError` is a finding
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
    from svc.features.layer import load_features_for_encoding
    from svc.enhancement import load_codec_for_encoding
    from svc.io import open_source
    from svc.pipeline.encode import encode

    os.makedirs(folder, exist_ok=True)
    clip = ROOT.parent / "shared" / "data" / "carphone_176x144_30.mp4"
    # (frames, GOP, QP, enhancement quality or None, feature layer: False, True or "base" (coded on the base))
    for frames, gop, qp, enh, feat in ((6, 3, 40, None, False), (8, 4, 45, None, False), (2, 2, 30, 0.5, False),
                                       (2, 1, 42, 0.0, False), (1, 1, 40, None, True), (2, 2, 40, None, "base")):
        cfg = load_config(overrides=[{"base": {"qp": qp, "gop": gop, "preset": "ultrafast"},
                                      "enhancement": {"enabled": enh is not None, "quality": enh or 0.0},
                                      "features": {"interlayer": feat == "base"}}])
        src = open_source(clip, max_frames=frames)
        codec = load_codec_for_encoding(cfg, src.format) if enh is not None else None
        buf = io.BytesIO()
        encode(src, buf, cfg, codec=codec, features=load_features_for_encoding(cfg) if feat else None)
        name = f"carphone_{frames}f_gop{gop}_qp{qp}" + (f"_enh{enh}" if enh is not None else "") + {False: "", True: "_feat", "base": "_featbase"}[feat]
        Path(folder, name + ".svc").write_bytes(buf.getvalue())
        if frames == 6:  # concatenations and trailing data (read on as one stream, or reported)
            Path(folder, name + "_twice.svc").write_bytes(buf.getvalue() * 2)
            Path(folder, name + "_trailing.svc").write_bytes(buf.getvalue() + buf.getvalue()[:40] + b"tail")
    print(f"corpus written to {folder}")


def fuzz_one(data: bytes):
    from svc.base import BaseDecoder
    from svc.bitstream import ContainerReader, Limits
    from svc.enhancement import load_codec_for_decoding
    from svc.errors import SvcError
    from svc.features.layer import load_features_for_decoding

    limits = Limits(max_dimension=1024, max_gop_frames=64, max_base_bytes=1 << 20, max_enh_bytes=1 << 20,
                    max_feature_bytes=1 << 22)
    for policy in ("fail", "skip"):
        try:
            reader = ContainerReader(io.BytesIO(data), ("base", "enhancement", "features"), limits=limits,
                                     on_error=policy)
            dec = BaseDecoder(reader.header.format)
            codec = load_codec_for_decoding(reader.header) if reader.header.enhancement else None
            feats = load_features_for_decoding(reader.header, threads=1) if reader.header.features else None
            for rec in reader:
                frames = dec.decode(rec.base, rec.index) if rec.base is not None else None
                if codec is not None and frames is not None and rec.enhancement is not None:
                    codec.decode_gop(frames, rec.enhancement, rec.index)
                if feats is not None and rec.features is not None:
                    shapes, _ = feats.shapes(reader.header.format)
                    on_base = reader.header.features.get("interlayer") and frames is not None
                    feats.codec.decode_gop(rec.features, shapes, rec.index, feats.base_tensors(frames) if on_base else None)
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
        import svc.enhancement.codec  # noqa: F401
        import svc.enhancement.syntax  # noqa: F401
        import svc.features.codec  # noqa: F401
    atheris.Setup(sys.argv, fuzz_one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
