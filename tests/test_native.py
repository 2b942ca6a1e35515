"""The native backends (LLVM JIT and standalone executables) against the
reference interpreter, and the native pipeline's pieces.

Each program runs three ways: the interpreter in-process, the JIT in a
subprocess (the runtime prints through C stdio; one subprocess runs all
programs, with its fds 1 and 2 redirected to files per program) and an
executable run with an empty environment. Exit status,
stdout and stderr (errors with their source line, warnings) must agree. The
programs stress what the lowering must get right: slots reused across
iterations (loop-carried tensors, swaps, nested loops), scalar/tensor
mixes, training loops, run-time errors. A second set runs every conformance
case of ../shared/conformance through both native backends.
"""

from __future__ import annotations

import importlib.util
import io
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent
CONFORMANCE = REPO.parent / "shared" / "conformance"

pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler (cc)")


@dataclass(frozen=True)
class Outcome:
    status: int
    stdout: str
    stderr: str


# ----------------------------------------------------------------- running


#: Runs many programs in one process (one import, one runtime load), each
#: with fds 1 and 2 redirected to files: argv = folder, result folder, then
#: NAME SEED pairs; writes NAME.out, NAME.err and NAME.status.
JIT_BATCH_SCRIPT = """
import ctypes, os, sys
from noma import driver
from noma.backend.jit import run_module_jit

folder, results, *pairs = sys.argv[1:]
os.chdir(folder)
libc = ctypes.CDLL(None)

def flush():
    sys.stdout.flush(); sys.stderr.flush(); libc.fflush(None)

def run(name, seed):
    def act():
        ctx = driver.make_driver_context()
        module = driver.load_module(name + ".noma", ctx)
        driver.run_passes(module, driver.default_pipeline(), ctx=ctx, verify_each=False)
        return run_module_jit(module, seed=seed)
    return driver.guard(act)

saved = os.dup(1), os.dup(2)
for name, seed in zip(pairs[::2], pairs[1::2]):
    base = os.path.join(results, name)
    out = os.open(base + ".out", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    err = os.open(base + ".err", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    flush(); os.dup2(out, 1); os.dup2(err, 2)
    try:
        status = run(name, int(seed))
    finally:
        flush(); os.dup2(saved[0], 1); os.dup2(saved[1], 2); os.close(out); os.close(err)
    with open(base + ".status", "w") as f:
        f.write(str(status))
"""


def run_interp(path: Path, seed: int = 0) -> Outcome:
    from noma import driver

    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(path.parent)
    try:
        status = driver.run_program(path.name, backend="interp", seed=seed, stdout=out, stderr=err)
    finally:
        os.chdir(cwd)
    return Outcome(status, out.getvalue(), err.getvalue())


def build_exe(path: Path, out: Path, seed: int = 0) -> Outcome | None:
    """Build the executable; the compile-error outcome when it cannot be built."""
    from noma import driver
    from noma.backend.exe import build_executable

    err = io.StringIO()

    def act() -> int:
        ctx = driver.make_driver_context()
        module = driver.load_module(path.name, ctx)  # file names in messages as given
        driver.run_passes(module, driver.default_pipeline(), ctx=ctx, verify_each=False)
        build_executable(module, out.resolve(), seed=seed)
        return 0

    cwd = os.getcwd()
    os.chdir(path.parent)
    try:
        status = driver.guard(act, err)
    finally:
        os.chdir(cwd)
    return None if status == 0 else Outcome(status, "", err.getvalue())


