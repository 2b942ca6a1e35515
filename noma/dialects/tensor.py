"""The `noma.tensor` dialect: pure SSA math on f64 scalars and f64 tensors.

Every op accepts f64 scalars and tensors of rank 1-4 (or unranked) where the
language does, with NumPy broadcasting for element-wise ops. Dimensions may
be dynamic (`?`); ops check what is statically known in their verifier and
the rest at run time (the interpreter and compiled code report run-time
shape and index errors with the op's source location).

Ops that draw random numbers (`random`, `resize` with a random policy) and
`seed` touch the program's RNG state and so are not `Pure`.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import (
    DenseIntOrFPElementsAttr,
    Float64Type,
    IntegerAttr,
    StringAttr,
    TensorType,
    UnitAttr,
    f64,
    i64,
)
from xdsl.ir import Attribute, Block, Dialect, Operation, Region, SSAValue
from xdsl.irdl import (
    AttrSizedOperandSegments,
    IRDLOperation,
    ParsePropInAttrDict,
    irdl_op_definition,
    lazy_traits_def,
    operand_def,
    opt_prop_def,
    prop_def,
    region_def,
    result_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.traits import (
    HasParent,
    IsolatedFromAbove,
    IsTerminator,
    NoMemoryEffect,
    Pure,
    RecursiveMemoryEffect,
)
from xdsl.utils.exceptions import VerifyException

from noma.dialects.common import (
    F64,
    SCALAR_OR_TENSOR,
    TENSOR,
    broadcast_type,
    check_value_type,
    dims_of,
    rank_of,
    tensor_of_dims,
    type_of_rank,
)

FUNCTIONAL = "operands attr-dict `:` functional-type(operands, results)"


def _value(v: SSAValue | Operation) -> SSAValue:
    return SSAValue.get(v)


# ----------------------------------------------------------------- element-wise


class UnaryOp(IRDLOperation):
    """Base of element-wise unary ops: the result has the operand's type."""

    operand = operand_def(SCALAR_OR_TENSOR)
    result = result_def(SCALAR_OR_TENSOR)
    traits = traits_def(Pure())
    assembly_format = "$operand attr-dict `:` type($operand) `->` type($result)"

    def __init__(self, operand: SSAValue | Operation, result_type: Attribute | None = None):
        operand = _value(operand)
        super().__init__(operands=[operand], result_types=[result_type or operand.type])

    def verify_(self) -> None:
        check_value_type(self.operand.type, self.name)
        if rank_of(self.operand.type) != rank_of(self.result.type):
            raise VerifyException(f"{self.name}: result must have the operand's rank")


def _unary(name: str, doc: str) -> type[UnaryOp]:
    cls = type(
        name.title().replace("_", "") + "Op",
        (UnaryOp,),
        {"name": f"noma.tensor.{name}", "__doc__": doc},
    )
    return irdl_op_definition(cls)


NegOp = _unary("neg", "Element-wise negation `-x`.")
NotOp = _unary("not", "Logical not: 1.0 where x == 0, else 0.0.")
SigmoidOp = _unary("sigmoid", "Element-wise logistic function 1 / (1 + exp(-x)).")
ReluOp = _unary("relu", "Element-wise max(x, 0); derivative 0 at 0.")
TanhOp = _unary("tanh", "Element-wise hyperbolic tangent.")
ExpOp = _unary("exp", "Element-wise e^x.")
LogOp = _unary("log", "Element-wise natural logarithm.")
SqrtOp = _unary("sqrt", "Element-wise square root.")
SinOp = _unary("sin", "Element-wise sine.")
CosOp = _unary("cos", "Element-wise cosine.")
TanOp = _unary("tan", "Element-wise tangent.")
AbsOp = _unary("abs", "Element-wise |x|; derivative 0 at 0.")
FloorOp = _unary("floor", "Element-wise floor; zero derivative.")
CeilOp = _unary("ceil", "Element-wise ceiling; zero derivative.")
TruncOp = _unary("trunc", "Element-wise truncation toward zero (`as i32`, `as i64`).")


class ElementwiseOp(IRDLOperation):
    """Base of element-wise ops with NumPy broadcasting of all operands."""

    result = result_def(SCALAR_OR_TENSOR)
    traits = traits_def(Pure())

    def verify_(self) -> None:
        for v in self.operands:
            check_value_type(v.type, self.name)
        try:
            expected = broadcast_type([v.type for v in self.operands])
        except VerifyException as e:
            raise VerifyException(f"{self.name}: {e}") from e
        if rank_of(expected) != rank_of(self.result.type) and rank_of(expected) is not None:
            raise VerifyException(
                f"{self.name}: result type {self.result.type} does not match broadcast "
                f"type {expected}"
            )


