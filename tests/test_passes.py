"""The NOMA passes preserve meaning: the reference interpreter gives the same
results before and after each pass (bit for bit where numbers are compared).

The interpreter implements the abstract `noma.train.update` itself, so a module
with `update` ops run directly, and run again after `noma-expand-optimizers`
+ `noma-migrate-realloc-state`, must give identical parameters.
"""

from __future__ import annotations

import os
import shutil
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.parser import Parser

from noma.backend.interp import run_function
from noma.backend.interp_state import RuntimeState
from noma.backend.runtime.rng import NomaRng
from noma.diagnostics import CompileError, NomaError
from noma.dialects import make_context
from noma.dialects import train as TR
from noma.passes import ALL_PASSES, DEFAULT_PIPELINE, pass_doc

CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance"


# ------------------------------------------------------------------ helpers


def parse(text: str) -> ModuleOp:
    module = Parser(make_context(), text).parse_module()
    module.verify()
    return module


def apply(module: ModuleOp, *names: str) -> ModuleOp:
    """Apply the named passes in order, verifying after each."""
    ctx = make_context()
    for name in names:
        ALL_PASSES[name]()().apply(ctx, module)
        module.verify()
    return module


def run(module: ModuleOp, seed: int = 0) -> tuple[list[np.ndarray], str]:
    """The entry's results (as arrays) and what it printed."""
    out = StringIO()
    state = RuntimeState(rng=NomaRng(seed), stdout=out, stderr=StringIO())
    results = run_function(module, "main", (), state=state)
    return [np.asarray(r, dtype=np.float64) for r in results], out.getvalue()


def assert_same_run(before: ModuleOp, after: ModuleOp, seed: int = 0) -> list[np.ndarray]:
    (r1, out1), (r2, out2) = run(before, seed), run(after, seed)
    assert out1 == out2
    assert len(r1) == len(r2)
    for a, b in zip(r1, r2, strict=True):
        assert a.shape == b.shape
        assert a.tobytes() == b.tobytes()  # bit for bit
    return r1


def ops_named(module: ModuleOp, name: str) -> list:
    return [op for op in module.walk() if op.name == name]


# ------------------------------------------------------------------ training modules

SGD, ADAM, RMSPROP = 1.0, 2.0, 3.0

LOOP = """
    %r{n} = noma.train.optimize params(%W, %B : !noma.mem.buffer<2>, !noma.mem.buffer<0>) hyper(%k{n}, %lr, %b1, %b2, %rho, %eps, %max) carry(%zero : f64) -> (f64) {{
    ^bb0(%it: f64):
      %at = arith.cmpf oeq, %it, %two : f64
      scf.if %at {{
        {realloc}
      }}
      %w = noma.mem.load %W : !noma.mem.buffer<2> -> tensor<?x?xf64>
      %b = noma.mem.load %B : !noma.mem.buffer<0> -> f64
      %d = noma.tensor.sub %w, %one : (tensor<?x?xf64>, f64) -> tensor<?x?xf64>
      %e = noma.tensor.add %d, %b : (tensor<?x?xf64>, f64) -> tensor<?x?xf64>
      %sq = noma.tensor.mul %e, %e : (tensor<?x?xf64>, tensor<?x?xf64>) -> tensor<?x?xf64>
      %l = noma.tensor.sum %sq : tensor<?x?xf64> -> f64
      noma.train.minimize %l : f64
      %stop = arith.cmpf olt, %l, %tiny : f64
      %true = arith.constant true
      %go = arith.xori %stop, %true : i1
      scf.if %go {{
        %g = noma.tensor.mul %e, %two : (tensor<?x?xf64>, f64) -> tensor<?x?xf64>
        %gb = noma.tensor.sum %g : tensor<?x?xf64> -> f64
        noma.train.update %W, %g : !noma.mem.buffer<2>, tensor<?x?xf64>
        noma.train.update %B, %gb : !noma.mem.buffer<0>, f64
      }}
      %it1 = noma.tensor.add %it, %one : (f64, f64) -> f64
      noma.train.yield %stop, %it1 : f64
    }}
    %wl{n} = noma.mem.load %W : !noma.mem.buffer<2> -> tensor<?x?xf64>
    %bl{n} = noma.mem.load %B : !noma.mem.buffer<0> -> f64
    noma.io.print %wl{n} : tensor<?x?xf64>
    noma.io.print %bl{n} : f64
"""

