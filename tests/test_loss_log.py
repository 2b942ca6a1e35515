"""`nomac run --loss-log FILE.csv` and `--progress` (docs/cli.md), and the
`TrainingMonitor` behind them (noma/backend/train_monitor.py)."""

from __future__ import annotations

import csv
import io
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from noma import driver
from noma.backend.train_monitor import HEADER, TrainingMonitor, format_row

ROOT = Path(__file__).resolve().parents[1]

#: Two loops: SGD on (w - 1)^2 until the loss is below 0.01 (12 rows: the last
#: one is the iteration whose condition stops the loop), then 3 capped steps.
TWO_LOOPS = """fn main() {
    learn w = 0;
    optimize(w) with sgd(0.1) until l < 0.01 {
        let l = (w - 1) ** 2;
        minimize l;
    }
    let max_iterations = 3;
    optimize(w) with sgd(0.1) until l2 < 0 {
        let l2 = (w - 2) ** 2;
        minimize l2;
    }
    print(w);
}
"""

#: A loop inside a `while` runs (and is numbered) three times.
LOOP_IN_WHILE = """fn main() {
    learn w = 0;
    let k = 0;
    let max_iterations = 2;
    while k < 3 {
        optimize(w) with sgd(0.1) until l < 0 {
            let l = (w - k) ** 2;
            minimize l;
        }
        k = k + 1;
    }
}
"""

NAN_LOSS = """fn main() {
    learn w = 1;
    optimize(w) with sgd(10) until l < 0 {
        let l = log(w);
        minimize l;
    }
}
"""


