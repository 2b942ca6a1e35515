"""From NOMA IR (after `DEFAULT_PIPELINE`) to LLVM IR, assembly and objects.

`NATIVE_PIPELINE` continues the default pipeline down to the `llvm`
dialect; `convert_module` (xDSL) then makes an llvmlite module, whose
global initializer regions (which `convert_module` ignores) are evaluated
here; LLVM parses and verifies the text, optimizes it for the host CPU
(new pass manager, O3 by default) and emits assembly or an object file.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

import llvmlite.binding as llvm
import llvmlite.ir as ir
from xdsl.backend.llvm.convert import convert_module
from xdsl.backend.llvm.convert_op import create_constant
from xdsl.backend.llvm.convert_type import convert_type
from xdsl.dialects import llvm as L
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation, SSAValue

#: The passes after `noma.passes.DEFAULT_PIPELINE` that reach the llvm dialect.
#: Not `convert-scf-to-cf`: xDSL 0.74's does not lower `scf.while` (so
#: `noma-to-llvm` lowers all `scf` itself) and it erases unused Pure ops, some
#: of which can fail at run time (an index out of range) where the
#: interpreter reports the error.
NATIVE_PIPELINE: tuple[str, ...] = (
    "noma-lower-train",
    "noma-fold-transpose",
    "noma-fuse-elementwise",
    "noma-to-llvm",
    "reconcile-unrealized-casts",
)

DEFAULT_OPT_LEVEL = 3


def is_llvm_dialect(module: ModuleOp) -> bool:
    """True when the module holds only `llvm.func`s and `llvm.mlir.global`s."""
    return all(isinstance(op, L.FuncOp | L.GlobalOp) for op in module.ops)


def to_llvm_dialect(module: ModuleOp) -> ModuleOp:
    """Run `NATIVE_PIPELINE` on `module` in place (a no-op on an llvm-dialect
    module) and return it."""
    if is_llvm_dialect(module):
        return module
    from noma.dialects import make_context
    from noma.passes import ALL_PASSES

    ctx = make_context()
    for name in NATIVE_PIPELINE:
        ALL_PASSES[name]()().apply(ctx, module)
    return module


def to_llvmlite(module: ModuleOp) -> ir.Module:
    """The llvmlite module of a NOMA module (lowered first when needed)."""
    module = to_llvm_dialect(module)
    ir_module = convert_module(module, fallback_target_triple=llvm.get_process_triple())
    _set_initializers(module, ir_module)
    _set_linkage(module, ir_module)
    return ir_module


def _set_linkage(module: ModuleOp, ir_module: ir.Module) -> None:
    """`convert_module` drops the linkage of functions: restore `internal`
    (generated kernels and helpers), so LLVM may inline them and drop the
    out-of-line copy."""
    for op in module.ops:
        if isinstance(op, L.FuncOp) and op.body.blocks and op.linkage.linkage.data == "internal":
            fn = ir_module.get_global(op.sym_name.data)
            assert isinstance(fn, ir.Function)
            fn.linkage = "internal"


def to_llvm_ir(module: ModuleOp) -> str:
    """LLVM IR text of a NOMA module, verified by LLVM and printed by LLVM itself
    (so names are unquoted as usual: `define void @noma_entry()`)."""
    return str(parse_ir(str(to_llvmlite(module))))


def parse_ir(text: str) -> llvm.ModuleRef:
    """Parse and verify LLVM IR text."""
    ref = llvm.parse_assembly(text)
    ref.verify()
    return ref


# ----------------------------------------------------------------- global initializers


def _set_initializers(module: ModuleOp, ir_module: ir.Module) -> None:
    for op in module.ops:
        if isinstance(op, L.GlobalOp) and op.value is None and op.body.blocks:
            gvar = ir_module.get_global(op.sym_name.data)
            assert isinstance(gvar, ir.GlobalVariable)
            gvar.initializer = evaluate_initializer(op, ir_module)


def evaluate_initializer(op: L.GlobalOp, ir_module: ir.Module) -> ir.Constant:
    """The constant an initializer region returns (zero, constant, addressof,
    undef, insertvalue)."""
    values: dict[SSAValue, object] = {}
    for inner in op.body.block.ops:
        if isinstance(inner, L.ReturnOp):
            assert inner.arg is not None
            return _to_constant(inner.arg.type, values[inner.arg])
        values[inner.results[0]] = _evaluate(inner, values, ir_module)
    raise ValueError(f"initializer of {op.sym_name.data} does not return")


def _evaluate(op: Operation, values: dict[SSAValue, object], ir_module: ir.Module) -> object:
    if isinstance(op, L.ZeroOp):
        return ir.Constant(convert_type(op.res.type), None)
    if isinstance(op, L.UndefOp):
        return ir.Constant(convert_type(op.res.type), ir.Undefined)
    if isinstance(op, L.ConstantOp):
        return create_constant(op.result.type, op.value)
    if isinstance(op, L.AddressOfOp):
        return ir_module.get_global(op.global_name.root_reference.data)
    if isinstance(op, L.InsertValueOp):
        path = list(op.position.iter_values())
        return _insert(op.container.type, values[op.container], path, values[op.value])
    raise NotImplementedError(f"{op.name} in a global initializer")


def _members(typ: object) -> list[object]:
    if isinstance(typ, L.LLVMStructType):
        return list(typ.types.data)
    assert isinstance(typ, L.LLVMArrayType)
    return [typ.type] * typ.size.data


def _insert(typ: object, container: object, path: list[int], value: object) -> object:
    """`container` (an aggregate as a list of members, or a whole zero/undef
    constant) with the member at `path` replaced; the input is not changed."""
    members = _members(typ)
    if isinstance(container, list):
        elems = list(container)
    else:  # a zero or undef aggregate: split it into its members
        assert isinstance(container, ir.Constant)
        fill = container.constant
        elems = [ir.Constant(convert_type(t), fill) for t in members]  # type: ignore[arg-type]
    k = path[0]
    elems[k] = value if len(path) == 1 else _insert(members[k], elems[k], path[1:], value)
    return elems


def _to_constant(typ: object, value: object) -> ir.Constant:
    if not isinstance(value, list):
        return value  # type: ignore[return-value]
    elems = [_to_constant(t, v) for t, v in zip(_members(typ), value, strict=True)]
    return ir.Constant(convert_type(typ), elems)  # type: ignore[arg-type]


# ----------------------------------------------------------------- machine code


@cache
def _init_native() -> None:
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()


def host_target_machine(
    opt: int = DEFAULT_OPT_LEVEL,
    *,
    reloc: str = "pic",
    codemodel: str = "default",
    host_cpu: bool = True,
) -> llvm.TargetMachine:
    """A target machine for this host (its CPU and features unless `host_cpu`
    is false, which targets the generic CPU of the triple). The JIT asks
    for `codemodel="jitdefault"`."""
    _init_native()
    target = llvm.Target.from_triple(llvm.get_process_triple())
    cpu = llvm.get_host_cpu_name() if host_cpu else ""
    features = llvm.get_host_cpu_features().flatten() if host_cpu else ""
    return target.create_target_machine(
        cpu=cpu, features=features, opt=opt, reloc=reloc, codemodel=codemodel
    )


def optimize_ir(
    ref: llvm.ModuleRef, tm: llvm.TargetMachine | None = None, level: int = DEFAULT_OPT_LEVEL
) -> llvm.ModuleRef:
    """Optimize a parsed module in place with the new pass manager (O`level`)."""
    tm = tm or host_target_machine(level)
    ref.triple = tm.triple
    ref.data_layout = str(tm.target_data)
    pto = llvm.create_pipeline_tuning_options(speed_level=level)
    pb = llvm.create_pass_builder(tm, pto)
    pb.getModulePassManager().run(ref, pb)
    return ref


def compile_module(
    module: ModuleOp, tm: llvm.TargetMachine | None = None, level: int = DEFAULT_OPT_LEVEL
) -> llvm.ModuleRef:
    """Lower, convert, verify and optimize a NOMA module."""
    tm = tm or host_target_machine(level)
    return optimize_ir(parse_ir(str(to_llvmlite(module))), tm, level)


def to_asm(module: ModuleOp, level: int = DEFAULT_OPT_LEVEL) -> str:
    """Optimized host assembly of a NOMA module."""
    tm = host_target_machine(level)
    return tm.emit_assembly(compile_module(module, tm, level))


def to_object(
    module: ModuleOp, level: int = DEFAULT_OPT_LEVEL, *, extra: Iterable[Operation] = ()
) -> bytes:
    """A relocatable (PIC) object file of a NOMA module for this host; `extra`
    llvm-dialect ops (e.g. a `main`) are added to the lowered module first."""
    to_llvm_dialect(module)
    for op in extra:
        module.body.block.add_op(op)
    tm = host_target_machine(level, reloc="pic")
    return tm.emit_object(compile_module(module, tm, level))
