"""The `noma.mem` dialect: mutable memory whose dimensions change at run time.

A `!noma.mem.buffer<R>` is a reference to a resizable f64 array of rank R
(R = 0 holds one scalar; `*` means the rank is only known at run time).
Learnable parameters and their optimizer state live in buffers, so `realloc`
can grow them in place while the program keeps referring to the same value.
Reading a buffer (`load`) yields a pure `noma.tensor` value.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import IntAttr, IntegerAttr, StringAttr, i64
from xdsl.ir import (
    Attribute,
    Dialect,
    Operation,
    ParametrizedAttribute,
    SSAValue,
    TypeAttribute,
)
from xdsl.irdl import (
    AttrSizedOperandSegments,
    IRDLOperation,
    ParsePropInAttrDict,
    irdl_attr_definition,
    irdl_op_definition,
    operand_def,
    prop_def,
    result_def,
    var_operand_def,
)
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.utils.exceptions import VerifyException

from noma.dialects.common import F64, SCALAR_OR_TENSOR, check_value_type, rank_of, type_of_rank
from noma.dialects.tensor import verify_policy

UNRANKED = -1


@irdl_attr_definition
class BufferType(ParametrizedAttribute, TypeAttribute):
    """`!noma.mem.buffer<R>`: a resizable f64 array of rank R (`*`: unknown)."""

    name = "noma.mem.buffer"
    rank: IntAttr

    def __init__(self, rank: int | None):
        super().__init__(IntAttr(UNRANKED if rank is None else rank))

    def value_rank(self) -> int | None:
        return None if self.rank.data == UNRANKED else self.rank.data

    def value_type(self) -> Attribute:
        """The type of a `load` of this buffer."""
        return type_of_rank(self.value_rank())

    def print_parameters(self, printer: Printer) -> None:
        r = self.rank.data
        printer.print_string("<*>" if r == UNRANKED else f"<{r}>")

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        with parser.in_angle_brackets():
            if parser.parse_optional_punctuation("*") is not None:
                return [IntAttr(UNRANKED)]
            return [IntAttr(parser.parse_integer(allow_negative=False))]

    def verify(self) -> None:
        if not (self.rank.data == UNRANKED or 0 <= self.rank.data <= 4):
            raise VerifyException(f"buffer rank must be 0 to 4 or *, got {self.rank.data}")


def _value(v: SSAValue | Operation) -> SSAValue:
    return SSAValue.get(v)


def _buffer_rank(v: SSAValue) -> int | None:
    assert isinstance(v.type, BufferType)
    return v.type.value_rank()


@irdl_op_definition
class AllocOp(IRDLOperation):
    """A new zero-filled buffer with run-time dims (truncated, each >= 1)."""

    name = "noma.mem.alloc"
    dims = var_operand_def(F64)
    result = result_def(BufferType)
    assembly_format = "`[` $dims `]` attr-dict `:` type($result)"

    def __init__(self, dims: Sequence[SSAValue | Operation]):
        super().__init__(operands=[[_value(d) for d in dims]], result_types=[BufferType(len(dims))])

    def verify_(self) -> None:
        if self.result.type.value_rank() != len(self.dims):
            raise VerifyException("noma.mem.alloc: buffer rank must equal the number of dims")


@irdl_op_definition
class LoadOp(IRDLOperation):
    """The buffer's current contents as a value (f64 for rank 0)."""

    name = "noma.mem.load"
    buffer = operand_def(BufferType)
    result = result_def(SCALAR_OR_TENSOR)
    assembly_format = "$buffer attr-dict `:` type($buffer) `->` type($result)"

    def __init__(self, buffer: SSAValue | Operation, result_type: Attribute | None = None):
        buffer = _value(buffer)
        assert isinstance(buffer.type, BufferType)
        super().__init__(operands=[buffer], result_types=[result_type or buffer.type.value_type()])

    def verify_(self) -> None:
        br, vr = _buffer_rank(self.buffer), rank_of(self.result.type)
        if br is not None and vr is not None and br != vr:
            raise VerifyException("noma.mem.load: result rank must be the buffer's rank")


