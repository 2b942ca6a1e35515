"""`noma-to-llvm`, part 0: the `scf` ops left after `convert-scf-to-cf`.

xDSL 0.74's `convert-scf-to-cf` lowers `scf.if`, `scf.for` and
`scf.index_switch` but not `scf.while`; `WhileLowering` is MLIR's
lowering of it (SCFToControlFlow.cpp): the `before` region becomes the loop
header, its `scf.condition` a `cf.cond_br` to the `after` region or out of
the loop, the `after` region's `scf.yield` a branch back to the header, and
the loop's results the condition's operands (visible by dominance).
`lower_scf` runs it together with the upstream patterns (so `noma-to-llvm`
also accepts IR that still has `scf.if`), without the dead-code elimination
the upstream pass does.
"""

from __future__ import annotations

from xdsl.dialects import cf, scf
from xdsl.dialects.builtin import ModuleOp
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.rewriter import BlockInsertPoint, InsertPoint
from xdsl.transforms.convert_scf_to_cf import ForLowering, IfLowering, SwitchLowering


class WhileLowering(RewritePattern):
    """`scf.while` to a header block, a body and a conditional exit."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: scf.WhileOp, rewriter: PatternRewriter, /) -> None:
        current = op.parent_block()
        assert current is not None
        continuation = current.split_before(op)
        before, after = op.before_region.first_block, op.after_region.first_block
        before_last, after_last = op.before_region.last_block, op.after_region.last_block
        assert before and after and before_last and after_last
        rewriter.inline_region(op.after_region, BlockInsertPoint.before(continuation))
        rewriter.inline_region(op.before_region, BlockInsertPoint.before(after))
        rewriter.insert(cf.BranchOp(before, *op.arguments), InsertPoint.at_end(current))
        cond = before_last.last_op
        assert isinstance(cond, scf.ConditionOp)
        results = list(cond.args)
        exit_branch = cf.ConditionalBranchOp(cond.condition, after, results, continuation, ())
        rewriter.replace(cond, exit_branch)
        yield_op = after_last.last_op
        assert isinstance(yield_op, scf.YieldOp)
        rewriter.replace(yield_op, cf.BranchOp(before, *yield_op.arguments))
        rewriter.replace(op, [], results)


def lower_scf(module: ModuleOp) -> None:
    """Every `scf.while`, `scf.if`, `scf.for` and `scf.index_switch` to `cf`."""
    patterns = [WhileLowering(), IfLowering(), ForLowering(), SwitchLowering()]
    # No dead-code elimination: NOMA ops marked Pure can still fail at run time
    # (an index out of range), and the interpreter reports those errors.
    applier = GreedyRewritePatternApplier(patterns, dce_enabled=False)
    PatternRewriteWalker(applier).rewrite_module(module)
