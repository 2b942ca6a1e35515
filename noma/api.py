"""The Python API: compile a NOMA program and run it from Python or a notebook.

    import noma

    prog = noma.compile('''
    fn main() {
        learn w = 0;
        optimize(w) with sgd(0.05) until loss < 1e-6 {
            let loss = (3 * w - 6) ** 2;
            minimize loss;
        }
        return w;
    }
    ''')
    result = prog.run(seed=0)          # backend="jit" (native code) by default
    result.output                      # what the program printed: "1.9998...\\n"
    result.value                       # main's return value: 1.9998... (float or ndarray)
    result.params                      # {"w": 1.9998...}: every learnable parameter's final value

`compile` / `compile_file` parse the program, generate its IR and run the
default pipeline (`noma.passes.DEFAULT_PIPELINE`), so every compile-time
error is raised there, as `noma.CompileError`. `Program.run` runs it with
the JIT (`backend="jit"`) or the reference interpreter (`backend="interp"`);
an error while it runs is a `noma.RuntimeError` (what it printed until then
is in the error's `output`). Both carry the SPEC §11 message: `str(e)` is
the message, `e.loc` the position, `e.format()` the full report with the
source line and caret.

With the JIT the program's output (C stdio) is captured at the level of the
file descriptors 1 and 2 while it runs; its parameters and return value are
read back exactly (F64) from a safetensors file the compiled program writes
just before the entry function returns, through a `noma.io.save_safetensors`
op this module adds to the IR. That op can only see the parameters declared
at the top level of the entry function (after inlining: also those of the
functions it calls there) that are not freed anywhere; the interpreter
reports every parameter, by the last declaration of each name that is not
freed.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import tempfile
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from io import StringIO
from typing import TYPE_CHECKING, Any

import numpy as np

from noma.diagnostics import (
    CompileError,
    NomaError,
    NomaRuntimeError,
    SourceLoc,
    register_source,
)

if TYPE_CHECKING:
    from xdsl.dialects.builtin import ModuleOp

    from noma.backend.jit import CompiledProgram

__all__ = ["BACKENDS", "DEFAULT_BACKEND", "Program", "RunResult", "compile", "compile_file"]

BACKENDS = ("jit", "interp")
DEFAULT_BACKEND = "jit"
#: The key under which the entry's return value is saved (not an identifier,
#: so no parameter can have it).
RETURN_KEY = "@return"

Value = float | np.ndarray


@dataclass(frozen=True)
class RunResult:
    """What one run of a program gave."""

    #: Everything the program printed on stdout (its return value, if any, last).
    output: str
    #: The entry function's return value: a float, an ndarray, or None.
    value: Value | None
    #: Every learnable parameter's final value, by name (float for a scalar).
    params: dict[str, Value] = field(default_factory=dict)
    #: What the program wrote on stderr (warnings such as max_iterations).
    stderr: str = ""
    backend: str = DEFAULT_BACKEND
    seed: int = 0

    def __repr__(self) -> str:
        lines = self.output.count("\n")
        value = _short(self.value)
        params = ", ".join(f"{k!r}: {_short(v)}" for k, v in self.params.items())
        return (
            f"RunResult(backend={self.backend!r}, seed={self.seed}, value={value}, "
            f"params={{{params}}}, output=<{lines} line{'s' * (lines != 1)}>)"
        )


def _short(v: object) -> str:
    if isinstance(v, np.ndarray):
        return f"array{list(v.shape)}"
    return repr(v)


class Program:
    """A compiled NOMA program; `run` it as often as you like (the JIT
    compiles to native code once, on the first `run(backend="jit")`)."""

    def __init__(self, source: str, filename: str, module: ModuleOp, lowered: ModuleOp):
        self.source = source
        self.filename = filename
        self._module = module  # the frontend's IR
        self._lowered = lowered  # after DEFAULT_PIPELINE
        self._jit: _JitProgram | None = None

    def __repr__(self) -> str:
        return f"<noma.Program {self.filename}>"

    def ir(self, pipeline: str | None = None, *, generic: bool = False) -> str:
        """The IR as `nomac FILE [-p PIPELINE]` prints it: the frontend's IR,
        after the passes of `pipeline` when given (`"default"`: the default
        pipeline that `run` uses)."""
        from noma import driver

        if pipeline == "default":
            module = self._lowered
        else:
            module = self._module.clone()
            if pipeline:
                driver.run_passes(module, driver.parse_pipeline(pipeline))
        return driver.print_module(module, driver.PrintOptions(generic=generic))

    def run(self, seed: int = 0, backend: str = DEFAULT_BACKEND) -> RunResult:
        """Run the program with its RNG seeded by `seed` (SPEC §9).

        Raises `noma.RuntimeError` for an error while the program runs (its
        `output` attribute holds what was printed before), `noma.CompileError`
        for an unknown backend or one that cannot be built here."""
        register_source(self.filename, self.source)  # for the caret lines of errors
        if backend == "interp":
            return self._run_interp(seed)
        if backend == "jit":
            return self._run_jit(seed)
        raise CompileError(f"unknown backend '{backend}' (choose from {', '.join(BACKENDS)})")

    # ------------------------------------------------------------ interpreter

    def _run_interp(self, seed: int) -> RunResult:
        from noma.backend.interp import RuntimeState, run_module
        from noma.backend.runtime.rng import NomaRng

        out, err = StringIO(), StringIO()
        state = RuntimeState(rng=NomaRng(seed), stdout=out, stderr=err)
        try:
            value = run_module(self._lowered, state=state)
        except NomaRuntimeError as e:
            raise _with_output(e, out.getvalue(), err.getvalue()) from None
        params = {name: _as_value(buf.array) for name, buf in state.params.items() if not buf.freed}
        return RunResult(
            output=out.getvalue(),
            value=None if value is None else _as_value(value),
            params=params,
            stderr=err.getvalue(),
            backend="interp",
            seed=seed,
        )

    # ------------------------------------------------------------ JIT

    def _run_jit(self, seed: int) -> RunResult:
        if self._jit is None:
            try:
                self._jit = _JitProgram(self._lowered)
            except (CompileError, NomaRuntimeError):
                raise
            except NomaError as e:  # e.g. no C compiler to build the runtime with
                raise CompileError(
                    f"the JIT backend is not available here: {e.message} "
                    "(backend='interp' runs without it)",
                    e.loc,
                ) from None
        jit = self._jit
        with _captured_stdio() as captured:
            status = jit.compiled.run(seed)
        out, err = captured.stdout, captured.stderr
        if status != 0:
            error, before = _error_from_stderr(err)
            raise _with_output(error, out, before)
        saved = jit.read_results()
        value = saved.pop(RETURN_KEY, None)
        return RunResult(
            output=out, value=value, params=saved, stderr=err, backend="jit", seed=seed
        )


def _as_value(v: Any) -> Value:
    """A float for a scalar (or a 0-d array), else a float64 ndarray (a copy)."""
    if isinstance(v, np.ndarray):
        return float(v) if v.ndim == 0 else np.array(v, dtype=np.float64, copy=True)
    return float(v)


def _with_output(e: NomaRuntimeError, output: str, stderr: str) -> NomaRuntimeError:
    e.output = output
    e.stderr = stderr
    return e


# ------------------------------------------------------------------ compiling


def compile(source: str, *, filename: str = "<string>") -> Program:
    """Compile NOMA source text (or MLIR text, when `filename` ends in `.mlir`).

    Runs the frontend and the default pipeline; raises `noma.CompileError`."""
    kind = "mlir" if filename.endswith(".mlir") else "noma"
    return _compile(source, filename, kind)


def compile_file(path: str | os.PathLike[str]) -> Program:
    """Compile a `.noma` (or `.mlir`) file; raises `noma.CompileError`."""
    from noma import driver

    src = driver.read_source(os.fspath(path))
    return _compile(src.text, src.name, src.kind)


def _compile(text: str, filename: str, kind: str) -> Program:
    from noma import driver

    ctx = driver.make_driver_context()
    module = driver.parse_source(driver.Source(filename, text, kind), ctx)
    lowered = module.clone()
    driver.run_passes(lowered, driver.default_pipeline(), ctx=ctx, verify_each=False)
    driver.verify_module(lowered, "the IR after the default pipeline")
    return Program(text, filename, module, lowered)


# ------------------------------------------------------------------ the JIT backend


class _JitProgram:
    """The program compiled to native code once, with the results dump added."""

    def __init__(self, lowered: ModuleOp):
        from noma.backend.jit import compile_jit

        self.folder = tempfile.mkdtemp(prefix="noma-run-")
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.folder, ignore_errors=True)
        self.results_path = os.path.join(self.folder, "results.safetensors")
        module = lowered.clone()
        self.dumps = add_results_dump(module, self.results_path)
        self.compiled: CompiledProgram = compile_jit(module)

    def read_results(self) -> dict[str, Value]:
        if not self.dumps:
            return {}
        from noma.backend.runtime.safetensors_io import read_safetensors

        tensors = read_safetensors(self.results_path)
        os.remove(self.results_path)
        return {k: _as_value(v) for k, v in tensors.items()}


def add_results_dump(module: ModuleOp, path: str) -> bool:
    """Save the entry's final parameters and return value to `path` just
    before it returns (one `noma.io.save_safetensors`, keys: the parameter
    names and `RETURN_KEY`). Returns False when there is nothing to save.

    Parameters qualify when declared at the top level of the entry function
    and freed nowhere; for a name declared twice the later one wins."""
    from xdsl.dialects import func

    from noma.backend.interp import entry_function
    from noma.dialects import io, mem, train

    entry = entry_function(module)
    block = entry.body.blocks.first
    ret = block.last_op if block is not None else None
    if block is None or not isinstance(ret, func.ReturnOp):
        return False
    freed = {op.buffer for op in module.walk() if isinstance(op, mem.FreeOp)}
    params = {
        op.sym_name.data: op.result
        for op in block.ops
        if isinstance(op, train.ParamOp) and op.result not in freed
    }
    new_ops = [mem.LoadOp(buf) for buf in params.values()]
    entries: list[tuple[str, Any]] = list(zip(params, new_ops, strict=True))
    if ret.arguments:
        entries.append((RETURN_KEY, ret.arguments[0]))
    if not entries:
        return False
    block.insert_ops_before([*new_ops, io.SaveSafetensorsOp(entries, path)], ret)
    return True


#: `error: MSG at FILE:LINE:COL`: the last ` at ` starts the position (MSG may contain one).
_ERROR_LINE = re.compile(r"^error: (?P<msg>.*) at (?P<file>.+):(?P<line>\d+):(?P<col>\d+)$")


def _error_from_stderr(stderr: str) -> tuple[NomaRuntimeError, str]:
    """The runtime's report (`error: MSG at FILE:LINE:COL`, the source line
    and a caret: SPEC §11) as a `NomaRuntimeError`, and what the program
    wrote on stderr before it."""
    lines = stderr.split("\n")
    starts = [i for i, line in enumerate(lines) if line.startswith("error: ")]
    if not starts:
        error = NomaRuntimeError("the program failed (the runtime reported no error message)")
        return error, stderr
    first = lines[starts[-1]]
    before = "".join(line + "\n" for line in lines[: starts[-1]])
    m = _ERROR_LINE.match(first)
    if m is None:
        return NomaRuntimeError(first.removeprefix("error: ")), before
    loc = SourceLoc(m["file"], int(m["line"]), int(m["col"]))
    return NomaRuntimeError(m["msg"], loc), before


@dataclass
class _Captured:
    stdout: str = ""
    stderr: str = ""


@contextlib.contextmanager
def _captured_stdio() -> Iterator[_Captured]:
    """Capture what native code writes on the file descriptors 1 and 2."""
    captured = _Captured()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stream.flush()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        saved = [os.dup(1), os.dup(2)]
        try:
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            yield captured
        finally:
            _flush_c_stdio()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            captured.stdout = _read_back(out)
            captured.stderr = _read_back(err)


def _read_back(f: Any) -> str:
    f.seek(0)
    return f.read().decode("utf-8", errors="replace")


def _flush_c_stdio() -> None:
    import ctypes

    ctypes.CDLL(None).fflush(None)
