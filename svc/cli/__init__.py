"""The command line: one package, one exit convention (:data:`svc.cli.common.EXIT_STATUS_HELP`).

Each command is a module with ``main(argv=None)`` (the console script ``svc-<name>``); ``python -m svc
<command> ...`` runs the same ones.
"""
from __future__ import annotations

import importlib
import sys

#: command -> (module, entry function, one-line description)
COMMANDS = {
    "encode": ("svc.cli.encode", "main", "code a video into a two-layer svc stream"),
    "decode": ("svc.cli.decode", "decode_main", "decode the base or full layer of a stream"),
    "extract": ("svc.cli.decode", "extract_main", "extract the base layer as a plain HEVC stream"),
    "info": ("svc.cli.decode", "info_main", "show a stream's header, GOP table and integrity"),
    "analyze": ("svc.cli.analyze", "main", "detect and track objects on the base layer"),
    "eval-tracking": ("svc.cli.evaluate", "main", "evaluate tracking on the CTC sequences across rates"),
    "train": ("svc.cli.train", "main", "learn the enhancement layer's models (tables, restoration)"),
    "config": ("svc.cli.config", "main", "show the configuration (defaults, or with a file and --set applied)"),
    "rd": ("svc.cli.rd", "main", "rate-distortion curves of the full layer against single layer and simulcast"),
}


def _entry(name: str):
    module, fn, _ = COMMANDS[name]
    return getattr(importlib.import_module(module), fn)


def main(argv=None):
    """``python -m svc <command> [args]``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        width = max(map(len, COMMANDS))
        lines = ["usage: python -m svc <command> [args]   (or the console script svc-<command>)", "", "commands:"]
        lines += [f"  {n:<{width}}  {d}" for n, (_, _, d) in COMMANDS.items()]
        lines += ["", "python -m svc <command> --help shows a command's options and exit statuses."]
        if argv and argv[0] not in ("-h", "--help"):
            print(f"svc: error: unknown command {argv[0]!r}\n", file=sys.stderr)
            print("\n".join(lines), file=sys.stderr)
            sys.exit(2)
        print("\n".join(lines))
        sys.exit(0)
    sys.argv[0] = f"svc-{argv[0]}"
    _entry(argv[0])(argv[1:])


def encode_main(argv=None):
    _entry("encode")(argv)


def decode_main(argv=None):
    _entry("decode")(argv)


def extract_main(argv=None):
    _entry("extract")(argv)


def info_main(argv=None):
    _entry("info")(argv)


def analyze_main(argv=None):
    _entry("analyze")(argv)


def eval_tracking_main(argv=None):
    _entry("eval-tracking")(argv)


def train_main(argv=None):
    _entry("train")(argv)


def config_main(argv=None):
    _entry("config")(argv)


def rd_main(argv=None):
    _entry("rd")(argv)
