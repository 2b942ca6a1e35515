"""Helpers shared by the hardening tests (tests/hardening/test_hardening_*.py).

- `time_limit(seconds)`: raise `Hang` (a BaseException, so no `except
  Exception` in the compiler can swallow it) when a block runs too long;
- `examples(n)`: the hypothesis example count, scaled by NOMA_FUZZ_EXAMPLES;
- `run_cli`, `build_exe`, `native_available`: whole programs in subprocesses;
- `assert_user_error`: the SPEC §11 shape of an error report.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONFORMANCE = REPO.parent / "shared" / "conformance"

#: NOMA_FUZZ_EXAMPLES=N runs every fuzz test with N examples instead of its CI default.
FUZZ_ENV = "NOMA_FUZZ_EXAMPLES"


def examples(default: int) -> int:
    value = os.environ.get(FUZZ_ENV)
    return int(value) if value else default


class Hang(BaseException):
    """A block ran past its time limit."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise `Hang` in the main thread after `seconds` (SIGALRM; POSIX only)."""
    if not hasattr(signal, "setitimer"):
        yield
        return

    def on_alarm(signum: int, frame: object) -> None:
        raise Hang(f"ran longer than {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# ----------------------------------------------------------------- subprocesses


@dataclass(frozen=True)
class Outcome:
    status: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return f"status {self.status}\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"


def child_env() -> dict[str, str]:
    """The environment of child processes: this checkout importable, no debug tracebacks."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.pop("NOMA_DEBUG", None)
    return env


NOMAC = [sys.executable, "-m", "noma.cli"]


def run_cli(args: Sequence[str], cwd: Path, timeout: float = 120) -> Outcome:
    proc = subprocess.run(
        [*NOMAC, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
        env=child_env(),
        check=False,
    )
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


def run_exe(exe: Path, cwd: Path, timeout: float = 60, args: Sequence[str] = ()) -> Outcome:
    proc = subprocess.run(
        [str(exe), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
        env={},
        check=False,
    )
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


#: Compiles prog.noma of the first folder once, then runs it in every folder
#: given, with fds 1 and 2 sent to out.txt and err.txt there; writes status.txt.
JIT_BATCH = """
import ctypes, os, sys
from noma import driver
from noma.backend.jit import compile_jit

folders = sys.argv[1:]
libc = ctypes.CDLL(None)

def flush():
    sys.stdout.flush(); sys.stderr.flush(); libc.fflush(None)

def compile_program():
    ctx = driver.make_driver_context()
    module = driver.load_module("prog.noma", ctx)
    driver.run_passes(module, driver.default_pipeline(), ctx=ctx, verify_each=False)
    return compile_jit(module)

os.chdir(folders[0])
program = compile_program()
saved = os.dup(1), os.dup(2)
for folder in folders:
    os.chdir(folder)
    out = os.open("out.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    err = os.open("err.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    flush(); os.dup2(out, 1); os.dup2(err, 2)
    try:
        status = program.run(0)
    finally:
        flush(); os.dup2(saved[0], 1); os.dup2(saved[1], 2); os.close(out); os.close(err)
    with open("status.txt", "w") as f:
        f.write(str(status))
"""


def run_jit_batch(folders: Sequence[Path], timeout: float = 300) -> dict[Path, Outcome]:
    """Run the same program (prog.noma, the same text in every folder) with the
    JIT once per folder, in one child process that compiles it once."""
    proc = subprocess.run(
        [sys.executable, "-c", JIT_BATCH, *map(str, folders)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_env(),
        check=False,
    )
    assert proc.returncode == 0, f"the JIT batch failed:\n{proc.stdout}\n{proc.stderr}"
    return {folder: read_outcome(folder) for folder in folders}


def read_outcome(folder: Path) -> Outcome:
    def text(name: str) -> str:
        return (folder / name).read_bytes().decode("utf-8", "replace")

    return Outcome(int(text("status.txt")), text("out.txt"), text("err.txt"))


def build_exe(program: Path, out: Path) -> Path:
    result = run_cli(["build-exe", str(program), "-o", str(out)], program.parent)
    assert result.status == 0, f"nomac build-exe failed:\n{result.describe()}"
    return out


_PROBE = 'fn main() {\n    print("probe");\n}\n'


@cache
def native_available() -> str | None:
    """None when the JIT (`nomac run --backend jit`) and `nomac build-exe` work here,
    else why not (tests of native code skip with that reason)."""
    if shutil.which("cc") is None:
        return "no C compiler (cc) on PATH: the native backends need one"
    if not (REPO / "noma" / "backend" / "jit.py").is_file():
        return "noma/backend/jit.py does not exist yet"
    import tempfile

    with tempfile.TemporaryDirectory(prefix="noma-probe-") as tmp:
        folder = Path(tmp)
        (folder / "probe.noma").write_text(_PROBE)
        jit = run_cli(["run", "--backend", "jit", "probe.noma"], folder)
        if jit.status != 0 or jit.stdout != "probe\n":
            return f"nomac run --backend jit does not work yet: {jit.stderr.strip()[:300]}"
        exe = run_cli(["build-exe", "probe.noma", "-o", "probe"], folder)
        if exe.status != 0:
            return f"nomac build-exe does not work yet: {exe.stderr.strip()[:300]}"
        ran = run_exe(folder / "probe", folder)
        if ran.status != 0 or ran.stdout != "probe\n":
            return f"executables from nomac build-exe do not run: {ran.describe()[:300]}"
    return None


# ----------------------------------------------------------------- error reports

_FIRST_LINE = re.compile(r"^error: .+ at (?P<file>[^\n]+):(?P<line>\d+):(?P<col>\d+)$")


def assert_user_error(outcome: Outcome, *, file: str | None = None, line: int | None = None,
                      source: str | None = None, phrase: str | None = None) -> None:  # fmt: skip
    """Status 1 and a SPEC §11 report: `error: ... at FILE:LINE:COL`, then the
    source line (containing `source`), no traceback, no internal error.
    `phrase` is a regex the message must match (case-insensitive)."""
    why = outcome.describe()
    assert outcome.status == 1, why
    assert "Traceback" not in outcome.stderr, why
    assert "internal compiler error" not in outcome.stderr, why
    lines = outcome.stderr.splitlines()
    starts = [i for i, text in enumerate(lines) if text.startswith("error: ")]
    assert starts, why
    first = lines[starts[0]]
    if file is not None or line is not None or source is not None:
        m = _FIRST_LINE.match(first)
        assert m, f"no 'at FILE:LINE:COL' in {first!r}\n{why}"
        if file is not None:
            assert Path(m["file"]).name == Path(file).name, why
        if line is not None:
            assert int(m["line"]) == line, why
        if source is not None:
            assert starts[0] + 1 < len(lines) and source in lines[starts[0] + 1], why
    if phrase is not None:
        assert re.search(phrase, first, re.IGNORECASE), f"{phrase!r} not in {first!r}\n{why}"


# ----------------------------------------------------------------- many cases, one program


@dataclass(frozen=True)
class ErrorCase:
    """A program fragment that must stop with a run-time error.

    `body` is the body of a function `fn caseN(one)` (`one` is 1.0, read
    from a file, so nothing built from it is known at compile time); the
    line ending in `// <-` is where the error must be reported. `phrase` is
    a regex the message must match; `output` what is printed before."""

    name: str
    body: str
    phrase: str
    output: tuple[str, ...] = ()


MARK = "// <-"


@dataclass(frozen=True)
class SelectorProgram:
    """One program holding every case of a list: it reads `case.csv` (`K,1`)
    and runs case K, so that one compiled program (JIT, executable) serves
    every case."""

    cases: tuple[ErrorCase, ...]

    def text(self) -> str:
        lines: list[str] = []
        for k, case in enumerate(self.cases):
            lines.append(f"fn case{k}(one) {{")
            lines += ["    " + line for line in case.body.strip("\n").split("\n")]
            lines.append("}")
        lines += ["fn main() {", '    load_csv sel = "case.csv";', "    let k = sel[0][0];",
                  "    let one = sel[0][1];"]  # fmt: skip
        lines += [f"    if k == {k} {{ case{k}(one); }}" for k in range(len(self.cases))]
        lines.append("}")
        return "\n".join(lines) + "\n"

    def error_line(self, k: int) -> tuple[int, str]:
        """(line number, source text) of the `// <-` line of case k."""
        for number, line in enumerate(self.text().split("\n"), start=1):
            if line.rstrip().endswith(MARK) and f"case{k}" in self._function_at(number):
                return number, line.split(MARK)[0].strip()
        raise AssertionError(f"case {self.cases[k].name} has no line marked {MARK!r}")

    def _function_at(self, number: int) -> str:
        lines = self.text().split("\n")[:number]
        return next(line for line in reversed(lines) if line.startswith("fn "))

    def folders(self, root: Path) -> list[Path]:
        """One folder per case with prog.noma and case.csv."""
        out = []
        text = self.text()
        for k, case in enumerate(self.cases):
            folder = root / f"{k:02d}-{case.name}"
            folder.mkdir(parents=True)
            (folder / "prog.noma").write_text(text, encoding="utf-8")
            (folder / "case.csv").write_text(f"{k},1\n", encoding="utf-8")
            out.append(folder)
        return out

    def check(self, k: int, outcome: Outcome) -> None:
        case = self.cases[k]
        line, source = self.error_line(k)
        assert_user_error(outcome, file="prog.noma", line=line, source=source, phrase=case.phrase)
        want = "".join(text + "\n" for text in case.output)
        assert outcome.stdout == want, f"case {case.name}: {outcome.describe()}"


def run_interp_in_folder(folder: Path, limit: float = 60.0) -> Outcome:
    """`nomac run --backend interp prog.noma` in `folder`, in-process."""
    from io import StringIO

    from noma import driver

    out, err = StringIO(), StringIO()
    old = Path.cwd()
    os.chdir(folder)
    try:
        with time_limit(limit):
            status = driver.run_program("prog.noma", backend="interp", stdout=out, stderr=err)
    finally:
        os.chdir(old)
    return Outcome(status, out.getvalue(), err.getvalue())
