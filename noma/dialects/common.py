"""Types and type helpers shared by the NOMA dialects.

NOMA values are f64 scalars, f64 tensors of rank 1-4 (`tensor<?x3xf64>`,
dynamic dimensions allowed) or tensors whose rank is only known at run time
(`tensor<*xf64>`, e.g. read from a safetensors file). "Rank" below is 0 for a
scalar and None for an unranked tensor.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    Float64Type,
    TensorType,
    UnrankedTensorType,
    f64,
)
from xdsl.ir import Attribute
from xdsl.irdl import AnyOf, BaseAttr, EqAttrConstraint
from xdsl.utils.exceptions import VerifyException

F64 = f64
ValueType = Float64Type | TensorType | UnrankedTensorType

#: An f64 scalar or any tensor (element type checked by `check_value_type`).
SCALAR_OR_TENSOR = AnyOf(
    (EqAttrConstraint(f64), BaseAttr(TensorType), BaseAttr(UnrankedTensorType))
)
#: Any tensor (ranked or not).
TENSOR = AnyOf((BaseAttr(TensorType), BaseAttr(UnrankedTensorType)))


def dynamic_tensor(rank: int) -> TensorType:
    """`tensor<?x...x?xf64>` of the given rank (rank >= 1)."""
    return TensorType(f64, [DYNAMIC_INDEX] * rank)


def type_of_rank(rank: int | None) -> Attribute:
    """The most general value type of a rank: f64, `tensor<?..xf64>` or `tensor<*xf64>`."""
    if rank is None:
        return UnrankedTensorType(f64)
    if rank == 0:
        return f64
    return dynamic_tensor(rank)


def rank_of(t: Attribute) -> int | None:
    if isinstance(t, Float64Type):
        return 0
    if isinstance(t, TensorType):
        return len(t.get_shape())
    if isinstance(t, UnrankedTensorType):
        return None
    raise VerifyException(f"expected f64 or a tensor of f64, got {t}")


def static_shape(t: Attribute) -> tuple[int, ...] | None:
    """The shape when every dimension is known (() for f64), else None."""
    if isinstance(t, Float64Type):
        return ()
    if isinstance(t, TensorType):
        shape = tuple(t.get_shape())
        if all(d != DYNAMIC_INDEX for d in shape):
            return shape
    return None


def dims_of(t: Attribute) -> tuple[int | None, ...] | None:
    """Per-dimension sizes (None = dynamic), or None when the rank is unknown."""
    if isinstance(t, Float64Type):
        return ()
    if isinstance(t, TensorType):
        return tuple(None if d == DYNAMIC_INDEX else d for d in t.get_shape())
    return None


def tensor_of_dims(dims: Sequence[int | None]) -> Attribute:
    if not dims:
        return f64
    return TensorType(f64, [DYNAMIC_INDEX if d is None else d for d in dims])


def check_value_type(t: Attribute, what: str = "value") -> None:
    """Every NOMA value is f64 or a tensor of f64 of rank 1-4 (or unranked)."""
    if isinstance(t, Float64Type):
        return
    if isinstance(t, TensorType | UnrankedTensorType) and t.get_element_type() == f64:
        if isinstance(t, TensorType) and not 1 <= len(t.get_shape()) <= 4:
            raise VerifyException(f"{what}: tensors have rank 1 to 4, got {t}")
        return
    raise VerifyException(f"{what}: expected f64 or a tensor of f64, got {t}")


def broadcast_dims(
    a: tuple[int | None, ...], b: tuple[int | None, ...]
) -> tuple[int | None, ...] | None:
    """NumPy broadcasting of two (partially known) shapes; None if incompatible."""
    out: list[int | None] = []
    for i in range(max(len(a), len(b))):
        x = a[len(a) - 1 - i] if i < len(a) else 1
        y = b[len(b) - 1 - i] if i < len(b) else 1
        if x == 1:
            out.append(y)
        elif y == 1:
            out.append(x)
        elif x is None or y is None:
            out.append(x if y is None else y)
            if x is None and y is None:
                out[-1] = None
        elif x == y:
            out.append(x)
        else:
            return None
    return tuple(reversed(out))


def broadcast_type(types: Sequence[Attribute]) -> Attribute:
    """Result type of an element-wise op on `types` (raises VerifyException on a
    statically known mismatch)."""
    result: tuple[int | None, ...] = ()
    for t in types:
        dims = dims_of(t)
        if dims is None:
            return UnrankedTensorType(f64)
        merged = broadcast_dims(result, dims)
        if merged is None:
            raise VerifyException(
                f"shapes {format_dims(result)} and {format_dims(dims)} cannot be broadcast"
            )
        result = merged
    return tensor_of_dims(result)


def format_dims(dims: Sequence[int | None]) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in dims) + "]"


def same_rank(a: Attribute, b: Attribute) -> bool:
    ra, rb = rank_of(a), rank_of(b)
    return ra is None or rb is None or ra == rb