GROW_IN_LOOP = (
    'noma.mem.realloc %W to [%three, %three] init "uniform" (%mone, %one) : !noma.mem.buffer<2>'
)


def kind_def(n: int, kind: float, dynamic: bool) -> str:
    """`%k<n>`: an arith.constant, or (dynamic) a value computed at run time."""
    if not dynamic:
        return f"%k{n} = arith.constant {kind!r} : f64"
    return (
        f"%k{n}c = arith.constant {kind!r} : f64\n"
        f"    %k{n} = noma.tensor.add %k{n}c, %zero : (f64, f64) -> f64"
    )


def training_module(kinds: tuple[float, float, float], dynamic: bool = False) -> str:
    """Three optimize loops over W (2-D) and b (scalar): W grows between loops 1
    and 2 and inside loop 2 (at its third iteration); W's state is reset
    before loop 3; W is freed at the end."""
    loops = [
        LOOP.format(n=1, realloc=""),
        '    noma.mem.realloc %W to [%three, %two] init "normal" (%zero, %sd) : !noma.mem.buffer<2>',
        LOOP.format(n=2, realloc=GROW_IN_LOOP),
        "    noma.train.reset_state(%W : !noma.mem.buffer<2>)",
        LOOP.format(n=3, realloc=""),
    ]
    kind_defs = "\n    ".join(kind_def(i + 1, k, dynamic) for i, k in enumerate(kinds))
    return f"""
builtin.module attributes {{noma.entry = "main"}} {{
  func.func @main() -> (tensor<?x?xf64>, f64) {{
    %init = noma.tensor.constant dense<[[0.5, -1.0], [2.0, 0.25]]> : tensor<2x2xf64>
    %W = noma.train.param "w" %init : tensor<2x2xf64> -> !noma.mem.buffer<2>
    %b0 = arith.constant 0.3 : f64
    %B = noma.train.param "b" %b0 : f64 -> !noma.mem.buffer<0>
    %zero = arith.constant 0.0 : f64
    %one = arith.constant 1.0 : f64
    %mone = arith.constant -1.0 : f64
    %two = arith.constant 2.0 : f64
    %three = arith.constant 3.0 : f64
    %tiny = arith.constant 1.0e-12 : f64
    %lr = arith.constant 0.05 : f64
    %b1 = arith.constant 0.9 : f64
    %b2 = arith.constant 0.99 : f64
    %rho = arith.constant 0.8 : f64
    %eps = arith.constant 1.0e-08 : f64
    %max = arith.constant 6.0 : f64
    %sd = arith.constant 0.3 : f64
    {kind_defs}
    {"".join(loops)}
    %wf = noma.mem.load %W : !noma.mem.buffer<2> -> tensor<?x?xf64>
    %bf = noma.mem.load %B : !noma.mem.buffer<0> -> f64
    noma.mem.free %W : !noma.mem.buffer<2>
    func.return %wf, %bf : tensor<?x?xf64>, f64
  }}
}}
"""


KIND_CASES = [
    (SGD, SGD, SGD),
    (ADAM, ADAM, ADAM),
    (RMSPROP, RMSPROP, RMSPROP),
    (ADAM, RMSPROP, ADAM),  # Adam and RMSprop share v
    (RMSPROP, ADAM, SGD),
    (SGD, ADAM, 7.0),  # an unknown kind is SGD
]