class BinaryOp(ElementwiseOp):
    lhs = operand_def(SCALAR_OR_TENSOR)
    rhs = operand_def(SCALAR_OR_TENSOR)
    assembly_format = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)"

    def __init__(
        self,
        lhs: SSAValue | Operation,
        rhs: SSAValue | Operation,
        result_type: Attribute | None = None,
    ):
        lhs, rhs = _value(lhs), _value(rhs)
        if result_type is None:
            result_type = broadcast_type([lhs.type, rhs.type])
        super().__init__(operands=[lhs, rhs], result_types=[result_type])


def _binary(name: str, doc: str) -> type[BinaryOp]:
    cls = type(
        name.title().replace("_", "") + "Op",
        (BinaryOp,),
        {"name": f"noma.tensor.{name}", "__doc__": doc},
    )
    return irdl_op_definition(cls)


AddOp = _binary("add", "Element-wise a + b with broadcasting.")
SubOp = _binary("sub", "Element-wise a - b with broadcasting.")
MulOp = _binary("mul", "Element-wise a * b with broadcasting.")
DivOp = _binary("div", "Element-wise a / b with broadcasting.")
RemOp = _binary("rem", "Element-wise remainder with the sign of the dividend (C fmod).")
PowOp = _binary("pow", "Element-wise a ** b with broadcasting.")
MinOp = _binary("min", "Element-wise minimum; at a tie the derivative goes to `lhs`.")
MaxOp = _binary("max", "Element-wise maximum; at a tie the derivative goes to `lhs`.")

CMP_PREDICATES = ("lt", "le", "gt", "ge", "eq", "ne")


@irdl_op_definition
class CmpOp(ElementwiseOp):
    """Element-wise comparison giving 1.0 (true) or 0.0 (false).

    `predicate` is one of lt, le, gt, ge, eq, ne."""

    name = "noma.tensor.cmp"
    predicate = prop_def(StringAttr)
    lhs = operand_def(SCALAR_OR_TENSOR)
    rhs = operand_def(SCALAR_OR_TENSOR)
    assembly_format = (
        "$predicate `,` $lhs `,` $rhs attr-dict `:` functional-type(operands, results)"
    )

    def __init__(self, predicate: str, lhs: SSAValue | Operation, rhs: SSAValue | Operation):
        lhs, rhs = _value(lhs), _value(rhs)
        super().__init__(
            operands=[lhs, rhs],
            result_types=[broadcast_type([lhs.type, rhs.type])],
            properties={"predicate": StringAttr(predicate)},
        )

    def verify_(self) -> None:
        super().verify_()
        if self.predicate.data not in CMP_PREDICATES:
            raise VerifyException(f"noma.tensor.cmp: unknown predicate {self.predicate.data!r}")


@irdl_op_definition
class SelectOp(ElementwiseOp):
    """Element-wise `cond != 0 ? a : b` with broadcasting of all three operands."""

    name = "noma.tensor.select"
    cond = operand_def(SCALAR_OR_TENSOR)
    lhs = operand_def(SCALAR_OR_TENSOR)
    rhs = operand_def(SCALAR_OR_TENSOR)
    assembly_format = "$cond `,` $lhs `,` $rhs attr-dict `:` functional-type(operands, results)"

    def __init__(
        self,
        cond: SSAValue | Operation,
        lhs: SSAValue | Operation,
        rhs: SSAValue | Operation,
    ):
        ops = [_value(cond), _value(lhs), _value(rhs)]
        super().__init__(operands=ops, result_types=[broadcast_type([v.type for v in ops])])


# ----------------------------------------------------------------- construction


@irdl_op_definition
class ConstantOp(IRDLOperation):
    """A tensor whose elements are known at compile time."""

    name = "noma.tensor.constant"
    value = prop_def(DenseIntOrFPElementsAttr)
    result = result_def(TensorType)
    traits = traits_def(Pure())

    def __init__(self, value: DenseIntOrFPElementsAttr):
        super().__init__(properties={"value": value}, result_types=[value.type])

    def print(self, printer: Printer) -> None:
        printer.print_string(" ")
        printer.print_attribute(self.value)
        printer.print_op_attributes(self.attributes)

    @classmethod
    def parse(cls, parser: Parser) -> ConstantOp:
        value = parser.parse_attribute()
        if not isinstance(value, DenseIntOrFPElementsAttr):
            parser.raise_error("expected a dense elements attribute")
        op = cls(value)
        op.attributes.update(parser.parse_optional_attr_dict())
        return op

    @staticmethod
    def from_list(values: Sequence[float], shape: Sequence[int]) -> ConstantOp:
        ty = TensorType(f64, list(shape))
        return ConstantOp(DenseIntOrFPElementsAttr.from_list(ty, [float(v) for v in values]))


