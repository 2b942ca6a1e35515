"""The stock `xdsl-opt` runs NOMA's passes (published through the
`xdsl.universe` entry point, noma/universe.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

XDSL_OPT = Path(sys.executable).parent / "xdsl-opt"

PROGRAM = """\
func.func @sq(%x: f64) -> f64 {
  %0 = noma.tensor.mul %x, %x : (f64, f64) -> f64
  func.return %0 : f64
}
func.func @main() -> f64 {
  %0 = arith.constant 0.000000e+00 : f64
  %w = noma.train.param "w" %0 : f64 -> !noma.mem.buffer<0>
  %kind = arith.constant 1.000000e+00 : f64
  %lr = arith.constant 1.000000e-01 : f64
  %b = arith.constant 9.000000e-01 : f64
  %eps = arith.constant 1.000000e-08 : f64
  %max = arith.constant 1.000000e+02 : f64
  %r = noma.train.optimize params(%w : !noma.mem.buffer<0>) hyper(%kind, %lr, %b, %b, %b, %eps, %max) -> (f64) {
    %1 = noma.mem.load %w : !noma.mem.buffer<0> -> f64
    %loss = func.call @sq(%1) : (f64) -> f64
    noma.train.minimize %loss : f64
    %stop = arith.constant false
    noma.train.yield %stop, %loss : f64
  }
  func.return %r : f64
}
"""


def xdsl_opt(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    if not XDSL_OPT.exists():
        pytest.fail(f"{XDSL_OPT} is missing; install the project with `pip install -e .`")
    return subprocess.run(
        [str(XDSL_OPT), *args], input=stdin, capture_output=True, text=True, timeout=120
    )


def test_xdsl_opt_is_the_installed_one() -> None:
    found = shutil.which("xdsl-opt", path=str(XDSL_OPT.parent))
    assert found is not None and Path(found) == XDSL_OPT


def test_xdsl_opt_runs_noma_passes(tmp_path: Path) -> None:
    src = tmp_path / "train.mlir"
    src.write_text(PROGRAM)
    proc = xdsl_opt(str(src), "-p", "noma-inline,noma-autodiff")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "func.func @sq" not in out  # inlined
    assert "func.call" not in out
    assert "noma.train.update %w" in out  # autodiff made the update
    assert out.index("noma.train.minimize") < out.index("noma.train.update")


def test_xdsl_opt_pass_options_and_stdin() -> None:
    proc = xdsl_opt(
        "-p", "noma-inline,noma-autodiff,noma-expand-optimizers{default-lr=0.5}", stdin=PROGRAM
    )
    assert proc.returncode == 0, proc.stderr
    assert "noma.train.update" not in proc.stdout  # expanded into state + math
    assert 'noma.train.state %w "m"' in proc.stdout


def test_xdsl_opt_lists_noma_passes() -> None:
    proc = xdsl_opt("--help")
    assert proc.returncode == 0, proc.stderr
    listed = "".join(proc.stdout.split())  # argparse wraps the list of passes
    for name in ("noma-inline", "noma-autodiff", "noma-expand-optimizers"):
        assert name in listed
