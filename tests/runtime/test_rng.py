"""noma-rng: check values (bench README), seed semantics, conformance values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from noma.backend.runtime import NomaRng, check_dims, format_number, format_value
from noma.diagnostics import NomaRuntimeError


def test_check_values_seed_0() -> None:
    r = NomaRng()
    assert [r.next_u64() for _ in range(3)] == [
        0xE220A8397B1DCDAF,
        0x6E789E6AA1B965F4,
        0x06C45D188009454F,
    ]
    r = NomaRng(0)
    assert r.uniform() == 0.8833108082136426
    assert r.uniform() == 0.43152799704850997
    assert NomaRng(0).normal(0, 1) == -1.8839083333524405


def test_seed_wraps_and_truncates() -> None:
    r = NomaRng()
    r.seed(-1)
    assert r.state == 2**64 - 1
    assert format_number(r.uniform()) == "0.8939429203"  # seed_semantics.expected
    r.seed(2.7)
    assert r.state == 2
    r.seed(-2.7)
    assert r.state == 2**64 - 2
    r.seed(2**64 + 3)
    assert r.state == 3


def test_seed_rejects_non_finite() -> None:
    with pytest.raises(NomaRuntimeError, match="finite"):
        NomaRng().seed(float("nan"))


def test_rng_scalars_expected() -> None:
    r = NomaRng(0)
    got = [r.uniform(), r.uniform()]
    r.seed(42)
    got += [r.uniform(), r.uniform_range(-1, 1), r.normal(0, 1), r.normal(5, 0.1)]
    r.seed(42)
    got.append(r.uniform())
    assert [format_number(x) for x in got] == [
        "0.8833108082",
        "0.431527997",
        "0.7415648788",
        "-0.6801792142",
        "-0.4508498757",
        "5.018835263",
        "0.7415648788",
    ]


def test_rng_tensors_expected() -> None:
    """rng_tensors.expected (seed 2024): fill order and the init formulas."""
    r = NomaRng(2024)
    a = math.sqrt(6 / (3 + 5))
    lines = [
        format_value(r.uniform_array((2, 3))),
        format_value(r.normal_array((2, 2), 1, 0.5)),
        format_value(r.uniform_array((2, 2), -a, a)),
        format_value(r.normal_array((3,), 0, math.sqrt(2 / 8))),
        format_value(r.uniform_array(check_dims([2.9]))),
    ]
    assert lines == [
        "[[0.6227655366, 0.09723190849, 0.2985761611], [0.1161867307, 0.8305779336, 0.5524212973]]",
        "[[0.7770243032, 0.7274570214], [1.289160044, 0.4910513552]]",
        "[[-0.6139177395, 0.3269670442], [0.8517350665, -0.2788058837]]",
        "[-0.8577251806, -0.3087929165, -0.367538232]",
        "[0.740919071, 0.9126123331]",
    ]


@pytest.mark.parametrize("seed", [0, 1, 2**64 - 1, 0x9E3779B97F4A7C15, 12345])
def test_bulk_draws_equal_scalar_draws(seed: int) -> None:
    bulk, one = NomaRng(seed), NomaRng(seed)
    assert bulk.uniforms(300).tolist() == [one.uniform() for _ in range(300)]
    assert bulk.normal_values(50, 2.0, 3.0).tolist() == [one.normal(2.0, 3.0) for _ in range(50)]
    vals = bulk.uniform_values(7, -1.5, 4.0).tolist()
    assert vals == [one.uniform_range(-1.5, 4.0) for _ in range(7)]
    assert bulk.state == one.state


def test_arrays_are_row_major_float64() -> None:
    arr = NomaRng(9).normal_array((2, 3, 2), 0.0, 1.0)
    flat = NomaRng(9).normal_values(12, 0.0, 1.0)
    assert arr.dtype == np.float64 and arr.shape == (2, 3, 2)
    assert arr.ravel().tolist() == flat.tolist()


def test_uniform_in_unit_interval() -> None:
    u = NomaRng(3).uniforms(10_000)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.02
