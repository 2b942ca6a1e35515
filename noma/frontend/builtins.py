"""IR generation of built-in calls (SPEC §5) and optimizer settings (SPEC §6.3)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from xdsl.dialects import arith
from xdsl.dialects.builtin import FloatAttr
from xdsl.ir import Operation, SSAValue

from noma.diagnostics import CompileError
from noma.dialects import io, mem, train
from noma.dialects import tensor as nt
from noma.dialects.common import dims_of, format_dims, rank_of
from noma.frontend import ast
from noma.frontend.scope import Param

if TYPE_CHECKING:
    from noma.frontend.irgen import FunctionGen

UNARY: dict[str, type[nt.UnaryOp]] = {
    "sigmoid": nt.SigmoidOp, "relu": nt.ReluOp, "tanh": nt.TanhOp, "exp": nt.ExpOp,
    "log": nt.LogOp, "sqrt": nt.SqrtOp, "sin": nt.SinOp, "cos": nt.CosOp, "tan": nt.TanOp,
    "abs": nt.AbsOp, "floor": nt.FloorOp, "ceil": nt.CeilOp,
}  # fmt: skip
BINARY: dict[str, type[nt.BinaryOp]] = {"pow": nt.PowOp, "min": nt.MinOp, "max": nt.MaxOp}

# Per optimizer: positional argument names, in order (SPEC §6.3).
OPTIMIZER_ARGS = {
    "sgd": ("lr",),
    "adam": ("lr", "beta1", "beta2", "eps"),
    "rmsprop": ("lr", "beta", "eps"),
}
DEFAULTS = {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "rho": 0.9, "eps": 1e-8, "max_iter": 1000}


class BuiltinGen:
    """Built-in functions, emitted into the owning FunctionGen's current block."""

    def __init__(self, fg: FunctionGen):
        self.fg = fg

    def arity(self, e: ast.Call, *counts: int) -> None:
        if len(e.args) not in counts:
            want = " or ".join(str(c) for c in counts)
            raise CompileError(
                f"`{e.callee}` takes {want} argument(s), got {len(e.args)}", e.loc
            )

    def emit(self, op: Operation, e: ast.Expr) -> SSAValue:
        return self.fg.emit_value(self.fg.checked(lambda: op, e), e.loc)

    def args(self, e: ast.Call) -> list[SSAValue]:
        return [self.fg.expr(a) for a in e.args]

    def scalars(self, args: list[ast.Expr]) -> list[SSAValue]:
        return [self.fg.scalar(self.fg.expr(a), a.loc, "this argument") for a in args]

    def call(self, e: ast.Call) -> SSAValue | None:
        name = e.callee
        if name in UNARY:
            self.arity(e, 1)
            return self.emit(UNARY[name](self.fg.expr(e.args[0])), e)
        if name in BINARY:
            self.arity(e, 2)
            a, b = self.args(e)
            return self.fg.emit_value(self.fg.checked(lambda: BINARY[name](a, b), e), e.loc)
        handler: Callable[[ast.Call], SSAValue | None] | None = getattr(
            self, "b_" + name, None
        )
        if handler is None:
            raise CompileError(f"unknown function `{name}`", e.loc)
        return handler(e)

    # ------------------------------------------------------------ output

    def print_stmt(self, e: ast.Call) -> None:
        self.arity(e, 1)
        arg = e.args[0]
        if isinstance(arg, ast.String):
            self.fg.emit(io.PrintStrOp(arg.value), e.loc)
        else:
            self.b_print(e)

    def b_print(self, e: ast.Call) -> SSAValue:
        self.arity(e, 1)
        value = self.fg.expr(e.args[0])
        self.fg.emit(io.PrintOp(value), e.loc)
        return value

    # ------------------------------------------------------------ reductions, linalg

    def reduce(self, e: ast.Call, cls: type[nt.ReduceOp]) -> SSAValue:
        self.arity(e, 1, 2)
        value = self.fg.expr(e.args[0])
        axis = self.const_axis(e.args[1]) if len(e.args) == 2 else None
        rank = rank_of(value.type)
        if axis is not None:
            axis = self.normalize_axis(axis, None if rank is None else max(rank, 1), e)
        if axis is not None and rank is not None and not 0 <= axis < max(rank, 1):
            raise CompileError(f"axis {axis} out of range for a rank-{rank} value", e.loc)
        return self.emit(cls(value, axis), e)

    def const_axis(self, a: ast.Expr) -> int:
        """The axis argument: a number known at compile time (`1`, `-1`, a
        variable holding a constant), truncated toward zero."""
        x = fold_scalar(self.fg.expr(a))
        if x is None:
            raise CompileError("the axis must be a number known at compile time", a.loc)
        if not abs(x) < 2.0**31:  # also NaN
            raise CompileError(f"axis {x:.10g} out of range", a.loc)
        return int(x)

    @staticmethod
    def normalize_axis(axis: int, rank: int | None, e: ast.Call) -> int:
        """A negative axis counts from the end, as in NumPy (`-1` is the last)."""
        if axis >= 0:
            return axis
        if rank is None:
            raise CompileError(
                f"axis {axis} counts from the end, but the rank is only known at run time",
                e.loc,
            )
        return axis + rank if axis + rank >= 0 else axis

    def b_sum(self, e: ast.Call) -> SSAValue:
        return self.reduce(e, nt.SumOp)

    def b_mean(self, e: ast.Call) -> SSAValue:
        return self.reduce(e, nt.MeanOp)

    def tensor_arg(self, e: ast.Call, i: int, ranks: tuple[int, ...]) -> SSAValue:
        value = self.fg.expr(e.args[i])
        rank = rank_of(value.type)
        if rank is None:  # known at run time only: check there when one rank is required
            if len(ranks) > 1:
                return value
            return self.fg.emit_value(nt.CastOp(value, _dyn(ranks[0])), e.loc)
        if rank not in ranks:
            want = " or ".join(f"{r}-D" for r in ranks)
            raise CompileError(f"`{e.callee}` needs a {want} tensor, got rank {rank}", e.loc)
        return value

    def b_matmul(self, e: ast.Call) -> SSAValue:
        self.arity(e, 2)
        a, b = self.tensor_arg(e, 0, (2,)), self.tensor_arg(e, 1, (2,))
        da, db = dims_of(a.type), dims_of(b.type)
        if da and db and None not in (da[1], db[0]) and da[1] != db[0]:
            raise CompileError(  # the run-time message, found at compile time
                f"matmul: shapes {format_dims(da)} and {format_dims(db)} do not match "
                "(expected [m, k] and [k, n])",
                e.loc,
            )
        return self.emit(nt.MatmulOp(a, b), e)

    def b_dot(self, e: ast.Call) -> SSAValue:
        self.arity(e, 2)
        a, b = self.tensor_arg(e, 0, (1,)), self.tensor_arg(e, 1, (1,))
        da, db = dims_of(a.type), dims_of(b.type)
        if da and db and None not in (da[0], db[0]) and da[0] != db[0]:
            raise CompileError(
                f"dot: shapes {format_dims(da)} and {format_dims(db)} do not match "
                "(expected two 1-D tensors of the same length)",
                e.loc,
            )
        return self.emit(nt.DotOp(a, b), e)

    def b_transpose(self, e: ast.Call) -> SSAValue:
        self.arity(e, 1)
        return self.emit(nt.TransposeOp(self.tensor_arg(e, 0, (2,))), e)

    def b_softmax(self, e: ast.Call) -> SSAValue:
        self.arity(e, 1)
        return self.emit(nt.SoftmaxOp(self.tensor_arg(e, 0, (1, 2, 3, 4))), e)

    def b_log_softmax(self, e: ast.Call) -> SSAValue:
        self.arity(e, 1)
        return self.emit(nt.LogSoftmaxOp(self.tensor_arg(e, 0, (1, 2, 3, 4))), e)

    def b_dim(self, e: ast.Call) -> SSAValue:
        self.arity(e, 2)
        axis = self.const_axis(e.args[1])
        target = e.args[0]
        if isinstance(target, ast.Name):
            b = self.fg.lookup(target.name, target.loc)
            if isinstance(b, Param):
                axis = self.check_axis(b.rank, axis, e)
                return self.fg.emit_value(mem.DimOp(b.buffer, axis), e.loc)
        value = self.fg.expr(target)
        axis = self.check_axis(rank_of(value.type), axis, e)
        return self.fg.emit_value(nt.DimOp(value, axis), e.loc)

    def check_axis(self, rank: int | None, axis: int, e: ast.Call) -> int:
        """The axis of `dim`, negative ones counted from the end."""
        if rank == 0:
            raise CompileError("`dim` needs a tensor, got a scalar", e.loc)
        axis = self.normalize_axis(axis, rank, e)
        if axis < 0 or (rank is not None and axis >= rank):
            raise CompileError(f"axis {axis} out of range for a rank-{rank} tensor", e.loc)
        return axis

    # ------------------------------------------------------------ random numbers

    def random(self, e: ast.Call, dist: str, a: SSAValue, b: SSAValue, dims: list[ast.Expr]):
        if len(dims) > 4:
            raise CompileError(
                f"tensors have at most 4 dimensions: `{e.callee}` got {len(dims)} "
                f"({len(e.args)} arguments)",
                e.loc,
            )
        dim_values = self.scalars(dims)
        return self.fg.emit_value(nt.RandomOp(dist, a, b, dim_values), e.loc)

    def b_rand(self, e: ast.Call) -> SSAValue:
        self.arity(e, 0)
        return self.random(e, "uniform", self.fg.const(0.0), self.fg.const(1.0), [])

    def b_rand_uniform(self, e: ast.Call) -> SSAValue:
        self.arity(e, 2)
        a, b = self.scalars(list(e.args))
        return self.random(e, "uniform", a, b, [])

    def b_rand_normal(self, e: ast.Call) -> SSAValue:
        self.arity(e, 2)
        m, s = self.scalars(list(e.args))
        return self.random(e, "normal", m, s, [])

    def need_dims(self, e: ast.Call, fixed: int) -> list[ast.Expr]:
        if len(e.args) < fixed + 1:
            raise CompileError(
                f"`{e.callee}` needs at least one dimension: it takes at least "
                f"{fixed + 1} argument(s), got {len(e.args)}",
                e.loc,
            )
        return list(e.args[fixed:])

    def b_rand_tensor(self, e: ast.Call) -> SSAValue:
        dims = self.need_dims(e, 0)
        return self.random(e, "uniform", self.fg.const(0.0), self.fg.const(1.0), dims)

    def b_rand_normal_tensor(self, e: ast.Call) -> SSAValue:
        dims = self.need_dims(e, 2)
        m, s = self.scalars(list(e.args[:2]))
        return self.random(e, "normal", m, s, dims)

    def b_xavier_init(self, e: ast.Call) -> SSAValue:
        dims = self.need_dims(e, 2)
        fan_in, fan_out = self.scalars(list(e.args[:2]))
        fans = self.fg.emit_value(nt.AddOp(fan_in, fan_out))
        limit = self.fg.emit_value(nt.SqrtOp(self.fg.emit_value(nt.DivOp(self.fg.const(6.0), fans))))
        neg = self.fg.emit_value(nt.NegOp(limit))
        return self.random(e, "uniform", neg, limit, dims)

    def b_he_init(self, e: ast.Call) -> SSAValue:
        dims = self.need_dims(e, 1)
        (fan_in,) = self.scalars(list(e.args[:1]))
        var = self.fg.emit_value(nt.DivOp(self.fg.const(2.0), fan_in))
        std = self.fg.emit_value(nt.SqrtOp(var))
        return self.random(e, "normal", self.fg.const(0.0), std, dims)

    def b_seed(self, e: ast.Call) -> None:
        self.arity(e, 1)
        (n,) = self.scalars(list(e.args))
        self.fg.emit(nt.SeedOp(n), e.loc)
        return None

    # ------------------------------------------------------------ training state

    def b_reset_optimizer(self, e: ast.Call) -> None:
        self.arity(e, 0, 1)
        if e.args:
            target = e.args[0]
            if not isinstance(target, ast.Name):
                raise CompileError("reset_optimizer takes a parameter name", e.loc)
            b = self.fg.lookup(target.name, target.loc)
            if not isinstance(b, Param):
                raise CompileError(f"`{target.name}` is not a learnable parameter", target.loc)
            params = [b.buffer]
        else:
            params = [p.buffer for p in self.fg.env.params()]
        self.fg.emit(train.ResetStateOp(params), e.loc)
        return None


