"""The reference interpreter: NOMA IR at any stage, run with numpy.

It runs the high-level IR the frontend emits (`func`, `arith`, `scf` and the
`noma.tensor` / `noma.mem` / `noma.train` / `noma.io` dialects) through
`xdsl.interpreter`, one `InterpreterFunctions` class per dialect:

- `interp_tensor.py`  pure tensor math (broadcasting, reductions, indexing, RNG);
- `interp_mem.py`     mutable buffers (alloc, load/store, realloc, free);
- `interp_train.py`   parameters, the optimize loop protocol, abstract updates;
- `interp_io.py`      print, CSV and safetensors;
- `interp_lowered.py` the run-time checks `noma-lower-train` leaves as ops;
- `interp_upstream.py` arith additions for f64 (upstream func/scf/cf reused).

Run-time values and interpreter state are described in `interp_state.py`.
User errors are `NomaRuntimeError`s carrying the failing op's source
location; NaN and infinities are values, never errors.
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass
from typing import TextIO

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.interpreter import Interpreter, OpImplResult, PythonValues
from xdsl.interpreters.cf import CfFunctions
from xdsl.interpreters.func import FuncFunctions
from xdsl.interpreters.scf import ScfFunctions
from xdsl.ir import Operation
from xdsl.utils.exceptions import InterpretationError

from noma.backend.interp_io import NomaIOFunctions
from noma.backend.interp_lowered import LoweredTrainFunctions
from noma.backend.interp_mem import NomaMemFunctions
from noma.backend.interp_state import Archive, Buffer, RuntimeState
from noma.backend.interp_tensor import NomaTensorFunctions
from noma.backend.interp_train import NomaTrainFunctions
from noma.backend.interp_upstream import NomaArithFunctions
from noma.backend.interp_values import loc_of
from noma.backend.runtime.fmt import format_value
from noma.backend.runtime.rng import NomaRng
from noma.backend.train_monitor import TrainingMonitor
from noma.diagnostics import NomaRuntimeError

__all__ = [
    "Archive",
    "Buffer",
    "NomaInterpreter",
    "RuntimeState",
    "entry_function",
    "make_interpreter",
    "run_function",
    "run_module",
]

ENTRY_ATTR = "noma.entry"


@dataclass
class NomaInterpreter(Interpreter):
    """An xDSL interpreter whose op errors carry NOMA source locations.

    Unlike the base class it does not print the whole module into an
    exception note when an op fails: a `NomaRuntimeError` without a location
    gets the failing op's location, and a `MemoryError` becomes a
    `NomaRuntimeError`."""

    def _run_op(self, op: Operation, inputs: PythonValues) -> OpImplResult:
        entry = self._impls._impl_dict.get(type(op))  # pyright: ignore[reportPrivateUsage]
        if entry is None:
            raise InterpretationError(f"the interpreter has no implementation of {op.name}")
        ft, fn = entry
        for listener in self.listeners:
            listener.will_interpret_op(op, inputs)
        try:
            result = fn(ft, self, op, inputs)
        except NomaRuntimeError as e:
            if e.loc is None:
                e.loc = loc_of(op)
            raise
        except MemoryError:
            raise NomaRuntimeError("out of memory", loc_of(op)) from None
        for listener in self.listeners:
            listener.did_interpret_op(op, result.values)
        return result


def make_interpreter(module: ModuleOp, state: RuntimeState) -> NomaInterpreter:
    """An interpreter for `module` with every implementation registered."""
    interp = NomaInterpreter(module)
    for functions in (FuncFunctions(), ScfFunctions(), CfFunctions(), NomaArithFunctions()):
        interp.register_implementations(functions)
    for cls in (
        NomaTensorFunctions,
        NomaMemFunctions,
        NomaTrainFunctions,
        NomaIOFunctions,
        LoweredTrainFunctions,
    ):
        interp.register_implementations(cls(state=state))
    return interp


def entry_function(module: ModuleOp) -> func.FuncOp:
    """The function a run starts at: the module's `noma.entry` attribute,
    else `main`, else the first function."""
    funcs = [op for op in module.ops if isinstance(op, func.FuncOp)]
    wanted = module.attributes.get(ENTRY_ATTR)
    names = [wanted.data] if isinstance(wanted, StringAttr) else []
    for name in [*names, "main"]:
        for f in funcs:
            if f.sym_name.data == name:
                return f
    if not funcs:
        raise NomaRuntimeError("the program has no function to run")
    return funcs[0]


def run_function(
    module: ModuleOp,
    function: str | func.FuncOp,
    args: PythonValues = (),
    *,
    state: RuntimeState | None = None,
) -> PythonValues:
    """Call one function of `module` and return its results (nothing printed
    besides what the program prints)."""
    state = state or RuntimeState()
    interp = make_interpreter(module, state)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            return interp.call_op(function, args)
        except RecursionError:
            raise NomaRuntimeError("calls nested too deeply (a recursive function?)") from None


def run_module(
    module: ModuleOp,
    *,
    seed: int = 0,
    stdout: TextIO = sys.stdout,
    stderr: TextIO = sys.stderr,
    state: RuntimeState | None = None,
    monitor: TrainingMonitor | None = None,
) -> object:
    """Run the program's entry function; print its return value (if any) last.

    Returns the entry's return value (a float or an ndarray) or None. User
    errors raise `NomaRuntimeError` with the source location of the op.
    A caller that wants to look at the run afterwards (e.g. the final
    parameters in `state.params`) passes its own `state`; `seed`, `stdout`
    and `stderr` are then ignored in favour of the state's. `monitor` (if
    any) sees every optimize loop and objective (`--loss-log`, `--progress`)
    and is closed when the run ends, also by an error."""
    entry = entry_function(module)
    if entry.body.blocks.first is None or entry.function_type.inputs.data:
        raise NomaRuntimeError(
            f"the entry function '{entry.sym_name.data}' must have a body and no arguments"
        )
    if state is None:
        state = RuntimeState(rng=NomaRng(seed), stdout=stdout, stderr=stderr)
    if monitor is not None:
        state.monitor = monitor
    try:
        results = run_function(module, entry, (), state=state)
    finally:
        if state.monitor is not None:
            state.monitor.close()
    value = results[0] if results else None
    if value is not None:
        state.stdout.write(format_value(value) + "\n")
    return value
