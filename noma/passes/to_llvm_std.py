"""`noma-to-llvm`, part 3: `arith`, `cf` and `func` ops to the `llvm` dialect.

Tensor values in SSA registers are pointers to op slots, which are
rewritten each time their op runs. Two places could therefore see a slot
change under a live value, and both get a copy:

- a loop back-edge (a branch to a block that dominates it, found by a DFS
  of the CFG) passing a tensor: the value is copied into one of two carry
  slots of that block argument, the one the current argument does not use
  (ping-pong), so the next iteration may overwrite every op slot;
- a `func.call` returning a tensor: the result is copied into a slot of the
  call site, as the callee's slots change at its next call.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects import arith, cf, func, llvm
from xdsl.dialects.builtin import Float64Type, FloatAttr, IntegerAttr, IntegerType, i1, i64
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue

from noma.diagnostics import CompileError
from noma.passes.to_llvm_mem import print_value
from noma.passes.to_llvm_support import PTR, Emitter, is_f64
from noma.passes.to_llvm_tensor import Lowering, TypeOf, is_tensor_type

# ----------------------------------------------------------------- arith


def lower_constant(e: Emitter, op: arith.ConstantOp, type_of: TypeOf) -> Sequence[SSAValue]:
    value, typ = op.value, op.result.type
    if isinstance(value, IntegerAttr) and typ == i1:
        return [e.i1(bool(value.value.data))]
    if isinstance(value, IntegerAttr) and typ == i64:
        return [e.i64(value.value.data)]
    if isinstance(value, IntegerAttr) and isinstance(typ, IntegerType):
        return [e.add(llvm.ConstantOp(value, typ))]
    if isinstance(value, FloatAttr) and is_f64(op.result):
        return [e.f64(value.value.data)]
    raise CompileError(f"noma-to-llvm: unsupported constant of type {typ}")


def _binary(cls: type[Operation]) -> Lowering:
    def lower(e: Emitter, op: Operation, type_of: TypeOf) -> Sequence[SSAValue]:
        return [e.add(cls(op.operands[0], op.operands[1]))]  # type: ignore[call-arg]

    return lower


def lower_negf(e: Emitter, op: arith.NegfOp, type_of: TypeOf) -> Sequence[SSAValue]:
    return [e.add(llvm.FNegOp(op.operand))]


def lower_cmpf(e: Emitter, op: arith.CmpfOp, type_of: TypeOf) -> Sequence[SSAValue]:
    pred = op.predicate.value.data  # arith and llvm number the predicates alike
    if pred in (0, 15):  # false / true
        return [e.i1(pred == 15)]
    return [e.add(llvm.FCmpOp(op.lhs, op.rhs, IntegerAttr(pred, i64)))]


def lower_cmpi(e: Emitter, op: arith.CmpiOp, type_of: TypeOf) -> Sequence[SSAValue]:
    pred = IntegerAttr(op.predicate.value.data, i64)
    return [e.add(llvm.ICmpOp(op.lhs, op.rhs, pred))]


def lower_select(e: Emitter, op: arith.SelectOp, type_of: TypeOf) -> Sequence[SSAValue]:
    return [e.select(op.cond, op.lhs, op.rhs)]


def lower_uitofp(e: Emitter, op: arith.UIToFPOp, type_of: TypeOf) -> Sequence[SSAValue]:
    x = op.input
    assert isinstance(x.type, IntegerType)
    if x.type.width.data == 1:
        return [e.bool_to_f64(x)]
    wide = x if x.type.width.data == 64 else e.add(llvm.ZExtOp(x, i64))
    return [e.add(llvm.SIToFPOp(wide, op.result.type))]


def lower_sitofp(e: Emitter, op: arith.SIToFPOp, type_of: TypeOf) -> Sequence[SSAValue]:
    return [e.add(llvm.SIToFPOp(op.input, op.result.type))]


def _min_max(pred: str) -> Lowering:
    """arith.minimumf / maximumf: NaN if either operand is NaN."""

    def lower(e: Emitter, op: Operation, type_of: TypeOf) -> Sequence[SSAValue]:
        a, b = op.operands
        pick = e.select(e.fcmp(pred, a, b), a, b)
        either_nan = e.fcmp("uno", a, b)
        return [e.select(either_nan, e.add(llvm.FAddOp(a, b)), pick)]

    return lower


ARITH_LOWERINGS: dict[type[Operation], Lowering] = {
    arith.ConstantOp: lower_constant,
    arith.AddfOp: _binary(llvm.FAddOp),
    arith.SubfOp: _binary(llvm.FSubOp),
    arith.MulfOp: _binary(llvm.FMulOp),
    arith.DivfOp: _binary(llvm.FDivOp),
    arith.AndIOp: _binary(llvm.AndOp),
    arith.OrIOp: _binary(llvm.OrOp),
    arith.XOrIOp: _binary(llvm.XOrOp),
    arith.NegfOp: lower_negf,
    arith.CmpfOp: lower_cmpf,
    arith.CmpiOp: lower_cmpi,
    arith.SelectOp: lower_select,
    arith.UIToFPOp: lower_uitofp,
    arith.SIToFPOp: lower_sitofp,
    arith.MinimumfOp: _min_max("olt"),
    arith.MaximumfOp: _min_max("ogt"),
}  # type: ignore[dict-item]

# ----------------------------------------------------------------- control flow


def back_edges(region: Region) -> set[tuple[Block, Block]]:
    """Edges (from, to) of the CFG that close a loop (DFS retreating edges;
    the CFGs of structured control flow are reducible, so these are exactly
    the branches to a block that dominates the branch)."""
    entry = region.blocks.first
    if entry is None:
        return set()
    edges: set[tuple[Block, Block]] = set()
    on_stack, done = {entry}, set[Block]()
    stack = [(entry, iter(_successors(entry)))]
    while stack:
        block, succs = stack[-1]
        nxt = next(succs, None)
        if nxt is None:
            on_stack.discard(block)
            done.add(block)
            stack.pop()
        elif nxt in on_stack:
            edges.add((block, nxt))
        elif nxt not in done:
            on_stack.add(nxt)
            stack.append((nxt, iter(_successors(nxt))))
    return edges


def _successors(block: Block) -> list[Block]:
    last = block.last_op
    return list(last.successors) if last is not None else []


class BranchLowering:
    """`cf.br` / `cf.cond_br` to `llvm.br` / `llvm.cond_br`, copying the
    tensors passed along back-edges into ping-pong carry slots."""

    def __init__(self, region: Region):
        self.back = back_edges(region)
        self.carry: dict[tuple[Block, int], tuple[int, int]] = {}

    def args(self, e: Emitter, dest: Block, values: Sequence[SSAValue]) -> list[SSAValue]:
        source = e.op.parent_block()
        if (source, dest) not in self.back:
            return list(values)
        return [
            self._carry(e, dest, k, v) if is_tensor_type(dest.args[k].type) else v
            for k, v in enumerate(values)
        ]

    def _carry(self, e: Emitter, dest: Block, k: int, value: SSAValue) -> SSAValue:
        slots = self.carry.get((dest, k))
        if slots is None:
            slots = self.carry[(dest, k)] = (e.g.slot(), e.g.slot())
        a, b = e.slot_at(slots[0]), e.slot_at(slots[1])
        current = e.add(llvm.PtrToIntOp(dest.args[k]))
        in_a = e.add(llvm.ICmpOp(current, e.add(llvm.PtrToIntOp(a)), IntegerAttr(0, i64)))
        target = e.select(in_a, b, a)
        return e.call("noma_rt_buf_load", target, value, e.null())

    def lower_br(self, e: Emitter, op: cf.BranchOp, type_of: TypeOf) -> Sequence[SSAValue]:
        e.run(llvm.BrOp(op.successor, *self.args(e, op.successor, op.arguments)))
        return []

    def lower_cond_br(
        self, e: Emitter, op: cf.ConditionalBranchOp, type_of: TypeOf
    ) -> Sequence[SSAValue]:
        then_args = self.args(e, op.then_block, op.then_arguments)
        else_args = self.args(e, op.else_block, op.else_arguments)
        e.run(llvm.CondBrOp(op.cond, op.then_block, then_args, op.else_block, else_args))
        return []

    def lowerings(self) -> dict[type[Operation], Lowering]:
        return {cf.BranchOp: self.lower_br, cf.ConditionalBranchOp: self.lower_cond_br}  # type: ignore[dict-item]


# ----------------------------------------------------------------- functions


def convert_type(t: Attribute) -> Attribute:
    """f64 / i1 / i64 stay; every tensor, buffer and archive is a pointer."""
    if isinstance(t, IntegerType) or is_f64_type(t) or isinstance(t, llvm.LLVMPointerType):
        return t
    name = getattr(t, "name", "")
    if is_tensor_type(t) or name in ("noma.mem.buffer", "noma.io.archive"):
        return PTR
    raise CompileError(f"noma-to-llvm: cannot lower values of type {t}")


def is_f64_type(t: Attribute) -> bool:
    return isinstance(t, Float64Type)


def function_symbol(name: str, entry: str | None) -> str:
    """The llvm symbol of a NOMA function (`noma_entry` for the entry; the
    others get a prefix so they cannot clash with C symbols)."""
    return "noma_entry" if name == entry else f"noma.fn.{name}"


class FunctionLowering:
    """`func.return` and `func.call` of one function (the entry prints its
    result and returns void)."""

    def __init__(self, is_entry: bool, entry: str | None):
        self.is_entry = is_entry
        self.entry = entry

    def lower_return(self, e: Emitter, op: func.ReturnOp, type_of: TypeOf) -> Sequence[SSAValue]:
        values = list(op.arguments)
        if self.is_entry:
            for v in values:
                print_value(e, v)
            e.run(llvm.ReturnOp())
        else:
            e.run(llvm.ReturnOp(values[0] if values else None))
        return []

    def lower_call(self, e: Emitter, op: func.CallOp, type_of: TypeOf) -> Sequence[SSAValue]:
        if len(op.res) > 1:
            raise CompileError("noma-to-llvm: functions return at most one value")
        ret = convert_type(op.res[0].type) if op.res else None
        callee = function_symbol(op.callee.string_value(), self.entry)
        result = e.add(llvm.CallOp(callee, *op.arguments, return_type=ret)) if ret else None
        if result is None:
            e.run(llvm.CallOp(callee, *op.arguments))
            return []
        if is_tensor_type(op.res[0].type):
            result = e.call("noma_rt_buf_load", e.slot(), result, e.null())
        return [result]

    def lowerings(self) -> dict[type[Operation], Lowering]:
        return {func.ReturnOp: self.lower_return, func.CallOp: self.lower_call}  # type: ignore[dict-item]
