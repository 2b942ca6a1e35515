"""Opening input files with errors that name the path (SPEC §8, §11).

Only regular files are read: a FIFO or a device such as /dev/zero could
block or never end, so it is an error rather than a hang. The file is opened
without blocking (a FIFO with no writer would block `open` itself) and
checked with `fstat` before anything is read.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO

from noma.diagnostics import NomaRuntimeError


def open_input(path: str | os.PathLike[str], kind: str) -> BinaryIO:
    """Open `path` for binary reading; `kind` ("CSV", "safetensors") goes in messages."""
    name = os.fspath(path)
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise NomaRuntimeError(f"cannot read {kind} file '{name}': no such file") from None
    except OSError as e:
        raise NomaRuntimeError(f"cannot read {kind} file '{name}': {e.strerror or e}") from None
    try:
        mode = os.fstat(fd).st_mode
    except OSError as e:
        os.close(fd)
        raise NomaRuntimeError(f"cannot read {kind} file '{name}': {e.strerror or e}") from None
    if not stat.S_ISREG(mode):
        os.close(fd)
        what = os.strerror(errno.EISDIR) if stat.S_ISDIR(mode) else "not a regular file"
        raise NomaRuntimeError(f"cannot read {kind} file '{name}': {what}")
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")  # the caller closes it


def read_all(path: str | os.PathLike[str], kind: str) -> bytes:
    """The whole content of a regular file."""
    with open_input(path, kind) as f:
        try:
            return f.read()
        except OSError as e:
            raise NomaRuntimeError(
                f"cannot read {kind} file '{os.fspath(path)}': {e.strerror or e}"
            ) from None
