"""print formatting: C's %.10g and nested tensors (SPEC §8)."""

from __future__ import annotations

import numpy as np
import pytest

from noma.backend.runtime import format_number, format_value


@pytest.mark.parametrize(
    ("x", "text"),
    [
        (25.0, "25"),
        (0.5, "0.5"),
        (1 / 3, "0.3333333333"),
        (2 / 3, "0.6666666667"),
        (1e-8, "1e-08"),
        (123456789012.0, "1.23456789e+11"),
        (1e20, "1e+20"),
        (-0.000012345, "-1.2345e-05"),
        (100000.0, "100000"),
        (1234567890.0, "1234567890"),
        (12345678901.0, "1.23456789e+10"),
        (-0.0, "-0"),
        (0.0, "0"),
        (float("inf"), "inf"),
        (float("-inf"), "-inf"),
        (float("nan"), "nan"),
        (np.float64(2.5), "2.5"),
        (3, "3"),
    ],
)
def test_format_number(x: float, text: str) -> None:
    assert format_number(x) == text


def test_format_tensors() -> None:
    assert format_value(np.array([1, 2.5, -3])) == "[1, 2.5, -3]"
    assert format_value(np.array([[1.0, 2], [3, 4]])) == "[[1, 2], [3, 4]]"
    assert format_value(np.array([[0.1, 1 / 3]])) == "[[0.1, 0.3333333333]]"
    assert format_value(np.ones((1, 2, 1))) == "[[[1], [1]]]"
    assert format_value(np.array(7.25)) == "7.25"
    assert format_value(0.125) == "0.125"
    assert format_value("two\nlines") == "two\nlines"


def test_print_formats_expected(conformance) -> None:
    """Every numeric line of print_formats.expected, from the program's values."""
    values = [25, 0.5, 1 / 3, 2 / 3, 1e-8, 123456789012, 1e20, -0.000012345]
    values += [100000, 1234567890, 12345678901]
    tensors = [np.array([1, 2.5, -3]), np.array([[1, 2], [3, 4]]), np.array([[0.1, 1 / 3]])]
    lines = (conformance / "print_formats.expected").read_text().splitlines()
    assert [format_value(float(v)) for v in values] == lines[:11]
    assert [format_value(t.astype(float)) for t in tensors] == lines[-3:]
