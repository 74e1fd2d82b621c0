"""``torchvision`` backend: Faster R-CNN / RetinaNet / SSDlite (80 COCO classes) from a local
weights file; never downloads."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from svc.analytics.detectors.coco import COCO91_TO_80
from svc.analytics.detectors.core import Detections, register_detector
from svc.analytics.detectors.imaging import yuv_to_bgr
from svc.errors import InputError, ModelError
from svc.io.frames import YuvFrame

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


def torchvision_weights_path(model: str, weights=None) -> Path | None:
    """The local weights file for ``model``: ``weights`` if given, else the hub-cache file if present."""
    if model not in TORCHVISION_MODELS:
        raise InputError(f"unknown torchvision detector {model!r} (known: {', '.join(TORCHVISION_MODELS)})")
    if weights:
        p = Path(os.path.expanduser(str(weights)))
        return p if p.is_file() else None
    p = _hub_checkpoints() / TORCHVISION_MODELS[model][1]
    return p if p.is_file() else None


@register_detector("torchvision", auto_rank=0)
class TorchvisionDetector:
    """COCO detector from torchvision (``model``: a TORCHVISION_MODELS key) with local weights only.

    ``weights``: path of the state-dict file (default: its standard name in
    ``torch.hub.get_dir()/checkpoints``). ``random_init=True`` builds untrained weights (tests only).
    ``min_score`` drops weak boxes; ``device`` ('cpu', 'cuda'); ``min_size`` overrides the resize of
    the R-CNN / RetinaNet input transform (default 800 px short side).
    """

    OPTIONS = {"model", "weights", "random_init", "min_score", "device", "min_size", "num_threads"}

    @staticmethod
    def available(options: dict) -> bool:
        """``auto`` takes it when its weights file is given or in torch's hub cache (and no detectron2
        config is given)."""
        if options.get("config"):
            return False
        try:
            return torchvision_weights_path(options.get("model", DEFAULT_TV_MODEL), options.get("weights")) is not None
        except (InputError, ModelError):
            return False

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
            path = torchvision_weights_path(model, weights)
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
