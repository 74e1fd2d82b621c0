"""Object detectors behind one interface: frame in, boxes / scores / COCO class ids out.

Backends (``make_detector(name, **options)``):

* ``opencv`` (alias ``hog``), the offline default: people only, from OpenCV's built-in models (HOG
  full body, Haar upper body, frontal and profile face), each mapped to a whole-person box and
  merged with class-agnostic NMS. Needs nothing beyond the opencv wheel.
* ``torchvision``: Faster R-CNN / RetinaNet / SSDlite (80 COCO classes) from a local weights file;
  never downloads.
* ``detectron2``: only when ``import detectron2`` works, with a local config and weights.
* ``auto``: torchvision when its weights file is configured (or in torch's hub cache), else
  detectron2 when importable and configured, else ``opencv``.

Boxes are float32 (N, 4) ``x, y, w, h`` in pixels of the input frame (top-left corner and size);
class ids are the contiguous 0-based COCO-80 ids of YOLO / SFU-HW-Tracks (0 = person, 2 = car).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Protocol, runtime_checkable

import numpy as np

from svc.errors import InputError, ModelError
from svc.io.frames import YuvFrame

# -- COCO class tables ----------------------------------------------------------------------------
COCO_NAMES = [
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant", "bed",
    "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
]
COCO_IDS = {n: i for i, n in enumerate(COCO_NAMES)}
# Original COCO category ids (1..90, used by torchvision / the COCO json) that have no category.
_COCO91_MISSING = (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)
# COCO91_TO_80[k]: contiguous 0..79 id of original category id k (0..90); -1 for background / N/A.
COCO91_TO_80 = np.full(91, -1, np.int32)
COCO91_TO_80[[k for k in range(1, 91) if k not in _COCO91_MISSING]] = np.arange(80, dtype=np.int32)
COCO80_TO_91 = np.flatnonzero(COCO91_TO_80 >= 0).astype(np.int32)  # inverse: 80 entries, 1..90


def class_ids_from_names(names) -> list[int]:
    """COCO-80 ids of ``'person,car'`` or ``['person', 'car']`` (ints and digit strings pass through)."""
    if isinstance(names, str):
        names = names.split(",")
    ids = []
    for n in names:
        if isinstance(n, (int, np.integer)) or str(n).strip().isdigit():
            k = int(n)
            if not 0 <= k < len(COCO_NAMES):
                raise InputError(f"COCO class id {k} out of range 0..{len(COCO_NAMES) - 1}")
            ids.append(k)
            continue
        key = str(n).strip().lower().replace("_", " ")
        if key not in COCO_IDS:
            raise InputError(f"unknown COCO class {n!r} (known: {', '.join(COCO_NAMES)})")
        ids.append(COCO_IDS[key])
    return ids


# -- detections -----------------------------------------------------------------------------------
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


def yuv_to_bgr(frame: YuvFrame, bit_depth: int | None = None) -> np.ndarray:
    """(H, W, 3) uint8 BGR of a 4:2:0 frame; deeper samples (uint16, 10-bit unless told) shift to 8 bits."""
    import cv2

    if frame.y.dtype != np.uint8:
        shift = (bit_depth or 10) - 8
        frame = YuvFrame(*((p >> shift).astype(np.uint8) for p in frame))
    return cv2.cvtColor(np.ascontiguousarray(frame.to_i420()), cv2.COLOR_YUV2BGR_I420)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float, contain: float | None = None) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression of (N, 4) x, y, w, h boxes, best score first.

    A box goes when its IoU with a kept box exceeds ``iou`` or, with ``contain``, when at least that
    fraction of its own area lies inside a kept box."""
    order = np.argsort(-scores, kind="stable")
    b = boxes.astype(np.float64)
    x0, y0, x1, y1 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    area = b[:, 2] * b[:, 3]
    keep = []
    while len(order):
        i, rest = order[0], order[1:]
        keep.append(i)
        iw = np.clip(np.minimum(x1[i], x1[rest]) - np.maximum(x0[i], x0[rest]), 0, None)
        ih = np.clip(np.minimum(y1[i], y1[rest]) - np.maximum(y0[i], y0[rest]), 0, None)
        inter = iw * ih
        gone = inter / np.maximum(area[i] + area[rest] - inter, 1e-9) > iou
        if contain is not None:
            gone |= inter >= contain * np.maximum(area[rest], 1e-9)
        order = rest[~gone]
    return np.asarray(keep, np.int64)


