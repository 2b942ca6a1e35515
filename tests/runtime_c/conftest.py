"""Fixtures of the native runtime tests."""

from __future__ import annotations

import pytest
from crt_binding import Runtime, load_runtime


@pytest.fixture(scope="session")
def rt() -> Runtime:
    """The runtime's shared library (built on first use), typed for ctypes."""
    return load_runtime()