@irdl_op_definition
class FromElementsOp(IRDLOperation):
    """A tensor literal with computed elements, listed in row-major order."""

    name = "noma.tensor.from_elements"
    elements = var_operand_def(F64)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$elements attr-dict `:` type($result)"

    def __init__(self, elements: Sequence[SSAValue | Operation], shape: Sequence[int]):
        super().__init__(
            operands=[[_value(e) for e in elements]],
            result_types=[TensorType(f64, list(shape))],
        )

    def verify_(self) -> None:
        shape = self.result.type.get_shape()
        n = 1
        for d in shape:
            if d < 1:
                raise VerifyException("noma.tensor.from_elements: result shape must be static")
            n *= d
        if n != len(self.elements):
            raise VerifyException(
                f"noma.tensor.from_elements: {len(self.elements)} elements for shape {list(shape)}"
            )


@irdl_op_definition
class ZerosOp(IRDLOperation):
    """A zero-filled tensor of run-time dimensions (f64 operands, truncated,
    each must be >= 1: a run-time error otherwise)."""

    name = "noma.tensor.zeros"
    dims = var_operand_def(F64)
    result = result_def(TensorType)
    traits = traits_def(NoMemoryEffect())
    assembly_format = "`[` $dims `]` attr-dict `:` type($result)"

    def __init__(self, dims: Sequence[SSAValue | Operation], result_type: Attribute | None = None):
        dims = [_value(d) for d in dims]
        super().__init__(operands=[dims], result_types=[result_type or type_of_rank(len(dims))])

    def verify_(self) -> None:
        if rank_of(self.result.type) != len(self.dims):
            raise VerifyException("noma.tensor.zeros: result rank must equal the number of dims")


@irdl_op_definition
class ZerosLikeOp(IRDLOperation):
    """Zeros of the operand's shape (0.0 for a scalar)."""

    name = "noma.tensor.zeros_like"
    operand = operand_def(SCALAR_OR_TENSOR)
    result = result_def(SCALAR_OR_TENSOR)
    traits = traits_def(Pure())
    assembly_format = "$operand attr-dict `:` type($operand) `->` type($result)"

    def __init__(self, operand: SSAValue | Operation):
        operand = _value(operand)
        super().__init__(operands=[operand], result_types=[operand.type])


@irdl_op_definition
class CastOp(IRDLOperation):
    """Change static knowledge of a value's type: refine or forget dimensions,
    or give an unranked tensor a rank (checked at run time)."""

    name = "noma.tensor.cast"
    operand = operand_def(SCALAR_OR_TENSOR)
    result = result_def(SCALAR_OR_TENSOR)
    traits = traits_def(Pure())
    assembly_format = "$operand attr-dict `:` type($operand) `->` type($result)"

    def __init__(self, operand: SSAValue | Operation, result_type: Attribute):
        super().__init__(operands=[_value(operand)], result_types=[result_type])

    def verify_(self) -> None:
        src, dst = rank_of(self.operand.type), rank_of(self.result.type)
        if src is not None and dst is not None and src != dst:
            raise VerifyException("noma.tensor.cast: cannot change the rank")


@irdl_op_definition
class ToScalarOp(IRDLOperation):
    """The single element of a tensor with one element (run-time checked), as f64.
    Used where an unranked value meets a scalar context."""

    name = "noma.tensor.to_scalar"
    operand = operand_def(TENSOR)
    result = result_def(F64)
    traits = traits_def(Pure())
    assembly_format = "$operand attr-dict `:` type($operand)"

    def __init__(self, operand: SSAValue | Operation):
        super().__init__(operands=[_value(operand)], result_types=[f64])


# ----------------------------------------------------------------- reductions


class ReduceOp(IRDLOperation):
    """Base of `sum`/`mean`: over all elements (no axis) or one axis.

    Without `keepdims` the result has rank one lower (f64 for a full reduction
    or a 1-D input); with `keepdims` the reduced axis stays with size 1."""

    operand = operand_def(SCALAR_OR_TENSOR)
    result = result_def(SCALAR_OR_TENSOR)
    axis = opt_prop_def(IntegerAttr)
    keepdims = opt_prop_def(UnitAttr)
    traits = traits_def(Pure())
    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$operand attr-dict `:` type($operand) `->` type($result)"

    def __init__(
        self, operand: SSAValue | Operation, axis: int | None = None, keepdims: bool = False
    ):
        operand = _value(operand)
        props: dict[str, Attribute] = {}
        if axis is not None:
            props["axis"] = IntegerAttr(axis, i64)
        if keepdims:
            props["keepdims"] = UnitAttr()
        super().__init__(
            operands=[operand],
            result_types=[reduce_result_type(operand.type, axis, keepdims)],
            properties=props,
        )

    def axis_value(self) -> int | None:
        return None if self.axis is None else self.axis.value.data

    def verify_(self) -> None:
        check_value_type(self.operand.type, self.name)
        rank = rank_of(self.operand.type)
        axis = self.axis_value()
        if axis is not None and rank is not None and not 0 <= axis < max(rank, 1):
            raise VerifyException(f"{self.name}: axis {axis} out of range for rank {rank}")
        expected = reduce_result_type(self.operand.type, axis, self.keepdims is not None)
        if rank_of(expected) != rank_of(self.result.type):
            raise VerifyException(f"{self.name}: result must be {expected}")


