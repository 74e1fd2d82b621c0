"""What every command shares: error handling and exit statuses, progress bars, inputs and outputs.

Every command prints an error as one line on stderr and exits with a documented status
(:data:`EXIT_STATUS_HELP`); ``--debug`` shows the traceback instead.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import stat
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
    from svc import __version__

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


def _special(path) -> bool:
    """Whether ``path`` exists and is not a regular file (a device, FIFO or socket)."""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode) and not stat.S_ISDIR(os.stat(path).st_mode)
    except OSError:
        return False


@contextlib.contextmanager
def _exclusive(path):
    """Holds an advisory lock on ``path`` (created if missing) while the block writes it in place, so
    that two svc commands writing one live output cannot interleave: the second is refused."""
    import fcntl

    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o666)
    except OSError as e:
        raise InputError(f"cannot write {path}: {e.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise InputError(f"cannot write {path}: another command is writing it now") from None
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def output_path(path, live: bool = False, optional: bool = False):
    """The path to write ``path``'s data to.

    - A regular file (or a new name): a hidden partial file beside it, unique to this command
      (``.NAME.PID-RANDOM.partial``, same folder so the rename is atomic), renamed over ``path``
      when the block completes and removed on any error or interruption: ``path`` is either whole
      or untouched, and two commands writing one name each leave a whole file (the last one's).
      The rename is checked: a partial file that has gone is an error, unless ``optional`` (the
      block may legitimately write nothing, e.g. no frame to render).
    - ``live`` (a consumer reads the file while it grows): ``path`` itself, under an advisory lock
      that refuses a second svc command writing it at the same time.
    - An existing device, FIFO or socket (``/dev/null``, a named pipe): written in place, never
      replaced by a regular file. ``-`` stays ``-`` (stdout).
    """
    if path == "-" or _special(path):
        yield path
        return
    if live:
        with _exclusive(path):
            yield path
        return
    head, tail = os.path.split(path)
    tmp = os.path.join(head, f".{tail}.{os.getpid()}-{secrets.token_hex(4)}.partial")
    try:
        yield tmp
        if os.path.exists(tmp):
            os.replace(tmp, path)
        elif not optional:
            raise InputError(f"cannot finish {path}: its partial file {tmp} was removed while being written")
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
