"""``svc-train``: learn the models on CPU (``tables``: the block coder's context tables; ``restoration``:
the zero-bit restoration network; ``latent``: the learned latent codec)."""
from __future__ import annotations

import sys

from svc.cli.common import EXIT_STATUS_HELP, add_common, add_version, run_main
from svc.shipped import add_package_flag, check_output


def build_parser():
    import argparse

    p = argparse.ArgumentParser(
        prog="svc-train", epilog=EXIT_STATUS_HELP,
        description="Learn the enhancement layer's models on CPU from training clips that are never evaluation "
                    "clips (svc/datasets/clips.py). The command that made each shipped file is in its docstring "
                    "or stored in the file.")
    add_version(p)
    sub = p.add_subparsers(dest="what", required=True)
    t = sub.add_parser("tables", help="the block coder's context tables (counts of coded symbols)",
                       epilog=EXIT_STATUS_HELP)
    t.add_argument("--iterations", type=int, default=2, help="codings with the previous tables (default 2)")
    t.add_argument("--frames", type=int, default=32, help="frames read per clip")
    t.add_argument("--gops", type=int, default=1, help="16-frame GOPs coded per clip")
    t.add_argument("--qps", nargs="+", type=float, default=[32, 37], help="base QPs")
    t.add_argument("--qualities", nargs="+", type=float, default=[0.3, 0.45, 0.6, 0.75])
    t.add_argument("--clips", nargs="+", help="training clips (default: all of svc.datasets.clips.TRAIN_CLIPS)")
    t.add_argument("--jobs", type=int, default=2, help="worker processes")
    t.add_argument("--strength", type=float, default=8.0, help="back-off pseudo-counts")
    t.add_argument("--init", help="tables to start from (default: flat priors)")
    t.add_argument("--no-restoration", action="store_true", help="code with R = the base (no restoration network)")
    t.add_argument("--restoration-model", default="svc/enhancement/weights/svc-restore-v1.pt")
    t.add_argument("--out", default="blockcoder-tables.npz",
                   help="tables file to write (default: blockcoder-tables.npz in the current folder; use it with "
                        "--set enhancement.tables=PATH)")
    add_package_flag(t)
    add_common(t, quiet=False)
    sub.add_parser("restoration", add_help=False,
                   help="the zero-bit restoration network (QAT, integer export); its options: "
                        "svc-train restoration --help")
    sub.add_parser("latent", add_help=False,
                   help="the learned latent codec (reconstruction, task and VBR stages, resumable); its options: "
                        "svc-train latent --help")
    add_common(p, quiet=False)
    return p


def command(argv) -> int:
    from svc.config import resolve_path

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["restoration"]:
        from svc.enhancement.train_restoration import main as train_restoration

        return train_restoration(argv[1:])
    if argv[:1] == ["latent"]:
        from svc.latent.train import main as train_latent

        return train_latent(argv[1:])
    args = build_parser().parse_args(argv)
    log = (lambda m: print(m, file=sys.stderr, flush=True))
    if args.what == "tables":
        from svc.datasets.clips import TRAIN_CLIPS
        from svc.enhancement.train_tables import train_tables

        out = train_tables(check_output(args.out, args.into_package), args.iterations, args.frames, args.qps, args.qualities,
                           args.clips or TRAIN_CLIPS, args.jobs, args.gops, args.strength, args.init,
                           None if args.no_restoration else resolve_path(args.restoration_model), log)
        log(f"svc-train: wrote {out} ({out.stat().st_size} bytes)")
    return 0


def main(argv=None):
    sys.exit(run_main(command, argv))
