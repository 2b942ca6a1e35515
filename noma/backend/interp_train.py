"""Interpreter implementations of the `noma.train` ops: training loops.

`optimize` owns the iteration protocol (SPEC §6.2): run the body with the
carried values; its `yield` gives `(stop, values...)`; stop -> leave with
`values`; else count the iteration and leave with a warning on stderr when
the count reaches `max(max_iter, 1)`; else carry `values[:n_carried]` on.

`update` (the form before `noma-expand-optimizers`) applies one optimizer
step with the hyperparameters of the nearest enclosing `optimize` and the
per-parameter state kept in `RuntimeState` (m, v and a per-element Adam step
count t). `state` hands out the parameter's state buffer of a kind, created
zero-filled with the parameter's shape on first use and the same buffer on
every later use (the state lives as long as the parameter, SPEC §6.4).

When `RuntimeState.monitor` is set (`--loss-log`, `--progress`), `optimize`
tells it when a loop begins and ends and `minimize` the objective of every
iteration (before the NaN check, so a NaN objective is logged too).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from xdsl.interpreter import (
    Interpreter,
    InterpreterFunctions,
    PythonValues,
    ReturnedValues,
    TerminatorValue,
    impl,
    impl_terminator,
    register_impls,
)
from xdsl.ir import Operation

from noma.backend.interp_state import Buffer, Hyper, LoopFrame, OptState, RuntimeState
from noma.backend.interp_values import as_array, fmt_shape, loc_of
from noma.backend.train_monitor import TrainingMonitor
from noma.diagnostics import NomaRuntimeError
from noma.dialects import train as TR


def iteration_limit(max_iter: float) -> float:
    """The iteration count at which a loop stops: max_iter, at least 1."""
    if math.isnan(max_iter):
        return 1
    return max(math.trunc(max_iter), 1) if math.isfinite(max_iter) else max(max_iter, 1)


def enclosing_optimize(op: Operation) -> Operation | None:
    """The nearest `noma.train.optimize` around `op` (None outside any)."""
    parent = op.parent_op()
    while parent is not None and not isinstance(parent, TR.OptimizeOp):
        parent = parent.parent_op()
    return parent


def optimizer_step(h: Hyper, p: np.ndarray, g: np.ndarray, s: OptState) -> None:
    """One step of the optimizer `h.kind` on `p` (in place), SPEC §6.3."""
    if h.kind == TR.ADAM:
        s.t += 1.0
        s.m[...] = h.beta1 * s.m + (1.0 - h.beta1) * g
        s.v[...] = h.beta2 * s.v + (1.0 - h.beta2) * (g * g)
        m_hat = s.m / (1.0 - np.power(h.beta1, s.t))
        v_hat = s.v / (1.0 - np.power(h.beta2, s.t))
        p -= h.lr * m_hat / (np.sqrt(v_hat) + h.eps)
    elif h.kind == TR.RMSPROP:
        s.v[...] = h.rho * s.v + (1.0 - h.rho) * (g * g)
        p -= h.lr * g / (np.sqrt(s.v) + h.eps)
    else:
        p -= h.lr * g


@register_impls
@dataclass
class NomaTrainFunctions(InterpreterFunctions):
    """`noma.train` ops; `state` holds the loop stack and optimizer state."""

    state: RuntimeState = field(default_factory=RuntimeState)

    @impl(TR.ParamOp)
    def run_param(self, interp: Interpreter, op: TR.ParamOp, args: PythonValues) -> PythonValues:
        init = np.array(args[0], dtype=np.float64, copy=True)
        name = op.sym_name.data
        buf = Buffer(init, name=name)
        self.state.params[name] = buf
        return (buf,)

    @impl(TR.OptimizeOp)
    def run_optimize(
        self, interp: Interpreter, op: TR.OptimizeOp, args: PythonValues
    ) -> PythonValues:
        n_params = len(op.params)
        hyper = Hyper(*(float(x) for x in args[n_params : n_params + 7]))
        frame = LoopFrame(op, hyper)
        monitor = self.state.monitor
        if monitor is not None:
            loc = loc_of(op)
            monitor.begin_loop(str(loc) if loc is not None else "")
        self.state.loops.append(frame)
        try:
            return self._loop(interp, op, frame, tuple(args[n_params + 7 :]))
        finally:
            self.state.loops.pop()
            if monitor is not None:
                monitor.end_loop()

    def _loop(
        self, interp: Interpreter, op: TR.OptimizeOp, frame: LoopFrame, carried: PythonValues
    ) -> PythonValues:
        limit = iteration_limit(frame.hyper.max_iter)
        count = 0
        while True:
            frame.iteration = count + 1
            stop, *values = interp.run_ssacfg_region(op.body, carried, "optimize")
            if stop:
                return tuple(values)
            count += 1
            if count >= limit:
                self._warn_max_iterations(op, count)
                return tuple(values)
            carried = tuple(values[: len(carried)])

    def _warn_max_iterations(self, op: Operation, count: int) -> None:
        if self.state.monitor is not None:
            self.state.monitor.end_loop()  # the progress line ends before the warning
        loc = loc_of(op)
        where = f" at {loc}" if loc is not None else ""
        self.state.stderr.write(f"warning: optimize loop{where} reached max_iterations ({count})\n")

    @impl(TR.MinimizeOp)
    def run_minimize(
        self, interp: Interpreter, op: TR.MinimizeOp, args: PythonValues
    ) -> PythonValues:
        objective = float(args[0])
        monitor = self.state.monitor
        if monitor is not None:
            self._record(op, monitor, objective)
        if math.isfinite(objective):
            return ()
        frame = self.state.frame_for(enclosing_optimize(op))
        what = "NaN" if math.isnan(objective) else "infinite"
        iteration = frame.iteration if frame is not None else 1
        loc = (loc_of(frame.op) if frame is not None else None) or loc_of(op)
        raise NomaRuntimeError(
            f"objective is {what} at iteration {iteration} of the optimize loop", loc
        )

    def _record(self, op: TR.MinimizeOp, monitor: TrainingMonitor, objective: float) -> None:
        """Tell the monitor the objective of this iteration (counted from 0)."""
        frame = self.state.frame_for(enclosing_optimize(op))
        monitor.record(frame.iteration - 1 if frame is not None else 0, objective)

    @impl_terminator(TR.YieldOp)
    def run_yield(
        self, interp: Interpreter, op: TR.YieldOp, args: PythonValues
    ) -> tuple[TerminatorValue, PythonValues]:
        return ReturnedValues(args), ()

    @impl(TR.UpdateOp)
    def run_update(self, interp: Interpreter, op: TR.UpdateOp, args: PythonValues) -> PythonValues:
        param, grad = args
        frame = self.state.frame_for(enclosing_optimize(op))
        if frame is None:
            raise NomaRuntimeError("optimizer update outside an optimize loop")
        p, g = param.live(), as_array(grad)
        if g.shape != p.shape:
            raise NomaRuntimeError(
                f"gradient of shape {fmt_shape(g.shape)} does not match parameter "
                f"'{param.name}' of shape {fmt_shape(p.shape)}"
            )
        optimizer_step(frame.hyper, p, g, self.state.opt_state_of(param))
        return ()

    @impl(TR.StateOp)
    def run_state(self, interp: Interpreter, op: TR.StateOp, args: PythonValues) -> PythonValues:
        (param,) = args
        key = (param, op.kind.data)
        buf = self.state.state_buffers.get(key)
        if buf is None or buf.freed:
            shape = param.live().shape
            buf = Buffer(np.zeros(shape), name=f"{param.name}.{op.kind.data}")
            self.state.state_buffers[key] = buf
        return (buf,)

    @impl(TR.ResetStateOp)
    def run_reset_state(
        self, interp: Interpreter, op: TR.ResetStateOp, args: PythonValues
    ) -> PythonValues:
        for param in args:
            param.live()
            self.state.reset(param)
        return ()
