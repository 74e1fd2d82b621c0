"""``svc-train MODEL``: learn or design one of the models on CPU (:mod:`svc.training`)."""
from __future__ import annotations

import sys

from svc.cli.common import EXIT_STATUS_HELP, add_version, run_main


def build_parser():
    import argparse
    import importlib

    from svc.shipped import add_package_flag
    from svc.training import TRAINERS

    p = argparse.ArgumentParser(
        prog="svc-train", epilog=EXIT_STATUS_HELP,
        description="Learn or design svc's models on CPU from training clips only: an evaluation source "
                    "(svc/datasets/registry.py) is refused. Each model file stores the command that made it. "
                    "`svc-train MODEL --help` lists a model's options.")
    add_version(p)
    sub = p.add_subparsers(dest="what", required=True, metavar="MODEL")
    for name, module in TRAINERS.items():
        mod = importlib.import_module(module)
        s = sub.add_parser(name, help=mod.HELP, description=mod.__doc__.split("\n\n")[0],
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter, epilog=EXIT_STATUS_HELP)
        mod.add_arguments(s)
        add_package_flag(s)
        s.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    return p


def command(argv=None) -> int:
    import importlib

    from svc.training import TRAINERS

    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    return importlib.import_module(TRAINERS[args.what]).run(args, argv[1:])


def main(argv=None):
    sys.exit(run_main(command, argv))
