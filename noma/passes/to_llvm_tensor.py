"""`noma-to-llvm`, part 1: `noma.tensor` ops to llvm ops and runtime calls.

Each lowering gets an `Emitter` placed before the op and the `TypeOf`
function giving a value's type before conversion, and returns the op's
replacement results. Scalar-only element-wise ops become inline LLVM;
anything with a tensor operand calls the runtime with the op's own slot as
`out` (scalar operands boxed into per-site box slots).

Fusion: element-wise ops are lowered op by op here (one runtime call and
one slot each). `noma-fuse-elementwise` groups chains of them into
`noma.tensor.fused` ops before `noma-to-llvm`, which compiles each into one
loop (`to_llvm_fused.py`, using the scalar formulas below); the per-op
lowerings here remain its fallback. The transpose of a constant matrix is
made at compile time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from xdsl.dialects import llvm
from xdsl.dialects.builtin import (
    DenseArrayBase,
    TensorType,
    UnrankedTensorType,
    f64,
    i64,
)
from xdsl.ir import Attribute, Operation, SSAValue

from noma.diagnostics import CompileError
from noma.dialects import tensor as nt
from noma.dialects.common import rank_of
from noma.passes.to_llvm_support import TENSOR, Emitter, constant_f64, is_f64

TypeOf = Callable[[SSAValue], Attribute]
Lowering = Callable[[Emitter, Operation, TypeOf], Sequence[SSAValue]]

#: `enum noma_unary` / `enum noma_binary` / `enum noma_reduce` of noma_rt.h
UNARY_CODES: dict[type[Operation], int] = {
    op: code for code, op in enumerate(nt.UNARY_OPS)
}  # fmt: skip
BINARY_CODES: dict[type[Operation], int] = {op: code for code, op in enumerate(nt.BINARY_OPS)}
CMP_CODES = {"lt": 8, "le": 9, "gt": 10, "ge": 11, "eq": 12, "ne": 13}
CMP_PREDICATES = {"lt": "olt", "le": "ole", "gt": "ogt", "ge": "oge", "eq": "oeq", "ne": "une"}
SUM, MEAN = 0, 1
POLICIES = {"zeros": 0, "normal": 1, "uniform": 2}
DISTS = {"uniform": 0, "normal": 1}

# ----------------------------------------------------------------- scalar math


def _sigmoid(e: Emitter, x: SSAValue) -> SSAValue:
    """1 / (1 + exp(-x)), the interpreter's formula."""
    ex = _intrinsic(llvm.FExpOp)(e, e.add(llvm.FNegOp(x)))
    return e.add(llvm.FDivOp(e.f64(1.0), e.add(llvm.FAddOp(e.f64(1.0), ex))))


def _relu(e: Emitter, x: SSAValue) -> SSAValue:
    """x <= 0 ? 0 : x (NaN stays NaN, as numpy's maximum(x, 0))."""
    return e.select(e.fcmp("ole", x, e.f64(0.0)), e.f64(0.0), x)


def _not(e: Emitter, x: SSAValue) -> SSAValue:
    return e.bool_to_f64(e.fcmp("oeq", x, e.f64(0.0)))


def _intrinsic(cls: type[Operation]) -> Callable[[Emitter, SSAValue], SSAValue]:
    """A unary f64 intrinsic op (their constructors differ; `create` does not)."""
    props = {"fastmathFlags": llvm.FastMathAttr(None)}
    return lambda e, x: e.add(cls.create(operands=[x], result_types=[f64], properties=props))


def _libm(name: str) -> Callable[[Emitter, SSAValue], SSAValue]:
    return lambda e, x: e.call(name, x)


SCALAR_UNARY: dict[type[Operation], Callable[[Emitter, SSAValue], SSAValue]] = {
    nt.NegOp: lambda e, x: e.add(llvm.FNegOp(x)),
    nt.NotOp: _not,
    nt.SigmoidOp: _sigmoid,
    nt.ReluOp: _relu,
    nt.TanhOp: _libm("tanh"),
    nt.ExpOp: _intrinsic(llvm.FExpOp),
    nt.LogOp: _intrinsic(llvm.FLogOp),
    nt.SqrtOp: _intrinsic(llvm.FSqrtOp),
    nt.SinOp: _intrinsic(llvm.FSinOp),
    nt.CosOp: _intrinsic(llvm.FCosOp),
    nt.TanOp: _libm("tan"),
    nt.AbsOp: _intrinsic(llvm.FAbsOp),
    nt.FloorOp: _intrinsic(llvm.FFloorOp),
    nt.CeilOp: _intrinsic(llvm.FCeilOp),
    nt.TruncOp: _libm("trunc"),
}


