"""Smoke tests of the demos (demos/*/run.py and their programs): a small run
of the XOR experiment end to end, and the digits function-preserving growth."""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMOS = ROOT / "demos"
DATA = ROOT.parent / "shared" / "bench" / "data"


def python(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "NOMA_DEBUG"}
    environ["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=600
    )


@pytest.mark.slow
def test_xor_demo_small_run(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    results = tmp_path / "results"
    proc = python(
        [
            str(DEMOS / "self_growing_xor" / "run.py"),
            "--seeds",
            "1",
            "--variants",
            "preserve",
            "function_preserving",
            "--no-baselines",
            "--backend",
            "interp",
            "--results",
            str(results),
        ],  # fmt: skip
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in results.iterdir()) == [
        "curves.csv",
        "loss_curves.png",
        "results.md",
        "runs.csv",
    ]
    with open(results / "runs.csv", newline="") as f:
        runs = {row["variant"]: row for row in csv.DictReader(f)}
    # preserve, seed 0, is benchmark 1: the NumPy baseline's final loss
    assert math.isclose(float(runs["preserve"]["final_loss"]), 0.0010430298362158151, rel_tol=1e-9)
    assert runs["preserve"]["steps_to_0.002"] == "290"
    with open(results / "curves.csv", newline="") as f:
        fp = [float(r["loss"]) for r in csv.DictReader(f) if r["variant"] == "function_preserving"]
    assert len(fp) == 321
    assert "| preserve |" in (results / "results.md").read_text()


@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "digits_X.csv").is_file(), reason="../shared/bench/data not found")
def test_digits_function_preserving_growth(tmp_path: Path) -> None:
    """Growing the digits MLP 16 -> 128 with zero outgoing weights keeps the loss."""
    for name in ("digits_X.csv", "digits_Y.csv"):
        os.symlink(DATA / name, tmp_path / name)
    program = DEMOS / "digits_growth" / "grow_function_preserving.noma"
    proc = python(["-m", "noma.cli", "run", str(program), "--backend", "interp"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    difference, accuracy, final = (float(x) for x in proc.stdout.split())
    assert abs(difference) <= 1e-12
    assert accuracy == 1.0 and final < 0.001
    accuracies = [float(x) for x in (tmp_path / "accuracy.csv").read_text().split(",")]
    assert len(accuracies) == 301 and accuracies[-1] == accuracy
