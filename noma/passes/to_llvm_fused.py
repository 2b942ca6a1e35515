"""`noma-to-llvm`, part 4: `noma.tensor.fused` as a call of a generated kernel.

Each fused op becomes a call of a function `@noma.fused.N` whose arguments
are the op's inputs (tensors and buffers as descriptors, scalars as
doubles), then the op's output slots, then the `noma_site`s of the body's
source locations. Fused ops with the same body (the same ops on the same
argument pattern, e.g. the Adam step of every parameter and loop) share one
kernel, so a program compiles each distinct chain once; only a constant
exponent of `pow` is folded into the kernel (it selects NumPy's fast path).
The kernel:

- entry: the guard. Every tensor input and every buffer must have the rank
  of the op's tensors and the dims of the first one (the reference); `n` is
  the reference's element count.
- fast path: each output slot gets room for `n` elements (through
  `noma_rt_zeros_like` when it is too small, as a kernel would grow it) and
  the reference's shape; then `@noma.fused.N.loop` runs on the data
  pointers, which it takes `noalias` (they are distinct objects: loads copy
  and every op has its own slots), so LLVM vectorizes it without run-time
  alias checks. Its loop computes the body per element in registers with
  exactly the scalar formulas of the runtime kernels (NumPy's fast paths of
  `pow` with a scalar exponent included), so the results are bit-identical:
  `noma.mem.load` reads the buffer's element, `noma.mem.store` writes it in
  place (the guard makes the buffer's dims those of the stored value), and
  only outputs and stores are written. `pow(scalar, tensor)` (Adam's bias
  corrections) runs first, in a loop of its own into a scratch array (a
  slot of the kernel), calling libm only for an exponent that is not one of
  the last two distinct ones, so the main loop has no branches or calls. No
  fast-math flags are set, so LLVM neither reassociates nor contracts into
  FMAs.
- slow path (the guard failed: broadcasting between tensors, a freed
  buffer, a rank error): the body lowered op by op by the ordinary
  lowerings (one runtime call per op; errors at each op's own location,
  through the site arguments), then the outputs copied into the output
  slots.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from xdsl.dialects import llvm
from xdsl.dialects.builtin import (
    ArrayAttr,
    DenseArrayBase,
    DictionaryAttr,
    Float64Type,
    IntegerAttr,
    UnitAttr,
    f64,
    i32,
    i64,
)
from xdsl.ir import Attribute, Block, BlockArgument, Operation, Region, SSAValue
from xdsl.rewriter import Rewriter

from noma.diagnostics import SourceLoc
from noma.dialects import mem
from noma.dialects import tensor as nt
from noma.passes.to_llvm_std import convert_type
from noma.passes.to_llvm_support import (
    PTR,
    SCRATCH,
    Emitter,
    Globals,
    Hoisted,
    constant_f64,
    is_f64,
    location_of,
)
from noma.passes.to_llvm_tensor import (
    CMP_PREDICATES,
    SCALAR_BINARY,
    SCALAR_UNARY,
    TypeOf,
    pow_fast_paths,
)

#: `llvm.icmp` predicates (their index in xDSL's list)
EQ, SLT = 0, 2
#: int64 words of a `noma_tensor` (data pointer, cap, rank, dims[4], scalar)
CAP, RANK, DIMS = 1, 2, 3

# ----------------------------------------------------------------- cheap op building

_GEP_PROPS: dict[tuple[tuple[int, ...], Attribute, bool], dict[str, Attribute]] = {}
_NO_WRAP = IntegerAttr(0, 32)


def _gep(e: Emitter, ptr: SSAValue, index: int | SSAValue, elem: Attribute) -> SSAValue:
    """`&((elem *) ptr)[index]` (a constant or an i64 index); the property
    attributes are shared between ops (building them dominates the cost)."""
    dynamic = isinstance(index, SSAValue)
    raw = (llvm.GEP_USE_SSA_VAL,) if dynamic else (index,)  # type: ignore[assignment]
    key = (raw, elem, dynamic)
    props = _GEP_PROPS.get(key)
    if props is None:
        props = _GEP_PROPS[key] = {
            "rawConstantIndices": DenseArrayBase.from_list(i32, raw),  # type: ignore[arg-type]
            "elem_type": elem,
            "noWrapFlags": _NO_WRAP,
            **({"inbounds": UnitAttr()} if dynamic else {}),
        }
    operands = [ptr, index] if dynamic else [ptr]
    return e.add(llvm.GEPOp.create(operands=operands, result_types=[PTR], properties=dict(props)))


_LOAD_PROPS = {"ordering": IntegerAttr(0, i64)}


def _load(e: Emitter, ptr: SSAValue, typ: Attribute) -> SSAValue:
    return e.add(
        llvm.LoadOp.create(operands=[ptr], result_types=[typ], properties=dict(_LOAD_PROPS))
    )


def _word(e: Emitter, desc: SSAValue, k: int) -> SSAValue:
    """int64 word `k` of a `noma_tensor` (1 cap, 2 rank, 3.. dims)."""
    return _load(e, _gep(e, desc, k, i64), i64)


def _icmp(e: Emitter, pred: int, a: SSAValue, b: SSAValue) -> SSAValue:
    return e.add(llvm.ICmpOp(a, b, IntegerAttr(pred, i64)))


class _Cursor:
    """Emits at the end of `block` (before a placeholder that `end` replaces
    by the block's terminator)."""

    def __init__(self, g: Globals, hoisted: Hoisted, block: Block):
        self.block = block
        self.anchor = llvm.UnreachableOp()
        block.add_op(self.anchor)
        self.e = Emitter(g, hoisted, self.anchor)

    def end(self, terminator: Operation) -> None:
        Rewriter.replace_op(self.anchor, terminator)


@dataclass
class _SiteEmitter(Emitter):
    """An emitter whose `site()` is a kernel argument (the sites of the call)."""

    sites: dict[SourceLoc, SSAValue] = field(default_factory=dict)

    def site(self) -> SSAValue:
        loc = location_of(self.op.location)
        return self.null() if loc is None else self.sites[loc]


# ----------------------------------------------------------------- the lowering


def _folded(op: nt.FusedOp) -> list[float | None]:
    """Per input: its value when folded into the kernel (a constant exponent of
    `pow` on a tensor), else None (passed as an argument)."""
    block = op.body.block
    exponents = {
        inner.rhs
        for inner in block.ops
        if isinstance(inner, nt.PowOp) and is_f64(inner.rhs) and not is_f64(inner.lhs)
    }
    return [
        constant_f64(outer) if arg in exponents and is_f64(outer) else None
        for arg, outer in zip(block.args, op.inputs, strict=True)
    ]


def _locations(block: Block) -> list[SourceLoc]:
    """The distinct source locations of a fused body's ops, in order."""
    found: list[SourceLoc] = []
    for inner in block.ops:
        loc = location_of(inner.location)
        if loc is not None and loc not in found:
            found.append(loc)
    return found


def _signature(op: nt.FusedOp, folded: list[float | None], locs: list[SourceLoc]) -> object:
    """What the kernel of a fused op depends on: argument types and folded
    constants, and per body op its name, properties, operands (by position),
    result types and location (by index in `locs`)."""
    block = op.body.block
    index: dict[SSAValue, int] = {arg: k for k, arg in enumerate(block.args)}
    ops = []
    for inner in block.ops:
        loc = location_of(inner.location)
        ops.append((
            inner.name,
            tuple(sorted((k, str(v)) for k, v in inner.properties.items())),
            tuple(index[v] for v in inner.operands),
            tuple(str(r.type) for r in inner.results),
            None if loc is None else locs.index(loc),
        ))  # fmt: skip
        for r in inner.results:
            index[r] = len(index)
    types = tuple(str(a.type) for a in block.args)
    return (types, tuple(folded), tuple(ops))


class FusedLowering:
    """Lowers `noma.tensor.fused` ops; `lower_op` lowers one op of a slow
    path with the ordinary lowering table. Kernels are shared through `g`."""

    def __init__(self, lower_op: Callable[[Emitter], None]):
        self.lower_op = lower_op

    def lower(self, e: Emitter, op: nt.FusedOp, type_of: TypeOf) -> Sequence[SSAValue]:
        folded = _folded(op)
        locs = _locations(op.body.block)
        # buffers passed in from a function's arguments might be one buffer:
        # then the loop's data pointers get no `noalias`
        distinct = not any(
            isinstance(v, BlockArgument) and isinstance(a.type, mem.BufferType)
            for v, a in zip(op.inputs, op.body.block.args, strict=True)
        )
        key = (_signature(op, folded, locs), distinct)
        name = e.g.kernels.get(key)
        if name is None:
            name = e.g.kernels[key] = e.g.fresh("fused")
            kernel = _Kernel(e.g, op, folded, len(locs), self.lower_op)
            e.g.new_ops += kernel.build(name, distinct)
        slots = [e.slot() for _ in op.outputs]
        passed = [v for v, c in zip(op.inputs, folded, strict=True) if c is None]
        sites = [e.addr(e.g.site(loc)) for loc in locs]
        e.run(llvm.CallOp(name, *passed, *slots, *sites))
        return slots


class _Function:
    """A generated `llvm.func` under construction: its blocks, in order."""

    def __init__(self, g: Globals, arg_types: Sequence[Attribute]):
        self.g = g
        self.entry = Block(arg_types=arg_types)
        self.hoisted = Hoisted(self.entry)
        self.blocks: list[Block] = [self.entry]

    def cursor(self, block: Block) -> _Cursor:
        if block is not self.entry:
            self.blocks.append(block)
        return _Cursor(self.g, self.hoisted, block)

    def func_op(self, name: str, noalias: Sequence[bool] = ()) -> llvm.FuncOp:
        arg_types = [convert_type(a.type) for a in self.entry.args]
        props: dict[str, Attribute | None] = {}
        if any(noalias):
            props["arg_attrs"] = ArrayAttr(
                [DictionaryAttr({"llvm.noalias": UnitAttr()} if k else {}) for k in noalias]
            )
        return llvm.FuncOp(
            name,
            llvm.LLVMFunctionType(arg_types, None),
            linkage=llvm.LinkageAttr("internal"),
            body=Region(self.blocks),
            other_props=props,
        )


def _memo_pows(body: Block) -> list[nt.PowOp] | None:
    """The `pow(scalar, tensor)` ops of a body when every exponent can be
    computed in a loop of its own before the main one (from inputs, loads of
    buffers not stored earlier in the body, and element-wise ops), else None
    (their memo then stays inside the main loop, which LLVM cannot vectorize)."""
    pows = [
        op for op in body.ops if isinstance(op, nt.PowOp) and is_f64(op.lhs) and not is_f64(op.rhs)
    ]
    stored: set[SSAValue] = set()
    stored_before: dict[Operation, set[SSAValue]] = {}
    for op in body.ops:
        stored_before[op] = set(stored)
        if isinstance(op, mem.StoreOp):
            stored.add(op.buffer)
    for pow_op in pows:
        for op in _slice(pow_op.rhs):
            if isinstance(op, mem.StoreOp) or op in pows:
                return None
            if isinstance(op, mem.LoadOp) and op.buffer in stored_before[op]:
                return None
    return pows


def _slice(v: SSAValue) -> list[Operation]:
    """The body ops `v` depends on, in body order."""
    found: set[Operation] = set()
    todo = [v]
    while todo:
        owner = todo.pop().owner
        if isinstance(owner, Operation) and owner not in found:
            found.add(owner)
            todo += owner.operands
    block = v.owner.parent_block() if isinstance(v.owner, Operation) else None
    return [op for op in block.ops if op in found] if block is not None else []


class _Kernel(_Function):
    """The generated function of one fused op (see the module docstring)."""

    def __init__(
        self,
        g: Globals,
        op: nt.FusedOp,
        folded: list[float | None],
        n_sites: int,
        lower_op: Callable[[Emitter], None],
    ):
        self.op, self.lower_op, self.folded = op, lower_op, folded
        self.body = op.body.block
        passed = [a.type for a, c in zip(self.body.args, folded, strict=True) if c is None]
        n_out = len(op.outputs)
        # block argument types: the inputs' own (converted by noma-to-llvm's
        # final sweep, so the slow path's lowerings still see tensor types)
        super().__init__(g, [*passed, *[PTR] * (n_out + n_sites)])
        self.entry_cursor = self.cursor(self.entry)
        args = iter(self.entry.args)
        #: kernel value of each body argument (a kernel argument or a constant)
        self.value: dict[SSAValue, SSAValue] = {}
        for arg, known in zip(self.body.args, folded, strict=True):
            self.value[arg] = next(args) if known is None else self.entry_cursor.e.f64(known)
        self.outs = [next(args) for _ in range(n_out)]
        self.sites = list(args)
        self.rank = next(
            t.value_rank() if isinstance(t, mem.BufferType) else len(t.get_shape())  # type: ignore[attr-defined]
            for t in (a.type for a in self.body.args)
            if not isinstance(t, Float64Type)
        )
        self.pows = _memo_pows(self.body)

    def build(self, name: str, distinct: bool) -> list[llvm.FuncOp]:
        """The kernel `name` and its loop function `name.loop`."""
        shaped = [a for a in self.body.args if not is_f64(a)]
        ref = self.value[shaped[0]]
        c = self.entry_cursor
        dims = [_word(c.e, ref, DIMS + j) for j in range(self.rank)]
        n = dims[0]
        for d in dims[1:]:
            n = c.e.add(llvm.MulOp(n, d))
        ok = None
        rank = c.e.i64(self.rank)
        for arg in shaped:
            ptr = self.value[arg]
            conds = [_icmp(c.e, EQ, _word(c.e, ptr, RANK), rank)]
            if ptr is not ref:
                conds += [
                    _icmp(c.e, EQ, _word(c.e, ptr, DIMS + j), dims[j]) for j in range(self.rank)
                ]
            for cond in conds:
                ok = cond if ok is None else c.e.add(llvm.AndOp(ok, cond))
        assert ok is not None
        prep, slow = Block(), Block()
        c.end(llvm.CondBrOp(ok, prep, [], slow, []))
        loop = self._fast_path(prep, ref, dims, n, f"{name}.loop", distinct)
        self._slow_path(slow)
        return [loop, self.func_op(name)]

    def _fast_path(
        self, prep: Block, ref: SSAValue, dims: list[SSAValue], n: SSAValue, name: str,
        distinct: bool,
    ) -> llvm.FuncOp:  # fmt: skip
        """Output and scratch slots with room for n elements (as noma__ensure
        would grow them), outputs shaped like the reference, then the call of
        the loop function on the data pointers."""
        c = self.cursor(prep)
        scratch = [c.e.slot_at(self.g.slot()) for _ in self.pows or ()]
        for out in [*self.outs, *scratch]:
            cap = _word(c.e, out, CAP)
            small = c.e.add(llvm.OrOp(_icmp(c.e, SLT, cap, n), _icmp(c.e, EQ, cap, c.e.i64(0))))
            grow, after = Block(), Block()
            c.end(llvm.CondBrOp(small, grow, [], after, []))
            g = self.cursor(grow)
            g.e.call("noma_rt_zeros_like", out, ref)
            g.end(llvm.BrOp(after))
            c = self.cursor(after)
        for out in self.outs:
            c.e.run(llvm.StoreOp(c.e.i64(self.rank), _gep(c.e, out, RANK, i64)))
            for j in range(4):
                d = dims[j] if j < self.rank else c.e.i64(0)
                c.e.run(llvm.StoreOp(d, _gep(c.e, out, DIMS + j, i64)))
        shaped = [a for a in self.body.args if not is_f64(a)]
        scalars = [
            a for a, k in zip(self.body.args, self.folded, strict=True) if is_f64(a) and k is None
        ]
        pointers = [
            _load(c.e, p, PTR) for p in [*(self.value[a] for a in shaped), *self.outs, *scratch]
        ]
        c.e.run(llvm.CallOp(name, n, *pointers, *(self.value[a] for a in scalars)))
        c.end(llvm.ReturnOp())
        loop = _LoopFunction(self, shaped, scalars, len(scratch))
        return loop.build(name, distinct)

    def _slow_path(self, slow: Block) -> None:
        body = self.body
        c = self.cursor(slow)
        self.op.body.detach_block(body)
        for arg in list(body.args):
            arg.replace_all_uses_with(self.value[arg])
            body.erase_arg(arg)
        c.end(llvm.BrOp(body))
        self.blocks.append(body)
        sites = dict(zip(_locations(body), self.sites, strict=True))
        term = body.last_op
        assert isinstance(term, nt.FusedYieldOp)
        for inner in list(body.ops):
            if inner is not term:
                self.lower_op(_SiteEmitter(self.g, self.hoisted, inner, sites))
        e = Emitter(self.g, self.hoisted, term)
        for value, out in zip(term.values, self.outs, strict=True):
            e.call("noma_rt_buf_load", out, value, e.null())
        Rewriter.replace_op(term, llvm.ReturnOp())


class _LoopFunction(_Function):
    """`void name.loop(i64 n, data pointers of the tensor inputs and buffers,
    of the outputs and of the scratch arrays, the scalars)`: the loops over
    the elements. The data pointers are `noalias` (distinct objects: loads
    copy, slots are per op), so LLVM vectorizes without run-time checks. The
    memoised `pow(scalar, tensor)`s run in a loop of their own, into
    scratch arrays, which keeps the main loop free of branches and calls."""

    def __init__(
        self, kernel: _Kernel, shaped: list[SSAValue], scalars: list[SSAValue], n_scratch: int
    ):
        self.kernel = kernel
        n_ptr = len(shaped) + len(kernel.outs) + n_scratch
        super().__init__(kernel.g, [i64, *[PTR] * n_ptr, *[f64] * len(scalars)])
        args = iter(self.entry.args)
        self.n = next(args)
        self.data = {a: next(args) for a in shaped}
        self.out_data = [next(args) for _ in kernel.outs]
        self.scratch = [next(args) for _ in range(n_scratch)]
        entry = self.cursor(self.entry)
        self.value: dict[SSAValue, SSAValue] = {a: next(args) for a in scalars}
        for arg, known in zip(kernel.body.args, kernel.folded, strict=True):
            if known is not None:
                self.value[arg] = entry.e.f64(known)
        self.entry_cursor = entry
        self.n_ptr = n_ptr

    def build(self, name: str, distinct: bool) -> llvm.FuncOp:
        body = self.kernel.body
        term = body.last_op
        assert isinstance(term, nt.FusedYieldOp)
        ops = [op for op in body.ops if op is not term]
        pows = self.kernel.pows
        c = self.entry_cursor
        if pows:
            needed = {op for p in pows for op in _slice(p.rhs)}
            cache = _PowCache(self, c, [self.value[p.lhs] for p in pows])

            def memos(loop: _Loop) -> None:
                for op in ops:
                    if op in needed:
                        loop.compute(op)
                for p, ptr in zip(pows, self.scratch, strict=True):
                    result = loop.memo_pow(loop.get(p.lhs), loop.get(p.rhs))
                    loop.e.run(llvm.StoreOp(result, _gep(loop.e, ptr, loop.i, f64)))

            c = self._loop(c, memos, cache)
            cache.save(c)
            for p, ptr in zip(pows, self.scratch, strict=True):
                self.data[p.result] = ptr

        def main(loop: _Loop) -> None:
            for op in ops:
                if op.results and op.results[0] in self.data:  # computed before
                    continue
                loop.compute(op)
            for value, ptr in zip(term.values, self.out_data, strict=True):
                loop.e.run(llvm.StoreOp(loop.get(value), _gep(loop.e, ptr, loop.i, f64)))

        self._loop(c, main).end(llvm.ReturnOp())
        noalias = [False, *[distinct] * self.n_ptr, *[False] * len(self.value)]
        return self.func_op(name, noalias[: len(self.entry.args)])

    def _loop(
        self, c: _Cursor, body: Callable[[_Loop], None], cache: _PowCache | None = None
    ) -> _Cursor:
        """`for i in [0, n): body`; returns the cursor after the loop."""
        header = Block(arg_types=[i64])
        h = self.cursor(header)
        i = header.args[0]
        first, exit_block = Block(), Block()
        loop = _Loop(self, header, self.cursor(first), i, c, cache)
        body(loop)
        last = loop.cursor
        last.end(llvm.BrOp(header, last.e.add(llvm.AddOp(i, last.e.i64(1))), *loop.carried_next))
        c.end(llvm.BrOp(header, c.e.i64(0), *loop.inits))
        h.end(llvm.CondBrOp(_icmp(h.e, SLT, i, self.n), first, [], exit_block, []))
        return self.cursor(exit_block)


class _PowCache:
    """The memo of a kernel's `pow(scalar, tensor)`s kept from one call to the
    next (in `@noma.scratch.f64`): the bases, the last two distinct exponents
    and the results. A call with the same bases (bit for bit) starts from
    them: e.g. the Adam steps of all parameters of a loop share one kernel,
    and their step counts repeat from one parameter to the next. A call
    with other bases starts afresh."""

    def __init__(self, fn: _LoopFunction, c: _Cursor, bases: list[SSAValue]):
        self.fn = fn
        e = c.e
        self.bases = [(self._slot(e), b) for b in bases]
        self.valid = self._slot(e)
        same = e.fcmp("oeq", _load(e, self.valid, f64), e.f64(1.0))
        for ptr, base in self.bases:
            stored = e.add(llvm.BitcastOp(_load(e, ptr, f64), i64))
            same = e.add(llvm.AndOp(same, _icmp(e, EQ, stored, e.add(llvm.BitcastOp(base, i64)))))
        self.same = same
        #: (slot, loop-carried value) of each cached exponent and result
        self.entries: list[tuple[SSAValue, SSAValue]] = []

    def _slot(self, e: Emitter) -> SSAValue:
        return _gep(e, e.addr(SCRATCH[f64]), self.fn.g.scratch(1), f64)

    def init(self, e: Emitter, default: float) -> tuple[SSAValue, SSAValue]:
        """(slot, initial value) of a new entry: the cached value, else `default`."""
        slot = self._slot(e)
        return slot, e.select(self.same, _load(e, slot, f64), e.f64(default))

    def save(self, c: _Cursor) -> None:
        """After the loop: store the last entries, the bases, and `valid`."""
        e = c.e
        for slot, value in self.entries:
            e.run(llvm.StoreOp(value, slot))
        for slot, base in self.bases:
            e.run(llvm.StoreOp(base, slot))
        e.run(llvm.StoreOp(e.f64(1.0), self.valid))


class _Loop:
    """The per-element computation of a fused body in one loop."""

    def __init__(
        self,
        fn: _LoopFunction,
        header: Block,
        cursor: _Cursor,
        i: SSAValue,
        before: _Cursor,
        cache: _PowCache | None,
    ):
        self.fn, self.header, self.cursor, self.i = fn, header, cursor, i
        self.before, self.cache = before, cache
        self.values: dict[SSAValue, SSAValue] = {}
        #: memoised pow: the values carried to the next element, their initial
        #: values, and per exponent (same1: it equals the most recent entry; hit)
        self.carried_next: list[SSAValue] = []
        self.inits: list[SSAValue] = []
        self.memos: dict[SSAValue, tuple[SSAValue, SSAValue]] = {}

    @property
    def e(self) -> Emitter:
        return self.cursor.e

    def get(self, v: SSAValue) -> SSAValue:
        """The element of `v` (a scalar is itself)."""
        found = self.values.get(v)
        if found is not None:
            return found
        if is_f64(v):
            return self.fn.value[v]
        found = self.values[v] = _load(self.e, _gep(self.e, self.fn.data[v], self.i, f64), f64)
        return found

    def compute(self, op: Operation) -> None:
        e, data = self.e, self.fn.data
        if isinstance(op, mem.StoreOp):
            e.run(llvm.StoreOp(self.get(op.value), _gep(e, data[op.buffer], self.i, f64)))
            return
        if isinstance(op, mem.LoadOp):
            result = _load(e, _gep(e, data[op.buffer], self.i, f64), f64)
        elif isinstance(op, nt.UnaryOp):
            result = SCALAR_UNARY[type(op)](e, self.get(op.operand))
        elif isinstance(op, nt.PowOp):
            result = self._pow(op)
        elif isinstance(op, nt.BinaryOp):
            result = SCALAR_BINARY[type(op)](e, self.get(op.lhs), self.get(op.rhs))
        elif isinstance(op, nt.CmpOp):
            pred = CMP_PREDICATES[op.predicate.data]
            result = e.bool_to_f64(e.fcmp(pred, self.get(op.lhs), self.get(op.rhs)))
        elif isinstance(op, nt.SelectOp):
            cond = e.fcmp("une", self.get(op.cond), e.f64(0.0))
            result = e.select(cond, self.get(op.lhs), self.get(op.rhs))
        elif isinstance(op, nt.CastOp | nt.ReduceLikeOp | nt.BroadcastLikeOp):
            result = self.get(op.operands[0])  # equal dims: the identity
        elif isinstance(op, nt.ZerosLikeOp):
            result = e.f64(0.0)
        else:
            raise AssertionError(f"{op.name} in a fused body")
        self.values[op.results[0]] = result

    def _pow(self, op: nt.PowOp) -> SSAValue:
        """NumPy's fast paths element by element (`pow_fast_paths`), as the
        runtime and the interpreter, whatever the shapes."""
        x, y = self.get(op.lhs), self.get(op.rhs)
        if is_f64(op.lhs) and not is_f64(op.rhs):
            return self.memo_pow(x, y)
        return pow_fast_paths(self.e, x, y)

    def memo_pow(self, base: SSAValue, x: SSAValue) -> SSAValue:
        """pow(base, x) for a scalar base, with NumPy's fast paths
        (`pow_fast_paths`), computed only when x differs from
        the last two distinct exponents seen (with base fixed, pow is a
        function of x: equal doubles, +0 and -0 included, give equal results;
        a NaN never matches). Two entries cover the step counts of a grown
        parameter (old and new elements alternate along each row). Pows of
        one exponent share the entries' exponents."""
        e = self.e
        memo = self.memos.get(x)
        if memo is None:  # the cached exponents: most recent first
            x1, x2 = self._carried(float("nan")), self._carried(float("nan"))
            same1 = e.fcmp("oeq", x, x1)
            hit = e.add(llvm.OrOp(same1, e.fcmp("oeq", x, x2)))
            memo = self.memos[x] = (same1, hit)
            self.carried_next += [x, e.select(same1, x2, x1)]
        same1, hit = memo
        p1, p2 = self._carried(0.0), self._carried(0.0)
        reuse, calc, join = Block(), Block(), Block(arg_types=[f64])
        self.cursor.end(llvm.CondBrOp(hit, reuse, [], calc, []))
        r = self.fn.cursor(reuse)
        r.end(llvm.BrOp(join, r.e.select(same1, p1, p2)))
        c = self.fn.cursor(calc)
        # libm's pow, not the llvm.pow intrinsic, which LLVM would speculate
        # out of the branch (it cannot fail) and so call for every element
        c.end(llvm.BrOp(join, pow_fast_paths(c.e, base, x, c.e.call("pow", base, x))))
        self.cursor = self.fn.cursor(join)
        result = join.args[0]
        self.carried_next += [result, self.e.select(same1, p2, p1)]
        return result

    def _carried(self, init: float) -> SSAValue:
        """A value carried from one element to the next (a loop header
        argument): `init` at first, or the kernel's cached value."""
        arg = self.header.insert_arg(f64, len(self.header.args))
        e = self.before.e
        if self.cache is None:
            self.inits.append(e.f64(init))
        else:
            slot, value = self.cache.init(e, init)
            self.inits.append(value)
            self.cache.entries.append((slot, arg))
        return arg
