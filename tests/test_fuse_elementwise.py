"""`noma-fuse-elementwise` and its lowering: fused code computes exactly what
the unfused ops compute.

Every program runs through the JIT twice, with the native pipeline as it is
(fusion on) and without `noma-fuse-elementwise`; output, return value and
final parameters must agree bit for bit (fusion reorders no floating-point
operation and LLVM contracts nothing), and the output must be the
interpreter's. Each program is checked to contain fused ops, so both the
fused loop (equal dims) and its fallback (broadcasting, growth between
iterations) run. Run-time errors inside fused chains keep their message and
source location.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

import noma
from noma.backend import llvm_emit
from noma.passes import DEFAULT_PIPELINE

REPO = Path(__file__).resolve().parent.parent
FUSION = "noma-fuse-elementwise"
#: The IR that `noma-to-llvm` gets (fused ops visible).
UP_TO_FUSION = ",".join([*DEFAULT_PIPELINE, "noma-lower-train", FUSION])

pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler (cc)")


@contextmanager
def fusion(enabled: bool) -> Iterator[None]:
    saved = llvm_emit.NATIVE_PIPELINE
    if not enabled:
        llvm_emit.NATIVE_PIPELINE = tuple(p for p in saved if p != FUSION)
    try:
        yield
    finally:
        llvm_emit.NATIVE_PIPELINE = saved


def run(source: str, backend: str, fused: bool = True, seed: int = 0) -> object:
    """The RunResult, or the NomaRuntimeError raised."""
    with fusion(fused):
        program = noma.compile(source, filename="fuse_test.noma")
        try:
            return program.run(seed=seed, backend=backend)
        except noma.RuntimeError as e:
            return e


def bits(value: object) -> object:
    if value is None:
        return None
    return np.asarray(value, dtype=np.float64).view(np.uint64).tolist()


def same_bits(a: object, b: object) -> bool:
    return bits(a) == bits(b)


def assert_same(fused: object, unfused: object) -> None:
    if isinstance(unfused, noma.RuntimeError):
        assert isinstance(fused, noma.RuntimeError), fused
        assert (fused.message, fused.loc) == (unfused.message, unfused.loc)
        assert fused.output == unfused.output
        return
    assert not isinstance(fused, noma.RuntimeError), fused.format()
    assert fused.output == unfused.output
    assert fused.stderr == unfused.stderr
    assert same_bits(fused.value, unfused.value)
    assert fused.params.keys() == unfused.params.keys()
    for name in unfused.params:
        assert same_bits(fused.params[name], unfused.params[name]), name


def fused_ops(source: str) -> int:
    return noma.compile(source).ir(UP_TO_FUSION).count("noma.tensor.fused")


# ----------------------------------------------------------------- programs

PROGRAMS: dict[str, str] = {}

# Same-rank broadcasting ([2, 3] with [2, 1]) makes the first chain take the
# fallback every time; the second chain has equal dims (the fused loop); the
# rank-mixing `+ row` is not fused at all.
PROGRAMS["broadcasting"] = """
fn main() {
    let a = tensor [[1, 2, 3], [4, 5, 6]];
    let col = tensor [[10], [20]];
    let row = tensor [100, 200, 300];
    let acc = a;
    let i = 0;
    while i < 3 {
        acc = (acc * 2 + col) / 3 - 1;
        acc = sqrt(abs(acc)) + acc * 0.5;
        i = i + 1;
    }
    print(acc);
    let j = 0;
    let e = a;
    while j < 2 {
        e = exp(-(e - row) / 100) * 2 + 1;
        j = j + 1;
    }
    print(e);
}
"""

# Scalars computed at run time, `pow` with every NumPy fast path of a scalar
# exponent (2, 0.5, -1, 1, 0, other) chosen at run time, `pow(scalar,
# tensor)` (memoised: repeated exponents, 0 next to -0, NaN), NaN through
# min/max/relu/comparisons.
PROGRAMS["scalars_and_pow"] = """
fn main() {
    let x = tensor [[-2, -0.5, 0, 0], [0.25, 0.25, 3, 3]];
    x[0][3] = -0.0 * 1;
    let n = tensor [1, 1, 2, 2];
    n[2] = 0 / 0;
    n[3] = 0 / 0;
    let k = 0;
    while k < 7 {
        let p = k * 0.5 - 1;
        if k == 6 { p = 3; }
        print((x * 1 + 0) ** p);
        print(p ** (x * 1 - 0));
        print(1.5 ** (n + 0) - n * 0);
        print(max(n * 1, 1.5) + min(n, 1.5) * 2 + relu(n - 1) + (n > 1) + (n != n));
        k = k + 1;
    }
    print((x - 1) ** 0.5 + (x - 1) ** 3);
}
"""

# Growth: a tensor whose dims change every iteration (fused loop over
# changing n), and Adam on parameters grown in the middle of training (per
# element step counts differ after the growth, so the memoised pow sees
# runs of equal and different exponents).
PROGRAMS["growth"] = """
fn main() {
    let acc = tensor [[1, 2]];
    let i = 1;
    while i < 5 {
        realloc acc = [i, i + 1] init zeros;
        acc = (acc + i) * 0.5 - sqrt(acc * acc + 1);
        i = i + 1;
    }
    print(acc);
    let X = tensor [[0, 0], [0, 1], [1, 0], [1, 1]];
    let Y = tensor [[0], [1], [1], [0]];
    learn W1 = rand_normal_tensor(0, 0.5, 2, 2);
    learn W2 = rand_normal_tensor(0, 0.5, 2, 1);
    let max_iterations = 30;
    optimize(W1, W2) with adam(0.05) until loss < 0 {
        let loss = mean((sigmoid(matmul(tanh(matmul(X, W1)), W2)) - Y) ** 2);
        minimize loss;
    }
    realloc W1 = [2, 5] init normal(0, 0.3);
    realloc W2 = [5, 1] init normal(0, 0.3);
    optimize(W1, W2) with adam(0.1, beta2 = 0.99) until loss < 0 {
        let loss = mean((sigmoid(matmul(tanh(matmul(X, W1)), W2)) - Y) ** 2);
        minimize loss;
    }
    print(loss);
    return W1;
}
"""

# Adam's bias corrections are memoised across the calls of one kernel (all
# parameters, both loops): parameters whose step counts differ (only `a`
# grows), loops with other betas (the cache must not be reused), a loop
# where `c` is not trained.
PROGRAMS["adam_memo"] = """
fn main() {
    learn a = tensor [[0.5, -0.25], [1, 2]];
    learn b = tensor [[1.5, -1], [0.5, 0.25]];
    learn c = tensor [[-2, 1], [1, -2]];
    let max_iterations = 12;
    optimize(a, b, c) with adam(0.05) until loss < 0 {
        let loss = mean((a * b - c) ** 2) + mean(sqrt(a * a + 1));
        minimize loss;
    }
    realloc a = [3, 4] init normal(0, 0.3);
    let max_iterations = 9;
    optimize(a, b) with adam(0.1, beta1 = 0.8, beta2 = 0.99) until loss < 0 {
        let loss = mean(a * a) + mean((b - c) ** 2);
        minimize loss;
    }
    optimize(a, b, c) with adam(0.05) until loss < 0 {
        let loss = mean(a ** 2) + mean((a[0][0] * b - c) ** 2);
        minimize loss;
    }
    print(a);
    print(b);
    return c;
}
"""

# RMSprop and SGD updates, relu (select in the gradient), a bias broadcast
# over rows (rank 1 with rank 2: the add itself is not fused).
PROGRAMS["optimizers"] = """
fn main() {
    let X = tensor [[0.5, -1], [1, 2], [-1.5, 0.25], [2, -0.5]];
    let Y = tensor [[1], [-1], [0.5], [2]];
    learn W = tensor [[0.1, -0.2, 0.3], [0.2, 0.1, -0.1]];
    learn b = tensor [0.1, 0, -0.1];
    learn V = tensor [[0.5], [-0.5], [0.25]];
    let max_iterations = 25;
    optimize(W, b, V) with rmsprop(0.01) until loss < 0 {
        let h = relu(matmul(X, W) + b);
        let loss = mean((matmul(h, V) - Y) ** 2) + 0.001 * sum(W * W);
        minimize loss;
    }
    optimize(W, b, V) with sgd(0.05) until loss < 0 {
        let h = max(matmul(X, W) + b, 0.1 * (matmul(X, W) + b));
        let loss = mean(abs(matmul(h, V) - Y));
        minimize loss;
    }
    print(loss);
}
"""


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_fused_matches_unfused_bit_for_bit(name: str) -> None:
    source = PROGRAMS[name]
    assert fused_ops(source) >= 1
    fused = run(source, "jit", fused=True)
    unfused = run(source, "jit", fused=False)
    assert_same(fused, unfused)
    interp = run(source, "interp")
    assert not isinstance(interp, noma.RuntimeError)
    assert fused.output == interp.output


@pytest.mark.parametrize(
    "example", ["xor_grow_preserve", "xor_grow_reset", "xor_grow_function_preserving"]
)
def test_examples_fused_match_unfused(example: str) -> None:
    source = (REPO / "examples" / f"{example}.noma").read_text(encoding="utf-8")
    assert fused_ops(source) >= 4
    assert_same(run(source, "jit", fused=True), run(source, "jit", fused=False))


# ----------------------------------------------------------------- errors

# A shape error inside a fused chain: the fallback reports it at the failing
# op, after the output of the iterations before.
ERROR_IN_CHAIN = """
fn main() {
    let a = rand_tensor(2, 3);
    let b = rand_tensor(2, 3);
    let i = 0;
    while i < 3 {
        print(i);
        if i == 2 { b = rand_tensor(3, 2); }
        let c = exp(a * 2 + 1) - b * 0;
        i = i + 1;
    }
    let d = (a * 2) + rand_tensor(3, 2);
    print(d);
}
"""

# Errors stay in program order around fused members: a member that cannot
# fail may move past the failing matmul, one that can fail may not.
ERROR_ORDER = """
fn main() {
    let a = rand_tensor(2, 3);
    let b = rand_tensor(3, 2);
    let i = 0;
    while i < 2 {
        let c = a * 2;
        let d = a + b;
        let e = matmul(a, a);
        let f = c * d + 1;
        i = i + 1;
    }
}
"""

ERROR_MATMUL_FIRST = """
fn main() {
    let a = rand_tensor(2, 3);
    let b = rand_tensor(3, 2);
    let i = 0;
    while i < 2 {
        let c = a * 2;
        let e = matmul(a, a);
        let f = (c + 1) * b;
        i = i + 1;
    }
}
"""


@pytest.mark.parametrize(
    ("source", "line", "col", "printed"),
    [
        (ERROR_IN_CHAIN, 9, 17, "0\n1\n2\n"),
        (ERROR_ORDER, 8, 17, ""),
        (ERROR_MATMUL_FIRST, 8, 17, ""),
    ],
)
def test_errors_keep_message_location_and_order(
    source: str, line: int, col: int, printed: str
) -> None:
    assert fused_ops(source) >= 1
    fused = run(source, "jit", fused=True)
    unfused = run(source, "jit", fused=False)
    interp = run(source, "interp")
    for result in (fused, unfused, interp):
        assert isinstance(result, noma.RuntimeError)
        assert (result.loc.line, result.loc.col) == (line, col), result.format()
        assert result.output == printed
    assert fused.message == interp.message
    assert_same(fused, unfused)


def test_shape_message_names_both_shapes() -> None:
    e = run(ERROR_IN_CHAIN, "jit")
    assert isinstance(e, noma.RuntimeError)
    assert e.message == "shapes [2, 3] and [3, 2] cannot be broadcast"


# ----------------------------------------------------------------- fuzzing

#: Compiles prog.noma twice (with and without noma-fuse-elementwise) and runs
#: each in its own folder with fds 1 and 2 sent to files; writes status.txt.
JIT_BOTH = """
import ctypes, os, sys
from noma import driver
from noma.backend import jit, llvm_emit

