"""NOMA: a compiler for a small machine-learning language.

The Python API (see `noma.api` and docs/python-api.md):

    prog = noma.compile(source)            # or noma.compile_file("prog.noma")
    result = prog.run(seed=0)              # .output, .value, .params

Errors are `noma.CompileError` and `noma.RuntimeError` (both `noma.NomaError`),
carrying the SPEC §11 message. Importing `noma` is cheap: the compiler (xDSL,
llvmlite) is imported on first use, so that `nomac` starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from noma.diagnostics import CompileError, NomaError
from noma.diagnostics import NomaRuntimeError as RuntimeError

if TYPE_CHECKING:
    from noma.api import Program, RunResult, compile, compile_file

__all__ = [
    "CompileError",
    "NomaError",
    "Program",
    "RunResult",
    "RuntimeError",
    "compile",
    "compile_file",
]

_API_NAMES = frozenset({"Program", "RunResult", "compile", "compile_file"})


def __getattr__(name: str) -> Any:
    if name in _API_NAMES:
        from noma import api

        return getattr(api, name)
    raise AttributeError(f"module 'noma' has no attribute '{name}'")
