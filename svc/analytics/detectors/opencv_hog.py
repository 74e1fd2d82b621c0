"""``opencv`` (alias ``hog``) backend: people only, from OpenCV's built-in models (HOG full body,
Haar upper body, frontal and profile face), each mapped to a whole-person box and merged with
class-agnostic NMS. Needs nothing beyond the opencv wheel (it carries the models)."""
from __future__ import annotations

import os
from typing import Iterable

import numpy as np

from svc.analytics.detectors.box_ops import clip_boxes, nms
from svc.analytics.detectors.core import Detections, register_detector
from svc.analytics.detectors.imaging import yuv_to_bgr
from svc.errors import InputError, ModelError
from svc.io.frames import YuvFrame

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


@register_detector("opencv", "hog", auto_rank=3)
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

    @staticmethod
    def available(options: dict) -> bool:
        """``auto``'s last resort: it needs nothing beyond the opencv wheel."""
        return True

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
            boxes = clip_boxes(boxes / k, w, h)
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
