"""COCO class tables: the 80 contiguous class names and the mapping to the original 1..90 category ids.

Class ids in svc are the contiguous 0-based COCO-80 ids of YOLO / NanoDet / SFU-HW-Tracks-v1
(0 = person, 2 = car, 17 = horse).
"""
from __future__ import annotations

import numpy as np

from svc.errors import InputError

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