def reduce_result_type(t: Attribute, axis: int | None, keepdims: bool) -> Attribute:
    dims = dims_of(t)
    if keepdims:
        if dims is None:
            return t
        if axis is None:
            return tensor_of_dims([1] * len(dims))
        return tensor_of_dims([1 if i == axis else d for i, d in enumerate(dims)])
    if axis is None:
        return f64
    if dims is None:
        return type_of_rank(None)
    return tensor_of_dims([d for i, d in enumerate(dims) if i != axis])


@irdl_op_definition
class SumOp(ReduceOp):
    """Sum of all elements, or along `axis`."""

    name = "noma.tensor.sum"


@irdl_op_definition
class MeanOp(ReduceOp):
    """Mean of all elements, or along `axis`."""

    name = "noma.tensor.mean"


# ----------------------------------------------------------------- linear algebra


@irdl_op_definition
class MatmulOp(IRDLOperation):
    """`[m,k] @ [k,n] -> [m,n]`, 2-D only.

    `transpose_lhs` / `transpose_rhs` (unit attributes, as in linalg's
    `matmul_transpose_a`) multiply by the transpose of that operand without
    materializing it: `noma-fold-transpose` sets them, so the product of the
    backward pass reads the forward pass's tensors in place."""

    name = "noma.tensor.matmul"
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)
    transpose_lhs = opt_prop_def(UnitAttr)
    transpose_rhs = opt_prop_def(UnitAttr)
    traits = traits_def(Pure())
    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = FUNCTIONAL

    def __init__(
        self,
        lhs: SSAValue | Operation,
        rhs: SSAValue | Operation,
        transpose_lhs: bool = False,
        transpose_rhs: bool = False,
    ):
        lhs, rhs = _value(lhs), _value(rhs)
        flags = {"transpose_lhs": transpose_lhs, "transpose_rhs": transpose_rhs}
        props: dict[str, Attribute] = {k: UnitAttr() for k, on in flags.items() if on}
        a = _matmul_operand_dims(lhs.type, transpose_lhs)
        b = _matmul_operand_dims(rhs.type, transpose_rhs)
        m = a[0] if len(a) == 2 else None
        n = b[1] if len(b) == 2 else None
        super().__init__(
            operands=[lhs, rhs], result_types=[tensor_of_dims([m, n])], properties=props
        )

    def operand_dims(self) -> tuple[list[int | None], list[int | None]]:
        """The dimensions of the two factors, after their transposes."""
        return (
            _matmul_operand_dims(self.lhs.type, self.transpose_lhs is not None),
            _matmul_operand_dims(self.rhs.type, self.transpose_rhs is not None),
        )

    def verify_(self) -> None:
        a, b = self.operand_dims()
        if len(a) != 2 or len(b) != 2 or len(dims_of(self.result.type)) != 2:
            raise VerifyException("noma.tensor.matmul: operands and result must be 2-D")
        if a[1] is not None and b[0] is not None and a[1] != b[0]:
            raise VerifyException(
                f"noma.tensor.matmul: inner dimensions differ ({a[1]} and {b[0]})"
            )


def _matmul_operand_dims(t: Attribute, transposed: bool) -> list[int | None]:
    dims = list(dims_of(t) or [])
    return dims[::-1] if transposed else dims


@irdl_op_definition
class DotOp(IRDLOperation):
    """1-D · 1-D -> scalar."""

    name = "noma.tensor.dot"
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(F64)
    traits = traits_def(Pure())
    assembly_format = FUNCTIONAL

    def __init__(self, lhs: SSAValue | Operation, rhs: SSAValue | Operation):
        super().__init__(operands=[_value(lhs), _value(rhs)], result_types=[f64])

    def verify_(self) -> None:
        if rank_of(self.lhs.type) != 1 or rank_of(self.rhs.type) != 1:
            raise VerifyException("noma.tensor.dot: operands must be 1-D")


