"""The NOMA parser (SPEC §2-4, 7, 8, 10): tokens to `ast.Program`.

A hand-written recursive-descent parser, one method per precedence level.
The depth of the AST it builds is bounded by `MAX_NESTING` (parentheses,
prefix operators, operator chains, postfix chains and blocks all count), so
no input can exhaust the Python stack here or in a recursive pass later.
Every error is a `CompileError` located at the offending token.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from noma.diagnostics import CompileError, SourceLoc, register_source
from noma.frontend import ast
from noma.frontend.lexer import EOF, IDENT, KW, NUM, OP, STR, Token, tokenize

T = TypeVar("T")

MAX_NESTING = 200
MAX_TENSOR_RANK = 4
# Each nesting level costs up to ~16 Python frames; make sure MAX_NESTING levels fit.
_RECURSION_LIMIT = 30 * MAX_NESTING + 1000

CAST_TYPES = ("f64", "f32", "i32", "i64")
COMPARISONS = ("==", "!=", "<", ">", "<=", ">=")
PREFIX_OPS = ("-", "!")
POWER_OPS = ("**", "^")

# Optimizer name -> its parameters in positional order (SPEC §6.3).
OPTIMIZERS: dict[str, tuple[str, ...]] = {
    "sgd": ("lr",),
    "adam": ("lr", "beta1", "beta2", "eps"),
    "rmsprop": ("lr", "beta", "eps"),
}
# Init policy -> its parameters (SPEC §7).
INIT_POLICIES: dict[str, tuple[str, ...]] = {
    "zeros": (),
    "normal": ("m", "s"),
    "uniform": ("a", "b"),
}

_WRAP_IN_MAIN = "code outside a function must be wrapped in `fn main() { ... }`"


def parse_program(text: str, filename: str) -> ast.Program:
    """Parse a whole NOMA source file. Raises `CompileError` on any bad input."""
    register_source(filename, text)
    tokens = tokenize(text, filename)
    parser = _Parser(tokens)
    with _recursion_headroom():
        try:
            functions = parser.program()
        except RecursionError:
            # MAX_NESTING should make this unreachable; never leak a traceback.
            raise CompileError("program nested too deeply", parser.tok.loc) from None
    return ast.Program(filename, functions)


@contextmanager
def _recursion_headroom() -> Iterator[None]:
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, _RECURSION_LIMIT))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0  # current nesting, see `nested`

    # ------------------------------------------------------------ token helpers

    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def peek(self, k: int = 1) -> Token:
        return self.tokens[min(self.pos + k, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.tokens[self.pos]
        if tok.kind != EOF:
            self.pos += 1
        return tok

    def is_op(self, *texts: str) -> bool:
        return self.tok.kind == OP and self.tok.text in texts

    def is_kw(self, *texts: str) -> bool:
        return self.tok.kind == KW and self.tok.text in texts

    def accept_op(self, text: str) -> Token | None:
        return self.advance() if self.is_op(text) else None

    def error(self, message: str, loc: SourceLoc | None = None) -> CompileError:
        return CompileError(message, loc if loc is not None else self.tok.loc)

    def expect_op(self, text: str, context: str) -> Token:
        if not self.is_op(text):
            raise self.error(f"expected '{text}' {context}, found {self.tok.describe()}")
        return self.advance()

    def expect_kw(self, text: str, context: str) -> Token:
        if not self.is_kw(text):
            raise self.error(f"expected '{text}' {context}, found {self.tok.describe()}")
        return self.advance()

    def expect_ident(self, what: str) -> Token:
        if self.tok.kind != IDENT:
            raise self.error(f"expected {what}, found {self.tok.describe()}")
        return self.advance()

    def expect_string(self, what: str) -> Token:
        if self.tok.kind != STR:
            raise self.error(f"expected {what} (a string), found {self.tok.describe()}")
        return self.advance()

    def end_statement(self, context: str = "at the end of the statement") -> None:
        self.expect_op(";", context)

    # `depth` bounds the depth of the AST being built, not just the parser's
    # recursion: a 10000-term `a + b + ...` is a 10000-deep tree that would
    # overflow any recursive pass downstream, so operator chains count too.

    def deeper(self, what: str = "expression") -> None:
        if self.depth >= MAX_NESTING:
            raise self.error(
                f"{what} nested too deeply (more than {MAX_NESTING} levels); split it up"
            )
        self.depth += 1

    @contextmanager
    def level(self) -> Iterator[None]:
        """Undo every `deeper` made inside, when the subtree is done."""
        saved = self.depth
        try:
            yield
        finally:
            self.depth = saved

    @contextmanager
    def nested(self, what: str = "expression") -> Iterator[None]:
        with self.level():
            self.deeper(what)
            yield

    def comma_list(self, close: str, item: Callable[[], T], context: str) -> list[T]:
        """Items up to `close` (consumed), comma separated, trailing comma allowed."""
        items: list[T] = []
        while not self.is_op(close):
            items.append(item())
            if not self.accept_op(","):
                break
        self.expect_op(close, context)
        return items

    # ------------------------------------------------------------ program

    def program(self) -> list[ast.FunctionDef]:
        functions: list[ast.FunctionDef] = []
        seen: dict[str, ast.FunctionDef] = {}
        while self.tok.kind != EOF:
            if not self.is_kw("fn"):
                raise self.error(
                    f"expected a function definition, found {self.tok.describe()}: " + _WRAP_IN_MAIN
                )
            fn = self.function()
            if fn.name in seen:
                first = seen[fn.name].loc
                raise self.error(
                    f"function '{fn.name}' is already defined (at line {first.line})", fn.loc
                )
            seen[fn.name] = fn
            functions.append(fn)
        return functions

    def function(self) -> ast.FunctionDef:
        start = self.advance()  # `fn`
        name = self.expect_ident("a function name after 'fn'")
        self.expect_op("(", f"after the function name '{name.text}'")
        params = self.comma_list(
            ")", lambda: self.expect_ident("a parameter name"), "after the parameters"
        )
        seen: set[str] = set()
        for p in params:
            if p.text in seen:
                raise self.error(f"duplicate parameter '{p.text}' in function '{name.text}'", p.loc)
            seen.add(p.text)
        body = self.block(f"the body of function '{name.text}'")
        return ast.FunctionDef(start.loc, name.text, tuple(p.text for p in params), body)

    def block(self, what: str) -> ast.Block:
        if not self.is_op("{"):
            raise self.error(f"expected '{{' to start {what}, found {self.tok.describe()}")
        open_ = self.advance()
        body: list[ast.Stmt] = []
        with self.nested("block"):
            while not self.is_op("}"):
                if self.tok.kind == EOF:
                    raise self.error("this '{' is never closed", open_.loc)
                body.append(self.statement())
        self.advance()
        return ast.Block(open_.loc, tuple(body))

    # ------------------------------------------------------------ statements

    def statement(self) -> ast.Stmt:
        tok = self.tok
        if tok.kind == KW:
            handler = self._STATEMENTS.get(tok.text)
            if handler is not None:
                return handler(self)
            if tok.text == "fn":
                raise self.error("functions cannot be defined inside another function")
        if not self.starts_expression():
            raise self.error(f"expected a statement, found {tok.describe()}")
        return self.expression_statement()

    def starts_expression(self) -> bool:
        tok = self.tok
        if tok.kind in (NUM, STR, IDENT):
            return True
        return self.is_kw("tensor") or self.is_op("(", *PREFIX_OPS)

    def expression_statement(self) -> ast.Stmt:
        """`e;`, or an assignment `x = e;` / `x[i][j] = e;`."""
        target = self.expr()
        if not self.is_op("="):
            self.end_statement("after expression")
            return ast.ExprStmt(target.loc, target)
        eq = self.advance()
        name, indices = self.assign_target(target, eq)
        value = self.expr()
        self.end_statement("after expression")
        return ast.Assign(target.loc, name, indices, value)

    def assign_target(self, target: ast.Expr, eq: Token) -> tuple[str, tuple[ast.Expr, ...]]:
        indices: list[ast.Expr] = []
        while isinstance(target, ast.Index):
            indices.append(target.index)
            target = target.base
        if not isinstance(target, ast.Name):
            raise self.error(
                "cannot assign to this expression (expected a name or an indexed name before '=')",
                eq.loc,
            )
        return target.name, tuple(reversed(indices))

    def let_statement(self) -> ast.Stmt:
        kw = self.advance()
        name = self.expect_ident(f"a variable name after '{kw.text}'")
        self.expect_op("=", f"after '{kw.text} {name.text}'")
        value = self.expr()
        self.end_statement("after expression")
        node = ast.Let if kw.text == "let" else ast.Learn
        return node(kw.loc, name.text, value)

    def return_statement(self) -> ast.Stmt:
        kw = self.advance()
        if self.accept_op(";"):
            return ast.Return(kw.loc, None)
        value = self.expr()
        self.end_statement("after expression")
        return ast.Return(kw.loc, value)

    def if_statement(self) -> ast.Stmt:
        kw = self.advance()
        cond = self.expr()
        then_block = self.block("the 'if' body")
        else_block = None
        if self.is_kw("else"):
            self.advance()
            if self.is_kw("if"):
                loc = self.tok.loc
                with self.nested("else-if chain"):
                    nested_if = self.if_statement()
                else_block = ast.Block(loc, (nested_if,))
            else:
                else_block = self.block("the 'else' body")
        return ast.If(kw.loc, cond, then_block, else_block)

    def while_statement(self) -> ast.Stmt:
        kw = self.advance()
        cond = self.expr()
        return ast.While(kw.loc, cond, self.block("the 'while' body"))

    def batch_statement(self) -> ast.Stmt:
        kw = self.advance()
        item = self.expect_ident("a variable name after 'batch'")
        index = None
        if self.accept_op(","):
            index = self.expect_ident("an index variable name after ','").text
        self.expect_kw("in", "in 'batch ITEM in DATA with SIZE'")
        data = self.expr()
        self.expect_kw("with", "after the data of 'batch' (batch ITEM in DATA with SIZE)")
        size = self.expr()
        body = self.block("the 'batch' body")
        return ast.Batch(kw.loc, item.text, index, data, size, body)

    def optimize_statement(self) -> ast.Stmt:
        kw = self.advance()
        self.expect_op("(", "after 'optimize'")
        names = self.comma_list(
            ")", lambda: self.expect_ident("a parameter name"), "after the parameters of 'optimize'"
        )
        params = tuple(ast.Name(t.loc, t.text) for t in names)
        optimizer = self.optimizer_spec() if self.is_kw("with") else None
        self.expect_kw("until", "in 'optimize(...) [with OPTIMIZER(...)] until CONDITION'")
        until = self.expr()
        body = self.block("the 'optimize' body")
        return ast.Optimize(kw.loc, params, optimizer, until, body)

    def optimizer_spec(self) -> ast.OptimizerSpec:
        self.advance()  # `with`
        name = self.tok
        if name.kind != IDENT or name.text not in OPTIMIZERS:
            raise self.error(
                f"unknown optimizer {name.describe()}: expected sgd, adam or rmsprop", name.loc
            )
        self.advance()
        args: list[ast.Expr] = []
        kwargs: list[tuple[str, ast.Expr]] = []
        if self.accept_op("("):
            self.comma_list(")", lambda: self.optimizer_arg(args, kwargs), "after the arguments")
        self.check_optimizer_args(name, args, kwargs)
        return ast.OptimizerSpec(name.loc, name.text, tuple(args), tuple(kwargs))

    def optimizer_arg(self, args: list[ast.Expr], kwargs: list[tuple[str, ast.Expr]]) -> None:
        """One argument `e` or `name = e`, appended to `args` or `kwargs`."""
        if self.tok.kind == IDENT and self.peek().kind == OP and self.peek().text == "=":
            key = self.advance()
            self.advance()  # `=`
            if any(k == key.text for k, _ in kwargs):
                raise self.error(f"argument '{key.text}' given twice", key.loc)
            kwargs.append((key.text, self.expr()))
            return
        if kwargs:
            raise self.error("a positional argument cannot follow a named argument")
        args.append(self.expr())

    def check_optimizer_args(
        self, name: Token, args: list[ast.Expr], kwargs: list[tuple[str, ast.Expr]]
    ) -> None:
        allowed = OPTIMIZERS[name.text]
        listing = ", ".join(allowed)
        if len(args) > len(allowed):
            raise self.error(
                f"{name.text} takes at most {len(allowed)} argument(s) ({listing}), "
                f"got {len(args)}",
                args[len(allowed)].loc,
            )
        for key, value in kwargs:
            if key not in allowed:
                raise self.error(
                    f"unknown argument '{key}' for {name.text} (expected {listing})", value.loc
                )
            if allowed.index(key) < len(args):
                raise self.error(f"argument '{key}' given twice", value.loc)

    def minimize_statement(self) -> ast.Stmt:
        kw = self.advance()
        value = self.expr()
        self.end_statement("after expression")
        return ast.Minimize(kw.loc, value)

    def dims(self, what: str) -> tuple[ast.Expr, ...]:
        open_ = self.expect_op("[", f"before the dimensions of '{what}'")
        dims = self.comma_list("]", self.expr, "after the dimensions")
        if not dims:
            raise self.error(f"'{what}' needs at least one dimension", open_.loc)
        return tuple(dims)

    def alloc_statement(self) -> ast.Stmt:
        kw = self.advance()
        name = self.expect_ident("a buffer name after 'alloc'")
        self.expect_op("=", f"after 'alloc {name.text}'")
        dims = self.dims("alloc")
        self.end_statement()
        return ast.Alloc(kw.loc, name.text, dims)

    def realloc_statement(self) -> ast.Stmt:
        kw = self.advance()
        name = self.expect_ident("a tensor name after 'realloc'")
        self.expect_op("=", f"after 'realloc {name.text}'")
        dims = self.dims("realloc")
        init = self.init_policy() if self.is_kw("init") else None
        self.end_statement()
        return ast.Realloc(kw.loc, name.text, dims, init)

    def init_policy(self) -> ast.InitPolicy:
        self.advance()  # `init`
        tok = self.tok
        if tok.kind != IDENT or tok.text not in INIT_POLICIES:
            raise self.error(
                f"unknown init policy {tok.describe()}: expected zeros, normal(m, s) "
                "or uniform(a, b)"
            )
        self.advance()
        wanted = INIT_POLICIES[tok.text]
        args: list[ast.Expr] = []
        if self.accept_op("("):
            args = self.comma_list(")", self.expr, "after the arguments")
        elif wanted:
            raise self.error(f"'init {tok.text}' needs arguments: {tok.text}({', '.join(wanted)})")
        if len(args) != len(wanted):
            spelled = f"{tok.text}({', '.join(wanted)})" if wanted else tok.text
            raise self.error(
                f"'init {tok.text}' takes {len(wanted)} argument(s) ({spelled}), got {len(args)}",
                tok.loc,
            )
        return ast.InitPolicy(tok.loc, tok.text, tuple(args))

    def free_statement(self) -> ast.Stmt:
        kw = self.advance()
        name = self.expect_ident("a name after 'free'")
        self.end_statement()
        return ast.Free(kw.loc, name.text)

    def load_statement(self) -> ast.Stmt:
        """`load_csv name = "path";` and `load_safetensors name = "path";`."""
        kw = self.advance()
        name = self.expect_ident(f"a variable name after '{kw.text}'")
        self.expect_op("=", f"after '{kw.text} {name.text}'")
        path = self.expect_string("a file path")
        self.end_statement()
        node = ast.LoadCsv if kw.text == "load_csv" else ast.LoadSafetensors
        return node(kw.loc, name.text, str(path.value), path.loc)

    def save_csv_statement(self) -> ast.Stmt:
        kw = self.advance()
        value = self.expr()
        self.expect_op(",", "between the value and the path of 'save_csv'")
        path = self.expect_string("a file path")
        self.end_statement()
        return ast.SaveCsv(kw.loc, value, str(path.value), path.loc)

    def save_safetensors_statement(self) -> ast.Stmt:
        kw = self.advance()
        self.expect_op(
            "{", "after 'save_safetensors' (save_safetensors { key: value, ... }, \"path\")"
        )
        entries = self.comma_list("}", self.safetensors_entry, "after the tensors")
        seen: set[str] = set()
        for (key, _), key_loc in entries:
            if key in seen:
                raise self.error(f"duplicate key '{key}' in save_safetensors", key_loc)
            seen.add(key)
        self.expect_op(",", "between the tensors and the path of 'save_safetensors'")
        path = self.expect_string("a file path")
        self.end_statement()
        pairs = tuple(entry for entry, _ in entries)
        return ast.SaveSafetensors(kw.loc, pairs, str(path.value), path.loc)

    def safetensors_entry(self) -> tuple[tuple[str, ast.Expr], SourceLoc]:
        # Keywords are keys too, as after `m.` (`{ in: x }` reads back as `m.in`).
        if self.tok.kind == KW:
            key = self.advance()
        else:
            key = self.expect_ident("a tensor name (key)")
        self.expect_op(":", f"after the key '{key.text}'")
        return (key.text, self.expr()), key.loc

    _STATEMENTS: dict[str, Callable[[_Parser], ast.Stmt]] = {
        "let": let_statement,
        "learn": let_statement,
        "return": return_statement,
        "if": if_statement,
        "while": while_statement,
        "batch": batch_statement,
        "optimize": optimize_statement,
        "minimize": minimize_statement,
        "alloc": alloc_statement,
        "realloc": realloc_statement,
        "free": free_statement,
        "load_csv": load_statement,
        "load_safetensors": load_statement,
        "save_csv": save_csv_statement,
        "save_safetensors": save_safetensors_statement,
    }

    # ------------------------------------------------------------ expressions
    # One method per precedence level of SPEC §4, lowest first.

    def expr(self) -> ast.Expr:
        with self.nested("expression"):
            return self.logic_or()

    def binary(self, ops: tuple[str, ...], operand: Callable[[], ast.Expr]) -> ast.Expr:
        """A left-associative level: operand (op operand)*."""
        lhs = operand()
        with self.level():
            while self.is_op(*ops):
                self.deeper()
                op = self.advance()
                lhs = ast.Binary(lhs.loc, op.text, lhs, operand())
        return lhs

    def logic_or(self) -> ast.Expr:
        return self.binary(("||",), self.logic_and)

    def logic_and(self) -> ast.Expr:
        return self.binary(("&&",), self.comparison)

    def comparison(self) -> ast.Expr:
        lhs = self.additive()
        if not self.is_op(*COMPARISONS):
            return lhs
        op = self.advance()
        with self.nested():
            node = ast.Binary(lhs.loc, op.text, lhs, self.additive())
        if self.is_op(*COMPARISONS):
            # Non-associative: `a < b < c` would silently compare a 0/1 with c.
            raise self.error(
                f"comparison operators cannot be chained ('{op.text}' then "
                f"'{self.tok.text}'); use '&&' or parentheses"
            )
        return node

    def additive(self) -> ast.Expr:
        return self.binary(("+", "-"), self.multiplicative)

    def multiplicative(self) -> ast.Expr:
        return self.binary(("*", "/", "%"), self.unary)

    def unary(self) -> ast.Expr:
        if self.is_op(*PREFIX_OPS):
            op = self.advance()
            with self.nested("expression"):
                return ast.Unary(op.loc, op.text, self.unary())
        return self.cast()

    def cast(self) -> ast.Expr:
        node = self.power()
        with self.level():
            while self.is_kw("as"):
                self.deeper()
                node = self.cast_to(node)
        return node

    def cast_to(self, node: ast.Expr) -> ast.Cast:
        self.advance()  # `as`
        ty = self.tok
        if ty.kind != IDENT or ty.text not in CAST_TYPES:
            raise self.error(
                f"unknown type {ty.describe()} after 'as': expected f64, f32, i32 or i64"
            )
        self.advance()
        return ast.Cast(node.loc, node, ty.text)

    def power(self) -> ast.Expr:
        base = self.postfix()
        if not self.is_op(*POWER_OPS):
            return base
        op = self.advance()
        with self.nested("expression"):
            exponent = self.power_operand()
        return ast.Binary(base.loc, op.text, base, exponent)

    def power_operand(self) -> ast.Expr:
        """The right side of `**`: a power, optionally signed (`2 ** -1`)."""
        if self.is_op(*PREFIX_OPS):
            op = self.advance()
            with self.nested("expression"):
                return ast.Unary(op.loc, op.text, self.power_operand())
        return self.power()

    def postfix(self) -> ast.Expr:
        callable_name = self.tok.kind == IDENT  # not `(f)`
        node = self.primary()
        with self.level():
            while self.is_op("(", "[", "."):
                self.deeper()
                node = self.postfix_op(node, callable_name)
                callable_name = False
        return node

    def postfix_op(self, node: ast.Expr, callable_name: bool) -> ast.Expr:
        """One `(args)`, `[index]` or `.key` applied to `node`."""
        if self.is_op("."):
            return self.field(node)
        if self.is_op("["):
            self.advance()
            index = self.expr()
            self.expect_op("]", "after the index")
            return ast.Index(node.loc, node, index)
        # Only a bare function name can be called: no `(f)(x)`, `f(x)(y)`, `m[0](x)`.
        if not (callable_name and isinstance(node, ast.Name)):
            raise self.error("only a function name can be called")
        return self.call(node)

    def field(self, base: ast.Expr) -> ast.Field:
        self.advance()  # `.`
        key = self.tok
        # Keywords are allowed: a safetensors file may have a key named `in`.
        if key.kind not in (IDENT, KW):
            raise self.error(f"expected a field name after '.', found {key.describe()}")
        self.advance()
        return ast.Field(base.loc, base, key.text)

    def call(self, callee: ast.Name) -> ast.Call:
        self.advance()  # `(`
        args = self.comma_list(")", self.expr, f"after the arguments of '{callee.name}'")
        return ast.Call(callee.loc, callee.name, tuple(args))

    def primary(self) -> ast.Expr:
        tok = self.tok
        if tok.kind == NUM:
            self.advance()
            assert isinstance(tok.value, float)
            return ast.Number(tok.loc, tok.value)
        if tok.kind == STR:
            self.advance()
            return ast.String(tok.loc, str(tok.value))
        if tok.kind == IDENT:
            self.advance()
            return ast.Name(tok.loc, tok.text)
        if self.is_kw("tensor"):
            return self.tensor_literal()
        if self.is_op("("):
            self.advance()
            inner = self.expr()
            self.expect_op(")", "to close '('")
            return inner
        if tok.kind == EOF:
            raise self.error("unexpected end of input in expression")
        raise self.error(f"unexpected {tok.describe()} in expression")

    # ------------------------------------------------------------ tensor literals

    def tensor_literal(self) -> ast.TensorLiteral:
        kw = self.advance()
        if not self.is_op("["):
            raise self.error(f"expected '[' after 'tensor', found {self.tok.describe()}")
        row_locs: dict[tuple[int, ...], SourceLoc] = {}
        elements = self.tensor_row((), row_locs)
        _check_rectangular(elements, row_locs)
        return ast.TensorLiteral(kw.loc, elements, tuple(row_locs.items()))

    def tensor_row(
        self, path: tuple[int, ...], row_locs: dict[tuple[int, ...], SourceLoc]
    ) -> tuple:
        """`[e, e, ...]` or `[[...], [...]]`: a nested tuple of Expr."""
        open_ = self.advance()  # `[`
        if len(path) >= MAX_TENSOR_RANK:
            raise self.error(
                f"tensor literal nested too deeply (rank at most {MAX_TENSOR_RANK})", open_.loc
            )
        row_locs[path] = open_.loc
        items: list = []

        def item() -> object:
            if self.is_op("["):
                return self.tensor_row((*path, len(items)), row_locs)
            return self.expr()

        while not self.is_op("]"):
            items.append(item())
            if not self.accept_op(","):
                break
        self.expect_op("]", "to close the tensor row")
        if not items:
            raise self.error("empty tensor literal '[]'", open_.loc)
        return tuple(items)


def _check_rectangular(elements: tuple, row_locs: dict[tuple[int, ...], SourceLoc]) -> None:
    """Every row must have the shape of the first one (SPEC §4: point at the bad row)."""
    shape: list[int] = []
    first: object = elements
    while isinstance(first, tuple):
        shape.append(len(first))
        first = first[0]

    def check(row: tuple, path: tuple[int, ...]) -> None:
        depth = len(path)
        if len(row) != shape[depth]:
            raise CompileError(
                f"ragged tensor literal: this row has {len(row)} elements, "
                f"expected {shape[depth]} like the first row",
                row_locs[path],
            )
        wants_rows = depth + 1 < len(shape)
        for i, child in enumerate(row):
            child_path = (*path, i)
            if isinstance(child, tuple) and not wants_rows:
                raise CompileError(
                    "ragged tensor literal: expected a number here, found a row",
                    row_locs[child_path],
                )
            if not isinstance(child, tuple) and wants_rows:
                raise CompileError(
                    f"ragged tensor literal: expected a row of {shape[depth + 1]} "
                    "elements here, found a scalar",
                    child.loc,
                )
            if isinstance(child, tuple):
                check(child, child_path)

    check(elements, ())
