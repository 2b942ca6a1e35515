"""Every case of the shared conformance suite (../shared/conformance), run with
`python -m noma.cli run --backend interp` by the suite's own `run_case`."""

from __future__ import annotations

import importlib.util
import os
import shlex
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFORMANCE = ROOT.parent / "shared" / "conformance"
RUNNER = CONFORMANCE / "run_conformance.py"

if not RUNNER.is_file():
    pytest.skip(
        f"conformance suite not found at {CONFORMANCE} (../shared beside the repo)",
        allow_module_level=True,
    )

CMD = shlex.join([sys.executable, "-m", "noma.cli", "run", "--backend", "interp"])
TIMEOUT = 60.0

#: Cases that need features not built yet: name -> reason. Strict: a case that
#: starts passing fails the run until its line is removed here.
XFAIL: dict[str, str] = {}


def _load_runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("noma_conformance_runner", RUNNER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CASES = sorted(p.stem for p in CONFORMANCE.glob("*.noma") if p.with_suffix(".expected").exists())


def _case(name: str) -> object:
    marks = [pytest.mark.xfail(reason=XFAIL[name], strict=True)] if name in XFAIL else []
    return pytest.param(name, marks=marks, id=name)


@pytest.fixture(scope="module")
def runner() -> ModuleType:
    return _load_runner()


@pytest.fixture(autouse=True)
def _importable_noma(monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m noma.cli` finds this checkout even when it is not pip-installed."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    monkeypatch.setenv("PYTHONPATH", path)


@pytest.mark.parametrize("name", [_case(n) for n in CASES])
def test_conformance(runner: ModuleType, name: str) -> None:
    why = runner.run_case(CMD, str(CONFORMANCE), name, TIMEOUT)
    assert why is None, f"{name}: {why}"


def test_xfail_list_names_real_cases() -> None:
    assert CASES, f"no cases found in {CONFORMANCE}"
    assert not set(XFAIL) - set(CASES), "XFAIL names cases that do not exist"
