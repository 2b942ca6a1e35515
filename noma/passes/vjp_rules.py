"""Vector-Jacobian product rules for `noma-autodiff`, one per op class.

`VJP_RULES` maps an op class to either

- a rule: a function that receives a `VJPContext` (the forward op, the
  adjoint `g` of its single result, and a builder placed where the adjoint
  code goes) and returns one adjoint per operand, in operand order (`None`
  for an operand that gets nothing; a shorter list means `None` for the
  rest). An adjoint may have any type the operand's value broadcasts to in
  the result; the pass casts it to the operand's type. Rules read primal
  values only through `ctx.x(i)` / `ctx.y` (values computed inside an
  `scf.if` branch are not visible where the adjoint code runs, the context
  maps them), and skip work for operands where `ctx.needs(i)` is false;
- `None`: the op has no derivative (comparisons, floor, shapes, constants,
  random numbers). Values computed by it are constants for the gradient,
  although a parameter behind it still counts as trained (SPEC §6.1).

A load of a parameter (`noma.mem.load`) passes `g` to its buffer operand; the
pass adds it to the parameter's gradient. `scf.if` is structural and handled
by the pass itself. Adding an op = one entry here (`@vjp(OpClass)`), nothing
in the pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from xdsl.builder import Builder
from xdsl.dialects import arith, scf
from xdsl.dialects.builtin import FloatAttr, f64
from xdsl.ir import Block, Operation, SSAValue
from xdsl.rewriter import InsertPoint

from noma.diagnostics import CompileError
from noma.dialects import mem
from noma.dialects import tensor as T
from noma.dialects.common import rank_of, static_shape
from noma.passes import source_loc

Grads = Sequence[SSAValue | None]
OpT = TypeVar("OpT", bound=Operation)


@dataclass
class VJPContext:
    """What a rule sees: the forward `op`, the adjoint `g` of its result, and
    helpers that build adjoint code at the current insertion point."""

    op: Operation
    g: SSAValue
    builder: Builder
    primal: Callable[[SSAValue], SSAValue]
    is_active: Callable[[SSAValue], bool]

    # --- the forward values, as visible where the adjoint code runs

    def x(self, i: int) -> SSAValue:
        """Forward operand `i`."""
        return self.primal(self.op.operands[i])

    @property
    def y(self) -> SSAValue:
        """The forward result."""
        return self.primal(self.op.results[0])

    def needs(self, i: int) -> bool:
        """Whether operand `i` depends (differentiably) on a parameter."""
        return self.is_active(self.op.operands[i])

    # --- building

    def emit(self, op: OpT) -> OpT:
        """Insert `op` (with the forward op's location) and return it."""
        op.location = self.op.location
        self.builder.insert(op)
        return op

    def val(self, op: Operation) -> SSAValue:
        """Insert `op` and return its result."""
        return self.emit(op).results[0]

    def const(self, value: float) -> SSAValue:
        return self.val(arith.ConstantOp(FloatAttr(value, f64)))

    def add(self, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.val(T.AddOp(a, b))

    def sub(self, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.val(T.SubOp(a, b))

    def mul(self, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.val(T.MulOp(a, b))

    def div(self, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.val(T.DivOp(a, b))

    def neg(self, a: SSAValue) -> SSAValue:
        return self.val(T.NegOp(a))

    def cmp(self, predicate: str, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.val(T.CmpOp(predicate, a, b))

    def select(self, cond: SSAValue, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.val(T.SelectOp(cond, a, b))

    def unbroadcast(self, adj: SSAValue, i: int) -> SSAValue:
        """Sum `adj` (shaped like the result) back to operand `i`'s shape,
        unless both are known to have the same static shape."""
        operand, result = self.op.operands[i], self.op.results[0]
        if operand.type == result.type and static_shape(operand.type) is not None:
            return adj
        return self.val(T.ReduceLikeOp(adj, self.x(i)))

    def error(self, message: str) -> CompileError:
        return CompileError(message, source_loc(self.op))


VJPRule = Callable[[VJPContext], Grads]
VJP_RULES: dict[type[Operation], VJPRule | None] = {}


def vjp(*op_types: type[Operation]) -> Callable[[VJPRule], VJPRule]:
    """Register a rule for the given op classes."""

    def register(rule: VJPRule) -> VJPRule:
        for t in op_types:
            VJP_RULES[t] = rule
        return rule

    return register


def no_derivative(*op_types: type[Operation]) -> None:
    """Mark ops whose results are constants for the gradient."""
    for t in op_types:
        VJP_RULES[t] = None


no_derivative(
    T.FloorOp, T.CeilOp, T.TruncOp, T.NotOp, T.CmpOp,
    T.ZerosOp, T.ZerosLikeOp, T.ConstantOp, T.RandomOp, T.DimOp, T.NumelOp,
    mem.DimOp,
    arith.ConstantOp, arith.CmpfOp, arith.CmpiOp, arith.AndIOp, arith.OrIOp,
    arith.XOrIOp, arith.UIToFPOp, arith.SIToFPOp, arith.FPToSIOp,
)  # fmt: skip


# ----------------------------------------------------------------- element-wise unary


def _scaled(factor: Callable[[VJPContext], SSAValue]) -> VJPRule:
    """A unary rule `g * factor`."""

    def rule(c: VJPContext) -> Grads:
        return [c.mul(c.g, factor(c))]

    return rule


vjp(T.ExpOp)(_scaled(lambda c: c.y))
vjp(T.SinOp)(_scaled(lambda c: c.val(T.CosOp(c.x(0)))))
vjp(T.SigmoidOp)(_scaled(lambda c: c.mul(c.y, c.sub(c.const(1.0), c.y))))
vjp(T.TanhOp)(_scaled(lambda c: c.sub(c.const(1.0), c.mul(c.y, c.y))))
vjp(T.TanOp)(_scaled(lambda c: c.add(c.const(1.0), c.mul(c.y, c.y))))
vjp(T.AbsOp)(
    _scaled(lambda c: c.sub(c.cmp("gt", c.x(0), c.const(0.0)), c.cmp("lt", c.x(0), c.const(0.0))))
)


@vjp(T.NegOp)
def _neg(c: VJPContext) -> Grads:
    return [c.neg(c.g)]


@vjp(T.CosOp)
def _cos(c: VJPContext) -> Grads:
    return [c.neg(c.mul(c.g, c.val(T.SinOp(c.x(0)))))]


@vjp(T.LogOp)
def _log(c: VJPContext) -> Grads:
    return [c.div(c.g, c.x(0))]


@vjp(T.SqrtOp)
def _sqrt(c: VJPContext) -> Grads:
    return [c.div(c.g, c.mul(c.const(2.0), c.y))]


@vjp(T.ReluOp)
def _relu(c: VJPContext) -> Grads:
    return [c.select(c.cmp("gt", c.x(0), c.const(0.0)), c.g, c.const(0.0))]


# ----------------------------------------------------------------- element-wise binary


def _each(c: VJPContext, *adjoints: Callable[[], SSAValue] | None) -> Grads:
    """Per operand: build its adjoint (only if needed) and unbroadcast it."""
    out: list[SSAValue | None] = []
    for i, make in enumerate(adjoints):
        out.append(c.unbroadcast(make(), i) if make is not None and c.needs(i) else None)
    return out


@vjp(T.AddOp)
def _add(c: VJPContext) -> Grads:
    return _each(c, lambda: c.g, lambda: c.g)


@vjp(T.SubOp)
def _sub(c: VJPContext) -> Grads:
    return _each(c, lambda: c.g, lambda: c.neg(c.g))


@vjp(T.MulOp)
def _mul(c: VJPContext) -> Grads:
    return _each(c, lambda: c.mul(c.g, c.x(1)), lambda: c.mul(c.g, c.x(0)))


@vjp(T.DivOp)
def _div(c: VJPContext) -> Grads:
    return _each(
        c,
        lambda: c.div(c.g, c.x(1)),
        lambda: c.neg(c.div(c.mul(c.g, c.y), c.x(1))),
    )


@vjp(T.RemOp)
def _rem(c: VJPContext) -> Grads:
    """fmod(a, b) = a - trunc(a / b) * b."""

    def d_divisor() -> SSAValue:
        quotient = c.val(T.TruncOp(c.div(c.x(0), c.x(1))))
        return c.neg(c.mul(c.g, quotient))

    return _each(c, lambda: c.g, d_divisor)


def _nonzero_constant(v: SSAValue) -> bool:
    owner = v.owner
    if isinstance(owner, arith.ConstantOp) and isinstance(owner.value, FloatAttr):
        return owner.value.value.data != 0.0
    return False


@vjp(T.PowOp)
def _pow(c: VJPContext) -> Grads:
    """d/da = b * a^(b-1) (0 where b == 0); d/db = a^b * log(a) (0 where
    a == 0 and b >= 0), as PyTorch does."""

    def d_base() -> SSAValue:
        a, b = c.x(0), c.x(1)
        d = c.mul(b, c.val(T.PowOp(a, c.sub(b, c.const(1.0)))))
        if not _nonzero_constant(c.op.operands[1]):
            d = c.select(c.cmp("eq", b, c.const(0.0)), c.const(0.0), d)
        return c.mul(c.g, d)

    def d_exponent() -> SSAValue:
        a, b = c.x(0), c.x(1)
        zero = c.const(0.0)
        at_zero = c.mul(c.cmp("eq", a, zero), c.cmp("ge", b, zero))
        d = c.select(at_zero, zero, c.mul(c.y, c.val(T.LogOp(a))))
        return c.mul(c.g, d)

    return _each(c, d_base, d_exponent)


def _tie_rule(predicate: str) -> VJPRule:
    """min/max: the lhs gets `g` where `lhs predicate rhs` (ties included)."""

    def rule(c: VJPContext) -> Grads:
        mask = c.cmp(predicate, c.x(0), c.x(1))
        zero = c.const(0.0)
        return _each(c, lambda: c.select(mask, c.g, zero), lambda: c.select(mask, zero, c.g))

    return rule


vjp(T.MinOp)(_tie_rule("le"))
vjp(T.MaxOp)(_tie_rule("ge"))


@vjp(T.SelectOp)
def _select(c: VJPContext) -> Grads:
    zero = c.const(0.0)
    return _each(
        c,
        None,
        lambda: c.select(c.x(0), c.g, zero),
        lambda: c.select(c.x(0), zero, c.g),
    )


@vjp(arith.SelectOp)
def _arith_select(c: VJPContext) -> Grads:
    zero = c.const(0.0)
    cond = c.val(arith.UIToFPOp(c.x(0), f64))
    return _each(
        c,
        None,
        lambda: c.select(cond, c.g, zero),
        lambda: c.select(cond, zero, c.g),
    )


# ----------------------------------------------------------------- reductions


def _restore_axis(c: VJPContext, g: SSAValue) -> SSAValue:
    """Broadcast the adjoint of a reduction back to the operand's shape."""
    assert isinstance(c.op, T.ReduceOp)
    axis, x = c.op.axis_value(), c.x(0)
    rank = rank_of(x.type)
    if axis is None or c.op.keepdims is not None or axis == 0 or rank == 1:
        # g broadcasts as is: [d1..] -> [1, d1..] for axis 0, a scalar otherwise
        return c.val(T.BroadcastLikeOp(g, x))
    if rank == 2:
        # [n] as [1, n] against xᵀ ([m, n]), then transposed back to [n, m]
        xt = c.val(T.TransposeOp(x))
        return c.val(T.TransposeOp(c.val(T.BroadcastLikeOp(g, xt))))
    return c.val(T.BroadcastLikeOp(c.val(T.ExpandDimsOp(g, axis)), x))


@vjp(T.SumOp)
def _sum(c: VJPContext) -> Grads:
    return [_restore_axis(c, c.g)]


@vjp(T.MeanOp)
def _mean(c: VJPContext) -> Grads:
    assert isinstance(c.op, T.MeanOp)
    axis, x = c.op.axis_value(), c.x(0)
    if axis is None or rank_of(x.type) == 0:
        count = c.val(T.NumelOp(x))
    else:
        count = c.val(T.DimOp(x, axis))
    return [_restore_axis(c, c.div(c.g, count))]


def _last_axis(c: VJPContext) -> int:
    rank = rank_of(c.op.operands[0].type)
    if rank is None:
        raise c.error(f"cannot differentiate `{c.op.name}` of a tensor of unknown rank")
    return rank - 1


@vjp(T.SoftmaxOp)
def _softmax(c: VJPContext) -> Grads:
    gs = c.mul(c.g, c.y)
    total = c.val(T.SumOp(gs, _last_axis(c), keepdims=True))
    return [c.sub(gs, c.mul(c.y, total))]


@vjp(T.LogSoftmaxOp)
def _log_softmax(c: VJPContext) -> Grads:
    total = c.val(T.SumOp(c.g, _last_axis(c), keepdims=True))
    return [c.sub(c.g, c.mul(c.val(T.ExpOp(c.y)), total))]


# ----------------------------------------------------------------- linear algebra


@vjp(T.MatmulOp)
def _matmul(c: VJPContext) -> Grads:
    # C = A' @ B' (A' = A or its transpose): dA' = g @ B'^T, dB' = A'^T @ g;
    # the gradient of a transposed operand is transposed back.
    op = c.op
    assert isinstance(op, T.MatmulOp)
    flags = (op.transpose_lhs is not None, op.transpose_rhs is not None)

    def transposed_unless(flag: bool, x: SSAValue) -> SSAValue:
        return x if flag else c.val(T.TransposeOp(x))

    def grad(index: int, product: SSAValue) -> SSAValue | None:
        return c.val(T.TransposeOp(product)) if flags[index] else product

    return [
        grad(0, c.val(T.MatmulOp(c.g, transposed_unless(flags[1], c.x(1)))))
        if c.needs(0)
        else None,
        grad(1, c.val(T.MatmulOp(transposed_unless(flags[0], c.x(0)), c.g)))
        if c.needs(1)
        else None,
    ]


@vjp(T.DotOp)
def _dot(c: VJPContext) -> Grads:
    return [
        c.mul(c.g, c.x(1)) if c.needs(0) else None,
        c.mul(c.g, c.x(0)) if c.needs(1) else None,
    ]


@vjp(T.TransposeOp)
def _transpose(c: VJPContext) -> Grads:
    return [c.val(T.TransposeOp(c.g))]


# ----------------------------------------------------------------- shapes and indexing


@vjp(T.CastOp)
def _cast(c: VJPContext) -> Grads:
    return [c.val(T.CastOp(c.g, c.op.operands[0].type))]


@vjp(T.ToScalarOp)
def _to_scalar(c: VJPContext) -> Grads:
    return [c.val(T.BroadcastLikeOp(c.g, c.x(0)))]


@vjp(T.BroadcastLikeOp)
def _broadcast_like(c: VJPContext) -> Grads:
    return [c.val(T.ReduceLikeOp(c.g, c.x(0)))]


@vjp(T.ReduceLikeOp)
def _reduce_like(c: VJPContext) -> Grads:
    return [c.val(T.BroadcastLikeOp(c.g, c.x(0)))]


@vjp(T.ExpandDimsOp)
def _expand_dims(c: VJPContext) -> Grads:
    return [c.val(T.ReduceLikeOp(c.g, c.x(0)))]


@vjp(T.ResizeOp)
def _resize(c: VJPContext) -> Grads:
    """The preserved corner gets its adjoint back; new elements depend on nothing."""
    assert isinstance(c.op, T.ResizeOp)
    src = c.x(0)
    dims = [c.val(T.DimOp(src, k)) for k in range(len(c.op.dims))]
    return [c.val(T.ResizeOp(c.g, dims, "zeros"))]


def _indices(c: VJPContext, first: int) -> list[SSAValue]:
    return [c.x(i) for i in range(first, len(c.op.operands))]


@vjp(T.IndexOp)
def _index(c: VJPContext) -> Grads:
    zeros = c.val(T.ZerosLikeOp(c.x(0)))
    return [c.val(T.InsertOp(c.g, zeros, _indices(c, 1)))]


@vjp(T.InsertOp)
def _insert(c: VJPContext) -> Grads:
    """`dest` gets `g` with zeros where `value` was stored; `value` gets `g` at
    the indices (summed when a scalar filled a row)."""
    idx = _indices(c, 2)
    value = None
    if c.needs(0):
        value = c.val(T.ReduceLikeOp(c.val(T.IndexOp(c.g, idx)), c.x(0)))
    dest = c.val(T.InsertOp(c.const(0.0), c.g, idx)) if c.needs(1) else None
    return [value, dest]


@vjp(T.FromElementsOp)
def _from_elements(c: VJPContext) -> Grads:
    shape = static_shape(c.op.results[0].type)
    assert shape is not None
    out: list[SSAValue | None] = []
    for k in range(len(c.op.operands)):
        if not c.needs(k):
            out.append(None)
            continue
        position, rest = [], k
        for d in reversed(shape):
            position.append(float(rest % d))
            rest //= d
        out.append(c.val(T.IndexOp(c.g, [c.const(p) for p in reversed(position)])))
    return out


@vjp(T.SliceOp)
def _slice(c: VJPContext) -> Grads:
    """Rows of `g` go back to rows start, start+1, ... of zeros (a loop)."""
    source, g = c.x(0), c.g
    start = c.val(T.MaxOp(c.val(T.TruncOp(c.x(1))), c.const(0.0)))
    rows = c.val(T.DimOp(g, 0))
    zeros = c.val(T.ZerosLikeOp(source))
    acc_type = source.type
    before, after = Block(arg_types=[f64, acc_type]), Block(arg_types=[f64, acc_type])
    inner = VJPContext(c.op, g, Builder(InsertPoint.at_end(before)), c.primal, c.is_active)
    i, acc = before.args
    more = inner.val(arith.CmpfOp(i, rows, "olt"))
    inner.emit(scf.ConditionOp(more, i, acc))
    inner.builder = Builder(InsertPoint.at_end(after))
    i, acc = after.args
    row = inner.val(T.IndexOp(g, [i]))
    moved = inner.val(T.InsertOp(row, acc, [inner.add(start, i)]))
    inner.emit(scf.YieldOp(inner.add(i, inner.const(1.0)), moved))
    loop = c.emit(scf.WhileOp([c.const(0.0), zeros], [f64, acc_type], [before], [after]))
    return [loop.results[1]]


@vjp(mem.LoadOp)
def _load(c: VJPContext) -> Grads:
    return [c.g]


__all__ = ["VJP_RULES", "VJPContext", "VJPRule", "Grads", "no_derivative", "vjp"]