@irdl_op_definition
class StoreOp(IRDLOperation):
    """Replace the buffer's contents (and dimensions) by `value` (same rank)."""

    name = "noma.mem.store"
    value = operand_def(SCALAR_OR_TENSOR)
    buffer = operand_def(BufferType)
    assembly_format = "$value `,` $buffer attr-dict `:` type($value) `,` type($buffer)"

    def __init__(self, value: SSAValue | Operation, buffer: SSAValue | Operation):
        super().__init__(operands=[_value(value), _value(buffer)])

    def verify_(self) -> None:
        check_value_type(self.value.type, self.name)
        br, vr = _buffer_rank(self.buffer), rank_of(self.value.type)
        if br is not None and vr is not None and br != vr:
            raise VerifyException("noma.mem.store: value rank must be the buffer's rank")


@irdl_op_definition
class StoreElementOp(IRDLOperation):
    """Store into one element or row (`w[i] = e`; a scalar fills a row)."""

    name = "noma.mem.store_element"
    value = operand_def(SCALAR_OR_TENSOR)
    buffer = operand_def(BufferType)
    indices = var_operand_def(F64)
    assembly_format = (
        "$value `,` $buffer `[` $indices `]` attr-dict `:` type($value) `,` type($buffer)"
    )

    def __init__(
        self,
        value: SSAValue | Operation,
        buffer: SSAValue | Operation,
        indices: Sequence[SSAValue | Operation],
    ):
        super().__init__(operands=[_value(value), _value(buffer), [_value(i) for i in indices]])


@irdl_op_definition
class ReallocOp(IRDLOperation):
    """Resize a buffer in place (SPEC §7): same rank, preserved leading corner,
    new elements by `policy` (zeros | normal(m, s) | uniform(a, b))."""

    name = "noma.mem.realloc"
    buffer = operand_def(BufferType)
    dims = var_operand_def(F64)
    policy_args = var_operand_def(F64)
    policy = prop_def(StringAttr)
    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    assembly_format = (
        "$buffer `to` ` ` `[` $dims `]` `init` $policy ` ` `(` $policy_args `)` attr-dict "
        "`:` type($buffer)"
    )

    def __init__(
        self,
        buffer: SSAValue | Operation,
        dims: Sequence[SSAValue | Operation],
        policy: str = "zeros",
        policy_args: Sequence[SSAValue | Operation] = (),
    ):
        super().__init__(
            operands=[_value(buffer), [_value(d) for d in dims], [_value(a) for a in policy_args]],
            properties={"policy": StringAttr(policy)},
        )

    def verify_(self) -> None:
        verify_policy(self.name, self.policy.data, len(self.policy_args))
        rank = _buffer_rank(self.buffer)
        if rank == 0:
            raise VerifyException("noma.mem.realloc: a scalar buffer cannot be reallocated")
        if rank is not None and rank != len(self.dims):
            raise VerifyException(
                f"noma.mem.realloc: realloc keeps the rank ({rank}), got {len(self.dims)} dims"
            )


@irdl_op_definition
class FreeOp(IRDLOperation):
    """Release a buffer; using it afterwards is a run-time error."""

    name = "noma.mem.free"
    buffer = operand_def(BufferType)
    assembly_format = "$buffer attr-dict `:` type($buffer)"

    def __init__(self, buffer: SSAValue | Operation):
        super().__init__(operands=[_value(buffer)])


@irdl_op_definition
class DimOp(IRDLOperation):
    """The current size of axis `axis` of a buffer, as f64."""

    name = "noma.mem.dim"
    buffer = operand_def(BufferType)
    axis = prop_def(IntegerAttr)
    result = result_def(F64)
    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$buffer attr-dict `:` type($buffer)"

    def __init__(self, buffer: SSAValue | Operation, axis: int):
        super().__init__(
            operands=[_value(buffer)],
            result_types=[F64],
            properties={"axis": IntegerAttr(axis, i64)},
        )


NomaMem = Dialect(
    "noma.mem",
    [AllocOp, LoadOp, StoreOp, StoreElementOp, ReallocOp, FreeOp, DimOp],
    [BufferType],
)
