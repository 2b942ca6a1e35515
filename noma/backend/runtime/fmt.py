"""Printing numbers and tensors as `print` does (SPEC §8).

Numbers use C's `%.10g` (Python's `%` operator follows C here: `25`, `0.5`,
`1e-08`, `-0`, `inf`, `-inf`, `nan`). Tensors print nested with `", "`
between elements: `[[1, 2], [3, 4]]`. A 0-d array prints as a scalar.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def format_number(x: float) -> str:
    """C's `%.10g`; every NaN prints as `nan`."""
    return format(float(x), ".10g")


def format_value(v: Any) -> str:
    """The line `print(v)` writes: a string as is, a number, or a nested tensor."""
    if isinstance(v, str):
        return v
    if isinstance(v, np.ndarray):
        if v.ndim == 0:
            return format_number(v.item())
        return _format_nested(v.tolist())
    return format_number(v)


def _format_nested(items: Any) -> str:
    if isinstance(items, list):
        return "[" + ", ".join(_format_nested(x) for x in items) + "]"
    return format_number(items)
