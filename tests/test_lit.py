"""Runs the lit + FileCheck suite in tests/filecheck, so that one `pytest` runs it too."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "tests" / "filecheck"
BIN = Path(sys.executable).parent  # lit.cfg puts this folder first on PATH


def test_filecheck_suite() -> None:
    for tool in ("nomac", "filecheck"):
        assert shutil.which(tool, path=str(BIN)), (
            f"`{tool}` is not in {BIN}; install the project with `pip install -e '.[test]'`"
        )
    proc = subprocess.run(
        [sys.executable, "-c", "import lit.main; lit.main.main()", "-q", str(SUITE)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert proc.returncode == 0, f"lit failed:\n{proc.stdout}\n{proc.stderr}"
