"""`noma-migrate-realloc-state`: reallocating or freeing a parameter also
reallocates or frees its optimizer state."""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from noma.diagnostics import CompileError
from noma.dialects import mem, train

ORDER_ERROR = "noma-migrate-realloc-state must run after noma-expand-optimizers"


@dataclass(frozen=True)
class MigrateReallocStatePass(ModulePass):
    """Make every realloc/free of a parameter carry its m/v/t state along.

    Expects: expanded optimizers (`noma-expand-optimizers`): state buffers
    `noma.train.state %P "m"|"v"|"t"`, no `noma.train.update` or
    `noma.train.reset_state` left (else a CompileError about pass order).
    Produces: right after each `noma.mem.realloc %P to [dims]` of a parameter
    with state, `noma.mem.realloc %S to [dims] init zeros` for each of its
    state buffers (the preserved corner keeps its state, new positions start
    at zero: SPEC §7), wherever the realloc is (also in `scf.if` inside an
    optimize body); right before each `noma.mem.free %P`, `noma.mem.free %S`.
    Running it twice adds nothing.
    """

    name = "noma-migrate-realloc-state"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        states = _collect_states(op)
        for inner in list(op.walk()):
            if isinstance(inner, mem.ReallocOp) and inner.buffer in states:
                _realloc_states(inner, states[inner.buffer])
            elif isinstance(inner, mem.FreeOp) and inner.buffer in states:
                _free_states(inner, states[inner.buffer])


def _collect_states(module: ModuleOp) -> dict[SSAValue, list[SSAValue]]:
    """State buffers per parameter, in m, v, t order; fails if expansion has not run."""
    found: dict[SSAValue, dict[str, SSAValue]] = {}
    for op in module.walk():
        if isinstance(op, train.UpdateOp | train.ResetStateOp):
            raise CompileError(f"{ORDER_ERROR} (found {op.name})")
        if isinstance(op, train.StateOp):
            found.setdefault(op.param, {})[op.kind.data] = op.result
    return {p: [kinds[k] for k in train.STATE_KINDS if k in kinds] for p, kinds in found.items()}


def _realloc_states(realloc: mem.ReallocOp, states: list[SSAValue]) -> None:
    """`realloc %S to [same dims] init zeros` right after the parameter's realloc."""
    done = _neighbours(realloc, mem.ReallocOp, after=True)
    anchor: Operation = realloc
    for state in states:
        if state not in done:
            new = mem.ReallocOp(state, list(realloc.dims), "zeros")
            _insert(new, InsertPoint.after(anchor), realloc)
            anchor = new


def _free_states(free: mem.FreeOp, states: list[SSAValue]) -> None:
    """`free %S` right before the parameter's free (the state goes first, so no
    state buffer outlives its parameter)."""
    done = _neighbours(free, mem.FreeOp, after=False)
    for state in states:
        if state not in done:
            _insert(mem.FreeOp(state), InsertPoint.before(free), free)


def _insert(new: Operation, where: InsertPoint, origin: Operation) -> None:
    new.location = origin.location
    Rewriter.insert_op(new, where)


def _neighbours(op: Operation, kind: type[Operation], after: bool) -> set[SSAValue]:
    """Buffers of the ops of `kind` directly after (or before) `op`: a previous run's work."""
    seen: set[SSAValue] = set()
    nxt = op.next_op if after else op.prev_op
    while isinstance(nxt, kind):
        seen.add(nxt.operands[0])
        nxt = nxt.next_op if after else nxt.prev_op
    return seen
