"""Object detectors behind one interface: frame in, boxes / scores / COCO class ids out.

Backends (``make_detector(name, **options)``), one module each:

* ``nanodet`` (:mod:`.nanodet`), the offline default: NanoDet-g, 80 COCO classes; its weights ship
  in ``weights/`` (float16, SHA-256 checked at load; network in :mod:`.nanodet_net`, runtimes in
  :mod:`.nanodet_runtime`, weights file in :mod:`.nanodet_weights`).
* ``opencv`` (alias ``hog``, :mod:`.opencv_hog`): people only, from OpenCV's built-in models (HOG
  full body, Haar upper body, frontal and profile face), each mapped to a whole-person box and
  merged with class-agnostic NMS. Needs nothing beyond the opencv wheel.
* ``torchvision`` (:mod:`.torchvision_backend`): Faster R-CNN / RetinaNet / SSDlite (80 COCO classes)
  from a local weights file; never downloads.
* ``detectron2`` (:mod:`.detectron2_backend`): only when ``import detectron2`` works, with a local
  config and weights.
* ``auto``: torchvision when its weights file is configured (or in torch's hub cache), else
  detectron2 when importable and configured, else ``nanodet`` (``opencv`` only if NanoDet's weights
  file is missing from the install; :func:`.core.auto_backend`).

The package core: :mod:`.core` (``Detections``, the ``Detector`` protocol, the registry),
:mod:`.coco` (class tables), :mod:`.boxes` (box formats, NMS on ``torchvision.ops``),
:mod:`.imaging` (YUV -> BGR, letterboxing).

Boxes are float32 (N, 4) ``x, y, w, h`` in pixels of the input frame (top-left corner and size);
class ids are the contiguous 0-based COCO-80 ids of YOLO / SFU-HW-Tracks (0 = person, 2 = car).
"""
from __future__ import annotations

from svc.analytics.detectors.box_ops import batched_nms, clip_boxes, nms, xywh_to_xyxy, xyxy_to_xywh
from svc.analytics.detectors.coco import COCO80_TO_91, COCO91_TO_80, COCO_IDS, COCO_NAMES, class_ids_from_names
from svc.analytics.detectors.core import (Detections, Detector, auto_backend, available_detectors, filter_classes,
                                          make_detector, register_detector)
from svc.analytics.detectors.detectron2_backend import DETECTRON2_HINT, Detectron2Detector, detectron2_importable
from svc.analytics.detectors.imaging import Letterbox, yuv_to_bgr
from svc.analytics.detectors.nanodet import NanoDetDetector
from svc.analytics.detectors.opencv_hog import (FACE_TO_PERSON, OPENCV_SOURCES, SCORE_SQUASH, UPPER_TO_PERSON,
                                                OpenCvPersonDetector)
from svc.analytics.detectors.torchvision_backend import (DEFAULT_TV_MODEL, TORCHVISION_MODELS, TorchvisionDetector,
                                                         torchvision_weights_path)
from svc.errors import InputError, ModelError

_detectron2_importable = detectron2_importable  # the name the tests and older callers use

__all__ = [
    "COCO80_TO_91", "COCO91_TO_80", "COCO_IDS", "COCO_NAMES", "DEFAULT_TV_MODEL", "DETECTRON2_HINT",
    "FACE_TO_PERSON", "OPENCV_SOURCES", "SCORE_SQUASH", "TORCHVISION_MODELS", "UPPER_TO_PERSON", "Detections",
    "Detector", "Detectron2Detector", "InputError", "Letterbox", "ModelError", "NanoDetDetector",
    "OpenCvPersonDetector",
    "TorchvisionDetector", "auto_backend", "available_detectors", "batched_nms", "class_ids_from_names",
    "clip_boxes", "detectron2_importable", "filter_classes", "make_detector", "nms", "register_detector",
    "torchvision_weights_path", "xywh_to_xyxy", "xyxy_to_xywh", "yuv_to_bgr",
]
