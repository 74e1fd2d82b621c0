"""What every command shares: error handling and exit statuses, progress bars, inputs and outputs.

Every command prints an error as one line on stderr and exits with a documented status
(:data:`EXIT_STATUS_HELP`); ``--debug`` shows the traceback instead.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from pathlib import Path

from svc.errors import InputError, SvcError

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INCOMPLETE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

EXIT_STATUS_HELP = (
    "exit status: 0 success; 1 error (one line on stderr, nothing half-written left behind); "
    "2 usage error; 3 finished, but the output is incomplete (damaged or missing GOPs skipped, or "
    "GOPs output from the base layer), each problem named on stderr; 130 interrupted.")


def prog() -> str:
    return Path(sys.argv[0]).name or "svc"


def error_line(msg: str):
    print(f"{prog()}: error: {msg}", file=sys.stderr)


def run_main(main, argv=None) -> int:
    """Runs ``main(argv)`` and returns its exit status, turning library errors into one-line
    messages (tracebacks with ``--debug``). Ctrl-C is exit status 130 wherever it lands, also inside
    FFmpeg, which turns it into an error of its own (PyAV raises it as an ``OSError``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    interrupted = []

    def on_sigint(signum, frame):
        interrupted.append(signum)
        raise KeyboardInterrupt

    old = None
    with contextlib.suppress(ValueError):          # not the main thread: keep Python's handler
        old = signal.signal(signal.SIGINT, on_sigint)
    try:
        return main(argv) or EXIT_OK
    except KeyboardInterrupt:
        if debug:
            raise
        error_line("interrupted")
        return EXIT_INTERRUPTED
    except SvcError as e:
        if debug:
            raise
        error_line("interrupted" if interrupted else str(e))
        return EXIT_INTERRUPTED if interrupted else EXIT_ERROR
    except BrokenPipeError:
        with contextlib.suppress(OSError):
            sys.stdout = None  # the reader went away: nothing more to say
        return EXIT_ERROR
    except OSError as e:
        if debug:
            raise
        if interrupted:
            error_line("interrupted")
            return EXIT_INTERRUPTED
        error_line(f"{e.filename}: {e.strerror or e}" if e.filename else str(e))
        return EXIT_ERROR
    finally:
        if old is not None:
            signal.signal(signal.SIGINT, old)


def parser(prog_name: str, description: str, examples: str = "") -> argparse.ArgumentParser:
    """An argument parser whose help ends with the examples and the exit statuses."""
    epilog = (f"examples: {examples}\n\n" if examples else "") + EXIT_STATUS_HELP
    return argparse.ArgumentParser(prog=prog_name, description=description, epilog=epilog)


def add_common(p: argparse.ArgumentParser, quiet: bool = True):
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    if quiet:
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")


def add_config(p: argparse.ArgumentParser):
    p.add_argument("--config", help="YAML file with the keys to change (layout of configs/default.yaml)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config key, e.g. --set base.preset=medium (repeatable; unknown keys and "
                        "bad values are refused)")


def load_cli_config(args, direct: dict | None = None):
    """The configuration of a command: defaults, ``--config``, ``--set``, then the command's own
    options (``direct``: dotted key -> (option name, value); None values are options not given). A
    bad value is reported with the option's name."""
    from svc.config import apply, load_config

    cfg = load_config(args.config, list(args.set))
    for key, (flag, value) in (direct or {}).items():
        if value is not None:
            cfg = apply(cfg, [(key, value)], flag)
    return cfg


def progress_bar(total, desc: str, unit: str = "frame", quiet: bool = False):
    """A tqdm bar on stderr (hidden when stderr is not a terminal or ``quiet``)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=True if quiet else None,
                dynamic_ncols=True)


def open_input(path):
    """A binary file object for ``path`` (``-`` = stdin)."""
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except IsADirectoryError:
        raise InputError(f"cannot read {path}: it is a folder") from None
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from None


def _same_file(a, b) -> bool:
    if a == "-" or b == "-":
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def check_outputs(inputs, outputs):
    """Refuses, before anything is written, an output that is one of the inputs or another output,
    or that lies in a folder that does not exist."""
    outs = [o for o in outputs if o]
    for o in outs:
        for i in inputs:
            if i and _same_file(i, o):
                raise InputError(f"output {o} is the input {i}: writing it would destroy the input; choose another name")
        if o != "-":
            folder = os.path.dirname(os.path.abspath(o))
            if not os.path.isdir(folder):
                raise InputError(f"cannot write {o}: folder {os.path.dirname(o) or '.'} does not exist")
            if os.path.isdir(o):
                raise InputError(f"cannot write {o}: it is a folder")
    for k, a in enumerate(outs):
        for b in outs[k + 1:]:
            if _same_file(a, b):
                raise InputError(f"two outputs are the same file {a}")


@contextlib.contextmanager
def output_path(path, live: bool = False):
    """The path to write ``path``'s data to: a hidden ``.partial`` file beside it, renamed over
    ``path`` when the block completes and removed on any error or interruption (so ``path`` is
    either whole or untouched); with ``live`` (a consumer reads the file while it grows) ``path``
    itself. ``-`` stays ``-`` (stdout)."""
    if path == "-" or live:
        yield path
        return
    head, tail = os.path.split(path)
    tmp = os.path.join(head, f".{tail}.partial")
    try:
        yield tmp
        if os.path.exists(tmp):  # nothing written (e.g. no frame to render): no file
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def output_file(path, mode: str = "wb", live: bool = False):
    """A file object for ``path`` written through :func:`output_path` (``-`` = stdout)."""
    if path == "-":
        fh = sys.stdout.buffer if "b" in mode else sys.stdout
        yield fh
        fh.flush()
        return
    with output_path(path, live) as target:
        try:
            fh = open(target, mode)
        except OSError as e:
            raise InputError(f"cannot write {path}: {e.strerror}") from None
        try:
            yield fh
        finally:
            fh.close()


def report_problems(report, name: str) -> int:
    """Prints each problem of a decode/analyze report on stderr; the exit status it means."""
    for line in report.problems():
        print(f"{name}: {line}", file=sys.stderr)
    return EXIT_OK if report.complete else EXIT_INCOMPLETE


def on_error_option(p: argparse.ArgumentParser):
    p.add_argument("--on-error", choices=("fail", "skip"),
                   help="a damaged, missing or truncated part of the stream: stop with an error (fail, default for "
                        "files) or report it, leave it out and go on (skip, default for stdin; exit status 3)")
