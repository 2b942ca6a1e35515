"""Interpreter implementations of the ops `noma-lower-train` introduces.

After lowering, a training loop is an `scf.while` (run by xDSL's
`ScfFunctions`) with two run-time checks left as ops:

- `noma.train.check_objective %loss, %iteration`: a NaN or infinite loss
  raises `NomaRuntimeError("objective is NaN/infinite at iteration K of the
  optimize loop")` at the op's location (the optimize loop's);
- `noma.train.warn_max_iterations %count`: writes `warning: optimize loop at
  FILE:LINE:COL reached max_iterations (N)` to the run's stderr;
- `noma.train.end_loop` (after the loop): ends the progress line, if any.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from xdsl.interpreter import (
    Interpreter,
    InterpreterFunctions,
    PythonValues,
    impl,
    register_impls,
)

from noma.backend.interp_state import RuntimeState
from noma.backend.interp_values import loc_of
from noma.diagnostics import NomaRuntimeError
from noma.dialects import train as TR


def format_count(x: float) -> str:
    """An iteration count as the messages print it (`12`, not `12.0`)."""
    return str(int(x)) if math.isfinite(x) else f"{x:.10g}"


@register_impls
@dataclass
class LoweredTrainFunctions(InterpreterFunctions):
    """`noma.train.check_objective`, `noma.train.warn_max_iterations` and
    `noma.train.end_loop`."""

    state: RuntimeState = field(default_factory=RuntimeState)

    @impl(TR.CheckObjectiveOp)
    def run_check_objective(
        self, interp: Interpreter, op: TR.CheckObjectiveOp, args: PythonValues
    ) -> PythonValues:
        objective, iteration = float(args[0]), float(args[1])
        if math.isfinite(objective):
            return ()
        what = "NaN" if math.isnan(objective) else "infinite"
        raise NomaRuntimeError(
            f"objective is {what} at iteration {format_count(iteration)} of the optimize loop",
            loc_of(op),
        )

    @impl(TR.WarnMaxIterationsOp)
    def run_warn_max_iterations(
        self, interp: Interpreter, op: TR.WarnMaxIterationsOp, args: PythonValues
    ) -> PythonValues:
        loc = loc_of(op)
        where = f" at {loc}" if loc is not None else ""
        self.state.stderr.write(
            f"warning: optimize loop{where} reached max_iterations "
            f"({format_count(float(args[0]))})\n"
        )
        return ()

    @impl(TR.EndLoopOp)
    def run_end_loop(
        self, interp: Interpreter, op: TR.EndLoopOp, args: PythonValues
    ) -> PythonValues:
        if self.state.monitor is not None:
            self.state.monitor.end_loop()
        return ()
