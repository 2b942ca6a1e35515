"""`noma-lower-train`: training loops as `scf.while` loops (SPEC §6.2)."""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, scf
from xdsl.dialects.builtin import FloatAttr, IntegerAttr, ModuleOp, f64, i1
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from noma.diagnostics import CompileError
from noma.dialects import tensor as nt
from noma.dialects import train
from noma.passes import source_loc

#: Ops that `noma-expand-optimizers` must have removed before this pass runs.
_UNEXPANDED = (train.UpdateOp, train.ResetStateOp)


@dataclass(frozen=True)
class LowerTrainPass(ModulePass):
    """Lower every `noma.train.optimize` to an `scf.while` loop (SPEC §6.2).

    Expects: optimizer steps already expanded (no `noma.train.update` or
    `noma.train.reset_state` left: run `noma-expand-optimizers` first).
    Produces: for each loop, `limit = max(trunc(max_iter), 1)` (1 for NaN)
    computed once, then an `scf.while` carrying the loop-carried values and
    an f64 count of finished iterations (starting at 0). Its `before` region
    is the body: `iteration = count + 1`; `minimize %L` becomes
    `noma.train.check_objective %L, %iteration`; the yield becomes: leave
    when the stop flag is true (results: this iteration's values), else
    leave when `iteration >= limit` after `noma.train.warn_max_iterations
    %iteration`, else go on with `count = iteration`. The `after` region
    forwards the carried values and the count. Right after the loop comes
    `noma.train.end_loop` (it ends the `--progress` line). The new ops carry
    the optimize op's location. The loop's results replace the optimize
    results (the carried values, then the body-declared ones). `noma.train.param`
    and `noma.train.state` are left as they are.
    """

    name = "noma-lower-train"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        loops: list[train.OptimizeOp] = []
        for inner in op.walk():
            if isinstance(inner, _UNEXPANDED):
                raise CompileError(
                    f"noma-lower-train: found {inner.name}; run noma-expand-optimizers first",
                    source_loc(inner),
                )
            if isinstance(inner, train.OptimizeOp):
                loops.append(inner)
        for loop in reversed(loops):  # inner loops first
            lower_optimize(loop)


def _const(value: float) -> arith.ConstantOp:
    return arith.ConstantOp(FloatAttr(value, f64))


def _true() -> arith.ConstantOp:
    return arith.ConstantOp(IntegerAttr(1, i1))


def _iteration_limit(loop: train.OptimizeOp) -> tuple[list[Operation], SSAValue]:
    """Ops computing `max(trunc(max_iter), 1)` (1 when max_iter is NaN)."""
    one = _const(1.0)
    trunc = nt.TruncOp(loop.max_iter)
    at_least_one = arith.CmpfOp(trunc, one, "oge")
    limit = arith.SelectOp(at_least_one, trunc, one)
    ops: list[Operation] = [one, trunc, at_least_one, limit]
    return ops, limit.result


def lower_optimize(loop: train.OptimizeOp) -> scf.WhileOp:
    """Replace one `noma.train.optimize` by its `scf.while` (see `LowerTrainPass`)."""
    limit_ops, limit = _iteration_limit(loop)
    zero = _const(0.0)
    Rewriter.insert_op([*limit_ops, zero], InsertPoint.before(loop))
    body = loop.body.detach_block(loop.block)
    count = body.insert_arg(f64, len(body.args))
    count.name_hint = "count"
    iteration = _begin_iteration(body, count)
    _lower_minimize(loop, body, iteration)
    yielded = _lower_yield(loop, body, iteration, limit)
    n_carried = len(loop.inits)
    after = _forwarding_block(yielded, n_carried)
    result_types = [v.type for v in yielded]
    while_op = scf.WhileOp([*loop.inits, zero.result], result_types, Region(body), Region(after))
    while_op.location = loop.location
    end = train.EndLoopOp()
    end.location = loop.location
    Rewriter.insert_op(end, InsertPoint.after(loop))
    Rewriter.replace_op(loop, while_op, while_op.results[: len(loop.res)])
    return while_op


def _begin_iteration(body: Block, count: SSAValue) -> SSAValue:
    """`iteration = count + 1` at the start of the body."""
    one = _const(1.0)
    iteration = arith.AddfOp(count, one)
    iteration.result.name_hint = "iteration"
    first = body.first_op
    if first is None:
        body.add_ops([one, iteration])
    else:
        body.insert_ops_before([one, iteration], first)
    return iteration.result


def _lower_minimize(loop: train.OptimizeOp, body: Block, iteration: SSAValue) -> None:
    for op in list(body.ops):
        if isinstance(op, train.MinimizeOp):
            check = train.CheckObjectiveOp(op.objective, iteration)
            check.location = loop.location
            Rewriter.replace_op(op, check, [])


def _lower_yield(
    loop: train.OptimizeOp, body: Block, iteration: SSAValue, limit: SSAValue
) -> list[SSAValue]:
    """Replace the body's `noma.train.yield` by the exit test and `scf.condition`;
    returns the values passed on (yielded values, then the new count)."""
    term = body.last_op
    assert isinstance(term, train.YieldOp)
    true = _true()
    go_on = arith.XOrIOp(term.stop, true)
    full = arith.CmpfOp(iteration, limit, "oge")
    warn_now = arith.AndIOp(go_on, full)
    warn = train.WarnMaxIterationsOp(iteration)
    warn.location = loop.location
    warn_if = scf.IfOp(warn_now, [], [warn, scf.YieldOp()])
    below = arith.XOrIOp(full, true)
    again = arith.AndIOp(go_on, below)
    values = [*term.values, iteration]
    cond = scf.ConditionOp(again, *values)
    ops = [true, go_on, full, warn_now, warn_if, below, again, cond]
    Rewriter.replace_op(term, ops, [])
    return values


def _forwarding_block(values: list[SSAValue], n_carried: int) -> Block:
    """The `after` region: pass the carried values and the count back."""
    block = Block(arg_types=[v.type for v in values])
    args = list(block.args)
    block.add_op(scf.YieldOp(*args[:n_carried], args[-1]))
    return block
