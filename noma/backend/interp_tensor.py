"""Interpreter implementations of the `noma.tensor` ops (numpy, float64).

Element-wise ops broadcast like NumPy and report incompatible shapes with
both shapes; run-time index, axis and shape errors are `NomaRuntimeError`s
(the interpreter attaches the op's location). Floating-point exceptions are
values (the caller runs under `np.errstate(all="ignore")`): `1 / 0` is `inf`.

Choices where the SPEC is silent: `relu(x)` is `x <= 0 ? 0 : x` (so
`relu(nan)` is NaN, as numpy's `maximum(x, 0)` and PyTorch's `relu`, and
`relu(-0) == 0`); `min`/`max` propagate NaN (like
`arith.minimumf`/`maximumf`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from xdsl.dialects.builtin import DYNAMIC_INDEX, Float64Type, TensorType
from xdsl.interpreter import (
    Interpreter,
    InterpreterFunctions,
    PythonValues,
    ReturnedValues,
    TerminatorValue,
    impl,
    impl_terminator,
    register_impls,
)
from xdsl.ir import Operation

from noma.backend.interp_state import RuntimeState
from noma.backend.interp_values import (
    as_array,
    broadcast_shapes,
    check_axis,
    element_indices,
    fmt_shape,
    shape_of,
    store_into,
    to_result,
)
from noma.backend.runtime.resize import check_dims, check_elements, resize_array
from noma.diagnostics import NomaRuntimeError
from noma.dialects import tensor as T

Ufunc = Callable[..., Any]


def _one(op: Operation, value: Any) -> PythonValues:
    """The single result of `op`, in its run-time representation."""
    return (to_result(value, op.results[0].type),)


def _sigmoid(x: Any) -> Any:
    return 1.0 / (1.0 + np.exp(np.negative(x)))


def _relu(x: Any) -> Any:
    return np.where(np.less_equal(x, 0.0), 0.0, x)


def _not(x: Any) -> Any:
    return np.where(np.equal(x, 0.0), 1.0, 0.0)


#: numpy's fast paths of `power` that can give another value than `pow`
#: (`pow(-inf, 0.5)` is inf, `sqrt(-inf)` nan; `pow(-0, 0.5)` is 0, `sqrt(-0)` -0;
#: `pow` need not round `x * x` and `1 / x` exactly as they do).
_POW_FAST: tuple[tuple[float, Ufunc], ...] = (
    (2.0, lambda x: np.multiply(x, x)),
    (0.5, np.sqrt),
    (-1.0, lambda x: np.divide(1.0, x)),
)


def _power(x: Any, y: Any) -> Any:
    """`x ** y` element by element: `pow`, except where the exponent is 2, 0.5
    or -1: `x * x`, `sqrt(x)`, `1 / x`. numpy takes those fast paths only
    when the exponent reaches its inner loop as one broadcast scalar, which
    depends on the shapes and on numpy's iteration order; compiled code
    takes them element by element, so the interpreter does too."""
    out = np.power(x, y)
    for k, fast in _POW_FAST:
        hit = np.equal(y, k)
        if np.any(hit):
            out = np.where(hit, fast(x), out)
    return out


UNARY: dict[type[Operation], Ufunc] = {
    T.NegOp: np.negative,
    T.NotOp: _not,
    T.SigmoidOp: _sigmoid,
    T.ReluOp: _relu,
    T.TanhOp: np.tanh,
    T.ExpOp: np.exp,
    T.LogOp: np.log,
    T.SqrtOp: np.sqrt,
    T.SinOp: np.sin,
    T.CosOp: np.cos,
    T.TanOp: np.tan,
    T.AbsOp: np.abs,
    T.FloorOp: np.floor,
    T.CeilOp: np.ceil,
    T.TruncOp: np.trunc,
}

BINARY: dict[type[Operation], Ufunc] = {
    T.AddOp: np.add,
    T.SubOp: np.subtract,
    T.MulOp: np.multiply,
    T.DivOp: np.divide,
    T.RemOp: np.fmod,
    T.PowOp: _power,
    T.MinOp: np.minimum,
    T.MaxOp: np.maximum,
}

COMPARE: dict[str, Ufunc] = {
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
    "eq": np.equal,
    "ne": np.not_equal,
}


def elementwise(fn: Ufunc, *args: Any) -> Any:
    """`fn` applied with NumPy broadcasting (shapes checked first)."""
    if not all(isinstance(a, float) for a in args):
        broadcast_shapes(args)
    return fn(*args)


def _unary_impl(fn: Ufunc) -> Callable[..., PythonValues]:
    def run(self: Any, interp: Interpreter, op: Operation, args: PythonValues) -> PythonValues:
        return _one(op, fn(args[0]))

    run.__doc__ = f"Element-wise {getattr(fn, '__name__', 'op')}."
    return run


def _binary_impl(fn: Ufunc) -> Callable[..., PythonValues]:
    def run(self: Any, interp: Interpreter, op: Operation, args: PythonValues) -> PythonValues:
        return _one(op, elementwise(fn, args[0], args[1]))

    run.__doc__ = f"Element-wise {getattr(fn, '__name__', 'op')} with broadcasting."
    return run


# ----------------------------------------------------------------- pure helpers


def reduce_axis(fn: Ufunc, x: Any, axis: int | None, keepdims: bool) -> Any:
    """`sum`/`mean` of all elements or along `axis` (a scalar reduces to itself)."""
    a = as_array(x)
    if a.ndim == 0:
        return a
    if axis is not None:
        check_axis(axis, a.ndim)
    return fn(a, axis=axis, keepdims=keepdims)


def matmul(lhs: Any, rhs: Any) -> np.ndarray:
    """`[m,k] @ [k,n]`; anything else is an error naming both shapes."""
    a, b = as_array(lhs), as_array(rhs)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise NomaRuntimeError(
            f"matmul: shapes {fmt_shape(a.shape)} and {fmt_shape(b.shape)} do not match "
            "(expected [m, k] and [k, n])"
        )
    check_elements((a.shape[0], b.shape[1]))  # [1e5, 1] x [1, 1e5]
    return np.matmul(a, b)


def dot(lhs: Any, rhs: Any) -> float:
    """1-D dot product of two vectors of the same length: a sum from +0, so
    never -0 (numpy's dot of two one-element vectors is their product, -0
    included, and compiled code sums from +0 whatever the length)."""
    a, b = as_array(lhs), as_array(rhs)
    if a.ndim != 1 or b.ndim != 1 or a.shape != b.shape:
        raise NomaRuntimeError(
            f"dot: shapes {fmt_shape(a.shape)} and {fmt_shape(b.shape)} do not match "
            "(expected two 1-D tensors of the same length)"
        )
    return float(np.dot(a, b)) + 0.0


def transpose(x: Any) -> np.ndarray:
    a = as_array(x)
    if a.ndim != 2:
        raise NomaRuntimeError(f"transpose needs a 2-D tensor, got shape {fmt_shape(a.shape)}")
    return a.T


def _last_axis_shift(x: Any) -> np.ndarray:
    """x - max(x) along the last axis (a 0-d value counts as one element)."""
    a = as_array(x)
    b = a.reshape(1) if a.ndim == 0 else a
    return (b - np.max(b, axis=-1, keepdims=True)).reshape(a.shape)


def softmax(x: Any) -> np.ndarray:
    """exp(x - max) / sum(exp(x - max)) along the last axis."""
    e = np.exp(_last_axis_shift(x))
    e1 = e.reshape(1) if e.ndim == 0 else e
    return (e1 / np.sum(e1, axis=-1, keepdims=True)).reshape(e.shape)


def log_softmax(x: Any) -> np.ndarray:
    """x - max - log(sum(exp(x - max))) along the last axis."""
    s = _last_axis_shift(x)
    s1 = s.reshape(1) if s.ndim == 0 else s
    return (s1 - np.log(np.sum(np.exp(s1), axis=-1, keepdims=True))).reshape(s.shape)


def insert(value: Any, dest: Any, indices: tuple[float, ...]) -> np.ndarray:
    """A copy of `dest` with the element or row at `indices` replaced."""
    out = np.array(dest, dtype=np.float64, copy=True)
    store_into(out, element_indices(out.shape, indices), value)
    return out


def slice_rows(x: Any, start: float, stop: float) -> np.ndarray:
    """Rows [start, stop) along axis 0, bounds truncated and clamped."""
    a = as_array(x)
    if a.ndim == 0:
        raise NomaRuntimeError("cannot slice a scalar")
    n = a.shape[0]

    def bound(v: float) -> int:
        if math.isnan(v):
            raise NomaRuntimeError("batch size must be >= 1, got nan")  # the only NaN bound
        return int(min(max(float(v), 0.0), float(n)))

    lo, hi = bound(start), bound(stop)
    if hi <= lo and lo < n:
        # `batch` walks blocks [start, start + size): a size below 1 would
        # give empty blocks forever. (Empty tensors are no NOMA values anyway.)
        size = math.trunc(float(stop)) - math.trunc(float(start))
        raise NomaRuntimeError(f"batch size must be >= 1, got {size:.10g}")
    return a[lo:hi]


def cast(x: Any, typ: Any) -> Any:
    """Check a value against the static type it is cast to (rank, known dims)."""
    shape = shape_of(x)
    if isinstance(typ, Float64Type):
        if shape:
            raise NomaRuntimeError(f"expected a scalar, got a tensor of shape {fmt_shape(shape)}")
        return x
    if isinstance(typ, TensorType):
        dims = tuple(typ.get_shape())
        ok = len(dims) == len(shape) and all(
            d == DYNAMIC_INDEX or d == s for d, s in zip(dims, shape, strict=True)
        )
        if not ok:
            want = "[" + ", ".join("?" if d == DYNAMIC_INDEX else str(d) for d in dims) + "]"
            raise NomaRuntimeError(
                f"expected a tensor of shape {want}, got shape {fmt_shape(shape)}"
            )
    return x


def to_scalar(x: Any) -> float:
    """The single element of a one-element value."""
    a = as_array(x)
    if a.size != 1:
        raise NomaRuntimeError(
            f"expected a single value, got a tensor of shape {fmt_shape(a.shape)}"
        )
    return float(a.reshape(-1)[0])


def broadcast_like(x: Any, like: Any) -> Any:
    """`x` broadcast to `like`'s shape."""
    target = shape_of(like)
    try:
        return np.broadcast_to(as_array(x), target).copy()
    except ValueError:
        raise NomaRuntimeError(
            f"shapes {fmt_shape(shape_of(x))} and {fmt_shape(target)} cannot be broadcast"
        ) from None


