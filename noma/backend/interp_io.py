"""Interpreter implementations of the `noma.io` ops: printing and files.

Printing goes to the run's stdout as it happens, one line per `print`
(`runtime.fmt.format_value`). File errors come from the runtime library and
get the op's location from the interpreter. A tensor read from a
safetensors file must be a NOMA value: rank 0 to 4, no empty dimension.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from xdsl.interpreter import Interpreter, InterpreterFunctions, PythonValues, impl, register_impls

from noma.backend.interp_state import Archive, RuntimeState
from noma.backend.interp_values import fmt_shape
from noma.backend.runtime.csvio import read_csv, write_csv
from noma.backend.runtime.fmt import format_value
from noma.backend.runtime.safetensors_io import first_key, read_safetensors, write_safetensors
from noma.diagnostics import NomaRuntimeError
from noma.dialects import io as IO


def archive_get(archive: Archive, key: str | None) -> np.ndarray:
    """The tensor under `key` (the first key when None), checked to be a NOMA value."""
    if not archive:
        raise NomaRuntimeError(f"safetensors file '{archive.path}' has no tensors")
    name = first_key(archive) if key is None else key
    if name not in archive:
        raise NomaRuntimeError(f"no tensor '{name}' in safetensors file '{archive.path}'")
    arr = np.asarray(archive[name], dtype=np.float64)
    if arr.ndim > 4 or 0 in arr.shape:
        raise NomaRuntimeError(
            f"tensor '{name}' in '{archive.path}' has shape {fmt_shape(arr.shape)}; "
            "NOMA tensors have rank 0 to 4 and no empty dimension"
        )
    return arr


@register_impls
@dataclass
class NomaIOFunctions(InterpreterFunctions):
    """`noma.io` ops; `state` gives the output streams."""

    state: RuntimeState = field(default_factory=RuntimeState)

    def _line(self, text: str) -> None:
        self.state.stdout.write(text + "\n")

    @impl(IO.PrintOp)
    def run_print(self, interp: Interpreter, op: IO.PrintOp, args: PythonValues) -> PythonValues:
        self._line(format_value(args[0]))
        return ()

    @impl(IO.PrintStrOp)
    def run_print_str(
        self, interp: Interpreter, op: IO.PrintStrOp, args: PythonValues
    ) -> PythonValues:
        self._line(op.text.data)
        return ()

    @impl(IO.LoadCsvOp)
    def run_load_csv(
        self, interp: Interpreter, op: IO.LoadCsvOp, args: PythonValues
    ) -> PythonValues:
        return (read_csv(op.path.data),)

    @impl(IO.SaveCsvOp)
    def run_save_csv(
        self, interp: Interpreter, op: IO.SaveCsvOp, args: PythonValues
    ) -> PythonValues:
        write_csv(op.path.data, args[0])
        return ()

    @impl(IO.LoadSafetensorsOp)
    def run_load_safetensors(
        self, interp: Interpreter, op: IO.LoadSafetensorsOp, args: PythonValues
    ) -> PythonValues:
        path = op.path.data
        return (Archive(path, read_safetensors(path)),)

    @impl(IO.GetOp)
    def run_get(self, interp: Interpreter, op: IO.GetOp, args: PythonValues) -> PythonValues:
        key = None if op.key is None else op.key.data
        return (archive_get(args[0], key),)

    @impl(IO.SaveSafetensorsOp)
    def run_save_safetensors(
        self, interp: Interpreter, op: IO.SaveSafetensorsOp, args: PythonValues
    ) -> PythonValues:
        keys = [k.data for k in op.keys]
        write_safetensors(op.path.data, dict(zip(keys, args, strict=True)))
        return ()