def nomac(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    drop = ("NOMA_DEBUG", "NOMA_LOSS_LOG", "NOMA_PROGRESS")
    environ = {k: v for k, v in os.environ.items() if k not in drop}
    environ["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(
        [sys.executable, "-m", "noma.cli", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        timeout=300,
    )  # bytes: text mode would turn the progress line's \r into \n
    return subprocess.CompletedProcess(
        proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode()
    )


def read_log(path: Path) -> list[tuple[int, int, float]]:
    text = path.read_text(encoding="utf-8")
    assert text.startswith(HEADER)
    rows = list(csv.reader(io.StringIO(text)))[1:]
    return [(int(a), int(b), float(c)) for a, b, c in rows]


def sgd_losses(w: float, target: float, lr: float, n: int) -> tuple[float, list[float]]:
    """The objectives SGD on (w - target)^2 sees in n iterations, and the final w."""
    losses = []
    for _ in range(n):
        losses.append((w - target) ** 2)
        w -= lr * (2.0 * (w - target))
    return w, losses


def expected_two_loops() -> list[tuple[int, int, float]]:
    _, first = sgd_losses(0.0, 1.0, 0.1, 12)
    assert first[-1] < 0.01 <= first[-2]  # the loop stops at its 12th objective
    w, _ = sgd_losses(0.0, 1.0, 0.1, 11)  # ... and makes no 12th update
    _, second = sgd_losses(w, 2.0, 0.1, 3)
    return [(0, i, x) for i, x in enumerate(first)] + [(1, i, x) for i, x in enumerate(second)]


def assert_rows_close(
    actual: list[tuple[int, int, float]], expected: list[tuple[int, int, float]]
) -> None:
    assert [r[:2] for r in actual] == [r[:2] for r in expected]
    for (_, _, a), (_, _, e) in zip(actual, expected, strict=True):
        assert math.isclose(a, e, rel_tol=1e-12, abs_tol=1e-15), (a, e)


# ----------------------------------------------------------------- interpreter


BACKENDS = [
    "interp",
    pytest.param(
        "jit",
        marks=pytest.mark.skipif(shutil.which("cc") is None, reason="the JIT needs a C compiler"),
    ),
]


@pytest.mark.parametrize("backend", BACKENDS)
def test_loss_log_rows(tmp_path: Path, backend: str) -> None:
    (tmp_path / "p.noma").write_text(TWO_LOOPS)
    proc = nomac("run", "p.noma", "--backend", backend, "--loss-log", "loss.csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert_rows_close(read_log(tmp_path / "loss.csv"), expected_two_loops())
    assert not (tmp_path / "loss.csv.tmp").exists()
    assert "0,1,0.64000000000000012\n" in (tmp_path / "loss.csv").read_text()  # %.17g


def test_loss_log_exact_round_trip(tmp_path: Path) -> None:
    """Every logged value is the objective's double, bit for bit."""
    path = tmp_path / "p.noma"
    path.write_text(TWO_LOOPS)
    log = tmp_path / "loss.csv"
    assert (
        driver.run_program(str(path), backend="interp", stdout=io.StringIO(), loss_log=str(log))
        == 0
    )
    rows = read_log(log)
    assert [format_row(*r) for r in rows] == log.read_text().splitlines(keepends=True)[1:]


@pytest.mark.parametrize("backend", BACKENDS)
def test_loops_numbered_in_execution_order(tmp_path: Path, backend: str) -> None:
    (tmp_path / "p.noma").write_text(LOOP_IN_WHILE)
    proc = nomac("run", "p.noma", "--backend", backend, "--loss-log", "loss.csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = read_log(tmp_path / "loss.csv")
    assert [r[:2] for r in rows] == [(k, i) for k in range(3) for i in range(2)]


def test_no_loops_gives_header_only(tmp_path: Path) -> None:
    path = tmp_path / "p.noma"
    path.write_text('fn main() { print("x"); }\n')
    log = tmp_path / "loss.csv"
    assert (
        driver.run_program(str(path), backend="interp", stdout=io.StringIO(), loss_log=str(log))
        == 0
    )
    assert log.read_text() == HEADER


@pytest.mark.parametrize("backend", BACKENDS)
def test_nan_objective_is_logged_and_the_log_kept(tmp_path: Path, backend: str) -> None:
    (tmp_path / "p.noma").write_text(NAN_LOSS)
    proc = nomac("run", "p.noma", "--backend", backend, "--loss-log", "loss.csv", cwd=tmp_path)
    assert proc.returncode == 1
    assert "objective is NaN at iteration 2" in proc.stderr
    rows = read_log(tmp_path / "loss.csv")
    assert [r[:2] for r in rows] == [(0, 0), (0, 1)]
    assert rows[0][2] == 0.0 and math.isnan(rows[1][2])


def test_unwritable_loss_log_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "p.noma").write_text(TWO_LOOPS)
    proc = nomac(
        "run", "p.noma", "--backend", "interp", "--loss-log", "missing/loss.csv", cwd=tmp_path
    )
    assert proc.returncode == 1
    assert proc.stdout == ""  # the program did not run
    assert proc.stderr.startswith("error: cannot write the loss log 'missing/loss.csv'")


def test_compile_error_leaves_old_log(tmp_path: Path) -> None:
    (tmp_path / "p.noma").write_text("fn main() { let x = (1 + ; }\n")
    (tmp_path / "loss.csv").write_text("old\n")
    proc = nomac("run", "p.noma", "--backend", "interp", "--loss-log", "loss.csv", cwd=tmp_path)
    assert proc.returncode == 1
    assert (tmp_path / "loss.csv").read_text() == "old\n"


def test_progress_line(tmp_path: Path) -> None:
    """A loop long enough (well over 0.1 s in the interpreter) shows a line
    rewritten with \\r and ended with a newline before the warning."""
    (tmp_path / "p.noma").write_text(
        "fn main() {\n    learn w = 0;\n    let max_iterations = 1500;\n"
        "    optimize(w) with sgd(0.0001) until l < 0 {\n"
        "        let l = (w - 1) ** 2;\n        minimize l;\n    }\n}\n"
    )
    proc = nomac("run", "p.noma", "--backend", "interp", "--progress", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    progress, warning = proc.stderr.split("\n")[:2]
    assert progress.startswith("\roptimize loop 0 at p.noma:4:5: iteration ")
    last = sgd_losses(0.0, 1.0, 1e-4, 1500)[1][-1]
    assert progress.rstrip().endswith(f"iteration 1499, loss {last:.8g}")
    assert warning.startswith("warning: optimize loop at p.noma:4:5 reached max_iterations")


def test_disabled_by_default(tmp_path: Path) -> None:
    (tmp_path / "p.noma").write_text(TWO_LOOPS)
    proc = nomac("run", "p.noma", "--backend", "interp", cwd=tmp_path)
    assert proc.returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.noma"]
    assert "\r" not in proc.stderr


# ----------------------------------------------------------------- the monitor


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_monitor_progress_throttled() -> None:
    clock, out = FakeClock(), io.StringIO()
    mon = TrainingMonitor(progress=out, interval=0.1, clock=clock)
    mon.begin_loop("p.noma:3:5")
    for i in range(99):  # 1 ms per iteration: 0.099 s in all, nothing shown
        clock.now += 0.001
        mon.record(i, 1.0 / (i + 1))
    assert out.getvalue() == ""
    for i in range(99, 1000):
        clock.now += 0.001
        mon.record(i, 1.0 / (i + 1))
    shown = out.getvalue().split("\r")[1:]
    assert 8 <= len(shown) <= 10  # at most one update per 0.1 s
    mon.end_loop()
    text = out.getvalue()
    assert text.endswith("\n")
    assert (
        text.split("\r")[-1].rstrip() == "optimize loop 0 at p.noma:3:5: iteration 999, loss 0.001"
    )
    mon.begin_loop("p.noma:9:5")  # a short loop shows nothing
    mon.record(0, 2.0)
    mon.close()
    assert out.getvalue() == text


def test_monitor_pads_shorter_lines() -> None:
    clock, out = FakeClock(), io.StringIO()
    mon = TrainingMonitor(progress=out, interval=0.0, clock=clock)
    mon.begin_loop()
    mon.record(9, 0.123456789)
    mon.record(10, 1.0)
    first, second = out.getvalue().split("\r")[1:]
    assert len(second) == len(first) and second.rstrip().endswith("loss 1")


def test_monitor_log_format() -> None:
    log = io.StringIO()
    mon = TrainingMonitor(loss_log=log)
    mon.begin_loop()
    mon.record(0, 0.1)
    mon.record(1, math.inf)
    mon.begin_loop()
    mon.record(0, -0.0)
    mon.close()
    assert log.getvalue() == "0,0,0.10000000000000001\n0,1,inf\n1,0,-0\n"


# ----------------------------------------------------------------- JIT


@pytest.mark.skipif(shutil.which("cc") is None, reason="the JIT's runtime needs a C compiler")
def test_jit_loss_log_twice_in_one_process(tmp_path: Path) -> None:
    """Two JIT runs in one process writing the same log: both logs complete."""
    (tmp_path / "p.noma").write_text(TWO_LOOPS)
    script = (
        "from noma import driver\n"
        "for _ in range(2):\n"
        "    assert driver.run_program('p.noma', backend='jit', loss_log='loss.csv') == 0\n"
        "    print(open('loss.csv').read().count('\\n'), flush=True)\n"
    )
    environ = {k: v for k, v in os.environ.items() if k != "NOMA_LOSS_LOG"}
    environ["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=environ, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    counts = [line for line in proc.stdout.splitlines() if line.isdigit()]
    assert counts == ["16", "16"]  # header + 12 + 3 rows, each time
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loss.csv", "p.noma"]
