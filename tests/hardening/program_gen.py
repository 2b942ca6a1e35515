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
"""

from __future__ import annotations

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


@dataclass
class Var:
    name: str
    type: Type
    param: bool = False
    counter: bool = False  # a loop counter: read, never written (the loop must end)


@dataclass
class Scope:
    vars: dict[str, Var] = field(default_factory=dict)

    def copy(self) -> Scope:
        return Scope(dict(self.vars))


class Builder:
    """Draws one program; `draw` is hypothesis's."""

    def __init__(self, draw: st.DrawFn):
        self.draw = draw
        self.counter = 0
        self.functions: list[tuple[str, int]] = []  # (name, arity), elementwise bodies
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
        return self.draw(st.integers(1, 3))

    def any_type(self) -> Type:
        kind = self.choice(["S", "S", "V", "V", "M"])
        if kind == "S":
            return S
        if kind == "V":
            return ("V", self.dim())
        return ("M", self.dim(), self.dim())

    def number(self) -> str:
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
        rows = ("[" + ", ".join(self.number() for _ in range(t[2])) + "]" for _ in range(t[1]))
        return "tensor [" + ", ".join(rows) + "]"

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
        kind = self.choice(kinds)
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
        if self.chance(0.6):
            return ("V", self.dim())
        return ("M", self.dim(), self.dim())

    def vector(self, t: Type, scope: Scope, depth: int) -> str:
        n = t[1]
        sub = depth - 1
        kind = self.choice(["arith", "arith", "scalar_arith", "unary", "binfn", "rand",
                            "softmax", "row", "reduce_axis", "call", "literal", "cmp"])  # fmt: skip
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
                            "softmax", "call", "literal"])  # fmt: skip
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
        kind = self.choice(kinds)
        getattr(self, "stmt_" + kind)(scope, indent, depth)

    def stmt_let(self, scope: Scope, indent: int, depth: int) -> None:
        t = self.any_type()
        shadow = [v for v in scope.vars.values() if not v.param and not v.counter]
        if shadow and indent == 1 and self.chance(0.15):
            name = self.choice([v.name for v in shadow])  # shadowing, maybe another rank
        else:
            name = self.fresh("x")
        self.emit(indent, f"let {name} = {self.expr(t, scope, 3)};")
        scope.vars[name] = Var(name, t)

    def stmt_assign(self, scope: Scope, indent: int, depth: int) -> None:
        targets = [v for v in scope.vars.values() if not v.counter]
        if not targets:
            return self.stmt_let(scope, indent, depth)
        v = self.choice(targets)
        self.emit(indent, f"{v.name} = {self.expr(v.type, scope, 3)};")

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

    # ------------------------------------------------------------ training

    def training(self, scope: Scope) -> None:
        params = []
        for _ in range(self.draw(st.integers(1, 3))):
            t = self.choice([S, ("V", self.dim()), ("V", self.dim()), ("M", self.dim(), 2)])
            name = self.fresh("w")
            self.emit(1, f"learn {name} = {self.expr(t, scope, 1)};")
            scope.vars[name] = Var(name, t, param=True)
            params.append(scope.vars[name])
        self.emit(1, f"let max_iterations = {self.draw(st.integers(1, 6))};")
        for _ in range(self.draw(st.integers(1, 2))):
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

    def optimize_loop(self, scope: Scope, params: list[Var]) -> None:
        live = [p for p in params if p.name in scope.vars]
        if not live:
            return
        loss = self.fresh("loss")
        until = self.choice(["0", f"{loss} < 0.001", f"{loss} < {self.number()}"])
        names = ", ".join(p.name for p in live)
        self.emit(1, f"optimize({names}){self.optimizer()} until {until} {{")
        terms = [self.loss_term(p, scope) for p in live if self.chance(0.8)] or ["0"]
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
def programs(draw: st.DrawFn) -> str:
    """The source text of a small valid NOMA program."""
    return Builder(draw).program()