def _min_max(pred: str) -> Callable[[Emitter, SSAValue, SSAValue], SSAValue]:
    """numpy's minimum/maximum: isnan(a) ? a : (a PRED b ? a : b)."""

    def lower(e: Emitter, a: SSAValue, b: SSAValue) -> SSAValue:
        pick = e.select(e.fcmp(pred, a, b), a, b)
        return e.select(e.fcmp("uno", a, a), a, pick)

    return lower


def _arith(cls: type[Operation]) -> Callable[[Emitter, SSAValue, SSAValue], SSAValue]:
    return lambda e, a, b: e.add(cls(a, b))


def pow_fast_paths(
    e: Emitter, x: SSAValue, y: SSAValue, general: SSAValue | None = None
) -> SSAValue:
    """x ** y with NumPy's fast paths taken element by element, as the
    runtime and the interpreter do: y == 2 -> x*x, 0.5 -> sqrt(x) (nan for
    -inf, -0 for -0, where pow gives inf and +0), -1 -> 1/x, 1 -> x, 0 -> 1,
    else `general` (default: pow(x, y)). Folded when y is a constant."""
    cases: list[tuple[float, Callable[[], SSAValue]]] = [
        (2.0, lambda: e.add(llvm.FMulOp(x, x))),
        (0.5, lambda: SCALAR_UNARY[nt.SqrtOp](e, x)),
        (-1.0, lambda: e.add(llvm.FDivOp(e.f64(1.0), x))),
        (1.0, lambda: x),
        (0.0, lambda: e.f64(1.0)),
    ]
    known = constant_f64(y)
    if known is not None:
        for k, make in cases:
            if known == k:
                return make()
    result = general if general is not None else e.add(llvm.FPowOp(x, y))
    if known is not None:
        return result
    for k, make in reversed(cases):
        result = e.select(e.fcmp("oeq", y, e.f64(k)), make(), result)
    return result


SCALAR_BINARY: dict[type[Operation], Callable[[Emitter, SSAValue, SSAValue], SSAValue]] = {
    nt.AddOp: _arith(llvm.FAddOp),
    nt.SubOp: _arith(llvm.FSubOp),
    nt.MulOp: _arith(llvm.FMulOp),
    nt.DivOp: _arith(llvm.FDivOp),
    nt.RemOp: _arith(llvm.FRemOp),
    nt.PowOp: pow_fast_paths,
    nt.MinOp: _min_max("olt"),
    nt.MaxOp: _min_max("ogt"),
}

# ----------------------------------------------------------------- element-wise


def lower_unary(e: Emitter, op: Operation, type_of: TypeOf) -> Sequence[SSAValue]:
    (x,) = op.operands
    if is_f64(x):
        return [SCALAR_UNARY[type(op)](e, x)]
    return [e.call("noma_rt_unary", e.i64(UNARY_CODES[type(op)]), e.slot(), x)]


#: Scalar ops folded when both operands are constants (exact IEEE arithmetic
#: in Python, as in compiled code; library functions are left to run time).
FOLDABLE: dict[type[Operation], Callable[[float, float], float]] = {
    nt.AddOp: lambda x, y: x + y,
    nt.SubOp: lambda x, y: x - y,
    nt.MulOp: lambda x, y: x * y,
}


def lower_binary(e: Emitter, op: Operation, type_of: TypeOf) -> Sequence[SSAValue]:
    a, b = op.operands
    if is_f64(a) and is_f64(b):
        x, y, fold = constant_f64(a), constant_f64(b), FOLDABLE.get(type(op))
        if x is not None and y is not None and fold is not None:
            return [e.f64(fold(x, y))]
        return [SCALAR_BINARY[type(op)](e, a, b)]
    code = e.i64(BINARY_CODES[type(op)])
    return [e.call("noma_rt_binary", code, e.slot(), e.box(a), e.box(b), e.site())]


