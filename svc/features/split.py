"""Split inference of NanoDet-g: the edge runs the network up to a split point on the original frames,
the cloud runs the rest from the (decoded) features.

Split points (input 416x256, i.e. a 416x240 frame; elements per frame; all activations are LeakyReLU
0.1 outputs, so the clipping model of :mod:`svc.features.clipping` applies):

==========  ====================================  ===============  ==========================
name        tensor(s)                             elements         edge computes
==========  ====================================  ===============  ==========================
stem        (32, H/4, W/4) after stem + max pool  212,992          one 3x3 conv (~3% of MACs)
stage1      (64, H/4, W/4) after CSP stage 1      425,984          stem + stage 1
stage2      (128, H/8, W/8) after CSP stage 2     212,992          stem + stages 1-2
backbone    (128, H/8, W/8) (256, H/16, W/16)     372,736          the whole backbone
            (512, H/32, W/32)
==========  ====================================  ===============  ==========================

Beyond ``stage2`` the network branches (the neck takes three scales), so every later cut must send
several tensors; ``stage2`` is the deepest single-tensor cut.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from svc.errors import InputError

SPLITS = ("stem", "stage1", "stage2", "backbone")


@dataclass(frozen=True)
class SplitPoint:
    """Where the network is cut: ``name`` of :data:`SPLITS`."""

    name: str

    def __post_init__(self):
        if self.name not in SPLITS:
            raise InputError(f"unknown split point {self.name!r}; choose from {', '.join(SPLITS)}")

    def shapes(self, input_w: int, input_h: int) -> list[tuple[int, int, int]]:
        """(C, H, W) of each tensor sent for an ``input_w`` x ``input_h`` network input."""
        h4, w4 = input_h // 4, input_w // 4
        return {"stem": [(32, h4, w4)], "stage1": [(64, h4, w4)], "stage2": [(128, h4 // 2, w4 // 2)],
                "backbone": [(128, input_h // 8, input_w // 8), (256, input_h // 16, input_w // 16),
                             (512, input_h // 32, input_w // 32)]}[self.name]

    def elements(self, input_w: int, input_h: int) -> int:
        return int(sum(np.prod(s) for s in self.shapes(input_w, input_h)))


def run_edge(net, split: SplitPoint, x):
    """Tensors at ``split`` for the network input ``x`` (B, 3, H, W) torch float32 (list of tensors)."""
    bb = net.backbone
    h = bb.pool(bb.stem(x))
    if split.name == "stem":
        return [h]
    h = bb.stages[0](h)
    if split.name == "stage1":
        return [h]
    h = bb.stages[1](h)
    if split.name == "stage2":
        return [h]
    s2 = bb.stages[2](h)
    return [h, s2, bb.stages[3](s2)]


def run_cloud(net, split: SplitPoint, feats):
    """The head's scores (B, N, 80) and distances (B, N, 4) from the tensors at ``split``."""
    bb = net.backbone
    if split.name == "backbone":
        outs = list(feats)
    else:
        h = feats[0]
        if split.name == "stem":
            h = bb.stages[0](h)
        if split.name in ("stem", "stage1"):
            h = bb.stages[1](h)
        s2 = bb.stages[2](h)
        outs = [h, s2, bb.stages[3](s2)]
    return net.head(net.neck(outs))


class SplitDetector:
    """NanoDet-g cut at ``split``: :meth:`edge` turns frames into feature tensors, :meth:`cloud` turns
    (decoded) tensors into detections. Options as for the ``nanodet`` detector (scores, NMS, input size);
    inference runs in PyTorch float32 (``threads`` torch threads, None: torch's default)."""

    def __init__(self, split: str = "stage2", threads: int | None = None, **options):
        from svc.analytics.detectors.nanodet import NanoDetDetector

        self.split = SplitPoint(split)
        self.detector = NanoDetDetector(runtime="torch", num_threads=threads, **options)
        self.net = self.detector.net.eval()

    def edge(self, frames) -> tuple[list[list[np.ndarray]], list]:
        """(per frame: its tensors as float32 (C, H, W) arrays, per frame: its Letterbox)."""
        import torch

        prepared = [self.detector.prepare(f) for f in frames]
        with torch.inference_mode():
            outs = run_edge(self.net, self.split, torch.from_numpy(np.concatenate([x for x, _ in prepared])))
        return [[o[i].numpy() for o in outs] for i in range(len(frames))], [lb for _, lb in prepared]

    def cloud(self, feats: list[list[np.ndarray]], letterboxes, min_score: float | None = None) -> list:
        """Detections (frame pixels) of each frame from its tensors, scoring at least ``min_score``
        (default: the detector's threshold)."""
        import torch

        from svc.analytics.detectors.nanodet import decode

        d = self.detector
        with torch.inference_mode():
            batch = [torch.from_numpy(np.stack([f[k] for f in feats]).astype(np.float32))
                     for k in range(len(feats[0]))]
            scores, dists = run_cloud(self.net, self.split, batch)
        floor = d.min_score if min_score is None else float(min_score)
        return [decode(scores[i].numpy(), dists[i].numpy(), lb, floor, d.nms_iou, d.max_detections)
                for i, lb in enumerate(letterboxes)]
