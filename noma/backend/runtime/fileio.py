"""Opening input files with errors that name the path (SPEC §8, §11).

Only regular files are read: a FIFO or a device such as /dev/zero could
block or never end, so it is an error rather than a hang.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from noma.diagnostics import NomaRuntimeError


def open_input(path: str | os.PathLike[str], kind: str) -> BinaryIO:
    """Open `path` for binary reading; `kind` ("CSV", "safetensors") goes in messages."""
    name = os.fspath(path)
    try:
        f = open(name, "rb")  # the caller closes it
    except FileNotFoundError:
        raise NomaRuntimeError(f"cannot read {kind} file '{name}': no such file") from None
    except OSError as e:
        raise NomaRuntimeError(f"cannot read {kind} file '{name}': {e.strerror or e}") from None
    try:
        mode = os.fstat(f.fileno()).st_mode
    except OSError as e:
        f.close()
        raise NomaRuntimeError(f"cannot read {kind} file '{name}': {e.strerror or e}") from None
    if not stat.S_ISREG(mode):
        f.close()
        raise NomaRuntimeError(f"cannot read {kind} file '{name}': not a regular file")
    return f


def read_all(path: str | os.PathLike[str], kind: str) -> bytes:
    """The whole content of a regular file."""
    with open_input(path, kind) as f:
        try:
            return f.read()
        except OSError as e:
            raise NomaRuntimeError(
                f"cannot read {kind} file '{os.fspath(path)}': {e.strerror or e}"
            ) from None
