"""The `noma-autodiff` pass: reverse-mode differentiation of optimize bodies.

Three steps per `noma.train.optimize`:

1. Analysis. `deps`: values that statically depend on a parameter (a
   `noma.mem.load` of a `noma.train.param` buffer inside the body), through
   all data flow; `varied`: the same, but stopping at ops without a
   derivative (the rule table says which). `useful`: values the objective
   depends on. Trained parameters are those with a useful load (SPEC §6.1);
   errors (a while loop, a call, a store of a parameter-dependent value on
   the path) are found here.
2. Export. Adjoint code runs after the forward body, where values computed
   inside an `scf.if` branch are not visible; every active `scf.if` is
   rebuilt with extra results that carry the values its adjoint needs (the
   other branch yields a placeholder of the same type).
3. Emission. Before the body's `noma.train.yield %stop`, inside
   `scf.if (%stop xor true)`: walk the body backwards from the objective,
   apply the VJP rules of `vjp_rules.py`, build an adjoint `scf.if` for each
   forward `scf.if`, and end with one `noma.train.update` per trained
   parameter.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from xdsl.builder import Builder
from xdsl.context import Context
from xdsl.dialects import arith, func, scf
from xdsl.dialects.builtin import (
    FloatAttr,
    IntegerAttr,
    ModuleOp,
    StringAttr,
    TensorType,
    UnrankedTensorType,
    f64,
    i1,
)
from xdsl.ir import Attribute, Block, BlockArgument, Operation, OpResult, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from noma.diagnostics import CompileError
from noma.dialects import mem
from noma.dialects import tensor as T
from noma.dialects.common import dynamic_tensor
from noma.dialects.mem import BufferType
from noma.dialects.train import MinimizeOp, OptimizeOp, ParamOp, UpdateOp, YieldOp
from noma.passes import source_loc
from noma.passes.vjp_rules import VJP_RULES, VJPContext

_MISSING = object()


@dataclass(frozen=True)
class AutodiffPass(ModulePass):
    """Reverse-mode autodiff of every `noma.train.optimize` body (SPEC §6).

    Run after `noma-inline`. For each optimize loop it finds the single
    top-level `minimize %L` (an f64), trains every parameter whose load the
    objective depends on (statically: untaken branches and zero derivatives
    count, `if` conditions do not), and inserts before the body's
    `noma.train.yield %stop` an `scf.if (not %stop)` with the adjoint code and
    one `noma.train.update %P, %dL_dP` per trained parameter. Adjoints of
    loads made before a `noma.mem.realloc` of P are resized (zeros) to P's
    current shape. Differentiating through a while/batch loop, a call, or a
    store of a parameter-dependent value into a tensor is a compile error.
    """

    name = "noma-autodiff"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for opt in [o for o in op.walk() if isinstance(o, OptimizeOp)]:
            differentiate(opt)


def differentiate(opt: OptimizeOp) -> None:
    """Add the gradient computation and parameter updates to one optimize loop."""
    minimize = _objective(opt)
    a = Analysis(opt.block)
    a.run(minimize.objective)
    if not a.trained:
        return
    exports: dict[SSAValue, SSAValue] = {}
    for op in list(opt.block.ops):
        if isinstance(op, scf.IfOp) and a.active_op(op):
            _export_if(op, a, exports)
    Emitter(a, exports, opt).emit(minimize)


# ----------------------------------------------------------------- checks


def _objective(opt: OptimizeOp) -> MinimizeOp:
    if any(isinstance(o, UpdateOp) for o in opt.walk()):
        raise CompileError(
            "noma-autodiff: this optimize body already has parameter updates (the pass ran twice?)",
            source_loc(opt),
        )
    found = [o for o in opt.block.ops if isinstance(o, MinimizeOp)]
    if len(found) != 1:
        raise CompileError("optimize body needs exactly one `minimize`", source_loc(opt))
    if found[0].objective.type != f64:
        raise CompileError(
            "the objective must be a scalar; use mean() or sum()", source_loc(found[0])
        )
    return found[0]


def is_param(v: SSAValue) -> bool:
    """A buffer declared by `noma.train.param`."""
    return isinstance(v, OpResult) and isinstance(v.owner, ParamOp)


def _yielded(region: Region, i: int) -> SSAValue | None:
    if not region.blocks:
        return None
    term = region.block.last_op
    assert term is not None
    return term.operands[i]


# ----------------------------------------------------------------- analysis


@dataclass
class Analysis:
    """Dependence of values on parameters and of the objective on values."""

    body: Block
    deps: set[SSAValue] = field(default_factory=set)
    varied: set[SSAValue] = field(default_factory=set)
    useful: set[SSAValue] = field(default_factory=set)
    trained: list[SSAValue] = field(default_factory=list)
    reshaped: dict[SSAValue, int | None] = field(default_factory=dict)

    def run(self, objective: SSAValue) -> None:
        _forward(self.body, self.deps, prune=False)
        _forward(self.body, self.varied, prune=True)
        self.useful.add(objective)
        _backward(self.body, self)
        for op in self.body.walk():
            if isinstance(op, mem.LoadOp) and op.result in self.useful and is_param(op.buffer):
                if op.buffer not in self.trained:
                    self.trained.append(op.buffer)
            elif isinstance(op, mem.ReallocOp | mem.StoreOp) and is_param(op.buffer):
                n = len(op.dims) if isinstance(op, mem.ReallocOp) else None
                self.reshaped[op.buffer] = self.reshaped.get(op.buffer) or n

    def active(self, v: SSAValue) -> bool:
        """Carries a derivative: a parameter buffer, or a varied value."""
        return v in self.varied or is_param(v)

    def active_op(self, op: Operation) -> bool:
        return any(r in self.varied and r in self.useful for r in op.results)

    def replaced(self, old: SSAValue, new: SSAValue) -> None:
        for s in (self.deps, self.varied, self.useful):
            if old in s:
                s.add(new)


def _forward(block: Block, out: set[SSAValue], prune: bool) -> None:
    """Add to `out` the values of `block` that depend on a value in `out` or
    on a parameter load (`prune`: not through ops without a derivative)."""
    for op in block.ops:
        if isinstance(op, mem.LoadOp):
            if is_param(op.buffer):
                out.add(op.result)
        elif isinstance(op, scf.IfOp):
            _forward_if(op, out, prune)
        elif isinstance(op, scf.WhileOp):
            _forward_while(op, out, prune)
        elif op.regions:
            _forward_generic(op, out, prune)
        elif prune and VJP_RULES.get(type(op), _MISSING) is None:
            continue
        elif any(v in out for v in op.operands):
            out.update(op.results)


def _forward_if(op: scf.IfOp, out: set[SSAValue], prune: bool) -> None:
    for region in op.regions:
        for block in region.blocks:
            _forward(block, out, prune)
    for i, r in enumerate(op.results):
        if any(_yielded(region, i) in out for region in op.regions):
            out.add(r)


def _forward_while(op: scf.WhileOp, out: set[SSAValue], prune: bool) -> None:
    before, after = op.before_region.block, op.after_region.block
    cond, back = before.last_op, after.last_op
    assert isinstance(cond, scf.ConditionOp) and back is not None
    while True:
        size = len(out)
        for arg, init, nxt in zip(before.args, op.arguments, back.operands, strict=True):
            if init in out or nxt in out:
                out.add(arg)
        _forward(before, out, prune)
        out.update(a for a, v in zip(after.args, cond.args, strict=True) if v in out)
        _forward(after, out, prune)
        if len(out) == size:
            break
    out.update(r for r, v in zip(op.results, cond.args, strict=True) if v in out)


def _forward_generic(op: Operation, out: set[SSAValue], prune: bool) -> None:
    """Unknown region ops: results depend on everything used inside."""
    for region in op.regions:
        for block in region.blocks:
            _forward(block, out, prune)
    if any(v in out for inner in op.walk() for v in inner.operands):
        out.update(op.results)


def _backward(block: Block, a: Analysis) -> None:
    """Add to `a.useful` what the useful values of `block` depend on."""
    for op in reversed(list(block.ops)):
        if not any(r in a.useful for r in op.results):
            continue
        _check_on_path(op, a)
        if isinstance(op, scf.IfOp):
            for region in op.regions:
                if region.blocks:
                    for i, r in enumerate(op.results):
                        if r in a.useful:
                            a.useful.add(region.block.last_op.operands[i])  # type: ignore[union-attr]
                    _backward(region.block, a)
        elif not op.regions:
            a.useful.update(op.operands)


def _check_on_path(op: Operation, a: Analysis) -> None:
    """Errors for ops the objective depends on that cannot be differentiated."""
    on_path = any(r in a.useful and r in a.deps for r in op.results)
    if isinstance(op, func.CallOp):
        raise CompileError(
            f"call to @{op.callee.string_value()} inside an optimize body: "
            "run noma-inline before noma-autodiff",
            source_loc(op),
        )
    if isinstance(op, scf.WhileOp) and on_path:
        raise CompileError("cannot differentiate through a while loop", source_loc(op))
    if op.regions and not isinstance(op, scf.IfOp | scf.WhileOp) and on_path:
        raise CompileError(f"cannot differentiate through `{op.name}`", source_loc(op))
    if isinstance(op, T.InsertOp) and op.value in a.deps:
        var = op.attributes.get("noma.var")
        name = var.data if isinstance(var, StringAttr) else "a tensor"
        raise CompileError(
            f"storing a value that depends on a parameter into `{name}` inside an "
            "optimize body is not supported yet",
            source_loc(op),
        )


# ----------------------------------------------------------------- export


def _defined_in(v: SSAValue, block: Block) -> bool:
    if isinstance(v, BlockArgument):
        return v.block is block
    assert isinstance(v, OpResult)
    return v.owner.parent_block() is block


def _defined_inside(v: SSAValue, op: Operation) -> bool:
    if isinstance(v, BlockArgument):
        return op.is_ancestor(v.block)
    return isinstance(v, OpResult) and op.is_ancestor(v.owner)


def _needed(block: Block, a: Analysis) -> list[SSAValue]:
    """Values of `block` that the adjoint code reads: operands and results of
    active ops in `block` or nested in it (conditions of nested ifs included)."""
    needed: dict[SSAValue, None] = {}
    for op in block.walk():
        if not a.active_op(op):
            continue
        for v in (*op.operands, *op.results):
            if _defined_in(v, block) and not isinstance(v.type, BufferType):
                needed[v] = None
    return list(needed)


def _export_type(t: Attribute) -> Attribute:
    if isinstance(t, TensorType):
        return dynamic_tensor(len(t.get_shape()))
    return t


def _export_if(op: scf.IfOp, a: Analysis, exports: dict[SSAValue, SSAValue]) -> None:
    """Rebuild `op` so that it also yields what its adjoint needs (innermost
    first); values it yields already are read from its existing results."""
    blocks = [region.block for region in op.regions if region.blocks]
    for block in blocks:
        for inner in list(block.ops):
            if isinstance(inner, scf.IfOp) and a.active_op(inner):
                _export_if(inner, a, exports)
    needed = [v for block in blocks for v in _needed(block, a)]
    reused: dict[SSAValue, int] = {}
    for block in blocks:
        for i, v in enumerate(block.last_op.operands):  # type: ignore[union-attr]
            if v in needed and _defined_in(v, block):
                reused.setdefault(v, i)
    extra = [v for v in needed if v not in reused]
    if extra:
        op = _rebuild_if(op, extra, blocks, a)
    n = len(op.results) - len(extra)
    targets = {v: op.results[i] for v, i in reused.items()}
    targets.update((v, op.results[n + k]) for k, v in enumerate(extra))
    for v, where in list(exports.items()):
        if where in targets:
            exports[v] = targets[where]
    for v, res in targets.items():
        exports.setdefault(v, res)


def _rebuild_if(op: scf.IfOp, extra: list[SSAValue], blocks: list[Block], a: Analysis) -> scf.IfOp:
    """`op` with more results: `extra`, each from the branch that defines it."""
    types = [_export_type(v.type) for v in extra]
    for block in blocks:
        _extend_yield(block, extra, types)
    then_region, else_region = op.true_region, op.false_region
    new = scf.IfOp(
        op.cond,
        [*op.result_types, *types],
        op.detach_region(then_region),
        op.detach_region(else_region),
        attr_dict=dict(op.attributes),
    )
    new.location = op.location
    n = len(op.results)
    for old, res in zip(op.results, new.results, strict=False):
        a.replaced(old, res)
    Rewriter.replace_op(op, new, new.results[:n])
    return new


def _extend_yield(block: Block, needed: list[SSAValue], types: list[Attribute]) -> None:
    term = block.last_op
    assert isinstance(term, scf.YieldOp)
    b = Builder(InsertPoint.before(term))
    extra = [
        _coerce(b, v, t) if _defined_in(v, block) else _placeholder(b, t)
        for v, t in zip(needed, types, strict=True)
    ]
    Rewriter.replace_op(term, scf.YieldOp(*term.operands, *extra), [])


def _coerce(b: Builder, v: SSAValue, t: Attribute) -> SSAValue:
    if v.type == t:
        return v
    return b.insert(T.CastOp(v, t)).result


def _placeholder(b: Builder, t: Attribute) -> SSAValue:
    """Some value of type `t` (for the branch that does not compute it)."""
    if t == i1:
        return b.insert(arith.ConstantOp(IntegerAttr(0, i1))).result
    if t == f64:
        return b.insert(arith.ConstantOp(FloatAttr(0.0, f64))).result
    rank = len(t.get_shape()) if isinstance(t, TensorType) else 1
    one = b.insert(arith.ConstantOp(FloatAttr(1.0, f64))).result
    zeros = b.insert(T.ZerosOp([one] * rank, dynamic_tensor(rank))).result
    return _coerce(b, zeros, t) if isinstance(t, UnrankedTensorType) else zeros


# ----------------------------------------------------------------- emission


Adjoints = dict[SSAValue, SSAValue]


class Emitter:
    """Builds the adjoint code of one optimize body."""

    def __init__(self, a: Analysis, exports: dict[SSAValue, SSAValue], opt: OptimizeOp):
        self.a = a
        self.exports = exports
        self.opt = opt
        self.builders: list[Builder] = []
        self.memos: list[dict[SSAValue, SSAValue]] = []
        self.block_memos: dict[Block, dict[SSAValue, SSAValue]] = {}

    @property
    def builder(self) -> Builder:
        return self.builders[-1]

    @contextmanager
    def scope(self, block: Block) -> Iterator[None]:
        """Emit at the end of `block` (a new dominance scope for mapped primals)."""
        self.builders.append(Builder(InsertPoint.at_end(block)))
        self.memos.append(self.block_memos.setdefault(block, {}))
        try:
            yield
        finally:
            self.builders.pop()
            self.memos.pop()

    def place(self, op: Operation, like: Operation | None = None) -> None:
        """Insert `op` (with the location of `like`)."""
        if like is not None:
            op.location = like.location
        self.builder.insert(op)

    def insert(self, op: Operation, like: Operation | None = None) -> SSAValue:
        """Insert a one-result op and return its result."""
        self.place(op, like)
        return op.results[0]

    # --- the top level

    def emit(self, minimize: MinimizeOp) -> None:
        term = self.opt.block.last_op
        assert isinstance(term, YieldOp)
        b = Builder(InsertPoint.before(term))
        true = b.insert(arith.ConstantOp(IntegerAttr(1, i1))).result
        go = b.insert(arith.XOrIOp(term.stop, true)).result
        block = Block()
        with self.scope(block):
            adj: Adjoints = {}
            objective = minimize.objective
            if objective in self.a.varied:
                adj[objective] = self.insert(arith.ConstantOp(FloatAttr(1.0, f64)))
            self.backprop(_ops_before(minimize), adj)
            for p in self.a.trained:
                grad = adj[p] if p in adj else self.zeros_for(p)
                self.place(UpdateOp(p, grad), self.opt)
            self.place(scf.YieldOp())
        if_op = scf.IfOp(go, [], [block])
        if_op.location = self.opt.location
        b.insert(if_op)

    def zeros_for(self, key: SSAValue) -> SSAValue:
        """A zero adjoint for `key` (a value, or a parameter: its current shape)."""
        if isinstance(key.type, BufferType):
            return self.insert(T.ZerosLikeOp(self.insert(mem.LoadOp(key))))
        return self.insert(T.ZerosLikeOp(self.primal(key)))

    # --- values and adjoints

    def primal(self, v: SSAValue) -> SSAValue:
        """`v` as visible at the insertion point (through the if exports)."""
        if v not in self.exports:
            return v
        for memo in reversed(self.memos):
            if v in memo:
                return memo[v]
        src = self.exports[v]
        val = src if src.type == v.type else self.insert(T.CastOp(src, v.type))
        self.memos[-1][v] = val
        return val

    def accumulate(self, adj: Adjoints, key: SSAValue, contribution: SSAValue) -> None:
        """adj[key] += contribution, in the type of `key`'s value."""
        t = _adjoint_type(key)
        if contribution.type != t:
            contribution = self.insert(T.CastOp(contribution, t))
        if key in adj:
            contribution = self.insert(T.AddOp(adj[key], contribution, t))
        adj[key] = contribution

    def param_contribution(self, p: SSAValue, g: SSAValue) -> SSAValue:
        """The adjoint of a load of `p`, in `p`'s current shape (SPEC §7)."""
        if p not in self.a.reshaped:
            return g
        assert isinstance(p.type, BufferType)
        rank = p.type.value_rank() or self.a.reshaped[p]
        if not rank:
            return g
        dims = [self.insert(mem.DimOp(p, k)) for k in range(rank)]
        return self.insert(T.ResizeOp(g, dims, "zeros"))

    # --- the walk

    def backprop(self, ops: Iterable[Operation], adj: Adjoints) -> None:
        """Visit `ops` (in reverse program order) and propagate adjoints."""
        for op in ops:
            if not any(r in adj for r in op.results):
                continue
            if isinstance(op, scf.IfOp):
                self.adjoint_if(op, adj)
            else:
                self.apply_rule(op, adj)

    def apply_rule(self, op: Operation, adj: Adjoints) -> None:
        rule = VJP_RULES.get(type(op), _MISSING)
        if rule is None:
            return
        if rule is _MISSING or len(op.results) != 1:
            raise CompileError(f"cannot differentiate `{op.name}`", source_loc(op))
        assert callable(rule)
        ctx = VJPContext(op, adj[op.results[0]], self.builder, self.primal, self.a.active)
        for operand, grad in zip(op.operands, rule(ctx), strict=False):
            if grad is None or not self.a.active(operand):
                continue
            if isinstance(operand.type, BufferType):
                grad = self.param_contribution(operand, grad)
            self.accumulate(adj, operand, grad)

    def adjoint_if(self, op: scf.IfOp, adj: Adjoints) -> None:
        """An `scf.if` on the same condition, backpropagating through each
        branch and yielding the adjoints of values from outside `op`."""
        branches = [self.branch(region, op, adj) for region in op.regions]
        keys = list(dict.fromkeys(k for _, local in branches for k in local))
        keys = [k for k in keys if not _defined_inside(k, op)]
        if not keys:
            for block, _ in branches:
                block.erase(safe_erase=False)
            return
        for block, local in branches:
            with self.scope(block):
                values = [local[k] if k in local else self.zeros_for(k) for k in keys]
                self.place(scf.YieldOp(*values))
        blocks = [block for block, _ in branches]
        new = scf.IfOp(
            self.primal(op.cond), [_adjoint_type(k) for k in keys], [blocks[0]], [blocks[1]]
        )
        self.place(new, op)
        for k, r in zip(keys, new.results, strict=True):
            self.accumulate(adj, k, r)

    def branch(self, region: Region, op: scf.IfOp, adj: Adjoints) -> tuple[Block, Adjoints]:
        block, local = Block(), {}
        if not region.blocks:
            return block, local
        term = region.block.last_op
        assert term is not None
        with self.scope(block):
            for i, r in enumerate(op.results):
                v = term.operands[i]
                if r in adj and self.a.active(v):
                    self.accumulate(local, v, adj[r])
            self.backprop(_ops_before(term), local)
        return block, local


def _ops_before(op: Operation) -> Iterator[Operation]:
    """The ops before `op` in its block, nearest first."""
    cur = op.prev_op
    while cur is not None:
        prev = cur.prev_op
        yield cur
        cur = prev


def _adjoint_type(key: SSAValue) -> Attribute:
    if isinstance(key.type, BufferType):
        return key.type.value_type()
    return key.type
