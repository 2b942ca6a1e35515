"""`noma-fuse-elementwise`: chains of element-wise tensor ops as `noma.tensor.fused` ops."""

from __future__ import annotations

from dataclasses import dataclass, field

from xdsl.context import Context
from xdsl.dialects.builtin import DYNAMIC_INDEX, Float64Type, ModuleOp, TensorType
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from noma.dialects import mem, train
from noma.dialects import tensor as nt


@dataclass(frozen=True)
class FuseElementwisePass(ModulePass):
    """Group chains of element-wise tensor ops into `noma.tensor.fused` ops.

    Expects: any stage (the native pipeline runs it after `noma-lower-train`,
    right before `noma-to-llvm`, which compiles each group to one loop).
    Produces: in every block, maximal groups of *members* — element-wise ops
    (unary, binary, `cmp`, `select`, identity-like `cast`, `broadcast_like`,
    `reduce_like`, `zeros_like`; not `exp`, `sigmoid` and `tanh`, which the
    runtime computes with its own vector math) and `noma.mem.load` / `store`
    of buffers (those of one parameter and its optimizer state go together) —
    whose tensors all have one rank and no statically different dimensions
    (scalars broadcast), connected by the values, buffers or tensor inputs
    they share, moved into a `noma.tensor.fused` op at the position of the
    group's last member. Its inputs are the values the group uses from
    outside, its results the member results used outside. A group needs at
    least two members that do work (a `cast` does none). Members only move
    later, never past a use of their results; a member that can fail at run
    time (two tensor operands, a load or a store) or touches memory moves
    past no other op that can fail or has effects, so the order of errors
    and side effects is kept. Running it twice changes nothing more.
    """

    name = "noma-fuse-elementwise"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        blocks = [
            block
            for inner in op.walk()
            if not isinstance(inner, nt.FusedOp)
            for region in inner.regions
            for block in region.blocks
        ]
        for block in blocks:
            _fuse_block(block)


# ----------------------------------------------------------------- classification


def _is_f64(t: Attribute) -> bool:
    return isinstance(t, Float64Type)


def _buffer_rank(t: Attribute) -> int | None:
    return t.value_rank() if isinstance(t, mem.BufferType) else None


#: Element-wise ops the C runtime computes with its own vectorised math
#: (noma_rt_vmath.c) rather than libm: a fused loop calling libm would round
#: differently, so they stay runtime calls.
RUNTIME_MATH: tuple[type[Operation], ...] = (nt.ExpOp, nt.SigmoidOp, nt.TanhOp)


def member_shape(op: Operation) -> tuple[int | None, ...] | None:
    """The known dims (None: dynamic) shared by the tensors of a fusable op,
    or None when the op cannot be a member."""
    if isinstance(op, mem.LoadOp):
        rank, tensors = _buffer_rank(op.buffer.type), [op.result.type]
    elif isinstance(op, mem.StoreOp):
        rank, tensors = _buffer_rank(op.buffer.type), [op.value.type]
    elif isinstance(op, nt.FUSABLE_OPS) and not isinstance(op, RUNTIME_MATH):
        if any(_is_f64(r.type) for r in op.results):
            return None  # scalar math stays inline LLVM
        values = [*op.operands, *op.results]
        tensors = [v.type for v in values if not _is_f64(v.type)]
        if isinstance(op, nt.ReduceLikeOp) and _is_f64(op.operand.type):
            return None
        rank = None
        if tensors and isinstance(tensors[0], TensorType):
            rank = len(tensors[0].get_shape())
    else:
        return None
    if not rank or not tensors:
        return None
    return _merge_dims((None,) * rank, tensors)


def _merge_dims(
    dims: tuple[int | None, ...], types: list[Attribute]
) -> tuple[int | None, ...] | None:
    """`dims` with the static dims of `types` merged in; None on a rank or
    dimension conflict (such ops would always take the unfused path)."""
    merged = list(dims)
    for t in types:
        if not isinstance(t, TensorType) or len(t.get_shape()) != len(merged):
            return None
        for k, d in enumerate(t.get_shape()):
            if d == DYNAMIC_INDEX:
                continue
            if merged[k] is None:
                merged[k] = d
            elif merged[k] != d:
                return None
    return tuple(merged)


def _combine(a: tuple[int | None, ...], b: tuple[int | None, ...]) -> tuple[int | None, ...] | None:
    if len(a) != len(b):
        return None
    out: list[int | None] = []
    for x, y in zip(a, b, strict=True):
        if x is not None and y is not None and x != y:
            return None
        out.append(x if x is not None else y)
    return tuple(out)


def is_risky(op: Operation) -> bool:
    """Whether a member can fail at run time or touches memory."""
    if isinstance(op, mem.LoadOp | mem.StoreOp | nt.ReduceLikeOp):
        return True
    if isinstance(op, nt.BroadcastLikeOp):
        return not _is_f64(op.operand.type)
    if isinstance(op, nt.UnaryOp | nt.CastOp | nt.ZerosLikeOp):
        return False
    tensors = [v.type for v in op.operands if not _is_f64(v.type)]
    if len(tensors) <= 1:
        return False
    # two or more tensors: a run-time shape check, unless their shapes are
    # static and equal
    shapes = {tuple(t.get_shape()) if isinstance(t, TensorType) else None for t in tensors}
    shape = shapes.pop()
    return bool(shapes) or shape is None or DYNAMIC_INDEX in shape


