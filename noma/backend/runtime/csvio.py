"""CSV input and output (SPEC §8).

Reading (`read_csv`), one row per line:

- `#` starts a comment, on a line of its own or after the data;
- blank lines and lines of only white space are skipped;
- spaces and tabs (and a trailing CR) around numbers are allowed;
- a number is a decimal literal (`1`, `-2.5`, `.5`, `5.`, `6e-1`, `+3`) or
  `inf`, `infinity`, `nan` in any case with an optional sign, as numpy's
  `loadtxt` would accept; a literal too big for a double reads as +-inf.
  Python-only spellings (`1_000`, non-ASCII digits) and hex are rejected;
- the result is always 2-D `[rows, cols]`;
- a non-number, an empty field (`1,,2`, a trailing comma) or a ragged row
  is an error naming the file, line and column (1-based, counting
  characters); a file with no data rows is an error;
- the file is decoded as UTF-8; undecodable bytes only matter inside data,
  where they make a bad number; a leading byte-order mark is ignored.

Writing (`write_csv`): a 2-D tensor one row per line, a 1-D tensor as one
row, a scalar as one value; each number `%.17g` (so `inf`/`nan` round-trip);
comma separated, newline terminated, written atomically.
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np

from noma.backend.runtime.atomic import atomic_write_text
from noma.backend.runtime.fileio import read_all
from noma.diagnostics import NomaRuntimeError

_NUMBER = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)",
    re.IGNORECASE | re.ASCII,
)
_SPACE = " \t\r"


def read_csv(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a CSV file of numbers as a 2-D float64 array."""
    name = os.fspath(path)
    text = read_all(name, "CSV").decode("utf-8", errors="replace").removeprefix("\ufeff")
    rows: list[list[float]] = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        row = _parse_line(line, name, lineno)
        if row is None:
            continue
        if rows and len(row) != len(rows[0]):
            raise NomaRuntimeError(
                f"row has {len(row)} values, expected {len(rows[0])} in {name}:{lineno}:1"
            )
        rows.append(row)
    if not rows:
        raise NomaRuntimeError(f"CSV file '{name}' has no data rows")
    return np.array(rows, dtype=np.float64)


def _parse_line(line: str, name: str, lineno: int) -> list[float] | None:
    """The numbers on one line, or None for a blank or comment-only line."""
    data = line.split("#", 1)[0]
    if not data.strip(_SPACE):
        return None
    values: list[float] = []
    col = 1
    for field in data.split(","):
        values.append(_parse_field(field, name, lineno, col))
        col += len(field) + 1
    return values


def _parse_field(field: str, name: str, lineno: int, col: int) -> float:
    text = field.strip(_SPACE)
    where = f"{name}:{lineno}:{col + len(field) - len(field.lstrip(_SPACE))}"
    if not text:
        raise NomaRuntimeError(f"missing number in {where}")
    if not _NUMBER.fullmatch(text):
        raise NomaRuntimeError(f"bad number '{_shorten(text)}' in {where}")
    return float(text)


def _shorten(text: str, limit: int = 40) -> str:
    """At most `limit` characters of a bad field, control characters escaped."""
    short = text if len(text) <= limit else text[:limit] + "..."
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in short)


def write_csv(path: str | os.PathLike[str], value: Any) -> None:
    """Write a scalar, 1-D or 2-D value as CSV (`%.17g`), atomically."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim > 2:
        raise NomaRuntimeError(
            f"save_csv needs a scalar, 1-D or 2-D tensor, got rank {arr.ndim} ('{os.fspath(path)}')"
        )
    rows = arr.reshape(1, -1) if arr.ndim < 2 else arr
    lines = (",".join(format(x, ".17g") for x in row) for row in rows.tolist())
    atomic_write_text(path, "".join(line + "\n" for line in lines))
