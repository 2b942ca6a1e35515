"""realloc resizing and dimension checks (SPEC §7)."""

from __future__ import annotations

import numpy as np
import pytest

from noma.backend.runtime import (
    MAX_ELEMENTS,
    NomaRng,
    check_dims,
    check_elements,
    format_value,
    resize_array,
)
from noma.diagnostics import NomaRuntimeError


def test_realloc_learnable_init_expected() -> None:
    """realloc_learnable_init.expected (seed 5): draw order skips preserved positions."""
    r = NomaRng(5)
    w = resize_array(np.array([[1.0, 2], [3, 4]]), (3, 3), "normal", (0, 0.3), r)
    assert format_value(w) == (
        "[[1, 2, 0.004300423799], [3, 4, 0.1771862871], "
        "[-0.1416269568, -0.8712829408, -0.2518368786]]"
    )
    w = resize_array(w, (2, 4), "zeros", (), r)
    assert format_value(w) == "[[1, 2, 0.004300423799, 0], [3, 4, 0.1771862871, 0]]"
    v = resize_array(np.array([1.0, 2]), (4,), "normal", (10, 1), r)
    assert format_value(v) == "[1, 2, 10.71482561, 8.052844287]"
    v = resize_array(v, (3,), "uniform", (-1, 1), r)
    assert format_value(v) == "[1, 2, 10.71482561]"


def test_alloc_buffers_expected() -> None:
    """alloc_buffers.expected (seed 11)."""
    r = NomaRng(11)
    buf = np.zeros(check_dims([2, 3])) + np.array([1.0, 2, 3])
    buf = resize_array(buf, (3, 2), "zeros", (), r)
    assert format_value(buf) == "[[1, 2], [1, 2], [0, 0]]"
    buf = resize_array(buf, (3, 4), "uniform", (5, 6), r)
    assert format_value(buf) == (
        "[[1, 2, 5.316244393, 5.262365152], [1, 2, 5.638042342, 5.504614031], "
        "[0, 0, 5.165192551, 5.551937692]]"
    )
    assert format_value(resize_array(buf, (1, 1), "zeros", (), r)) == "[[1]]"
    v = np.zeros(check_dims([2 + 1.5]))
    v = resize_array(v, (5,), "normal", (10, 2), r)
    assert format_value(v) == "[0, 0, 0, 10.17239657, 11.75927219]"


def test_mixed_grow_and_shrink_keeps_corner() -> None:
    old = np.arange(12.0).reshape(3, 4)
    new = resize_array(old, (5.9, 2.2), "zeros", ())
    assert new.shape == (5, 2)
    assert new[:3].tolist() == old[:, :2].tolist()
    assert not new[3:].any()
    assert new.dtype == np.float64
    assert old.shape == (3, 4)  # the input is not modified


def test_draws_count_only_new_elements() -> None:
    r, ref = NomaRng(1), NomaRng(1)
    new = resize_array(np.ones((2, 2)), (3, 3), "uniform", (0, 1), r)
    fresh = ref.uniforms(5).tolist()
    assert [new[0, 2], new[1, 2], *new[2].tolist()] == fresh
    assert r.state == ref.state


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((0, 3), "dimension must be >= 1"),
        ((2, -1), "dimension must be >= 1"),
        ((0.5, 2), "dimension must be >= 1"),
        ((float("nan"), 2), "dimension must be >= 1"),
        ((float("inf"), 2), "tensor too large"),
        ((1e6, 1e6), "tensor too large"),
        ((3,), "rank"),
        ((2, 2, 2), "rank"),
    ],
)
def test_resize_errors(shape: tuple[float, ...], message: str) -> None:
    with pytest.raises(NomaRuntimeError, match=message):
        resize_array(np.ones((2, 2)), shape, "zeros", ())


def test_resize_policy_errors() -> None:
    with pytest.raises(NomaRuntimeError, match="scalar"):
        resize_array(np.array(1.0), (2,), "zeros", ())
    with pytest.raises(NomaRuntimeError, match="unknown init policy"):
        resize_array(np.ones(2), (3,), "ones", ())
    with pytest.raises(NomaRuntimeError, match="2 arguments"):
        resize_array(np.ones(2), (3,), "normal", (1.0,), NomaRng())


def test_check_dims() -> None:
    assert check_dims([2.9, 1, 7.0]) == (2, 1, 7)
    assert check_dims([MAX_ELEMENTS]) == (MAX_ELEMENTS,)
    with pytest.raises(NomaRuntimeError, match="tensor too large"):
        check_dims([MAX_ELEMENTS // 2, 3])
    with pytest.raises(NomaRuntimeError, match="1 to 4 dimensions"):
        check_dims([2] * 5)
    with pytest.raises(NomaRuntimeError, match="1 to 4 dimensions"):
        check_dims([])


def test_check_elements() -> None:
    """The cap on results larger than their operands (broadcasting, matmul)."""
    check_elements((MAX_ELEMENTS // 2, 2))
    check_elements(())
    with pytest.raises(NomaRuntimeError) as info:
        check_elements((100_000, 100_000))
    assert info.value.message == (
        "tensor too large: shape [100000, 100000] has 10000000000 elements (limit 2147483648)"
    )
