"""`noma-to-llvm`: NOMA's lowered IR to the `llvm` dialect (runtime calls)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func, llvm
from xdsl.dialects.builtin import FloatAttr, ModuleOp, StringAttr, f64
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import Rewriter

from noma.diagnostics import CompileError
from noma.dialects import mem, train
from noma.dialects import tensor as nt
from noma.passes import source_loc
from noma.passes.to_llvm_cf import lower_scf
from noma.passes.to_llvm_fused import FusedLowering
from noma.passes.to_llvm_mem import MEM_LOWERINGS
from noma.passes.to_llvm_std import (
    ARITH_LOWERINGS,
    BranchLowering,
    FunctionLowering,
    convert_type,
    function_symbol,
)
from noma.passes.to_llvm_support import LOOPS, PTR, Emitter, Globals, Hoisted
from noma.passes.to_llvm_tensor import TENSOR_LOWERINGS, Lowering, TypeOf
from noma.passes.to_llvm_views import ViewLowering, view_loads

ENTRY_ATTR = "noma.entry"
#: Ops that earlier passes of the native pipeline must have removed.
_TOO_EARLY: dict[type[Operation], str] = {
    train.OptimizeOp: "noma-lower-train",
    train.UpdateOp: "noma-expand-optimizers",
    train.ResetStateOp: "noma-expand-optimizers",
}


@dataclass(frozen=True)
class ToLLVMPass(ModulePass):
    """Lower func/arith/cf and every NOMA op to the `llvm` dialect.

    Expects: `noma-lower-train` done (no `noma.train.optimize`, `update` or
    `reset_state` left); normally after `convert-scf-to-cf`, whose missing
    `scf.while` lowering (and any `scf` op left) is done here first.
    Produces: a module of `llvm.func`s and `llvm.mlir.global`s only. f64 and
    i1 stay; every tensor, `!noma.mem.buffer` and `!noma.io.archive` is an
    `!llvm.ptr` to a runtime `noma_tensor` descriptor / archive handle.
    Tensor-producing ops call the runtime (noma_rt.h) with their own slot (a
    zero-initialised global descriptor) as `out`; scalar element-wise ops
    are inline LLVM; constants are constant globals; index and dimension
    lists go through per-site global arrays; each op that can fail passes
    a constant `noma_site` with its source line. A `noma.tensor.fused` op
    calls a generated kernel `@noma.fused.N` (one loop over the elements,
    with the op-by-op fallback; see `to_llvm_fused.py`). The entry function (module
    attribute `noma.entry`, else `main`, else the first) becomes
    `void @noma_entry()` printing its return value, if any; other functions
    reachable from it become `@"noma.fn.NAME"`, unreachable ones are
    dropped. Runtime functions are declared as external body-less
    `llvm.func`s. Block argument types are converted in one sweep at the end.
    """

    name = "noma-to-llvm"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        _check_order(op)
        views = view_loads(op)  # on the structured IR
        lower_scf(op)
        entry = entry_name(op)
        functions = _reachable_functions(op, entry)
        g = Globals(op)
        for fn in functions:
            _lower_function(g, fn, entry, views)
        if g.counts_loops:
            _reset_loop_counter(op)
        g.flush()
        _convert_block_types(op)


def entry_name(module: ModuleOp) -> str | None:
    """The entry function: `noma.entry`, else `main`, else the first function."""
    attr = module.attributes.get(ENTRY_ATTR)
    names = [f.sym_name.data for f in module.ops if isinstance(f, func.FuncOp)]
    if isinstance(attr, StringAttr) and attr.data in names:
        return attr.data
    if "main" in names:
        return "main"
    return names[0] if names else None


def _check_order(module: ModuleOp) -> None:
    for inner in module.walk():
        needed = _TOO_EARLY.get(type(inner))
        if needed is not None:
            raise CompileError(
                f"noma-to-llvm: found {inner.name}; run {needed} first", source_loc(inner)
            )


def _reachable_functions(module: ModuleOp, entry: str | None) -> list[func.FuncOp]:
    """The functions reachable from the entry by calls; the others are erased."""
    funcs = {f.sym_name.data: f for f in module.ops if isinstance(f, func.FuncOp)}
    seen: set[str] = set()
    todo = [entry] if entry in funcs else []
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for inner in funcs[name].walk():
            if isinstance(inner, func.CallOp) and inner.callee.string_value() in funcs:
                todo.append(inner.callee.string_value())
    for name, fn in funcs.items():
        if name not in seen:
            Rewriter.erase_op(fn)
    return [funcs[name] for name in funcs if name in seen]


def _lower_function(g: Globals, fn: func.FuncOp, entry: str | None, views: set[mem.LoadOp]) -> None:
    is_entry = fn.sym_name.data == entry
    table: dict[type[Operation], Lowering] = {
        **TENSOR_LOWERINGS,
        **MEM_LOWERINGS,
        **ARITH_LOWERINGS,
        **BranchLowering(fn.body).lowerings(),
        **FunctionLowering(is_entry, entry).lowerings(),
    }
    original: dict[SSAValue, Attribute] = {}

    def type_of(v: SSAValue) -> Attribute:
        return original.get(v, v.type)

    fused = FusedLowering(lambda e: _lower_op(e, table, original, type_of))
    table[nt.FusedOp] = fused.lower  # type: ignore[assignment]
    table[mem.LoadOp] = ViewLowering(views, MEM_LOWERINGS[mem.LoadOp]).lower  # type: ignore[assignment]

    entry_block = fn.body.blocks.first
    assert entry_block is not None
    hoisted = Hoisted(entry_block)
    for op in list(_ops(fn)):
        _lower_op(Emitter(g, hoisted, op), table, original, type_of)
    _replace_function(fn, entry, is_entry)


def _ops(fn: func.FuncOp) -> Iterator[Operation]:
    for block in fn.body.blocks:
        yield from block.ops


def _lower_op(
    e: Emitter,
    table: dict[type[Operation], Lowering],
    original: dict[SSAValue, Attribute],
    type_of: TypeOf,
) -> None:
    op = e.op
    lowering = table.get(type(op))
    if lowering is None:
        if op.dialect_name() == "llvm":
            return
        raise CompileError(f"noma-to-llvm: cannot lower '{op.name}'", source_loc(op))
    results = lowering(e, op, type_of)
    for old, new in zip(op.results, results, strict=True):
        original[new] = old.type
        if new.name_hint is None:
            new.name_hint = old.name_hint
    Rewriter.replace_op(op, [], list(results))


def _replace_function(fn: func.FuncOp, entry: str | None, is_entry: bool) -> None:
    inputs = [convert_type(t) for t in fn.function_type.inputs.data]
    outputs = fn.function_type.outputs.data
    result = None if is_entry or not outputs else convert_type(outputs[0])
    body = fn.detach_region(fn.body)
    new = llvm.FuncOp(
        function_symbol(fn.sym_name.data, entry),
        llvm.LLVMFunctionType(inputs, result),
        linkage=llvm.LinkageAttr("external" if is_entry else "internal"),
        body=body,
    )
    Rewriter.replace_op(fn, new)


def _reset_loop_counter(module: ModuleOp) -> None:
    """`@noma.loops = 0` when the entry starts (a JIT program may run again)."""
    for fn in module.ops:
        if isinstance(fn, llvm.FuncOp) and fn.sym_name.data == "noma_entry":
            block = fn.body.blocks.first
            assert block is not None
            zero = llvm.ConstantOp(FloatAttr(0.0, f64), f64)
            counter = llvm.AddressOfOp(LOOPS, PTR)
            ops = [zero, counter, llvm.StoreOp(zero, counter)]
            if block.first_op is None:
                block.add_ops(ops)
            else:
                block.insert_ops_before(ops, block.first_op)


def _convert_block_types(module: ModuleOp) -> None:
    """The one type sweep: block arguments get their llvm types."""
    for fn in module.ops:
        if not isinstance(fn, llvm.FuncOp):
            continue
        for block in fn.body.blocks:
            for arg in block.args:
                new = convert_type(arg.type)
                if new != arg.type:
                    Rewriter.replace_value_with_new_type(arg, new)
