"""The `noma.io` dialect: printing and files (SPEC §8).

Paths and strings are compile-time literals (the language has no string
values). File writes are atomic; read errors name the file. A safetensors
file read by `load_safetensors` is an `!noma.io.archive`; `get` takes one
tensor out of it (the first key in UTF-8 byte order when no key is given).
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import ArrayAttr, StringAttr, UnrankedTensorType, f64
from xdsl.ir import Dialect, Operation, ParametrizedAttribute, SSAValue, TypeAttribute
from xdsl.irdl import (
    IRDLOperation,
    irdl_attr_definition,
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    var_operand_def,
)
from xdsl.utils.exceptions import VerifyException

from noma.dialects.common import SCALAR_OR_TENSOR, dynamic_tensor


def _value(v: SSAValue | Operation) -> SSAValue:
    return SSAValue.get(v)


@irdl_attr_definition
class ArchiveType(ParametrizedAttribute, TypeAttribute):
    """`!noma.io.archive`: the tensors of one safetensors file, by key."""

    name = "noma.io.archive"


@irdl_op_definition
class PrintOp(IRDLOperation):
    """Print a scalar (`%.10g`) or a tensor (nested lists) on one line."""

    name = "noma.io.print"
    value = operand_def(SCALAR_OR_TENSOR)
    assembly_format = "$value attr-dict `:` type($value)"

    def __init__(self, value: SSAValue | Operation):
        super().__init__(operands=[_value(value)])


@irdl_op_definition
class PrintStrOp(IRDLOperation):
    """Print a string literal on one line."""

    name = "noma.io.print_str"
    text = prop_def(StringAttr)
    assembly_format = "$text attr-dict"

    def __init__(self, text: str):
        super().__init__(properties={"text": StringAttr(text)})


@irdl_op_definition
class LoadCsvOp(IRDLOperation):
    """Read a CSV file of numbers into a 2-D tensor."""

    name = "noma.io.load_csv"
    path = prop_def(StringAttr)
    result = result_def(dynamic_tensor(2))
    assembly_format = "$path attr-dict `:` type($result)"

    def __init__(self, path: str):
        super().__init__(properties={"path": StringAttr(path)}, result_types=[dynamic_tensor(2)])


@irdl_op_definition
class SaveCsvOp(IRDLOperation):
    """Write a scalar, 1-D or 2-D value as CSV (`%.17g`), atomically."""

    name = "noma.io.save_csv"
    value = operand_def(SCALAR_OR_TENSOR)
    path = prop_def(StringAttr)
    assembly_format = "$value `,` $path attr-dict `:` type($value)"

    def __init__(self, value: SSAValue | Operation, path: str):
        super().__init__(operands=[_value(value)], properties={"path": StringAttr(path)})


@irdl_op_definition
class LoadSafetensorsOp(IRDLOperation):
    """Read a safetensors file (F64 or F32 tensors) as an archive."""

    name = "noma.io.load_safetensors"
    path = prop_def(StringAttr)
    result = result_def(ArchiveType)
    assembly_format = "$path attr-dict"

    def __init__(self, path: str):
        super().__init__(properties={"path": StringAttr(path)}, result_types=[ArchiveType()])


@irdl_op_definition
class GetOp(IRDLOperation):
    """The tensor stored under `key` (the first key when absent); its rank is
    known only at run time, and shape `[]` reads as a 0-d tensor."""

    name = "noma.io.get"
    archive = operand_def(ArchiveType)
    key = opt_prop_def(StringAttr)
    result = result_def(UnrankedTensorType)
    assembly_format = "$archive (`key` $key^)? attr-dict `:` type($result)"

    def __init__(self, archive: SSAValue | Operation, key: str | None):
        props = {} if key is None else {"key": StringAttr(key)}
        super().__init__(
            operands=[_value(archive)],
            properties=props,
            result_types=[UnrankedTensorType(f64)],
        )


@irdl_op_definition
class SaveSafetensorsOp(IRDLOperation):
    """Write `values` under `keys` as an F64 safetensors file, atomically."""

    name = "noma.io.save_safetensors"
    values = var_operand_def(SCALAR_OR_TENSOR)
    keys = prop_def(ArrayAttr[StringAttr])
    path = prop_def(StringAttr)
    assembly_format = "$keys `(` $values `:` type($values) `)` `,` $path attr-dict"

    def __init__(self, entries: Sequence[tuple[str, SSAValue | Operation]], path: str):
        super().__init__(
            operands=[[_value(v) for _, v in entries]],
            properties={
                "keys": ArrayAttr([StringAttr(k) for k, _ in entries]),
                "path": StringAttr(path),
            },
        )

    def verify_(self) -> None:
        if len(self.keys) != len(self.values):
            raise VerifyException("noma.io.save_safetensors: one key per value")
        names = [k.data for k in self.keys]
        if len(set(names)) != len(names):
            raise VerifyException("noma.io.save_safetensors: duplicate key")


NomaIO = Dialect(
    "noma.io",
    [PrintOp, PrintStrOp, LoadCsvOp, SaveCsvOp, LoadSafetensorsOp, GetOp, SaveSafetensorsOp],
    [ArchiveType],
)
