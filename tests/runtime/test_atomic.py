"""Atomic writes (SPEC §8): replace on success, original intact on failure."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from noma.backend.runtime import atomic_write_bytes, atomic_write_text
from noma.diagnostics import NomaRuntimeError


def test_write_and_overwrite_keeps_mode(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    atomic_write_text(path, "héllo\n")
    assert path.read_bytes() == "héllo\n".encode()
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    path.chmod(0o600)
    atomic_write_bytes(str(path), b"new")
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_failure_leaves_original(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "keep.bin"
    path.write_bytes(b"original")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(NomaRuntimeError, match="cannot write .*keep.bin.*No space"):
        atomic_write_bytes(path, b"partial")
    assert path.read_bytes() == b"original"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.bin"]


def test_missing_folder_and_empty_path(tmp_path: Path) -> None:
    with pytest.raises(NomaRuntimeError, match="missing_dir"):
        atomic_write_bytes(tmp_path / "missing_dir" / "x", b"")
    with pytest.raises(NomaRuntimeError, match="empty"):
        atomic_write_bytes("", b"")
