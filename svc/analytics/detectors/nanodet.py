"""``nanodet`` backend: NanoDet-g (80 COCO classes) with the weights shipped in the repository.

A frame (4:2:0 YUV, any size) becomes BGR, is letterboxed into the network input (long side
``input_size`` px, both sides rounded up to multiples of 32, aspect ratio kept, black border: a
416x240 frame runs at 416x256, 176x144 at 416x352, 832x480 at 416x256), runs through
:class:`~.nanodet_net.NanoDet` on the chosen runtime (:mod:`.nanodet_runtime`), and is decoded:
every (cell, class) pair scoring at least ``min_score`` gives a box (cell centre minus / plus the
four predicted distances), class-aware NMS at IoU ``nms_iou`` keeps the best ``max_detections``, and
the boxes go back to frame pixels.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from svc.analytics.detectors.box_ops import batched_nms, xyxy_to_xywh
from svc.analytics.detectors.core import Detections, register_detector
from svc.analytics.detectors.imaging import Letterbox, yuv_to_bgr
from svc.analytics.detectors.nanodet_weights import WEIGHTS_SHA256
from svc.errors import InputError
from svc.io.frames import YuvFrame

DEFAULT_MIN_SCORE = 0.35
DEFAULT_RUNTIME = "auto"  # onnxruntime where installed, else torch (see nanodet_runtime)


@lru_cache(maxsize=16)
def _centres(input_w: int, input_h: int) -> np.ndarray:
    from svc.analytics.detectors.nanodet_net import cell_centres

    return cell_centres(input_w, input_h)


def decode(scores: np.ndarray, distances: np.ndarray, letterbox: Letterbox, min_score: float = DEFAULT_MIN_SCORE,
           nms_iou: float = 0.5, max_detections: int = 100) -> Detections:
    """Detections in frame pixels from one image's network outputs: ``scores`` (N, 80) in [0, 1] and
    ``distances`` (N, 4) left, top, right, bottom in input pixels, N cells of the letterboxed input."""
    centres = _centres(letterbox.input_w, letterbox.input_h)
    if len(centres) != len(scores):
        raise ValueError(f"{len(scores)} cells for a {letterbox.input_w}x{letterbox.input_h} input "
                         f"({len(centres)} expected)")
    cells, classes = np.nonzero(scores >= min_score)
    if len(cells) == 0:
        return Detections.empty()
    conf = scores[cells, classes]
    c, d = centres[cells], distances[cells]
    boxes = np.concatenate([c - d[:, :2], c + d[:, 2:]], 1)
    keep = batched_nms(boxes, conf, classes, nms_iou)[:max_detections]
    xywh = xyxy_to_xywh(letterbox.to_frame(boxes[keep]))
    ok = (xywh[:, 2] > 0) & (xywh[:, 3] > 0)
    return Detections(xywh[ok], conf[keep][ok], classes[keep][ok])


@register_detector("nanodet", auto_rank=2)
class NanoDetDetector:
    """NanoDet-g, 80 COCO classes, offline (weights in ``svc/analytics/detectors/weights``).

    Options: ``min_score`` (0.35; good hits score 0.4-0.85), ``nms_iou`` (0.5, class-aware),
    ``max_detections`` (100 per frame), ``input_size`` (416: the input's long side in pixels, a
    multiple of 32), ``runtime`` (``auto``: ``onnxruntime`` where installed, else ``torch``; or
    ``torch``, ``onnxruntime``, ``opencv``, see :mod:`.nanodet_runtime`; the resolved name is in
    ``.runtime``), ``num_threads`` (runtime threads; None: the runtime's default), ``channels_last``
    (torch runtime only, default on), ``weights`` (another converted file) with ``sha256``
    (its expected hash; default the shipped file's, None or '' skips the check).
    """

    OPTIONS = {"min_score", "nms_iou", "max_detections", "input_size", "runtime", "num_threads", "channels_last",
               "weights", "sha256"}

    @staticmethod
    def available(options: dict) -> bool:
        """``auto``'s offline default whenever its shipped weights are installed."""
        from svc.analytics.detectors.nanodet_weights import WEIGHTS_PATH
        return WEIGHTS_PATH.is_file()

    def __init__(self, min_score: float = DEFAULT_MIN_SCORE, nms_iou: float = 0.5, max_detections: int = 100,
                 input_size: int = 416, runtime: str = DEFAULT_RUNTIME, num_threads: int | None = None,
                 channels_last: bool = True, weights=None, sha256: str | None = WEIGHTS_SHA256):
        from svc.analytics.detectors.nanodet_runtime import make_runner, resolve_runtime
        from svc.analytics.detectors.nanodet_weights import load_nanodet

        input_size = int(input_size)
        if input_size < 32 or input_size % 32:
            raise InputError(f"nanodet input_size {input_size} must be a positive multiple of 32")
        runtime = resolve_runtime(runtime)
        if not 0.0 <= float(min_score) <= 1.0 or not 0.0 < float(nms_iou) <= 1.0:
            raise InputError(f"nanodet: min_score {min_score} must lie in [0, 1] and nms_iou {nms_iou} in (0, 1]")
        self.name = "nanodet"
        self.min_score, self.nms_iou, self.max_detections = float(min_score), float(nms_iou), int(max_detections)
        self.input_size, self.runtime = input_size, runtime
        self.net = load_nanodet(weights, sha256 or None)
        self.runner = make_runner(runtime, self.net, num_threads, bool(channels_last))

    def letterbox(self, width: int, height: int) -> Letterbox:
        """The input geometry for a ``width`` x ``height`` frame."""
        return Letterbox.fit(width, height, self.input_size)

    def prepare(self, frame: YuvFrame) -> tuple[np.ndarray, Letterbox]:
        """(x (1, 3, H, W) float32 network input, its Letterbox) of one frame."""
        from svc.analytics.detectors.nanodet_net import normalise_bgr

        h, w = frame.y.shape
        lb = self.letterbox(w, h)
        return normalise_bgr(lb.apply(yuv_to_bgr(frame))), lb

    def detect(self, frame: YuvFrame) -> Detections:
        return self.detect_batch([frame])[0]

    def detect_batch(self, frames) -> list[Detections]:
        """Detections of each frame; frames of one size run as one batch through the network."""
        frames = list(frames)
        out: list[Detections | None] = [None] * len(frames)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, f in enumerate(frames):
            groups.setdefault(f.y.shape, []).append(i)
        for idx in groups.values():
            prepared = [self.prepare(frames[i]) for i in idx]
            scores, dists = self.runner(np.concatenate([x for x, _ in prepared]))
            for k, (i, (_, lb)) in enumerate(zip(idx, prepared)):
                out[i] = decode(scores[k], dists[k], lb, self.min_score, self.nms_iou, self.max_detections)
        return out
