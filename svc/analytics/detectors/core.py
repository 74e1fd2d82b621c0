"""The detector interface: :class:`Detections`, the :class:`Detector` protocol and the backend registry.

Backends register a factory under a name with :func:`register_detector` (each backend module does,
when :mod:`svc.analytics.detectors` imports it); :func:`make_detector` builds one by name with its
options. A factory that ``auto`` may choose registers with an ``auto_rank`` and carries
``available(options) -> bool``: ``auto`` walks the registry in rank order and takes the first
available backend (:func:`auto_backend`). This module imports no backend.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol, runtime_checkable

import numpy as np

from svc.errors import InputError
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
_AUTO: list[tuple[int, str]] = []   # (rank, name) of the backends auto may choose


def register_detector(name: str, *aliases: str, auto_rank: int | None = None):
    """Class / factory decorator: ``make_detector(name, **options)`` calls ``factory(**options)``.

    A factory may carry ``OPTIONS`` (a set of option names): unknown options are then refused. With
    ``auto_rank``, ``auto`` considers it (lowest rank first) when ``factory.available(options)``."""
    def deco(factory):
        for n in (name, *aliases):
            _REGISTRY[n] = factory
        if auto_rank is not None:
            if not callable(getattr(factory, "available", None)):
                raise TypeError(f"detector {name!r}: an auto backend needs available(options)")
            _AUTO.append((auto_rank, name))
            _AUTO.sort()
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
    """The backend ``auto`` means for these options: the first registered backend, in rank order,
    that reports itself available (as registered by the backends: ``torchvision`` when its weights
    file is given or in torch's hub cache, ``detectron2`` when importable with a config and an existing
    weights file, the offline ``nanodet`` when its shipped weights are installed, else the people-only
    ``opencv``)."""
    for _, name in _AUTO:
        if _REGISTRY[name].available(options):
            return name
    raise InputError(f"no detector backend is available (registered: {', '.join(available_detectors())})")
