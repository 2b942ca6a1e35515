"""The example programs in examples/: each runs (`nomac run NAME.noma`, in a
temporary folder holding a copy, since some write files) and prints what
examples/expected/NAME.out says, compared line by line as the conformance
suite compares (numbers to 1e-6 relative; tests/output_compare.py).

Both backends: the interpreter always, the JIT when `nomac run --backend
jit` works here (else those cases are skipped, saying why).

The expected outputs were made by running the examples; the tests below the
first ones check that their numbers are right by independent computations
(numpy: closed forms, hand-written optimizers, the XOR baselines of
../shared/bench), so a wrong expected file cannot slip in.

`NOMA_UPDATE_EXPECTED=1 pytest tests/test_examples.py` rewrites the expected
outputs from the interpreter (then review the diff).
"""

from __future__ import annotations

import importlib.util
import io
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from output_compare import line_matches, mismatches, parse_numeric

from noma import driver
from noma.backend import interp
from noma.backend.runtime.fmt import format_value

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
EXPECTED = EXAMPLES / "expected"
CONFORMANCE_RUNNER = ROOT.parent / "shared" / "conformance" / "run_conformance.py"
NAMES = sorted(p.stem for p in EXAMPLES.glob("*.noma"))
UPDATE = os.environ.get("NOMA_UPDATE_EXPECTED") == "1"

#: Final losses of the NumPy baseline (../shared/bench, xor_numpy.py).
XOR_BASELINE = {"preserve": 0.0010430298362158151, "reset": 0.0013507794977895837}