@irdl_op_definition
class TransposeOp(IRDLOperation):
    """2-D transpose."""

    name = "noma.tensor.transpose"
    operand = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$operand attr-dict `:` type($operand) `->` type($result)"

    def __init__(self, operand: SSAValue | Operation):
        operand = _value(operand)
        dims = dims_of(operand.type)
        out = list(reversed(dims)) if len(dims) == 2 else [None, None]
        super().__init__(operands=[operand], result_types=[tensor_of_dims(out)])

    def verify_(self) -> None:
        if rank_of(self.operand.type) != 2 or rank_of(self.result.type) != 2:
            raise VerifyException("noma.tensor.transpose: operand and result must be 2-D")


class LastAxisOp(IRDLOperation):
    """Base of softmax / log_softmax along the last axis (numerically stable)."""

    operand = operand_def(TENSOR)
    result = result_def(TENSOR)
    traits = traits_def(Pure())
    assembly_format = "$operand attr-dict `:` type($operand) `->` type($result)"

    def __init__(self, operand: SSAValue | Operation):
        operand = _value(operand)
        super().__init__(operands=[operand], result_types=[operand.type])


@irdl_op_definition
class SoftmaxOp(LastAxisOp):
    """exp(x - max) / sum(exp(x - max)) along the last axis."""

    name = "noma.tensor.softmax"


@irdl_op_definition
class LogSoftmaxOp(LastAxisOp):
    """x - max - log(sum(exp(x - max))) along the last axis."""

    name = "noma.tensor.log_softmax"


# ----------------------------------------------------------------- shapes and indexing


@irdl_op_definition
class DimOp(IRDLOperation):
    """The run-time size of axis `axis`, as f64."""

    name = "noma.tensor.dim"
    operand = operand_def(TENSOR)
    axis = prop_def(IntegerAttr)
    result = result_def(F64)
    traits = traits_def(Pure())
    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$operand attr-dict `:` type($operand)"

    def __init__(self, operand: SSAValue | Operation, axis: int):
        super().__init__(
            operands=[_value(operand)],
            result_types=[f64],
            properties={"axis": IntegerAttr(axis, i64)},
        )

    def verify_(self) -> None:
        rank = rank_of(self.operand.type)
        axis = self.axis.value.data
        if axis < 0 or (rank is not None and axis >= rank):
            raise VerifyException(f"noma.tensor.dim: axis {axis} out of range for rank {rank}")


@irdl_op_definition
class NumelOp(IRDLOperation):
    """The number of elements (1 for a scalar), as f64."""

    name = "noma.tensor.numel"
    operand = operand_def(SCALAR_OR_TENSOR)
    result = result_def(F64)
    traits = traits_def(Pure())
    assembly_format = "$operand attr-dict `:` type($operand)"

    def __init__(self, operand: SSAValue | Operation):
        super().__init__(operands=[_value(operand)], result_types=[f64])


@irdl_op_definition
class IndexOp(IRDLOperation):
    """`x[i]`, `x[i][j]`, ...: indices are f64, truncated; each must be in range
    (run-time error otherwise). The result has rank `rank(x) - len(indices)`
    (f64 when fully indexed); `m[i]` of a 2-D tensor is its row."""

    name = "noma.tensor.index"
    source = operand_def(TENSOR)
    indices = var_operand_def(F64)
    result = result_def(SCALAR_OR_TENSOR)
    traits = traits_def(Pure())
    assembly_format = "$source `[` $indices `]` attr-dict `:` type($source) `->` type($result)"

    def __init__(self, source: SSAValue | Operation, indices: Sequence[SSAValue | Operation]):
        source = _value(source)
        dims = dims_of(source.type)
        rt = type_of_rank(None) if dims is None else tensor_of_dims(dims[len(indices) :])
        super().__init__(operands=[source, [_value(i) for i in indices]], result_types=[rt])

    def verify_(self) -> None:
        rank = rank_of(self.source.type)
        n = len(self.indices)
        if rank is None:
            return
        if n < 1 or n > rank:
            raise VerifyException(f"noma.tensor.index: {n} indices for a rank-{rank} tensor")
        if rank_of(self.result.type) != rank - n:
            raise VerifyException("noma.tensor.index: result rank must be rank(source) - #indices")


