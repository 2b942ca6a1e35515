"""Differential testing: the native backends against the reference interpreter.

Generated programs (program_gen.py, `programs(wide=True)`: rank 1-4
tensors, broadcasting, reductions, matmul, control flow, user functions,
training with reallocs, random draws, files, run-time errors; see there)
are compiled once (`noma.compile`) and
run by the interpreter and by the JIT (`Program.run(backend=...)`, the JIT
in a forked child so that a crash or a hang of native code is a test
failure, not the end of the test session); a sample is also built with
`nomac build-exe` and the executable run. Every way of running a program
must give the same outcome (SPEC §9: "all three print the same results"):

- the same stdout (the printed values, then main's return value) and the
  same stderr before an error (max_iterations warnings);
- success for both, or the same run-time error: message and position;
- (JIT) the same return value and final learnable parameters, shapes
  included.

Numbers are compared with a small relative tolerance (`NUM_REL_TOL`), all
else exactly: the native code's `exp`, `tanh` and `sigmoid` of tensors are
vectorised polynomials within 1-2.5 ulp of the exact result, its matrix
products use fused multiply-adds (numpy: BLAS), and numpy's own SIMD
`exp`/`log`/`sin`... differ from libm's by an ulp or two too (see
noma/backend/runtime_c/README.md), so two correct backends may differ in
the last bits, which training loops can grow a little (printing with
`%.10g` hides most of it). The same ulps can decide a comparison or a
`floor` at a boundary; `fragile()` recognizes those programs by running the
interpreter again with every inexact operation's result nudged by an ulp,
and a program whose output moves with that nudge is not held against the
native code.

CI runs a few dozen programs (and builds a handful of executables);
NOMA_FUZZ_EXAMPLES=N runs N of each. The minimal programs of the
discrepancies found so far are lit tests in tests/filecheck/differential/.
"""

from __future__ import annotations

import contextlib
import math
import os
import pickle
import re
import signal
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hardening_support import (
    Hang,
    examples,
    native_available,
    run_cli,
    run_exe,
    time_limit,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from program_gen import programs

import noma
from noma.api import _error_from_stderr

RUN_LIMIT_S = 60.0
#: Relative tolerance for printed numbers, return values and parameters (see above).
NUM_REL_TOL = 1e-6
NUM_ABS_TOL = 1e-9
SEEDS = (0, 7, 12345)

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|inf|nan)", re.IGNORECASE)


@pytest.fixture(scope="module", autouse=True)
def _native() -> None:
    why = native_available()
    if why is not None:
        pytest.skip(why)


# ----------------------------------------------------------------- outcomes


@dataclass
class Outcome:
    """What one run gave; `error` is (message, position) or None."""

    stdout: str
    stderr: str
    error: tuple[str, str] | None = None
    value: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    #: Set when native code crashed or hung (the child's fate), else "".
    crash: str = ""

    def describe(self) -> str:
        error = f"error: {self.error[0]} at {self.error[1]}\n" if self.error else ""
        return f"{self.crash}--- stdout\n{self.stdout}--- stderr\n{self.stderr}{error}"


def _outcome(run: Callable[[], noma.RunResult]) -> Outcome:
    try:
        r = run()
    except noma.RuntimeError as e:
        return Outcome(e.output, e.stderr, (e.message, str(e.loc)))
    return Outcome(r.output, r.stderr, None, r.value, dict(r.params))


def run_interp(program: noma.Program, seed: int) -> Outcome:
    try:
        with time_limit(RUN_LIMIT_S):
            return _outcome(lambda: program.run(seed=seed, backend="interp"))
    except Hang:
        pytest.fail(f"the interpreter ran longer than {RUN_LIMIT_S} s")


