"""`nomac run --progress` with the native code (the JIT, the default backend)
and `NOMA_PROGRESS=1` for executables built by `nomac build-exe`: the C
runtime keeps the progress line (docs/cli.md; the interpreter's is tested in
tests/test_loss_log.py, the runtime's timing in tests/runtime_c)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    shutil.which("cc") is None, reason="the native runtime needs a C compiler"
)

#: A first loop of about 34.5 million SGD steps (well over 0.1 s of native
#: code: it shows the line), stopped by its `until`; a second, short one
#: (no line).
PROGRAM = """fn main() {
    learn w = 0;
    let max_iterations = 100000000;
    optimize(w) with sgd(0.0000001) until l < 0.000001 {
        let l = (w - 1) ** 2;
        minimize l;
    }
    print(w);
    optimize(w) with sgd(0.1) until l2 < 0.01 {
        let l2 = (w - 2) ** 2;
        minimize l2;
    }
    print(w);
}
"""
STDOUT = "0.999\n1.914014755\n"
LINE = re.compile(r"optimize loop 0 at p\.noma:4:5: iteration (\d+), loss (\S+) *")


def clean_env() -> dict[str, str]:
    drop = ("NOMA_DEBUG", "NOMA_LOSS_LOG", "NOMA_PROGRESS")
    environ = {k: v for k, v in os.environ.items() if k not in drop}
    environ["PYTHONPATH"] = str(ROOT)
    return environ


def run(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, timeout=300)
    # bytes: text mode would turn the progress line's \r into \n
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def check_progress(stderr: str) -> int:
    """The line of loop 0, rewritten with \\r and ended by one newline;
    returns its last iteration."""
    assert stderr.startswith("\r") and stderr.endswith("\n"), repr(stderr[-200:])
    assert stderr.count("\n") == 1  # the short second loop shows nothing
    shown = stderr[1:-1].split("\r")
    iterations = []
    for text in shown:
        match = LINE.fullmatch(text)
        assert match is not None, repr(text)
        iterations.append(int(match[1]))
        float(match[2])
    assert iterations == sorted(iterations)
    last = LINE.fullmatch(shown[-1])
    assert last is not None
    assert float(last[2]) < 1e-6  # the iteration whose `until` held
    return iterations[-1]


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("progress")
    (folder / "p.noma").write_text(PROGRAM)
    return folder


def test_jit_progress_line(program: Path) -> None:
    nomac = [sys.executable, "-m", "noma.cli", "run", "p.noma"]
    status, out, err = run([*nomac, "--progress"], program, clean_env())
    assert status == 0, err
    assert out == STDOUT
    last = check_progress(err)
    assert last > 1_000_000
    status, out, err = run(nomac, program, clean_env())
    assert (status, out, err) == (0, STDOUT, "")


def test_executable_progress_line(program: Path) -> None:
    build = [sys.executable, "-m", "noma.cli", "build-exe", "p.noma", "-o", "prog"]
    status, _, err = run(build, program, clean_env())
    assert status == 0, err
    status, out, err = run(["env", "-i", "NOMA_PROGRESS=1", "./prog"], program, clean_env())
    assert status == 0, err
    assert out == STDOUT
    check_progress(err)
    for off in ([], ["NOMA_PROGRESS=0"]):
        status, out, err = run(["env", "-i", *off, "./prog"], program, clean_env())
        assert (status, out, err) == (0, STDOUT, "")


ENDLESS = """fn main() {
    learn w = 0;
    let max_iterations = 1e15;
    optimize(w) with sgd(0.0000001) until l < -1 {
        let l = (w - 1) ** 2;
        minimize l;
    }
}
"""


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_interrupt_ends_the_progress_line(tmp_path: Path) -> None:
    """Ctrl-C during a loop that shows the line: the line gets its newline
    before `interrupted`, and the status is 130."""
    (tmp_path / "e.noma").write_text(ENDLESS)
    build = [sys.executable, "-m", "noma.cli", "build-exe", "e.noma", "-o", "endless"]
    status, _, err = run(build, tmp_path, clean_env())
    assert status == 0, err
    proc = subprocess.Popen(
        ["env", "-i", "NOMA_PROGRESS=1", "./endless"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        time.sleep(0.8)  # the line shows after 0.1 s of the loop
        proc.send_signal(signal.SIGINT)
        _, raw = proc.communicate(timeout=30)
    finally:
        proc.kill()
    err = raw.decode()
    assert proc.returncode == 130, err
    assert err.startswith("\r") and err.endswith("\ninterrupted\n"), repr(err[-200:])
    last = err[: -len("\ninterrupted\n")].split("\r")[-1]
    assert re.fullmatch(r"optimize loop 0 at e\.noma:4:5: iteration \d+, loss \S+ *", last), last