@irdl_op_definition
class InsertOp(IRDLOperation):
    """`dest` with the element or row at `indices` replaced by `value` (a scalar
    stored into a row fills it). Pure: the result is a new tensor value."""

    name = "noma.tensor.insert"
    value = operand_def(SCALAR_OR_TENSOR)
    dest = operand_def(TENSOR)
    indices = var_operand_def(F64)
    result = result_def(TENSOR)
    traits = traits_def(Pure())
    assembly_format = (
        "$value `into` $dest `[` $indices `]` attr-dict `:` "
        "type($value) `,` type($dest) `->` type($result)"
    )

    def __init__(
        self,
        value: SSAValue | Operation,
        dest: SSAValue | Operation,
        indices: Sequence[SSAValue | Operation],
    ):
        dest = _value(dest)
        super().__init__(
            operands=[_value(value), dest, [_value(i) for i in indices]],
            result_types=[dest.type],
        )


@irdl_op_definition
class SliceOp(IRDLOperation):
    """Rows `start` (inclusive) to `stop` (exclusive) along axis 0 (for 1-D:
    elements). Bounds are f64, truncated, and clamped to the size. A source
    of unknown rank (a tensor read from a file) gives a result of unknown
    rank; slicing a scalar is a run-time error."""

    name = "noma.tensor.slice"
    source = operand_def(TENSOR)
    start = operand_def(F64)
    stop = operand_def(F64)
    result = result_def(TENSOR)
    traits = traits_def(Pure())
    assembly_format = (
        "$source `[` $start `:` $stop `]` attr-dict `:` type($source) `->` type($result)"
    )

    def __init__(
        self,
        source: SSAValue | Operation,
        start: SSAValue | Operation,
        stop: SSAValue | Operation,
    ):
        source = _value(source)
        dims = dims_of(source.type)
        rt = type_of_rank(None) if dims is None else tensor_of_dims([None, *dims[1:]])
        super().__init__(operands=[source, _value(start), _value(stop)], result_types=[rt])


@irdl_op_definition
class BroadcastLikeOp(IRDLOperation):
    """`operand` broadcast to the shape of `like` (used by autodiff)."""

    name = "noma.tensor.broadcast_like"
    operand = operand_def(SCALAR_OR_TENSOR)
    like = operand_def(SCALAR_OR_TENSOR)
    result = result_def(SCALAR_OR_TENSOR)
    traits = traits_def(Pure())
    assembly_format = FUNCTIONAL

    def __init__(self, operand: SSAValue | Operation, like: SSAValue | Operation):
        like = _value(like)
        super().__init__(operands=[_value(operand), like], result_types=[like.type])


@irdl_op_definition
class ReduceLikeOp(IRDLOperation):
    """`operand` summed over the axes along which `like` was broadcast to reach
    `operand`'s shape, so the result has `like`'s shape (autodiff uses it to
    return an adjoint to a broadcast operand)."""

    name = "noma.tensor.reduce_like"
    operand = operand_def(SCALAR_OR_TENSOR)
    like = operand_def(SCALAR_OR_TENSOR)
    result = result_def(SCALAR_OR_TENSOR)
    traits = traits_def(Pure())
    assembly_format = FUNCTIONAL

    def __init__(self, operand: SSAValue | Operation, like: SSAValue | Operation):
        like = _value(like)
        super().__init__(operands=[_value(operand), like], result_types=[like.type])


@irdl_op_definition
class ExpandDimsOp(IRDLOperation):
    """`operand` with a new axis of size 1 inserted before axis `axis` (0 <= axis
    <= rank; an f64 becomes a 1-element 1-D tensor). Autodiff uses it to
    give the adjoint of an axis reduction its axis back."""

    name = "noma.tensor.expand_dims"
    operand = operand_def(SCALAR_OR_TENSOR)
    axis = prop_def(IntegerAttr)
    result = result_def(TENSOR)
    traits = traits_def(Pure())
    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$operand attr-dict `:` type($operand) `->` type($result)"

    def __init__(self, operand: SSAValue | Operation, axis: int):
        operand = _value(operand)
        dims = dims_of(operand.type)
        rt = type_of_rank(None) if dims is None else tensor_of_dims([*dims[:axis], 1, *dims[axis:]])
        super().__init__(
            operands=[operand], result_types=[rt], properties={"axis": IntegerAttr(axis, i64)}
        )

    def verify_(self) -> None:
        check_value_type(self.operand.type, self.name)
        rank, axis = rank_of(self.operand.type), self.axis.value.data
        if axis < 0 or (rank is not None and axis > rank):
            raise VerifyException(f"{self.name}: axis {axis} out of range for rank {rank}")
        out = rank_of(self.result.type)
        if rank is not None and out is not None and out != rank + 1:
            raise VerifyException(f"{self.name}: result must have rank {rank + 1}")


# ----------------------------------------------------------------- realloc, RNG

RESIZE_POLICIES = {"zeros": 0, "normal": 2, "uniform": 2}


