"""`noma-inline`: inline every user function into the entry function."""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from noma.diagnostics import CompileError
from noma.passes import source_loc

ENTRY_ATTR = "noma.entry"
#: The most operations a function may have once every call in it is inlined:
#: each call doubling the work (`f(x) = g(g(x))`, 30 levels deep) would
#: otherwise make a program of a few lines take forever and all memory.
MAX_INLINED_OPS = 200_000


@dataclass(frozen=True)
class InlinePass(ModulePass):
    """Inline every call to a function of the module; keep only the entry function.

    Expects: a module of `func.func`s whose bodies are single blocks ending in
    `func.return` (the frontend makes early returns structured), calls as
    `func.call`, the entry's name in the module attribute `noma.entry`
    (else `main`, else the first function).
    Produces: the entry function alone, with no `func.call` to a function
    defined in the module. A cycle in the call graph is a CompileError
    "recursive call to NAME" at the call that closes it, found before any
    inlining (so the pass never loops); so is a function that would grow past
    `MAX_INLINED_OPS` operations (calls nested to exponential size).
    """

    name = "noma-inline"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        funcs = _defined_functions(op)
        order = _callees_first(funcs)
        _check_inlined_sizes(funcs, order)
        for name in order:
            _inline_calls(funcs[name], funcs)
        entry = entry_name(op)
        for name, fn in funcs.items():
            if name != entry and not _is_referenced(op, name):
                Rewriter.erase_op(fn)


def entry_name(module: ModuleOp) -> str | None:
    """The entry function: `noma.entry`, else `main`, else the first function."""
    attr = module.attributes.get(ENTRY_ATTR)
    if isinstance(attr, StringAttr):
        return attr.data
    names = [f.sym_name.data for f in module.ops if isinstance(f, func.FuncOp)]
    if "main" in names:
        return "main"
    return names[0] if names else None


def _defined_functions(module: ModuleOp) -> dict[str, func.FuncOp]:
    return {
        f.sym_name.data: f
        for f in module.ops
        if isinstance(f, func.FuncOp) and not f.is_declaration
    }


def _calls(fn: func.FuncOp, funcs: dict[str, func.FuncOp]) -> list[func.CallOp]:
    """The calls in `fn` (nested regions included) to functions defined in the module."""
    return [o for o in fn.walk() if isinstance(o, func.CallOp) and o.callee.string_value() in funcs]


def _callees_first(funcs: dict[str, func.FuncOp]) -> list[str]:
    """Function names in post-order of the call graph (callees before callers);
    a back edge is a recursive call and raises CompileError."""
    order: list[str] = []
    state: dict[str, str] = {}  # "active" while on the DFS stack, then "done"

    def visit(name: str) -> None:
        state[name] = "active"
        for call in _calls(funcs[name], funcs):
            callee = call.callee.string_value()
            if state.get(callee) == "active":
                raise CompileError(f"recursive call to {callee}", source_loc(call))
            if callee not in state:
                visit(callee)
        state[name] = "done"
        order.append(name)

    for name in funcs:
        if name not in state:
            visit(name)
    return order


def _check_inlined_sizes(funcs: dict[str, func.FuncOp], order: list[str]) -> None:
    """A CompileError, before any inlining, when a function would grow past
    `MAX_INLINED_OPS` operations (sizes are counted, not built)."""
    sizes: dict[str, int] = {}
    for name in order:
        size = 0
        for o in funcs[name].walk():
            callee = o.callee.string_value() if isinstance(o, func.CallOp) else None
            size += sizes[callee] if callee in sizes else 1
        sizes[name] = size
        if size > MAX_INLINED_OPS:
            shown = name.split(".")[0]
            raise CompileError(
                f"function {shown} is too large once its calls are inlined "
                f"(more than {MAX_INLINED_OPS} operations): call functions fewer times",
                source_loc(funcs[name]),
            )


def _inline_calls(fn: func.FuncOp, funcs: dict[str, func.FuncOp]) -> None:
    """Inline the calls of `fn`; callees have been processed already, so the
    cloned bodies contain no further calls to module functions."""
    for call in _calls(fn, funcs):
        _inline_call(call, funcs[call.callee.string_value()])


def _inline_call(call: func.CallOp, callee: func.FuncOp) -> None:
    block = callee.body.block
    if len(block.args) != len(call.arguments):
        raise CompileError(
            f"function {callee.sym_name.data} takes {len(block.args)} arguments, "
            f"got {len(call.arguments)}",
            source_loc(call),
        )
    mapper: dict[SSAValue, SSAValue] = dict(zip(block.args, call.arguments, strict=True))
    returned: list[SSAValue] = []
    for body_op in block.ops:
        if isinstance(body_op, func.ReturnOp):
            returned = [mapper.get(v, v) for v in body_op.arguments]
            break
        Rewriter.insert_op(body_op.clone(mapper), InsertPoint.before(call))
    Rewriter.replace_op(call, [], returned)


def _is_referenced(module: ModuleOp, name: str) -> bool:
    return any(
        isinstance(o, func.CallOp) and o.callee.string_value() == name for o in module.walk()
    )