@pytest.mark.parametrize("dynamic", [False, True], ids=["constant-kind", "runtime-kind"])
@pytest.mark.parametrize("kinds", KIND_CASES, ids=lambda k: "-".join(str(int(x)) for x in k))
def test_expansion_matches_abstract_update(kinds: tuple[float, float, float], dynamic: bool):
    text = training_module(kinds, dynamic)
    expanded = apply(parse(text), "noma-expand-optimizers", "noma-migrate-realloc-state")
    assert not ops_named(expanded, "noma.train.update")
    assert not ops_named(expanded, "noma.train.reset_state")
    w, b = assert_same_run(parse(text), expanded)
    assert w.shape == (3, 3)  # both growths happened
    assert not np.array_equal(w[:2, :2], [[0.5, -1.0], [2.0, 0.25]])  # training happened
    assert b != 0.3


def test_migration_is_needed():
    """Without migration the state buffers keep the old shape: the run fails
    (or differs), so the equality above really tests the migration."""
    text = training_module((ADAM, ADAM, ADAM))
    unmigrated = apply(parse(text), "noma-expand-optimizers")
    with pytest.raises(NomaError):
        run(unmigrated)


def test_every_param_gets_three_states_once():
    module = apply(parse(training_module((SGD, SGD, SGD))), "noma-expand-optimizers")
    states = [op for op in module.walk() if isinstance(op, TR.StateOp)]
    assert sorted((s.param.owner.sym_name.data, s.kind.data) for s in states) == [
        ("b", "m"), ("b", "t"), ("b", "v"), ("w", "m"), ("w", "t"), ("w", "v"),
    ]  # fmt: skip
    for param in (op for op in module.walk() if isinstance(op, TR.ParamOp)):
        following = [param.next_op, param.next_op.next_op, param.next_op.next_op.next_op]
        assert [s.kind.data for s in following] == ["m", "v", "t"]  # type: ignore[union-attr]


def test_constant_kind_emits_one_optimizer():
    text = training_module((ADAM, ADAM, ADAM))
    n_if = len(ops_named(parse(text), "scf.if"))
    module = apply(parse(text), "noma-expand-optimizers")
    assert len(ops_named(module, "scf.if")) == n_if  # no run-time dispatch
    assert len(ops_named(module, "noma.tensor.pow")) == 3 * 2 * 2  # loops * params * (b1, b2)
    dynamic = apply(parse(training_module((ADAM, ADAM, ADAM), True)), "noma-expand-optimizers")
    assert len(ops_named(dynamic, "scf.if")) == n_if + 3 * 2 * 2  # Adam? RMSprop? per update


def test_sgd_and_rmsprop_leave_t_alone():
    module = apply(parse(training_module((SGD, RMSPROP, SGD))), "noma-expand-optimizers")
    t_buffers = {
        op.result for op in module.walk() if isinstance(op, TR.StateOp) and op.kind.data == "t"
    }
    stores = [op for op in ops_named(module, "noma.mem.store") if op.operands[1] in t_buffers]
    # only the reset of W writes t (zeros), no optimizer step does
    assert len(stores) == 1


def test_expand_rejects_update_of_non_param():
    text = """
builtin.module {
  func.func @main() {
    %two = arith.constant 2.0 : f64
    %A = noma.mem.alloc [%two] : !noma.mem.buffer<1>
    %a = noma.mem.load %A : !noma.mem.buffer<1> -> tensor<?xf64>
    noma.train.update %A, %a : !noma.mem.buffer<1>, tensor<?xf64>
    func.return
  }
}
"""
    with pytest.raises(CompileError, match="not a learnable parameter"):
        apply(parse(text), "noma-expand-optimizers")


RESET_ONLY = """
builtin.module {
  func.func @main() {
    %init = noma.tensor.constant dense<[1.0, 2.0]> : tensor<2xf64>
    %W = noma.train.param "w" %init : tensor<2xf64> -> !noma.mem.buffer<1>
    noma.train.reset_state(%W : !noma.mem.buffer<1>)
    func.return
  }
}
"""


@pytest.mark.parametrize("text", [training_module((ADAM, ADAM, ADAM)), RESET_ONLY])
def test_migrate_before_expand_fails_clearly(text: str):
    with pytest.raises(CompileError, match="must run after noma-expand-optimizers"):
        apply(parse(text), "noma-migrate-realloc-state")


