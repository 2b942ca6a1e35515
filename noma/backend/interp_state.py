"""Run-time objects and state of the reference interpreter (`interp.py`).

Values at run time:

- `f64` -> Python `float`;
- `tensor<...xf64>` / `tensor<*xf64>` -> numpy float64 `ndarray` (an unranked
  value may be 0-d); values are immutable: no op writes into an array it got
  as an operand;
- `i1` -> Python `bool`/`int` as xDSL's arith implementations produce them;
- `!noma.mem.buffer<R>` -> `Buffer` (mutable, identity matters);
- `!noma.io.archive` -> `Archive` (a `dict[str, ndarray]` that knows its path).

`RuntimeState` holds everything a run mutates besides buffers: the program's
RNG, the output streams, the optimizer state kept for the abstract
`noma.train.update` op, the state buffers handed out by `noma.train.state`,
the stack of running `optimize` loops, and the optional `TrainingMonitor`
(`--loss-log`, `--progress`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TextIO

import numpy as np
from xdsl.ir import Operation

from noma.backend.runtime.resize import resize_array
from noma.backend.runtime.rng import NomaRng
from noma.backend.train_monitor import TrainingMonitor
from noma.diagnostics import NomaRuntimeError


class Buffer:
    """A resizable f64 array (`!noma.mem.buffer`); a 0-d array for a scalar buffer."""

    __slots__ = ("array", "freed", "name")

    def __init__(self, array: np.ndarray, name: str | None = None) -> None:
        self.array: np.ndarray = array
        self.freed = False
        self.name = name

    def live(self) -> np.ndarray:
        """The contents; an error once the buffer has been freed."""
        if self.freed:
            what = f" '{self.name}'" if self.name else ""
            raise NomaRuntimeError(f"use of freed variable{what}")
        return self.array

    def __repr__(self) -> str:
        state = "freed" if self.freed else f"shape={list(self.array.shape)}"
        return f"Buffer({self.name or '?'}, {state})"


class Archive(dict[str, np.ndarray]):
    """The tensors of one safetensors file (`!noma.io.archive`), by key."""

    def __init__(self, path: str, tensors: dict[str, np.ndarray]) -> None:
        super().__init__(tensors)
        self.path = path


@dataclass
class OptState:
    """Optimizer state of one parameter for the abstract `update` op:
    first and second moments and the per-element Adam step count."""

    m: np.ndarray
    v: np.ndarray
    t: np.ndarray

    @staticmethod
    def zeros(shape: tuple[int, ...]) -> OptState:
        return OptState(np.zeros(shape), np.zeros(shape), np.zeros(shape))

    def shape(self) -> tuple[int, ...]:
        return self.m.shape

    def resized(self, shape: tuple[int, ...]) -> OptState:
        """The state for a parameter of `shape`: the preserved corner keeps its
        values, new positions start at zero (SPEC §7 state migration)."""
        if len(shape) != self.m.ndim or self.m.ndim == 0:
            return OptState.zeros(shape)
        dims = [float(d) for d in shape]
        return OptState(*(resize_array(a, dims) for a in (self.m, self.v, self.t)))

    def reset(self) -> None:
        for a in (self.m, self.v, self.t):
            a.fill(0.0)


@dataclass
class Hyper:
    """Hyperparameters of one running optimize loop, read when it starts."""

    kind: float
    lr: float
    beta1: float
    beta2: float
    rho: float
    eps: float
    max_iter: float


@dataclass
class LoopFrame:
    """One running `noma.train.optimize`: its op, settings and 1-based iteration."""

    op: Operation
    hyper: Hyper
    iteration: int = 1


@dataclass
class RuntimeState:
    """Everything one run of a program mutates (besides buffers)."""

    rng: NomaRng = field(default_factory=NomaRng)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    #: State of the abstract `update` op, per parameter buffer.
    opt_state: dict[Buffer, OptState] = field(default_factory=dict)
    #: Buffers handed out by `noma.train.state`, per (parameter, "m"|"v"|"t").
    state_buffers: dict[tuple[Buffer, str], Buffer] = field(default_factory=dict)
    #: Running optimize loops, innermost last.
    loops: list[LoopFrame] = field(default_factory=list)
    #: Told about every optimize loop and objective (`--loss-log`, `--progress`); None: off.
    monitor: TrainingMonitor | None = None
    #: Learnable parameters by name, the one declared last for a name (what
    #: `noma.api` reports as a run's final parameters).
    params: dict[str, Buffer] = field(default_factory=dict)

    def frame_for(self, op: Operation | None) -> LoopFrame | None:
        """The frame of the optimize loop `op`, else the innermost one."""
        for frame in reversed(self.loops):
            if frame.op is op:
                return frame
        return self.loops[-1] if self.loops else None

    def opt_state_of(self, param: Buffer) -> OptState:
        """The `update` state of `param`, created or fitted to its current shape."""
        shape = param.live().shape
        state = self.opt_state.get(param)
        if state is None:
            state = OptState.zeros(shape)
        elif state.shape() != shape:
            state = state.resized(shape)
        self.opt_state[param] = state
        return state

    def after_realloc(self, param: Buffer) -> None:
        """Migrate the `update` state of a reallocated parameter."""
        state = self.opt_state.get(param)
        if state is not None:
            self.opt_state[param] = state.resized(param.array.shape)

    def reset(self, param: Buffer) -> None:
        """`reset_optimizer(param)`: zero m, v and t."""
        state = self.opt_state.get(param)
        if state is not None:
            state.reset()
        for kind in ("m", "v", "t"):
            buf = self.state_buffers.get((param, kind))
            if buf is not None and not buf.freed:
                buf.array.fill(0.0)

    def forget(self, param: Buffer) -> None:
        """`free param`: its optimizer state goes with it."""
        self.opt_state.pop(param, None)
        for kind in ("m", "v", "t"):
            buf = self.state_buffers.pop((param, kind), None)
            if buf is not None:
                buf.freed = True