def lower_cmp(e: Emitter, op: nt.CmpOp, type_of: TypeOf) -> Sequence[SSAValue]:
    a, b = op.lhs, op.rhs
    pred = op.predicate.data
    if is_f64(a) and is_f64(b):
        return [e.bool_to_f64(e.fcmp(CMP_PREDICATES[pred], a, b))]
    code = e.i64(CMP_CODES[pred])
    return [e.call("noma_rt_binary", code, e.slot(), e.box(a), e.box(b), e.site())]


def lower_select(e: Emitter, op: nt.SelectOp, type_of: TypeOf) -> Sequence[SSAValue]:
    c, a, b = op.cond, op.lhs, op.rhs
    if is_f64(c) and is_f64(a) and is_f64(b):
        return [e.select(e.fcmp("une", c, e.f64(0.0)), a, b)]
    args = (e.box(c), e.box(a), e.box(b))
    return [e.call("noma_rt_select", e.slot(), *args, e.site())]


# ----------------------------------------------------------------- construction


def lower_constant(e: Emitter, op: nt.ConstantOp, type_of: TypeOf) -> Sequence[SSAValue]:
    shape = list(op.result.type.get_shape())
    values = [float(v) for v in op.value.get_values()]
    return [e.addr(e.g.constant(shape, values))]


def lower_from_elements(e: Emitter, op: nt.FromElementsOp, type_of: TypeOf) -> Sequence[SSAValue]:
    shape = list(op.result.type.get_shape())
    known = [constant_f64(v) for v in op.elements]
    if all(k is not None for k in known):  # a literal: a shared constant
        return [e.addr(e.g.constant(shape, [k for k in known if k is not None]))]
    dims = e.addr(e.g.i64_array(shape))
    values = e.doubles(list(op.elements))
    return [e.call("noma_rt_from_elements", e.slot(), e.i64(len(shape)), dims, values)]


def lower_zeros(e: Emitter, op: nt.ZerosOp, type_of: TypeOf) -> Sequence[SSAValue]:
    dims = list(op.dims)
    return [e.call("noma_rt_zeros", e.slot(), e.i64(len(dims)), e.doubles(dims), e.site())]


def lower_zeros_like(e: Emitter, op: nt.ZerosLikeOp, type_of: TypeOf) -> Sequence[SSAValue]:
    if is_f64(op.operand):
        return [e.f64(0.0)]
    return [e.call("noma_rt_zeros_like", e.slot(), op.operand)]


def lower_cast(e: Emitter, op: nt.CastOp, type_of: TypeOf) -> Sequence[SSAValue]:
    x, target = op.operand, op.result.type
    if is_f64(x):
        return [x if is_f64_type(target) else e.box(x)]
    if is_f64_type(target):
        return [e.call("noma_rt_to_scalar", x, e.site())]
    rank = rank_of(target)
    if rank is None or rank == rank_of(type_of(x)):
        return [x]
    return [e.call("noma_rt_cast", x, e.i64(rank), e.site())]


def is_f64_type(t: Attribute) -> bool:
    return rank_of(t) == 0


def lower_to_scalar(e: Emitter, op: nt.ToScalarOp, type_of: TypeOf) -> Sequence[SSAValue]:
    return [e.call("noma_rt_to_scalar", op.operand, e.site())]


# ----------------------------------------------------------------- reductions


def lower_reduce(e: Emitter, op: nt.ReduceOp, type_of: TypeOf) -> Sequence[SSAValue]:
    x = op.operand
    code = e.i64(MEAN if isinstance(op, nt.MeanOp) else SUM)
    if is_f64(x):
        return [x]
    axis, keep = op.axis_value(), op.keepdims is not None
    if is_f64_type(op.result.type):
        return [e.call("noma_rt_reduce_all", code, x)]
    if axis is None:  # keepdims over all axes: [1, ..., 1]
        rank = rank_of(type_of(x))
        if rank is None:
            raise CompileError(f"noma-to-llvm: {op.name} with keepdims needs a ranked operand")
        total = e.call("noma_rt_reduce_all", code, x)
        dims = e.addr(e.g.i64_array([1] * rank))
        values = e.doubles([total])
        return [e.call("noma_rt_from_elements", e.slot(), e.i64(rank), dims, values)]
    return [
        e.call("noma_rt_reduce_axis", code, e.slot(), x, e.i64(axis), e.i64(int(keep)), e.site())
    ]


