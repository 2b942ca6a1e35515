"""noma-autodiff: gradients against central finite differences.

Each case is an optimize body (MLIR text) that computes `%loss` from
parameters. `gradients` builds a module with

- `@main`: the parameters, one SGD iteration (lr = 1, max_iter = 1, the
  until condition false) over the body after `noma-autodiff`, then the
  parameters' values; the gradient is `initial - final`;
- `@objective`: the same body as a function of the parameter values,
  evaluated by the reference interpreter for central differences.

In bodies, `!M`, `!V`, `!T3` stand for `tensor<?x?xf64>`, `tensor<?xf64>`
and `tensor<?x?x?xf64>`; constants `%zero %half %one %two %three %five`
and the weight tensors `%K23 %K3 %K2 %K21 %K22 %K32 %K13 %K5 %K234` are in scope.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping

import numpy as np
import pytest
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import BlockArgument, Operation, OpResult, SSAValue
from xdsl.parser import Parser
from xdsl.utils.exceptions import InterpretationError

from noma.backend.interp import RuntimeState, run_function
from noma.diagnostics import CompileError
from noma.dialects import make_context
from noma.dialects.train import UpdateOp
from noma.passes.autodiff import AutodiffPass

Value = float | np.ndarray

# ---------------------------------------------------------------- module text


def lit(v: float) -> str:
    """An exact MLIR float literal."""
    return format(float(v), ".17e")


def nested(a: np.ndarray) -> str:
    if a.ndim == 0:
        return lit(float(a))
    return "[" + ", ".join(nested(x) for x in a) + "]"


def static_type(v: Value) -> str:
    a = np.asarray(v)
    return "f64" if a.ndim == 0 else f"tensor<{'x'.join(map(str, a.shape))}xf64>"


def dynamic_type(v: Value) -> str:
    a = np.asarray(v)
    return "f64" if a.ndim == 0 else f"tensor<{'?x' * a.ndim}f64>"


def define(name: str, v: Value) -> str:
    a = np.asarray(v, dtype=float)
    if a.ndim == 0:
        return f"%{name} = arith.constant {lit(float(a))} : f64"
    return f"%{name} = noma.tensor.constant dense<{nested(a)}> : {static_type(a)}"


def weights(shape: tuple[int, ...], offset: float) -> np.ndarray:
    n = int(np.prod(shape))
    return (np.arange(n, dtype=float) * 0.37 + offset).reshape(shape) % 1.7 - 0.6


WEIGHTS = {
    "K23": weights((2, 3), 0.1),
    "K3": weights((3,), 0.2),
    "K2": weights((2,), 0.3),
    "K21": weights((2, 1), 0.4),
    "K22": weights((2, 2), 0.5),
    "K32": weights((3, 2), 0.6),
    "K13": weights((1, 3), 0.7),
    "K5": weights((5,), 0.8),
    "K234": weights((2, 3, 4), 0.9),
}
SCALARS = {"zero": 0.0, "half": 0.5, "one": 1.0, "two": 2.0, "three": 3.0, "five": 5.0}


def prelude() -> str:
    lines = [define(k, v) for k, v in SCALARS.items()]
    lines += [define(k, v) for k, v in WEIGHTS.items()]
    return "\n".join(lines)


def expand(body: str) -> str:
    return (
        body.replace("!T3", "tensor<?x?x?xf64>")
        .replace("!M", "tensor<?x?xf64>")
        .replace("!V", "tensor<?xf64>")
    )


def main_function(body: str, params: Mapping[str, Value]) -> str:
    inits = "\n".join(define(f"{k}_init", v) for k, v in params.items())
    bufs = "\n".join(
        f'%{k}_buf = noma.train.param "{k}" %{k}_init : {static_type(v)} '
        f"-> !noma.mem.buffer<{np.ndim(v)}>"
        for k, v in params.items()
    )
    buf_list = ", ".join(f"%{k}_buf" for k in params)
    buf_types = ", ".join(f"!noma.mem.buffer<{np.ndim(v)}>" for v in params.values())
    loads = "\n".join(
        f"%{k} = noma.mem.load %{k}_buf : !noma.mem.buffer<{np.ndim(v)}> -> {dynamic_type(v)}"
        for k, v in params.items()
    )
    finals = "\n".join(
        f"%{k}_final = noma.mem.load %{k}_buf : !noma.mem.buffer<{np.ndim(v)}> -> {dynamic_type(v)}"
        for k, v in params.items()
    )
    ret_types = ", ".join(dynamic_type(v) for v in params.values())
    rets = ", ".join(f"%{k}_final" for k in params)
    return f"""