def run_jit(program: noma.Program, seed: int) -> Outcome:
    """The JIT's outcome, compiled and run in a forked child."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 3
        try:
            os.close(read)
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            signal.alarm(int(RUN_LIMIT_S))
            data = pickle.dumps(_outcome(lambda: program.run(seed=seed, backend="jit")))
            with os.fdopen(write, "wb") as f:
                f.write(data)
            status = 0
        except BaseException as e:  # noqa: BLE001 - reported through the pipe
            with contextlib.suppress(BaseException), os.fdopen(write, "wb") as f:
                f.write(pickle.dumps(Outcome("", "", crash=f"exception: {e!r}\n")))
        finally:
            os._exit(status)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        data = f.read()
    _, wait_status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(wait_status):
        sig = signal.Signals(os.WTERMSIG(wait_status)).name
        why = "a hang (SIGALRM)" if sig == "SIGALRM" else sig
        return Outcome("", "", crash=f"the JIT child died: {why}\n")
    if not data:
        return Outcome("", "", crash=f"the JIT child exited with {wait_status} and no result\n")
    return pickle.loads(data)


def run_executable(exe: Path, folder: Path, seed: int) -> Outcome:
    ran = run_exe(exe, folder, timeout=RUN_LIMIT_S, args=["--seed", str(seed)])
    if ran.status == 0:
        return Outcome(ran.stdout, ran.stderr)
    if ran.status != 1:
        return Outcome(ran.stdout, ran.stderr, crash=f"exit status {ran.status}\n")
    error, before = _error_from_stderr(ran.stderr)
    return Outcome(ran.stdout, before, (error.message, str(error.loc)))


# ----------------------------------------------------------------- comparison


def _close(x: float, y: float) -> bool:
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    if x == y:  # -0 and 0 print differently
        return math.copysign(1.0, x) == math.copysign(1.0, y)
    return math.isclose(x, y, rel_tol=NUM_REL_TOL, abs_tol=NUM_ABS_TOL)


def same_text(a: str, b: str) -> bool:
    """Equal, numbers up to NUM_REL_TOL."""
    if a == b:
        return True
    na, nb = _NUMBER.findall(a), _NUMBER.findall(b)
    if _NUMBER.split(a) != _NUMBER.split(b) or len(na) != len(nb):
        return False
    return all(_close(float(x), float(y)) for x, y in zip(na, nb, strict=True))


def same_value(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        return False
    return all(_close(float(p), float(q)) for p, q in zip(x.flat, y.flat, strict=True))


def differences(ref: Outcome, other: Outcome, values: bool = True) -> list[str]:
    """What differs between the interpreter's outcome and another backend's."""
    if other.crash:
        return [other.crash]
    out = []
    if not same_text(ref.stdout, other.stdout):
        out.append("stdout")
    if not same_text(ref.stderr, other.stderr):
        out.append("stderr")
    if ref.error != other.error:
        out.append("error")
    if values and ref.error is None and other.error is None:
        if not same_value(ref.value, other.value):
            out.append("return value")
        if ref.params.keys() != other.params.keys():
            out.append(f"parameter names {sorted(ref.params)} vs {sorted(other.params)}")
        else:
            out += [f"parameter {k}" for k in ref.params
                    if not same_value(ref.params[k], other.params[k])]  # fmt: skip
    return out


def report(src: str, seed: int, what: str, ref: Outcome, other: Outcome, diff: list[str]) -> str:
    return (
        f"{what} differs from the interpreter (seed {seed}): {', '.join(diff)}\n"
        f"=== interpreter\n{ref.describe()}value {ref.value!r}\nparams {ref.params!r}\n"
        f"=== {what}\n{other.describe()}value {other.value!r}\nparams {other.params!r}\n"
        f"=== program\n{src}"
    )


# ----------------------------------------------------------------- fragile programs

#: numpy functions whose results are not correctly rounded in some backend
#: (libm, numpy's SIMD loops, the runtime's polynomials, FMA matrix
#: products): the ones `nudged()` perturbs.
_INEXACT = ("exp", "tanh", "log", "sin", "cos", "tan", "power", "matmul", "dot")


@contextlib.contextmanager
def nudged(direction: float) -> Iterator[None]:
    """Run the interpreter with the result of every inexact numpy function it
    calls moved one ulp towards `direction` (+inf or -inf): through the
    module's `np` (softmax, sigmoid, matmul, ...) and the functions the
    element-wise ops' implementations hold (`interp_tensor.UNARY`, `BINARY`)."""
    from noma.backend import interp_tensor

    real = interp_tensor.np
    inexact = {getattr(real, name): name for name in _INEXACT}

    def nudge(fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            return real.nextafter(fn(*args, **kwargs), direction)

        return wrapped

    class Nudged:
        def __getattr__(self, name: str) -> Any:
            fn = getattr(real, name)
            return nudge(fn) if name in _INEXACT else fn

    cells = []  # the closure cells holding them in the element-wise implementations

    def find(fn: Any, depth: int = 0) -> None:  # through xDSL's `impl` wrapper
        for cell in getattr(fn, "__closure__", None) or ():
            held = cell.cell_contents
            if callable(held) and held in inexact:
                cells.append((cell, held))
            elif callable(held) and depth < 3:
                find(held, depth + 1)

    table = interp_tensor.NomaTensorFunctions
    for op in (*interp_tensor.UNARY, *interp_tensor.BINARY):
        find(getattr(table, "run_" + op.name.split(".")[-1]))
    interp_tensor.np = Nudged()  # type: ignore[assignment]
    for cell, fn in cells:
        cell.cell_contents = nudge(fn)
    try:
        yield
    finally:
        interp_tensor.np = real
        for cell, fn in cells:
            cell.cell_contents = fn


def fragile(program: noma.Program, seed: int, ref: Outcome) -> bool:
    """Does the interpreter's outcome move when inexact results move by an ulp?"""
    for direction in (math.inf, -math.inf):
        with nudged(direction):
            moved = run_interp(program, seed)
        if differences(ref, moved):
            return True
    return False


# ----------------------------------------------------------------- the tests


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Programs write tmp_gen_*.csv files: run them in a folder of their own."""
    return tmp_path_factory.mktemp("differential")


def compile_program(src: str, filename: str = "gen.noma") -> noma.Program:
    try:
        return noma.compile(src, filename=filename)
    except noma.CompileError as e:  # the generator makes valid programs only
        pytest.fail(f"a generated program does not compile:\n{e.format()}\n{src}")


@settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(src=programs(wide=True), seed=st.sampled_from(SEEDS))
def test_jit_matches_interpreter(workdir: Path, src: str, seed: int) -> None:
    with contextlib.chdir(workdir):
        program = compile_program(src)
        ref = run_interp(program, seed)
        jit = run_jit(program, seed)
        diff = differences(ref, jit)
        if diff and not jit.crash and fragile(program, seed, ref):
            return
        assert not diff, report(src, seed, "the JIT", ref, jit, diff)


@settings(
    max_examples=examples(4),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(src=programs(wide=True), seed=st.sampled_from(SEEDS))
def test_executable_matches_interpreter(src: str, seed: int) -> None:
    with tempfile.TemporaryDirectory(prefix="noma-diff-exe-") as tmp:
        folder = Path(tmp)
        (folder / "prog.noma").write_text(src, encoding="utf-8")
        with contextlib.chdir(folder):
            program = compile_program(src, "prog.noma")
            ref = run_interp(program, seed)
        built = run_cli(["build-exe", "prog.noma", "-o", "prog"], folder)
        assert built.status == 0, f"nomac build-exe failed:\n{built.describe()}\n{src}"
        got = run_executable(folder / "prog", folder, seed)
        diff = differences(ref, got, values=False)
        if diff and not got.crash:
            with contextlib.chdir(folder):
                if fragile(program, seed, ref):
                    return
        assert not diff, report(src, seed, "the executable", ref, got, diff)