def run_exe(exe: Path, cwd: Path, *args: str) -> Outcome:
    proc = subprocess.run(
        ["env", "-i", str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


def exe_outcome(path: Path, tmp: Path, seed: int = 0) -> Outcome:
    exe = tmp / (path.stem + ".exe")
    failed = build_exe(path, exe, seed)
    return failed if failed is not None else run_exe(exe, path.parent)


# ----------------------------------------------------------------- programs

PROGRAMS: dict[str, str] = {
    "scalars": """
fn main() {
    let a = 7;
    let b = -2.5;
    print(a + b * 2 - a / b);
    print(a % 3); print(-a % 3); print(2 ** 10); print(2 ** -1);
    print(sigmoid(b)); print(relu(b)); print(relu(a)); print(tanh(0.5));
    print(exp(1)); print(log(10)); print(sqrt(2)); print(sin(1) + cos(1) + tan(1));
    print(abs(b)); print(floor(b)); print(ceil(b)); print(b as i32);
    print(min(a, b)); print(max(a, b)); print(pow(2, 0.5));
    print(a < b); print(a >= b); print(a == 7); print(a != 7); print(!a); print(!0);
    print(a > 1 && b < 0); print(a < 1 || b > 0);
    let nan = 0 / 0;
    print(nan); print(max(nan, 1)); print(min(1, nan)); print(relu(nan)); print(1 / 0);
}
""",
    "tensors": """
fn main() {
    let m = tensor [[1, 2, 3], [4, 5, 6]];
    let v = tensor [10, 20, 30];
    print(m + v); print(m * 2); print(1 - m); print(m / tensor [[2], [4]]);
    print(sum(m)); print(mean(m)); print(sum(m, 0)); print(mean(m, 1));
    print(matmul(m, transpose(m))); print(dot(v, v));
    print(softmax(m)); print(log_softmax(v));
    print(m[1]); print(m[1][2]); print(dim(m, 0) * 10 + dim(m, 1));
    print(sigmoid(m) > 0.9); print(max(m, 3)); print(min(2, m)); print(-m);
    print(exp(m) - exp(m)); print(m ** 2); print(m % 4);
    let z = m;
    z[0][1] = 100;
    z[1] = 7;
    print(z); print(m);
}
""",
    "loop_carry": """
fn main() {
    let a = tensor [1, 2];
    let b = tensor [10, 20];
    let acc = tensor [0, 0];
    let i = 0;
    while i < 4 {
        let t = a;
        a = b;
        b = t + 1;
        acc = acc + a * i;
        i = i + 1;
    }
    print(a); print(b); print(acc);
}
""",
    "nested_loops": """
fn main() {
    let x = tensor [[1, 0], [0, 1]];
    let i = 0;
    while i < 3 {
        let j = 0;
        let y = x;
        while j < 2 {
            y = matmul(y, tensor [[1, 1], [0, 1]]);
            j = j + 1;
        }
        x = y - x;
        i = i + 1;
    }
    print(x);
    if sum(x) > 0 { x = x * 2; } else { x = x * 3; }
    print(x);
}
""",
    "batches": """
fn main() {
    let data = tensor [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]];
    let total = tensor [0, 0];
    batch rows, k in data with 2 {
        total = total + sum(rows, 0) * (k + 1);
    }
    print(total);
}
""",
    "batch_return": """
fn find(t, lim) {
    let acc = 0;
    batch b, k in t with 2 {
        acc = acc + sum(b);
        if sum(b) > lim { return k * 1000 + acc; }
        acc = acc + 0.5;
    }
    return -acc;
}
fn main() {
    print(find(tensor [1, 2, 3, 4, 5, 6], 6));
    print(find(tensor [1, 2, 3, 4, 5, 6], 100));
    batch rows, j in rand_tensor(5, 2) with 2 { let s = sum(rows); }
    print(s);
    print(rows);
    print(j);
    batch b, k in tensor [[1, 2], [3, 4], [5, 6]] with 2 {
        if k == 1 { return b; }
    }
    print("not reached");
}
""",
    "functions": """
fn square(x) { return x * x; }
fn norm(v) { return sqrt(sum(square(v))); }
fn main() {
    print(norm(tensor [3, 4]));
    print(square(3));
    print(square(tensor [1, 2]) + square(tensor [3, 4]));
    return tensor [[1, 2]] * norm(tensor [6, 8]);
}
""",
    "train_adam": """
fn main() {
    let X = tensor [[0, 0], [0, 1], [1, 0], [1, 1]];
    let Y = tensor [[0], [1], [1], [0]];
    learn W1 = rand_normal_tensor(0, 0.5, 2, 4);
    learn W2 = rand_normal_tensor(0, 0.5, 4, 1);
    optimize(W1, W2) with adam(0.1) until loss < 0.05 {
        let h = sigmoid(matmul(X, W1));
        let pred = sigmoid(matmul(h, W2));
        let loss = mean((pred - Y) ** 2);
        minimize loss;
    }
    print(loss);
    print(W2);
}
""",
    "train_grow": """
fn main() {
    learn w = tensor [1, -2];
    let max_iterations = 30;
    let step = 0;
    optimize(w) with sgd(0.1) until loss < 0.0001 {
        step = step + 1;
        if step == 10 { realloc w = [4] init normal(0, 0.1); }
        let loss = sum((w - 0.5) ** 2);
        minimize loss;
    }
    print(step); print(loss); print(w);
    optimize(w) with rmsprop(0.01) until loss2 < 0.5 {
        let loss2 = sum(w * w);
        minimize loss2;
    }
    print(w);
}
""",
    "buffers": """
fn main() {
    alloc buf = [2, 3];
    buf[1][2] = 5;
    buf[0] = 1;
    print(buf);
    realloc buf = [3, 4];
    print(buf);
    print(dim(buf, 1));
    let r = rand_tensor(2, 2);
    seed(42);
    print(rand() + rand_uniform(1, 2) + rand_normal(0, 1));
    print(r);
    print(xavier_init(2, 3, 2, 3));
}
""",
    "csv_files": """
fn main() {
    save_csv tensor [[1.5, 2], [3, 4]], "tmp_native_out.csv";
    load_csv t = "tmp_native_out.csv";
    print(t * 2);
    save_safetensors { a: t, b: 3 }, "tmp_native_out.safetensors";
    load_safetensors st = "tmp_native_out.safetensors";
    print(st.a); print(st.b); print(st);
    print("done");
}
""",
    "axis_grads": """
fn main() {
    learn w = rand_tensor(2, 2, 3);
    learn v = tensor [[1, 2, 3], [3, 4, 5]];
    let max_iterations = 3;
    optimize(w, v) with adam(0.1) until loss < 0 {
        let a = sum(sum(w * w, 2) * tensor [[1, 2], [3, 4]]) + sum(mean(w, 1));
        let b = sum(sum(v * v, 1) * tensor [1, 2]) + sum(mean(v, 0) ** 2);
        let loss = a + b + sum(softmax(v)[0]) - sum(log_softmax(v)[1]);
        minimize loss;
    }
    print(w); print(v);
}
""",
    "error_index": """
fn main() {
    let x = tensor [1, 2, 3];
    let i = 1;
    while i < 10 {
        print(x[i]);
        i = i + 1;
    }
}
""",
    "error_matmul": """
fn main() {
    let a = tensor [[1, 2, 3]];
    let b = matmul(a, transpose(a));
    print(b);
    print(matmul(a, a));
}
""",
    "error_nan_objective": """
fn main() {
    learn w = 1;
    optimize(w) with sgd(0.5) until loss < -1 {
        let loss = log(w);
        minimize loss;
    }
}
""",
    "error_missing_file": """
fn main() {
    print("before");
    load_csv t = "no_such_file_native.csv";
    print(t);
}
""",
    "warning_max_iterations": """
fn main() {
    learn w = tensor [1, 2];
    let max_iterations = 3;
    optimize(w) with adam(0.01) until loss < 0 {
        let loss = sum(w * w);
        minimize loss;
    }
    print(w);
}
""",
}
SEEDS = {"train_adam": 3, "buffers": 11}


@pytest.fixture(scope="module")
def program_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("native_programs")
    for name, source in PROGRAMS.items():
        (folder / f"{name}.noma").write_text(source.lstrip())
    return folder


@pytest.fixture(scope="module")
def interp_outcomes(program_dir: Path) -> dict[str, Outcome]:
    return {name: run_interp(program_dir / f"{name}.noma", SEEDS.get(name, 0)) for name in PROGRAMS}


def _same(native: Outcome, reference: Outcome) -> None:
    assert native.stderr == reference.stderr
    assert native.stdout == reference.stdout
    assert native.status == reference.status
    assert "Traceback" not in native.stderr


def test_reference_outcomes_are_interesting(interp_outcomes: dict[str, Outcome]) -> None:
    for name, outcome in interp_outcomes.items():
        assert outcome.status == (1 if name.startswith("error_") else 0), (name, outcome)
    assert "warning: optimize loop" in interp_outcomes["warning_max_iterations"].stderr
    assert "objective is NaN" in interp_outcomes["error_nan_objective"].stderr


@pytest.fixture(scope="module")
def jit_outcomes(program_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    cases = [(name, SEEDS.get(name, 0)) for name in PROGRAMS]
    return run_jit_batch(program_dir, cases, tmp_path_factory.mktemp("jit_results"))


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_jit_matches_interpreter(
    name: str, jit_outcomes: dict[str, Outcome], interp_outcomes: dict[str, Outcome]
) -> None:
    _same(jit_outcomes.get(name, Outcome(-1, "", "not run")), interp_outcomes[name])


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_executable_matches_interpreter(
    name: str, program_dir: Path, interp_outcomes: dict[str, Outcome], tmp_path: Path
) -> None:
    outcome = exe_outcome(program_dir / f"{name}.noma", tmp_path, SEEDS.get(name, 0))
    _same(outcome, interp_outcomes[name])


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_lowered_training_interprets_alike(
    name: str, program_dir: Path, interp_outcomes: dict[str, Outcome]
) -> None:
    """noma-lower-train preserves meaning: the interpreter runs its output alike."""
    _same(
        run_lowered_interp(program_dir / f"{name}.noma", SEEDS.get(name, 0)), interp_outcomes[name]
    )


def run_lowered_interp(path: Path, seed: int) -> Outcome:
    """Interpret the module after DEFAULT_PIPELINE + noma-lower-train."""
    import numpy as np

    from noma import driver
    from noma.backend import interp
    from noma.backend.runtime.fmt import format_value
    from noma.backend.runtime.rng import NomaRng
    from noma.passes.lower_train import LowerTrainPass

    out, err = io.StringIO(), io.StringIO()

    def act() -> int:
        ctx = driver.make_driver_context()
        module = driver.load_module(path.name, ctx)
        passes = [*driver.default_pipeline(), LowerTrainPass()]
        driver.run_passes(module, passes, ctx=ctx)
        state = interp.RuntimeState(rng=NomaRng(seed), stdout=out, stderr=err)
        runner = interp.make_interpreter(module, state)  # with interp_lowered's ops
        with np.errstate(all="ignore"):
            results = runner.call_op(interp.entry_function(module), ())
        if results:
            out.write(format_value(results[0]) + "\n")
        return 0

    cwd = os.getcwd()
    os.chdir(path.parent)
    try:
        status = driver.guard(act, err)
    finally:
        os.chdir(cwd)
    return Outcome(status, out.getvalue(), err.getvalue())


@pytest.mark.parametrize("name", ["train_grow", "error_nan_objective", "scalars"])
def test_loss_log_matches_interpreter(name: str, program_dir: Path, tmp_path: Path) -> None:
    """Compiled code reports every iteration's objective to the runtime's loss
    log (`NOMA_LOSS_LOG`) as the interpreter's `--loss-log` does."""
    from noma import driver

    path = program_dir / f"{name}.noma"
    reference = tmp_path / "interp.csv"
    driver.run_program(
        str(path), seed=SEEDS.get(name, 0), stdout=io.StringIO(), stderr=io.StringIO(),
        loss_log=str(reference),
    )  # fmt: skip
    exe = tmp_path / "prog"
    assert build_exe(path, exe, SEEDS.get(name, 0)) is None
    native = tmp_path / "native.csv"
    subprocess.run(
        ["env", "-i", f"NOMA_LOSS_LOG={native}", str(exe)],
        cwd=program_dir, capture_output=True, check=False, timeout=300,
    )  # fmt: skip
    want = reference.read_text().splitlines()
    got = native.read_text().splitlines() if native.exists() else ["loop,iteration,loss"]
    assert len(got) == len(want)
    for g, w in zip(got[1:], want[1:], strict=True):
        *g_pos, g_loss = g.split(",")
        *w_pos, w_loss = w.split(",")
        assert g_pos == w_pos
        assert g_loss == w_loss or abs(float(g_loss) - float(w_loss)) <= 1e-12 * abs(float(w_loss))


# ----------------------------------------------------------------- pipeline pieces


def _module(source: str, name: str = "piece.noma"):  # noqa: ANN202 - a ModuleOp
    from noma import driver
    from noma.diagnostics import register_source
    from noma.frontend.irgen import generate
    from noma.frontend.parser import parse_program

    register_source(name, source)
    module = generate(parse_program(source, name))
    driver.run_passes(module, driver.default_pipeline())
    return module


SMALL = """
fn main() {
    learn w = tensor [1, 2];
    optimize(w) with sgd(0.1) until loss < 0.1 {
        let loss = sum(w * w);
        minimize loss;
    }
    print(w);
}
"""


def test_native_pipeline_reaches_the_llvm_dialect() -> None:
    from xdsl.dialects import llvm

    from noma.backend.llvm_emit import is_llvm_dialect, to_llvm_dialect

    module = to_llvm_dialect(_module(SMALL))
    assert is_llvm_dialect(module)
    funcs = {op.sym_name.data: op for op in module.ops if isinstance(op, llvm.FuncOp)}
    assert funcs["noma_entry"].body.blocks
    assert not funcs["noma_rt_binary"].body.blocks
    module.verify()


def test_llvm_ir_asm_and_object() -> None:
    from noma.backend.llvm_emit import to_asm, to_llvm_ir, to_object

    text = to_llvm_ir(_module(SMALL))
    assert "define void @noma_entry()" in text
    assert "zeroinitializer" in text
    assert "noma_entry" in to_asm(_module(SMALL))
    assert to_object(_module(SMALL)).startswith(b"\x7fELF")


def test_executable_parses_seed_and_rejects_bad_arguments(tmp_path: Path) -> None:
    src = tmp_path / "rng.noma"
    src.write_text("fn main() { print(rand()); }\n")
    exe = tmp_path / "rng"
    assert build_exe(src, exe, seed=5) is None
    default = run_exe(exe, tmp_path)
    assert default.status == 0
    assert run_exe(exe, tmp_path, "--seed", "5").stdout == default.stdout
    assert run_exe(exe, tmp_path, "--seed=6").stdout != default.stdout
    assert run_exe(exe, tmp_path, "--seed", "-1").stdout == run_interp(src, -1).stdout
    # any integer, taken modulo 2^64 (SPEC §9), as `nomac run --seed` does
    assert run_exe(exe, tmp_path, "--seed", str(2**64 + 6)).stdout == run_interp(src, 6).stdout
    assert run_exe(exe, tmp_path, "--seed", str(-(2**64) - 1)).stdout == run_interp(src, -1).stdout
    assert run_exe(exe, tmp_path, "--seed", "1.5").status == 2
    bad = run_exe(exe, tmp_path, "--seed", "x")
    assert bad.status == 2 and "error:" in bad.stderr
    assert run_exe(exe, tmp_path, "--frobnicate").status == 2


def test_executable_without_cc_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from noma.backend import exe
    from noma.diagnostics import CompileError

    monkeypatch.setattr(exe.shutil, "which", lambda name: None)
    with pytest.raises(CompileError, match=r"a C compiler \(cc\) is needed"):
        exe.build_executable(_module(SMALL), tmp_path / "prog")
    assert not (tmp_path / "prog").exists()


def test_executable_into_missing_folder_is_an_error(tmp_path: Path) -> None:
    from noma.backend.exe import build_executable
    from noma.diagnostics import CompileError

    with pytest.raises(CompileError, match="cannot write"):
        build_executable(_module(SMALL), tmp_path / "no" / "such" / "prog")


def test_executable_replaces_an_existing_file(tmp_path: Path) -> None:
    src = tmp_path / "p.noma"
    src.write_text("fn main() { print(1); }\n")
    exe = tmp_path / "p"
    exe.write_text("old")
    assert build_exe(src, exe) is None
    assert run_exe(exe, tmp_path).stdout == "1\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".p.")] == []


# ----------------------------------------------------------------- conformance


def _load_conformance_runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "run_conformance", CONFORMANCE / "run_conformance.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _conformance_cases() -> list[str]:
    if not CONFORMANCE.is_dir():
        return []
    return sorted(p.stem for p in CONFORMANCE.glob("*.noma") if p.with_suffix(".expected").exists())


def _check_case(name: str, outcome: Outcome, runner: ModuleType) -> str | None:
    """None when `outcome` is what NAME.expected asks for, else why not."""
    lines = (CONFORMANCE / f"{name}.expected").read_text().splitlines()
    if lines and lines[0].startswith("#seed"):
        lines = lines[1:]
    if lines and lines[0].strip() == "#error":
        phrase = lines[1].strip().lower() if len(lines) > 1 else ""
        ok = outcome.status == 1 and "error:" in outcome.stderr
        ok = ok and phrase in outcome.stderr.lower() and "Traceback" not in outcome.stderr
        return None if ok else f"expected an error with {phrase!r}, got {outcome}"
    actual = outcome.stdout.splitlines()
    if outcome.status != 0 or len(actual) != len(lines):
        return f"status {outcome.status}, {len(actual)} lines, expected {len(lines)}: {outcome}"
    for got, want in zip(actual, lines, strict=True):
        if not runner.line_matches(got, want):
            return f"{got!r} != {want!r}"
    return None


def _seed_of(name: str) -> int:
    first = (CONFORMANCE / f"{name}.expected").read_text().split("\n", 1)[0]
    return int(first.split()[1]) if first.startswith("#seed") else 0


def _run_conformance(run: Callable[[str], Outcome]) -> list[str]:
    runner = _load_conformance_runner()

    def one(name: str) -> str | None:
        _cleanup(name)
        try:
            problem = _check_case(name, run(name), runner)
        finally:
            _cleanup(name)
        return None if problem is None else f"{name}: {problem}"

    return [p for p in map(one, _conformance_cases()) if p is not None]


def _cleanup(name: str) -> None:
    for path in CONFORMANCE.glob(f"tmp_{name}*"):
        path.unlink(missing_ok=True)


needs_conformance = pytest.mark.skipif(
    not CONFORMANCE.is_dir(), reason="../shared/conformance is not there"
)


def run_jit_batch(folder: Path, cases: list[tuple[str, int]], results: Path) -> dict[str, Outcome]:
    """JIT-run the programs folder/NAME.noma in one subprocess (see JIT_BATCH_SCRIPT)."""
    args = [str(folder), str(results), *[x for name, seed in cases for x in (name, str(seed))]]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", JIT_BATCH_SCRIPT, *args],
        env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    outcomes = {}
    for name, _ in cases:
        status = results / f"{name}.status"
        if not status.exists():  # the process died in this case
            out, err = (results / f"{name}.out"), (results / f"{name}.err")
            detail = err.read_text() if err.exists() else proc.stderr
            outcomes[name] = Outcome(-1, out.read_text() if out.exists() else "", detail)
            break
        outcomes[name] = Outcome(
            int(status.read_text()),
            (results / f"{name}.out").read_text(),
            (results / f"{name}.err").read_text(),
        )
    return outcomes


@needs_conformance
def test_conformance_jit(tmp_path: Path) -> None:
    names = _conformance_cases()
    for name in names:
        _cleanup(name)
    outcomes = run_jit_batch(CONFORMANCE, [(n, _seed_of(n)) for n in names], tmp_path)
    for name in names:
        _cleanup(name)
    runner = _load_conformance_runner()
    failures = [
        f"{name}: {problem}"
        for name in names
        if (problem := _check_case(name, outcomes.get(name, Outcome(-1, "", "not run")), runner))
    ]
    assert failures == []


@needs_conformance
def test_conformance_executable(tmp_path: Path) -> None:
    def run(name: str) -> Outcome:  # built in this process, one at a time
        return exe_outcome(CONFORMANCE / f"{name}.noma", tmp_path, _seed_of(name))

    assert _run_conformance(run) == []


def test_conformance_runner_matches_numbers_with_tolerance() -> None:
    if not CONFORMANCE.is_dir():
        pytest.skip("../shared/conformance is not there")
    runner = _load_conformance_runner()
    assert runner.line_matches("[1, 2.0000000001]", "[1, 2]")
    assert not runner.line_matches("[1, 2.1]", "[1, 2]")