def _dyn(rank: int):
    from noma.dialects.common import type_of_rank

    return type_of_rank(rank)


def optimizer_hyper(fg: FunctionGen, s: ast.Optimize) -> list[SSAValue]:
    """kind, lr, beta1, beta2, rho, eps, max_iter (SPEC §6.3)."""
    max_iter = _first_var(fg, ("max_iterations", "max_iter"))
    if max_iter is None:
        max_iter = fg.const(DEFAULTS["max_iter"])
    else:
        max_iter = fg.emit_value(nt.TruncOp(max_iter), s.loc)
    if s.optimizer is not None:
        settings = _with_clause(fg, s.optimizer)
    else:
        settings = _compat_settings(fg, s)
    order = ("kind", "lr", "beta1", "beta2", "rho", "eps")
    return [settings[k] for k in order] + [max_iter]


def _first_var(fg: FunctionGen, names: tuple[str, ...]) -> SSAValue | None:
    for n in names:
        v = fg.compat_var(n)
        if v is not None:
            return v
    return None


def _with_clause(fg: FunctionGen, spec: ast.OptimizerSpec) -> dict[str, SSAValue]:
    given: dict[str, ast.Expr] = dict(zip(OPTIMIZER_ARGS[spec.name], spec.args, strict=False))
    given.update(dict(spec.kwargs))
    if spec.name == "rmsprop" and "beta" in given:
        given["rho"] = given.pop("beta")
    out = {"kind": fg.const(train.OPTIMIZER_KINDS[spec.name])}
    for key in ("lr", "beta1", "beta2", "rho", "eps"):
        if key in given:
            expr = given[key]
            out[key] = fg.scalar(fg.expr(expr), expr.loc, f"`{key}`")
        else:
            out[key] = fg.const(DEFAULTS[key])
    return out