func.func @main() -> ({ret_types}) {{
{prelude()}
{inits}
{bufs}
%false = arith.constant false
noma.train.optimize params({buf_list} : {buf_types}) hyper(%one, %one, %zero, %zero, %zero, %zero, %one) {{
{loads}
{body}
noma.train.minimize %loss : f64
noma.train.yield %false
}}
{finals}
func.return {rets} : {ret_types}
}}"""


def objective_function(body: str, args: Mapping[str, Value]) -> str:
    sig = ", ".join(f"%{k}: {dynamic_type(v)}" for k, v in args.items())
    return f"""
func.func @objective({sig}) -> f64 {{
{prelude()}
{body}
func.return %loss : f64
}}"""


def build(
    body: str,
    params: Mapping[str, Value],
    objective: tuple[str, Mapping[str, Value]] | None = None,
) -> ModuleOp:
    obj_body, obj_args = objective or (body, params)
    text = (
        "builtin.module {"
        + main_function(expand(body), params)
        + objective_function(expand(obj_body), obj_args)
        + "}"
    )
    module = Parser(make_context(), text).parse_module()
    module.verify()
    return module


# ---------------------------------------------------------------- running


def quiet() -> RuntimeState:
    return RuntimeState(stdout=io.StringIO(), stderr=io.StringIO())


def differentiate(module: ModuleOp) -> None:
    AutodiffPass().apply(make_context(), module)
    module.verify()
    assert_dominance(module)


def assert_dominance(module: ModuleOp) -> None:
    """Every operand is defined before its use in the same or an enclosing
    block (xDSL's verifier does not check this)."""
    for op in module.walk():
        for v in op.operands:
            assert visible(v, op), f"{v} is not visible at {op.name}"


def visible(v: SSAValue, user: Operation) -> bool:
    if isinstance(v, BlockArgument):
        return v.block.is_ancestor(user)
    assert isinstance(v, OpResult)
    definer, block = v.owner, v.owner.parent_block()
    cur: Operation | None = user
    while cur is not None:
        if cur.parent_block() is block:
            return block.get_operation_index(definer) < block.get_operation_index(cur)
        cur = cur.parent_op()
    return False


def run_main(module: ModuleOp) -> list[np.ndarray]:
    try:
        out = run_function(module, "main", (), state=quiet())
    except InterpretationError as e:
        if "has no implementation" in str(e):
            pytest.skip(str(e))
        raise
    return [np.asarray(v, dtype=float) for v in out]


def objective(module: ModuleOp, args: list[np.ndarray]) -> float:
    values = tuple(float(a) if a.ndim == 0 else a.copy() for a in args)
    (loss,) = run_function(module, "objective", values, state=quiet())
    return float(loss)


def central_differences(module: ModuleOp, args: list[np.ndarray], h: float = 1e-5) -> list:
    grads = []
    for k, a in enumerate(args):
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            plus = [x.copy() for x in args]
            minus = [x.copy() for x in args]
            plus[k][idx] += h
            minus[k][idx] -= h
            g[idx] = (objective(module, plus) - objective(module, minus)) / (2 * h)
        grads.append(g)
    return grads


def check(body: str, **params: Value) -> None:
    """The gradient of every parameter matches central differences."""
    module = build(body, params)
    differentiate(module)
    inits = [np.asarray(v, dtype=float) for v in params.values()]
    finals = run_main(module)
    numeric = central_differences(module, inits)
    for name, init, final, fd in zip(params, inits, finals, numeric, strict=True):
        np.testing.assert_allclose(init - final, fd, rtol=1e-6, atol=1e-8, err_msg=name)


def weighted(value: str, typ: str, weight: str) -> str:
    """`%loss = sum(value * weight)`."""
    return (
        f"%weighted = noma.tensor.mul %{value}, %{weight} : ({typ}, {static_weight(weight)}) "
        f"-> {typ}\n%loss = noma.tensor.sum %weighted : {typ} -> f64"
    )


def static_weight(name: str) -> str:
    return static_type(WEIGHTS[name])


# ---------------------------------------------------------------- parameters

A = np.array([[0.3, 0.7, 1.2], [1.5, 0.4, 0.9]])
B = np.array([[0.5, 0.2, 1.1], [0.8, 1.3, 0.6]])
MIXED = np.array([[0.3, -0.7, 1.2], [-1.5, 0.4, 0.9]])
ROW = np.array([0.45, 0.85, 1.25])
COL = np.array([[0.55], [1.05]])
S = 0.65

# ---------------------------------------------------------------- element-wise unary

UNARY = ["neg", "sigmoid", "relu", "tanh", "exp", "sin", "cos", "abs"]
UNARY_POSITIVE = ["log", "sqrt", "tan"]


@pytest.mark.parametrize("op", UNARY + UNARY_POSITIVE)
def test_unary_tensor(op: str) -> None:
    x = A if op in UNARY_POSITIVE else MIXED
    body = f"%y = noma.tensor.{op} %x : !M -> !M\n" + weighted("y", "!M", "K23")
    check(body, x=x)


@pytest.mark.parametrize("op", UNARY + UNARY_POSITIVE)
def test_unary_scalar(op: str) -> None:
    body = f"%y = noma.tensor.{op} %s : f64 -> f64\n%loss = noma.tensor.mul %y, %three : (f64, f64) -> f64"
    check(body, s=-S if op in ("relu", "abs", "neg") else S)


@pytest.mark.parametrize("op", ["floor", "ceil", "trunc", "not"])
def test_zero_derivative_ops(op: str) -> None:
    body = (
        f"%f = noma.tensor.{op} %x : !M -> !M\n"
        "%y = noma.tensor.add %f, %x : (!M, !M) -> !M\n" + weighted("y", "!M", "K23")
    )
    check(body, x=MIXED * 1.3)


def test_comparison_has_zero_derivative() -> None:
    body = (
        '%c = noma.tensor.cmp "gt", %x, %y : (!M, !M) -> !M\n'
        "%p = noma.tensor.mul %c, %x : (!M, !M) -> !M\n" + weighted("p", "!M", "K23")
    )
    check(body, x=A, y=B)


# ---------------------------------------------------------------- element-wise binary

BINARY = ["add", "sub", "mul", "div", "pow", "min", "max", "rem"]
SHAPES = {
    "same": (A, B, "!M", "!M", "!M", "K23"),
    "row": (A, ROW, "!M", "!V", "!M", "K23"),
    "column": (A, COL, "!M", "!M", "!M", "K23"),
    "scalar-tensor": (S, A, "f64", "!M", "!M", "K23"),
    "tensor-scalar": (ROW, S, "!V", "f64", "!V", "K3"),
    "column-row": (COL, ROW, "!M", "!V", "!M", "K23"),
}


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("op", BINARY)
def test_binary(op: str, shape: str) -> None:
    a, b, ta, tb, tr, k = SHAPES[shape]
    body = f"%y = noma.tensor.{op} %a, %b : ({ta}, {tb}) -> {tr}\n" + weighted("y", tr, k)
    check(body, a=a, b=b)


def test_binary_same_operand_twice() -> None:
    body = "%y = noma.tensor.mul %x, %x : (!M, !M) -> !M\n" + weighted("y", "!M", "K23")
    check(body, x=MIXED)


def test_pow_constant_exponent() -> None:
    body = "%y = noma.tensor.pow %x, %three : (!M, f64) -> !M\n" + weighted("y", "!M", "K23")
    check(body, x=MIXED)


def test_pow_tensor_exponent_only() -> None:
    body = (
        "%base = noma.tensor.add %K23, %one : (tensor<2x3xf64>, f64) -> tensor<2x3xf64>\n"
        "%y = noma.tensor.pow %base, %e : (tensor<2x3xf64>, !M) -> !M\n"
        "%loss = noma.tensor.sum %y : !M -> f64"
    )
    check(body, e=B)


@pytest.mark.parametrize(("op", "lhs_gets"), [("min", True), ("max", True)])
def test_min_max_tie_goes_to_first_argument(op: str, lhs_gets: bool) -> None:
    body = f"%y = noma.tensor.{op} %a, %b : (!V, !V) -> !V\n" + weighted("y", "!V", "K3")
    module = build(body, {"a": ROW, "b": ROW.copy()})
    differentiate(module)
    a_final, b_final = run_main(module)
    np.testing.assert_allclose(ROW - a_final, WEIGHTS["K3"], atol=1e-12)
    np.testing.assert_allclose(ROW - b_final, 0.0, atol=1e-12)


def test_relu_and_abs_at_zero() -> None:
    body = (
        "%r = noma.tensor.relu %x : !V -> !V\n%q = noma.tensor.abs %x : !V -> !V\n"
        "%y = noma.tensor.add %r, %q : (!V, !V) -> !V\n" + weighted("y", "!V", "K3")
    )
    x = np.array([0.0, -0.5, 0.5])
    module = build(body, {"x": x})
    differentiate(module)
    (final,) = run_main(module)
    k = WEIGHTS["K3"]
    np.testing.assert_allclose(x - final, [0.0, -k[1], 2 * k[2]], atol=1e-12)


def test_select() -> None:
    body = (
        '%c = noma.tensor.cmp "gt", %x, %y : (!M, !M) -> !M\n'
        "%xx = noma.tensor.mul %x, %x : (!M, !M) -> !M\n"
        "%s = noma.tensor.select %c, %xx, %y : (!M, !M, !M) -> !M\n" + weighted("s", "!M", "K23")
    )
    check(body, x=A, y=B)


def test_select_broadcast_scalar_branch() -> None:
    body = (
        '%c = noma.tensor.cmp "gt", %x, %half : (!V, f64) -> !V\n'
        "%s = noma.tensor.select %c, %x, %t : (!V, !V, f64) -> !V\n" + weighted("s", "!V", "K3")
    )
    check(body, x=ROW, t=S)


def test_arith_select() -> None:
    body = (
        "%c = arith.cmpf ogt, %s, %half : f64\n"
        "%sq = noma.tensor.mul %s, %t : (f64, f64) -> f64\n"
        "%loss = arith.select %c, %sq, %t : f64"
    )
    check(body, s=S, t=-0.4)


# ---------------------------------------------------------------- reductions


@pytest.mark.parametrize("op", ["sum", "mean"])
def test_full_reduction(op: str) -> None:
    body = (
        "%sq = noma.tensor.mul %x, %K23 : (!M, tensor<2x3xf64>) -> !M\n"
        f"%r = noma.tensor.{op} %sq : !M -> f64\n"
        "%loss = noma.tensor.mul %r, %r : (f64, f64) -> f64"
    )
    check(body, x=MIXED)


@pytest.mark.parametrize("op", ["sum", "mean"])
@pytest.mark.parametrize(("axis", "weight", "rtype"), [(0, "K3", "!V"), (1, "K2", "!V")])
def test_axis_reduction(op: str, axis: int, weight: str, rtype: str) -> None:
    body = (
        f"%r = noma.tensor.{op} %x {{axis = {axis} : i64}} : !M -> {rtype}\n"
        f"%r2 = noma.tensor.mul %r, %r : ({rtype}, {rtype}) -> {rtype}\n"
        + weighted("r2", rtype, weight)
    )
    check(body, x=MIXED)


@pytest.mark.parametrize("op", ["sum", "mean"])
@pytest.mark.parametrize(("axis", "weight"), [(0, "K13"), (1, "K21")])
def test_axis_reduction_keepdims(op: str, axis: int, weight: str) -> None:
    body = f"%r = noma.tensor.{op} %x {{axis = {axis} : i64, keepdims}} : !M -> !M\n" + weighted(
        "r", "!M", weight
    )
    check(body, x=MIXED)


@pytest.mark.parametrize("op", ["sum", "mean"])
def test_axis_reduction_1d(op: str) -> None:
    body = (
        f"%r = noma.tensor.{op} %x {{axis = 0 : i64}} : !V -> f64\n"
        "%loss = noma.tensor.mul %r, %r : (f64, f64) -> f64"
    )
    check(body, x=ROW)


@pytest.mark.parametrize(("axis", "rshape"), [(0, (3, 4)), (1, (2, 4)), (2, (2, 3))])
def test_axis_reduction_rank3(axis: int, rshape: tuple[int, int]) -> None:
    WEIGHTS.setdefault(f"R{axis}", weights(rshape, 0.15))
    w = static_type(WEIGHTS[f"R{axis}"])
    body = (
        f"%r = noma.tensor.sum %x {{axis = {axis} : i64}} : !T3 -> !M\n"
        f"%r2 = noma.tensor.mul %r, %r : (!M, !M) -> !M\n"
        f"%weighted = noma.tensor.mul %r2, %R{axis} : (!M, {w}) -> !M\n"
        "%loss = noma.tensor.sum %weighted : !M -> f64"
    )
    check(body, x=WEIGHTS["K234"] * 0.8)


# ---------------------------------------------------------------- linear algebra


def test_matmul() -> None:
    body = "%p = noma.tensor.matmul %a, %b : (!M, !M) -> !M\n" + weighted("p", "!M", "K22")
    check(body, a=MIXED, b=B.T.copy())


@pytest.mark.parametrize(
    ("flags", "a", "b"),
    [
        ("{transpose_lhs}", lambda: MIXED.T.copy(), lambda: B.T.copy()),
        ("{transpose_rhs}", lambda: MIXED.copy(), lambda: B.copy()),
        ("{transpose_lhs, transpose_rhs}", lambda: MIXED.T.copy(), lambda: B.copy()),
    ],
)
def test_matmul_transposed_operands(flags: str, a: Callable, b: Callable) -> None:
    body = f"%p = noma.tensor.matmul %a, %b {flags} : (!M, !M) -> !M\n" + weighted("p", "!M", "K22")
    check(body, a=a(), b=b())


def test_matmul_constant_lhs() -> None:
    body = (
        "%p = noma.tensor.matmul %K32, %w : (tensor<3x2xf64>, !M) -> !M\n"
        "%s = noma.tensor.sigmoid %p : !M -> !M\n" + weighted("s", "!M", "K32")
    )
    check(body, w=MIXED[:, :2].copy())


def test_dot() -> None:
    body = (
        "%d = noma.tensor.dot %a, %b : (!V, !V) -> f64\n"
        "%loss = noma.tensor.mul %d, %d : (f64, f64) -> f64"
    )
    check(body, a=ROW, b=np.array([0.3, -0.2, 0.9]))


def test_transpose() -> None:
    body = "%t = noma.tensor.transpose %x : !M -> !M\n" + weighted("t", "!M", "K32")
    check(body, x=MIXED)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize(("x", "typ", "weight"), [(MIXED, "!M", "K23"), (ROW, "!V", "K3")])
def test_softmax(op: str, x: np.ndarray, typ: str, weight: str) -> None:
    body = f"%s = noma.tensor.{op} %x : {typ} -> {typ}\n" + weighted("s", typ, weight)
    check(body, x=x)


def test_mlp_layer() -> None:
    body = (
        "%h = noma.tensor.matmul %K32, %w : (tensor<3x2xf64>, !M) -> !M\n"
        "%z = noma.tensor.add %h, %b : (!M, !V) -> !M\n"
        "%s = noma.tensor.sigmoid %z : !M -> !M\n"
        "%e = noma.tensor.sub %s, %K32 : (!M, tensor<3x2xf64>) -> !M\n"
        "%q = noma.tensor.pow %e, %two : (!M, f64) -> !M\n"
        "%loss = noma.tensor.mean %q : !M -> f64"
    )
    check(body, w=np.array([[0.2, -0.4], [0.7, 0.1]]), b=np.array([0.05, -0.3]))


# ---------------------------------------------------------------- indexing and shapes


def test_index_several_times() -> None:
    body = (
        "%row = noma.tensor.index %x[%one] : !M -> !V\n"
        "%e = noma.tensor.index %x[%zero, %two] : !M -> f64\n"
        "%f = noma.tensor.index %x[%zero, %two] : !M -> f64\n"
        "%ef = noma.tensor.mul %e, %f : (f64, f64) -> f64\n"
        "%rw = noma.tensor.mul %row, %K3 : (!V, tensor<3xf64>) -> !V\n"
        "%rs = noma.tensor.sum %rw : !V -> f64\n"
        "%loss = noma.tensor.add %rs, %ef : (f64, f64) -> f64"
    )
    check(body, x=MIXED)


def test_insert_constant_into_param_tensor() -> None:
    body = (
        "%i = noma.tensor.insert %three into %x[%one, %zero] : f64, !M -> !M\n"
        "%j = noma.tensor.insert %two into %i[%zero] : f64, !M -> !M\n"
        "%sq = noma.tensor.mul %j, %x : (!M, !M) -> !M\n" + weighted("sq", "!M", "K23")
    )
    check(body, x=MIXED)


def test_slice() -> None:
    body = (
        "%s = noma.tensor.slice %x[%one : %three] : !M -> !M\n"
        "%sq = noma.tensor.mul %s, %s : (!M, !M) -> !M\n"
        "%loss = noma.tensor.sum %sq : !M -> f64"
    )
    check(body, x=np.array([[0.3, -0.7], [1.2, -1.5], [0.4, 0.9], [0.1, 0.2]]))


def test_cast_and_to_scalar() -> None:
    body = (
        "%c = noma.tensor.cast %x : !M -> tensor<2x3xf64>\n"
        "%cw = noma.tensor.mul %c, %K23 : (tensor<2x3xf64>, tensor<2x3xf64>) -> tensor<2x3xf64>\n"
        "%cs = noma.tensor.sum %cw : tensor<2x3xf64> -> f64\n"
        "%s = noma.tensor.to_scalar %one_el : !V\n"
        "%ss = noma.tensor.mul %s, %s : (f64, f64) -> f64\n"
        "%loss = noma.tensor.add %cs, %ss : (f64, f64) -> f64"
    )
    check(body, x=MIXED, one_el=np.array([0.7]))


def test_broadcast_like_and_reduce_like() -> None:
    body = (
        "%b = noma.tensor.broadcast_like %v, %K23 : (!V, tensor<2x3xf64>) -> !M\n"
        "%r = noma.tensor.reduce_like %x, %K3 : (!M, tensor<3xf64>) -> !V\n"
        "%br = noma.tensor.mul %b, %r : (!M, !V) -> !M\n" + weighted("br", "!M", "K23")
    )
    check(body, v=ROW, x=MIXED)


def test_resize_value() -> None:
    body = (
        '%r = noma.tensor.resize %x to [%three, %two] init "zeros" () : !M -> !M\n'
        "%sq = noma.tensor.mul %r, %r : (!M, !M) -> !M\n" + weighted("sq", "!M", "K32")
    )
    check(body, x=MIXED)


def test_from_elements() -> None:
    body = (
        "%t = noma.tensor.from_elements %s, %u, %s, %three : tensor<2x2xf64>\n"
        "%t2 = noma.tensor.mul %t, %t : (tensor<2x2xf64>, tensor<2x2xf64>) -> tensor<2x2xf64>\n"
        "%w = noma.tensor.mul %t2, %K22 : (tensor<2x2xf64>, tensor<2x2xf64>) -> tensor<2x2xf64>\n"
        "%loss = noma.tensor.sum %w : tensor<2x2xf64> -> f64"
    )
    check(body, s=S, u=-0.3)


def test_scalar_param_broadcast_into_tensor() -> None:
    body = (
        "%y = noma.tensor.mul %K23, %s : (tensor<2x3xf64>, f64) -> !M\n"
        "%e = noma.tensor.exp %y : !M -> !M\n%loss = noma.tensor.mean %e : !M -> f64"
    )
    check(body, s=S)


# ---------------------------------------------------------------- control flow

IF_BODY = """
%sum = noma.tensor.sum %x : !V -> f64
%big = arith.cmpf ogt, %sum, %limit : f64
%r = scf.if %big -> (f64) {
  %sq = noma.tensor.mul %x, %x : (!V, !V) -> !V
  %t = noma.tensor.sum %sq : !V -> f64
  %inner = arith.cmpf ogt, %t, %two : f64
  %u = scf.if %inner -> (f64) {
    %e = noma.tensor.exp %t : f64 -> f64
    %es = noma.tensor.mul %e, %s : (f64, f64) -> f64
    scf.yield %es : f64
  } else {
    scf.yield %sum : f64
  }
  scf.yield %u : f64
} else {
  %m = noma.tensor.mul %s, %sum : (f64, f64) -> f64
  %m2 = noma.tensor.mul %m, %m : (f64, f64) -> f64
  scf.yield %m2 : f64
}
%loss = noma.tensor.add %r, %sum : (f64, f64) -> f64
"""


@pytest.mark.parametrize(
    ("limit", "x"),
    [(1.0, np.array([1.0, 0.9, 0.3])), (1.0, np.array([0.4, 0.5, 0.3])), (5.0, ROW)],
    ids=["then-then", "then-else", "else"],
)
def test_if_branches(limit: float, x: np.ndarray) -> None:
    body = f"%limit = arith.constant {lit(limit)} : f64\n" + IF_BODY
    check(body, x=x, s=0.4)


def test_param_only_in_untaken_branch_gets_zero_gradient() -> None:
    body = """
%xs = noma.tensor.sum %x : !V -> f64
%c = arith.cmpf ogt, %xs, %five : f64
%r = scf.if %c -> (f64) {
  %vv = noma.tensor.mul %v, %v : (f64, f64) -> f64
  scf.yield %vv : f64
} else {
  scf.yield %xs : f64
}
%loss = noma.tensor.mul %r, %r : (f64, f64) -> f64
"""
    module = build(body, {"x": ROW, "v": S})
    differentiate(module)
    assert len([op for op in module.walk() if isinstance(op, UpdateOp)]) == 2
    check(body, x=ROW, v=S)


def test_if_yielding_tensors() -> None:
    body = """
%sum = noma.tensor.sum %x : !M -> f64
%pos = arith.cmpf ogt, %sum, %zero : f64
%r = scf.if %pos -> (!M) {
  %t = noma.tensor.tanh %x : !M -> !M
  %tw = noma.tensor.mul %t, %w : (!M, !V) -> !M
  scf.yield %tw : !M
} else {
  scf.yield %x : !M
}
""" + weighted("r", "!M", "K23")
    check(body, x=MIXED, w=ROW)
    check(body, x=-A, w=ROW)


# ---------------------------------------------------------------- realloc in the body

REALLOC_BODY = """
%old = noma.mem.load %x_buf : !noma.mem.buffer<1> -> !V
{realloc}
%new = noma.mem.load %x_buf : !noma.mem.buffer<1> -> !V
{rest}
"""
REALLOC_REST = """
%ow = noma.tensor.mul %old, %old : (!V, !V) -> !V
%os = noma.tensor.sum %ow : !V -> f64
%nw = noma.tensor.mul %new, %K{n} : (!V, tensor<{n}xf64>) -> !V
%ns = noma.tensor.sum %nw : !V -> f64
%loss = noma.tensor.add %os, %ns : (f64, f64) -> f64
"""
OBJECTIVE_REALLOC = """
%old = noma.tensor.add %x, %zero : (!V, f64) -> !V
%r = noma.tensor.resize %x to [%size] init "zeros" () : !V -> !V
%new = noma.tensor.add %r, %delta : (!V, !V) -> !V
{rest}
"""


def check_realloc(realloc: str, x: np.ndarray, n: int) -> None:
    """Old loads' gradient lands in the preserved corner of the new shape."""
    WEIGHTS.setdefault(f"K{n}", weights((n,), 0.25))
    rest = REALLOC_REST.format(n=n)
    size = f"%size = arith.constant {lit(n)} : f64\n"
    body = size + REALLOC_BODY.format(realloc=realloc, rest=rest)
    obj = size + OBJECTIVE_REALLOC.format(rest=rest)
    delta = np.zeros(n)
    module = build(body, {"x": x}, (obj, {"x": x, "delta": delta}))
    differentiate(module)
    (final,) = run_main(module)
    resized = np.zeros(n)
    keep = min(n, len(x))
    resized[:keep] = x[:keep]
    fd_x, fd_delta = central_differences(module, [x, delta])
    expected = fd_delta.copy()
    expected[:keep] = fd_x[:keep]
    np.testing.assert_allclose(resized - final, expected, rtol=1e-6, atol=1e-8)


def test_realloc_grow_in_body() -> None:
    realloc = 'noma.mem.realloc %x_buf to [%size] init "zeros" () : !noma.mem.buffer<1>'
    check_realloc(realloc, ROW, 5)


def test_realloc_shrink_in_body() -> None:
    realloc = 'noma.mem.realloc %x_buf to [%size] init "zeros" () : !noma.mem.buffer<1>'
    check_realloc(realloc, np.array([0.45, 0.85, 1.25, -0.3]), 2)


def test_realloc_under_if_in_body() -> None:
    realloc = """
%osum = noma.tensor.sum %old : !V -> f64
%grow = arith.cmpf ogt, %osum, %zero : f64
scf.if %grow {
  noma.mem.realloc %x_buf to [%size] init "zeros" () : !noma.mem.buffer<1>
}"""
    check_realloc(realloc, ROW, 5)


# ---------------------------------------------------------------- errors and trained set


def pass_error(body: str, **params: Value) -> str:
    module = build(body, params)
    with pytest.raises(CompileError) as info:
        differentiate(module)
    return info.value.message


def test_error_while_on_path() -> None:
    body = """
%r = scf.while (%acc = %x) : (!V) -> (!V) {
  %s = noma.tensor.sum %acc : !V -> f64
  %c = arith.cmpf olt, %s, %five : f64
  scf.condition(%c) %acc : !V
} do {
^bb0(%a: !V):
  %d = noma.tensor.mul %a, %two : (!V, f64) -> !V
  scf.yield %d : !V
}
%loss = noma.tensor.sum %r : !V -> f64
"""
    assert "cannot differentiate through a while loop" in pass_error(body, x=ROW)


def test_while_of_constants_is_fine() -> None:
    body = """
%r = scf.while (%acc = %one) : (f64) -> (f64) {
  %c = arith.cmpf olt, %acc, %five : f64
  scf.condition(%c) %acc : f64
} do {
^bb0(%a: f64):
  %d = noma.tensor.mul %a, %two : (f64, f64) -> f64
  scf.yield %d : f64
}
%xs = noma.tensor.sum %x : !V -> f64
%loss = noma.tensor.mul %r, %xs : (f64, f64) -> f64
"""
    check(body, x=ROW)


def test_error_insert_of_param_value() -> None:
    body = """
%z = noma.tensor.zeros [%three] : !V
%e = noma.tensor.index %x[%one] : !V -> f64
%i = noma.tensor.insert %e into %z[%zero] {noma.var = "scratch"} : f64, !V -> !V
%loss = noma.tensor.sum %i : !V -> f64
"""
    message = pass_error(body, x=ROW)
    assert "`scratch`" in message and "depends on a parameter" in message


def test_error_tensor_objective() -> None:
    module = build("%loss = noma.tensor.sum %x : !V -> f64", {"x": ROW})
    mini = next(op for op in module.walk() if op.name == "noma.train.minimize")
    mini.operands = [next(op for op in module.walk() if op.name == "noma.mem.load").results[0]]
    with pytest.raises(CompileError, match="use mean\\(\\) or sum\\(\\)"):
        differentiate(module)


def test_param_only_in_condition_is_not_trained() -> None:
    body = """
%ys = noma.tensor.sum %y : !V -> f64
%c = arith.cmpf ogt, %ys, %zero : f64
%r = scf.if %c -> (!V) {
  scf.yield %x : !V
} else {
  %n = noma.tensor.neg %x : !V -> !V
  scf.yield %n : !V
}
%loss = noma.tensor.sum %r : !V -> f64
"""
    module = build(body, {"x": ROW, "y": ROW})
    differentiate(module)
    updated = [op.param for op in module.walk() if isinstance(op, UpdateOp)]
    assert [u.owner.sym_name.data for u in updated] == ["x"]  # type: ignore[union-attr]
    check(body, x=ROW, y=ROW)


def test_zero_gradient_param_is_still_trained() -> None:
    body = """
%f = noma.tensor.floor %x : !V -> !V
%loss = noma.tensor.sum %f : !V -> f64
"""
    module = build(body, {"x": ROW})
    differentiate(module)
    assert len([op for op in module.walk() if isinstance(op, UpdateOp)]) == 1
    (final,) = run_main(module)
    np.testing.assert_array_equal(final, ROW)


def test_nested_if_reads_value_of_enclosing_branch() -> None:
    body = """
%xs = noma.tensor.sum %x : !V -> f64
%c = arith.cmpf ogt, %xs, %one : f64
%r = scf.if %c -> (f64) {
  %sq = noma.tensor.mul %x, %x : (!V, !V) -> !V
  %k = noma.tensor.exp %two : f64 -> f64
  %d = arith.cmpf ogt, %xs, %two : f64
  %u = scf.if %d -> (f64) {
    %p = noma.tensor.mul %sq, %k : (!V, f64) -> !V
    %ps = noma.tensor.sum %p : !V -> f64
    scf.yield %ps : f64
  } else {
    scf.yield %k : f64
  }
  scf.yield %u : f64
} else {
  scf.yield %xs : f64
}
%loss = noma.tensor.mul %r, %r : (f64, f64) -> f64
"""
    check(body, x=ROW, s=S)
    check(body, x=ROW * 0.5, s=S)