# -- interface and registry -----------------------------------------------------------------------
@runtime_checkable
class Detector(Protocol):
    """Anything with a ``name`` and ``detect(frame) -> Detections``."""

    name: str

    def detect(self, frame: YuvFrame) -> Detections: ...


_REGISTRY: dict[str, Callable[..., Detector]] = {}


def register_detector(name: str, *aliases: str):
    """Class / factory decorator: ``make_detector(name, **options)`` calls ``factory(**options)``."""
    def deco(factory):
        for n in (name, *aliases):
            _REGISTRY[n] = factory
        return factory
    return deco


def available_detectors() -> list[str]:
    """Registered backend names plus ``auto``."""
    return sorted(_REGISTRY) + ["auto"]


def make_detector(name: str = "auto", **options) -> Detector:
    """A detector by backend name; ``auto`` drops the options its chosen backend does not take."""
    name = (name or "auto").lower()
    if name == "auto":
        name = _auto_backend(options)
        accepted = getattr(_REGISTRY[name], "OPTIONS", None)
        if accepted is not None:
            options = {k: v for k, v in options.items() if k in accepted}
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


def _auto_backend(options: dict) -> str:
    if not options.get("config"):  # a config file means detectron2 options
        try:
            if _torchvision_weights_path(options.get("model", DEFAULT_TV_MODEL), options.get("weights")):
                return "torchvision"
        except ModelError:
            pass
    if options.get("config") and options.get("weights") and os.path.isfile(str(options["weights"])) \
            and _detectron2_importable():
        return "detectron2"
    return "opencv"


# -- opencv: people from HOG + Haar cascades ------------------------------------------------------
# Source box -> person box, in units of the source box (w, h): (left, top, width, height) so that
# person = (x - left*w, y - top*h, width*w, height*h), then clipped to the frame. A Haar face box
# spans brows to mouth (about 0.7 head heights): shoulders are ~3 face widths across and a seated or
# head-and-shoulders person reaches ~5 face heights below the brow (close-ups clip at the frame).
FACE_TO_PERSON = (1.0, 0.5, 3.0, 5.5)
# haarcascade_upperbody boxes cover head and shoulders (22x18 window); a person is ~3 of them tall.
UPPER_TO_PERSON = (0.1, 0.05, 1.2, 3.0)
# Raw source confidence -> [0, 1]: sigmoid((raw - centre) / spread). Raw values are the HOG SVM
# margin and the cascades' last-stage sums (levelWeights); centres/spreads set from their spread on
# true and false detections in carphone / RaceHorses (face 2..9 on true faces, profile and upper
# body rarely above 2).
SCORE_SQUASH = {"hog": (0.5, 0.4), "upperbody": (0.0, 0.8), "face": (2.0, 1.0), "profile": (0.0, 0.8)}
OPENCV_SOURCES = ("hog", "upperbody", "face", "profile")
_CASCADES = {"face": "haarcascade_frontalface_default.xml", "profile": "haarcascade_profileface.xml",
             "upperbody": "haarcascade_upperbody.xml"}


def _squash(raw, source: str) -> np.ndarray:
    c, s = SCORE_SQUASH[source]
    return 1.0 / (1.0 + np.exp(-(np.asarray(raw, np.float64).reshape(-1) - c) / s))


def _map_boxes(boxes: np.ndarray, mapping) -> np.ndarray:
    l, t, w, h = mapping
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    return np.stack([b[:, 0] - l * b[:, 2], b[:, 1] - t * b[:, 3], w * b[:, 2], h * b[:, 3]], 1)


def _clip_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    x0, y0 = np.clip(b[:, 0], 0, width), np.clip(b[:, 1], 0, height)
    x1, y1 = np.clip(b[:, 0] + b[:, 2], 0, width), np.clip(b[:, 1] + b[:, 3], 0, height)
    return np.stack([x0, y0, x1 - x0, y1 - y0], 1)


