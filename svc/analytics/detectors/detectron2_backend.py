"""``detectron2`` backend: only when ``import detectron2`` works, with a local config and weights
(detectron2 is not on PyPI)."""
from __future__ import annotations

import os

import numpy as np

from svc.analytics.detectors.core import Detections, register_detector
from svc.analytics.detectors.imaging import yuv_to_bgr
from svc.errors import ModelError
from svc.io.frames import YuvFrame

DETECTRON2_HINT = (
    "detectron2 is not on PyPI: install it from source with "
    "pip install 'git+https://github.com/facebookresearch/detectron2.git' (needs torch and a C++ "
    "compiler), then give detector_options config: a model-zoo config such as "
    "COCO-Detection/faster_rcnn_R_50_FPN_3x.yaml (or a .yaml path) and weights: a local file such as "
    "model_final_280758.pkl from "
    "https://dl.fbaipublicfiles.com/detectron2/COCO-Detection/faster_rcnn_R_50_FPN_3x/137849458/model_final_280758.pkl")


def detectron2_importable() -> bool:
    import importlib.util

    return importlib.util.find_spec("detectron2") is not None


@register_detector("detectron2", auto_rank=1)
class Detectron2Detector:
    """A detectron2 COCO model: ``config`` (model-zoo name or .yaml path), ``weights`` (local file)."""

    OPTIONS = {"config", "weights", "min_score", "device"}

    @staticmethod
    def available(options: dict) -> bool:
        """``auto`` takes it when detectron2 imports and the options name a config and an existing weights file."""
        return bool(options.get("config") and options.get("weights") and os.path.isfile(str(options["weights"]))
                    and detectron2_importable())

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
