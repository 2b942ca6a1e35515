"""User-facing errors in the SPEC §11 format.

Every error a user can cause is a `NomaError` carrying a message and,
where known, a source location. `format()` renders

    error: <message> at FILE:LINE:COL
      <the source line>
      <caret>

The source line comes from the text registered for the file (the compiler
registers every source it reads) or, failing that, from the file on disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

_SOURCES: dict[str, str] = {}


def register_source(filename: str, text: str) -> None:
    """Remember a source text so that errors can echo its lines."""
    _SOURCES[filename] = text


def source_line(filename: str, line: int) -> str | None:
    text = _SOURCES.get(filename)
    if text is None:
        try:
            text = Path(filename).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
        _SOURCES[filename] = text
    lines = text.split("\n")
    if 1 <= line <= len(lines):
        return lines[line - 1].rstrip("\r")
    return None


@dataclass(frozen=True)
class SourceLoc:
    """A 1-based position in a source file."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class NomaError(Exception):
    """An error the user caused: bad program, bad file, bad shape, ..."""

    kind = "error"

    def __init__(self, message: str, loc: SourceLoc | None = None):
        super().__init__(message)
        self.message = message
        self.loc = loc

    def format(self) -> str:
        if self.loc is None:
            return f"error: {self.message}"
        out = [f"error: {self.message} at {self.loc}"]
        text = source_line(self.loc.file, self.loc.line)
        if text is not None:
            out.append("  " + text.replace("\t", " "))
            out.append("  " + " " * max(self.loc.col - 1, 0) + "^")
        return "\n".join(out)

    def _render_traceback_(self) -> list[str]:
        """IPython shows this instead of a Python traceback (notebooks, `%%noma`)."""
        return self.format().split("\n")


class CompileError(NomaError):
    """Found before anything runs."""


class NomaRuntimeError(NomaError):
    """Found while the program runs (interpreter, JIT or executable).

    `output` and `stderr` hold what the program printed before the error,
    where the caller captured it (`noma.api`)."""

    output: str = ""
    stderr: str = ""


def warning(message: str, loc: SourceLoc | None = None) -> str:
    where = f" at {loc}" if loc is not None else ""
    return f"warning: {message}{where}"
