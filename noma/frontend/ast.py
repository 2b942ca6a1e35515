"""The abstract syntax tree of NOMA (SPEC §1-5, 7, 8, 10).

Every node carries `loc`, the position of its first token, so diagnostics
can point at it. Expression nodes are immutable dataclasses; a program is a
list of `FunctionDef`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from noma.diagnostics import SourceLoc

# ----------------------------------------------------------------- expressions


@dataclass(frozen=True)
class Expr:
    loc: SourceLoc


@dataclass(frozen=True)
class Number(Expr):
    value: float


@dataclass(frozen=True)
class String(Expr):
    """A string literal, escapes already decoded."""

    value: str


@dataclass(frozen=True)
class Name(Expr):
    name: str


@dataclass(frozen=True)
class TensorLiteral(Expr):
    """`tensor [...]`: `elements` are nested lists of Expr (one level per rank).

    `rows` keeps, for each nested list, the location of its opening bracket, so
    a ragged literal can point at the bad row: it maps id-free paths (tuple of
    indices from the top) to locations.
    """

    elements: tuple  # nested tuples of Expr
    row_locs: tuple[tuple[tuple[int, ...], SourceLoc], ...] = ()


@dataclass(frozen=True)
class Unary(Expr):
    op: str  # "-" or "!"
    operand: Expr


@dataclass(frozen=True)
class Binary(Expr):
    """Arithmetic, comparison and logic. `op` is the source spelling:
    `+ - * / % ** ^ == != < > <= >= && ||` (`^` is power, like `**`)."""

    op: str
    lhs: Expr
    rhs: Expr


@dataclass(frozen=True)
class Cast(Expr):
    """`e as f64|f32|i32|i64`."""

    operand: Expr
    type_name: str


@dataclass(frozen=True)
class Call(Expr):
    """A call of a built-in or user function. Named arguments only appear in
    optimizer specs (`adam(0.01, beta2 = 0.99)`), see `OptimizerSpec`."""

    callee: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Index(Expr):
    """`base[index]`; `m[i][j]` is Index(Index(m, i), j)."""

    base: Expr
    index: Expr


@dataclass(frozen=True)
class Field(Expr):
    """`base.key` (safetensors archives)."""

    base: Expr
    key: str


# ----------------------------------------------------------------- statements


@dataclass(frozen=True)
class Stmt:
    loc: SourceLoc


@dataclass(frozen=True)
class Let(Stmt):
    name: str
    value: Expr


@dataclass(frozen=True)
class Learn(Stmt):
    name: str
    value: Expr


@dataclass(frozen=True)
class Assign(Stmt):
    """`name = value;` or `name[i][j] = value;` (indices empty for a whole assign)."""

    name: str
    indices: tuple[Expr, ...]
    value: Expr


@dataclass(frozen=True)
class ExprStmt(Stmt):
    expr: Expr


@dataclass(frozen=True)
class Return(Stmt):
    value: Expr | None


@dataclass(frozen=True)
class Block:
    loc: SourceLoc
    body: tuple[Stmt, ...]


@dataclass(frozen=True)
class If(Stmt):
    """`if c {..} else if d {..} else {..}`: an else-if is an `If` alone in
    `else_block`."""

    cond: Expr
    then_block: Block
    else_block: Block | None


@dataclass(frozen=True)
class While(Stmt):
    cond: Expr
    body: Block


@dataclass(frozen=True)
class Batch(Stmt):
    """`batch item [, idx] in data with size { ... }`."""

    item: str
    index: str | None
    data: Expr
    size: Expr
    body: Block


@dataclass(frozen=True)
class OptimizerSpec:
    """`with adam(0.01, beta2 = 0.99)`: positional and named arguments."""

    loc: SourceLoc
    name: str  # "sgd" | "adam" | "rmsprop"
    args: tuple[Expr, ...]
    kwargs: tuple[tuple[str, Expr], ...]


@dataclass(frozen=True)
class Optimize(Stmt):
    params: tuple[Name, ...]
    optimizer: OptimizerSpec | None
    until: Expr
    body: Block


@dataclass(frozen=True)
class Minimize(Stmt):
    value: Expr


@dataclass(frozen=True)
class InitPolicy:
    """`init zeros`, `init normal(m, s)`, `init uniform(a, b)`."""

    loc: SourceLoc
    kind: str  # "zeros" | "normal" | "uniform"
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Alloc(Stmt):
    name: str
    dims: tuple[Expr, ...]


@dataclass(frozen=True)
class Realloc(Stmt):
    name: str
    dims: tuple[Expr, ...]
    init: InitPolicy | None


@dataclass(frozen=True)
class Free(Stmt):
    name: str


@dataclass(frozen=True)
class LoadCsv(Stmt):
    name: str
    path: str
    path_loc: SourceLoc


@dataclass(frozen=True)
class SaveCsv(Stmt):
    value: Expr
    path: str
    path_loc: SourceLoc


@dataclass(frozen=True)
class LoadSafetensors(Stmt):
    name: str
    path: str
    path_loc: SourceLoc


@dataclass(frozen=True)
class SaveSafetensors(Stmt):
    entries: tuple[tuple[str, Expr], ...]
    path: str
    path_loc: SourceLoc


# ----------------------------------------------------------------- program


@dataclass(frozen=True)
class FunctionDef:
    loc: SourceLoc
    name: str
    params: tuple[str, ...]
    body: Block


@dataclass
class Program:
    filename: str
    functions: list[FunctionDef] = field(default_factory=list)

    def entry(self) -> FunctionDef | None:
        """`main`, else the first function (SPEC §2, compat)."""
        for fn in self.functions:
            if fn.name == "main":
                return fn
        return self.functions[0] if self.functions else None
