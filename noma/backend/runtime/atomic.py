"""Atomic file writes (SPEC §8): a failure never leaves a truncated file.

The data goes to a temporary file in the destination's folder, is flushed
and fsynced, then renamed over the destination with `os.replace`. The new
file gets the mode of the file it replaces, or 0o666 minus the umask. A
destination that is a symlink is replaced by a regular file (the link
target is not written through).
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from noma.diagnostics import NomaRuntimeError


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write `text` as UTF-8, atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` atomically; errors name the path."""
    name = os.fspath(path)
    if not name:
        raise NomaRuntimeError("cannot write file: the path is empty")
    folder = os.path.dirname(os.path.abspath(name))
    if not os.path.isdir(folder):
        raise NomaRuntimeError(f"cannot write '{name}': folder '{folder}' does not exist")
    tmp: str | None = None
    try:
        with tempfile.NamedTemporaryFile(
            dir=folder, prefix="." + Path(name).name + ".", suffix=".tmp", delete=False
        ) as f:
            tmp = f.name
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _mode_for(name))
        os.replace(tmp, name)
        tmp = None
    except OSError as e:
        raise NomaRuntimeError(f"cannot write '{name}': {_reason(e)}") from None
    finally:
        if tmp is not None:
            _remove_quietly(tmp)
    _fsync_folder(folder)


def _mode_for(name: str) -> int:
    try:
        st = os.stat(name)
        if stat.S_ISREG(st.st_mode):
            return stat.S_IMODE(st.st_mode)
    except OSError:
        pass
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _reason(e: OSError) -> str:
    return e.strerror or str(e)


def _remove_quietly(name: str) -> None:
    try:
        os.unlink(name)
    except OSError:
        pass


def _fsync_folder(folder: str) -> None:
    """Make the rename durable where the platform allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
