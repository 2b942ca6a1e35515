"""The Python API: noma.compile / noma.compile_file, Program.run, RunResult."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import noma
from noma import diagnostics

REPO = Path(__file__).resolve().parent.parent
NOMAC = Path(sys.executable).parent / "nomac"

needs_cc = pytest.mark.skipif(shutil.which("cc") is None, reason="the JIT needs a C compiler")
BACKENDS = [pytest.param("jit", marks=needs_cc), "interp"]

TRAIN = """\
fn main() {
    learn w = tensor [[0], [0]];
    learn b = 0;
    let x = tensor [[1, 2], [3, 4], [5, 6]];
    let y = tensor [[5], [11], [17]];
    optimize(w, b) with adam(0.1) until loss < 0.0001 {
        let loss = mean((matmul(x, w) + b - y) ** 2);
        minimize loss;
    }
    print("done");
    print(loss < 0.0001);
    return w * 10;
}
"""


def test_errors_are_the_diagnostics_classes() -> None:
    assert noma.CompileError is diagnostics.CompileError
    assert noma.RuntimeError is diagnostics.NomaRuntimeError
    assert issubclass(noma.RuntimeError, noma.NomaError)
    assert issubclass(noma.CompileError, noma.NomaError)


@pytest.mark.parametrize("backend", BACKENDS)
def test_run_output_value_params(backend: str) -> None:
    result = noma.compile(TRAIN).run(seed=0, backend=backend)
    assert result.backend == backend
    assert result.output.splitlines()[:2] == ["done", "1"]
    assert isinstance(result.value, np.ndarray) and result.value.shape == (2, 1)
    assert set(result.params) == {"w", "b"}
    w, b = result.params["w"], result.params["b"]
    assert isinstance(w, np.ndarray) and w.shape == (2, 1)
    assert isinstance(b, float)
    np.testing.assert_allclose(result.value, w * 10)
    x = np.array([[1, 2], [3, 4], [5, 6]])
    np.testing.assert_allclose(x @ w + b, [[5], [11], [17]], atol=0.05)
    # the return value is printed last, as `nomac run` does
    assert result.output.splitlines()[-1].startswith("[")
    assert result.stderr == ""


@needs_cc
def test_backends_agree() -> None:
    program = noma.compile_file(REPO / "examples" / "xor_grow_preserve.noma")
    jit = program.run(seed=3, backend="jit")
    interp = program.run(seed=3, backend="interp")
    assert jit.output == interp.output
    assert jit.stderr == interp.stderr  # the max_iterations warnings
    assert "reached max_iterations" in jit.stderr
    assert jit.params.keys() == interp.params.keys() != set()
    for name in jit.params:
        np.testing.assert_allclose(jit.params[name], interp.params[name], rtol=1e-9, atol=1e-12)
    assert jit.value == pytest.approx(interp.value, rel=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_output_is_what_nomac_run_prints(backend: str) -> None:
    path = REPO / "examples" / "hello.noma"
    proc = subprocess.run(
        [str(NOMAC), "run", str(path), "--backend", "interp", "--seed", "7"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert noma.compile_file(path).run(seed=7, backend=backend).output == proc.stdout


@pytest.mark.parametrize("backend", BACKENDS)
def test_seed_and_repeated_runs(backend: str) -> None:
    program = noma.compile("fn main() { learn w = rand_tensor(3); print(rand()); return w; }")
    a, b, c = (program.run(seed=s, backend=backend) for s in (1, 1, 2))
    assert a.output == b.output != c.output
    np.testing.assert_array_equal(a.params["w"], a.value)  # type: ignore[arg-type]
    assert a.seed == 1 and c.seed == 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_return_value_and_no_params(backend: str) -> None:
    result = noma.compile('fn main() { print("hi"); }').run(backend=backend)
    assert result.output == "hi\n"
    assert result.value is None
    assert result.params == {}


@pytest.mark.parametrize("backend", BACKENDS)
def test_scalar_return_is_float(backend: str) -> None:
    result = noma.compile("fn main() { return 2 ** 0.5; }").run(backend=backend)
    assert isinstance(result.value, float)
    assert result.value == 2**0.5  # exact: read back as f64, not from the printed text


@pytest.mark.parametrize("backend", BACKENDS)
def test_freed_and_reallocated_params(backend: str) -> None:
    src = """
    fn main() {
        learn gone = 1;
        learn kept = tensor [1, 2];
        realloc kept = [3] init zeros;
        free gone;
    }
    """
    result = noma.compile(src).run(backend=backend)
    assert list(result.params) == ["kept"]
    np.testing.assert_array_equal(result.params["kept"], [1, 2, 0])


def test_compile_error() -> None:
    with pytest.raises(noma.CompileError) as info:
        noma.compile("fn main() {\n    let x = (1 + ;\n}\n")
    e = info.value
    assert str(e) == "unexpected ';' in expression"
    assert e.loc is not None and (e.loc.file, e.loc.line, e.loc.col) == ("<string>", 2, 18)
    assert e.format().splitlines() == [
        "error: unexpected ';' in expression at <string>:2:18",
        "      let x = (1 + ;",
        "                   ^",
    ]


def test_compile_errors_of_passes_are_raised_by_compile() -> None:
    src = """
    fn main() {
        learn w = tensor [1, 2];
        optimize(w) until loss < 1 {
            let loss = w * 2;
            minimize loss;
        }
    }
    """
    with pytest.raises(noma.CompileError, match="mean"):
        noma.compile(src, filename="tensor_loss.noma")


def test_compile_file_errors(tmp_path: Path) -> None:
    with pytest.raises(noma.CompileError, match="no such file"):
        noma.compile_file(tmp_path / "missing.noma")
    bad = tmp_path / "prog.txt"
    bad.write_text("fn main() {}")
    with pytest.raises(noma.CompileError, match="cannot tell what"):
        noma.compile_file(bad)


@pytest.mark.parametrize("backend", BACKENDS)
def test_runtime_error(backend: str) -> None:
    src = 'fn main() {\n    let x = tensor [1, 2, 3];\n    print("before");\n    print(x[dim(x, 0) + 1]);\n}\n'
    program = noma.compile(src, filename="oob.noma")
    with pytest.raises(noma.RuntimeError) as info:
        program.run(backend=backend)
    e = info.value
    assert str(e) == "index 4 out of range for dimension of size 3"
    assert e.loc is not None and (e.loc.file, e.loc.line) == ("oob.noma", 4)
    assert e.format().splitlines()[0].startswith("error: index 4 out of range")
    assert e.format().splitlines()[1] == "      print(x[dim(x, 0) + 1]);"
    assert e.output == "before\n"
    assert e.stderr == ""


@pytest.mark.parametrize("backend", BACKENDS)
def test_nan_objective_is_a_runtime_error(backend: str) -> None:
    src = """
    fn main() {
        learn w = -1;
        optimize(w) until loss < 0 {
            let loss = sqrt(w);
            minimize loss;
        }
    }
    """
    with pytest.raises(noma.RuntimeError, match="objective is NaN at iteration 1"):
        noma.compile(src).run(backend=backend)


def test_unknown_backend() -> None:
    with pytest.raises(noma.CompileError, match="unknown backend 'gpu'"):
        noma.compile("fn main() {}").run(backend="gpu")


def test_mlir_program(tmp_path: Path) -> None:
    path = tmp_path / "prog.mlir"
    path.write_text(noma.compile("fn main() { learn w = 3; return w * 2; }").ir())
    result = noma.compile_file(path).run(backend="interp")
    assert result.value == 6.0 and result.params == {"w": 3.0}


def test_program_ir() -> None:
    program = noma.compile("fn sq(x) { return x * x; }\nfn main() { return sq(3); }")
    assert "func.call @sq" in program.ir()
    assert "func.call" not in program.ir("noma-inline")
    assert "func.call" not in program.ir("default")
    assert '"func.func"' in program.ir(generic=True)
    assert repr(program) == "<noma.Program <string>>"


def test_result_repr() -> None:
    result = noma.compile(TRAIN).run(backend="interp")
    assert repr(result).startswith("RunResult(backend='interp', seed=0, value=array[2, 1], ")
    assert "'w': array[2, 1], 'b': " in repr(result)


def test_import_noma_is_cheap() -> None:
    code = (
        "import sys, noma; noma.CompileError; noma.RuntimeError\n"
        "print(sorted(m for m in ('xdsl', 'numpy', 'llvmlite') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_unknown_attribute() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        noma.nope  # type: ignore[attr-defined]  # noqa: B018


def test_runtime_reports_become_errors() -> None:
    from noma.api import _error_from_stderr

    stderr = (
        "warning: optimize loop at p.noma:3:5 reached max_iterations (2)\n"
        "error: objective is NaN at iteration 4 of the optimize loop at p.noma:3:5\n"
        "      optimize(w) until loss < 0 {\n"
        "      ^\n"
    )
    error, before = _error_from_stderr(stderr)
    assert error.message == "objective is NaN at iteration 4 of the optimize loop"
    assert error.loc == diagnostics.SourceLoc("p.noma", 3, 5)
    assert before == "warning: optimize loop at p.noma:3:5 reached max_iterations (2)\n"
    error, before = _error_from_stderr("error: out of memory\n")
    assert (error.message, error.loc, before) == ("out of memory", None, "")
    error, before = _error_from_stderr("")
    assert "no error message" in error.message


def test_jit_unavailable_is_a_compile_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from noma.backend import rtbuild

    monkeypatch.setenv("NOMA_CC", "no-such-compiler-anywhere")
    monkeypatch.setattr(rtbuild, "shared_library_path", _no_compiler)
    with pytest.raises(noma.CompileError, match="JIT backend is not available here: .*cc"):
        noma.compile("fn main() {}").run(backend="jit")


def _no_compiler() -> Path:
    from noma.backend import rtbuild

    rtbuild.compiler()
    raise AssertionError("unreachable")
