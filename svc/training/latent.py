"""Training of the layered latent codec on the CPU (``svc-train latent``): resumable, plain-tensor checkpoints.

Stages (each normally resumes the previous one's checkpoint):

* ``recon``: rate of every latent + lambda * 255**2 * MSE(RGB); the base and enhancement quality
  codes (hence gains and lambda) are drawn per picture, so one model covers all rates; the latent
  transform learns NanoDet's stage2 tensor from the (detached) decoded base latent;
* ``task``: as ``recon`` plus ``--task-weight`` * MSE(latent transform(y1_hat), NanoDet stage2 of the
  original crop) back-propagated into the base layer (whose rate is in the loss);
* ``vbr``: post-training of the variable-rate parts (reconstruction offsets, hyper-latent steps,
  factorised priors) and the latent transform, the rest frozen.

Checkpoints (every ``--every`` steps and at the end) are ``torch.save`` of a flat dict of tensors
(``model.*``, ``opt.*``) next to a JSON file of metadata; ``--export CKPT`` writes the codec's
weights file (float16 transforms, integer hyper-networks and entropy tables, metadata as JSON).
"""
from __future__ import annotations

import argparse
import json
import shlex
import time
from pathlib import Path

import numpy as np

FEAT_POWER = 0.017  # variance of NanoDet-g stage2 values on training crops: the task loss is normalised by it
LAMBDAS = (0.0018, 0.0035, 0.0067, 0.013, 0.025, 0.0483)  # per gain anchor (CompressAI's VBR set)