def reduce_like(x: Any, like: Any) -> Any:
    """`x` summed over the axes along which `like` was broadcast to reach it."""
    a = as_array(x)
    target = shape_of(like)
    if a.shape == target:
        return a
    lead = a.ndim - len(target)
    if lead < 0:
        raise NomaRuntimeError(f"cannot reduce shape {fmt_shape(a.shape)} to {fmt_shape(target)}")
    if lead:
        a = np.sum(a, axis=tuple(range(lead)))
    axes = tuple(i for i, d in enumerate(target) if d == 1 and a.shape[i] != 1)
    if axes:
        a = np.sum(a, axis=axes, keepdims=True)
    if a.shape != target:
        raise NomaRuntimeError(
            f"cannot reduce shape {fmt_shape(shape_of(x))} to {fmt_shape(target)}"
        )
    return a


def expand_dims(x: Any, axis: int) -> np.ndarray:
    """`x` with a new axis of size 1 before `axis` (0 <= axis <= rank)."""
    a = as_array(x)
    if not 0 <= axis <= a.ndim:
        raise NomaRuntimeError(f"axis {axis} out of range for a tensor of rank {a.ndim}")
    return np.expand_dims(a, axis)


def constant_array(op: T.ConstantOp) -> np.ndarray:
    """The (read-only) array of a `noma.tensor.constant`."""
    shape = tuple(op.value.get_shape() or ())
    values = np.array(op.value.get_values(), dtype=np.float64)
    arr = values.reshape(shape) if values.size == math.prod(shape) else np.full(shape, values[0])
    arr.flags.writeable = False
    return arr


