"""A hypothesis strategy for small *valid* NOMA programs (the pass fuzzer's input).

`programs()` draws a program with a few helper functions and a `main` made
of: `let`s and assignments of scalars, vectors and matrices (static shapes
the generator tracks), element-wise arithmetic with broadcasting, unary and
binary built-ins, reductions, `dot`/`matmul`/`transpose`/`softmax`,
indexing and indexed stores, `if`/`else`, counted `while` loops, `alloc`,
`realloc` (also of learnable parameters, between training loops), `free`,
calls of user functions (generic over ranks, one with an early return),
`rand*` calls and `seed`, CSV round trips, and `optimize` loops with SGD,
Adam or RMSprop over one to three learnable parameters.

Every program it makes is meant to compile; running it may still end in a
run-time error (a NaN objective), which the fuzzer compares like output.

`programs(wide=True)` (the differential test of the native backends) draws
from a wider language on top of that (`programs()` is unchanged): rank-3
and rank-4 tensors (element-wise ops, broadcasting from every lower rank,
axis reductions, indexing, slice stores, softmax, realloc, learnable ones),
broadcasting of both operands (`[r, 1]` with `[1, c]`, `[2, 1, 3]` with
`[4, 1]`), `tan`, `^`, tensor `%` / `**` / casts, select-like
`c * a + (1 - c) * b`, transposed matmul operands, dims up to 9 (vector
loops and their tails) and a few large tensors (the runtime's threaded and
blocked paths), special numbers (-0, subnormals, huge values, inf, nan),
copies of tensors and parameters that must not see later stores, `else
if`, data-dependent `while` conditions, `batch` loops, safetensors round
trips (values of unknown rank), dims known only at run time (computed in
`alloc`/`realloc`, different per branch, changing every loop iteration),
shape-specific user functions (a matrix product, an early return that
depends on data, returns inside `while` and `batch`, one function calling
another), optimizer settings from variables (compat), losses through
matmul, softmax cross-entropy and broadcasting, parameters that grow while
they train (`realloc` inside an `optimize` body, under an `if` on the
objective, or between the rounds of a `while` around the loop), and now
and then a statement that may fail at run time (an index drawn at random,
a missing file, a NaN objective).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hypothesis import strategies as st

# A type: ("S",) scalar, ("V", n) vector, ("M", r, c) matrix.
Type = tuple

S: Type = ("S",)
UNARY = ("sigmoid", "relu", "tanh", "exp", "log", "sqrt", "sin", "cos", "abs", "floor", "ceil")
SAFE_UNARY = ("sigmoid", "relu", "tanh", "sin", "cos", "abs", "floor", "ceil")
BINARY_FN = ("min", "max", "pow")
ARITH = ("+", "-", "*", "/")
CMP = ("<", "<=", ">", ">=", "==", "!=")
LITERALS = ("0", "1", "2", "3", "0.5", "1.5", "-1", "0.25", "10", "1e-3")
# wide=True only:
WIDE_UNARY = (*UNARY, "tan")
SPECIAL_LITERALS = ("-0", "(0 * -1)", "1e-310", "1e308", "(1 / 0)", "(-1 / 0)", "(0 / 0)",
                    "7.5", "1e10", "-2.5", "0.1")  # fmt: skip


@dataclass
class Var:
    name: str
    type: Type
    param: bool = False
    counter: bool = False  # a loop counter: read, never written (the loop must end)
    #: wide: its value may come from a safetensors file, so the compiler does
    #: not know its rank (no other rank may be assigned to it in a branch or
    #: loop, no parameter made from it)
    unranked: bool = False


@dataclass
class Scope:
    vars: dict[str, Var] = field(default_factory=dict)

    def copy(self) -> Scope:
        return Scope(dict(self.vars))


class Builder:
    """Draws one program; `draw` is hypothesis's."""

    def __init__(self, draw: st.DrawFn, wide: bool = False):
        self.draw = draw
        self.wide = wide
        self.counter = 0
        self.functions: list[tuple[str, int]] = []  # (name, arity), elementwise bodies
        self.shaped_functions: set[str] = set()  # wide: "lin", "nrm", "red", "twice"
        self.training_now = False  # no inf/nan literals in training: the loop would stop at once
        self.lines: list[str] = []
        self.files = 0

    # ------------------------------------------------------------ helpers

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def choice(self, options: list | tuple):
        return self.draw(st.sampled_from(list(options)))

    def chance(self, p: float) -> bool:
        return self.draw(st.integers(0, 99)) < int(p * 100)

    def dim(self) -> int:
        if self.wide and self.chance(0.08):
            return self.draw(st.integers(4, 9))
        return self.draw(st.integers(1, 3))

    def any_type(self) -> Type:
        kind = self.choice(["S", "S", "V", "V", "M"] + ["N"] * self.wide)
        if kind == "S":
            return S
        if kind == "V":
            return ("V", self.dim())
        if kind == "N":
            return self.nd_type()
        return ("M", self.dim(), self.dim())

    def nd_type(self) -> Type:
        """wide: a rank-3 or rank-4 type (small dims)."""
        rank = self.choice([3, 3, 4])
        return ("N", *(self.draw(st.integers(1, 3)) for _ in range(rank)))

    def number(self) -> str:
        if self.wide and not self.training_now and self.chance(0.05):
            return self.choice(SPECIAL_LITERALS)
        if self.chance(0.7):
            return self.choice(LITERALS)
        value = self.draw(st.integers(-300, 300)) / 100
        return repr(value)

    # ------------------------------------------------------------ expressions

    def expr(self, t: Type, scope: Scope, depth: int, elementwise: bool = False) -> str:
        """An expression of type `t`. `elementwise`: only ops that work on any
        shape (the bodies of rank-generic functions)."""
        if depth <= 0 or self.chance(0.25):
            return self.leaf(t, scope, elementwise)
        if elementwise:
            return self.elementwise(t, scope, depth)
        if t == S:
            return self.scalar(scope, depth)
        if t[0] == "V":
            return self.vector(t, scope, depth)
        if t[0] == "N":
            return self.rankn(t, scope, depth)
        return self.matrix(t, scope, depth)

    def leaf(self, t: Type, scope: Scope, elementwise: bool = False) -> str:
        names = [v.name for v in scope.vars.values() if v.type == t]
        if elementwise:
            names += [v.name for v in scope.vars.values() if v.type == S]
        if names and self.chance(0.7):
            return self.choice(names)
        if t == S or elementwise:
            return self.number()
        return self.literal(t)

    def literal(self, t: Type) -> str:
        if t[0] == "V":
            return "tensor [" + ", ".join(self.number() for _ in range(t[1])) + "]"
        if t[0] == "N":
            return "tensor " + self.nested(t[1:])
        rows = ("[" + ", ".join(self.number() for _ in range(t[2])) + "]" for _ in range(t[1]))
        return "tensor [" + ", ".join(rows) + "]"

    def nested(self, dims: tuple) -> str:
        if len(dims) == 1:
            return "[" + ", ".join(self.number() for _ in range(dims[0])) + "]"
        return "[" + ", ".join(self.nested(dims[1:]) for _ in range(dims[0])) + "]"

    def elementwise(self, t: Type, scope: Scope, depth: int) -> str:
        sub = depth - 1
        kind = self.choice(["arith", "arith", "unary", "binfn", "neg", "call", "cmp"])
        if kind == "arith":
            op = self.choice(ARITH)
            return f"({self.expr(t, scope, sub, True)} {op} {self.expr(t, scope, sub, True)})"
        if kind == "unary":
            return f"{self.choice(SAFE_UNARY)}({self.expr(t, scope, sub, True)})"
        if kind == "binfn":
            fn = self.choice(("min", "max"))
            return f"{fn}({self.expr(t, scope, sub, True)}, {self.expr(t, scope, sub, True)})"
        if kind == "neg":
            return f"-{self.leaf(t, scope, True)}"
        if kind == "cmp":
            op = self.choice(CMP)
            return f"({self.expr(t, scope, sub, True)} {op} {self.expr(t, scope, sub, True)})"
        return self.call(t, scope, sub, elementwise=True)

    def call(self, t: Type, scope: Scope, depth: int, elementwise: bool = False) -> str:
        if not self.functions:
            return self.leaf(t, scope, elementwise)
        name, arity = self.choice(self.functions)
        args = ", ".join(self.expr(t, scope, depth, elementwise) for _ in range(arity))
        return f"{name}({args})"

    def tensor_vars(self, scope: Scope, kind: str) -> list[Var]:
        return [v for v in scope.vars.values() if v.type[0] == kind]

    def scalar(self, scope: Scope, depth: int) -> str:
        sub = depth - 1
        kinds = ["arith", "arith", "unary", "binfn", "cmp", "logic", "not", "reduce", "index",
                 "rand", "call", "absish", "dot", "dim", "cast", "pow"]  # fmt: skip
        kind = self.choice(kinds + ["wide"] * (4 * self.wide))
        if kind == "wide":
            return self.scalar_wide(scope, depth)
        if kind == "arith":
            op = self.choice((*ARITH, "%"))
            return f"({self.expr(S, scope, sub)} {op} {self.expr(S, scope, sub)})"
        if kind == "pow":
            return f"({self.expr(S, scope, sub)} ** {self.choice(('2', '3', '-1', '0.5'))})"
        if kind == "unary":
            return f"{self.choice(UNARY)}({self.expr(S, scope, sub)})"
        if kind == "binfn":
            fn = self.choice(BINARY_FN)
            return f"{fn}({self.expr(S, scope, sub)}, {self.expr(S, scope, sub)})"
        if kind == "cmp":
            op = self.choice(CMP)
            return f"({self.expr(S, scope, sub)} {op} {self.expr(S, scope, sub)})"
        if kind == "logic":
            op = self.choice(("&&", "||"))
            return f"({self.expr(S, scope, sub)} {op} {self.expr(S, scope, sub)})"
        if kind == "not":
            return f"!{self.leaf(S, scope)}"
        if kind == "reduce":
            t = self.any_tensor_type()
            fn = self.choice(("sum", "mean"))
            if t[0] == "V" and self.chance(0.3):
                return f"{fn}({self.expr(t, scope, sub)}, 0)"
            return f"{fn}({self.expr(t, scope, sub)})"
        if kind == "index":
            t = self.any_tensor_type()
            idx = "".join(f"[{self.draw(st.integers(0, n - 1))}]" for n in t[1:])
            names = [v.name for v in scope.vars.values() if v.type == t]
            base = self.choice(names) if names else f"({self.literal(t)})"
            return base + idx
        if kind == "rand":
            return self.choice(("rand()", "rand_uniform(-1, 1)", "rand_normal(0, 1)"))
        if kind == "absish":
            return f"absish({self.expr(S, scope, sub)})"
        if kind == "dot":
            t = ("V", self.dim())
            return f"dot({self.expr(t, scope, sub)}, {self.expr(t, scope, sub)})"
        if kind == "dim":
            tensors = self.tensor_vars(scope, "V") + self.tensor_vars(scope, "M")
            if not tensors:
                return self.number()
            v = self.choice(tensors)
            return f"dim({v.name}, {self.draw(st.integers(0, len(v.type) - 2))})"
        if kind == "cast":
            return f"({self.expr(S, scope, sub)} as {self.choice(('i32', 'f64', 'i64', 'f32'))})"
        return self.call(S, scope, sub)

    def any_tensor_type(self) -> Type:
        if self.wide and self.chance(0.2):
            return self.nd_type()
        if self.chance(0.6):
            return ("V", self.dim())
        return ("M", self.dim(), self.dim())

    def vector(self, t: Type, scope: Scope, depth: int) -> str:
        n = t[1]
        sub = depth - 1
        kind = self.choice(["arith", "arith", "scalar_arith", "unary", "binfn", "rand",
                            "softmax", "row", "reduce_axis", "call", "literal", "cmp"]
                           + ["wide"] * (4 * self.wide))  # fmt: skip
        if kind == "wide":
            return self.tensor_wide(t, scope, depth)
        if kind == "arith":
            op = self.choice(ARITH)
            return f"({self.expr(t, scope, sub)} {op} {self.expr(t, scope, sub)})"
        if kind == "scalar_arith":
            op = self.choice(ARITH)
            return f"({self.expr(S, scope, sub)} {op} {self.expr(t, scope, sub)})"
        if kind == "cmp":
            return f"({self.expr(t, scope, sub)} {self.choice(CMP)} {self.expr(S, scope, sub)})"
        if kind == "unary":
            return f"{self.choice(UNARY)}({self.expr(t, scope, sub)})"
        if kind == "binfn":
            fn = self.choice(BINARY_FN)
            return f"{fn}({self.expr(t, scope, sub)}, {self.expr(t, scope, sub)})"
        if kind == "rand":
            return self.choice(
                (
                    f"rand_tensor({n})",
                    f"rand_normal_tensor(0, 1, {n})",
                    f"xavier_init(2, 3, {n})",
                    f"he_init(2, {n})",
                )  # fmt: skip
            )
        if kind == "softmax":
            return f"{self.choice(('softmax', 'log_softmax'))}({self.expr(t, scope, sub)})"
        if kind == "row":
            m = ("M", self.dim(), n)
            return f"{self.expr(m, scope, sub)}[{self.draw(st.integers(0, m[1] - 1))}]"
        if kind == "reduce_axis":
            if self.chance(0.5):
                m = ("M", self.dim(), n)
                return f"{self.choice(('sum', 'mean'))}({self.expr(m, scope, sub)}, 0)"
            m = ("M", n, self.dim())
            return f"{self.choice(('sum', 'mean'))}({self.expr(m, scope, sub)}, 1)"
        if kind == "call":
            return self.call(t, scope, sub)
        return self.literal(t)

    def matrix(self, t: Type, scope: Scope, depth: int) -> str:
        _, r, c = t
        sub = depth - 1
        kind = self.choice(["arith", "arith", "bcast", "unary", "matmul", "transpose", "rand",
                            "softmax", "call", "literal"] + ["wide"] * (4 * self.wide))  # fmt: skip
        if kind == "wide":
            return self.tensor_wide(t, scope, depth)
        if kind == "arith":
            op = self.choice(ARITH)
            return f"({self.expr(t, scope, sub)} {op} {self.expr(t, scope, sub)})"
        if kind == "bcast":
            op = self.choice(ARITH)
            other = self.choice([S, ("V", c), ("M", 1, c), ("M", r, 1)])
            if self.chance(0.5):
                return f"({self.expr(t, scope, sub)} {op} {self.expr(other, scope, sub)})"
            return f"({self.expr(other, scope, sub)} {op} {self.expr(t, scope, sub)})"
        if kind == "unary":
            return f"{self.choice(UNARY)}({self.expr(t, scope, sub)})"
        if kind == "matmul":
            k = self.dim()
            return f"matmul({self.expr(('M', r, k), scope, sub)}, {self.expr(('M', k, c), scope, sub)})"
        if kind == "transpose":
            return f"transpose({self.expr(('M', c, r), scope, sub)})"
        if kind == "rand":
            return self.choice((f"rand_tensor({r}, {c})", f"rand_normal_tensor(1, 2, {r}, {c})"))
        if kind == "softmax":
            return f"softmax({self.expr(t, scope, sub)})"
        if kind == "call":
            return self.call(t, scope, sub)
        return self.literal(t)

    # ------------------------------------------------------------ wide=True expressions

    def shaped(self, dims: tuple) -> Type:
        """The type of a value with these dims (rank 0 to 4)."""
        if not dims:
            return S
        if len(dims) == 1:
            return ("V", dims[0])
        if len(dims) == 2:
            return ("M", *dims)
        return ("N", *dims)

    def broadcastable(self, dims: tuple) -> Type:
        """A type that broadcasts to `dims`: a trailing part of them, some 1."""
        rank = self.draw(st.integers(0, len(dims)))
        tail = dims[len(dims) - rank :]
        return self.shaped(tuple(1 if self.chance(0.3) else d for d in tail))

    def select(self, t: Type, scope: Scope, sub: int) -> str:
        """`c * a + (1 - c) * b` with `c` a comparison (evaluated twice)."""
        c = f"({self.expr(t, scope, sub)} {self.choice(CMP)} {self.expr(self.choice([t, S]), scope, sub)})"
        return f"({c} * {self.expr(t, scope, sub)} + (1 - {c}) * {self.expr(t, scope, sub)})"

    def scalar_wide(self, scope: Scope, depth: int) -> str:
        sub = depth - 1
        kind = self.choice(["tan", "caret", "reduce", "dim", "cast_sum", "red", "xent",
                            "maybe_oob", "axis", "select", "loopfn"])  # fmt: skip
        if kind == "tan":
            return f"tan({self.expr(S, scope, sub)})"
        if kind == "caret":
            return f"({self.expr(S, scope, sub)} ^ {self.choice(('2', '3', '-1', '0.5', '-2'))})"
        if kind == "reduce":
            t = self.nd_type()
            return f"{self.choice(('sum', 'mean'))}({self.expr(t, scope, sub)})"
        if kind == "dim":
            tensors = self.tensor_vars(scope, "N") + self.tensor_vars(scope, "M")
            if tensors:
                v = self.choice(tensors)
                return f"dim({v.name}, {self.draw(st.integers(0, len(v.type) - 2))})"
        if kind == "cast_sum":
            t = self.any_tensor_type()
            return f"sum({self.expr(t, scope, sub)} as {self.choice(('i32', 'i64', 'f32'))})"
        if kind == "red" and "red" in self.shaped_functions:
            return f"red({self.expr(self.any_tensor_type(), scope, sub)})"
        if kind == "loopfn" and "firstpos" in self.shaped_functions:
            t = ("V", self.dim())
            return f"{self.choice(['firstpos', 'bsum'])}({self.expr(t, scope, sub)})"
        if kind == "xent":
            t = ("V", self.dim())
            logits, target = self.expr(t, scope, sub), self.expr(t, scope, sub)
            return f"(0 - sum(log_softmax({logits}) * softmax({target})))"
        if kind == "maybe_oob":  # may fail at run time: an index drawn at random
            vectors = self.tensor_vars(scope, "V")
            if vectors:
                v = self.choice(vectors)
                shift = self.choice(["", "", " - 1"])
                return f"{v.name}[floor(rand() * {v.type[1] + 1}){shift}]"
        if kind == "axis":
            t = ("V", self.dim())
            return f"{self.choice(('sum', 'mean'))}({self.expr(t, scope, sub)}, 0)"
        if kind == "select":
            return self.select(S, scope, sub)
        return f"({self.expr(S, scope, sub)} - {self.expr(S, scope, sub)})"

    def tensor_wide(self, t: Type, scope: Scope, depth: int) -> str:
        """wide: more ways to make a tensor of type `t` (any rank)."""
        dims = t[1:]
        sub = depth - 1
        kinds = ["bcast", "bcast", "bcast2", "tan", "powmod", "cast", "select", "index_up",
                 "reduce_up", "nrm"]  # fmt: skip
        if t[0] == "M":
            kinds += ["outer", "matmul_t", "matmul_t", "lin"]
        if t[0] == "V":
            kinds += ["one"]
        kind = self.choice(kinds)
        if kind == "bcast":
            pair = [self.expr(t, scope, sub), self.expr(self.broadcastable(dims), scope, sub)]
            if self.chance(0.5):
                pair.reverse()
            return f"({pair[0]} {self.choice((*ARITH, '%', '**'))} {pair[1]})"
        if kind == "bcast2":  # both operands broadcast: [2, 1, 3] with [4, 1]
            a, b = [], []
            for d in dims:
                side = self.choice(["a", "b", "both"])
                a.append(d if side != "b" else 1)
                b.append(d if side != "a" else 1)
            lead = 0  # leading size-1 axes of `b` may be dropped (a lower rank)
            while lead < len(b) - 1 and b[lead] == 1 and self.chance(0.5):
                lead += 1
            left = self.expr(self.shaped(tuple(a)), scope, sub)
            right = self.expr(self.shaped(tuple(b[lead:])), scope, sub)
            return f"({left} {self.choice(ARITH)} {right})"
        if kind == "tan":
            return f"tan({self.expr(t, scope, sub)})"
        if kind == "powmod":
            other = self.expr(self.choice([t, S]), scope, sub)
            if self.chance(0.3):
                return f"pow({self.expr(t, scope, sub)}, {other})"
            return f"({self.expr(t, scope, sub)} {self.choice(('%', '**', '^'))} {other})"
        if kind == "cast":
            return f"({self.expr(t, scope, sub)} as {self.choice(('i32', 'i64', 'f64'))})"
        if kind == "select":
            return self.select(t, scope, sub)
        if kind == "index_up" and len(dims) < 4:
            d = self.dim()
            return f"{self.expr(self.shaped((d, *dims)), scope, sub)}[{self.draw(st.integers(0, d - 1))}]"
        if kind == "reduce_up" and len(dims) < 4:
            axis = self.draw(st.integers(0, len(dims)))
            src = self.shaped((*dims[:axis], self.dim(), *dims[axis:]))
            return f"{self.choice(('sum', 'mean'))}({self.expr(src, scope, sub)}, {axis})"
        if kind == "nrm" and "nrm" in self.shaped_functions:
            return f"nrm({self.expr(t, scope, sub)})"
        if kind == "outer":
            r, c = dims
            op = self.choice(ARITH)
            if self.chance(0.5):
                return f"({self.expr(('M', r, 1), scope, sub)} {op} {self.expr(('M', 1, c), scope, sub)})"
            return f"({self.expr(('V', c), scope, sub)} {op} {self.expr(('M', r, 1), scope, sub)})"
        if kind == "matmul_t":
            r, c = dims
            k = self.dim()
            form = self.choice(["tl", "tr", "tt", "outer"])
            if form == "tl":
                return f"matmul(transpose({self.expr(('M', k, r), scope, sub)}), {self.expr(('M', k, c), scope, sub)})"
            if form == "tr":
                return f"matmul({self.expr(('M', r, k), scope, sub)}, transpose({self.expr(('M', c, k), scope, sub)}))"
            if form == "tt":
                return f"transpose(matmul({self.expr(('M', c, k), scope, sub)}, {self.expr(('M', k, r), scope, sub)}))"
            return f"matmul(transpose({self.expr(('M', 1, r), scope, sub)}), {self.expr(('M', 1, c), scope, sub)})"
        if kind == "lin" and "lin" in self.shaped_functions:
            r, c = dims
            k = self.dim()
            return (
                f"lin({self.expr(('M', r, k), scope, sub)}, {self.expr(('M', k, c), scope, sub)})"
            )
        if kind == "one":  # [1] with [n]
            pair = [self.expr(("V", 1), scope, sub), self.expr(t, scope, sub)]
            if self.chance(0.5):
                pair.reverse()
            return f"({pair[0]} {self.choice(ARITH)} {pair[1]})"
        return f"({self.expr(t, scope, sub)} {self.choice(ARITH)} {self.expr(t, scope, sub)})"

    def rankn(self, t: Type, scope: Scope, depth: int) -> str:
        """A rank-3 or rank-4 tensor expression (wide)."""
        dims = ", ".join(map(str, t[1:]))
        sub = depth - 1
        kind = self.choice(["arith", "arith", "wide", "wide", "unary", "binfn", "rand",
                            "softmax", "call", "literal", "cmp"])  # fmt: skip
        if kind == "wide":
            return self.tensor_wide(t, scope, depth)
        if kind == "arith":
            op = self.choice(ARITH)
            return f"({self.expr(t, scope, sub)} {op} {self.expr(t, scope, sub)})"
        if kind == "unary":
            return f"{self.choice(WIDE_UNARY)}({self.expr(t, scope, sub)})"
        if kind == "binfn":
            fn = self.choice(BINARY_FN)
            return f"{fn}({self.expr(t, scope, sub)}, {self.expr(t, scope, sub)})"
        if kind == "rand":
            return self.choice([f"rand_tensor({dims})", f"rand_normal_tensor(0, 1, {dims})",
                                f"xavier_init(2, 3, {dims})", f"he_init(2, {dims})"])  # fmt: skip
        if kind == "softmax":
            return f"{self.choice(('softmax', 'log_softmax'))}({self.expr(t, scope, sub)})"
        if kind == "call":
            return self.call(t, scope, sub)
        if kind == "cmp":
            return f"({self.expr(t, scope, sub)} {self.choice(CMP)} {self.expr(S, scope, sub)})"
        return self.literal(t)

    # ------------------------------------------------------------ statements

    def emit(self, indent: int, text: str) -> None:
        self.lines.append("    " * indent + text)

    def block(self, scope: Scope, indent: int, count: int, depth: int) -> None:
        for _ in range(count):
            self.statement(scope, indent, depth)

    def statement(self, scope: Scope, indent: int, depth: int) -> None:
        kinds = ["let", "let", "assign", "print", "print", "store", "alloc"]
        if depth > 0:
            kinds += ["if", "while"]
        if indent == 1:  # shape changes only where every later statement sees them
            kinds += ["free", "seed", "csv", "realloc"]
        kind = self.choice(kinds + ["wide"] * (3 * self.wide))
        getattr(self, "stmt_" + kind)(scope, indent, depth)

    def stmt_let(self, scope: Scope, indent: int, depth: int) -> None:
        t = self.any_type()
        shadow = [v for v in scope.vars.values() if not v.param and not v.counter]
        if shadow and indent == 1 and self.chance(0.15):
            name = self.choice([v.name for v in shadow])  # shadowing, maybe another rank
        else:
            name = self.fresh("x")
        value = self.expr(t, scope, 3)
        self.emit(indent, f"let {name} = {value};")
        scope.vars[name] = Var(name, t, unranked=self.mentions_unranked(value, scope))

    def mentions_unranked(self, text: str, scope: Scope) -> bool:
        names = {v.name for v in scope.vars.values() if v.unranked}
        return bool(names) and any(word in names for word in re.findall(r"\w+", text))

    def stmt_assign(self, scope: Scope, indent: int, depth: int) -> None:
        targets = [v for v in scope.vars.values() if not v.counter]
        if indent > 1:  # (a ranked value on one path, unranked on another: an error)
            targets = [v for v in targets if not v.unranked]
        if not targets:
            return self.stmt_let(scope, indent, depth)
        v = self.choice(targets)
        value = self.expr(v.type, scope, 3)
        self.emit(indent, f"{v.name} = {value};")
        if self.mentions_unranked(value, scope):
            v.unranked = True  # (the Var is shared with the enclosing scopes)
        return None

    def stmt_print(self, scope: Scope, indent: int, depth: int) -> None:
        if scope.vars and self.chance(0.5):
            self.emit(indent, f"print({self.choice(list(scope.vars))});")
        elif self.chance(0.1):
            self.emit(indent, f'print("s{self.draw(st.integers(0, 9))}");')
        else:
            self.emit(indent, f"print({self.expr(self.any_type(), scope, 3)});")

    def stmt_store(self, scope: Scope, indent: int, depth: int) -> None:
        tensors = self.tensor_vars(scope, "V") + self.tensor_vars(scope, "M")
        if not tensors:
            return self.stmt_alloc(scope, indent, depth)
        v = self.choice(tensors)
        if v.type[0] == "M" and self.chance(0.3):  # a row (or a scalar filling it)
            row = self.choice([S, ("V", v.type[2])])
            i = self.draw(st.integers(0, v.type[1] - 1))
            self.emit(indent, f"{v.name}[{i}] = {self.expr(row, scope, 2)};")
            return None
        idx = "".join(f"[{self.draw(st.integers(0, n - 1))}]" for n in v.type[1:])
        self.emit(indent, f"{v.name}{idx} = {self.expr(S, scope, 2)};")
        return None

    def stmt_alloc(self, scope: Scope, indent: int, depth: int) -> None:
        t = self.any_tensor_type()
        name = self.fresh("buf")
        self.emit(indent, f"alloc {name} = [{', '.join(str(d) for d in t[1:])}];")
        scope.vars[name] = Var(name, t)

    def stmt_realloc(self, scope: Scope, indent: int, depth: int) -> None:
        tensors = [v for v in scope.vars.values() if v.type != S and not v.param]
        if not tensors:
            return self.stmt_alloc(scope, indent, depth)
        v = self.choice(tensors)
        dims = [self.dim() for _ in v.type[1:]]
        init = self.realloc_init()
        self.emit(indent, f"realloc {v.name} = [{', '.join(map(str, dims))}]{init};")
        scope.vars[v.name] = Var(v.name, (v.type[0], *dims))
        return None

    def realloc_init(self) -> str:
        return self.choice(["", " init zeros", " init normal(0, 0.5)", " init uniform(-1, 1)"])

    def stmt_if(self, scope: Scope, indent: int, depth: int) -> None:
        self.emit(indent, f"if {self.expr(S, scope, 2)} {{")
        self.block(scope.copy(), indent + 1, self.draw(st.integers(1, 3)), depth - 1)
        if self.chance(0.5):
            self.emit(indent, "} else {")
            self.block(scope.copy(), indent + 1, self.draw(st.integers(1, 2)), depth - 1)
        self.emit(indent, "}")

    def stmt_while(self, scope: Scope, indent: int, depth: int) -> None:
        i = self.fresh("i")
        self.emit(indent, f"let {i} = 0;")
        scope.vars[i] = Var(i, S, counter=True)
        self.emit(indent, f"while {i} < {self.draw(st.integers(0, 3))} {{")
        inner = scope.copy()
        self.block(inner, indent + 1, self.draw(st.integers(1, 3)), depth - 1)
        self.emit(indent + 1, f"{i} = {i} + 1;")
        self.emit(indent, "}")

    def stmt_free(self, scope: Scope, indent: int, depth: int) -> None:
        candidates = [v for v in scope.vars.values() if v.type != S]
        if not candidates:
            return self.stmt_print(scope, indent, depth)
        v = self.choice(candidates)
        self.emit(indent, f"free {v.name};")
        del scope.vars[v.name]
        return None

    def stmt_seed(self, scope: Scope, indent: int, depth: int) -> None:
        self.emit(indent, f"seed({self.draw(st.integers(-3, 1000))});")

    def stmt_csv(self, scope: Scope, indent: int, depth: int) -> None:
        t = ("M", self.dim(), self.dim())
        self.files += 1
        path = f"tmp_gen_{self.files}.csv"
        name = self.fresh("csv")
        self.emit(indent, f'save_csv {self.expr(t, scope, 2)}, "{path}";')
        self.emit(indent, f'load_csv {name} = "{path}";')
        scope.vars[name] = Var(name, t)

    # ------------------------------------------------------------ wide=True statements

    def stmt_wide(self, scope: Scope, indent: int, depth: int) -> None:
        kinds = ["print_str", "store_n", "elif", "elif", "snapshot", "snapshot", "big"]
        if depth > 0:
            kinds += ["cond_while", "batch", "batch"]
        if indent == 1:  # shape changes
            kinds += ["safetensors", "dyn_realloc", "dyn_realloc", "dyn_alloc", "missing_file",
                      "branch_shapes", "loop_shapes"]  # fmt: skip
        kind = self.choice(kinds)
        if kind in ("missing_file", "big") and not self.chance(0.15):
            kind = "print_str"
        getattr(self, "stmt_" + kind)(scope, indent, depth)

    def stmt_branch_shapes(self, scope: Scope, indent: int, depth: int) -> None:
        """A variable whose dims depend on the branch taken (so are known only at
        run time), used, then reallocated to dims known again."""
        tensors = [
            v
            for v in scope.vars.values()
            if v.type != S and not v.param and not v.counter and not v.unranked
        ]
        if not tensors:
            return self.stmt_let(scope, indent, depth)
        v = self.choice(tensors)
        self.emit(indent, f"if {self.expr(S, scope, 2)} {{")
        self.emit(indent + 1, f"{v.name} = {self.expr(self.resized(v.type), scope, 2)};")
        self.emit(indent, "} else {")
        self.emit(indent + 1, f"{v.name} = {self.expr(self.resized(v.type), scope, 2)};")
        self.emit(indent, "}")
        self.use_dynamic(v.name, indent)
        new = self.resized(v.type)
        self.emit(
            indent, f"realloc {v.name} = [{', '.join(map(str, new[1:]))}]{self.realloc_init()};"
        )
        scope.vars[v.name] = Var(v.name, new, unranked=v.unranked)
        return None

    def stmt_loop_shapes(self, scope: Scope, indent: int, depth: int) -> None:
        """A loop-carried tensor whose dims change every iteration."""
        name, i = self.fresh("x"), self.fresh("i")
        rounds = self.draw(st.integers(1, 3))
        other = self.dim()
        self.emit(indent, f"let {name} = tensor [[{self.number()}]];")
        self.emit(indent, f"let {i} = 0;")
        self.emit(indent, f"while {i} < {rounds} {{")
        self.emit(indent + 1, self.choice([
            f"{name} = rand_tensor({i} + 1, {other}) + sum({name});",
            f"{name} = rand_normal_tensor(0, 1, {i} + 1, {other}) * mean({name}) + {name}[0][0];",
        ]))  # fmt: skip
        self.use_dynamic(name, indent + 1)
        self.emit(indent + 1, f"{i} = {i} + 1;")
        self.emit(indent, "}")
        scope.vars[i] = Var(i, S, counter=True)
        scope.vars[name] = Var(name, ("M", rounds, other))

    def resized(self, t: Type) -> Type:
        return (t[0], *(self.dim() for _ in t[1:]))

    def use_dynamic(self, name: str, indent: int) -> None:
        """Shape-generic uses of a tensor whose dims are known only at run time."""
        for _ in range(self.draw(st.integers(1, 3))):
            self.emit(indent, self.choice([
                f"print({name});", f"print(sum({name} * {name}));",
                f"print(exp(tanh({name})) * 2 - {name});", f"print(mean(softmax({name})));",
                f"print(dim({name}, 0));", f"{name} = {name} * 0.5 + sigmoid({name});",
                f"print(max({name}, 0) + min({name}, {self.number()}));",
            ]))  # fmt: skip

    def stmt_print_str(self, scope: Scope, indent: int, depth: int) -> None:
        self.emit(indent, self.choice(['print("tab\\there");', 'print("q \\"x\\" \\\\ end");',
                                       'print("");', 'print("two\\nlines");']))  # fmt: skip

    def stmt_snapshot(self, scope: Scope, indent: int, depth: int) -> None:
        """`let s = v;` of a tensor (a parameter too): later stores into, updates
        of or reallocs of `v` must not show through `s`, nor the other way round."""
        tensors = [v for v in scope.vars.values() if v.type != S]
        if not tensors:
            return self.stmt_let(scope, indent, depth)
        v = self.choice(tensors)
        name = self.fresh("snap")
        self.emit(indent, f"let {name} = {v.name};")
        scope.vars[name] = Var(name, v.type, unranked=v.unranked)
        if v.type[0] in ("V", "M") and self.chance(0.5):
            target = self.choice([v, scope.vars[name]])
            i = self.draw(st.integers(0, v.type[1] - 1))
            self.emit(indent, f"{target.name}[{i}] = {self.expr(S, scope, 1)};")
            self.emit(indent, f"print({v.name});")
            self.emit(indent, f"print({name});")
        return None

    def stmt_big(self, scope: Scope, indent: int, depth: int) -> None:
        """Sizes where the runtime takes other paths (threads, blocked products)."""
        self.emit(indent, self.choice([
            "print(sum(exp(rand_tensor(190, 190) - 0.5)));",
            "print(sum(tanh(rand_normal_tensor(0, 2, 200, 170))));",
            "print(mean(sigmoid(rand_normal_tensor(0, 3, 40000))));",
            "print(sum(matmul(rand_normal_tensor(0, 1, 70, 90), rand_tensor(90, 85))));",
            "print(mean(transpose(rand_tensor(300, 230)) * rand_tensor(230, 300)));",
            "print(sum(softmax(rand_normal_tensor(0, 4, 150, 300)), 0)[7]);",
            "print(sum(matmul(transpose(rand_tensor(96, 64)), rand_tensor(96, 80)), 1)[3]);",
        ]))  # fmt: skip

    def stmt_store_n(self, scope: Scope, indent: int, depth: int) -> None:
        tensors = self.tensor_vars(scope, "N")
        if not tensors:
            return self.stmt_store(scope, indent, depth)
        v = self.choice(tensors)
        dims = v.type[1:]
        k = self.draw(st.integers(1, len(dims)))  # indices given; the rest is a slice
        idx = "".join(f"[{self.draw(st.integers(0, n - 1))}]" for n in dims[:k])
        value = self.shaped(dims[k:]) if self.chance(0.5) else S  # a scalar fills a slice
        self.emit(indent, f"{v.name}{idx} = {self.expr(value, scope, 2)};")
        return None

    def stmt_elif(self, scope: Scope, indent: int, depth: int) -> None:
        self.emit(indent, f"if {self.expr(S, scope, 2)} {{")
        self.block(scope.copy(), indent + 1, self.draw(st.integers(1, 2)), depth - 1)
        for _ in range(self.draw(st.integers(1, 2))):
            self.emit(indent, f"}} else if {self.expr(S, scope, 2)} {{")
            self.block(scope.copy(), indent + 1, self.draw(st.integers(1, 2)), depth - 1)
        if self.chance(0.5):
            self.emit(indent, "} else {")
            self.block(scope.copy(), indent + 1, 1, depth - 1)
        self.emit(indent, "}")

    def stmt_cond_while(self, scope: Scope, indent: int, depth: int) -> None:
        """A while loop whose condition also depends on data (bounded by a counter)."""
        i = self.fresh("i")
        self.emit(indent, f"let {i} = 0;")
        scope.vars[i] = Var(i, S, counter=True)
        cond = self.expr(S, scope, 2)
        self.emit(indent, f"while {i} < {self.draw(st.integers(1, 4))} && {cond} {{")
        self.block(scope.copy(), indent + 1, self.draw(st.integers(1, 2)), depth - 1)
        self.emit(indent + 1, f"{i} = {i} + 1;")
        self.emit(indent, "}")

    def stmt_batch(self, scope: Scope, indent: int, depth: int) -> None:
        data = [v for v in scope.vars.values() if v.type[0] in ("V", "M", "N")]
        if not data:
            return self.stmt_let(scope, indent, depth)
        v = self.choice(data)
        acc, item, k = self.fresh("acc"), self.fresh("item"), self.fresh("k")
        size = self.choice(["1", "2", "3", "2.5", f"dim({v.name}, 0)"])
        self.emit(indent, f"let {acc} = 0;")
        head = f"{item}, {k}" if self.chance(0.5) else item
        self.emit(indent, f"batch {head} in {v.name} with {size} {{")
        if self.chance(0.5):
            self.emit(indent + 1, f"print({item});")
        weight = self.expr(S, scope, 1)
        self.emit(indent + 1, f"{acc} = {acc} + {self.choice(['sum', 'mean'])}({item} * {weight});")
        if "," in head and self.chance(0.5):
            self.emit(indent + 1, f"{acc} = {acc} + {k} * dim({item}, 0);")
        if depth > 1 and self.chance(0.3):
            self.block(scope.copy(), indent + 1, 1, depth - 1)
        self.emit(indent, "}")
        self.emit(indent, f"print({acc});")
        scope.vars[acc] = Var(acc, S)
        return None

    def stmt_safetensors(self, scope: Scope, indent: int, depth: int) -> None:
        """A safetensors round trip; what is loaded back is unranked to the compiler."""
        self.files += 1
        path = f"tmp_gen_{self.files}.safetensors"
        keys = self.draw(st.lists(st.sampled_from(["a", "b", "w", "zz", "k1"]), min_size=1,
                                  max_size=3, unique=True))  # fmt: skip
        types = {key: self.any_type() for key in keys}
        entries = ", ".join(f"{key}: {self.expr(types[key], scope, 2)}" for key in keys)
        self.emit(indent, f'save_safetensors {{ {entries} }}, "{path}";')
        archive = self.fresh("st")
        self.emit(indent, f'load_safetensors {archive} = "{path}";')
        for key in keys:
            if self.chance(0.7):
                name = self.fresh("x")
                self.emit(indent, f"let {name} = {archive}.{key};")
                scope.vars[name] = Var(name, types[key], unranked=True)
        first = min(keys, key=lambda key: key.encode())
        name = self.fresh("x")
        # (`let y = archive;` would make `y` another name of the archive)
        self.emit(indent, f"let {name} = {archive} * 1;")
        scope.vars[name] = Var(name, types[first], unranked=True)

    def dims_text(self, v: Var, new: list[int]) -> str:
        """New dims for `v`, some computed at run time from its current ones."""
        parts = []
        for axis, (old, want) in enumerate(zip(v.type[1:], new, strict=True)):
            form = self.choice(["literal", "dim", "float"])
            if form == "dim":
                parts.append(f"dim({v.name}, {axis}) + {want - old}")
            elif form == "float":
                parts.append(f"{want} + rand() * 0.9")  # truncated
            else:
                parts.append(str(want))
        return ", ".join(parts)

    def stmt_dyn_realloc(self, scope: Scope, indent: int, depth: int) -> None:
        tensors = [v for v in scope.vars.values() if v.type != S and not v.param]
        if not tensors:
            return self.stmt_alloc(scope, indent, depth)
        v = self.choice(tensors)
        new = [self.dim() for _ in v.type[1:]]
        self.emit(indent, f"realloc {v.name} = [{self.dims_text(v, new)}]{self.realloc_init()};")
        scope.vars[v.name] = Var(v.name, (v.type[0], *new))
        return None

    def stmt_dyn_alloc(self, scope: Scope, indent: int, depth: int) -> None:
        tensors = [v for v in scope.vars.values() if v.type != S]
        if not tensors:
            return self.stmt_alloc(scope, indent, depth)
        v = self.choice(tensors)
        name = self.fresh("buf")
        self.emit(indent, f"alloc {name} = [{self.dims_text(v, list(v.type[1:]))}];")
        scope.vars[name] = Var(name, v.type)
        return None

    def stmt_missing_file(self, scope: Scope, indent: int, depth: int) -> None:
        """Fails at run time (not in scope afterwards: nothing after it runs)."""
        kw, ext = self.choice([("load_csv", "csv"), ("load_safetensors", "safetensors")])
        self.emit(indent, f'{kw} {self.fresh("gone")} = "missing_gen.{ext}";')

    # ------------------------------------------------------------ training

    def training(self, scope: Scope) -> None:
        self.training_now = True
        self.train(scope)
        self.training_now = False

    def train(self, scope: Scope) -> None:
        params = []
        for _ in range(self.draw(st.integers(1, 3))):
            t = self.choice([S, ("V", self.dim()), ("V", self.dim()), ("M", self.dim(), 2)])
            if self.wide and self.chance(0.3):
                t = self.choice([self.nd_type(), ("M", self.dim(), self.dim())])
            name = self.fresh("w")
            value = self.expr(t, scope, 1)
            if self.mentions_unranked(value, scope):
                # Training needs ranked parameters (a tensor of unknown rank is
                # no scalar objective, softmax of one has no derivative yet).
                value = self.number() if t == S else self.literal(t)
            self.emit(1, f"learn {name} = {value};")
            scope.vars[name] = Var(name, t, param=True)
            params.append(scope.vars[name])
        self.emit(1, f"let max_iterations = {self.draw(st.integers(1, 6))};")
        for _ in range(self.draw(st.integers(1, 2))):
            if self.wide and self.chance(0.3):
                self.growing_loop(scope, params)
            else:
                self.optimize_loop(scope, params)
            if self.chance(0.4):
                self.realloc_param(scope, params)
            if self.chance(0.2):
                w = self.choice(params)
                self.emit(1, self.choice(["reset_optimizer();", f"reset_optimizer({w.name});"]))

    def realloc_param(self, scope: Scope, params: list[Var]) -> None:
        tensors = [p for p in params if p.type != S and p.name in scope.vars]
        if not tensors:
            return
        p = self.choice(tensors)
        dims = [self.dim() for _ in p.type[1:]]
        self.emit(1, f"realloc {p.name} = [{', '.join(map(str, dims))}]{self.realloc_init()};")
        p.type = (p.type[0], *dims)

    def optimizer(self) -> str:
        kind = self.choice(["sgd", "adam", "rmsprop", "compat"])
        if kind == "sgd":
            return f" with sgd({self.choice(['0.1', '0.05', '0.01'])})"
        if kind == "adam":
            return self.choice([" with adam(0.05)", " with adam(0.1, 0.8, 0.99)",
                                " with adam(0.02, beta2 = 0.9)"])  # fmt: skip
        if kind == "rmsprop":
            return self.choice([" with rmsprop(0.01)", " with rmsprop(0.05, beta = 0.8)"])
        return ""  # settings from variables (or the defaults)

    def loss_term(self, p: Var, scope: Scope) -> str:
        """A scalar that depends on parameter `p` (any shape: reductions)."""
        target = self.number()
        if p.type == S:
            return self.choice([f"({p.name} - {target}) ** 2", f"abs({p.name} - {target})",
                                f"{p.name} * {p.name} * {target}"])  # fmt: skip
        shaped = self.choice([f"({p.name} - {target})", f"tanh({p.name})", f"{p.name} * 0.5"])
        return self.choice([f"sum({shaped} ** 2)", f"mean({shaped} * {shaped})",
                            f"sum(sigmoid({shaped}))"])  # fmt: skip

    def growing_loop(self, scope: Scope, params: list[Var]) -> None:
        """wide: parameters that change shape while they train. Either a
        realloc under an `if` on the objective inside the body (that
        iteration's objective, gradient and update use the new shape; the
        part of the objective computed before it sends its gradient to the
        preserved elements), then a realloc after the loop that makes the
        shape known again; or a while loop around an optimize loop that grows
        a parameter after each round."""
        live = [p for p in params if p.name in scope.vars]
        tensors = [p for p in live if p.type != S]
        if not tensors:
            return self.optimize_loop(scope, params)
        p = self.choice(tensors)
        rank = len(p.type) - 1
        axis = self.draw(st.integers(0, rank - 1))
        grown = ", ".join(
            f"dim({p.name}, {k}) + 1" if k == axis else f"dim({p.name}, {k})" for k in range(rank)
        )
        names = ", ".join(q.name for q in live)
        loss = self.fresh("loss")
        if self.chance(0.5):
            pre = self.fresh("pre")
            self.emit(1, f"optimize({names}){self.optimizer()} until {loss} < {self.number()} {{")
            self.emit(2, f"let {pre} = {self.loss_term(p, scope)};")
            self.emit(2, f"if {pre} > {self.number()} {{")
            self.emit(3, f"realloc {p.name} = [{grown}]{self.realloc_init()};")
            self.emit(2, "}")
            others = [self.loss_term(q, scope) for q in live if self.chance(0.6)]
            self.emit(2, f"let {loss} = {' + '.join([pre, *others])};")
            self.emit(2, f"minimize {loss};")
            self.emit(1, "}")
            self.emit(1, f"print({loss});")
            self.emit(1, f"print({p.name});")
            new = [self.dim() for _ in range(rank)]
            self.emit(1, f"realloc {p.name} = [{', '.join(map(str, new))}]{self.realloc_init()};")
            p.type = (p.type[0], *new)
            scope.vars[loss] = Var(loss, S)
        else:
            i, rounds = self.fresh("i"), self.draw(st.integers(1, 3))
            self.emit(1, f"let {i} = 0;")
            self.emit(1, f"while {i} < {rounds} {{")
            self.emit(2, f"optimize({names}){self.optimizer()} until {loss} < {self.number()} {{")
            terms = [self.loss_term(q, scope) for q in live if q is p or self.chance(0.6)]
            self.emit(3, f"let {loss} = {' + '.join(terms)};")
            self.emit(3, f"minimize {loss};")
            self.emit(2, "}")
            self.emit(2, f"print({loss});")
            self.emit(2, f"realloc {p.name} = [{grown}]{self.realloc_init()};")
            self.emit(2, f"{i} = {i} + 1;")
            self.emit(1, "}")
            p.type = (p.type[0], *(d + rounds * (k == axis) for k, d in enumerate(p.type[1:])))
            scope.vars[i] = Var(i, S, counter=True)
        self.emit(1, f"print({p.name});")
        return None

    def settings_from_variables(self, scope: Scope) -> None:
        """wide: optimizer settings as variables (compat; read when the loop starts)."""
        for _ in range(self.draw(st.integers(1, 3))):
            name, value = self.choice([
                ("optimizer", "2"), ("optimizer", "3"), ("optimizer", "1"), ("use_adam", "1"),
                ("use_rmsprop", "1"), ("learning_rate", "0.05"), ("lr", "0.2"),
                ("beta1", "0.5"), ("beta2", "0.95"), ("epsilon", "1e-6"), ("max_iter", "2"),
            ])  # fmt: skip
            self.emit(1, f"let {name} = {value};")
            scope.vars[name] = Var(name, S)

    def wide_body_start(self, scope: Scope, live: list[Var]) -> None:
        """wide: a realloc of a trained tensor (to the same dims every iteration)
        or a print at the start of the optimize body."""
        tensors = [p for p in live if p.type != S]
        if tensors and self.chance(0.2):
            p = self.choice(tensors)
            dims = [self.dim() for _ in p.type[1:]]
            self.emit(2, f"realloc {p.name} = [{', '.join(map(str, dims))}]{self.realloc_init()};")
            p.type = (p.type[0], *dims)
        if self.chance(0.15):
            self.emit(2, f"print({self.choice(live).name});")

    def loss_term_wide(self, p: Var, scope: Scope) -> str:
        """wide: a scalar that depends on `p` through matmul, broadcasting, softmax, ...
        (no unranked values: softmax of one has no derivative yet)"""
        scope = Scope({k: v for k, v in scope.vars.items() if not v.unranked})
        if p.type == S:
            return self.choice([f"sqrt({p.name})", f"log({p.name} + 1)", f"exp({p.name}) / 10",
                                f"max({p.name}, 0.5) ** 2", f"tan({p.name}) ** 2"])  # fmt: skip
        if p.type[0] == "M":
            _, k, c = p.type
            r = self.dim()
            x, y = self.expr(("M", r, k), scope, 1), self.expr(("M", r, c), scope, 1)
            return self.choice([f"mean((matmul({x}, {p.name}) - {y}) ** 2)",
                                f"(0 - sum(log_softmax(matmul({x}, {p.name})) * softmax({y})))",
                                f"sum(tanh(matmul({x}, {p.name})) * {y})",
                                f"sum(matmul(transpose({p.name}), transpose({x})) ** 2)",
                                f"sum(relu({p.name} - {self.expr(('V', c), scope, 1)}))"])  # fmt: skip
        if p.type[0] == "V":
            x = self.expr(("M", self.dim(), p.type[1]), scope, 1)
            return self.choice([f"mean(({x} * {p.name} + {p.name}) ** 2)",
                                f"sum(softmax({x} + {p.name}) * {x})",
                                f"(dot({p.name}, {p.name}) + sum(abs({p.name})))",
                                f"sum(min({p.name}, 0.5) * max({p.name}, -0.5))"])  # fmt: skip
        other = self.expr(p.type, scope, 1)
        return self.choice([f"mean(sigmoid({p.name}) * {other})", f"sum(softmax({p.name}) ** 2)",
                            f"sum(sum({p.name}, 0) ** 2)", f"mean(({p.name} - {other}) ** 2)"])  # fmt: skip

    def optimize_loop(self, scope: Scope, params: list[Var]) -> None:
        live = [p for p in params if p.name in scope.vars]
        if not live:
            return
        loss = self.fresh("loss")
        until = self.choice(["0", f"{loss} < 0.001", f"{loss} < {self.number()}"])
        names = ", ".join(p.name for p in live)
        optimizer = self.optimizer()
        if self.wide and not optimizer and self.chance(0.7):
            self.settings_from_variables(scope)
        self.emit(1, f"optimize({names}){optimizer} until {until} {{")
        if self.wide:
            self.wide_body_start(scope, live)
        loss_term = self.loss_term_wide if self.wide and self.chance(0.5) else self.loss_term
        terms = [loss_term(p, scope) for p in live if self.chance(0.8)] or ["0"]
        body = scope.copy()
        if self.chance(0.3):
            h = self.fresh("h")
            self.emit(2, f"let {h} = {terms[0]};")
            self.emit(2, f"if {self.expr(S, body, 1)} {{")
            self.emit(3, f"{h} = {h} * 2;")
            self.emit(2, "}")
            terms[0] = h
        self.emit(2, f"let {loss} = {' + '.join(terms)};")
        self.emit(2, f"minimize {loss};")
        self.emit(1, "}")
        self.emit(1, f"print({loss});")
        for p in live:
            self.emit(1, f"print({p.name});")
        scope.vars[loss] = Var(loss, S)

    # ------------------------------------------------------------ program

    def helper_functions(self) -> list[str]:
        out = [
            "fn absish(a) {",
            "    if a > 0 {",
            "        return a * 2;",
            "    }",
            "    return 0 - a;",
            "}",
        ]
        for k in range(self.draw(st.integers(0, 2))):
            arity = self.draw(st.integers(1, 2))
            params = ["a", "b"][:arity]
            scope = Scope({p: Var(p, S) for p in params})
            body = self.expr(S, scope, 3, elementwise=True)
            name = f"g{k}"
            # `+ a` / `+ a * b`: the result has the shape of the arguments even
            # when the body happens not to use them.
            ret = "t + a" if arity == 1 else "t + a * b"
            out += [f"fn {name}({', '.join(params)}) {{", f"    let t = {body};",
                    f"    return {ret};", "}"]  # fmt: skip
            self.functions.append((name, arity))
        if self.wide:
            out += ["fn lin(a, b) {", "    return matmul(a, b);", "}",
                    "fn nrm(a) {", "    let s = sum(a * a);", "    if s > 4 {",
                    "        return a / sqrt(s);", "    }", "    return a;", "}",
                    "fn red(a) {", "    return mean(a) + dim(a, 0);", "}",
                    "fn firstpos(v) {", "    let i = 0;", "    while i < dim(v, 0) {",
                    "        if v[i] > 0 {", "            return i;", "        }",
                    "        i = i + 1;", "    }", "    return -1;", "}",
                    "fn bsum(v) {", "    batch it in v with 2 {", "        if sum(it) > 1 {",
                    "            return sum(it);", "        }", "    }", "    return 0;", "}"]  # fmt: skip
            self.shaped_functions |= {"lin", "nrm", "red", "firstpos", "bsum"}
            unary = [name for name, arity in self.functions if arity == 1]
            if unary:  # one user function calling another
                g = unary[0]
                out += ["fn twice(a) {", f"    return {g}(a) + {g}(a * 2);", "}"]
                self.functions.append(("twice", 1))
        return out

    def program(self) -> str:
        helpers = self.helper_functions()
        scope = Scope()
        self.emit(0, "fn main() {")
        self.block(scope, 1, self.draw(st.integers(1, 6)), 2)
        if self.chance(0.6):
            self.training(scope)
            self.block(scope, 1, self.draw(st.integers(0, 2)), 1)
        if self.chance(0.3) and scope.vars:
            v = self.choice(list(scope.vars.values()))
            self.emit(1, f"return {v.name};")
        self.emit(0, "}")
        return "\n".join(helpers + self.lines) + "\n"


@st.composite
def programs(draw: st.DrawFn, wide: bool = False) -> str:
    """The source text of a small valid NOMA program (`wide`: from the wider
    language described at the top)."""
    return Builder(draw, wide).program()
