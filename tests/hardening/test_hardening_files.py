"""Hostile input files (hostile_files.py) through every backend (SPEC §8, §11).

Each case is one input file, safetensors or CSV: a huge header length, bad
JSON, offsets outside the file, unknown dtypes, shape/size mismatches,
ragged rows, junk, NaN/inf, enormous lines, a folder, a FIFO, no file at
all, and a few valid files the readers must not reject. A program loads it;
the run must print the file's tensor, or stop with status 1 and a SPEC §11
report (`error: ... at prog.noma:L:C`, the source line, a caret) whose
message names the file, and never hang or show a traceback.

- Interpreter: every case in-process through `driver.run_program` (what
  `nomac run --backend interp` calls), a few through the real command line.
- JIT: the program is compiled once in a child process, which then runs it
  once per case (each in the case's folder, its fds 1 and 2 sent to files).
- Executable: built once with `nomac build-exe`, run once per case.
"""

from __future__ import annotations

import os
import re
import subprocess
from io import StringIO
from pathlib import Path

import pytest
from hardening_support import (
    Hang,
    Outcome,
    assert_user_error,
    build_exe,
    native_available,
    run_cli,
    run_exe,
    run_jit_batch,
    time_limit,
)
from hostile_files import (
    CSV_CASES,
    CSV_NAME,
    CSV_PROGRAM,
    SAFETENSORS_CASES,
    SAFETENSORS_PROGRAM,
    ST_NAME,
    Case,
)

from noma import driver

KINDS = {
    "safetensors": (SAFETENSORS_PROGRAM, ST_NAME, SAFETENSORS_CASES),
    "csv": (CSV_PROGRAM, CSV_NAME, CSV_CASES),
}
ALL = [(kind, case) for kind, (_, _, cases) in KINDS.items() for case in cases]
IDS = [f"{kind}-{case.name}" for kind, case in ALL]
#: Cases whose file could block a reader that opens it naively: each native
#: run of these gets its own process and a timeout.
BLOCKING = {"is_a_fifo"}
RUN_LIMIT_S = 30.0
#: Known problems of the native runtime, reported to its owners: case -> why.
NATIVE_XFAIL: dict[str, str] = {}


def test_catalog_counts() -> None:
    """The catalog is as large as the report says (kept in sync by hand)."""
    assert len(SAFETENSORS_CASES) >= 45 and len(CSV_CASES) >= 20
    assert len({c.name for c in SAFETENSORS_CASES}) == len(SAFETENSORS_CASES)
    assert len({c.name for c in CSV_CASES}) == len(CSV_CASES)


def make_case(root: Path, kind: str, case: Case) -> Path:
    """A folder with the program and the case's input file; returns it."""
    program, name, _ = KINDS[kind]
    folder = root / f"{kind}-{case.name}"
    folder.mkdir(parents=True)
    (folder / "prog.noma").write_text(program, encoding="utf-8")
    target = folder / name
    if case.make is not None:
        case.make(str(target))
    elif case.content is not None:
        target.write_bytes(case.content)
    return folder


def check(kind: str, case: Case, outcome: Outcome) -> None:
    program, name, _ = KINDS[kind]
    why = f"case {kind}/{case.name}: {outcome.describe()}"
    if case.ok:
        want = "start\n" + "".join(line + "\n" for line in case.output or ())
        assert (outcome.status, outcome.stdout, outcome.stderr) == (0, want, ""), why
        return
    lines = program.split("\n")
    assert_user_error(outcome, file="prog.noma")
    first, echoed = outcome.stderr.split("\n")[:2]
    m = re.search(r" at (?:\S*/)?prog\.noma:(\d+):\d+$", first)
    assert m is not None, why
    assert echoed.strip() == lines[int(m[1]) - 1].strip(), why
    assert name in first, f"the message does not name the file {name}: {why}"
    if case.expect is not None:
        assert re.search(case.expect, first, re.IGNORECASE), f"{case.expect!r}: {why}"
    assert outcome.stdout == "start\n", why


# ----------------------------------------------------------------- interpreter


