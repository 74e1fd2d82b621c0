"""The detector interface: :class:`Detections`, the :class:`Detector` protocol and the backend registry.

Backends register a factory under a name with :func:`register_detector`; :func:`make_detector`
builds one by name with its options (``auto`` picks a configured backend, else the shipped ``nanodet``,
see :func:`auto_backend`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Protocol, runtime_checkable

import numpy as np

from svc.errors import InputError, ModelError
from svc.io.frames import YuvFrame


@dataclass
class Detections:
    """One frame's detections: ``boxes`` float32 (N, 4) x, y, w, h pixels; ``scores`` float32 (N,)
    in [0, 1]; ``classes`` int32 (N,) COCO-80 ids."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray

    def __post_init__(self):
        self.boxes = np.asarray(self.boxes, np.float32).reshape(-1, 4)
        self.scores = np.asarray(self.scores, np.float32).reshape(-1)
        self.classes = np.asarray(self.classes, np.int32).reshape(-1)
        if not len(self.boxes) == len(self.scores) == len(self.classes):
            raise ValueError(f"Detections: {len(self.boxes)} boxes, {len(self.scores)} scores, "
                             f"{len(self.classes)} classes")

    def __len__(self) -> int:
        return len(self.scores)

    @classmethod
    def empty(cls) -> "Detections":
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32))

    def select(self, keep) -> "Detections":
        """The detections at boolean mask or index array ``keep``."""
        return Detections(self.boxes[keep], self.scores[keep], self.classes[keep])


def filter_classes(dets: Detections, class_ids) -> Detections:
    """Only the detections whose class is in ``class_ids`` (None keeps all)."""
    if class_ids is None:
        return dets
    return dets.select(np.isin(dets.classes, np.asarray(list(class_ids), np.int32)))


@runtime_checkable
class Detector(Protocol):
    """Anything with a ``name`` and ``detect(frame) -> Detections``."""

    name: str

    def detect(self, frame: YuvFrame) -> Detections: ...


_REGISTRY: dict[str, Callable[..., Detector]] = {}


def register_detector(name: str, *aliases: str):
    """Class / factory decorator: ``make_detector(name, **options)`` calls ``factory(**options)``.

    A factory may carry ``OPTIONS`` (a set of option names): unknown options are then refused."""
    def deco(factory):
        for n in (name, *aliases):
            _REGISTRY[n] = factory
        return factory
    return deco


def available_detectors() -> list[str]:
    """Registered backend names plus ``auto``."""
    return sorted(_REGISTRY) + ["auto"]


def make_detector(name: str = "auto", **options) -> Detector:
    """A detector by backend name; ``auto`` (:func:`auto_backend`) drops the options its chosen backend
    does not take, and for the shipped ``nanodet`` also ``weights`` / ``sha256`` (those name another
    backend's files when ``auto`` falls back to the offline default)."""
    name = (name or "auto").lower()
    if name == "auto":
        name = auto_backend(options)
        accepted = getattr(_REGISTRY[name], "OPTIONS", None)
        if accepted is not None:
            drop = AUTO_DROPS.get(name, set())
            options = {k: v for k, v in options.items() if k in accepted and k not in drop}
    if name not in _REGISTRY:
        raise InputError(f"unknown detector {name!r} (available: {', '.join(available_detectors())})")
    factory = _REGISTRY[name]
    accepted = getattr(factory, "OPTIONS", None)
    if accepted is not None:
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            raise InputError(f"detector {name!r} takes no option(s) {', '.join(unknown)} "
                             f"(known: {', '.join(sorted(accepted))})")
    return factory(**options)


#: Options ``auto`` never passes to a backend it chose as the offline fallback.
AUTO_DROPS = {"nanodet": {"weights", "sha256"}}


def auto_backend(options: dict) -> str:
    """The backend ``auto`` means for these options: ``torchvision`` when its weights file is given
    (or in torch's hub cache), else ``detectron2`` when importable with a config and an existing
    weights file, else the offline ``nanodet`` (80 COCO classes, weights shipped in the package),
    else (its weights file removed from the install) the people-only ``opencv``."""
    from svc.analytics.detectors.detectron2_backend import detectron2_importable
    from svc.analytics.detectors.nanodet_weights import WEIGHTS_PATH
    from svc.analytics.detectors.torchvision_backend import DEFAULT_TV_MODEL, torchvision_weights_path

    if not options.get("config"):  # a config file means detectron2 options
        try:
            if torchvision_weights_path(options.get("model", DEFAULT_TV_MODEL), options.get("weights")):
                return "torchvision"
        except ModelError:
            pass
    if options.get("config") and options.get("weights") and os.path.isfile(str(options["weights"])) \
            and detectron2_importable():
        return "detectron2"
    return "nanodet" if WEIGHTS_PATH.is_file() else "opencv"