def test_migrate_is_idempotent():
    text = training_module((ADAM, ADAM, ADAM))
    once = apply(parse(text), "noma-expand-optimizers", "noma-migrate-realloc-state")
    n_realloc = len(ops_named(once, "noma.mem.realloc"))
    n_free = len(ops_named(once, "noma.mem.free"))
    assert (n_realloc, n_free) == (2 * 4, 4)
    apply(once, "noma-migrate-realloc-state")
    assert len(ops_named(once, "noma.mem.realloc")) == n_realloc
    assert len(ops_named(once, "noma.mem.free")) == n_free


# ------------------------------------------------------------------ inline

CALLS = """
builtin.module attributes {noma.entry = "main"} {
  func.func @sq(%x: tensor<?xf64>) -> tensor<?xf64> {
    %r = noma.tensor.mul %x, %x : (tensor<?xf64>, tensor<?xf64>) -> tensor<?xf64>
    func.return %r : tensor<?xf64>
  }
  func.func @norm(%x: tensor<?xf64>) -> f64 {
    %s = func.call @sq(%x) : (tensor<?xf64>) -> tensor<?xf64>
    %n = noma.tensor.sum %s : tensor<?xf64> -> f64
    %r = noma.tensor.sqrt %n : f64 -> f64
    func.return %r : f64
  }
  func.func @show(%x: f64) {
    noma.io.print %x : f64
    func.return
  }
  func.func @main() -> f64 {
    %a = noma.tensor.constant dense<[3.0, 4.0]> : tensor<2xf64>
    %c = noma.tensor.cast %a : tensor<2xf64> -> tensor<?xf64>
    %n = func.call @norm(%c) : (tensor<?xf64>) -> f64
    func.call @show(%n) : (f64) -> ()
    %zero = arith.constant 0.0 : f64
    %pos = arith.cmpf ogt, %n, %zero : f64
    %r = scf.if %pos -> (f64) {
      %m = func.call @norm(%c) : (tensor<?xf64>) -> f64
      %s = noma.tensor.add %m, %n : (f64, f64) -> f64
      scf.yield %s : f64
    } else {
      scf.yield %n : f64
    }
    func.return %r : f64
  }
}
"""


def test_inline_preserves_results():
    inlined = apply(parse(CALLS), "noma-inline")
    assert [f.sym_name.data for f in inlined.ops if isinstance(f, func.FuncOp)] == ["main"]
    assert not ops_named(inlined, "func.call")
    (r,) = assert_same_run(parse(CALLS), inlined)
    assert float(r) == 10.0


def test_inline_rejects_recursion_before_inlining():
    text = CALLS.replace(
        "%r = noma.tensor.sqrt %n : f64 -> f64",
        "%r0 = noma.tensor.sqrt %n : f64 -> f64\n"
        '    %r = func.call @norm(%s) : (tensor<?xf64>) -> f64 loc("p.noma":7:10)',
    )
    module = parse(text)
    with pytest.raises(CompileError) as info:
        apply(module, "noma-inline")
    assert info.value.message == "recursive call to norm"
    assert str(info.value.loc) == "p.noma:7:10"
    assert len(ops_named(module, "func.call")) == 5  # nothing was inlined


# ------------------------------------------------------------------ shape inference

SHAPES = """
builtin.module attributes {noma.entry = "main"} {
  func.func @main() -> tensor<?x?xf64> {
    %a = noma.tensor.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf64>
    %r = noma.tensor.constant dense<[1.0, 0.5, 2.0]> : tensor<3xf64>
    %x = noma.tensor.add %a, %r : (tensor<2x3xf64>, tensor<3xf64>) -> tensor<?x?xf64>
    %t = noma.tensor.transpose %x : tensor<?x?xf64> -> tensor<?x?xf64>
    %m = noma.tensor.matmul %x, %t : (tensor<?x?xf64>, tensor<?x?xf64>) -> tensor<?x?xf64>
    %s = noma.tensor.sum %m {axis = 1 : i64} : tensor<?x?xf64> -> tensor<?xf64>
    %sm = noma.tensor.softmax %s : tensor<?xf64> -> tensor<?xf64>
    noma.io.print %sm : tensor<?xf64>
    func.return %m : tensor<?x?xf64>
  }
}
"""