def _compat_settings(fg: FunctionGen, s: ast.Optimize) -> dict[str, SSAValue]:
    def var_or(names: tuple[str, ...], default: str) -> SSAValue:
        v = _first_var(fg, names)
        return v if v is not None else fg.const(DEFAULTS[default])

    return {
        "kind": _compat_kind(fg, s),
        "lr": var_or(("learning_rate", "lr"), "lr"),
        "beta1": var_or(("beta1",), "beta1"),
        "beta2": var_or(("beta2",), "beta2"),
        "rho": var_or(("beta2",), "rho"),
        "eps": var_or(("epsilon",), "eps"),
    }


def _compat_kind(fg: FunctionGen, s: ast.Optimize) -> SSAValue:
    """`optimizer` wins; else use_adam / use_rmsprop (non-zero); else SGD."""
    kind = fg.compat_var("optimizer")
    if kind is not None:
        return kind
    kind: float | SSAValue = train.SGD
    for flag, value in (("use_rmsprop", train.RMSPROP), ("use_adam", train.ADAM)):
        v = fg.compat_var(flag)
        if v is None:
            continue
        known = _constant_value(v)
        if known is not None:  # the usual `let use_adam = 1;`: decide now
            kind = value if known != 0 else kind
            continue
        on = fg.emit_value(nt.CmpOp("ne", v, fg.const(0.0)))
        old = fg.const(kind) if isinstance(kind, float) else kind
        kind = fg.emit_value(nt.SelectOp(on, fg.const(value), old))
    return fg.const(kind) if isinstance(kind, float) else kind


_FOLDABLE = {
    nt.AddOp: lambda x, y: x + y,
    nt.SubOp: lambda x, y: x - y,
    nt.MulOp: lambda x, y: x * y,
}


def fold_scalar(v: SSAValue, depth: int = 0) -> float | None:
    """The value of a scalar built from constants with `+ - *` and unary `-`."""
    known = _constant_value(v)
    if known is not None or depth > 32:
        return known
    owner = v.owner
    if isinstance(owner, nt.NegOp):
        x = fold_scalar(owner.operands[0], depth + 1)
        return None if x is None else -x
    fn = _FOLDABLE.get(type(owner))  # type: ignore[arg-type]
    if fn is not None:
        x, y = (fold_scalar(o, depth + 1) for o in owner.operands)
        if x is not None and y is not None:
            return fn(x, y)
    return None


def _constant_value(v: SSAValue) -> float | None:
    if isinstance(v.owner, arith.ConstantOp) and isinstance(v.owner.value, FloatAttr):
        return v.owner.value.value.data
    return None
