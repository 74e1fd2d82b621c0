"""Outputs written whole or not at all: a file appears only when complete (a partial file of the
writer's own beside it, renamed over it), devices and named pipes are written through in place,
live outputs are locked against a second writer, ``-`` is standard output."""
from __future__ import annotations

import contextlib
import os
import secrets
import stat
import sys

from svc.errors import InputError


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
