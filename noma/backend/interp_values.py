"""Value helpers of the reference interpreter: shapes, broadcasting checks,
index truncation and conversion of results to their run-time representation."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
from xdsl.dialects.builtin import CallSiteLoc, FileLineColLoc, Float64Type, FusedLoc, NameLoc
from xdsl.ir import Attribute, Operation

from noma.backend.runtime.resize import check_elements
from noma.diagnostics import NomaRuntimeError, SourceLoc
from noma.dialects.common import broadcast_dims

Value = float | np.ndarray


def loc_of(op: Operation) -> SourceLoc | None:
    """The source position of an op (None for an unknown location)."""
    return source_loc(op.location)


def source_loc(loc: Attribute) -> SourceLoc | None:
    """A `SourceLoc` from an xDSL location: file:line:col, looking through
    call-site (the callee's position), named and fused locations."""
    if isinstance(loc, FileLineColLoc):
        return SourceLoc(loc.filename.data, loc.line.data, loc.column.data)
    if isinstance(loc, CallSiteLoc):
        return source_loc(loc.callee) or source_loc(loc.caller)
    if isinstance(loc, NameLoc):
        return source_loc(loc.location)
    if isinstance(loc, FusedLoc):
        for inner in loc.locations:
            if (found := source_loc(inner)) is not None:
                return found
    return None


def shape_of(v: Any) -> tuple[int, ...]:
    """The run-time shape of a value (() for a float)."""
    if isinstance(v, np.ndarray):
        return v.shape
    return np.shape(v)


def fmt_shape(shape: Sequence[int]) -> str:
    """`[2, 3]` (and `[]` for a scalar), as error messages show shapes."""
    return "[" + ", ".join(str(d) for d in shape) + "]"


def as_array(v: Any) -> np.ndarray:
    """A float64 array view of a value (no copy when it already is one)."""
    return np.asarray(v, dtype=np.float64)


def broadcast_shapes(values: Sequence[Any]) -> tuple[int, ...]:
    """NumPy broadcasting of the values' shapes (by the verifiers'
    `broadcast_dims`); an error naming two incompatible shapes, or a result
    over the element limit (`[1e5, 1] + [1, 1e5]`)."""
    shapes = [shape_of(v) for v in values]
    result = shapes[0]
    grown = False
    for shape in shapes[1:]:
        if shape == result or not shape:
            continue
        merged = broadcast_dims(result, shape)
        if merged is None:
            raise NomaRuntimeError(
                f"shapes {fmt_shape(result)} and {fmt_shape(shape)} cannot be broadcast"
            )
        grown = grown or merged != result
        result = cast(tuple[int, ...], merged)  # known dims in, known dims out
    if grown:
        check_elements(result)
    return result


def to_result(value: Any, typ: Attribute) -> Value:
    """The run-time representation of `value` for a result of type `typ`:
    a Python float for f64, a float64 ndarray for any tensor type."""
    if isinstance(typ, Float64Type):
        if isinstance(value, np.ndarray):
            if value.size != 1 or value.ndim != 0:
                raise NomaRuntimeError(
                    f"expected a scalar, got a tensor of shape {fmt_shape(value.shape)}"
                )
            return float(value.item())
        return float(value)
    if isinstance(value, np.ndarray) and value.dtype == np.float64:
        return value
    return np.asarray(value, dtype=np.float64)


def trunc_int(x: float, what: str) -> int:
    """`x` truncated toward zero; NaN or an infinity is an error about `what`."""
    x = float(x)
    if not math.isfinite(x):
        raise NomaRuntimeError(f"{what} must be a finite number, got {x:.10g}")
    return int(x)


def check_index(x: float, size: int) -> int:
    """An index truncated toward zero and checked against a dimension's size."""
    x = float(x)
    if math.isnan(x):
        raise NomaRuntimeError(f"index nan out of range for dimension of size {size}")
    if not -(2.0**62) < x < 2.0**62:
        raise NomaRuntimeError(f"index {x:.10g} out of range for dimension of size {size}")
    i = int(x)
    if not 0 <= i < size:
        raise NomaRuntimeError(f"index {i} out of range for dimension of size {size}")
    return i


def element_indices(shape: tuple[int, ...], indices: Sequence[float]) -> tuple[int, ...]:
    """Checked integer indices for `x[i][j]...` into a value of `shape`."""
    if len(indices) > len(shape):
        raise NomaRuntimeError(
            f"{len(indices)} indices for a tensor of rank {len(shape)} (shape {fmt_shape(shape)})"
        )
    return tuple(check_index(i, n) for i, n in zip(indices, shape, strict=False))


def check_axis(axis: int, ndim: int) -> int:
    """An axis that must exist in a value of rank `ndim`."""
    if not 0 <= axis < ndim:
        raise NomaRuntimeError(f"axis {axis} out of range for a tensor of rank {ndim}")
    return axis


def store_into(target: np.ndarray, idx: tuple[int, ...], value: Any) -> None:
    """`target[idx] = value` in place: an element, or a row (or sub-tensor) of
    the same shape; a scalar stored into a row fills it."""
    slot = target.shape[len(idx) :]
    vshape = shape_of(value)
    if vshape and vshape != slot:
        where = "an element" if not slot else f"a row of shape {fmt_shape(slot)}"
        raise NomaRuntimeError(f"cannot store a value of shape {fmt_shape(vshape)} into {where}")
    target[idx] = value
