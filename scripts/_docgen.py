"""What the page generators of this folder (gen_*_docs.py) share: their
command line, which rewrites the page, or with `--check` exits with 1 when
the committed page is out of date."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def write_or_check(output: Path, text: str, argv: Sequence[str], script: str) -> int:
    """Write `text` to `output`; with `--check` in `argv`, write nothing and
    return 1 (saying which `script` to run) if `output` differs from it."""
    if "--check" in argv:
        if not output.exists() or output.read_text(encoding="utf-8") != text:
            print(f"{output} is out of date: run python scripts/{Path(script).name}")
            return 1
        return 0
    output.write_text(text, encoding="utf-8")
    return 0