@pytest.mark.parametrize(("kind", "case"), ALL, ids=IDS)
def test_interpreter(
    tmp_path: Path, kind: str, case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = make_case(tmp_path, kind, case)
    monkeypatch.chdir(folder)
    out, err = StringIO(), StringIO()
    try:
        with time_limit(RUN_LIMIT_S):
            status = driver.run_program("prog.noma", backend="interp", stdout=out, stderr=err)
    except Hang:
        pytest.fail(f"the interpreter hangs on {kind}/{case.name}")
    check(kind, case, Outcome(status, out.getvalue(), err.getvalue()))


@pytest.mark.parametrize(
    ("kind", "name"), [("safetensors", "huge_header_length"), ("csv", "ragged_short")]
)
def test_interpreter_command_line(tmp_path: Path, kind: str, name: str) -> None:
    case = next(c for c in KINDS[kind][2] if c.name == name)
    folder = make_case(tmp_path, kind, case)
    check(kind, case, run_cli(["run", "--backend", "interp", "prog.noma"], folder))


# ----------------------------------------------------------------- native backends


@pytest.fixture(scope="module")
def native(tmp_path_factory: pytest.TempPathFactory) -> Path:
    why = native_available()
    if why is not None:
        pytest.skip(why)
    return tmp_path_factory.mktemp("hostile-native")


@pytest.fixture(scope="module")
def jit_results(native: Path) -> dict[str, Outcome]:
    root = native / "jit"
    results: dict[str, Outcome] = {}
    for kind, (_, _, cases) in KINDS.items():
        folders = [make_case(root, kind, c) for c in cases if c.name not in BLOCKING]
        results.update({f.name: outcome for f, outcome in run_jit_batch(folders).items()})
    return results


@pytest.fixture(scope="module")
def exes(native: Path) -> dict[str, Path]:
    out = {}
    for kind, (program, _, _) in KINDS.items():
        folder = native / f"exe-{kind}"
        folder.mkdir()
        (folder / "prog.noma").write_text(program, encoding="utf-8")
        out[kind] = build_exe(folder / "prog.noma", folder / "prog")
    return out


def _native_marks(case: Case) -> list[pytest.MarkDecorator]:
    # Not run while known to hang (each would cost its whole timeout):
    # remove the entry from NATIVE_XFAIL once the runtime is fixed.
    if case.name in NATIVE_XFAIL:
        return [pytest.mark.xfail(reason=NATIVE_XFAIL[case.name], run=False)]
    return []


NATIVE = [
    pytest.param(k, c, id=i, marks=_native_marks(c)) for (k, c), i in zip(ALL, IDS, strict=True)
]


@pytest.mark.parametrize(("kind", "case"), NATIVE)
def test_jit(native: Path, jit_results: dict[str, Outcome], kind: str, case: Case) -> None:
    if case.name in BLOCKING:
        folder = make_case(native / "jit-alone", kind, case)
        try:
            outcome = run_cli(["run", "--backend", "jit", "prog.noma"], folder, timeout=RUN_LIMIT_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the JIT hangs on {kind}/{case.name}")
    else:
        outcome = jit_results[f"{kind}-{case.name}"]
    check(kind, case, outcome)


@pytest.mark.parametrize(("kind", "case"), NATIVE)
def test_executable(native: Path, exes: dict[str, Path], kind: str, case: Case) -> None:
    folder = make_case(native / "exe-runs", kind, case)
    try:
        outcome = run_exe(exes[kind], folder, timeout=10 if case.name in BLOCKING else RUN_LIMIT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the executable hangs on {kind}/{case.name}")
    check(kind, case, outcome)


def test_jit_command_line(native: Path) -> None:
    """One case through the real `nomac run --backend jit`."""
    case = next(c for c in SAFETENSORS_CASES if c.name == "offsets_outside")
    folder = make_case(native / "jit-cli", "safetensors", case)
    check("safetensors", case, run_cli(["run", "--backend", "jit", "prog.noma"], folder))


def test_files_are_not_left_open_or_written(native: Path) -> None:
    """Reading never writes: after every executable run, each case folder
    holds exactly what the test put there."""
    root = native / "exe-runs"
    if not root.is_dir():
        pytest.skip("the executable runs did not happen")
    for folder in root.iterdir():
        names = sorted(os.listdir(folder))
        assert set(names) <= {"prog.noma", ST_NAME, CSV_NAME}, (folder, names)