HELP = "the learned latent codec (reconstruction, task and VBR stages, resumable)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``svc-train latent`` (``--into-package`` and ``--version`` come from svc-train)."""
    p.add_argument("--out", required=True, help="run directory (checkpoints, log.jsonl) or, with --export, the weights file")
    p.add_argument("--steps", type=int, default=20000, help="train until this global step")
    p.add_argument("--stage", choices=("recon", "task", "vbr"), default="recon")
    start = p.add_mutually_exclusive_group()
    start.add_argument("--resume", metavar="CKPT", help="checkpoint (.pt) to continue from")
    start.add_argument("--init", metavar="WEIGHTS",
                       help="warm start from a codec weights file or a shipped model's name (e.g. latent-v1): "
                            "its networks and step count, fresh optimiser state and factorised priors (run a "
                            "few hundred --stage vbr steps first to refit the priors)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=128, help="crop side (multiple of 64)")
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--every", type=int, default=500, help="checkpoint every K steps")
    p.add_argument("--task-weight", type=float, default=1.0)
    p.add_argument("--head-weight", type=float, default=0.0,
                   help="task stage: weight of the detector-aware loss, NanoDet's back half run on the predicted "
                        "and on the true stage2 tensor (class scores, and box distances where an object is)")
    p.add_argument("--no-mate", action="store_true", help="scikit-image photographs only")
    p.add_argument("--clips", nargs="+", default=[], metavar="NAME:FIRST-LAST",
                   help="add every 4th frame of these video clips (bikes, bigbuckbunny: sources already seen in "
                        "training; evaluation sources are refused), e.g. bikes:0-191 bigbuckbunny:0-95")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--width", type=int, default=64, help="N of a new model")
    p.add_argument("--export", metavar="CKPT", help="write the codec weights file of CKPT to --out and exit")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    rates = p.add_mutually_exclusive_group()
    rates.add_argument("--fixed-quality", type=float, metavar="Q",
                       help="single-rate training: both layers at quality Q in [0, 1] on every picture "
                            "(the comparison models of the VBR design); default: a random quality per layer")
    rates.add_argument("--tie-qualities", action="store_true",
                       help="one random quality for both layers per picture (the non-scalable twin: the base "
                            "group is never decoded alone, its entropy model is a two-slice channel context)")


# --------------------------------------------------------------------------- training
def trainable(net, stage: str):
    vbr_parts = ("offset1", "offset2", "log_zstep1", "log_zstep2")
    main, aux = [], []
    for name, p in net.named_parameters():
        if name.endswith("quantiles"):
            aux.append(p)
        elif stage == "vbr":
            if name in vbr_parts or name.startswith(("latent_tf.", "eb.", "eb2.")):
                main.append(p)
        elif name not in vbr_parts:
            main.append(p)
    return main, aux


def lambda_of(qcode):
    import torch

    from svc.latent.model import N_ANCHORS, QCODES, lerp_table

    table = torch.log(torch.tensor(LAMBDAS, dtype=torch.float64))
    return torch.exp(lerp_table(table, qcode.double() / (QCODES - 1) * (N_ANCHORS - 1))).float()


def quality_codes(batch: int, gen, fixed: float | None = None, tied: bool = False):
    """Base and enhancement quality codes (two (batch,) float tensors in [0, 255]) for one training
    step: independent uniform draws, one draw for both (``tied``), or the code of ``fixed`` in [0, 1]."""
    import torch

    if fixed is not None:
        q = torch.full((batch,), float(round(fixed * 255.0)))
        return q, q.clone()
    q1 = torch.rand(batch, generator=gen) * 255.0
    q2 = q1.clone() if tied else torch.rand(batch, generator=gen) * 255.0
    return q1, q2


def head_loss(nd, pred, target):
    """Detector-aware distance of a predicted stage2 tensor from the true one: NanoDet's back half
    (stages 3-4, neck, head) on both; squared class-score differences summed over the 80 classes,
    plus box-distance differences (in strides) weighted by the true top class score; mean per
    position (a scalar)."""
    import torch

    from svc.features.split import SplitPoint, run_cloud

    with torch.no_grad():
        t_scores, t_dists = run_cloud(nd, SplitPoint("stage2"), [target])
    p_scores, p_dists = run_cloud(nd, SplitPoint("stage2"), [pred])
    n = t_scores.shape[1]
    h, w = target.shape[2] * 8, target.shape[3] * 8
    strides = torch.cat([torch.full(((h // s) * (w // s),), float(s)) for s in (8, 16, 32)])[:n].view(1, n, 1)
    cls = ((p_scores - t_scores) ** 2).sum(-1)
    box = t_scores.max(-1).values * ((p_dists - t_dists).abs() / strides).sum(-1)
    return (cls + box).mean()


def train_step(net, nd, x, stage: str, task_weight: float, gen, fixed: float | None = None, tied: bool = False,
               head_weight: float = 0.0):
    import torch
    import torch.nn.functional as F

    from svc.latent.model import nanodet_stage2

    B = x.shape[0]
    q1, q2 = quality_codes(B, gen, fixed, tied)
    out = net(x, q1, q2)
    npix = x.shape[2] * x.shape[3]
    bits = {k: (-torch.log2(v)).reshape(B, -1).sum(1) / npix for k, v in out["lik"].items()}
    rate = sum(bits.values())
    mse = F.mse_loss(out["x_hat"], x, reduction="none").reshape(B, -1).mean(1)
    target = nanodet_stage2(nd, x)
    y1 = out["y1_hat"] if stage == "task" else out["y1_hat"].detach()
    pred = net.latent_tf(y1)
    feat_mse = F.mse_loss(pred, target)
    loss = (rate + lambda_of(q2) * 255.0 ** 2 * mse).mean() + task_weight * feat_mse / FEAT_POWER
    head = head_loss(nd, pred, target) if head_weight > 0 else None
    if head is not None:
        loss = loss + head_weight * head
    with torch.no_grad():
        psnr = (10 * torch.log10(1.0 / mse.clamp(min=1e-10))).mean()
        stats = {"loss": float(loss), "bpp": float(rate.mean()), "bpp_base": float((bits["z"] + bits["y1"]).mean()),
                 "psnr": float(psnr), "feat_mse": float(feat_mse)}
        if head is not None:
            stats["head"] = float(head)
    return loss, stats


def train(args, argv) -> int:
    import torch

    from svc.analytics.detectors.nanodet_weights import load_nanodet
    from svc.datasets.photos import CropSampler, load_clip_frames, load_pictures
    from svc.datasets.registry import check_training
    from svc.latent.checkpoint import load_checkpoint, net_from_checkpoint, save_checkpoint
    from svc.latent.model import LatentNet

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.crop % 64:
        raise SystemExit("--crop must be a multiple of 64")
    if args.fixed_quality is not None and not 0.0 <= args.fixed_quality <= 1.0:
        raise SystemExit(f"--fixed-quality {args.fixed_quality}: expected a value in [0, 1]")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pics, sources = load_pictures(use_mate=not args.no_mate)
    if args.clips:
        frames, clip_sources = load_clip_frames(args.clips)
        pics, sources = pics + frames, sources + clip_sources
    check_training(sources)
    step, meta_prev = 0, {}
    if args.resume:
        tensors, meta_prev = load_checkpoint(args.resume)
        net = net_from_checkpoint(tensors, meta_prev)
        step = int(meta_prev.get("step", 0))
    elif args.init:
        net, meta_prev = warm_start(args.init)
        tensors, step = {}, int(meta_prev.get("step", 0))
    else:
        tensors, net = {}, LatentNet(N=args.width)
    net.train()
    main, aux = trainable(net, args.stage)
    opt = torch.optim.Adam(main, lr=args.lr)
    aux_opt = torch.optim.Adam(aux, lr=1e-3)
    same_stage = meta_prev.get("stage") == args.stage
    if args.resume and same_stage:
        # Adam moments of the same stage's parameters: restore them (by name)
        names = {id(p): n for n, p in net.named_parameters()}
        for p in main:
            pre = f"opt.{names[id(p)]}."
            st = {k[len(pre):]: v for k, v in tensors.items() if k.startswith(pre)}
            if set(st) >= {"step", "exp_avg", "exp_avg_sq"} and st["exp_avg"].shape == p.shape:
                opt.state[p] = st
    nd = load_nanodet().eval()
    for p in nd.parameters():
        p.requires_grad_(False)
    sampler = CropSampler(pics, args.crop, seed=args.seed + step)
    gen = torch.Generator().manual_seed(args.seed * 7919 + step)
    history = meta_prev.get("history", [])
    stages = meta_prev.get("stages", [])
    if not stages or stages[-1]["stage"] != args.stage:
        stages.append({"stage": args.stage, "from_step": step})
    meta = {"format": "svc-latent-checkpoint-1", "config": net.config, "stage": args.stage, "stages": stages,
            "train_sources": sorted(set(meta_prev.get("train_sources", [])) | set(sources)),
            "command": meta_prev.get("command", []) + [shlex.join(["svc-train", "latent"] + list(argv))],
            "lambdas": list(LAMBDAS),
            "rates": ("fixed %.3f" % args.fixed_quality if args.fixed_quality is not None
                      else "tied" if args.tie_qualities else "independent")}
    bar = None
    if not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=args.steps, initial=step, desc=f"latent {args.stage}", dynamic_ncols=True)
    log = (out / "log.jsonl").open("a")
    acc, t0 = [], time.time()
    while step < args.steps:
        x = torch.from_numpy(sampler.batch(args.batch))
        loss, stats = train_step(net, nd, x, args.stage, args.task_weight, gen, args.fixed_quality, args.tie_qualities,
                                 args.head_weight if args.stage == "task" else 0.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(main, 1.0)
        opt.step()
        aux_loss = net.eb.loss() + net.eb2.loss()
        aux_opt.zero_grad(set_to_none=True)
        aux_loss.backward()
        aux_opt.step()
        step += 1
        acc.append(stats)
        if bar is not None:
            bar.update(1)
            if step % 10 == 0:
                bar.set_postfix(loss=f"{stats['loss']:.3f}", bpp=f"{stats['bpp']:.3f}", psnr=f"{stats['psnr']:.1f}")
        if step % 50 == 0 or step == args.steps:
            mean = {k: float(np.mean([a[k] for a in acc])) for k in acc[0]}
            rec = {"step": step, "stage": args.stage, "time": time.time(), "it_s": len(acc) / (time.time() - t0), **mean}
            log.write(json.dumps(rec) + "\n")
            log.flush()
            history.append(rec)
            acc, t0 = [], time.time()
        if step % args.every == 0 or step == args.steps:
            meta.update(step=step, history=history[-400:])
            save_checkpoint(out / f"step_{step:07d}.pt", net, opt, meta)
            save_checkpoint(out / "last.pt", net, opt, meta)
    if bar is not None:
        bar.close()
    log.close()
    return 0


def warm_start(name_or_path):
    """(network, metadata) of a shipped model's name or a weights file, for ``--init`` (read as
    :func:`svc.latent.codec.read_weights` reads it: a shipped model's hash checked)."""
    from svc.errors import ModelError
    from svc.latent.checkpoint import net_from_weights
    from svc.latent.codec import read_weights

    _, _, digest, tensors = read_weights(name_or_path)
    try:
        net, meta = net_from_weights(tensors)
    except (KeyError, ValueError, RuntimeError) as exc:
        raise ModelError(f"--init {name_or_path}: not a latent codec weights file ({exc})") from None
    meta.setdefault("stages", []).append({"stage": "init", "from_step": int(meta.get("step", 0)),
                                          "weights_sha256": digest})
    return net, meta


def export(ckpt, dest) -> int:
    from svc.latent.checkpoint import load_checkpoint, net_from_checkpoint
    from svc.latent.codec import export_weights

    tensors, meta = load_checkpoint(ckpt)
    net = net_from_checkpoint(tensors, meta)
    digest = export_weights(net, meta, Path(dest))
    print(f"{dest}: sha256 {digest}")
    return 0


def run(args, argv) -> int:
    """``svc-train latent`` with parsed ``args`` (``argv``: its own arguments, stored in the checkpoints)."""
    if args.export:
        from svc.shipped import check_output
        check_output(args.out, args.into_package)   # the shipped weights are replaced only on purpose
        return export(args.export, args.out)
    return train(args, argv)