@register_detector("opencv", "hog")
class OpenCvPersonDetector:
    """People (class 0) from OpenCV's built-in HOG and Haar models; no weights to download.

    Sources (``sources``, any of OPENCV_SOURCES): ``hog`` full-body HOG+SVM (people >= 128 px tall in
    the working image; pyramid step ``hog_scale``); ``face`` Haar frontal face from 24 px (pyramid
    step ``cascade_scale``), also on the image rotated by each of ``face_angles`` degrees for tilted
    heads; ``profile`` Haar profile face on the image and its mirror; ``upperbody`` Haar head and
    shoulders. The rotated-face, profile and upper-body passes only look for objects of at least
    ``large_min`` x the short side, with pyramid step ``secondary_scale`` (they are the costly ones).
    Faces and upper bodies grow to person boxes (FACE_TO_PERSON, UPPER_TO_PERSON); raw confidences
    are squashed to [0, 1] per source (SCORE_SQUASH); boxes below ``min_score`` are dropped and the
    rest merged by class-agnostic NMS at IoU ``nms_iou``, which also drops a box lying ``contain``
    (fraction of its area) inside a better one: two sources seeing one person give nested boxes.

    Working image: luma (histogram-equalised if ``equalize``), BGR for HOG, scaled by ``upscale``
    (default: so that the short side is at least ``min_side`` px, as small frames give faces below
    the cascades' 24 px window; 288 found no more of carphone's person than 240 and cost 30% more;
    optionally at most ``max_side`` px on the long side); boxes are mapped back to frame pixels.
    Measured 2026-11-25 (one core of a busy 2-core VM): carphone person in 120/120 frames (upright
    faces alone: 57%); ~35 ms per 176x144 frame (run at 293x240), ~46 ms per 416x240 frame
    (face passes ~25, HOG ~8, profile ~8, upper body ~4), ~230 ms per 832x480 frame.
    """

    OPTIONS = {"min_score", "upscale", "min_side", "max_side", "sources", "nms_iou", "contain", "face_angles",
               "large_min", "equalize", "hog_scale", "cascade_scale", "secondary_scale"}

    def __init__(self, min_score: float = 0.3, upscale: float | None = None, min_side: int = 240,
                 max_side: int | None = None, sources: Iterable[str] | str = OPENCV_SOURCES,
                 nms_iou: float = 0.4, contain: float | None = 0.8, face_angles: Iterable[float] = (-25.0, 25.0),
                 large_min: float = 0.25, equalize: bool = True, hog_scale: float = 1.1,
                 cascade_scale: float = 1.2, secondary_scale: float = 1.3):
        import cv2

        if isinstance(sources, str):
            sources = [s.strip() for s in sources.split(",") if s.strip()]
        sources = tuple(sources)
        bad = [s for s in sources if s not in OPENCV_SOURCES]
        if bad or not sources:
            raise InputError(f"opencv detector: unknown source(s) {bad} (known: {', '.join(OPENCV_SOURCES)})")
        self.name = "opencv"
        self.sources, self.min_score, self.nms_iou = sources, float(min_score), float(nms_iou)
        self.contain = None if contain is None else float(contain)
        self.upscale = None if upscale in (None, "auto") else float(upscale)
        self.min_side, self.max_side = int(min_side), (int(max_side) if max_side else None)
        self.face_angles = tuple(float(a) for a in face_angles if float(a) != 0.0)
        self.large_min, self.equalize = float(large_min), bool(equalize)
        self.hog_scale, self.cascade_scale = float(hog_scale), float(cascade_scale)
        self.secondary_scale = float(secondary_scale)
        self._cascades = {}
        for s in sources:
            if s in _CASCADES:
                path = os.path.join(cv2.data.haarcascades, _CASCADES[s])
                c = cv2.CascadeClassifier(path)
                if c.empty():
                    raise ModelError(f"opencv detector: cannot load {path} (opencv-python wheel without data?)")
                self._cascades[s] = c
        if "hog" in sources:
            self._hog = cv2.HOGDescriptor()
            self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def scale_for(self, width: int, height: int) -> float:
        """Working-image scale factor for a width x height frame."""
        if self.upscale is not None:
            return self.upscale
        k = max(1.0, self.min_side / min(width, height))
        if self.max_side and max(width, height) * k > self.max_side:
            k = self.max_side / max(width, height)
        return k

    def detect_sources(self, frame: YuvFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per source: (person boxes (N, 4) x, y, w, h in frame pixels, scores (N,)) before merging."""
        import cv2

        h, w = frame.y.shape
        k = self.scale_for(w, h)
        size = (max(1, round(w * k)), max(1, round(h * k)))
        bgr = None
        if "hog" in self.sources:
            bgr = yuv_to_bgr(frame)
            if size != (w, h):
                bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_LINEAR)
        gray = None
        if self._cascades:
            y8 = frame.y if frame.y.dtype == np.uint8 else (frame.y >> 2).astype(np.uint8)
            gray = y8 if size == (w, h) else cv2.resize(y8, size, interpolation=cv2.INTER_LINEAR)
            if self.equalize:
                gray = cv2.equalizeHist(gray)
        large = int(self.large_min * min(size))
        out = {}
        for s in self.sources:
            if s == "hog":
                boxes, raw = self._hog.detectMultiScale(bgr, hitThreshold=0.0, winStride=(8, 8), padding=(8, 8),
                                                        scale=self.hog_scale)
                boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
            elif s == "face":
                boxes, raw = self._faces(gray)
                boxes = _map_boxes(boxes, FACE_TO_PERSON)
            elif s == "profile":
                b1, r1 = self._cascade(self._cascades["profile"], gray, min_size=large)
                flipped = np.ascontiguousarray(gray[:, ::-1])
                b2, r2 = self._cascade(self._cascades["profile"], flipped, min_size=large)
                b2[:, 0] = gray.shape[1] - b2[:, 0] - b2[:, 2]
                boxes, raw = _map_boxes(np.concatenate([b1, b2]), FACE_TO_PERSON), np.concatenate([r1, r2])
            else:
                boxes, raw = self._cascade(self._cascades["upperbody"], gray, min_size=large)
                boxes = _map_boxes(boxes, UPPER_TO_PERSON)
            boxes = _clip_boxes(boxes / k, w, h)
            ok = (boxes[:, 2] >= 2) & (boxes[:, 3] >= 2)
            out[s] = (boxes[ok].astype(np.float32), _squash(raw, s)[ok].astype(np.float32))
        return out

    def detect(self, frame: YuvFrame) -> Detections:
        return self.merge(self.detect_sources(frame))

    def merge(self, per: dict[str, tuple[np.ndarray, np.ndarray]]) -> Detections:
        """One :class:`Detections` (class 0) from :meth:`detect_sources` output: ``min_score``, then NMS."""
        boxes = np.concatenate([b for b, _ in per.values()]) if per else np.zeros((0, 4), np.float32)
        scores = np.concatenate([s for _, s in per.values()]) if per else np.zeros(0, np.float32)
        keep = scores >= self.min_score
        boxes, scores = boxes[keep], scores[keep]
        idx = nms(boxes, scores, self.nms_iou, self.contain)
        return Detections(boxes[idx], scores[idx], np.zeros(len(idx), np.int32))

    def _cascade(self, cascade, gray, min_size: int = 0, neighbours: int = 3, scale: float | None = None):
        boxes, _levels, weights = cascade.detectMultiScale3(
            gray, scaleFactor=scale or self.secondary_scale, minNeighbors=neighbours, minSize=(min_size, min_size),
            outputRejectLevels=True)
        return np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(weights, np.float64).reshape(-1)

    def _faces(self, gray):
        """Frontal faces (N, 4) and raw weights, upright and at each of ``face_angles``."""
        import cv2

        c = self._cascades["face"]
        boxes, raws = [], []
        b, r = self._cascade(c, gray, neighbours=2, scale=self.cascade_scale)
        boxes.append(b)
        raws.append(r)
        h, w = gray.shape
        min_face = int(self.large_min * min(h, w))
        for a in self.face_angles:
            m = cv2.getRotationMatrix2D((w / 2, h / 2), a, 1.0)
            rot = cv2.warpAffine(gray, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            b, r = self._cascade(c, rot, min_size=max(24, min_face), neighbours=2)
            if len(b):  # rotate the face centres back; keep the (upright) size
                centres = np.c_[b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2, np.ones(len(b))]
                back = centres @ cv2.invertAffineTransform(m).T
                b = np.c_[back[:, 0] - b[:, 2] / 2, back[:, 1] - b[:, 3] / 2, b[:, 2:]]
            boxes.append(b)
            raws.append(r)
        return np.concatenate(boxes), np.concatenate(raws)


# -- torchvision ----------------------------------------------------------------------------------
# model name -> (builder in torchvision.models.detection, standard weights file name in the hub cache)
TORCHVISION_MODELS = {
    "fasterrcnn_resnet50_fpn": ("fasterrcnn_resnet50_fpn", "fasterrcnn_resnet50_fpn_coco-258fb6c6.pth"),
    "fasterrcnn_resnet50_fpn_v2": ("fasterrcnn_resnet50_fpn_v2", "fasterrcnn_resnet50_fpn_v2_coco-dd69338a.pth"),
    "fasterrcnn_mobilenet_v3_large_fpn": ("fasterrcnn_mobilenet_v3_large_fpn",
                                          "fasterrcnn_mobilenet_v3_large_fpn-fb6a3cc7.pth"),
    "retinanet_resnet50_fpn": ("retinanet_resnet50_fpn", "retinanet_resnet50_fpn_coco-eeacb38b.pth"),
    "retinanet_resnet50_fpn_v2": ("retinanet_resnet50_fpn_v2", "retinanet_resnet50_fpn_v2_coco-5905b1c5.pth"),
    "ssdlite320_mobilenet_v3_large": ("ssdlite320_mobilenet_v3_large",
                                      "ssdlite320_mobilenet_v3_large_coco-a79551df.pth"),
}
DEFAULT_TV_MODEL = "fasterrcnn_resnet50_fpn"
_TV_URL = "https://download.pytorch.org/models/"


def _hub_checkpoints() -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def _torchvision_weights_path(model: str, weights=None) -> Path | None:
    """The local weights file for ``model``: ``weights`` if given, else the hub-cache file if present."""
    if model not in TORCHVISION_MODELS:
        raise InputError(f"unknown torchvision detector {model!r} (known: {', '.join(TORCHVISION_MODELS)})")
    if weights:
        p = Path(os.path.expanduser(str(weights)))
        return p if p.is_file() else None
    p = _hub_checkpoints() / TORCHVISION_MODELS[model][1]
    return p if p.is_file() else None


@register_detector("torchvision")
class TorchvisionDetector:
    """COCO detector from torchvision (``model``: a TORCHVISION_MODELS key) with local weights only.

    ``weights``: path of the state-dict file (default: its standard name in
    ``torch.hub.get_dir()/checkpoints``). ``random_init=True`` builds untrained weights (tests only).
    ``min_score`` drops weak boxes; ``device`` ('cpu', 'cuda'); ``min_size`` overrides the resize of
    the R-CNN / RetinaNet input transform (default 800 px short side).
    """

    OPTIONS = {"model", "weights", "random_init", "min_score", "device", "min_size", "num_threads"}

    def __init__(self, model: str = DEFAULT_TV_MODEL, weights=None, random_init: bool = False,
                 min_score: float = 0.3, device: str = "cpu", min_size: int | None = None,
                 num_threads: int | None = None):
        import torch
        import torchvision.models.detection as tvd

        builder, fname = TORCHVISION_MODELS.get(model, (None, None))
        if builder is None:
            raise InputError(f"unknown torchvision detector {model!r} (known: {', '.join(TORCHVISION_MODELS)})")
        path = None
        if not random_init:
            path = _torchvision_weights_path(model, weights)
            if path is None:
                where = f"{weights} does not exist; " if weights else ""
                raise ModelError(
                    f"torchvision detector {model!r} needs its COCO weights file {fname}: {where}put it at "
                    f"{_hub_checkpoints() / fname} or pass detector_options weights: /path/to/{fname} "
                    f"(get it on a connected machine from {_TV_URL}{fname}; nothing is downloaded here)")
        kwargs = {"weights": None, "weights_backbone": None, "num_classes": 91}
        if min_size and not builder.startswith("ssdlite"):
            kwargs["min_size"] = int(min_size)
        net = getattr(tvd, builder)(**kwargs)
        if path is not None:
            try:
                state = torch.load(str(path), map_location="cpu", weights_only=True)
                if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
                    state = state["model"]
                net.load_state_dict(state)
            except Exception as e:  # unreadable file or wrong architecture
                raise ModelError(f"cannot load torchvision detector {model!r} weights from {path}: {e}") from None
        if num_threads:
            torch.set_num_threads(int(num_threads))
        self.name = f"torchvision:{model}"
        self.model, self.min_score, self.device = model, float(min_score), device
        self.net = net.eval().to(device)

    def detect(self, frame: YuvFrame) -> Detections:
        import torch

        rgb = yuv_to_bgr(frame)[:, :, ::-1]
        x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div_(255).to(self.device)
        with torch.inference_mode():
            out = self.net([x])[0]
        boxes = out["boxes"].cpu().numpy().astype(np.float64).reshape(-1, 4)
        labels = out["labels"].cpu().numpy().astype(np.int64)
        scores = out["scores"].cpu().numpy()
        cls = np.where((labels >= 0) & (labels < 91), COCO91_TO_80[np.clip(labels, 0, 90)], -1)
        keep = (cls >= 0) & (scores >= self.min_score)
        xywh = np.c_[boxes[:, :2], boxes[:, 2:] - boxes[:, :2]]
        return Detections(xywh[keep], scores[keep], cls[keep])


# -- detectron2 -----------------------------------------------------------------------------------
DETECTRON2_HINT = (
    "detectron2 is not on PyPI: install it from source with "
    "pip install 'git+https://github.com/facebookresearch/detectron2.git' (needs torch and a C++ "
    "compiler), then give detector_options config: a model-zoo config such as "
    "COCO-Detection/faster_rcnn_R_50_FPN_3x.yaml (or a .yaml path) and weights: a local file such as "
    "model_final_280758.pkl from "
    "https://dl.fbaipublicfiles.com/detectron2/COCO-Detection/faster_rcnn_R_50_FPN_3x/137849458/model_final_280758.pkl")


def _detectron2_importable() -> bool:
    import importlib.util

    return importlib.util.find_spec("detectron2") is not None


@register_detector("detectron2")
class Detectron2Detector:
    """A detectron2 COCO model: ``config`` (model-zoo name or .yaml path), ``weights`` (local file)."""

    OPTIONS = {"config", "weights", "min_score", "device"}

    def __init__(self, config: str | None = None, weights=None, min_score: float = 0.3, device: str = "cpu"):
        try:
            import detectron2  # noqa: F401
            from detectron2.config import get_cfg
            from detectron2.engine import DefaultPredictor
        except ImportError as e:
            raise ModelError(f"detector 'detectron2' unavailable ({e}). {DETECTRON2_HINT}") from None
        if not config or not weights or not os.path.isfile(str(weights)):
            raise ModelError(f"detector 'detectron2' needs config and an existing weights file "
                             f"(got config={config!r}, weights={weights!r}). {DETECTRON2_HINT}")
        cfg = get_cfg()
        if os.path.isfile(str(config)):
            cfg.merge_from_file(str(config))
        else:
            from detectron2 import model_zoo

            cfg.merge_from_file(model_zoo.get_config_file(str(config)))
        cfg.MODEL.WEIGHTS = str(weights)
        cfg.MODEL.DEVICE = device
        cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = float(min_score)
        cfg.MODEL.RETINANET.SCORE_THRESH_TEST = float(min_score)
        self.name = "detectron2"
        self.min_score = float(min_score)
        self.predictor = DefaultPredictor(cfg)

    def detect(self, frame: YuvFrame) -> Detections:
        inst = self.predictor(yuv_to_bgr(frame))["instances"].to("cpu")  # BGR in, contiguous COCO-80 ids out
        b = inst.pred_boxes.tensor.numpy().astype(np.float64).reshape(-1, 4)
        xywh = np.c_[b[:, :2], b[:, 2:] - b[:, :2]]
        scores = inst.scores.numpy()
        keep = scores >= self.min_score
        return Detections(xywh[keep], scores[keep], inst.pred_classes.numpy()[keep])
