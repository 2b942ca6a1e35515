"""`noma-to-llvm`, part 5: loads that need no copy.

A `noma.mem.load` copies the buffer into the load's slot, so that later
stores never change a loaded value. When nothing can write the buffer
while the loaded value is still used, the copy is not needed: the slot
becomes a *view*, the buffer's descriptor with capacity 0 (not owned), as
`expand_dims` makes. The typical case is the load of every parameter at the
top of a training loop's body, read by the forward and backward passes
before the optimizer step stores into the buffer.

`view_loads` decides on the structured IR (before `scf` is lowered). A load
qualifies when its tensor value (rank >= 1):

- is only read: no user passes it on (terminators, calls, returns) or might
  return it as its own result (`cast`, `expand_dims`), and no user also
  writes the buffer;
- is used for the last time before anything may write the buffer: scanning
  the load's block from the load, every op holding a use comes before every
  op that stores, store_element's, reallocs or frees the buffer (also inside
  a fused op), calls a function, or has the buffer as an operand in any
  other way than load and dim. An `scf.if` holding both uses and writes is
  looked into (its branches run at most once); any other op holding both
  (a loop) disqualifies the load.

The view still checks that the buffer is alive: a freed buffer goes to
`noma_rt_buf_load`, which reports "use of freed variable" at the load.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects import cf, func, llvm, scf
from xdsl.dialects.builtin import DenseArrayBase, ModuleOp, i64
from xdsl.ir import Block, Operation, SSAValue

from noma.dialects import mem, train
from noma.dialects import tensor as nt
from noma.dialects.common import rank_of
from noma.passes.to_llvm_fused import SLT, _Function, _icmp
from noma.passes.to_llvm_support import PTR, TENSOR, Emitter, Globals
from noma.passes.to_llvm_tensor import Lowering, TypeOf

#: Users that pass a value on or may return it as their own result.
_ESCAPES = (
    scf.YieldOp, scf.ConditionOp, cf.BranchOp, cf.ConditionalBranchOp, func.ReturnOp,
    func.CallOp, train.YieldOp, nt.CastOp, nt.ExpandDimsOp,
)  # fmt: skip
#: Ops that may use a buffer operand without writing it.
_READS_BUFFER = (mem.LoadOp, mem.DimOp)


def view_loads(module: ModuleOp) -> set[mem.LoadOp]:
    """The loads that can be lowered as views (see the module docstring)."""
    views: set[mem.LoadOp] = set()
    for op in module.walk():
        if isinstance(op, mem.LoadOp) and _qualifies(op):
            views.add(op)
    return views


def _qualifies(load: mem.LoadOp) -> bool:
    rank = rank_of(load.result.type)
    block = load.parent_block()
    if not rank or block is None or isinstance(block.parent_op(), nt.FusedOp):
        return False
    users = {use.operation for use in load.result.uses}
    if any(isinstance(u, _ESCAPES) or _writes(u, load.buffer) for u in users):
        return False
    rest = list(block.ops)[block.get_operation_index(load) + 1 :]
    held = {inner for op in rest for inner in op.walk() if inner in users}
    if held != users:  # a use in another block (IR already in cf form)
        return False
    return _uses_first(block, block.get_operation_index(load) + 1, users, load.buffer)


def _uses_first(block: Block, start: int, users: set[Operation], buffer: SSAValue) -> bool:
    """Every op of `block` from `start` holding a user comes before every op
    that may write `buffer` (users missing from the block are fine: the
    caller handles them)."""
    ops = list(block.ops)[start:]
    left = {op for op in ops if _holds(op, users)}
    for op in ops:
        if not left:
            return True
        holds = op in left
        if holds and _writes(op, buffer):
            if not isinstance(op, scf.IfOp):
                return False
            for region in op.regions:
                for inner in region.blocks:
                    if not _uses_first(inner, 0, users, buffer):
                        return False
            left.discard(op)
            if left:  # a branch may have written the buffer before later uses
                return False
            continue
        if _writes(op, buffer):
            return False
        left.discard(op)
    return True


def _holds(op: Operation, users: set[Operation]) -> bool:
    return any(inner in users for inner in op.walk())


def _writes(op: Operation, buffer: SSAValue) -> bool:
    """Whether `op` (or an op inside it) may write `buffer`."""
    for inner in op.walk():
        if isinstance(inner, func.CallOp):
            return True
        if isinstance(inner, nt.FusedOp):
            for arg, outer in zip(inner.body.block.args, inner.inputs, strict=True):
                if outer == buffer and any(
                    isinstance(u.operation, mem.StoreOp) and u.operation.buffer == arg
                    for u in arg.uses
                ):
                    return True
            continue
        if buffer in inner.operands and not isinstance(inner, _READS_BUFFER):
            return True
    return False


class ViewLowering:
    """Lowers the loads `view_loads` chose as calls of one helper function,
    `@noma.view(slot, buffer, site)`; other loads as usual."""

    def __init__(self, views: set[mem.LoadOp], fallback: Lowering):
        self.views, self.fallback = views, fallback

    def lower(self, e: Emitter, op: mem.LoadOp, type_of: TypeOf) -> Sequence[SSAValue]:
        if op not in self.views:
            return self.fallback(e, op, type_of)
        name = _helper(e.g)
        slot = e.slot()
        e.run(llvm.CallOp(name, slot, op.buffer, e.site()))
        return [slot]


def _helper(g: Globals) -> str:
    """`@noma.view`: `slot` := `buffer`'s descriptor with cap 0, after the
    liveness check of `noma_rt_buf_load` (which reports a freed buffer)."""
    name = g.kernels.get("view")
    if name is not None:
        return name
    name = g.kernels["view"] = g.fresh("view")
    fn = _Function(g, [PTR, PTR, PTR])
    slot, buffer, site = fn.entry.args
    c = fn.cursor(fn.entry)
    rank = c.e.add(llvm.LoadOp(c.e.add(llvm.GEPOp(buffer, [2], i64)), i64))
    freed, alive = Block(), Block()
    c.end(llvm.CondBrOp(_icmp(c.e, SLT, rank, c.e.i64(0)), freed, [], alive, []))
    f = fn.cursor(freed)
    f.e.call("noma_rt_buf_load", slot, buffer, site)  # reports the error
    f.end(llvm.ReturnOp())
    a = fn.cursor(alive)
    desc = a.e.add(llvm.LoadOp(buffer, TENSOR))
    cap = llvm.InsertValueOp(DenseArrayBase.from_list(i64, [1]), desc, a.e.i64(0))
    a.e.run(llvm.StoreOp(a.e.add(cap), slot))
    a.end(llvm.ReturnOp())
    g.new_ops.append(fn.func_op(name))
    return name
