"""``svc-eval-tracking``: tracker evaluation on the HEVC CTC sequences against SFU-HW-Tracks-v1."""
from __future__ import annotations

import os
import sys

from svc.cli.common import add_common, parser, progress_bar, run_main


def build_parser():
    p = parser(
        "svc-eval-tracking",
        "Evaluate base-layer tracking on the HEVC CTC sequences against SFU-HW-Tracks-v1 across rates: ROI "
        "and plain base layers per QP, plus the uncompressed upper bound. The analytics are svc-analyze's "
        "(configuration analytics.*: detector, classes, detector interval); each scored COCO class is "
        "matched on its own (SFU-HW-Tracks-v1 class ids, object ids per class) and the classes are also "
        "pooled. Writes results.csv (pooled), results_per_class.csv, results.json, MOTA-vs-kbps plots and "
        "the BD-rate of ROI vs plain on MOTA and mAP@0.5.",
        "svc-eval-tracking --sequences /data/ctc --annotations /data/SFU-HW-Tracks-v1 --classes D,C "
        "--qps 22 27 32 37 --out results/ --jobs 2")
    p.add_argument("--sequences", required=True, help="folder with the CTC .yuv files (searched recursively)")
    p.add_argument("--annotations", required=True, help="SFU-HW-Tracks-v1 root folder")
    p.add_argument("--classes", default="B,C,D,E", help="CTC classes to run, e.g. D,C (default all)")
    p.add_argument("--qps", nargs="+", type=int, default=[22, 27, 32, 37], help="base-layer QPs (CRF values for both plain and ROI when --set roi.method=qoffset)")
    p.add_argument("--configurations", default="roi,plain,uncompressed",
                   help="which of roi,plain,uncompressed,features,features-base (features: the split-DNN feature "
                        "layer alone, analysed as svc-analyze --from features; its kbps are the feature layer's; "
                        "features-base: the feature layer coded against the base layer at base.qp (--set "
                        "base.qp=N), its kbps those of both)")
    p.add_argument("--feature-quantisers", nargs="+", type=int, default=[1, 3, 5],
                   help="feature quantiser ids of the features configurations (0 finest .. 6 coarsest)")
    p.add_argument("--enh-quality", type=float, help="also code the enhancement layer at this quality (full kbps/PSNR)")
    p.add_argument("--frames", type=int, help="at most N frames per sequence (default: the CTC count)")
    p.add_argument("--detector", help="detector backend for analytics and ROI (default: config analytics.detector, "
                                      "auto = the shipped nanodet)")
    p.add_argument("--object-classes", default="all",
                   help="COCO classes to score, e.g. person,car (default all: every class in each sequence's "
                        "ground truth; a class outside analytics.classes is scored, marked, and can only be missed)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override for every point")
    p.add_argument("--out", default="results", help="output folder (cache in OUT/cache)")
    p.add_argument("--jobs", type=int, default=1, help="parallel worker processes")
    p.add_argument("--ray", metavar="ADDRESS", help="run points as Ray tasks on this cluster ('local' starts one)")
    add_common(p)
    return p


def command(argv) -> int:
    from svc.analytics.detectors import class_ids_from_names
    from svc.evaluation.report import format_table, plot_mota, write_results
    from svc.evaluation.runner import PointCache, discover, run_points
    from svc.evaluation.point import CONFIGURATIONS, FEATURE_CONFIGURATIONS, PointSpec

    args = build_parser().parse_args(argv)
    log = (lambda m: print(m, file=sys.stderr))
    configs = [c.strip() for c in args.configurations.split(",") if c.strip()]
    bad = [c for c in configs if c not in CONFIGURATIONS]
    if bad:
        from svc.errors import InputError
        raise InputError(f"unknown configuration(s) {bad}; choose from {', '.join(CONFIGURATIONS)}")
    found, missing = discover(args.sequences, args.annotations, set(args.classes.split(",")), args.frames)
    for name, why in missing:
        log(f"svc-eval-tracking: skipping {name}: {why}")
    if not found:
        from svc.errors import InputError
        raise InputError("no sequence has both a .yuv file and annotations")
    object_classes = (None if args.object_classes.strip().lower() == "all"
                      else tuple(class_ids_from_names(args.object_classes.split(","))))
    overrides = tuple(tuple(s.split("=", 1)) for s in args.set)
    specs = []
    for s in found:
        common = dict(sequence=s["file"], ctc_class=s["class"], path=s["path"], annotations=s["annotations"],
                      width=s["width"], height=s["height"], fps=s["fps"], frames=s["frames"],
                      detector=args.detector, object_classes=object_classes, overrides=overrides)
        for cfg in configs:
            if cfg == "uncompressed":
                specs.append(PointSpec(configuration=cfg, **common))
            elif cfg in FEATURE_CONFIGURATIONS:
                specs.extend(PointSpec(configuration=cfg, qp=q, **common) for q in args.feature_quantisers)
            else:
                specs.extend(PointSpec(configuration=cfg, qp=qp, enh_quality=args.enh_quality, **common)
                             for qp in args.qps)
    cache = PointCache(os.path.join(args.out, "cache"))
    with progress_bar(len(specs), "points", unit="point", quiet=args.quiet) as bar:
        rows, computed = run_points(specs, cache, args.jobs, args.ray, bar.update)
    csv_path, json_path = write_results(rows, args.out)
    plot = plot_mota(rows, os.path.join(args.out, "mota_vs_kbps.png"))
    print(format_table(rows))
    log(f"svc-eval-tracking: {len(rows)} points ({computed} computed, {len(rows) - computed} cached) -> "
        f"{csv_path}, {json_path}, {plot}")
    return 0


def main(argv=None):
    sys.exit(run_main(command, argv))