def run_example(name: str, backend: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """`nomac run NAME.noma --backend B` with a copy of the example in `folder`."""
    shutil.copy(EXAMPLES / f"{name}.noma", folder)
    environ = {k: v for k, v in os.environ.items() if k != "NOMA_DEBUG"}
    environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    return subprocess.run(
        [sys.executable, "-m", "noma.cli", "run", f"{name}.noma", "--backend", backend],
        cwd=folder,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )


def expected(name: str) -> str:
    return (EXPECTED / f"{name}.out").read_text(encoding="utf-8")


def expected_numbers(name: str) -> list[float | list]:
    """The numeric lines of an expected output, parsed."""
    out = []
    for line in expected(name).splitlines():
        try:
            out.append(parse_numeric(line))
        except ValueError:
            pass
    return out


def run_in_process(name: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, object]:
    """Run an example with the interpreter in this process: (stdout, the
    entry function's return value at full precision)."""
    shutil.copy(EXAMPLES / f"{name}.noma", folder)
    monkeypatch.chdir(folder)
    ctx = driver.make_driver_context()
    module = driver.load_module(f"{name}.noma", ctx)
    driver.run_passes(module, driver.default_pipeline(), ctx=ctx, verify_each=False)
    out = io.StringIO()
    value = interp.run_module(module, stdout=out, stderr=io.StringIO())
    return out.getvalue(), value


# ----------------------------------------------------------------- backends


@pytest.fixture(scope="session")
def jit_works(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Skip unless `nomac run --backend jit` runs hello.noma correctly."""
    if not (ROOT / "noma" / "backend" / "jit.py").is_file():
        pytest.skip("no JIT backend (noma/backend/jit.py) yet")
    if shutil.which("cc") is None:
        pytest.skip("the JIT's C runtime needs a C compiler (cc)")
    proc = run_example("hello", "jit", tmp_path_factory.mktemp("jit_probe"))
    if proc.returncode != 0 or mismatches(proc.stdout, expected("hello")):
        first = (proc.stderr.strip().splitlines() or ["wrong output"])[0]
        pytest.skip(f"`nomac run --backend jit` does not work yet: {first}")


BACKENDS = ["interp", "jit"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "jit":
        request.getfixturevalue("jit_works")
    return request.param


# ----------------------------------------------------------------- every example


def test_examples_are_complete() -> None:
    """Every example has an expected output and a header comment naming it."""
    assert len(NAMES) >= 10
    for name in NAMES:
        assert (EXPECTED / f"{name}.out").is_file() or UPDATE, f"no expected/{name}.out"
        first = (EXAMPLES / f"{name}.noma").read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("//"), f"{name}.noma does not start with a header comment"
    stale = {p.stem for p in EXPECTED.glob("*.out")} - set(NAMES)
    assert not stale, f"expected outputs without an example: {sorted(stale)}"


@pytest.mark.parametrize("name", NAMES)
def test_example(name: str, backend: str, tmp_path: Path) -> None:
    proc = run_example(name, backend, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    if UPDATE and backend == "interp":
        (EXPECTED / f"{name}.out").write_text(proc.stdout, encoding="utf-8")
    problems = mismatches(proc.stdout, expected(name))
    assert not problems, f"{name} ({backend}):\n" + "\n".join(problems)


# ----------------------------------------------------------------- the numbers are right


def test_gradient_descent_closed_form() -> None:
    after_10, closed_form, steps, x, f = expected_numbers("gradient_descent")
    assert math.isclose(after_10, 3 - 3 * 0.8**10, rel_tol=1e-9)
    assert after_10 == closed_form
    # the second loop: plain Python replay of SGD from x_10 until f - 1 < 1e-12
    xk, k = 3 - 3 * 0.8**10, 0
    while True:
        k += 1
        fk = (xk - 3) ** 2 + 1
        if fk - 1 < 1e-12:
            break
        xk -= 0.1 * 2 * (xk - 3)
    assert (steps, x, f) == (k, pytest.approx(xk, rel=1e-9), pytest.approx(fk, rel=1e-9))


def test_linear_regression_is_least_squares() -> None:
    X = np.array(
        [
            [0.0, 1.0],
            [1.0, 0.5],
            [2.0, -1.0],
            [3.0, 0.0],
            [-1.0, 2.0],
            [0.5, -0.5],
            [-2.0, -1.5],
            [1.5, 1.5],
        ]
    )
    noise = np.array([0.03, -0.02, 0.01, 0.04, -0.05, 0.02, -0.01, 0.00])
    y = X @ np.array([1.5, -2.0]) + 0.5 + noise
    A = np.c_[X, np.ones(len(X))]
    solution = np.linalg.lstsq(A, y, rcond=None)[0]
    mse = float(np.mean((A @ solution - y) ** 2))
    W, b, loss = expected_numbers("linear_regression")
    np.testing.assert_allclose([W[0][0], W[1][0], b], solution, rtol=1e-7)
    assert math.isclose(loss, mse, rel_tol=1e-9)


def _optimize(kind: str, lr: float, steps: int, p: np.ndarray, **h: float) -> np.ndarray:
    """SPEC §6.3 by hand on f(p) = sum([1, 10] * (p - [1, -1])^2), from fresh state."""
    c, t = np.array([1.0, 10.0]), np.array([1.0, -1.0])
    p, m, v = p.copy(), np.zeros(2), np.zeros(2)
    b1, b2, eps = h.get("beta1", 0.9), h.get("beta2", 0.999), h.get("eps", 1e-8)
    for step in range(1, steps + 1):
        g = 2 * c * (p - t)
        if kind == "sgd":
            p -= lr * g
        elif kind == "adam":
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            p -= lr * (m / (1 - b1**step)) / (np.sqrt(v / (1 - b2**step)) + eps)
        else:  # rmsprop, decay h["beta"]
            v = h["beta"] * v + (1 - h["beta"]) * g * g
            p -= lr * g / (np.sqrt(v) + eps)
    return p


def test_optimizers_by_hand() -> None:
    def f(p: np.ndarray) -> float:
        return float(np.sum(np.array([1.0, 10.0]) * (p - np.array([1.0, -1.0])) ** 2))

    zero = np.zeros(2)
    sgd = _optimize("sgd", 0.045, 50, zero)
    adam = _optimize("adam", 0.1, 50, zero, beta2=0.99)
    rms = _optimize("rmsprop", 0.05, 50, zero, beta=0.9)
    q = _optimize("adam", 0.1, 50, zero)
    fresh_step = _optimize("adam", 0.1, 1, q) - q
    want = [sgd, f(sgd), adam, f(adam), rms, f(rms), [0.0, 0.0], fresh_step]
    got = expected_numbers("optimizers")
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-8, atol=1e-12)


def test_batch_training_by_hand() -> None:
    data = np.array([[x / 10, 3 * x / 10 - 1] for x in range(10)])
    w = b = 0.0
    losses = []
    for epoch in range(1, 61):
        for start in range(0, 10, 4):  # one SGD step per block of 4 rows
            x, y = data[start : start + 4, 0], data[start : start + 4, 1]
            r = w * x + b - y
            w, b = w - 0.3 * np.mean(2 * r * x), b - 0.3 * np.mean(2 * r)
        if epoch % 20 == 0:
            losses.append(np.mean((w * data[:, 0] + b - data[:, 1]) ** 2))
    got = expected_numbers("batch_training")
    assert got[:6] == [0, 4, 1, 4, 2, 2]  # block numbers and sizes
    np.testing.assert_allclose(got[6:], [*losses, w, b], rtol=1e-8)


@pytest.mark.parametrize("variant", ["preserve", "reset"])
def test_xor_matches_numpy_baseline(
    variant: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The final loss at full precision equals the NumPy baseline's to 1e-9."""
    _, value = run_in_process(f"xor_grow_{variant}", tmp_path, monkeypatch)
    assert isinstance(value, float)
    assert math.isclose(value, XOR_BASELINE[variant], rel_tol=1e-9), value


def _growth_losses(stdout: str) -> tuple[float, float, float]:
    before, after, difference = (float(x) for x in stdout.splitlines()[:3])
    return before, after, difference


def test_function_preserving_growth_keeps_the_loss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 5: right after a function-preserving growth the loss equals the
    loss right before it (to 1e-12). The program prints `after - before`,
    computed in double precision, so the printed value is the whole story."""
    stdout, final = run_in_process("xor_grow_function_preserving", tmp_path, monkeypatch)
    before, after, difference = _growth_losses(stdout)
    assert abs(difference) <= 1e-12
    assert math.isclose(before, 0.1301280984, rel_tol=1e-9)  # the 2-unit net after phase 1
    assert after == before  # to the 10 digits printed
    assert isinstance(final, float) and final < before / 50  # training went on


def test_function_preserving_growth_jit(jit_works: None, tmp_path: Path) -> None:
    proc = run_example("xor_grow_function_preserving", "jit", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert abs(_growth_losses(proc.stdout)[2]) <= 1e-12


def test_safetensors_file_is_readable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The file io_safetensors.noma writes is real safetensors (the Python package reads it)."""
    numpy_io = pytest.importorskip("safetensors.numpy")
    stdout, _ = run_in_process("io_safetensors", tmp_path, monkeypatch)
    tensors = numpy_io.load_file(str(tmp_path / "xor_model.safetensors"))
    assert {k: (v.dtype, v.shape) for k, v in tensors.items()} == {
        "W1": (np.float64, (2, 4)),
        "b1": (np.float64, (4,)),
        "W2": (np.float64, (4, 1)),
        "final_loss": (np.float64, ()),
    }
    assert math.isclose(float(tensors["final_loss"]), float(stdout.splitlines()[0]), rel_tol=1e-9)
    assert line_matches(stdout.splitlines()[-1], format_value(tensors["W1"]))


# ----------------------------------------------------------------- the comparer


#: (actual, expected, do they match?)
COMPARER_CASES = [
    ("0.3333333333", "0.33333333333", True),
    ("1e-08", "1e-08", True),
    ("1.0000001", "1", True),
    ("1.00001", "1", False),
    ("[[1, 2], [3, 4.5]]", "[[1, 2], [3, 4.5000001]]", True),
    ("[[1, 2], [3]]", "[[1, 2], [3, 4]]", False),
    ("[1, 2]", "[[1, 2]]", False),
    ("nan", "nan", True),
    ("inf", "-inf", False),
    ("1e-12", "0", True),
    ("hello", "hello", True),
    ("hello ", "hello", False),
    ("1_000", "1000", False),
    ("", "", True),
    ("[]", "[]", True),
]


@pytest.mark.parametrize(("actual", "want", "match"), COMPARER_CASES)
def test_comparer(actual: str, want: str, match: bool) -> None:
    assert line_matches(actual, want) == match


@pytest.mark.skipif(not CONFORMANCE_RUNNER.is_file(), reason="../shared/conformance not found")
def test_comparer_agrees_with_conformance_runner() -> None:
    spec = importlib.util.spec_from_file_location("noma_conformance_runner", CONFORMANCE_RUNNER)
    assert spec is not None and spec.loader is not None
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    for actual, want, _ in COMPARER_CASES:
        assert line_matches(actual, want) == runner.line_matches(actual, want), (actual, want)
