"""Interpreter implementations of the `noma.mem` ops: mutable buffers.

`load` returns a copy (values are immutable), `store` replaces contents and
dimensions (the rank must match), `realloc` resizes in place (preserved
leading corner, SPEC §7) and migrates the optimizer state the interpreter
keeps for the abstract `noma.train.update`. Any use of a freed buffer is
the run-time error "use of freed variable".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from xdsl.interpreter import Interpreter, InterpreterFunctions, PythonValues, impl, register_impls

from noma.backend.interp_state import Buffer, RuntimeState
from noma.backend.interp_values import (
    check_axis,
    element_indices,
    fmt_shape,
    store_into,
    to_result,
)
from noma.backend.runtime.resize import check_dims, resize_array
from noma.diagnostics import NomaRuntimeError
from noma.dialects import mem as M


def _variable(buf: Buffer) -> str:
    return f"variable '{buf.name}'" if buf.name else "a variable"


def store(buf: Buffer, value: object) -> None:
    """Replace the contents (and dimensions) of `buf` by `value`; same rank."""
    old = buf.live()
    new = np.array(value, dtype=np.float64, copy=True)
    if new.ndim != old.ndim:
        raise NomaRuntimeError(
            f"cannot store a value of shape {fmt_shape(new.shape)} into {_variable(buf)} "
            f"of rank {old.ndim}"
        )
    buf.array = new


@register_impls
@dataclass
class NomaMemFunctions(InterpreterFunctions):
    """`noma.mem` ops; `state` gives the RNG and the optimizer state to migrate."""

    state: RuntimeState = field(default_factory=RuntimeState)

    @impl(M.AllocOp)
    def run_alloc(self, interp: Interpreter, op: M.AllocOp, args: PythonValues) -> PythonValues:
        shape = check_dims(args) if args else ()
        return (Buffer(np.zeros(shape)),)

    @impl(M.LoadOp)
    def run_load(self, interp: Interpreter, op: M.LoadOp, args: PythonValues) -> PythonValues:
        (buf,) = args
        return (to_result(buf.live().copy(), op.result.type),)

    @impl(M.StoreOp)
    def run_store(self, interp: Interpreter, op: M.StoreOp, args: PythonValues) -> PythonValues:
        value, buf = args
        store(buf, value)
        return ()

    @impl(M.StoreElementOp)
    def run_store_element(
        self, interp: Interpreter, op: M.StoreElementOp, args: PythonValues
    ) -> PythonValues:
        value, buf, *indices = args
        arr = buf.live()
        store_into(arr, element_indices(arr.shape, indices), value)
        return ()

    @impl(M.ReallocOp)
    def run_realloc(self, interp: Interpreter, op: M.ReallocOp, args: PythonValues) -> PythonValues:
        n = len(op.dims)
        buf, dims, pargs = args[0], args[1 : 1 + n], args[1 + n :]
        buf.array = resize_array(buf.live(), dims, op.policy.data, pargs, self.state.rng)
        self.state.after_realloc(buf)
        return ()

    @impl(M.FreeOp)
    def run_free(self, interp: Interpreter, op: M.FreeOp, args: PythonValues) -> PythonValues:
        (buf,) = args
        buf.live()
        buf.freed = True
        buf.array = np.zeros(())
        self.state.forget(buf)
        return ()

    @impl(M.DimOp)
    def run_dim(self, interp: Interpreter, op: M.DimOp, args: PythonValues) -> PythonValues:
        shape = args[0].live().shape
        return (float(shape[check_axis(op.axis.value.data, len(shape))]),)
