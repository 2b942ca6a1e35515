"""Dimensions for `alloc` and the `realloc` resize (SPEC §7).

`check_dims` turns run-time dimension values (floats) into a shape: each is
truncated toward zero and must be >= 1, the rank must be 1 to 4, and the
element count is capped at `MAX_ELEMENTS` so a huge dimension is a clear
error instead of a MemoryError (`check_elements`, which the interpreter
also applies to the results of broadcasting and matmul).

`resize_array` keeps the leading corner (every index inside both shapes)
and fills the new elements by the policy; random new elements are drawn in
row-major order over the new shape, skipping preserved positions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from noma.backend.runtime.rng import NomaRng
from noma.diagnostics import NomaRuntimeError

MAX_RANK = 4
MAX_ELEMENTS = 2**31
POLICY_ARITY = {"zeros": 0, "normal": 2, "uniform": 2}


def check_dim(d: float) -> int:
    """One dimension: truncated toward zero, must be >= 1."""
    x = float(d)
    if math.isnan(x):
        raise NomaRuntimeError("dimension must be >= 1, got nan")
    if x < 1:
        raise NomaRuntimeError(f"dimension must be >= 1, got {x:.10g}")
    if x >= MAX_ELEMENTS + 1:  # also +inf
        raise NomaRuntimeError(
            f"tensor too large: dimension {x:.10g} (limit {MAX_ELEMENTS} elements)"
        )
    return int(x)


def check_dims(dims: Sequence[float]) -> tuple[int, ...]:
    """A shape from run-time dimension values (alloc, realloc, zeros, rand_tensor, ...)."""
    if not 1 <= len(dims) <= MAX_RANK:
        raise NomaRuntimeError(f"a tensor needs 1 to {MAX_RANK} dimensions, got {len(dims)}")
    shape = tuple(check_dim(d) for d in dims)
    check_elements(shape)
    return shape


def check_elements(shape: Sequence[int]) -> None:
    """The element cap on a shape: dims, and results that can be larger than
    their operands (broadcasting `[1e5, 1] + [1, 1e5]`, matmul)."""
    total = math.prod(shape)
    if total > MAX_ELEMENTS:
        raise NomaRuntimeError(
            f"tensor too large: shape {list(shape)} has {total} elements (limit {MAX_ELEMENTS})"
        )


def resize_array(
    old: np.ndarray,
    new_shape: Sequence[float],
    policy: str = "zeros",
    args: Sequence[float] = (),
    rng: NomaRng | None = None,
) -> np.ndarray:
    """A new float64 array of `new_shape` keeping the leading corner of `old`."""
    old = np.asarray(old, dtype=np.float64)
    if old.ndim == 0:
        raise NomaRuntimeError("cannot realloc a scalar")
    _check_policy(policy, args, rng)
    if len(new_shape) != old.ndim:
        raise NomaRuntimeError(
            f"realloc cannot change the rank: the tensor has rank {old.ndim}, "
            f"the new shape has {len(new_shape)} dimensions"
        )
    shape = check_dims(new_shape)
    keep = tuple(slice(0, min(o, n)) for o, n in zip(old.shape, shape, strict=True))
    out = np.zeros(shape, dtype=np.float64)
    if policy != "zeros":
        fresh = np.ones(shape, dtype=bool)
        fresh[keep] = False
        out[fresh] = _draw(rng, policy, args, int(np.count_nonzero(fresh)))
    out[keep] = old[keep]
    return out


def _check_policy(policy: str, args: Sequence[float], rng: NomaRng | None) -> None:
    if policy not in POLICY_ARITY:
        raise NomaRuntimeError(f"unknown init policy '{policy}' (zeros, normal or uniform)")
    want = POLICY_ARITY[policy]
    if len(args) != want:
        raise NomaRuntimeError(f"init {policy} takes {want} arguments, got {len(args)}")
    if want and rng is None:
        raise NomaRuntimeError(f"init {policy} needs the program's RNG")


def _draw(rng: NomaRng | None, policy: str, args: Sequence[float], n: int) -> np.ndarray:
    assert rng is not None
    a, b = (float(x) for x in args)
    if policy == "normal":
        return rng.normal_values(n, a, b)
    return rng.uniform_values(n, a, b)