# ----------------------------------------------------------------- linear algebra


def lower_matmul(e: Emitter, op: nt.MatmulOp, type_of: TypeOf) -> Sequence[SSAValue]:
    flags = (op.transpose_lhs is not None, op.transpose_rhs is not None)
    if not any(flags):
        return [e.call("noma_rt_matmul", e.slot(), op.lhs, op.rhs, e.site())]
    transposed = [e.i64(int(flag)) for flag in flags]
    return [e.call("noma_rt_matmul_t", e.slot(), op.lhs, op.rhs, *transposed, e.site())]


def lower_dot(e: Emitter, op: nt.DotOp, type_of: TypeOf) -> Sequence[SSAValue]:
    return [e.call("noma_rt_dot", op.lhs, op.rhs, e.site())]


def lower_transpose(e: Emitter, op: nt.TransposeOp, type_of: TypeOf) -> Sequence[SSAValue]:
    known = e.g.constant_value(op.operand)
    if known is not None and len(known[0]) == 2:  # a constant matrix: transposed now
        (rows, cols), values = known
        swapped = [values[i * cols + j] for j in range(cols) for i in range(rows)]
        return [e.addr(e.g.constant([cols, rows], swapped))]
    return [e.call("noma_rt_transpose", e.slot(), op.operand, e.site())]


def lower_softmax(e: Emitter, op: nt.LastAxisOp, type_of: TypeOf) -> Sequence[SSAValue]:
    log = int(isinstance(op, nt.LogSoftmaxOp))
    return [e.call("noma_rt_softmax", e.slot(), op.operand, e.i64(log))]


def lower_broadcast_like(e: Emitter, op: nt.BroadcastLikeOp, type_of: TypeOf) -> Sequence[SSAValue]:
    x, like = op.operand, op.like
    if is_f64(like):
        return [x if is_f64(x) else e.call("noma_rt_to_scalar", x, e.site())]
    return [e.call("noma_rt_broadcast_like", e.slot(), e.box(x), like, e.site())]


def lower_reduce_like(e: Emitter, op: nt.ReduceLikeOp, type_of: TypeOf) -> Sequence[SSAValue]:
    x, like = op.operand, op.like
    if is_f64(x):
        if is_f64(like):
            return [x]
        return [e.call("noma_rt_reduce_like", e.slot(), e.box(x), like, e.site())]
    if is_f64(like):
        return [e.call("noma_rt_reduce_all", e.i64(SUM), x)]
    return [e.call("noma_rt_reduce_like", e.slot(), x, like, e.site())]


def lower_expand_dims(e: Emitter, op: nt.ExpandDimsOp, type_of: TypeOf) -> Sequence[SSAValue]:
    """Inline: the operand's descriptor with its data shared (cap 0, not owned),
    rank + 1 and a 1 inserted at `axis` (dims past the rank are don't-care)."""
    x = e.box(op.operand)
    axis = op.axis.value.data
    src = e.add(llvm.LoadOp(x, TENSOR))
    out = _insert(e, src, [1], e.i64(0))
    rank = e.add(llvm.ExtractValueOp(_pos([2]), src, i64))
    out = _insert(e, out, [2], e.add(llvm.AddOp(rank, e.i64(1))))
    for j in range(4):
        if j == axis:
            out = _insert(e, out, [3, j], e.i64(1))
        elif j > axis:
            prev = e.add(llvm.ExtractValueOp(_pos([3, j - 1]), src, i64))
            out = _insert(e, out, [3, j], prev)
    slot = e.slot()
    e.run(llvm.StoreOp(out, slot))
    return [slot]


def _pos(position: list[int]) -> DenseArrayBase:
    return DenseArrayBase.from_list(i64, position)


def _insert(e: Emitter, container: SSAValue, position: list[int], value: SSAValue) -> SSAValue:
    return e.add(llvm.InsertValueOp(_pos(position), container, value))


# ----------------------------------------------------------------- shapes and indexing


def lower_dim(e: Emitter, op: nt.DimOp, type_of: TypeOf) -> Sequence[SSAValue]:
    return [e.call("noma_rt_dim", op.operand, e.i64(op.axis.value.data), e.site())]