@irdl_op_definition
class ResizeOp(IRDLOperation):
    """`realloc` of a tensor value (SPEC §7): same rank, new dimensions; the
    leading corner keeps its values, new elements follow `policy` (zeros,
    normal(m, s), uniform(a, b)), drawn from the RNG in row-major order over the
    new shape, skipping preserved positions."""

    name = "noma.tensor.resize"
    source = operand_def(TENSOR)
    dims = var_operand_def(F64)
    policy_args = var_operand_def(F64)
    policy = prop_def(StringAttr)
    result = result_def(TENSOR)
    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    assembly_format = (
        "$source `to` `[` $dims `]` `init` $policy `(` $policy_args `)` attr-dict "
        "`:` type($source) `->` type($result)"
    )

    def __init__(
        self,
        source: SSAValue | Operation,
        dims: Sequence[SSAValue | Operation],
        policy: str = "zeros",
        policy_args: Sequence[SSAValue | Operation] = (),
    ):
        super().__init__(
            operands=[_value(source), [_value(d) for d in dims], [_value(a) for a in policy_args]],
            result_types=[type_of_rank(len(dims))],
            properties={"policy": StringAttr(policy)},
        )

    def verify_(self) -> None:
        verify_policy(self.name, self.policy.data, len(self.policy_args))
        rank = rank_of(self.source.type)
        if rank is not None and rank != len(self.dims):
            raise VerifyException(
                f"{self.name}: realloc keeps the rank ({rank}), got {len(self.dims)} dims"
            )


def verify_policy(op_name: str, policy: str, nargs: int) -> None:
    if policy not in RESIZE_POLICIES:
        raise VerifyException(f"{op_name}: unknown init policy {policy!r}")
    if RESIZE_POLICIES[policy] != nargs:
        raise VerifyException(f"{op_name}: init {policy} takes {RESIZE_POLICIES[policy]} args")


@irdl_op_definition
class RandomOp(IRDLOperation):
    """Random numbers from the program's RNG (SPEC §9).

    `dist = "uniform"`: `a + (b - a) * u`; `dist = "normal"`: normal(a, b).
    Without dims the result is one f64; with dims, a tensor filled in row-major
    order."""

    name = "noma.tensor.random"
    dist = prop_def(StringAttr)
    a = operand_def(F64)
    b = operand_def(F64)
    dims = var_operand_def(F64)
    result = result_def(SCALAR_OR_TENSOR)
    assembly_format = "$dist `(` $a `,` $b `)` (`[` $dims^ `]`)? attr-dict `:` type($result)"

    def __init__(
        self,
        dist: str,
        a: SSAValue | Operation,
        b: SSAValue | Operation,
        dims: Sequence[SSAValue | Operation] = (),
    ):
        super().__init__(
            operands=[_value(a), _value(b), [_value(d) for d in dims]],
            result_types=[type_of_rank(len(dims))],
            properties={"dist": StringAttr(dist)},
        )

    def verify_(self) -> None:
        if self.dist.data not in ("uniform", "normal"):
            raise VerifyException(f"noma.tensor.random: unknown dist {self.dist.data!r}")
        if rank_of(self.result.type) != len(self.dims):
            raise VerifyException("noma.tensor.random: result rank must equal the number of dims")


@irdl_op_definition
class SeedOp(IRDLOperation):
    """`seed(n)`: n truncated, modulo 2^64, becomes the RNG state."""

    name = "noma.tensor.seed"
    seed = operand_def(F64)
    assembly_format = "$seed attr-dict"

    def __init__(self, seed: SSAValue | Operation):
        super().__init__(operands=[_value(seed)])


# ----------------------------------------------------------------- fusion

#: Ops of other dialects a `fused` body may hold, by name (`noma.mem` imports
#: this module, so its classes are not imported here).
FUSED_MEM_OPS = ("noma.mem.load", "noma.mem.store")


