"""Fuzzing the passes with small generated valid programs (program_gen.py).

Each program is compiled by the frontend, then taken through the passes of
`DEFAULT_PIPELINE` one at a time (plus `noma-shape-inference` after
inlining), then through the passes the native backends run next
(`llvm_emit.NATIVE_PIPELINE` up to `noma-to-llvm`: `noma-lower-train`,
`noma-fuse-elementwise`, ...). After every pass the module must verify, and the reference
interpreter, which runs IR of every stage (abstract `noma.train.update`s
before expansion, the expanded optimizer math after), must print the same
output and end the same way (success, or the same run-time error) as on the
frontend's IR. The one exception is `noma-autodiff` on a program that
trains: before it, an optimize loop has no update to apply (the interpreter
trains nothing), so the IR after autodiff becomes the reference for the
later passes. And between `noma-expand-optimizers` and
`noma-migrate-realloc-state` a program that reallocates a trained
parameter is half-way (its state buffers keep the old shape), so the
comparison waits for the second of the two.

CI runs a few dozen programs; NOMA_FUZZ_EXAMPLES=N runs N.
"""

from __future__ import annotations

import contextlib
import math
import re
from io import StringIO
from pathlib import Path

import pytest
from hardening_support import Hang, examples, time_limit
from hypothesis import HealthCheck, given, settings
from program_gen import programs

from noma import driver
from noma.backend.interp import run_module
from noma.backend.llvm_emit import NATIVE_PIPELINE
from noma.diagnostics import CompileError, NomaError
from noma.dialects.mem import FreeOp, ReallocOp
from noma.dialects.train import OptimizeOp
from noma.frontend.irgen import generate
from noma.frontend.parser import parse_program
from noma.passes import DEFAULT_PIPELINE

#: The native pipeline's passes the interpreter can still run (all but the
#: conversion to the llvm dialect and what follows it).
NATIVE_STAGES = NATIVE_PIPELINE[: NATIVE_PIPELINE.index("noma-to-llvm")]
STAGES = (
    DEFAULT_PIPELINE[0],
    "noma-shape-inference",
    *DEFAULT_PIPELINE[1:],
    *NATIVE_STAGES,
)
RUN_LIMIT_S = 60.0

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|inf|nan)", re.IGNORECASE)


def test_stages_cover_the_default_pipeline() -> None:
    assert set(DEFAULT_PIPELINE) <= set(STAGES)
    assert [s for s in STAGES if s in DEFAULT_PIPELINE] == list(DEFAULT_PIPELINE)
    assert {"noma-lower-train", "noma-fuse-elementwise"} <= set(STAGES)
    assert STAGES[-len(NATIVE_STAGES) :] == NATIVE_STAGES


def interpret(module: object) -> tuple[str, str, str]:
    """(stdout, stderr, error report or "") of running the module."""
    out, err = StringIO(), StringIO()
    try:
        with time_limit(RUN_LIMIT_S):
            run_module(module, seed=7, stdout=out, stderr=err)  # type: ignore[arg-type]
    except NomaError as e:
        return out.getvalue(), err.getvalue(), e.format()
    except Hang:
        pytest.fail(f"the program ran longer than {RUN_LIMIT_S} s")
    return out.getvalue(), err.getvalue(), ""


def same_text(a: str, b: str) -> bool:
    """Equal, except that numbers may differ in the last digits (the expanded
    optimizer math may round differently from the interpreter's own update)."""
    if a == b:
        return True
    pa, pb = _NUMBER.split(a), _NUMBER.split(b)
    na, nb = _NUMBER.findall(a), _NUMBER.findall(b)
    if pa != pb or len(na) != len(nb):
        return False
    return all(_close(float(x), float(y)) for x, y in zip(na, nb, strict=True))


def _close(x: float, y: float) -> bool:
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return math.isclose(x, y, rel_tol=1e-7, abs_tol=1e-9)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Programs write tmp_gen_*.csv files: run them in a folder of their own."""
    return tmp_path_factory.mktemp("pass-fuzz")


@settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(src=programs())
def test_every_pass_keeps_ir_valid_and_meaning(workdir: Path, src: str) -> None:
    with contextlib.chdir(workdir):
        try:
            module = generate(parse_program(src, "gen.noma"))
        except CompileError as e:  # the generator makes valid programs only
            pytest.fail(f"a generated program does not compile:\n{e.format()}\n{src}")
        driver.verify_module(module, "the frontend's IR")
        before = interpret(module)
        trains = any(isinstance(op, OptimizeOp) for op in module.walk())
        resizes = any(isinstance(op, ReallocOp | FreeOp) for op in module.walk())
        ctx = driver.make_driver_context()
        for stage in STAGES:
            (p,) = driver.parse_pipeline(stage)
            driver.run_passes(module, [p], ctx=ctx, verify_each=True)
            after = interpret(module)
            if stage == "noma-autodiff" and trains:
                # Before autodiff an optimize loop has no update to run: the
                # interpreter trains nothing. From here on, the trained result
                # is the reference.
                before = after
                continue
            if stage == "noma-expand-optimizers" and resizes:
                # The expanded state buffers follow a realloc of their parameter
                # only once noma-migrate-realloc-state (the next pass) has run.
                continue
            for what, x, y in zip(("stdout", "stderr", "error"), before, after, strict=True):
                assert same_text(x, y), (
                    f"after {stage}, {what} differs:\n--- before\n{x}\n--- after\n{y}\n"
                    f"--- program\n{src}"
                )
