"""Shared fixtures for the runtime tests."""

from __future__ import annotations

from pathlib import Path

import pytest

# the shared folder sits beside the repository: <repo>/../shared
SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CONFORMANCE = SHARED / "conformance"


@pytest.fixture
def conformance() -> Path:
    """The conformance folder, or skip when ../shared is not beside the repo."""
    if not CONFORMANCE.is_dir():
        pytest.skip(f"conformance suite not found at {CONFORMANCE} (../shared beside the repo)")
    return CONFORMANCE
