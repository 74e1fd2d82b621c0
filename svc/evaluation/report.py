"""Results of a tracking evaluation: CSV/JSON, a summary table, MOTA-vs-rate plots, BD-rates."""
from __future__ import annotations

import csv
import io
import math
import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from svc.evaluation.rows import EvaluationRow
from svc.io import jsontext

COLUMNS = list(EvaluationRow.COLUMNS)


#: Columns of ``results_per_class.csv``: one row per point and scored COCO class.
CLASS_COLUMNS = ["sequence", "class", "configuration", "qp", "object_class", "tracked", "MOTA", "IDF1", "HOTA",
                 "mAP50", "IDs", "FP", "FN", "num_objects"]


def class_rows(rows: list[EvaluationRow]) -> list[dict]:
    """One dict per (point, scored class) with :data:`CLASS_COLUMNS`."""
    out = []
    for r in rows:
        for name, m in (r.per_class or {}).items():
            out.append(dict(m, sequence=r.sequence, configuration=r.configuration, object_class=name,
                            qp="" if r.qp is None else r.qp, **{"class": r.ctc_class}))
    return out


def write_csv(path, rows: list[dict], columns=None) -> Path:
    """``rows`` as a CSV file at ``path``, written whole or not at all; ``columns``: the header (default:
    every key of the rows, in the order first seen); keys beyond ``columns`` are left out."""
    if columns is None:
        columns = list(dict.fromkeys(k for r in rows for k in r))
    text = io.StringIO()
    w = csv.DictWriter(text, fieldnames=columns, extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    path = Path(path)
    _write_atomic(path, text.getvalue())
    return path


def write_results(rows: list[EvaluationRow], out_dir):
    """``results.csv`` (the :data:`COLUMNS`, scored classes pooled), ``results_per_class.csv``
    (:data:`CLASS_COLUMNS`) and ``results.json`` (every field) in ``out_dir``; returns the first and last path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dicts = [r.to_dict() for r in rows]
    for name, columns, items in (("results.csv", COLUMNS, dicts), ("results_per_class.csv", CLASS_COLUMNS,
                                                                    class_rows(rows))):
        write_csv(out / name, items, columns)
    _write_atomic(out / "results.json", jsontext.dumps(dicts, indent=1))   # null, never NaN
    return out / "results.csv", out / "results.json"


def _write_atomic(path: Path, text: str):
    """``path`` appears whole or not at all (written beside it, then renamed)."""
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(text)
    os.replace(tmp, path)


def _mean(vals):
    vals = [float(v) for v in vals if v not in ("", None) and not math.isnan(float(v))]
    return float(np.mean(vals)) if vals else float("nan")


def summary(rows):
    """{(group, configuration, qp): averages} for each CTC class and 'all'."""
    groups = defaultdict(list)
    for r in rows:
        for g in (r.ctc_class, "all"):
            groups[(g, r.configuration, "" if r.qp is None else r.qp)].append(r)
    out = {}
    for key, rs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], str(kv[0][2]))):
        out[key] = {k: _mean(r.value(k) for r in rs) for k in ("base_kbps", "full_kbps", "MOTA", "IDF1", "HOTA", "mAP50",
                                                        "psnr_y_base", "seconds")}
        out[key]["n"] = len(rs)
    return out


def bd_rate_on_fronts(anchor_rows, test_rows, rate_key: str, metric: str) -> tuple[float, str]:
    """BD-rate (%) of ``test_rows`` vs ``anchor_rows`` (result rows with ``qp``) on ``metric`` against
    ``rate_key``, each curve first reduced to its Pareto front (:func:`svc.metrics.bdrate.pareto_front`):
    task metrics are noisy, and a point that costs more than another for no better score is dropped.
    Returns the value and the dropped QPs as ``"plain QP 42; roi QP 38"`` ('' when none); raises
    ValueError (no points, too few, no overlap)."""
    from svc.metrics.bdrate import bd_rate, pareto_front

    curves, dropped = [], []
    for name, pts in (("plain", anchor_rows), ("roi", test_rows)):
        if not pts:
            raise ValueError(f"no {name} points")
        front = [pts[i] for i in pareto_front([r.value(rate_key) for r in pts], [r.value(metric) for r in pts])]
        gone = sorted({r.qp for r in pts} - {r.qp for r in front})
        if gone:
            dropped.append(f"{name} QP {','.join(str(q) for q in gone)}")
        curves.append(([r.value(rate_key) for r in front], [r.value(metric) for r in front]))
    return bd_rate(*curves[0], *curves[1]), "; ".join(dropped)


def bd_rates(rows, metric: str):
    """Per-sequence BD-rate (%) of ROI vs plain base layers on ``metric`` (kbps axis: base kbps), on
    the Pareto fronts (:func:`bd_rate_on_fronts`). Values are floats, or ``(float, note)`` naming the
    QPs dropped, or an ``"n/a (reason)"`` string."""
    by_seq = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r.configuration in ("roi", "plain"):
            by_seq[(r.sequence, r.ctc_class)][r.configuration].append(r)
    out = {}
    for (seq, cls), cfgs in by_seq.items():
        try:
            value, dropped = bd_rate_on_fronts(cfgs["plain"], cfgs["roi"], "base_kbps", metric)
            out[(seq, cls)] = (value, "off the Pareto front: " + dropped) if dropped else value
        except ValueError as e:
            out[(seq, cls)] = f"n/a ({e})"
    return out


def class_summary(rows) -> dict:
    """{(object class, configuration, qp): means over the points (sequences) that score the class} of
    MOTA, IDF1, HOTA, mAP50, with ``n`` (points) and ``tracked`` (False if any point did not track it)."""
    groups = defaultdict(list)
    for d in class_rows(rows):
        groups[(d["object_class"], d["configuration"], d["qp"])].append(d)
    out = {}
    for key, ds in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], str(kv[0][2]))):
        out[key] = {k: _mean(d[k] for d in ds) for k in ("MOTA", "IDF1", "HOTA", "mAP50")}
        out[key].update(n=len(ds), tracked=all(d["tracked"] for d in ds))
    return out


def format_class_table(rows) -> str:
    """Per-class means (:func:`class_summary`) as text; classes outside analytics.classes are marked."""
    s = class_summary(rows)
    if not s:
        return ""
    lines = [f"{'object class':>14} {'config':>12} {'qp':>4} {'n':>3} {'MOTA':>7} {'IDF1':>7} {'HOTA':>7} {'mAP50':>7}"]
    for (name, c, qp), v in s.items():
        lines.append(f"{name + ('' if v['tracked'] else ' *'):>14} {c:>12} {str(qp):>4} {v['n']:>3} {v['MOTA']:7.3f} "
                     f"{v['IDF1']:7.3f} {v['HOTA']:7.3f} {v['mAP50']:7.3f}")
    if not all(v["tracked"] for v in s.values()):
        lines.append("* in the ground truth but not in analytics.classes: its objects can only be missed")
    return "\n".join(lines)


def format_table(rows) -> str:
    """The pooled summary per CTC class, configuration and QP, the per-class means, and BD-rates."""
    s = summary(rows)
    lines = [f"{'class':>5} {'config':>12} {'qp':>4} {'n':>3} {'base kbps':>10} {'full kbps':>10} {'MOTA':>7} "
             f"{'IDF1':>7} {'HOTA':>7} {'mAP50':>7} {'PSNR-Y':>7} {'s/pt':>6}"]
    for (g, c, qp), v in s.items():
        lines.append(f"{g:>5} {c:>12} {str(qp):>4} {v['n']:>3} {v['base_kbps']:10.1f} {v['full_kbps']:10.1f} "
                     f"{v['MOTA']:7.3f} {v['IDF1']:7.3f} {v['HOTA']:7.3f} {v['mAP50']:7.3f} {v['psnr_y_base']:7.2f} "
                     f"{v['seconds']:6.1f}")
    per_class = format_class_table(rows)
    if per_class:
        lines += ["per object class (means over the sequences that hold it):", per_class]
    for metric in ("MOTA", "mAP50"):
        bd = bd_rates(rows, metric)
        if bd:
            nums = defaultdict(list)
            for (seq, cls), v in bd.items():
                if not isinstance(v, str):
                    v = v[0] if isinstance(v, tuple) else v
                    nums[cls].append(v)
                    nums["all"].append(v)
            per = ", ".join(f"{k}: {np.mean(v):+.1f}%" for k, v in sorted(nums.items())) or "n/a"
            lines.append(f"BD-rate ROI vs plain on {metric} (mean over sequences): {per}")
            for (seq, cls), v in sorted(bd.items()):
                if isinstance(v, tuple):
                    v = f"{v[0]:+.1f}% ({v[1]})"
                lines.append(f"   {seq}: {v if isinstance(v, str) else f'{v:+.1f}%'}")
    return "\n".join(lines)


def log_rate_axis(ax, label: str = "kbps"):
    """Log-scaled x axis of rates with plain-number ticks at 1, 2, 5 x 10^k (no overlapping labels)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(label)
    ax.grid(True, which="both", alpha=0.3)


def plot_mota(rows, path):
    """One panel per CTC class: MOTA vs base kbps for ROI and plain (and the feature layer's kbps for
    features points), uncompressed as a line."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = summary(rows)
    classes = sorted({g for g, _, _ in s if g != "all"}) + ["all"]
    fig, axes = plt.subplots(1, len(classes), figsize=(4.5 * len(classes), 4), squeeze=False)
    for ax, g in zip(axes[0], classes):
        labels = {"plain": "base, ROI off", "roi": "base, ROI on", "features": "feature layer (split NanoDet)",
                  "features-base": "feature layer on the base (both)"}
        for cfg, style in (("plain", "b-o"), ("roi", "r-s"), ("features", "g-^"), ("features-base", "m-v")):
            pts = sorted((v["base_kbps"], v["MOTA"]) for (gg, c, _), v in s.items() if gg == g and c == cfg)
            if pts:
                ax.plot(*zip(*pts), style, label=labels[cfg])
        unc = [v["MOTA"] for (gg, c, _), v in s.items() if gg == g and c == "uncompressed"]
        if unc:
            ax.axhline(unc[0], color="k", ls="--", label="uncompressed")
        ax.set_title(f"class {g}")
        ax.set_ylabel("MOTA")
        log_rate_axis(ax, "kbps (base layer, or feature layer)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial")
    fig.savefig(tmp, dpi=100, format="png")
    os.replace(tmp, path)
    plt.close(fig)
    return path
