"""Comparing a program's output with an expected output, line by line.

The rule of the shared conformance suite (../shared/conformance/README.md,
`line_matches` in run_conformance.py), restated here so that the tests work
without ../shared: a line that parses as numbers (a scalar such as
`0.3333333333`, `1e-08`, `-4`, `nan`, or a nested tensor `[[1, 2], [3, 4.5]]`)
matches an actual line with the same structure whose numbers are within
`math.isclose(actual, expected, rel_tol=1e-6, abs_tol=1e-9)` (NaN matches
NaN, infinities match themselves); any other line must be equal.
"""

from __future__ import annotations

import math

REL_TOL = 1e-6
ABS_TOL = 1e-9

Numeric = float | list["Numeric"]


class NotNumeric(ValueError):
    """The line is not a number or a nested list of numbers."""


def parse_numeric(line: str) -> Numeric:
    """A scalar or a nested `[...]` list of numbers; `NotNumeric` otherwise."""
    text = line.strip()
    if not text:
        raise NotNumeric(line)
    value, pos = _value(text, 0)
    if _skip_spaces(text, pos) != len(text):
        raise NotNumeric(line)
    return value


def _skip_spaces(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t":
        pos += 1
    return pos


def _value(text: str, pos: int) -> tuple[Numeric, int]:
    pos = _skip_spaces(text, pos)
    if pos < len(text) and text[pos] == "[":
        return _list(text, pos + 1)
    start = pos
    while pos < len(text) and text[pos] not in ",] \t[":
        pos += 1
    token = text[start:pos]
    if not token or "_" in token:
        raise NotNumeric(text)
    try:
        return float(token), pos
    except ValueError:
        raise NotNumeric(text) from None


def _list(text: str, pos: int) -> tuple[Numeric, int]:
    items: list[Numeric] = []
    pos = _skip_spaces(text, pos)
    if pos < len(text) and text[pos] == "]":
        return items, pos + 1
    while True:
        item, pos = _value(text, pos)
        items.append(item)
        pos = _skip_spaces(text, pos)
        if pos < len(text) and text[pos] == ",":
            pos += 1
        elif pos < len(text) and text[pos] == "]":
            return items, pos + 1
        else:
            raise NotNumeric(text)


def numbers_close(actual: Numeric, expected: Numeric) -> bool:
    if isinstance(actual, list) or isinstance(expected, list):
        if not (isinstance(actual, list) and isinstance(expected, list)):
            return False
        return len(actual) == len(expected) and all(
            numbers_close(a, e) for a, e in zip(actual, expected, strict=True)
        )
    if math.isnan(expected) or math.isnan(actual):
        return math.isnan(expected) and math.isnan(actual)
    if math.isinf(expected) or math.isinf(actual):
        return actual == expected
    return math.isclose(actual, expected, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def line_matches(actual: str, expected: str) -> bool:
    """Does the actual output line match the expected one (rule above)?"""
    try:
        want = parse_numeric(expected)
    except NotNumeric:
        return actual == expected
    try:
        got = parse_numeric(actual)
    except NotNumeric:
        return False
    return numbers_close(got, want)


def mismatches(actual: str, expected: str) -> list[str]:
    """Human-readable differences between two outputs (empty: they match)."""
    got, want = actual.splitlines(), expected.splitlines()
    problems = [
        f"line {i}: got {a!r}, expected {e!r}"
        for i, (a, e) in enumerate(zip(got, want, strict=False), start=1)
        if not line_matches(a, e)
    ]
    if len(got) != len(want):
        problems.append(f"{len(got)} lines of output, expected {len(want)}")
    return problems
