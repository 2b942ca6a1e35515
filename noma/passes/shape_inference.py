"""`noma-shape-inference`: static dimensions where operand types make them known."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith
from xdsl.dialects.builtin import FloatAttr, ModuleOp, TensorType
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.utils.exceptions import VerifyException

from noma.diagnostics import CompileError
from noma.dialects import tensor as nt
from noma.dialects import train
from noma.dialects.common import (
    broadcast_type,
    dims_of,
    format_dims,
    tensor_of_dims,
    type_of_rank,
)
from noma.passes import source_loc

#: Larger constant dims are left dynamic (the run time reports them).
_MAX_STATIC_DIM = 2**40


@dataclass(frozen=True)
class ShapeInferencePass(ModulePass):
    """Refine `?` dimensions of noma.tensor results where operand types fix them.

    Expects: any NOMA module. Produces: the same module where results of
    element-wise ops (broadcasting), reductions, matmul, transpose, index,
    slice, softmax, broadcast_like/reduce_like and zeros/random/resize with
    constant dims carry the static dims their operands imply; everything else
    keeps its `?`. Types are only ever refined. Uses whose type is fixed by
    something else (scf.yield, func.return, noma.train.yield, calls, block
    arguments' sources) keep the original type through a `noma.tensor.cast`.
    Loads of buffers stay dynamic (buffers change shape at run time). A
    statically known shape mismatch (broadcast, matmul inner dims) is a
    CompileError at the op.
    """

    name = "noma-shape-inference"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for inner in list(op.walk()):
            rule = _RULES.get(type(inner))
            if rule is None or len(inner.results) != 1:
                continue
            inferred = rule(inner)
            if inferred is not None:
                _refine(inner, inner.results[0], inferred)


# ----------------------------------------------------------------- refinement


def _refine(op: Operation, result: SSAValue, inferred: Attribute) -> None:
    old = result.type
    new = _meet(old, inferred)
    if new is None or new == old:
        return
    value = Rewriter.replace_value_with_new_type(result, new)
    fixed = [u for u in value.uses if not _accepts_any_shape(u.operation)]
    if not fixed:
        return
    cast = nt.CastOp(value, old)
    Rewriter.insert_op(cast, InsertPoint.after(op))
    value.replace_uses_with_if(cast.result, lambda u: u in fixed)


def _meet(old: Attribute, inferred: Attribute) -> Attribute | None:
    """The more precise of two types of one value, or None if `inferred` adds nothing
    (or contradicts `old`, which then stays)."""
    if not isinstance(inferred, TensorType):
        return None
    old_dims, new_dims = dims_of(old), dims_of(inferred)
    if new_dims is None:
        return None
    if old_dims is None:  # unranked -> ranked is a refinement
        return inferred
    if len(old_dims) != len(new_dims):
        return None
    merged: list[int | None] = []
    for a, b in zip(old_dims, new_dims, strict=True):
        if a is not None and b is not None and a != b:
            return None
        merged.append(a if a is not None else b)
    return tensor_of_dims(merged)


def _accepts_any_shape(user: Operation) -> bool:
    """NOMA ops check ranks, not dims, of their operands; other ops (and the
    terminators that feed results / block arguments) need the exact type."""
    if isinstance(user, train.YieldOp | train.OptimizeOp):
        return False
    return user.name.startswith("noma.")


# ----------------------------------------------------------------- rules


def _error(op: Operation, message: str) -> CompileError:
    return CompileError(message, source_loc(op))


def _elementwise(op: Operation) -> Attribute | None:
    try:
        return broadcast_type([v.type for v in op.operands])
    except VerifyException as e:
        raise _error(op, str(e)) from e


def _same_as(index: int) -> Callable[[Operation], Attribute | None]:
    return lambda op: op.operands[index].type


def _reduce(op: Operation) -> Attribute | None:
    assert isinstance(op, nt.ReduceOp)
    return nt.reduce_result_type(op.operand.type, op.axis_value(), op.keepdims is not None)


def _matmul(op: Operation) -> Attribute | None:
    assert isinstance(op, nt.MatmulOp)
    a, b = op.operand_dims()
    if len(a) != 2 or len(b) != 2:
        return None
    if a[1] is not None and b[0] is not None and a[1] != b[0]:
        raise _error(op, f"matmul: inner dimensions differ ({format_dims(a)} and {format_dims(b)})")
    return tensor_of_dims([a[0], b[1]])


def _transpose(op: Operation) -> Attribute | None:
    dims = dims_of(op.operands[0].type)
    return None if dims is None or len(dims) != 2 else tensor_of_dims(dims[::-1])


def _index(op: Operation) -> Attribute | None:
    assert isinstance(op, nt.IndexOp)
    dims = dims_of(op.source.type)
    return None if dims is None else tensor_of_dims(dims[len(op.indices) :])


def _slice(op: Operation) -> Attribute | None:
    assert isinstance(op, nt.SliceOp)
    dims = dims_of(op.source.type)
    return None if not dims else tensor_of_dims([None, *dims[1:]])


def _constant_dims(op: Operation) -> Attribute | None:
    dims: Sequence[SSAValue] = op.dims  # type: ignore[attr-defined]
    return type_of_rank(len(dims)) if not dims else tensor_of_dims([_const_dim(d) for d in dims])


def _const_dim(v: SSAValue) -> int | None:
    """A dimension operand's value when it is an f64 constant that is a valid size."""
    owner = v.owner
    if isinstance(owner, arith.ConstantOp) and isinstance(owner.value, FloatAttr):
        x = owner.value.value.data
        if 1 <= x < _MAX_STATIC_DIM:
            return int(x)
    return None


_RULES: dict[type[Operation], Callable[[Operation], Attribute | None]] = {
    **{cls: _same_as(0) for cls in nt.UNARY_OPS},
    **{cls: _elementwise for cls in nt.BINARY_OPS},
    nt.CmpOp: _elementwise,
    nt.SelectOp: _elementwise,
    nt.ZerosLikeOp: _same_as(0),
    nt.SoftmaxOp: _same_as(0),
    nt.LogSoftmaxOp: _same_as(0),
    nt.InsertOp: _same_as(1),
    nt.BroadcastLikeOp: _same_as(1),
    nt.ReduceLikeOp: _same_as(1),
    nt.SumOp: _reduce,
    nt.MeanOp: _reduce,
    nt.MatmulOp: _matmul,
    nt.TransposeOp: _transpose,
    nt.IndexOp: _index,
    nt.SliceOp: _slice,
    nt.ZerosOp: _constant_dims,
    nt.RandomOp: _constant_dims,
    nt.ResizeOp: _constant_dims,
}