folder = sys.argv[1]
libc = ctypes.CDLL(None)
full = llvm_emit.NATIVE_PIPELINE
for variant in ("fused", "unfused"):
    os.chdir(os.path.join(folder, variant))
    llvm_emit.NATIVE_PIPELINE = full if variant == "fused" else tuple(
        p for p in full if p != "noma-fuse-elementwise")
    ctx = driver.make_driver_context()
    module = driver.load_module("../prog.noma", ctx)
    driver.run_passes(module, driver.default_pipeline(), ctx=ctx, verify_each=False)
    program = jit.compile_jit(module)
    out = os.open("out.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    err = os.open("err.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    sys.stdout.flush(); sys.stderr.flush(); libc.fflush(None)
    saved = os.dup(1), os.dup(2)
    os.dup2(out, 1); os.dup2(err, 2)
    try:
        status = program.run(7)
    finally:
        libc.fflush(None)
        os.dup2(saved[0], 1); os.dup2(saved[1], 2)
    with open("status.txt", "w") as f:
        f.write(str(status))
"""


def test_generated_programs_fused_match_unfused(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Programs of the pass fuzzer (tests/hardening/program_gen.py) through
    the JIT with and without fusion: the same output, errors and status.
    NOMA_FUZZ_EXAMPLES=N runs N programs."""
    import os
    import subprocess
    import sys

    from hypothesis import HealthCheck, given, settings

    sys.path.insert(0, str(REPO / "tests" / "hardening"))
    from program_gen import programs

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)

    @settings(
        max_examples=int(os.environ.get("NOMA_FUZZ_EXAMPLES") or 12),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(src=programs())
    def check(src: str) -> None:
        folder = tmp_path_factory.mktemp("fuse-fuzz")
        (folder / "prog.noma").write_text(src, encoding="utf-8")
        for variant in ("fused", "unfused"):
            (folder / variant).mkdir()
        proc = subprocess.run(
            [sys.executable, "-c", JIT_BOTH, str(folder)],
            capture_output=True, text=True, timeout=300, env=env, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            pytest.fail(f"does not compile:\n{proc.stderr[-2000:]}\n{src}")

        def outcome(variant: str) -> tuple[str, ...]:
            return tuple(
                (folder / variant / f).read_text(encoding="utf-8", errors="replace")
                for f in ("status.txt", "out.txt", "err.txt")
            )

        assert outcome("fused") == outcome("unfused"), src

    check()


# ----------------------------------------------------------------- loads without a copy

# Loads whose value is only read before anything may write the buffer share
# the buffer's data (noma-to-llvm, to_llvm_views.py); the others copy: a use
# after a store, after a store in an `if`, in a loop that stores, after a
# realloc or an indexed store. The output is the interpreter's.
VIEWS = """
fn main() {
    learn w = tensor [1, 2, 3];
    let a = w;
    w = w * 2;
    print(a);
    let b = w;
    print(b + 1);
    let c = w;
    if sum(c) > 0 { w = c * 0; print(c); }
    print(w);
    w = tensor [4, 5, 6];
    let d = w;
    let i = 0;
    while i < 3 {
        w = d + i;
        print(d);
        i = i + 1;
    }
    let g = w;
    realloc w = [5] init zeros;
    print(g);
    let h = w;
    print(h * 3);
    w = h + 1;
    let k = w;
    w[1] = 100;
    print(k);
    print(w);
}
"""

FREED = """
fn main() {
    learn w = tensor [1, 2];
    let i = 0;
    while i < 2 {
        print(w * 1);
        if i == 0 { free w; }
        i = i + 1;
    }
}
"""


def test_loads_without_copy_keep_their_values() -> None:
    from noma import driver
    from noma.dialects import mem
    from noma.passes.to_llvm_views import view_loads

    module = driver.parse_source(driver.Source("views.noma", VIEWS, "noma"))
    driver.run_passes(module, driver.parse_pipeline(UP_TO_FUSION))
    loads = [op for op in module.walk() if isinstance(op, mem.LoadOp)]
    assert 0 < len(view_loads(module)) < len(loads)
    jit, interp = run(VIEWS, "jit"), run(VIEWS, "interp")
    assert jit.output == interp.output
    assert jit.output.splitlines()[0] == "[1, 2, 3]"


def test_a_view_of_a_freed_buffer_is_an_error_at_the_load() -> None:
    jit, interp = run(FREED, "jit"), run(FREED, "interp")
    assert isinstance(jit, noma.RuntimeError) and isinstance(interp, noma.RuntimeError)
    assert jit.loc == interp.loc and jit.output == interp.output == "[1, 2]\n"
    assert jit.message.startswith("use of freed variable")
