"""The command line: one package, one exit convention (:data:`svc.cli.common.EXIT_STATUS_HELP`).

Each command is a module with ``main(argv=None)`` (the console script ``svc-<name>``); ``python -m svc
<command> ...`` runs the same ones.
"""
from __future__ import annotations

import importlib
import os
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


def end_process(code) -> None:
    """Ends a command-line process with ``sys.exit(code)``'s status, skipping the interpreter's
    teardown: the exit handlers run (``atexit``: Ray, multiprocessing, logging, weakref finalisers) and
    the standard streams are flushed (a failed flush gives status 120, as Python's own exit does), but
    the modules are not torn down one object at a time (0.35-0.45 s after torch is imported, measured
    on 2 cores). Falls back to ``sys.exit`` when other non-daemon threads are still running, off the
    main thread, or with ``SVC_FULL_TEARDOWN=1``."""
    import atexit
    import threading

    others = [t for t in threading.enumerate() if t is not threading.current_thread() and not t.daemon]
    if others or threading.current_thread() is not threading.main_thread() \
            or os.environ.get("SVC_FULL_TEARDOWN") == "1" or not hasattr(atexit, "_run_exitfuncs"):
        sys.exit(code)
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            if stream is sys.stdout and status == 0:
                status = 120
    os._exit(status & 0xFF)


def _run_and_end(fn, argv) -> None:
    """``fn(argv)``, then the process ends through :func:`end_process` with its ``sys.exit`` status."""
    try:
        fn(argv)
        code = None
    except SystemExit as e:
        code = e.code
    end_process(code)


def _script(name: str, argv) -> None:
    """A console script's entry: the command ``name``; a process started as the command (``argv``
    None) ends through :func:`end_process`, a call with ``argv`` (tests, the API) returns or raises
    ``SystemExit`` as usual."""
    if argv is not None:
        return _entry(name)(argv)
    _run_and_end(_entry(name), None)


def main(argv=None):
    """``python -m svc <command> [args]`` (``argv`` None: this process's arguments, and the process
    ends through :func:`end_process`)."""
    if argv is None:
        return _run_and_end(main, sys.argv[1:])
    argv = list(argv)
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
    _script("encode", argv)


def decode_main(argv=None):
    _script("decode", argv)


def extract_main(argv=None):
    _script("extract", argv)


def info_main(argv=None):
    _script("info", argv)


def analyze_main(argv=None):
    _script("analyze", argv)


def eval_tracking_main(argv=None):
    _script("eval-tracking", argv)


def train_main(argv=None):
    _script("train", argv)


def config_main(argv=None):
    _script("config", argv)


def rd_main(argv=None):
    _script("rd", argv)
