"""NanoDet-g as a PyTorch module: CSP backbone, PAN neck, GFL head (80 COCO classes).

The network of RangiLyu/nanodet's ``nanodet-g`` model (Apache-2.0; legacy v0.x config: CustomCspNet
backbone, PAN, NanoDetHead with ``reg_max`` 10, LeakyReLU 0.1, batch norm fused into the
convolutions), written here so that its stages are named submodules: ``NanoDet.backbone``,
``.neck`` and ``.head``, and inference can stop after any of them (split computing). Weights come
from ``tools/convert_nanodet.py`` (see :mod:`.nanodet_weights`).

Shapes (B frames, input H x W pixels, both multiples of 32):

* input: (B, 3, H, W) float32, **BGR**, normalised ``(x - MEAN_BGR) / STD_BGR`` (x in 0..255);
* backbone: 3 maps at strides 8 / 16 / 32 with 128 / 256 / 512 channels;
* neck: 3 maps at strides 8 / 16 / 32 with 128 channels each;
* head: per level ``(scores (B, N_l, 80)`` after the sigmoid, ``regression (B, N_l, 44))`` with
  N_l = (H / s) * (W / s) cells in row-major order; the regression is 4 sides (left, top, right,
  bottom) x 11 bins; ``NanoDet.forward`` concatenates the levels (N = sum N_l) and turns each side's
  bins into a distance in input pixels: softmax over the bins, expected bin index times the stride,
  measured from the cell centre ``((i + 0.5) * stride, (j + 0.5) * stride)`` (:func:`cell_centres`).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

MEAN_BGR = (103.53, 116.28, 123.675)
STD_BGR = (57.375, 57.12, 58.395)
NUM_CLASSES = 80
REG_MAX = 10  # distance bins 0..REG_MAX per box side
STRIDES = (8, 16, 32)
LEAKY_SLOPE = 0.1


class ConvAct(nn.Module):
    """k x k convolution (zero padding k // 2, bias: batch norm folded in) then LeakyReLU(0.1)."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=True)
        self.act = nn.LeakyReLU(LEAKY_SLOPE, inplace=True)

    def forward(self, x):
        return self.act(self.conv(x))


class TinyResBlock(nn.Module):
    """c channels in, c out: ``x = in_conv(x)`` (c -> c/2), out = concat(mid_conv(x), x)."""

    def __init__(self, channels: int):
        super().__init__()
        self.in_conv = ConvAct(channels, channels // 2)
        self.mid_conv = ConvAct(channels // 2, channels // 2)

    def forward(self, x):
        x = self.in_conv(x)
        return torch.cat((self.mid_conv(x), x), 1)


class CspBlock(nn.Module):
    """c channels in, 2c out, spatial stride ``stride``: ``x = in_conv(x)`` then
    concat(res_out_conv(res_blocks(x)), x)."""

    def __init__(self, channels: int, num_res: int, stride: int):
        super().__init__()
        self.in_conv = ConvAct(channels, channels, 3, stride)
        self.res_blocks = nn.Sequential(*[TinyResBlock(channels) for _ in range(num_res)])
        self.res_out_conv = ConvAct(channels, channels)

    def forward(self, x):
        x = self.in_conv(x)
        return torch.cat((self.res_out_conv(self.res_blocks(x)), x), 1)


class CspBackbone(nn.Module):
    """(B, 3, H, W) -> [(B, 128, H/8, W/8), (B, 256, H/16, W/16), (B, 512, H/32, W/32)].

    Stem: 3x3 stride-2 conv to 32 channels and a 3x3 stride-2 max pool (stride 4), then CSP stages
    (channels in, residual blocks, stride): (32, 1, 1), (64, 2, 2), (128, 2, 2), (256, 3, 2)."""

    OUT_CHANNELS = (128, 256, 512)

    def __init__(self):
        super().__init__()
        self.stem = ConvAct(3, 32, 3, 2)
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.stages = nn.ModuleList([CspBlock(32, 1, 1), CspBlock(64, 2, 2), CspBlock(128, 2, 2), CspBlock(256, 3, 2)])

    def forward(self, x):
        x = self.pool(self.stem(x))
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i >= 1:
                outs.append(x)
        return outs


class Pan(nn.Module):
    """Path aggregation neck: 1x1 lateral convs to ``channels``, a top-down pass (each level plus the
    bilinearly upsampled coarser one), then a bottom-up pass (each level plus the bilinearly
    downsampled finer one). Three maps in, three (B, channels, H/s, W/s) maps out."""

    def __init__(self, in_channels=CspBackbone.OUT_CHANNELS, channels: int = 128):
        super().__init__()
        self.lateral_convs = nn.ModuleList([nn.Conv2d(c, channels, 1) for c in in_channels])

    def forward(self, feats):
        x = [conv(f) for conv, f in zip(self.lateral_convs, feats)]
        for i in range(len(x) - 1, 0, -1):
            x[i - 1] = x[i - 1] + F.interpolate(x[i], size=x[i - 1].shape[-2:], mode="bilinear", align_corners=False)
        for i in range(len(x) - 1):
            x[i + 1] = x[i + 1] + F.interpolate(x[i], size=x[i + 1].shape[-2:], mode="bilinear", align_corners=False)
        return x


class GflHead(nn.Module):
    """Per level (own weights): a 3x3 ConvAct and a 1x1 conv to 80 class logits + 4 x 11 bins.

    :meth:`forward_levels` gives the raw per-level outputs (the TF.js graph's six outputs);
    :meth:`forward` the concatenated scores (B, N, 80) and distances (B, N, 4) in input pixels."""

    def __init__(self, channels: int = 128, num_classes: int = NUM_CLASSES, reg_max: int = REG_MAX,
                 strides=STRIDES):
        super().__init__()
        self.num_classes, self.reg_max, self.strides = num_classes, reg_max, tuple(strides)
        self.cls_convs = nn.ModuleList([ConvAct(channels, channels) for _ in self.strides])
        self.gfl_cls = nn.ModuleList([nn.Conv2d(channels, num_classes + 4 * (reg_max + 1), 1) for _ in self.strides])
        self.register_buffer("bins", torch.arange(reg_max + 1, dtype=torch.float32), persistent=False)

    def forward_levels(self, feats):
        """[(scores (B, N_l, 80) in [0, 1], regression (B, N_l, 44) logits)] for strides 8, 16, 32."""
        out = []
        for conv, cls, f in zip(self.cls_convs, self.gfl_cls, feats):
            y = cls(conv(f))
            b, c, h, w = y.shape
            y = y.reshape(b, c, h * w).transpose(1, 2)  # (B, N_l, 124)
            out.append((torch.sigmoid(y[..., :self.num_classes]), y[..., self.num_classes:]))
        return out

    def forward(self, feats):
        scores, dists = [], []
        for (s, reg), stride in zip(self.forward_levels(feats), self.strides):
            b, n, _ = reg.shape
            prob = reg.reshape(b, n, 4, self.reg_max + 1).softmax(-1)
            dists.append((prob * self.bins).sum(-1) * stride)
            scores.append(s)
        return torch.cat(scores, 1), torch.cat(dists, 1)


class NanoDet(nn.Module):
    """NanoDet-g: (B, 3, H, W) normalised BGR -> scores (B, N, 80), distances (B, N, 4) (left, top,
    right, bottom of the box from its cell centre, input pixels); H, W multiples of 32."""

    def __init__(self):
        super().__init__()
        self.backbone = CspBackbone()
        self.neck = Pan()
        self.head = GflHead()

    def forward(self, x):
        return self.head(self.neck(self.backbone(x)))

    def forward_levels(self, x):
        """The head's raw per-level outputs, see :meth:`GflHead.forward_levels`."""
        return self.head.forward_levels(self.neck(self.backbone(x)))


def cell_centres(input_w: int, input_h: int, strides=STRIDES) -> np.ndarray:
    """(N, 2) float32 x, y centres in input pixels of every head cell, levels in ``strides`` order,
    row-major within a level (the order of the head's N axis)."""
    out = []
    for s in strides:
        ys, xs = np.mgrid[0:input_h // s, 0:input_w // s]
        out.append(np.stack([(xs.ravel() + 0.5) * s, (ys.ravel() + 0.5) * s], 1))
    return np.concatenate(out).astype(np.float32)


def normalise_bgr(bgr: np.ndarray) -> np.ndarray:
    """(B, H, W, 3) or (H, W, 3) uint8 BGR -> (B, 3, H, W) float32 network input ``(x - mean) / std``.

    OpenCV's ``blobFromImages`` makes the NCHW float copy and the normalisation runs in place on it:
    ~0.7 ms at 416x256 against ~3.4 ms for the same arithmetic on the NHWC array and a transpose."""
    import cv2

    a = np.asarray(bgr)
    blob = cv2.dnn.blobFromImages(list(a) if a.ndim == 4 else [a])
    blob -= np.asarray(MEAN_BGR, np.float32).reshape(1, 3, 1, 1)
    blob *= (1.0 / np.asarray(STD_BGR, np.float32)).reshape(1, 3, 1, 1)
    return blob
