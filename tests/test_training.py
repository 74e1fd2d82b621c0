"""svc-train: data from real base coding, checkpoints, resume, and a loadable weights file."""
import io

import pytest

from svc.enhancement.zoo import load_model
from svc.io import open_source

from svc.pipeline.decode import decode
from svc.pipeline.encode import encode


def test_train_resume_and_use(tmp_path, carphone_yuv, capsys):
    from svc.cli.train import command as train_cmd
    out, ckpt = tmp_path / "tiny.pt", tmp_path / "ckpt"
    common = ["--clips", str(carphone_yuv), "--no-synthetic", "--qps", "37", "--max-frames", "4", "--batch", "2",
              "--crop", "64", "--ckpt-dir", str(ckpt), "--out", str(out), "--threads", "1"]
    assert train_cmd(common + ["--steps", "2"]) == 0
    assert (ckpt / "last.ckpt").exists() and out.exists()
    capsys.readouterr()
    assert train_cmd(common + ["--steps", "4", "--resume"]) == 0
    assert "at step 2" in capsys.readouterr().err
    model, model_id, sha = load_model(out)
    assert model_id == "tiny" and len(sha) == 64
    # the freshly trained model codes and decodes a real clip bit-exactly
    from svc.config import load_config
    from svc.enhancement.codec import EnhancementCodec
    from svc.io.memory import FrameCollector
    src = open_source(carphone_yuv, max_frames=4)
    codec = EnhancementCodec(model, src.format, 1.0, model_id, sha)
    cfg = load_config(overrides=[{"base": {"qp": 40, "gop": 4}, "enhancement": {"enabled": True}}])
    buf = io.BytesIO()
    stats = encode(src, buf, cfg, codec=codec)
    sink = FrameCollector()
    from svc.enhancement.zoo import load_codec_for_decoding
    decode(io.BytesIO(buf.getvalue()), sink, layer="full",
           codec_loader=lambda h: load_codec_for_decoding(h, weights=out))
    from svc.metrics.quality import PsnrAccumulator
    acc = PsnrAccumulator()
    for o, d in zip(open_source(carphone_yuv, max_frames=4), sink.frames):
        acc.add(o, d)
    assert acc.mean().y == pytest.approx(stats.psnr_full.y, abs=1e-9)