# ----------------------------------------------------------------- the op table


@dataclass
class NomaTensorFunctions(InterpreterFunctions):
    """`noma.tensor` ops; `state` gives the program RNG."""

    state: RuntimeState = field(default_factory=RuntimeState)
    _constants: dict[Operation, np.ndarray] = field(default_factory=dict)

    @impl(T.FusedOp)
    def run_fused(self, interp: Interpreter, op: T.FusedOp, args: PythonValues) -> PythonValues:
        """The body, op by op (fusion changes how compiled code runs, not what it computes)."""
        return interp.run_ssacfg_region(op.body, args, "fused")

    @impl_terminator(T.FusedYieldOp)
    def run_fused_yield(
        self, interp: Interpreter, op: T.FusedYieldOp, args: PythonValues
    ) -> tuple[TerminatorValue, PythonValues]:
        return ReturnedValues(args), ()

    @impl(T.CmpOp)
    def run_cmp(self, interp: Interpreter, op: T.CmpOp, args: PythonValues) -> PythonValues:
        fn = COMPARE[op.predicate.data]
        return _one(op, np.where(elementwise(fn, *args), 1.0, 0.0))

    @impl(T.SelectOp)
    def run_select(self, interp: Interpreter, op: T.SelectOp, args: PythonValues) -> PythonValues:
        cond, a, b = args
        broadcast_shapes(args)
        return _one(op, np.where(np.not_equal(cond, 0.0), a, b))

    @impl(T.ConstantOp)
    def run_constant(
        self, interp: Interpreter, op: T.ConstantOp, args: PythonValues
    ) -> PythonValues:
        arr = self._constants.get(op)
        if arr is None:
            arr = self._constants[op] = constant_array(op)
        return (arr,)

    @impl(T.FromElementsOp)
    def run_from_elements(
        self, interp: Interpreter, op: T.FromElementsOp, args: PythonValues
    ) -> PythonValues:
        shape = tuple(op.result.type.get_shape())
        return (np.array(args, dtype=np.float64).reshape(shape),)

    @impl(T.ZerosOp)
    def run_zeros(self, interp: Interpreter, op: T.ZerosOp, args: PythonValues) -> PythonValues:
        return _one(op, np.zeros(check_dims(args)))

    @impl(T.ZerosLikeOp)
    def run_zeros_like(
        self, interp: Interpreter, op: T.ZerosLikeOp, args: PythonValues
    ) -> PythonValues:
        return _one(op, np.zeros(shape_of(args[0])))

    @impl(T.CastOp)
    def run_cast(self, interp: Interpreter, op: T.CastOp, args: PythonValues) -> PythonValues:
        return _one(op, cast(args[0], op.result.type))

    @impl(T.ToScalarOp)
    def run_to_scalar(
        self, interp: Interpreter, op: T.ToScalarOp, args: PythonValues
    ) -> PythonValues:
        return (to_scalar(args[0]),)

    @impl(T.SumOp)
    def run_sum(self, interp: Interpreter, op: T.SumOp, args: PythonValues) -> PythonValues:
        return _one(op, reduce_axis(np.sum, args[0], op.axis_value(), op.keepdims is not None))

    @impl(T.MeanOp)
    def run_mean(self, interp: Interpreter, op: T.MeanOp, args: PythonValues) -> PythonValues:
        return _one(op, reduce_axis(np.mean, args[0], op.axis_value(), op.keepdims is not None))

    @impl(T.MatmulOp)
    def run_matmul(self, interp: Interpreter, op: T.MatmulOp, args: PythonValues) -> PythonValues:
        lhs = transpose(args[0]) if op.transpose_lhs is not None else args[0]
        rhs = transpose(args[1]) if op.transpose_rhs is not None else args[1]
        return (matmul(lhs, rhs),)

    @impl(T.DotOp)
    def run_dot(self, interp: Interpreter, op: T.DotOp, args: PythonValues) -> PythonValues:
        return (dot(*args),)

    @impl(T.TransposeOp)
    def run_transpose(
        self, interp: Interpreter, op: T.TransposeOp, args: PythonValues
    ) -> PythonValues:
        return (transpose(args[0]),)

    @impl(T.SoftmaxOp)
    def run_softmax(self, interp: Interpreter, op: T.SoftmaxOp, args: PythonValues) -> PythonValues:
        return _one(op, softmax(args[0]))

    @impl(T.LogSoftmaxOp)
    def run_log_softmax(
        self, interp: Interpreter, op: T.LogSoftmaxOp, args: PythonValues
    ) -> PythonValues:
        return _one(op, log_softmax(args[0]))

    @impl(T.DimOp)
    def run_dim(self, interp: Interpreter, op: T.DimOp, args: PythonValues) -> PythonValues:
        shape = shape_of(args[0])
        return (float(shape[check_axis(op.axis.value.data, len(shape))]),)

    @impl(T.NumelOp)
    def run_numel(self, interp: Interpreter, op: T.NumelOp, args: PythonValues) -> PythonValues:
        return (float(np.size(args[0])),)

    @impl(T.IndexOp)
    def run_index(self, interp: Interpreter, op: T.IndexOp, args: PythonValues) -> PythonValues:
        src, *indices = args
        a = as_array(src)
        return _one(op, a[element_indices(a.shape, indices)])

    @impl(T.InsertOp)
    def run_insert(self, interp: Interpreter, op: T.InsertOp, args: PythonValues) -> PythonValues:
        value, dest, *indices = args
        return _one(op, insert(value, dest, tuple(indices)))

    @impl(T.SliceOp)
    def run_slice(self, interp: Interpreter, op: T.SliceOp, args: PythonValues) -> PythonValues:
        return _one(op, slice_rows(*args))

    @impl(T.BroadcastLikeOp)
    def run_broadcast_like(
        self, interp: Interpreter, op: T.BroadcastLikeOp, args: PythonValues
    ) -> PythonValues:
        return _one(op, broadcast_like(*args))

    @impl(T.ReduceLikeOp)
    def run_reduce_like(
        self, interp: Interpreter, op: T.ReduceLikeOp, args: PythonValues
    ) -> PythonValues:
        return _one(op, reduce_like(*args))

    @impl(T.ExpandDimsOp)
    def run_expand_dims(
        self, interp: Interpreter, op: T.ExpandDimsOp, args: PythonValues
    ) -> PythonValues:
        return _one(op, expand_dims(args[0], op.axis.value.data))

    @impl(T.ResizeOp)
    def run_resize(self, interp: Interpreter, op: T.ResizeOp, args: PythonValues) -> PythonValues:
        n = len(op.dims)
        source, dims, pargs = args[0], args[1 : 1 + n], args[1 + n :]
        out = resize_array(as_array(source), dims, op.policy.data, pargs, self.state.rng)
        return _one(op, out)

    @impl(T.RandomOp)
    def run_random(self, interp: Interpreter, op: T.RandomOp, args: PythonValues) -> PythonValues:
        a, b, *dims = args
        rng, normal = self.state.rng, op.dist.data == "normal"
        if not dims:
            return (rng.normal(a, b) if normal else rng.uniform_range(a, b),)
        shape = check_dims(dims)
        out = rng.normal_array(shape, a, b) if normal else rng.uniform_array(shape, a, b)
        return _one(op, out)

    @impl(T.SeedOp)
    def run_seed(self, interp: Interpreter, op: T.SeedOp, args: PythonValues) -> PythonValues:
        self.state.rng.seed(args[0])
        return ()


for _op, _fn in UNARY.items():
    setattr(NomaTensorFunctions, "run_" + _op.name.split(".")[-1], impl(_op)(_unary_impl(_fn)))
for _op, _fn in BINARY.items():
    setattr(NomaTensorFunctions, "run_" + _op.name.split(".")[-1], impl(_op)(_binary_impl(_fn)))
register_impls(NomaTensorFunctions)