@irdl_op_definition
class FusedOp(IRDLOperation):
    """A chain of element-wise ops run as one unit (made by `noma-fuse-elementwise`).

    The body is one block whose arguments are the `inputs` (f64 scalars,
    tensors and `!noma.mem.buffer`s); it holds element-wise ops (unary,
    binary, `cmp`, `select`, `cast`, `broadcast_like`, `reduce_like`,
    `zeros_like`) and `noma.mem.load` / `noma.mem.store` of the buffer
    arguments, all on tensors of one rank (buffers of that value rank), and
    ends in `noma.tensor.yield` of the `outputs`. Semantics: the body runs
    once, op by op, exactly as if it were inlined (the interpreter does just
    that). `noma-to-llvm` compiles it to one loop over the elements, each
    element computed in registers and only the outputs (and stores) written,
    when every tensor input and buffer has the same dimensions at run time;
    otherwise (broadcasting, a freed buffer, a rank error) it runs the body op
    by op, so results and errors are those of the unfused ops."""

    name = "noma.tensor.fused"
    inputs = var_operand_def()
    outputs = var_result_def(TENSOR)
    body = region_def("single_block")
    traits = traits_def(IsolatedFromAbove(), RecursiveMemoryEffect())
    assembly_format = (
        "(`ins` `(` $inputs^ `:` type($inputs) `)`)? attr-dict-with-keyword "
        "(`->` `(` type($outputs)^ `)`)? $body"
    )

    def __init__(
        self,
        inputs: Sequence[SSAValue | Operation],
        result_types: Sequence[Attribute],
        body: Region,
    ):
        super().__init__(
            operands=[[_value(v) for v in inputs]],
            result_types=[list(result_types)],
            regions=[body],
        )

    @property
    def block(self) -> Block:
        return self.body.block

    def verify_(self) -> None:
        block = self.body.block
        if [a.type for a in block.args] != [v.type for v in self.inputs]:
            raise VerifyException(
                "noma.tensor.fused: body arguments must have the types of the inputs"
            )
        term = block.last_op
        if not isinstance(term, FusedYieldOp):
            raise VerifyException("noma.tensor.fused: body must end in noma.tensor.yield")
        if [v.type for v in term.values] != [r.type for r in self.outputs]:
            raise VerifyException("noma.tensor.fused: yielded values must match the outputs")
        ranks: set[int | None] = set()
        for arg in block.args:
            ranks.add(_fused_value_rank(arg.type))
        for op in block.ops:
            if op is term:
                continue
            if not isinstance(op, FUSABLE_OPS) and op.name not in FUSED_MEM_OPS:
                raise VerifyException(f"noma.tensor.fused: {op.name} cannot be fused")
            for v in (*op.operands, *op.results):
                ranks.add(_fused_value_rank(v.type))
        ranks.discard(0)
        if len(ranks) != 1 or None in ranks:
            raise VerifyException(
                "noma.tensor.fused: the tensors and buffers must all have one known rank"
            )


def _fused_value_rank(t: Attribute) -> int | None:
    """The (value) rank of a fused value: 0 for f64, None if unknown."""
    if t.name == "noma.mem.buffer":  # type: ignore[attr-defined]
        return t.value_rank()  # type: ignore[attr-defined]
    if isinstance(t, TensorType | Float64Type):
        return rank_of(t)
    return None


@irdl_op_definition
class FusedYieldOp(IRDLOperation):
    """Terminator of a `noma.tensor.fused` body: the values it gives to the
    fused op's results."""

    name = "noma.tensor.yield"
    values = var_operand_def(TENSOR)
    traits = lazy_traits_def(lambda: (IsTerminator(), HasParent(FusedOp)))
    assembly_format = "($values^ `:` type($values))? attr-dict"

    def __init__(self, values: Sequence[SSAValue | Operation]):
        super().__init__(operands=[[_value(v) for v in values]])


UNARY_OPS: tuple[type[UnaryOp], ...] = (
    NegOp, NotOp, SigmoidOp, ReluOp, TanhOp, ExpOp, LogOp, SqrtOp,
    SinOp, CosOp, TanOp, AbsOp, FloorOp, CeilOp, TruncOp,
)  # fmt: skip
BINARY_OPS: tuple[type[BinaryOp], ...] = (
    AddOp, SubOp, MulOp, DivOp, RemOp, PowOp, MinOp, MaxOp,
)  # fmt: skip

#: The ops `noma-fuse-elementwise` may put into a `noma.tensor.fused` body
#: (besides `noma.mem.load` / `store`).
FUSABLE_OPS: tuple[type[Operation], ...] = (
    *UNARY_OPS, *BINARY_OPS, CmpOp, SelectOp, CastOp, BroadcastLikeOp, ReduceLikeOp, ZerosLikeOp,
)  # fmt: skip

NomaTensor = Dialect(
    "noma.tensor",
    [
        *UNARY_OPS,
        *BINARY_OPS,
        CmpOp,
        SelectOp,
        ConstantOp,
        FromElementsOp,
        ZerosOp,
        ZerosLikeOp,
        CastOp,
        ToScalarOp,
        SumOp,
        MeanOp,
        MatmulOp,
        DotOp,
        TransposeOp,
        SoftmaxOp,
        LogSoftmaxOp,
        DimOp,
        NumelOp,
        IndexOp,
        InsertOp,
        SliceOp,
        BroadcastLikeOp,
        ReduceLikeOp,
        ExpandDimsOp,
        ResizeOp,
        RandomOp,
        SeedOp,
        FusedOp,
        FusedYieldOp,
    ],
    [],
)


