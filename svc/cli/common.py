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
#: signals that stop a command cleanly (outputs removed), each exiting with 128 + its number
STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))

EXIT_STATUS_HELP = (
    "exit status: 0 success; 1 error (one line on stderr, nothing half-written left behind); "
    "2 usage error; 3 finished, but the output is incomplete (damaged or missing GOPs skipped, or "
    "GOPs output from the base layer, or bytes after the stream's end marker), each problem named on "
    "stderr; 130 interrupted (Ctrl-C), 143 terminated (SIGTERM), 129 hang-up (SIGHUP), each "
    "removing what it had half-written.")


class Stopped(KeyboardInterrupt):
    """A stop signal arrived (``signum``): raised from the handler so every ``finally`` and output
    clean-up runs as for Ctrl-C."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def status(self) -> int:
        return 128 + self.signum

    @property
    def what(self) -> str:
        return {signal.SIGINT: "interrupted"}.get(self.signum, f"stopped by {signal.Signals(self.signum).name}")


def prog() -> str:
    return Path(sys.argv[0]).name or "svc"


def error_line(msg: str):
    print(f"{prog()}: error: {msg}", file=sys.stderr)


def run_main(main, argv=None) -> int:
    """Runs ``main(argv)`` and returns its exit status, turning library errors into one-line
    messages (tracebacks with ``--debug``). SIGINT, SIGTERM and SIGHUP stop the command as Ctrl-C
    does (outputs cleaned up) with exit status 128 + the signal number, wherever they land, also
    inside FFmpeg, which turns an interruption into an error of its own (PyAV raises it as an
    ``OSError``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    stopped: list[Stopped] = []

    def on_signal(signum, frame):
        stop = Stopped(signum)
        stopped.append(stop)
        raise stop

    old = {}
    for sig in STOP_SIGNALS:
        with contextlib.suppress(ValueError, OSError):   # not the main thread: keep Python's handlers
            old[sig] = signal.signal(sig, on_signal)

    def interrupted(exc=None) -> int:
        stop = exc if isinstance(exc, Stopped) else (stopped[0] if stopped else Stopped(signal.SIGINT))
        error_line(stop.what)
        return stop.status

    try:
        return main(argv) or EXIT_OK
    except KeyboardInterrupt as e:
        if debug:
            raise
        return interrupted(e)
    except SvcError as e:
        if debug:
            raise
        if stopped:
            return interrupted()
        error_line(str(e))
        return EXIT_ERROR
    except BrokenPipeError:
        # the reader of our standard output went away (e.g. `| head -c 100`): say so once, on stderr
        with contextlib.suppress(OSError, ValueError):
            sys.stdout = None
        error_line("the output pipe was closed by its reader before the output was complete")
        return EXIT_ERROR
    except OSError as e:
        if debug:
            raise
        if stopped:
            return interrupted()
        error_line(f"{e.filename}: {e.strerror or e}" if e.filename else str(e))
        return EXIT_ERROR
    except Exception:
        # a signal that landed inside a library (e.g. during a lazy import: numpy's C import turns
        # the KeyboardInterrupt into an ImportError) is still the interruption, not a crash
        if stopped and not debug:
            return interrupted()
        raise
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def parser(prog_name: str, description: str, examples: str = "") -> argparse.ArgumentParser:
    """An argument parser whose help ends with the examples and the exit statuses (with ``--version``)."""
    epilog = (f"examples: {examples}\n\n" if examples else "") + EXIT_STATUS_HELP
    p = argparse.ArgumentParser(prog=prog_name, description=description, epilog=epilog)
    add_version(p)
    return p


def add_version(p: argparse.ArgumentParser):
    """``--version``: the program's name and svc's version, then exit 0."""
    from svc._version import __version__

    p.add_argument("--version", action="version", version=f"%(prog)s (svc) {__version__}")


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


def _same_file(a, b) -> bool:
    if a == "-" or b == "-":
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def add_workers(p: argparse.ArgumentParser, work: str):
    """``--jobs N`` and ``--ray [ADDRESS]``: ``work`` (e.g. "code GOPs") in workers, the same output."""
    p.add_argument("--jobs", type=int, metavar="N",
                   help=f"{work} in N worker processes (closed GOPs are independent): the same output as one "
                        "process, in order, at most 2N GOPs in flight. Default 1; with --ray, the cluster's CPUs")
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help=f"{work} as Ray actors on the cluster at ADDRESS (e.g. ray://head:10001 or auto), or on "
                        "a Ray instance started on this machine when no address is given; every node needs svc "
                        "installed (pip install 'svc[ray]'). The same output as --jobs 1")


def workers(args) -> tuple[int, str | None]:
    """(jobs, ray address or None) of :func:`add_workers`' options; jobs 0 means all the cluster's CPUs."""
    from svc.errors import InputError

    if args.jobs is not None and args.jobs < 1:
        raise InputError(f"--jobs must be at least 1, got {args.jobs}")
    return (args.jobs or (0 if args.ray is not None else 1)), args.ray


def add_overwrite(p: argparse.ArgumentParser):
    p.add_argument("-y", "--overwrite", action="store_true",
                   help="replace existing output files without asking (without it an existing output is refused, "
                        "or asked about on a terminal, as FFmpeg does)")


def _may_replace(path: str) -> bool:
    """Asks on the terminal whether to replace ``path`` (False when there is no terminal to ask)."""
    if not (sys.stdin is not None and sys.stdin.isatty() and sys.stderr.isatty()):
        return False
    print(f"File '{path}' already exists. Overwrite? [y/N] ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


def check_outputs(inputs, outputs, overwrite: bool = True):
    """Refuses, before anything is written, an output that is one of the inputs or another output,
    or that lies in a folder that does not exist; unless ``overwrite``, an existing regular file is
    refused (asked about on a terminal). Devices and named pipes are written through, never refused."""
    outs = [o for o in outputs if o]
    for o in outs:
        for i in inputs:
            if i and _same_file(i, o):
                raise InputError(f"output {o} is the input {i}: writing it would destroy the input; choose another name")
        if not overwrite and o != "-" and os.path.isfile(o) and not _may_replace(o):
            raise InputError(f"{o} already exists: pass -y (--overwrite) to replace it")
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


def report_problems(report, name: str) -> int:
    """Prints each problem of a decode/analyze report on stderr; the exit status it means."""
    for line in report.problems():
        print(f"{name}: {line}", file=sys.stderr)
    return EXIT_OK if report.complete else EXIT_INCOMPLETE


def on_error_option(p: argparse.ArgumentParser):
    p.add_argument("--on-error", choices=("fail", "skip"),
                   help="a damaged, missing or truncated part of the stream: stop with an error (fail, default for "
                        "files) or report it, leave it out and go on (skip, default for stdin; exit status 3)")