def is_safe(op: Operation) -> bool:
    """An op that cannot fail and has no effects (scalar math, unary math,
    constants, numel)."""
    if op.regions:
        return False
    if op.dialect_name() == "arith":
        return True
    if isinstance(op, nt.ConstantOp | nt.NumelOp | nt.FromElementsOp | nt.UnaryOp):
        return True
    return isinstance(op, nt.FUSABLE_OPS) and all(_is_f64(v.type) for v in op.operands)


def does_work(op: Operation) -> bool:
    return not isinstance(op, nt.CastOp)


# ----------------------------------------------------------------- grouping


@dataclass(eq=False)
class _Group:
    dims: tuple[int | None, ...]
    members: list[Operation] = field(default_factory=list)
    values: set[SSAValue] = field(default_factory=set)
    buffers: set[SSAValue] = field(default_factory=set)
    families: set[SSAValue] = field(default_factory=set)
    inputs: set[SSAValue] = field(default_factory=set)
    risky: bool = False

    def add(self, op: Operation) -> None:
        self.members.append(op)
        self.values.update(op.results)
        self.risky = self.risky or is_risky(op)
        for v in op.operands:
            if isinstance(v.type, mem.BufferType):
                self.buffers.add(v)
                self.families.add(family(v))
            elif not _is_f64(v.type) and v not in self.values:
                self.inputs.add(v)

    def absorb(self, other: _Group) -> None:
        self.members += other.members
        self.values |= other.values
        self.buffers |= other.buffers
        self.families |= other.families
        self.inputs = (self.inputs | other.inputs) - self.values
        self.risky = self.risky or other.risky

    def touches(self, op: Operation) -> bool:
        return any(v in self.values or v in self.buffers or v in self.inputs for v in op.operands)


def family(buffer: SSAValue) -> SSAValue:
    """The parameter a buffer belongs to (itself, or the parameter of a state
    buffer): buffers of one family normally have the same dims."""
    owner = buffer.owner
    return owner.param if isinstance(owner, train.StateOp) else buffer


def _same_family(op: Operation, group: _Group) -> bool:
    return any(
        isinstance(v.type, mem.BufferType) and family(v) in group.families for v in op.operands
    )


def _fuse_block(block: Block) -> None:
    order = {op: k for k, op in enumerate(block.ops)}
    open_groups: list[_Group] = []

    def close(group: _Group) -> None:
        open_groups.remove(group)
        if sum(does_work(m) for m in group.members) >= 2:
            group.members.sort(key=order.__getitem__)
            materialize(group.members)

    for op in list(block.ops):
        merged = member_shape(op)
        connected = [g for g in open_groups if g.touches(op)] if merged is not None else []
        if merged is not None and is_risky(op):
            # Risky ops keep their order: another open risky group joins this
            # op's group (a load or store of the same parameter's buffers)
            # or is placed before it.
            for g in open_groups:
                if g.risky and g not in connected:
                    if _same_family(op, g) and _combine(merged, g.dims) is not None:
                        connected.append(g)
                    else:
                        close(g)
        for g in connected:
            merged = _combine(merged, g.dims) if merged is not None else None
        if merged is not None:
            group = connected[0] if connected else _Group(merged)
            if not connected:
                open_groups.append(group)
            for other in connected[1:]:
                group.absorb(other)
                open_groups.remove(other)
            group.dims = merged
            group.add(op)
            continue
        used = {v for inner in op.walk() for v in inner.operands}
        safe = is_safe(op)
        for g in list(open_groups):
            if not used.isdisjoint(g.values) or (g.risky and not safe):
                close(g)
    for g in list(open_groups):
        close(g)


def materialize(members: list[Operation]) -> nt.FusedOp:
    """Move `members` (ops of one block, in order) into a `noma.tensor.fused`
    op placed where the last one was."""
    inside = set(members)
    inputs: list[SSAValue] = []
    for op in members:
        for v in op.operands:
            if v.owner not in inside and v not in inputs:
                inputs.append(v)
    outputs = [
        r for op in members for r in op.results if any(u.operation not in inside for u in r.uses)
    ]
    body = Block(arg_types=[v.type for v in inputs])
    fused = nt.FusedOp(inputs, [r.type for r in outputs], Region(body))
    last = members[-1]
    fused.location = last.location
    Rewriter.insert_op(fused, InsertPoint.after(last))
    for v, arg in zip(inputs, body.args, strict=True):
        arg.name_hint = v.name_hint
        v.replace_uses_with_if(arg, lambda use: use.operation in inside)
    for r, new in zip(outputs, fused.outputs, strict=True):
        new.name_hint = r.name_hint
        r.replace_uses_with_if(new, lambda use: use.operation not in inside)
    for op in members:
        op.detach()
        body.add_op(op)
    body.add_op(nt.FusedYieldOp(outputs))
    return fused
