"""IR generation: AST -> high-level IR (func/scf/arith + the noma dialects).

Variables become SSA values; assignments inside `if`, `while`, `batch` and
`optimize` bodies are threaded through the results of those ops. Functions
are generic over the ranks of their arguments, so each call signature gets
its own `func.func` (`@f`, `@"f.1"`, ...); `noma-inline` inlines them later.
The conventions are written down in docs/ir-conventions.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from xdsl.dialects import arith, func, scf
from xdsl.dialects.builtin import (
    FileLineColLoc,
    FloatAttr,
    IntAttr,
    IntegerAttr,
    ModuleOp,
    StringAttr,
    f64,
    i1,
)
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue

from noma.diagnostics import CompileError, SourceLoc
from noma.dialects import io, mem, train
from noma.dialects import tensor as nt
from noma.dialects.common import dims_of, format_dims, rank_of, type_of_rank
from noma.frontend import ast
from noma.frontend.scope import DONE, RET, Archive, Binding, Env, Param, Poison, Value

BINARY_OPS: dict[str, type[nt.BinaryOp]] = {
    "+": nt.AddOp, "-": nt.SubOp, "*": nt.MulOp, "/": nt.DivOp,
    "%": nt.RemOp, "**": nt.PowOp, "^": nt.PowOp,
}  # fmt: skip
CMP_OPS = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}
COMPAT_VARS = (
    "optimizer", "use_adam", "use_rmsprop", "learning_rate", "lr", "beta1", "beta2",
    "epsilon", "max_iterations", "max_iter",
)  # fmt: skip
MAX_RANK = 4


def loc_attr(loc: SourceLoc) -> FileLineColLoc:
    return FileLineColLoc(StringAttr(loc.file), IntAttr(loc.line), IntAttr(loc.col))


def generate(program: ast.Program) -> ModuleOp:
    """The high-level IR module of a parsed program (raises CompileError)."""
    return ModuleGen(program).run()


@dataclass
class Instance:
    symbol: str
    result_rank: int | None | str  # "none" when the function returns nothing


@dataclass
class ModuleGen:
    """Owns the module and the function instantiations."""

    program: ast.Program
    module: ModuleOp = field(default_factory=lambda: ModuleOp([]))
    instances: dict[tuple[str, tuple], Instance] = field(default_factory=dict)
    active: list[str] = field(default_factory=list)
    used_symbols: set[str] = field(default_factory=set)

    def run(self) -> ModuleOp:
        entry = self.program.entry()
        if entry is None:
            raise CompileError(
                "the program has no functions: write `fn main() { ... }`",
                SourceLoc(self.program.filename, 1, 1),
            )
        if entry.params:
            raise CompileError(
                f"the entry function `{entry.name}` must take no parameters", entry.loc
            )
        self.instantiate(entry, (), entry.loc)
        self.module.attributes["noma.entry"] = StringAttr(self.instances[(entry.name, ())].symbol)
        return self.module

    def function(self, name: str) -> ast.FunctionDef | None:
        for fn in self.program.functions:
            if fn.name == name:
                return fn
        return None

    def instantiate(self, fn: ast.FunctionDef, ranks: tuple, loc: SourceLoc) -> Instance:
        key = (fn.name, ranks)
        if key in self.instances:
            return self.instances[key]
        if fn.name in self.active:
            raise CompileError(f"recursive call to {fn.name}", loc)
        symbol = self.fresh_symbol(fn.name)
        self.active.append(fn.name)
        try:
            func_op, result_rank = FunctionGen(self, fn, ranks, symbol).run()
        finally:
            self.active.pop()
        self.module.body.block.add_op(func_op)
        self.instances[key] = Instance(symbol, result_rank)
        return self.instances[key]

    def fresh_symbol(self, name: str) -> str:
        symbol, n = name, 0
        while symbol in self.used_symbols:
            n += 1
            symbol = f"{name}.{n}"
        self.used_symbols.add(symbol)
        return symbol


class FunctionGen:
    """Generates one instantiation of one user function."""

    def __init__(self, mod: ModuleGen, fn: ast.FunctionDef, ranks: tuple, symbol: str):
        self.mod = mod
        self.fn = fn
        self.ranks = ranks
        self.symbol = symbol
        self.block = Block(arg_types=[type_of_rank(r) for r in ranks])
        for name, arg in zip(fn.params, self.block.args, strict=True):
            arg.name_hint = name
        self.env = Env({p: Value(a) for p, a in zip(fn.params, self.block.args, strict=True)})
        self.optimize_depth = 0
        self.loop_depth = 0  # batch loops
        self.while_depth = 0
        self.if_depth = 0
        from noma.frontend.builtins import BuiltinGen

        self.builtins = BuiltinGen(self)

    # ------------------------------------------------------------ emission helpers

    def emit(self, op: Operation, loc: SourceLoc | None = None) -> Operation:
        if loc is not None:
            op.location = loc_attr(loc)
        self.block.add_op(op)
        return op

    def emit_value(self, op: Operation, loc: SourceLoc | None = None) -> SSAValue:
        return self.emit(op, loc).results[0]

    def const(self, value: float) -> SSAValue:
        return self.emit_value(arith.ConstantOp(FloatAttr(float(value), f64)))

    def const_i1(self, value: bool) -> SSAValue:
        return self.emit_value(arith.ConstantOp(IntegerAttr(int(value), i1)))

    def truthy(self, value: SSAValue, loc: SourceLoc) -> SSAValue:
        """i1: value != 0 (SPEC §3: any non-zero is true)."""
        value = self.scalar(value, loc, "a condition")
        return self.emit_value(arith.CmpfOp(value, self.const(0.0), "une"), loc)

    def scalar(self, value: SSAValue, loc: SourceLoc, what: str) -> SSAValue:
        rank = rank_of(value.type)
        if rank == 0:
            return value
        if rank is None:
            return self.emit_value(nt.ToScalarOp(value), loc)
        raise CompileError(f"{what} must be a scalar, got a rank-{rank} tensor", loc)

    def in_block(self, block: Block, env: Env, gen: Callable[[], None]) -> None:
        """Run `gen` with `block` as insertion point and `env` as environment."""
        saved = self.block, self.env
        self.block, self.env = block, env
        try:
            gen()
        finally:
            self.block, self.env = saved

    # ------------------------------------------------------------ functions

    def run(self) -> tuple[func.FuncOp, int | None | str]:
        self.gen_block(self.fn.body.body)
        ret = self.env.get(RET)
        if isinstance(ret, Value) and self.partial_entry_return():
            self.print_if_returned(ret)
            ret = None
        if isinstance(ret, Value):
            results = [ret.value]
            result_rank: int | None | str = ret.rank
        else:
            results, result_rank = [], "none"
        self.emit(func.ReturnOp(*results))
        region = Region(self.block)
        arg_types = [a.type for a in self.block.args]
        op = func.FuncOp(self.symbol, (arg_types, [r.type for r in results]), region)
        op.location = loc_attr(self.fn.loc)
        return op, result_rank

    def partial_entry_return(self) -> bool:
        """Whether this is the entry function and some path through it ends
        without returning a value (then nothing is printed for that path)."""
        return self.fn is self.mod.program.entry() and not returns_value(self.fn.body.body)

    def print_if_returned(self, ret: Value) -> None:
        """Print the entry's return value (SPEC §2) only on the paths that
        returned one: the entry then returns nothing itself."""
        done = self.env.get(DONE)
        if not isinstance(done, Value):
            self.emit(io.PrintOp(ret.value), self.fn.loc)
            return
        then_block = Block()
        self.in_block(then_block, self.env, lambda: self.emit(io.PrintOp(ret.value), self.fn.loc))
        then_block.add_op(scf.YieldOp())
        self.emit(scf.IfOp(done.value, [], Region(then_block), Region(Block([scf.YieldOp()]))))

    # ------------------------------------------------------------ statements

    def gen_block(self, stmts: Sequence[ast.Stmt]) -> None:
        for i, stmt in enumerate(stmts):
            done_before = self.env.get(DONE)
            self.gen_stmt(stmt)
            if isinstance(stmt, ast.Return):
                return  # the rest of the block is dead code
            if self.env.get(DONE) is not done_before and i + 1 < len(stmts):
                self.guard_rest(stmts[i + 1 :], stmt.loc)
                return

    def guard_rest(self, rest: Sequence[ast.Stmt], loc: SourceLoc) -> None:
        """After an `if` that may have returned, run the rest only if it did not."""
        done = self.env.get(DONE)
        assert isinstance(done, Value)
        not_done = self.emit_value(arith.XOrIOp(done.value, self.const_i1(True)))
        self.gen_if_blocks(not_done, lambda: self.gen_block(rest), None, loc)

    def gen_stmt(self, stmt: ast.Stmt) -> None:
        handler = getattr(self, "stmt_" + type(stmt).__name__.lower())
        handler(stmt)

    def stmt_let(self, s: ast.Let) -> None:
        binding = self.bind_expr(s.value)
        if isinstance(binding, Value) and binding.value.name_hint is None:
            binding.value.name_hint = s.name  # readable IR: %loss, %W1, ...
        self.env.set(s.name, binding)

    def bind_expr(self, e: ast.Expr) -> Binding:
        if isinstance(e, ast.Name) and isinstance(self.env.get(e.name), Archive):
            return self.env.get(e.name)  # type: ignore[return-value]
        return Value(self.expr(e))

    def stmt_learn(self, s: ast.Learn) -> None:
        if self.optimize_depth:
            raise CompileError(
                f"`learn {s.name}` inside an optimize body: declare learnable parameters "
                "before the loop",
                s.loc,
            )
        init = self.expr(s.value)
        buf = self.emit_value(train.ParamOp(s.name, init), s.loc)
        self.env.set(s.name, Param(hinted(buf, s.name), s.name))

    def stmt_exprstmt(self, s: ast.ExprStmt) -> None:
        call = s.expr
        if isinstance(call, ast.Call) and call.callee == "print" and not self.mod.function("print"):
            self.builtins.print_stmt(call)
            return
        self.expr(s.expr, allow_void=True)

    def stmt_assign(self, s: ast.Assign) -> None:
        binding = self.lookup(s.name, s.loc, for_write=True)
        value = self.expr(s.value)
        if isinstance(binding, Param):
            self.assign_param(binding, s, value)
            return
        if not isinstance(binding, Value):
            raise CompileError(f"cannot assign to `{s.name}`", s.loc)
        if s.indices:
            idx = [self.index_value(i) for i in s.indices]
            check_const_indices(dims_of(binding.value.type), idx, s.indices)
            op = nt.InsertOp(value, binding.value, idx)
            op.attributes["noma.var"] = StringAttr(s.name)
            self.check_store_rank(binding.rank, len(idx), value, s)
            check_row_shape(dims_of(binding.value.type), len(idx), value, s.loc)
            self.env.set(s.name, Value(self.emit_value(op, s.loc)))
            return
        self.check_same_rank(s.name, binding.rank, value, s.loc)
        self.env.set(s.name, Value(value))

    def assign_param(self, p: Param, s: ast.Assign, value: SSAValue) -> None:
        if s.indices:
            idx = [self.index_value(i) for i in s.indices]
            self.check_store_rank(p.rank, len(idx), value, s)
            self.emit(mem.StoreElementOp(value, p.buffer, idx), s.loc)
        else:
            self.check_same_rank(s.name, p.rank, value, s.loc)
            self.emit(mem.StoreOp(value, p.buffer), s.loc)
            rank = rank_of(value.type)
            if rank:  # the new value may have other dimensions: its optimizer
                # state follows like after a realloc (SPEC §6.4, §7): a
                # realloc to the parameter's own (new) shape, values unchanged
                dims = [self.emit_value(mem.DimOp(p.buffer, k), s.loc) for k in range(rank)]
                self.emit(mem.ReallocOp(p.buffer, dims, "zeros"), s.loc)

    def check_same_rank(self, name: str, rank: int | None, value: SSAValue, loc: SourceLoc):
        vr = rank_of(value.type)
        if rank is not None and vr is not None and rank != vr:
            raise CompileError(
                f"`{name}` has rank {rank}; cannot assign a rank-{vr} value "
                "(declare a new variable with `let`)",
                loc,
            )

    def check_store_rank(self, rank: int | None, n: int, value: SSAValue, s: ast.Assign):
        if rank == 0:
            raise CompileError(f"`{s.name}` is a scalar and cannot be indexed", s.loc)
        if rank is None:
            return
        if n > rank:
            raise CompileError(f"too many indices for rank-{rank} `{s.name}`", s.loc)
        vr = rank_of(value.type)
        if vr is not None and vr not in (0, rank - n):
            raise CompileError(
                f"cannot store a rank-{vr} value into `{s.name}` at {n} indices", s.loc
            )

    def stmt_return(self, s: ast.Return) -> None:
        if self.optimize_depth:
            raise CompileError("`return` inside an optimize body is not supported", s.loc)
        if s.value is None:
            value: Binding | None = None
        else:
            value = Value(self.expr(s.value))
            old = self.env.get(RET)
            if isinstance(old, Value) and old.rank != value.rank:
                raise CompileError(f"`{self.fn.name}` returns values of different ranks", s.loc)
            self.env.set(RET, value)
        if self.if_depth or self.while_depth or self.loop_depth:  # later code must know
            self.env.set(DONE, Value(self.const_i1(True)))

    def stmt_minimize(self, s: ast.Minimize) -> None:
        raise CompileError("`minimize` must be at the top level of an optimize body", s.loc)

    # ------------------------------------------------------------ memory statements

    def stmt_alloc(self, s: ast.Alloc) -> None:
        dims = self.dims(s.dims, s.loc)
        self.env.set(s.name, Value(hinted(self.emit_value(nt.ZerosOp(dims), s.loc), s.name)))

    def dims(self, dims: Sequence[ast.Expr], loc: SourceLoc) -> list[SSAValue]:
        if not 1 <= len(dims) <= MAX_RANK:
            raise CompileError(f"tensors have 1 to {MAX_RANK} dimensions, got {len(dims)}", loc)
        return [self.scalar(self.expr(d), d.loc, "a dimension") for d in dims]

    def stmt_realloc(self, s: ast.Realloc) -> None:
        binding = self.lookup(s.name, s.loc, for_write=True)
        if binding.rank == 0:
            raise CompileError(f"cannot realloc scalar `{s.name}`: only tensors can", s.loc)
        if binding.rank is not None and binding.rank != len(s.dims):
            raise CompileError(
                f"realloc keeps the rank: `{s.name}` has rank {binding.rank}, "
                f"got {len(s.dims)} dimensions",
                s.loc,
            )
        dims = self.dims(s.dims, s.loc)
        policy, args = self.init_policy(s.init, isinstance(binding, Param))
        if isinstance(binding, Param):
            self.emit(mem.ReallocOp(binding.buffer, dims, policy, args), s.loc)
        elif isinstance(binding, Value):
            op = nt.ResizeOp(binding.value, dims, policy, args)
            self.env.set(s.name, Value(self.emit_value(op, s.loc)))
        else:
            raise CompileError(f"cannot realloc `{s.name}`", s.loc)

    def init_policy(
        self, init: ast.InitPolicy | None, learnable: bool
    ) -> tuple[str, list[SSAValue]]:
        if init is None:
            if learnable:  # SPEC §7 (compat): new weights from N(0, 0.3)
                return "normal", [self.const(0.0), self.const(0.3)]
            return "zeros", []
        args = [self.scalar(self.expr(a), a.loc, "an init argument") for a in init.args]
        return init.kind, args

    def stmt_free(self, s: ast.Free) -> None:
        binding = self.lookup(s.name, s.loc, for_write=True)
        if isinstance(binding, Param):
            self.emit(mem.FreeOp(binding.buffer), s.loc)
        self.env.set(s.name, Poison("was freed"))

    # ------------------------------------------------------------ files

    def stmt_loadcsv(self, s: ast.LoadCsv) -> None:
        self.env.set(s.name, Value(hinted(self.emit_value(io.LoadCsvOp(s.path), s.loc), s.name)))

    def stmt_savecsv(self, s: ast.SaveCsv) -> None:
        value = self.expr(s.value)
        if rank_of(value.type) not in (0, 1, 2, None):
            raise CompileError("save_csv writes scalars, 1-D and 2-D tensors", s.loc)
        self.emit(io.SaveCsvOp(value, s.path), s.loc)

    def stmt_loadsafetensors(self, s: ast.LoadSafetensors) -> None:
        archive = hinted(self.emit_value(io.LoadSafetensorsOp(s.path), s.loc), s.name)
        self.env.set(s.name, Archive(archive, s.path))

    def stmt_savesafetensors(self, s: ast.SaveSafetensors) -> None:
        entries = [(k, self.expr(e)) for k, e in s.entries]
        self.emit(io.SaveSafetensorsOp(entries, s.path), s.loc)

    # ------------------------------------------------------------ if

    def stmt_if(self, s: ast.If) -> None:
        cond = self.truthy(self.expr(s.cond), s.cond.loc)
        else_gen = None
        if s.else_block is not None:
            else_block = s.else_block
            else_gen = lambda: self.gen_block(else_block.body)  # noqa: E731
        self.gen_if_blocks(cond, lambda: self.gen_block(s.then_block.body), else_gen, s.loc)

    def gen_if_blocks(
        self,
        cond: SSAValue,
        then_gen: Callable[[], None],
        else_gen: Callable[[], None] | None,
        loc: SourceLoc,
    ) -> None:
        before = self.env
        then_env, else_env = before.copy(), before.copy()
        then_block, else_block = Block(), Block()
        self.if_depth += 1
        self.in_block(then_block, then_env, then_gen)
        if else_gen is not None:
            self.in_block(else_block, else_env, else_gen)
        self.if_depth -= 1
        merged = self.merge_if(before, then_env, else_env, then_block, else_block)
        names, then_vals, else_vals = merged
        types = [v.type for v in then_vals]
        then_block.add_op(scf.YieldOp(*then_vals))
        else_block.add_op(scf.YieldOp(*else_vals))
        op = scf.IfOp(cond, types, Region(then_block), Region(else_block))
        self.emit(op, loc)
        for name, result in zip(names, op.results, strict=True):
            self.env.set(name, Value(hinted(result, name)))

    def merge_if(
        self, before: Env, then_env: Env, else_env: Env, then_block: Block, else_block: Block
    ) -> tuple[list[str], list[SSAValue], list[SSAValue]]:
        names: list[str] = []
        then_vals: list[SSAValue] = []
        else_vals: list[SSAValue] = []
        changed = dict.fromkeys(then_env.changed_names(before) + else_env.changed_names(before))
        for name in changed:
            pair = self.merge_pair(name, before, then_env, else_env, then_block, else_block)
            if pair is None:
                continue
            names.append(name)
            then_vals.append(pair[0])
            else_vals.append(pair[1])
        return names, then_vals, else_vals

    def merge_pair(
        self,
        name: str,
        before: Env,
        then_env: Env,
        else_env: Env,
        then_block: Block,
        else_block: Block,
    ) -> tuple[SSAValue, SSAValue] | None:
        a, b = then_env.get(name), else_env.get(name)
        if name in (RET, DONE):
            a = a or self.placeholder(name, b, then_block)
            b = b or self.placeholder(name, a, else_block)
        if name == DONE and isinstance(a, Value) and isinstance(b, Value):
            return a.value, b.value
        if isinstance(a, Value) and isinstance(b, Value) and a.rank == b.rank:
            ty = type_of_rank(a.rank) if a.value.type != b.value.type else a.value.type
            return (
                self.cast_in(a.value, ty, then_block),
                self.cast_in(b.value, ty, else_block),
            )
        if a is b and a is not None:
            return None
        if isinstance(a, Param | Archive) and a == b:
            return None
        self.env_poison(name, a, b)
        return None

    def env_poison(self, name: str, a: Binding | None, b: Binding | None) -> None:
        if any(isinstance(x, Poison) and x.why == "was freed" for x in (a, b)):
            why = "was freed on some path to this point"
        elif a is None or b is None or isinstance(a, Poison) or isinstance(b, Poison):
            why = "is not declared on every path to this point"
        else:
            why = "has different ranks or kinds on different paths"
        self.env.set(name, Poison(why))

    def placeholder(self, name: str, other: Binding | None, block: Block) -> Binding | None:
        """A value for RET/DONE in a branch that did not return."""
        if not isinstance(other, Value):
            return None
        if name == DONE:
            op: Operation = arith.ConstantOp(IntegerAttr(0, i1))
        elif other.rank == 0:
            op = arith.ConstantOp(FloatAttr(0.0, f64))
        else:
            op = self.zeros_placeholder(other, block)
        if op.parent is None:
            block.add_op(op)
        return Value(op.results[0])

    def zeros_placeholder(self, other: Value, block: Block) -> Operation:
        rank = other.rank if other.rank is not None else 1
        one = arith.ConstantOp(FloatAttr(1.0, f64))
        block.add_op(one)
        zeros = nt.ZerosOp([one.results[0]] * rank)
        block.add_op(zeros)
        if other.rank is None:
            cast = nt.CastOp(zeros.results[0], other.value.type)
            block.add_op(cast)
            return cast
        return zeros

    def cast_in(self, value: SSAValue, ty: Attribute, block: Block) -> SSAValue:
        if value.type == ty:
            return value
        cast = nt.CastOp(value, ty)
        block.add_op(cast)
        return cast.results[0]

    # ------------------------------------------------------------ loops

    def carried_names(self, body: ast.Block) -> list[str]:
        """Variables the body may rebind that exist (as values) before it."""
        assigned = assigned_names(body.body)
        return [n for n in assigned if isinstance(self.env.get(n), Value)]

    def loop_entry(self, names: list[str]) -> tuple[list[SSAValue], list[Attribute]]:
        inits, types = [], []
        for n in names:
            b = self.env.get(n)
            assert isinstance(b, Value)
            ty = b.value.type if n == DONE else type_of_rank(b.rank)  # DONE is an i1
            inits.append(self.cast_in(b.value, ty, self.block))
            types.append(ty)
        return inits, types

    def loop_next(self, env: Env, names: list[str], types: list[Attribute], loc: SourceLoc):
        out = []
        for n, ty in zip(names, types, strict=True):
            b = env.get(n)
            if n == DONE and isinstance(b, Value):
                out.append(b.value)
                continue
            if not isinstance(b, Value) or b.rank != rank_of(ty):
                raise CompileError(
                    f"`{n}` changes rank or kind inside the loop; use a new name", loc
                )
            out.append(self.cast_in(b.value, ty, self.block))
        return out

    def stmt_while(self, s: ast.While) -> None:
        returns = contains_return(s.body.body)
        if returns:
            self.prepare_return_in_loop(s)
        names = self.carried_names(s.body) + (
            [n for n in (RET, DONE) if n in self.env.bindings] if returns else []
        )
        inits, types = self.loop_entry(names)
        before_block, after_block = Block(arg_types=types), Block(arg_types=types)
        before_env, after_env = (
            self.loop_env(names, before_block),
            self.loop_env(names, after_block),
        )

        def gen_cond() -> None:
            cond = self.loop_condition(s.cond, returns)
            self.emit(scf.ConditionOp(cond, *before_block.args))

        def gen_body() -> None:
            self.while_depth += 1
            self.gen_block(s.body.body)
            self.while_depth -= 1
            self.emit(scf.YieldOp(*self.loop_next(self.env, names, types, s.loc)))

        self.in_block(before_block, before_env, gen_cond)
        self.in_block(after_block, after_env, gen_body)
        op = scf.WhileOp(inits, types, Region(before_block), Region(after_block))
        self.emit(op, s.loc)
        self.after_loop(names, op.results, after_env)

    def loop_condition(self, cond: ast.Expr, returns: bool) -> SSAValue:
        """The i1 condition of a while loop; once the body has returned, the loop
        stops without evaluating `cond` again."""
        if not returns:
            return self.truthy(self.expr(cond), cond.loc)
        done = self.env.get(DONE)
        assert isinstance(done, Value)
        then_block, else_block = Block(), Block()
        then_block.add_op(false := arith.ConstantOp(IntegerAttr(0, i1)))
        then_block.add_op(scf.YieldOp(false))

        def gen_else() -> None:
            self.emit(scf.YieldOp(self.truthy(self.expr(cond), cond.loc)))

        self.in_block(else_block, self.env, gen_else)
        op = scf.IfOp(done.value, [i1], Region(then_block), Region(else_block))
        return self.emit_value(op, cond.loc)

    def prepare_return_in_loop(
        self, s: ast.While | ast.Batch, setup: Callable[[], None] | None = None
    ) -> None:
        """Declare the return flag and value before a loop whose body returns,
        so both can be carried around it (`setup` binds a batch loop's names)."""
        if not isinstance(self.env.get(DONE), Value):
            self.env.set(DONE, Value(self.const_i1(False)))
        if isinstance(self.env.get(RET), Value):
            return
        ret_type = self.trial_return_type(s.body.body, setup)
        if ret_type is not None:
            self.env.set(RET, Value(self.placeholder_of(ret_type)))

    def trial_return_type(
        self, stmts: Sequence[ast.Stmt], setup: Callable[[], None] | None = None
    ) -> Attribute | None:
        """The type a block returns, found by generating it into a scratch
        block that is then thrown away."""
        saved_block, saved_env = self.block, self.env
        self.block, self.env = Block(), self.env.copy()
        self.while_depth += 1
        try:
            if setup is not None:
                setup()
            self.gen_block(stmts)
            ret = self.env.get(RET)
            return ret.value.type if isinstance(ret, Value) else None
        finally:
            self.while_depth -= 1
            for op in reversed(list(self.block.walk())):
                op.drop_all_references()
            self.block, self.env = saved_block, saved_env

    def placeholder_of(self, ty: Attribute) -> SSAValue:
        rank = rank_of(ty)
        if rank == 0:
            return self.const(0.0)
        one = self.const(1.0)
        zeros = self.emit_value(nt.ZerosOp([one] * (rank or 1)))
        return zeros if rank is not None else self.emit_value(nt.CastOp(zeros, ty))

    def loop_env(self, names: list[str], block: Block) -> Env:
        env = self.env.copy()
        for n, arg in zip(names, block.args, strict=False):
            arg.name_hint = n
            env.set(n, Value(arg))
        return env

    def after_loop(self, names: list[str], results: Sequence[SSAValue], body_env: Env) -> None:
        """Carried names get the loop results; names first declared inside may
        not exist (the body may not run)."""
        for n in body_env.changed_names(self.env):
            if n not in names and n not in self.env.bindings:
                inner = body_env.get(n)  # e.g. declared under an `if` in the body
                why = inner.why if isinstance(inner, Poison) else None
                self.env.set(n, Poison(why or "is declared inside a loop that may not run"))
            elif n not in names and isinstance(self.env.get(n), Value | Param):
                pass
        for n, r in zip(names, results, strict=False):
            self.env.set(n, Value(hinted(r, n)))

    def stmt_batch(self, s: ast.Batch) -> None:
        data = self.expr(s.data)
        if rank_of(data.type) == 0:  # unknown rank (read from a file): checked when it runs
            raise CompileError("batch walks a tensor", s.data.loc)
        size = self.scalar(self.expr(s.size), s.size.loc, "the batch size")
        size = self.emit_value(nt.TruncOp(size), s.size.loc)
        total = self.emit_value(nt.DimOp(data, 0), s.loc)

        def bind_names(start: SSAValue, stop: SSAValue, k: SSAValue) -> None:
            self.env.set(s.item, Value(self.emit_value(nt.SliceOp(data, start, stop), s.loc)))
            if s.index is not None:
                self.env.set(s.index, Value(k))

        returns = contains_return(s.body.body)
        if returns:  # like a while loop: carry the return flag and value
            zero = self.const(0.0)
            self.prepare_return_in_loop(s, lambda: bind_names(zero, size, zero))
        names = self.carried_names(s.body) + (
            [n for n in (RET, DONE) if n in self.env.bindings] if returns else []
        )
        inits, types = self.loop_entry(names)
        inits, types = [self.const(0.0), self.const(0.0), *inits], [f64, f64, *types]
        before_block, after_block = Block(arg_types=types), Block(arg_types=types)
        before_env = self.loop_env(names, Block(arg_types=types[2:]))
        after_env = self.env.copy()
        for n, arg in zip(names, after_block.args[2:], strict=True):
            after_env.set(n, Value(arg))

        def gen_cond() -> None:
            more = self.emit_value(nt.CmpOp("lt", before_block.args[0], total))
            cond = self.truthy(more, s.loc)
            if returns:  # once the body has returned, the loop stops
                done = before_block.args[2 + names.index(DONE)]
                not_done = self.emit_value(arith.XOrIOp(done, self.const_i1(True)))
                cond = self.emit_value(arith.AndIOp(cond, not_done))
            self.emit(scf.ConditionOp(cond, *before_block.args))

        outer = self.env.copy()
        new_names: list[str] = []

        def gen_body() -> None:
            start, k = after_block.args[0], after_block.args[1]
            stop = self.emit_value(nt.AddOp(start, size))
            bind_names(start, stop, k)
            self.loop_depth += 1
            self.gen_block(s.body.body)
            self.loop_depth -= 1
            nxt = self.loop_next(self.env, names, types[2:], s.loc)
            # The body runs at least once (tensors have no empty dimension and
            # a size below 1 is an error), so the names it declares, the item
            # and the index included, keep their last values after the loop,
            # like Python's `for`. They are not bound at the start of the body.
            for n in self.env.changed_names(outer):
                b = self.env.get(n)
                if n not in names and n not in (RET, DONE) and isinstance(b, Value):
                    new_names.append(n)
                    ty = type_of_rank(b.rank)
                    nxt.append(self.cast_in(b.value, ty, self.block))
                    types.append(ty)
                    before_block.insert_arg(ty, len(before_block.args))
                    after_block.insert_arg(ty, len(after_block.args))
            k1 = self.emit_value(nt.AddOp(k, self.const(1.0)))
            self.emit(scf.YieldOp(stop, k1, *nxt))

        del before_env
        self.in_block(after_block, after_env, gen_body)
        self.in_block(before_block, self.env.copy(), gen_cond)
        inits += [self.placeholder_of(ty) for ty in types[len(inits) :]]
        op = scf.WhileOp(inits, types, Region(before_block), Region(after_block))
        self.emit(op, s.loc)
        self.after_loop(names + new_names, op.results[2:], after_env)

    # ------------------------------------------------------------ optimize

    def stmt_optimize(self, s: ast.Optimize) -> None:
        if self.optimize_depth:
            raise CompileError("optimize loops cannot be nested", s.loc)
        params = [self.named_param(p) for p in s.params]
        hyper = self.hyperparameters(s)
        names = self.carried_names(s.body)
        inits, types = self.loop_entry(names)
        block = Block(arg_types=types)
        body_env = self.loop_env(names, block)
        exported: list[tuple[str, SSAValue]] = []

        def gen_body() -> None:
            self.optimize_depth += 1
            self.gen_optimize_body(s, block, names, types, exported)
            self.optimize_depth -= 1

        self.in_block(block, body_env, gen_body)
        result_types = [v.type for v in block.last_op.operands[1:]]  # type: ignore[union-attr]
        op = train.OptimizeOp(params, hyper, inits, result_types, Region(block))
        self.emit(op, s.loc)
        for n, r in zip(names, op.res, strict=False):
            self.env.set(n, Value(hinted(r, n)))
        for (n, _), r in zip(exported, list(op.res)[len(names) :], strict=True):
            self.env.set(n, Value(hinted(r, n)))

    def gen_optimize_body(
        self,
        s: ast.Optimize,
        block: Block,
        names: list[str],
        types: list[Attribute],
        exported: list[tuple[str, SSAValue]],
    ) -> None:
        entry_env = self.env.copy()
        minimizes = [st for st in s.body.body if isinstance(st, ast.Minimize)]
        if len(minimizes) > 1:
            raise CompileError(
                "a second `minimize`: an optimize body needs exactly one", minimizes[1].loc
            )
        for st in s.body.body:  # a nested `minimize` is reported here
            if isinstance(st, ast.Minimize):
                self.gen_minimize(st)
            else:
                self.gen_stmt(st)
        if not minimizes:
            raise CompileError("an optimize body needs exactly one `minimize` statement", s.loc)
        stop = self.truthy(self.expr(s.until), s.until.loc)
        carried = self.loop_next(self.env, names, types, s.loc)
        for n in self.env.changed_names(entry_env):
            b = self.env.get(n)
            if n not in names and isinstance(b, Value):
                exported.append((n, b.value))
        self.emit(train.YieldOp(stop, [*carried, *(v for _, v in exported)]))

    def gen_minimize(self, s: ast.Minimize) -> None:
        value = self.expr(s.value)
        rank = rank_of(value.type)
        if rank != 0:
            raise CompileError(
                "the objective of `minimize` must be a scalar, got a tensor; "
                "reduce it with mean() or sum()",
                s.loc,
            )
        self.emit(train.MinimizeOp(value), s.loc)

    def named_param(self, name: ast.Name) -> SSAValue:
        b = self.lookup(name.name, name.loc)
        if not isinstance(b, Param):
            raise CompileError(f"`{name.name}` is not a learnable parameter", name.loc)
        return b.buffer

    def hyperparameters(self, s: ast.Optimize) -> list[SSAValue]:
        from noma.frontend.builtins import optimizer_hyper

        return optimizer_hyper(self, s)

    def compat_var(self, name: str) -> SSAValue | None:
        b = self.env.get(name)
        if isinstance(b, Value) and b.rank == 0:
            return b.value
        return None

    # ------------------------------------------------------------ names

    def lookup(self, name: str, loc: SourceLoc, for_write: bool = False) -> Binding:
        b = self.env.get(name)
        if b is None:
            if for_write:
                raise CompileError(
                    f"assignment to undeclared variable `{name}` (declare it with `let`)", loc
                )
            raise CompileError(f"undeclared variable `{name}`", loc)
        if isinstance(b, Poison):
            raise CompileError(f"`{name}` {b.why}", loc)
        return b

    # ------------------------------------------------------------ expressions

    def expr(self, e: ast.Expr, allow_void: bool = False) -> SSAValue:
        handler = getattr(self, "expr_" + type(e).__name__.lower())
        value = handler(e)
        if value is None and not allow_void:
            raise CompileError("this expression has no value", e.loc)
        return value

    def expr_number(self, e: ast.Number) -> SSAValue:
        return self.const(e.value)

    def expr_string(self, e: ast.String) -> SSAValue:
        raise CompileError("strings can only be printed or used as file paths", e.loc)

    def expr_name(self, e: ast.Name) -> SSAValue:
        b = self.lookup(e.name, e.loc)
        if isinstance(b, Value):
            return b.value
        if isinstance(b, Param):
            return self.emit_value(mem.LoadOp(b.buffer), e.loc)
        assert isinstance(b, Archive)
        return self.emit_value(io.GetOp(b.value, None), e.loc)

    def expr_field(self, e: ast.Field) -> SSAValue:
        if isinstance(e.base, ast.Name):
            b = self.lookup(e.base.name, e.base.loc)
            if isinstance(b, Archive):
                return self.emit_value(io.GetOp(b.value, e.key), e.loc)
        raise CompileError("`.key` reads a tensor from a `load_safetensors` archive", e.loc)

    def expr_unary(self, e: ast.Unary) -> SSAValue:
        if e.op == "-" and isinstance(e.operand, ast.Number):
            return self.const(-e.operand.value)
        value = self.expr(e.operand)
        op = nt.NegOp(value) if e.op == "-" else nt.NotOp(value)
        return self.emit_value(op, e.loc)

    def expr_cast(self, e: ast.Cast) -> SSAValue:
        value = self.expr(e.operand)
        if e.type_name in ("i32", "i64"):
            return self.emit_value(nt.TruncOp(value), e.loc)
        return value

    def expr_binary(self, e: ast.Binary) -> SSAValue:
        if e.op in ("&&", "||"):
            return self.short_circuit(e)
        lhs, rhs = self.expr(e.lhs), self.expr(e.rhs)
        if e.op in CMP_OPS:
            return self.emit_value(
                self.checked(lambda: nt.CmpOp(CMP_OPS[e.op], lhs, rhs), e), e.loc
            )
        return self.emit_value(self.checked(lambda: BINARY_OPS[e.op](lhs, rhs), e), e.loc)

    def checked(self, build: Callable[[], Operation], e: ast.Expr) -> Operation:
        """Build an op, turning a statically known shape error into a CompileError."""
        from xdsl.utils.exceptions import VerifyException

        try:
            op = build()
            op.verify()
            return op
        except VerifyException as err:
            msg = str(err).split(": ", 1)[-1]
            raise CompileError(msg, e.loc) from None

    def short_circuit(self, e: ast.Binary) -> SSAValue:
        """`a && b` / `a || b` on scalars, evaluating `b` only when needed."""
        what = f"an operand of `{e.op}`"
        lhs = self.truthy(self.scalar(self.expr(e.lhs), e.lhs.loc, what), e.lhs.loc)
        then_block, else_block = Block(), Block()
        env = self.env

        def gen_rhs() -> None:
            rhs = self.truthy(self.scalar(self.expr(e.rhs), e.rhs.loc, what), e.rhs.loc)
            self.emit(scf.YieldOp(self.emit_value(arith.UIToFPOp(rhs, f64))))

        def gen_const(value: float) -> Callable[[], None]:
            return lambda: self.emit(scf.YieldOp(self.const(value)))

        if e.op == "&&":
            self.in_block(then_block, env, gen_rhs)
            self.in_block(else_block, env, gen_const(0.0))
        else:
            self.in_block(then_block, env, gen_const(1.0))
            self.in_block(else_block, env, gen_rhs)
        op = scf.IfOp(lhs, [f64], Region(then_block), Region(else_block))
        return self.emit_value(op, e.loc)

    def expr_tensorliteral(self, e: ast.TensorLiteral) -> SSAValue:
        shape, flat = flatten_literal(e.elements)
        numbers = [literal_number(x) for x in flat]
        if all(n is not None for n in numbers):
            return self.emit_value(nt.ConstantOp.from_list(numbers, shape), e.loc)  # type: ignore[arg-type]
        elements = [self.scalar(self.expr(x), x.loc, "a tensor literal element") for x in flat]
        return self.emit_value(nt.FromElementsOp(elements, shape), e.loc)

    def expr_index(self, e: ast.Index) -> SSAValue:
        base: ast.Expr = e
        indices: list[ast.Expr] = []
        while isinstance(base, ast.Index):
            indices.insert(0, base.index)
            base = base.base
        source = self.expr(base)
        rank = rank_of(source.type)
        if rank == 0:
            raise CompileError("a scalar cannot be indexed", e.loc)
        if rank is not None and len(indices) > rank:
            raise CompileError(f"too many indices for a rank-{rank} tensor", e.loc)
        idx = [self.index_value(i) for i in indices]
        check_const_indices(dims_of(source.type), idx, indices)
        return self.emit_value(nt.IndexOp(source, idx), e.loc)

    def index_value(self, e: ast.Expr) -> SSAValue:
        if isinstance(e, ast.Unary) and e.op == "-" and isinstance(e.operand, ast.Number):
            if e.operand.value >= 1:
                raise CompileError(f"negative index -{e.operand.value:g}", e.loc)
        return self.scalar(self.expr(e), e.loc, "an index")

    def expr_call(self, e: ast.Call) -> SSAValue | None:
        fn = self.mod.function(e.callee)
        if fn is not None:
            return self.user_call(fn, e)
        return self.builtins.call(e)

    def user_call(self, fn: ast.FunctionDef, e: ast.Call) -> SSAValue | None:
        if len(e.args) != len(fn.params):
            raise CompileError(
                f"function `{fn.name}` takes {len(fn.params)} arguments, got {len(e.args)}",
                e.loc,
            )
        args = [self.expr(a) for a in e.args]
        inst = self.mod.instantiate(fn, tuple(rank_of(a.type) for a in args), e.loc)
        arg_values = [self.cast_in(a, type_of_rank(rank_of(a.type)), self.block) for a in args]
        if inst.result_rank == "none":
            self.emit(func.CallOp(inst.symbol, arg_values, []), e.loc)
            return None
        result_type = type_of_rank(inst.result_rank)  # type: ignore[arg-type]
        return self.emit_value(func.CallOp(inst.symbol, arg_values, [result_type]), e.loc)


def check_const_indices(
    dims: tuple[int | None, ...] | None, idx: Sequence[SSAValue], exprs: Sequence[ast.Expr]
) -> None:
    """An index that is a constant must be inside a dimension whose size is
    known: an error at compile time, with the run-time message (SPEC §4)."""
    from noma.frontend.builtins import fold_scalar

    for k, (value, e) in enumerate(zip(idx, exprs, strict=True)):
        size = dims[k] if dims is not None and k < len(dims) else None
        x = None if size is None else fold_scalar(value)
        if size is None or x is None or x != x:
            continue
        if -(2.0**62) < x < 2.0**62:
            if 0 <= int(x) < size:  # truncated toward zero, as at run time
                continue
            shown = str(int(x))
        else:
            shown = f"{x:.10g}"
        raise CompileError(f"index {shown} out of range for dimension of size {size}", e.loc)


def check_row_shape(
    dims: tuple[int | None, ...] | None, n: int, value: SSAValue, loc: SourceLoc
) -> None:
    """A row stored into a tensor whose shape is known must have the row's shape."""
    vdims = dims_of(value.type)
    if dims is None or vdims is None or not vdims or len(vdims) != len(dims) - n:
        return
    row = dims[n:]
    if all(d is not None for d in (*row, *vdims)) and tuple(row) != tuple(vdims):
        raise CompileError(
            f"cannot store a value of shape {format_dims(vdims)} into a row of shape "
            f"{format_dims(row)}",
            loc,
        )


# ----------------------------------------------------------------- AST helpers


def flatten_literal(elements: tuple) -> tuple[list[int], list[ast.Expr]]:
    """Shape and row-major elements of a (rectangular, parser-checked) literal."""
    shape = [len(elements)]
    level = elements
    while level and isinstance(level[0], tuple):
        shape.append(len(level[0]))
        level = level[0]
    flat: list[ast.Expr] = []

    def walk(x: object) -> None:
        if isinstance(x, tuple):
            for y in x:
                walk(y)
        else:
            flat.append(x)  # type: ignore[arg-type]

    walk(elements)
    return shape, flat


def literal_number(e: ast.Expr) -> float | None:
    """The value of `3` or `-3`, else None."""
    if isinstance(e, ast.Number):
        return e.value
    if isinstance(e, ast.Unary) and e.op == "-" and isinstance(e.operand, ast.Number):
        return -e.operand.value
    return None


def hinted(value: SSAValue, name: str) -> SSAValue:
    """Name an SSA value after the variable it holds (readable IR: %loss)."""
    if value.name_hint is None and name.isidentifier():
        value.name_hint = name
    return value


def returns_value(stmts: Sequence[ast.Stmt]) -> bool:
    """Whether every path through these statements ends in `return e;`."""
    for s in stmts:
        if isinstance(s, ast.Return):
            return s.value is not None
        if isinstance(s, ast.If) and s.else_block is not None:
            if returns_value(s.then_block.body) and returns_value(s.else_block.body):
                return True
    return False


def contains_return(stmts: Sequence[ast.Stmt]) -> bool:
    """Whether a `return` occurs in these statements or blocks nested in them."""
    for s in stmts:
        if isinstance(s, ast.Return):
            return True
        if isinstance(s, ast.If):
            if contains_return(s.then_block.body) or (
                s.else_block is not None and contains_return(s.else_block.body)
            ):
                return True
        if isinstance(s, ast.While | ast.Batch | ast.Optimize) and contains_return(s.body.body):
            return True
    return False


def assigned_names(stmts: Sequence[ast.Stmt]) -> list[str]:
    """Names a statement list may (re)bind, nested blocks included, in order."""
    out: dict[str, None] = {}
    for s in stmts:
        for n in _bound_by(s):
            out[n] = None
    return list(out)


def _bound_by(s: ast.Stmt) -> list[str]:
    if isinstance(s, ast.Let | ast.Learn | ast.Alloc | ast.LoadCsv | ast.LoadSafetensors):
        return [s.name]
    if isinstance(s, ast.Assign | ast.Realloc | ast.Free):
        return [s.name]
    if isinstance(s, ast.If):
        names = assigned_names(s.then_block.body)
        if s.else_block is not None:
            names += assigned_names(s.else_block.body)
        return names
    if isinstance(s, ast.While | ast.Optimize):
        return assigned_names(s.body.body)
    if isinstance(s, ast.Batch):
        return [s.item, *([s.index] if s.index else []), *assigned_names(s.body.body)]
    return []
