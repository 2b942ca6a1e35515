"""Building blocks of `noma-to-llvm`: runtime declarations, globals, emitters.

The lowering talks to the C runtime (`noma/backend/runtime_c/noma_rt.h`):
every tensor, buffer and archive is an `!llvm.ptr` to a `noma_tensor`
descriptor (or an archive handle). `Globals` owns everything the lowering
adds at module level:

- body-less `llvm.func` declarations of the runtime and libm functions used
  (external linkage), from the `RUNTIME` signature table;
- a *slot* per tensor-producing op site, passed to the kernel as `out`: an
  element of `@noma.slots`, one zero-initialised array of `noma_tensor`
  (one global instead of hundreds keeps the IR and the link small);
- a constant `noma_site` per source position (file, line, column and the
  source line's text, so executables report errors without the source);
- NUL-terminated string constants, shared by content;
- constant tensors (and constant scalars used as tensor operands): an f64
  data array and a constant descriptor (cap 0), shared by content;
- per-site scratch arrays for index / dimension / pointer lists: slices of
  `@noma.scratch.f64` and `@noma.scratch.i64` (no allocas in loops).

Initialisers of struct globals are MLIR-style initializer regions
(`llvm.mlir.zero`, `llvm.mlir.constant`, `llvm.mlir.addressof`,
`llvm.insertvalue`, `llvm.return`); `convert_module` ignores those regions,
so `noma.backend.llvm_emit` evaluates them.

`Emitter` inserts llvm ops before the op being lowered and knows its site;
constants and global addresses are created once per function at the top of
its entry block (`Hoisted`), which keeps the IR small (the Python side of
the compiler costs about 60 us per op built).
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from xdsl.dialects import arith, llvm
from xdsl.dialects.builtin import (
    CallSiteLoc,
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    FileLineColLoc,
    Float64Type,
    FloatAttr,
    FusedLoc,
    IntAttr,
    IntegerAttr,
    IntegerType,
    ModuleOp,
    NameLoc,
    StringAttr,
    TensorType,
    f64,
    i1,
    i64,
)
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.rewriter import InsertPoint, Rewriter

from noma.diagnostics import SourceLoc, source_line

PTR = llvm.LLVMPointerType()
#: The number of optimize loops started in the current run (for the loss log).
LOOPS = "noma.loops"
#: The slots of all op sites, one zero-initialised array of `noma_tensor`.
SLOTS = "noma.slots"
#: Per-site scratch arrays, slices of one zero-initialised array per type.
SCRATCH: dict[Attribute, str] = {f64: "noma.scratch.f64", i64: "noma.scratch.i64"}
DIMS = llvm.LLVMArrayType(IntAttr(4), i64)
#: `noma_tensor`: {double *data, int64 cap, int64 rank, int64 dims[4], double scalar}
TENSOR = llvm.LLVMStructType.from_type_list([PTR, i64, i64, DIMS, f64])
#: `noma_site`: {const char *file, int64 line, int64 col, const char *text}
SITE = llvm.LLVMStructType.from_type_list([PTR, i64, i64, PTR])

#: Runtime (and libm) functions by name: (result, arguments), one letter a
#: type: p pointer, d double, i int64, v void (result only).
RUNTIME: dict[str, tuple[str, str]] = {
    "noma_rt_box": ("p", "pd"),
    "noma_rt_from_elements": ("p", "pipp"),
    "noma_rt_zeros": ("p", "pipp"),
    "noma_rt_zeros_like": ("p", "pp"),
    "noma_rt_cast": ("p", "pip"),
    "noma_rt_to_scalar": ("d", "pp"),
    "noma_rt_unary": ("p", "ipp"),
    "noma_rt_binary": ("p", "ipppp"),
    "noma_rt_select": ("p", "ppppp"),
    "noma_rt_scalar_unary": ("d", "id"),
    "noma_rt_scalar_binary": ("d", "idd"),
    "noma_rt_reduce_all": ("d", "ip"),
    "noma_rt_reduce_axis": ("p", "ippiip"),
    "noma_rt_matmul": ("p", "pppp"),
    "noma_rt_matmul_t": ("p", "pppiip"),
    "noma_rt_dot": ("d", "ppp"),
    "noma_rt_transpose": ("p", "ppp"),
    "noma_rt_softmax": ("p", "ppi"),
    "noma_rt_broadcast_like": ("p", "pppp"),
    "noma_rt_reduce_like": ("p", "pppp"),
    "noma_rt_dim": ("d", "pip"),
    "noma_rt_numel": ("d", "p"),
    "noma_rt_index": ("p", "ppipp"),
    "noma_rt_index_scalar": ("d", "pipp"),
    "noma_rt_insert": ("p", "pppipp"),
    "noma_rt_slice": ("p", "ppddp"),
    "noma_rt_resize": ("p", "ppipiddp"),
    "noma_rt_seed": ("v", "dp"),
    "noma_rt_random": ("d", "idd"),
    "noma_rt_random_tensor": ("p", "piddipp"),
    "noma_rt_buf_new": ("p", "p"),
    "noma_rt_buf_new_scalar": ("p", "d"),
    "noma_rt_buf_alloc": ("p", "ipp"),
    "noma_rt_buf_name": ("p", "ppp"),
    "noma_rt_buf_load": ("p", "ppp"),
    "noma_rt_buf_load_scalar": ("d", "pp"),
    "noma_rt_buf_store": ("v", "ppp"),
    "noma_rt_buf_store_scalar": ("v", "pdp"),
    "noma_rt_buf_store_element": ("v", "ppipp"),
    "noma_rt_buf_realloc": ("v", "pipiddp"),
    "noma_rt_buf_free": ("v", "pp"),
    "noma_rt_buf_dim": ("d", "pip"),
    "noma_rt_print_scalar": ("v", "d"),
    "noma_rt_print_tensor": ("v", "p"),
    "noma_rt_print_str": ("v", "p"),
    "noma_rt_load_csv": ("p", "ppp"),
    "noma_rt_save_csv": ("v", "ppp"),
    "noma_rt_load_safetensors": ("p", "pp"),
    "noma_rt_archive_get": ("p", "pppp"),
    "noma_rt_save_safetensors": ("v", "ipppp"),
    "noma_rt_check_objective": ("v", "ddp"),
    "noma_rt_warn_max_iterations": ("v", "dp"),
    "noma_rt_loss_log": ("v", "dddp"),
    "noma_rt_end_loop": ("v", ""),
    # libm (functions without an llvm dialect intrinsic op here)
    "pow": ("d", "dd"),
    "tan": ("d", "d"),
    "tanh": ("d", "d"),
    "trunc": ("d", "d"),
}
_TYPES: dict[str, Attribute] = {"p": PTR, "d": f64, "i": i64, "v": llvm.LLVMVoidType()}


def runtime_function_type(name: str) -> llvm.LLVMFunctionType:
    result, args = RUNTIME[name]
    return llvm.LLVMFunctionType([_TYPES[a] for a in args], _TYPES[result])


def is_f64(v: SSAValue) -> bool:
    return isinstance(v.type, Float64Type)


def location_of(loc: Attribute) -> SourceLoc | None:
    """file:line:col of an xDSL location, looking through call-site (callee
    first), named and fused locations (as the interpreter reports them)."""
    if isinstance(loc, FileLineColLoc):
        return SourceLoc(loc.filename.data, loc.line.data, loc.column.data)
    if isinstance(loc, CallSiteLoc):
        return location_of(loc.callee) or location_of(loc.caller)
    if isinstance(loc, NameLoc):
        return location_of(loc.location)
    if isinstance(loc, FusedLoc):
        for inner in loc.locations:
            if (found := location_of(inner)) is not None:
                return found
    return None


def _initializer(ops: Sequence[Operation]) -> Region:
    return Region(Block(ops))


def _zero_initializer(typ: Attribute) -> Region:
    zero = llvm.ZeroOp(result_types=[typ])
    return _initializer([zero, llvm.ReturnOp(zero.res)])


def _struct_initializer(typ: Attribute, fields: Sequence[tuple[list[int], Operation]]) -> Region:
    """Zero with each (position, op) field inserted, returned."""
    ops: list[Operation] = [zero := llvm.ZeroOp(result_types=[typ])]
    value = zero.res
    for position, field_op in fields:
        insert = llvm.InsertValueOp(
            DenseArrayBase.from_list(i64, position), value, field_op.results[0]
        )
        ops += [field_op, insert]
        value = insert.res
    ops.append(llvm.ReturnOp(value))
    return _initializer(ops)


def _i64(n: int) -> llvm.ConstantOp:
    return llvm.ConstantOp(IntegerAttr(n, i64), i64)


@dataclass
class Globals:
    """The module-level symbols a lowering adds (see the module docstring)."""

    module: ModuleOp
    new_ops: list[Operation] = field(default_factory=list)
    declared: set[str] = field(default_factory=set)
    strings: dict[str, str] = field(default_factory=dict)
    sites: dict[SourceLoc, str] = field(default_factory=dict)
    constants: dict[tuple[tuple[int, ...], bytes], str] = field(default_factory=dict)
    counter: itertools.count[int] = field(default_factory=itertools.count)
    slot_count: int = 0
    counts_loops: bool = False
    scratch_sizes: dict[Attribute, int] = field(default_factory=lambda: {f64: 0, i64: 0})
    #: generated kernels (`noma.tensor.fused`) by what they compute
    kernels: dict[object, str] = field(default_factory=dict)
    #: shape and values of each constant tensor, by name
    constant_values: dict[str, tuple[tuple[int, ...], tuple[float, ...]]] = field(
        default_factory=dict
    )

    def fresh(self, kind: str) -> str:
        return f"noma.{kind}.{next(self.counter)}"

    def declare(self, name: str) -> None:
        if name in self.declared:
            return
        self.declared.add(name)
        self.new_ops.append(
            llvm.FuncOp(name, runtime_function_type(name), linkage=llvm.LinkageAttr("external"))
        )

    def global_(
        self, kind: str, typ: Attribute, body: Region | None = None, *,
        value: Attribute | None = None, constant: bool = False,
    ) -> str:  # fmt: skip
        name = self.fresh(kind)
        self.new_ops.append(
            llvm.GlobalOp(
                typ,
                name,
                "internal",
                constant=constant or None,
                value=value,
                body=body,
            )
        )
        return name

    def loop_counter(self) -> str:
        """`@noma.loops`: the number of optimize loops started in this run (f64)."""
        if not self.counts_loops:
            self.counts_loops = True
            self.new_ops.append(llvm.GlobalOp(f64, LOOPS, "internal", value=FloatAttr(0.0, f64)))
        return LOOPS

    def slot(self) -> int:
        """A new slot (a zero-initialised `noma_tensor`): its index in `noma.slots`."""
        self.slot_count += 1
        return self.slot_count - 1

    def scratch(self, n: int, elem: Attribute = f64) -> int:
        """Room for `n` elements (f64 or i64) for one op site: its offset in
        `noma.scratch.f64` / `noma.scratch.i64`."""
        offset = self.scratch_sizes[elem]
        self.scratch_sizes[elem] += n
        return offset

    def string(self, text: str) -> str:
        """A NUL-terminated constant string, shared by content."""
        name = self.strings.get(text)
        if name is None:
            data = text.encode("utf-8") + b"\0"
            typ = llvm.LLVMArrayType(IntAttr(len(data)), IntegerType(8))
            name = self.global_("str", typ, value=StringAttr(data.decode("utf-8")), constant=True)
            self.strings[text] = name
        return name

    def site(self, loc: SourceLoc) -> str:
        """The constant `noma_site` of a source position."""
        name = self.sites.get(loc)
        if name is None:
            text = source_line(loc.file, loc.line)
            fields: list[tuple[list[int], Operation]] = [
                ([0], llvm.AddressOfOp(self.string(loc.file), PTR)),
                ([1], _i64(loc.line)),
                ([2], _i64(loc.col)),
            ]
            if text is not None:  # else NULL, as zero-initialised
                fields.append(([3], llvm.AddressOfOp(self.string(text), PTR)))
            body = _struct_initializer(SITE, fields)
            name = self.global_("site", SITE, body, constant=True)
            self.sites[loc] = name
        return name

    def i64_array(self, values: Sequence[int]) -> str:
        """A constant array of int64."""
        typ = llvm.LLVMArrayType(IntAttr(max(len(values), 1)), i64)
        data = DenseIntOrFPElementsAttr.from_list(
            TensorType(i64, [max(len(values), 1)]), list(values) or [0]
        )
        return self.global_("dims", typ, value=data, constant=True)

    def constant(self, shape: Sequence[int], values: Sequence[float]) -> str:
        """A constant tensor (rank 0 for shape []): data array + descriptor
        (cap 0), shared by content."""
        key = (tuple(shape), struct.pack(f"{len(values)}d", *values))
        name = self.constants.get(key)
        if name is None:
            data = self._data_array(values)
            fields: list[tuple[list[int], Operation]] = [([0], llvm.AddressOfOp(data, PTR))]
            if shape:  # cap 0, the scalar field 0.0 and unused dims stay zero
                dims = [*shape, *[0] * (4 - len(shape))]
                dims_attr = DenseIntOrFPElementsAttr.from_list(TensorType(i64, [4]), dims)
                fields += [([2], _i64(len(shape))), ([3], llvm.ConstantOp(dims_attr, DIMS))]
            body = _struct_initializer(TENSOR, fields)
            name = self.global_("const", TENSOR, body, constant=True)
            self.constants[key] = name
            self.constant_values[name] = (tuple(shape), tuple(float(v) for v in values))
        return name

    def constant_value(self, v: SSAValue) -> tuple[tuple[int, ...], tuple[float, ...]] | None:
        """Shape and values of a constant tensor made by `constant` (v is its
        address), else None."""
        owner = v.owner
        if isinstance(owner, llvm.AddressOfOp):
            return self.constant_values.get(owner.global_name.root_reference.data)
        return None

    def _data_array(self, values: Sequence[float]) -> str:
        n = max(len(values), 1)
        typ = llvm.LLVMArrayType(IntAttr(n), f64)
        data = DenseIntOrFPElementsAttr.from_list(
            TensorType(f64, [n]), [float(v) for v in values] or [0.0]
        )
        return self.global_("data", typ, value=data, constant=True)

    def flush(self) -> None:
        """Add the new declarations and globals at the start of the module."""
        arrays = [(SLOTS, TENSOR, self.slot_count)]
        arrays += [(SCRATCH[t], t, n) for t, n in self.scratch_sizes.items()]
        for name, elem, n in arrays:
            typ = llvm.LLVMArrayType(IntAttr(max(n, 1)), elem)
            self.new_ops.append(llvm.GlobalOp(typ, name, "internal", body=_zero_initializer(typ)))
        block = self.module.body.block
        first = block.first_op
        if first is None:
            block.add_ops(self.new_ops)
        else:
            block.insert_ops_before(self.new_ops, first)
        self.new_ops = []


class Hoisted:
    """Constants and global addresses of one function, created once at the
    start of its entry block (so they dominate every use) and shared."""

    def __init__(self, entry: Block):
        self.entry = entry
        self.last: Operation | None = None
        self.values: dict[object, SSAValue] = {}

    def get(self, key: object, make: Callable[[], Operation]) -> SSAValue:
        value = self.values.get(key)
        if value is None:
            op = make()
            if self.last is None:
                first = self.entry.first_op
                if first is None:
                    self.entry.add_op(op)
                else:
                    self.entry.insert_op_before(op, first)
            else:
                self.entry.insert_op_after(op, self.last)
            self.last = op
            value = self.values[key] = op.results[0]
        return value


@dataclass
class Emitter:
    """Inserts llvm ops before `op` (the op being lowered); constants and
    global addresses come from the function's `Hoisted` values."""

    g: Globals
    hoisted: Hoisted
    op: Operation

    def run(self, new: Operation) -> None:
        """Insert an op (whose results, if any, are not needed)."""
        Rewriter.insert_op(new, InsertPoint.before(self.op))

    def add(self, new: Operation) -> SSAValue:
        """Insert an op with one result and return that result."""
        self.run(new)
        return new.results[0]

    def f64(self, x: float) -> SSAValue:
        key = ("f64", struct.pack("d", x))
        return self.hoisted.get(key, lambda: llvm.ConstantOp(FloatAttr(x, f64), f64))

    def i64(self, n: int) -> SSAValue:
        return self.hoisted.get(("i64", n), lambda: _i64(n))

    def i1(self, b: bool) -> SSAValue:
        return self.hoisted.get(("i1", b), lambda: llvm.ConstantOp(IntegerAttr(int(b), i1), i1))

    def null(self) -> SSAValue:
        return self.hoisted.get("null", lambda: llvm.ZeroOp(result_types=[PTR]))

    def addr(self, name: str) -> SSAValue:
        return self.hoisted.get(("addr", name), lambda: llvm.AddressOfOp(name, PTR))

    def call(self, name: str, *args: SSAValue) -> SSAValue:
        """Call a runtime function with a result (declared on first use)."""
        self.g.declare(name)
        return self.add(llvm.CallOp(name, *args, return_type=_TYPES[RUNTIME[name][0]]))

    def do(self, name: str, *args: SSAValue) -> None:
        """Call a runtime function returning void (declared on first use)."""
        self.g.declare(name)
        self.run(llvm.CallOp(name, *args))

    def slot(self) -> SSAValue:
        """The address of a new slot (an element of `noma.slots`)."""
        return self.slot_at(self.g.slot())

    def slot_at(self, index: int) -> SSAValue:
        """The address of slot `index`."""
        return self.add(llvm.GEPOp(self.addr(SLOTS), [index], TENSOR))

    def site(self) -> SSAValue:
        """The op's `noma_site` (NULL when it has no source location)."""
        loc = location_of(self.op.location)
        return self.null() if loc is None else self.addr(self.g.site(loc))

    def box(self, v: SSAValue) -> SSAValue:
        """A tensor operand: a constant scalar is a constant rank-0 tensor, any
        other scalar is boxed into a slot of its own."""
        if not is_f64(v):
            return v
        known = constant_f64(v)
        if known is not None:
            return self.addr(self.g.constant([], [known]))
        return self.call("noma_rt_box", self.slot(), v)

    def doubles(self, values: Sequence[SSAValue]) -> SSAValue:
        """A pointer to a per-site array holding `values` (f64 each)."""
        return self._array(values, f64)

    def pointers(self, values: Sequence[SSAValue]) -> SSAValue:
        """A pointer to a per-site array holding `values` (pointers, stored as
        int64: llvmlite gives global addresses typed pointer types, which it
        will not store into an array of `ptr`)."""
        return self._array([self.add(llvm.PtrToIntOp(v, i64)) for v in values], i64)

    def _array(self, values: Sequence[SSAValue], elem: Attribute) -> SSAValue:
        offset = self.g.scratch(len(values), elem)
        base = self.addr(SCRATCH[elem])
        array = self.add(llvm.GEPOp(base, [offset], elem))
        for k, v in enumerate(values):
            ptr = array if k == 0 else self.add(llvm.GEPOp(base, [offset + k], elem))
            self.run(llvm.StoreOp(v, ptr))
        return array

    def select(self, cond: SSAValue, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.add(llvm.SelectOp(cond, a, b))

    def fcmp(self, pred: str, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.add(llvm.FCmpOp(a, b, pred))

    def bool_to_f64(self, cond: SSAValue) -> SSAValue:
        return self.select(cond, self.f64(1.0), self.f64(0.0))


def constant_f64(v: SSAValue) -> float | None:
    """The value of an f64 constant (an `llvm.mlir.constant` or `arith.constant`)."""
    owner = v.owner
    if isinstance(owner, llvm.ConstantOp | arith.ConstantOp):
        value = owner.value
        if isinstance(value, FloatAttr) and is_f64(v):
            return float(value.value.data)
    return None