def test_shape_inference_refines_and_preserves_results():
    refined = apply(parse(SHAPES), "noma-shape-inference")
    types = {
        op.results[0].name_hint: str(op.results[0].type)
        for op in refined.walk()
        if len(op.results) == 1 and op.name != "noma.tensor.cast"
    }
    assert types["m"] == "tensor<2x2xf64>"
    assert types["s"] == "tensor<2xf64>"
    assert len(ops_named(refined, "noma.tensor.cast")) == 1  # for func.return
    assert_same_run(parse(SHAPES), refined)


# ------------------------------------------------------------------ registry


OWN_PASSES = (
    "noma-inline",
    "noma-shape-inference",
    "noma-expand-optimizers",
    "noma-migrate-realloc-state",
)
UPSTREAM_PASSES = ("canonicalize", "cse", "dce", "convert-scf-to-cf", "reconcile-unrealized-casts")


def test_registry():
    assert set(OWN_PASSES + UPSTREAM_PASSES + ("noma-autodiff",)) <= set(ALL_PASSES)
    for name in OWN_PASSES + UPSTREAM_PASSES:
        assert ALL_PASSES[name]().name == name
    for name in OWN_PASSES:
        doc = pass_doc(name)
        assert doc and "\n" not in doc
    assert set(DEFAULT_PIPELINE) <= set(ALL_PASSES)
    assert DEFAULT_PIPELINE.index("noma-expand-optimizers") < DEFAULT_PIPELINE.index(
        "noma-migrate-realloc-state"
    )


def test_pass_options_parse():
    from xdsl.passes import PassPipeline

    (p,) = PassPipeline.parse_spec(ALL_PASSES, "noma-expand-optimizers{default-lr=0.5}").passes
    assert p.default_lr == 0.5  # type: ignore[attr-defined]


def _has_autodiff() -> bool:
    try:
        import noma.passes.autodiff  # noqa: F401
    except ImportError:
        return False
    return True


# ------------------------------------------------------------------ conformance programs


def _training_programs() -> list[Path]:
    if not CONFORMANCE.is_dir():
        return []
    return sorted(p for p in CONFORMANCE.glob("*.noma") if "optimize" in p.read_text())


def _run_program(path: Path, passes: list[str], seed: int) -> tuple[str, str]:
    from noma.backend.interp import run_module
    from noma.driver import load_module

    out = StringIO()
    try:
        module = load_module(str(path))
        apply(module, *passes)
        run_module(module, seed=seed, stdout=out, stderr=StringIO())
    except NomaError as e:
        return out.getvalue(), e.format()
    return out.getvalue(), ""


@pytest.mark.skipif(not _has_autodiff(), reason="noma-autodiff is not available")
@pytest.mark.parametrize("program", _training_programs(), ids=lambda p: p.stem)
def test_conformance_programs_same_before_and_after_expansion(program: Path, tmp_path: Path):
    """Every training program of the conformance suite prints the same with the
    abstract update as with the expanded optimizers (+ state migration)."""
    for f in CONFORMANCE.iterdir():
        if f.is_file():
            shutil.copy(f, tmp_path / f.name)
    expected = (CONFORMANCE / f"{program.stem}.expected").read_text().splitlines()
    seed = int(expected[0].split()[1]) if expected and expected[0].startswith("#seed") else 0
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        abstract = _run_program(tmp_path / program.name, ["noma-inline", "noma-autodiff"], seed)
        expanded = _run_program(tmp_path / program.name, list(DEFAULT_PIPELINE), seed)
    finally:
        os.chdir(cwd)
    assert expanded == abstract
