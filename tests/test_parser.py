"""Tests for the lexer and parser (SPEC §1-4, 7, 8, 10)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noma.diagnostics import CompileError
from noma.frontend import ast
from noma.frontend.lexer import EOF, IDENT, KW, NUM, OP, STR, tokenize
from noma.frontend.parser import MAX_NESTING, parse_program

CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance"
needs_conformance = pytest.mark.skipif(
    not CONFORMANCE.is_dir(),
    reason=f"conformance suite not found at {CONFORMANCE} (../shared beside the repo)",
)

FILE = "t.noma"


# ---------------------------------------------------------------- helpers


def parse(src: str) -> ast.Program:
    return parse_program(src, FILE)


def body(src: str) -> tuple[ast.Stmt, ...]:
    """The statements of `fn main() { src }`."""
    return parse("fn main() {\n" + src + "\n}").functions[0].body.body


def expr(src: str) -> ast.Expr:
    (stmt,) = body(f"let r = {src};")
    assert isinstance(stmt, ast.Let)
    return stmt.value


def show(e: object) -> str:
    """A compact prefix rendering of an expression, to compare trees."""
    match e:
        case ast.Number(value=v):
            return f"{v:g}"
        case ast.String(value=v):
            return repr(v)
        case ast.Name(name=n):
            return n
        case ast.Unary(op=op, operand=x):
            return f"({op} {show(x)})"
        case ast.Binary(op=op, lhs=a, rhs=b):
            return f"({op} {show(a)} {show(b)})"
        case ast.Cast(operand=x, type_name=t):
            return f"(as {t} {show(x)})"
        case ast.Call(callee=f, args=args):
            return f"{f}(" + ", ".join(show(a) for a in args) + ")"
        case ast.Index(base=b, index=i):
            return f"{show(b)}[{show(i)}]"
        case ast.Field(base=b, key=k):
            return f"{show(b)}.{k}"
        case ast.TensorLiteral(elements=els):
            return "tensor" + show(els)
        case tuple():
            return "[" + ", ".join(show(x) for x in e) + "]"
    raise AssertionError(f"unexpected node {e!r}")


def error_of(src: str) -> CompileError:
    with pytest.raises(CompileError) as info:
        parse(src)
    return info.value


def assert_error(src: str, phrase: str, line: int, col: int) -> None:
    err = error_of(src)
    assert phrase in err.message, err.format()
    assert err.loc is not None
    assert (err.loc.line, err.loc.col) == (line, col), err.format()


def in_main(src: str) -> str:
    """Wrap one line of statements so that they sit on line 1, after col 12."""
    return "fn main() { " + src + " }"


COL = len("fn main() { ")  # column offset of code wrapped by `in_main`


# ---------------------------------------------------------------- lexer


def test_numbers_are_floats() -> None:
    toks = tokenize("42 3.14 .5 1e-8 2.5E+3 1. 7e2", FILE)
    assert [t.kind for t in toks] == [NUM] * 7 + [EOF]
    assert [t.value for t in toks[:-1]] == [42.0, 3.14, 0.5, 1e-8, 2500.0, 1.0, 700.0]


def test_string_escapes() -> None:
    (tok, _) = tokenize(r'"a\nb\t\"q\"\\"', FILE)
    assert tok.kind == STR
    assert tok.value == 'a\nb\t"q"\\'


def test_keywords_identifiers_operators() -> None:
    src = "fn let learn optimize print sum x_1 _y tensor as letx"
    kinds = [(t.kind, t.text) for t in tokenize(src, FILE)[:-1]]
    assert kinds == [
        (KW, "fn"), (KW, "let"), (KW, "learn"), (KW, "optimize"), (IDENT, "print"),
        (IDENT, "sum"), (IDENT, "x_1"), (IDENT, "_y"), (KW, "tensor"), (KW, "as"),
        (IDENT, "letx"),
    ]  # fmt: skip
    ops = "+ - * / % ^ ** == != < > <= >= && || ! = ( ) [ ] { } , ; : ."
    assert [t.text for t in tokenize(ops, FILE)[:-1]] == ops.split()
    assert [t.text for t in tokenize("a**b<=c!=d", FILE)[:-1]] == [
        "a", "**", "b", "<=", "c", "!=", "d",
    ]  # fmt: skip
    assert all(t.kind == OP for t in tokenize(ops, FILE)[:-1])


def test_comments_and_locations() -> None:
    src = "// line comment\n/* block\n spans */ x /* again */ y // end"
    toks = tokenize(src, FILE)
    assert [(t.text, t.loc.line, t.loc.col) for t in toks[:-1]] == [("x", 3, 11), ("y", 3, 25)]
    # Block comments do not nest: the first `*/` closes them.
    assert [t.text for t in tokenize("/* a /* b */ c */", FILE)[:-1]] == ["c", "*", "/"]


@pytest.mark.parametrize(
    ("src", "phrase", "line", "col"),
    [
        ("fn main() {\n  /* never closed", "unterminated block comment", 2, 3),
        ('fn main() { print("abc); }', "unterminated string", 1, 19),
        ('fn main() { print("a\nb"); }', "unterminated string", 1, 19),
        (r'fn main() { print("a\qb"); }', "unknown escape '\\q'", 1, 21),
        ("fn main() {\n  let x = 1 @ 2;\n}", "unexpected character '@'", 2, 13),
        ("fn main() { let x = a & b; }", "did you mean '&&'", 1, 23),
        ("fn main() { let x = 2x; }", "malformed number '2x'", 1, 21),
        ("fn main() { let x = 1e; }", "malformed number", 1, 21),
        ("fn main() { let x = 1e999; }", "too large", 1, 21),
        ("fn main() { let é = 1; }", "unexpected character 'é'", 1, 17),
    ],
)
def test_lexer_errors(src: str, phrase: str, line: int, col: int) -> None:
    assert_error(src, phrase, line, col)


# ---------------------------------------------------------------- precedence


@pytest.mark.parametrize(
    ("src", "tree"),
    [
        ("-2 ** 2", "(- (** 2 2))"),
        ("2 ** 3 ** 2", "(** 2 (** 3 2))"),
        ("2 ^ 3 ^ 2", "(^ 2 (^ 3 2))"),
        ("-3.7 as i32", "(- (as i32 3.7))"),
        ("10 / 4 as i32", "(/ 10 (as i32 4))"),
        ("3 ** 1.5 as i32", "(as i32 (** 3 1.5))"),
        ("7.99 as i64 + 0.5", "(+ (as i64 7.99) 0.5)"),
        ("x as i32 as f64", "(as f64 (as i32 x))"),
        ("!0 + 1", "(+ (! 0) 1)"),
        ("!a == b", "(== (! a) b)"),
        ("--x", "(- (- x))"),
        ("2 ** -1", "(** 2 (- 1))"),
        ("-2 ** -2", "(- (** 2 (- 2)))"),
        ("10 ** -2 * 3", "(* (** 10 (- 2)) 3)"),
        ("1 + 2 ** -2", "(+ 1 (** 2 (- 2)))"),
        ("2 ^ -3", "(^ 2 (- 3))"),
        ("2 ** --1", "(** 2 (- (- 1)))"),
        ("2 ** -1 as i32", "(as i32 (** 2 (- 1)))"),
        ("2 ** x[1]", "(** 2 x[1])"),
        ("-x[0]", "(- x[0])"),
        ("1 + 2 * 3 - 4", "(- (+ 1 (* 2 3)) 4)"),
        ("a - b - c", "(- (- a b) c)"),
        ("a / b % c * d", "(* (% (/ a b) c) d)"),
        ("(1 + 2) * 3", "(* (+ 1 2) 3)"),
        ("a || b && c", "(|| a (&& b c))"),
        ("a || b || c", "(|| (|| a b) c)"),
        ("1 + 2 < 4 && 3 > 2 || 0", "(|| (&& (< (+ 1 2) 4) (> 3 2)) 0)"),
        ("a == b", "(== a b)"),
        ("a != b", "(!= a b)"),
        ("a <= b + 1", "(<= a (+ b 1))"),
        ("a >= b", "(>= a b)"),
        ("(a < b) < c", "(< (< a b) c)"),
        ("softmax(x)[0]", "softmax(x)[0]"),
        ("m[1][0]", "m[1][0]"),
        ("st.alpha", "st.alpha"),
        ("st.w / st.lr", "(/ st.w st.lr)"),
        ("transpose(b)[2]", "transpose(b)[2]"),
        (
            "matmul(st.weight, transpose(tensor [[1, 1, 1]]))",
            "matmul(st.weight, transpose(tensor[[1, 1, 1]]))",
        ),
        ("rand()", "rand()"),
        ("f(a, -b, c + 1)", "f(a, (- b), (+ c 1))"),
        ("tensor [1, 2, 4] ** -1", "(** tensor[1, 2, 4] (- 1))"),
        ("tensor [[1, 2], [3, -4.5]]", "tensor[[1, 2], [3, (- 4.5)]]"),
        ('print("hi")', "print('hi')"),
    ],
)
def test_precedence(src: str, tree: str) -> None:
    assert show(expr(src)) == tree


def test_expression_locations_are_first_tokens() -> None:
    e = expr("a + b * c")
    assert isinstance(e, ast.Binary) and isinstance(e.rhs, ast.Binary)
    assert (e.loc.line, e.loc.col) == (2, 9)
    assert e.rhs.loc.col == 13
    u = expr("-x")
    assert u.loc.col == 9


@pytest.mark.parametrize(
    ("src", "phrase", "col"),
    [
        ("a < b < c", "cannot be chained", 7),
        ("a == b != c", "cannot be chained", 8),
        ("1 as u8", "unknown type 'u8'", 6),
        ("(f)(1)", "only a function name can be called", 4),
        ("f(1)(2)", "only a function name can be called", 5),
        ("m[0](1)", "only a function name can be called", 5),
        ("3 + * 4", "unexpected '*' in expression", 5),
        ("(1 + 2", "expected ')'", 7),
        ("x.(k)", "expected a field name", 3),
        ("tensor 1", "expected '['", 8),
    ],
)
def test_expression_errors(src: str, phrase: str, col: int) -> None:
    assert_error(f"fn main() {{ let r = {src}; }}", phrase, 1, COL + len("let r = ") + col)


# ---------------------------------------------------------------- tensor literals


def test_tensor_literal_rank_and_row_locs() -> None:
    e = expr("tensor [[1, 2], [3, 4]]")
    assert isinstance(e, ast.TensorLiteral)
    assert len(e.elements) == 2 and all(len(r) == 2 for r in e.elements)
    locs = dict(e.row_locs)
    assert (locs[()].col, locs[(0,)].col, locs[(1,)].col) == (16, 17, 25)
    four = expr("tensor [[[[1]]]]")
    assert isinstance(four, ast.TensorLiteral)
    assert show(four) == "tensor[[[[1]]]]"


@pytest.mark.parametrize(
    ("src", "phrase", "col"),
    [
        ("tensor [[1, 2], [3, 4, 5]]", "3 elements, expected 2", 17),
        ("tensor [[1, 2, 3], [4, 5]]", "2 elements, expected 3", 20),
        ("tensor [[1], 2]", "found a scalar", 14),
        ("tensor [1, [2]]", "found a row", 12),
        ("tensor [[[1, 2]], [[3, 4], [5, 6]]]", "2 elements, expected 1", 19),
        ("tensor [[[1, 2]], [[3, 4, 5]]]", "3 elements, expected 2", 20),
        ("tensor [[[[[1]]]]]", "nested too deeply", 12),
        ("tensor []", "empty tensor literal", 8),
        ("tensor [[1], []]", "empty tensor literal", 14),
    ],
)
def test_tensor_literal_errors(src: str, phrase: str, col: int) -> None:
    assert_error(f"fn main() {{ let r = {src}; }}", phrase, 1, COL + len("let r = ") + col)


# ---------------------------------------------------------------- statements


def test_program_structure() -> None:
    prog = parse("fn helper(a, b) { return a + b; }\nfn main() { print(helper(1, 2)); }")
    assert prog.filename == FILE
    assert [(f.name, f.params) for f in prog.functions] == [("helper", ("a", "b")), ("main", ())]
    assert prog.functions[1].loc.line == 2
    assert prog.entry() is prog.functions[1]
    assert parse("").functions == []
    assert parse("// only a comment\n").functions == []


def test_let_learn_assign_expr_return() -> None:
    let, learn, assign, store, store2, call, ret, bare = body(
        "let x = 1; learn w = tensor [1, 2]; x = x + 1; v[i] = 2; M[r][c] = 3;"
        " print(x); return x * 2; return;"
    )
    assert isinstance(let, ast.Let) and let.name == "x" and show(let.value) == "1"
    assert isinstance(learn, ast.Learn) and learn.name == "w"
    assert isinstance(assign, ast.Assign) and (assign.name, assign.indices) == ("x", ())
    assert show(assign.value) == "(+ x 1)"
    assert isinstance(store, ast.Assign) and store.name == "v"
    assert [show(i) for i in store.indices] == ["i"]
    assert isinstance(store2, ast.Assign) and [show(i) for i in store2.indices] == ["r", "c"]
    assert isinstance(call, ast.ExprStmt) and show(call.expr) == "print(x)"
    assert isinstance(ret, ast.Return) and ret.value is not None and show(ret.value) == "(* x 2)"
    assert isinstance(bare, ast.Return) and bare.value is None
    assert (let.loc.line, let.loc.col) == (2, 1)
    assert store.loc.col == 48  # an assignment is located at its target name


def test_if_else_if_else() -> None:
    (stmt,) = body("if x < 0 { a = 1; } else if x == 0 { a = 2; } else { a = 3; }")
    assert isinstance(stmt, ast.If) and show(stmt.cond) == "(< x 0)"
    assert len(stmt.then_block.body) == 1
    assert stmt.else_block is not None
    (inner,) = stmt.else_block.body
    assert isinstance(inner, ast.If) and show(inner.cond) == "(== x 0)"
    assert inner.else_block is not None and len(inner.else_block.body) == 1
    (plain,) = body("if 0 { print(1); }")
    assert isinstance(plain, ast.If) and plain.else_block is None


def test_while() -> None:
    (stmt,) = body("while n != 1 { n = n - 1; }")
    assert isinstance(stmt, ast.While) and show(stmt.cond) == "(!= n 1)"
    assert len(stmt.body.body) == 1


def test_batch() -> None:
    with_index, plain = body(
        "batch xb, k in data with 2 { print(k); } batch row in d with n + 1 { }"
    )
    assert isinstance(with_index, ast.Batch)
    assert (with_index.item, with_index.index) == ("xb", "k")
    assert show(with_index.data) == "data" and show(with_index.size) == "2"
    assert isinstance(plain, ast.Batch) and plain.index is None
    assert show(plain.size) == "(+ n 1)" and plain.body.body == ()


def test_optimize_forms() -> None:
    a, b, c, d = body(
        "optimize(w) until l1 < 0 { let l1 = w * w; minimize l1; }"
        " optimize(W1, b1) with sgd(0.1) until loss < 0.01 { minimize loss; }"
        " optimize(u) with adam(0.05, beta2 = 0.99) until loss < 0 { minimize loss; }"
        " optimize(q) with rmsprop(0.1, beta = 0.5, eps = 1e-6) until 1 { minimize q; }"
    )
    assert isinstance(a, ast.Optimize) and a.optimizer is None
    assert [p.name for p in a.params] == ["w"] and show(a.until) == "(< l1 0)"
    assert isinstance(a.body.body[1], ast.Minimize) and show(a.body.body[1].value) == "l1"
    assert isinstance(b, ast.Optimize) and b.optimizer is not None
    assert [p.name for p in b.params] == ["W1", "b1"]
    assert b.optimizer.name == "sgd" and [show(x) for x in b.optimizer.args] == ["0.1"]
    assert isinstance(c, ast.Optimize) and c.optimizer is not None
    assert c.optimizer.name == "adam" and [show(x) for x in c.optimizer.args] == ["0.05"]
    assert [(k, show(v)) for k, v in c.optimizer.kwargs] == [("beta2", "0.99")]
    assert isinstance(d, ast.Optimize) and d.optimizer is not None
    assert [k for k, _ in d.optimizer.kwargs] == ["beta", "eps"]


def test_memory_statements() -> None:
    alloc, r1, r2, r3, r4, free = body(
        "alloc buf = [2, n * 3]; realloc w = [3, 3]; realloc w = [2, 4] init zeros;"
        " realloc v = [4] init normal(10, 1); realloc v = [3] init uniform(-1, 1); free buf;"
    )
    assert isinstance(alloc, ast.Alloc) and alloc.name == "buf"
    assert [show(x) for x in alloc.dims] == ["2", "(* n 3)"]
    assert isinstance(r1, ast.Realloc) and r1.init is None and len(r1.dims) == 2
    assert isinstance(r2, ast.Realloc) and r2.init is not None
    assert (r2.init.kind, r2.init.args) == ("zeros", ())
    assert isinstance(r3, ast.Realloc) and r3.init is not None and r3.init.kind == "normal"
    assert [show(x) for x in r3.init.args] == ["10", "1"]
    assert isinstance(r4, ast.Realloc) and r4.init is not None and r4.init.kind == "uniform"
    assert [show(x) for x in r4.init.args] == ["(- 1)", "1"]
    assert isinstance(free, ast.Free) and free.name == "buf"


def test_io_statements() -> None:
    lc, sc, ls, ss = body(
        'load_csv d = "in.csv"; save_csv d * 2, "out.csv";'
        ' load_safetensors st = "a.safetensors";'
        ' save_safetensors { weight: W, bias: b * 2 }, "b.safetensors";'
    )
    assert isinstance(lc, ast.LoadCsv) and (lc.name, lc.path) == ("d", "in.csv")
    assert (lc.path_loc.line, lc.path_loc.col) == (2, 14)
    assert isinstance(sc, ast.SaveCsv) and sc.path == "out.csv" and show(sc.value) == "(* d 2)"
    assert isinstance(ls, ast.LoadSafetensors) and (ls.name, ls.path) == ("st", "a.safetensors")
    assert isinstance(ss, ast.SaveSafetensors) and ss.path == "b.safetensors"
    assert [(k, show(v)) for k, v in ss.entries] == [("weight", "W"), ("bias", "(* b 2)")]


def test_trailing_commas_allowed() -> None:
    (stmt,) = body("let t = f(tensor [1, 2,], 3,);")
    assert isinstance(stmt, ast.Let) and show(stmt.value) == "f(tensor[1, 2], 3)"


# ---------------------------------------------------------------- statement errors


@pytest.mark.parametrize(
    ("src", "phrase", "line", "col"),
    [
        # Top level: anything but `fn` says how to fix it.
        ("let x = 1;\nfn main() { }", "fn main() { ... }", 1, 1),
        ("fn main() { }\nprint(1);", "fn main()", 2, 1),
        ("fn main() { } }", "fn main()", 1, 15),
        ("fn f() { }\nfn f() { }", "function 'f' is already defined", 2, 1),
        ("fn f(a, a) { }", "duplicate parameter 'a'", 1, 9),
        ("fn (a) { }", "expected a function name", 1, 4),
        ("fn main() {\n  let x = 1;", "'{' is never closed", 1, 11),
        ("fn main() { fn g() { } }", "cannot be defined inside", 1, 13),
        # Missing `;` and unexpected tokens are located at the offending token.
        (
            "fn main() {\n  print(x)\n  print(y);\n}",
            "expected ';' after expression, found 'print'",
            3,
            3,
        ),
        ("fn main() {\n  let q = 3 + * 4;\n}", "unexpected '*' in expression", 2, 15),
        ("fn main() { let = 3; }", "expected a variable name", 1, 17),
        ("fn main() { let in = 3; }", "found keyword 'in'", 1, 17),
        ("fn main() { let x 3; }", "expected '='", 1, 19),
        ("fn main() { else { } }", "expected a statement, found keyword 'else'", 1, 13),
        ("fn main() { f(x) = 3; }", "cannot assign", 1, 18),
        ("fn main() { st.a = 3; }", "cannot assign", 1, 18),
        ("fn main() { return 1 }", "expected ';'", 1, 22),
        ("fn main() { if x print(1); }", "expected '{'", 1, 18),
        ("fn main() { batch x in d { } }", "expected 'with'", 1, 26),
        ("fn main() { batch x d with 2 { } }", "expected 'in'", 1, 21),
        # optimize
        (
            "fn main() { optimize(w) with foo(1) until 1 { } }",
            "expected sgd, adam or rmsprop",
            1,
            30,
        ),
        (
            "fn main() { optimize(w) with adam(beta2 = 1, 3) until 1 { } }",
            "positional argument cannot follow",
            1,
            46,
        ),
        (
            "fn main() { optimize(w) with adam(0.1, beta2 = 1, beta2 = 2) until 1 { } }",
            "given twice",
            1,
            51,
        ),
        ("fn main() { optimize(w) with adam(0.1, lr = 1) until 1 { } }", "given twice", 1, 45),
        ("fn main() { optimize(w) with sgd(0.1, 0.2) until 1 { } }", "at most 1 argument", 1, 39),
        (
            "fn main() { optimize(w) with sgd(beta = 1) until 1 { } }",
            "unknown argument 'beta'",
            1,
            41,
        ),
        ("fn main() { optimize(w) with adam(0.1) { } }", "expected 'until'", 1, 40),
        ("fn main() { optimize(1) until 1 { } }", "expected a parameter name", 1, 22),
        # memory
        ("fn main() { alloc b = []; }", "at least one dimension", 1, 23),
        ("fn main() { alloc b = 3; }", "expected '['", 1, 23),
        ("fn main() { realloc w = [3] init normal(1); }", "takes 2 argument", 1, 34),
        ("fn main() { realloc w = [3] init uniform(1, 2, 3); }", "takes 2 argument", 1, 34),
        ("fn main() { realloc w = [3] init normal; }", "needs arguments", 1, 40),
        ("fn main() { realloc w = [3] init ones; }", "unknown init policy 'ones'", 1, 34),
        ("fn main() { free; }", "expected a name", 1, 17),
        # I/O
        ("fn main() { load_csv d = path; }", "a file path", 1, 26),
        ('fn main() { save_csv d "x.csv"; }', "expected ','", 1, 24),
        ('fn main() { save_safetensors { a: 1, a: 2 }, "x"; }', "duplicate key 'a'", 1, 38),
        ('fn main() { save_safetensors { 1: 2 }, "x"; }', "expected a tensor name", 1, 32),
    ],
)
def test_statement_errors(src: str, phrase: str, line: int, col: int) -> None:
    assert_error(src, phrase, line, col)


def test_error_format_echoes_the_line() -> None:
    err = error_of("fn main() {\n    let q = 3 + * 4;\n}")
    assert err.format().splitlines() == [
        "error: unexpected '*' in expression at t.noma:2:17",
        "      let q = 3 + * 4;",
        "                  ^",
    ]


# ---------------------------------------------------------------- nesting limits


def test_reasonable_nesting_parses() -> None:
    depth = MAX_NESTING // 2 - 5
    e = expr("(" * depth + "1" + ")" * depth)
    assert show(e) == "1"
    assert len(body("if 1 {" * 50 + "}" * 50)) == 1


@pytest.mark.parametrize(
    "src",
    [
        "let x = " + "(" * 5000 + "1" + ")" * 5000 + ";",
        "let x = " + "-" * 5000 + "1;",
        "let x = " + "!" * 5000 + "1;",
        "let x = " + "2 ** " * 5000 + "1;",
        "let x = 2 ** " + "-" * 5000 + "1;",
        "let x = " + " + ".join(["1"] * 5000) + ";",
        "let x = 1" + " as f64" * 5000 + ";",
        "let x = m" + "[0]" * 5000 + ";",
        "let x = " + "f(" * 5000 + ")" * 5000 + ";",
        "if 1 {" * 5000 + "}" * 5000,
        "if 1 { } " + "else if 1 { } " * 5000,
        "while 1 {" * 5000 + "}" * 5000,
    ],
)
def test_deep_nesting_is_a_compile_error(src: str) -> None:
    limit = sys.getrecursionlimit()
    err = error_of("fn main() {" + src + "}")
    assert "nested too deeply" in err.message
    assert sys.getrecursionlimit() == limit  # the parser restores it


# ---------------------------------------------------------------- conformance


def _conformance_cases() -> list[Path]:
    return sorted(CONFORMANCE.glob("*.noma")) if CONFORMANCE.is_dir() else []


# The `#error` cases the parser itself must reject; the other error cases
# (recursion, undeclared names, shapes, ...) are found later and must parse.
PARSE_ERROR_PHRASES = ("3 + * 4", "[3, 4, 5]", "fn main")


@needs_conformance
@pytest.mark.parametrize("path", _conformance_cases(), ids=lambda p: p.stem)
def test_conformance_program(path: Path) -> None:
    expected = path.with_suffix(".expected")
    lines = expected.read_text().splitlines() if expected.exists() else []
    phrase = lines[1].strip() if lines[:1] == ["#error"] and len(lines) > 1 else None
    text = path.read_text()
    if phrase in PARSE_ERROR_PHRASES:
        with pytest.raises(CompileError) as info:
            parse_program(text, str(path))
        assert phrase.lower() in info.value.format().lower()
    else:
        prog = parse_program(text, str(path))
        assert prog.entry() is not None


@needs_conformance
def test_conformance_suite_is_present() -> None:
    assert len(_conformance_cases()) > 10


# ---------------------------------------------------------------- fuzzing


def _parse_or_compile_error(text: str) -> None:
    try:
        parse_program(text, "fuzz.noma")
    except CompileError as err:
        err.format()  # formatting must not crash either


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_fuzz_arbitrary_text(text: str) -> None:
    _parse_or_compile_error(text)


_FUZZ_TOKENS = (
    "fn main ( ) { } [ ] , ; : . = + - * / % ^ ** == != < > <= >= && || ! as i32 f64"
    " let learn return optimize with until minimize if else while batch in alloc realloc"
    " free init zeros normal uniform sgd adam beta2 load_csv save_csv load_safetensors"
    ' save_safetensors tensor x y print 1 2.5 .5 1e-3 "s" "a\\n" // /* */'
).split() + ["\n"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(_FUZZ_TOKENS), max_size=60))
def test_fuzz_token_soup(tokens: list[str]) -> None:
    _parse_or_compile_error(" ".join(tokens))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(_FUZZ_TOKENS), max_size=40))
def test_fuzz_inside_main(tokens: list[str]) -> None:
    _parse_or_compile_error("fn main() { " + " ".join(tokens) + " }")