def lower_numel(e: Emitter, op: nt.NumelOp, type_of: TypeOf) -> Sequence[SSAValue]:
    if is_f64(op.operand):
        return [e.f64(1.0)]
    return [e.call("noma_rt_numel", op.operand)]


def lower_index(e: Emitter, op: nt.IndexOp, type_of: TypeOf) -> Sequence[SSAValue]:
    idx = list(op.indices)
    n, ptr = e.i64(len(idx)), e.doubles(idx)
    if is_f64_type(op.result.type):
        return [e.call("noma_rt_index_scalar", op.source, n, ptr, e.site())]
    return [e.call("noma_rt_index", e.slot(), op.source, n, ptr, e.site())]


def lower_insert(e: Emitter, op: nt.InsertOp, type_of: TypeOf) -> Sequence[SSAValue]:
    idx = list(op.indices)
    value = e.box(op.value)
    n, ptr = e.i64(len(idx)), e.doubles(idx)
    return [e.call("noma_rt_insert", e.slot(), value, op.dest, n, ptr, e.site())]


def lower_slice(e: Emitter, op: nt.SliceOp, type_of: TypeOf) -> Sequence[SSAValue]:
    return [e.call("noma_rt_slice", e.slot(), op.source, op.start, op.stop, e.site())]


def policy_args(e: Emitter, args: Sequence[SSAValue]) -> tuple[SSAValue, SSAValue]:
    vals = [*args, *[e.f64(0.0) for _ in range(2 - len(args))]]
    return vals[0], vals[1]


def lower_resize(e: Emitter, op: nt.ResizeOp, type_of: TypeOf) -> Sequence[SSAValue]:
    dims = list(op.dims)
    p0, p1 = policy_args(e, list(op.policy_args))
    policy = e.i64(POLICIES[op.policy.data])
    args = (e.i64(len(dims)), e.doubles(dims), policy, p0, p1, e.site())
    return [e.call("noma_rt_resize", e.slot(), op.source, *args)]


def lower_random(e: Emitter, op: nt.RandomOp, type_of: TypeOf) -> Sequence[SSAValue]:
    dist = e.i64(DISTS[op.dist.data])
    dims = list(op.dims)
    if not dims:
        return [e.call("noma_rt_random", dist, op.a, op.b)]
    args = (e.i64(len(dims)), e.doubles(dims), e.site())
    return [e.call("noma_rt_random_tensor", e.slot(), dist, op.a, op.b, *args)]


def lower_seed(e: Emitter, op: nt.SeedOp, type_of: TypeOf) -> Sequence[SSAValue]:
    e.do("noma_rt_seed", op.seed, e.site())
    return []


TENSOR_LOWERINGS: dict[type[Operation], Lowering] = {
    **{op: lower_unary for op in nt.UNARY_OPS},
    **{op: lower_binary for op in nt.BINARY_OPS},
    nt.CmpOp: lower_cmp,
    nt.SelectOp: lower_select,
    nt.ConstantOp: lower_constant,
    nt.FromElementsOp: lower_from_elements,
    nt.ZerosOp: lower_zeros,
    nt.ZerosLikeOp: lower_zeros_like,
    nt.CastOp: lower_cast,
    nt.ToScalarOp: lower_to_scalar,
    nt.SumOp: lower_reduce,
    nt.MeanOp: lower_reduce,
    nt.MatmulOp: lower_matmul,
    nt.DotOp: lower_dot,
    nt.TransposeOp: lower_transpose,
    nt.SoftmaxOp: lower_softmax,
    nt.LogSoftmaxOp: lower_softmax,
    nt.BroadcastLikeOp: lower_broadcast_like,
    nt.ReduceLikeOp: lower_reduce_like,
    nt.ExpandDimsOp: lower_expand_dims,
    nt.DimOp: lower_dim,
    nt.NumelOp: lower_numel,
    nt.IndexOp: lower_index,
    nt.InsertOp: lower_insert,
    nt.SliceOp: lower_slice,
    nt.ResizeOp: lower_resize,
    nt.RandomOp: lower_random,
    nt.SeedOp: lower_seed,
}  # type: ignore[dict-item]


def is_tensor_type(t: Attribute) -> bool:
    return isinstance(t, TensorType | UnrankedTensorType)
