"""Tests for the reference interpreter (noma/backend/interp*.py).

Modules are hand-written MLIR in the syntax of our dialects; `run` parses,
verifies and runs them, returning (stdout, stderr, return value).
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
from xdsl.dialects.builtin import ModuleOp
from xdsl.parser import Parser

from noma.backend.interp import RuntimeState, run_function, run_module
from noma.backend.runtime.rng import NomaRng
from noma.diagnostics import NomaRuntimeError, SourceLoc
from noma.dialects import make_context

# ---------------------------------------------------------------- helpers

T23 = "tensor<2x3xf64>"
DYN2 = "tensor<?x?xf64>"
DYN1 = "tensor<?xf64>"


def parse(src: str) -> ModuleOp:
    module = Parser(make_context(), src).parse_module()
    module.verify()
    return module


def run(src: str, seed: int = 0) -> tuple[str, str, object]:
    out, err = io.StringIO(), io.StringIO()
    value = run_module(parse(src), seed=seed, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue(), value


def main(body: str, ret: str | None = None) -> str:
    """A module whose entry `main` runs `body` and returns `%ret` (f64/tensor type given)."""
    if ret is None:
        return f"builtin.module {{\n func.func @main() {{\n{body}\n func.return\n }}\n}}"
    name, typ = ret.split(":")
    return (
        f"builtin.module {{\n func.func @main() -> {typ} {{\n{body}\n"
        f" func.return %{name} : {typ}\n }}\n}}"
    )


def lit(v: float) -> str:
    """An MLIR float literal (it needs a `.`): 1e-08 -> 1.0e-08."""
    text = repr(float(v))
    return text.replace("e", ".0e") if "e" in text and "." not in text else text


def consts(**values: float) -> str:
    return "\n".join(f"%{k} = arith.constant {lit(v)} : f64" for k, v in values.items())


def tensor(name: str, values: list, shape: str | None = None) -> str:
    arr = np.array(values, dtype=np.float64)
    shape = shape or "x".join(str(d) for d in arr.shape) + "xf64"
    return f"%{name} = noma.tensor.constant dense<{arr.tolist()}> : tensor<{shape}>"


def dyn(name: str, src: str, src_type: str, to: str) -> str:
    """Forget the static dims of `%src` (so checks happen at run time)."""
    return f"%{name} = noma.tensor.cast %{src} : {src_type} -> {to}"


def value_of(body: str, ret: str) -> object:
    return run(main(body, ret))[2]


def error_of(src: str) -> NomaRuntimeError:
    with pytest.raises(NomaRuntimeError) as info:
        run(src)
    return info.value


# ---------------------------------------------------------------- element-wise


def test_broadcasting_add_mul() -> None:
    body = "\n".join(
        [
            tensor("a", [[1, 2, 3], [4, 5, 6]]),
            tensor("b", [10, 20, 30]),
            tensor("c", [[1], [2]]),
            f"%s = noma.tensor.add %a, %b : ({T23}, tensor<3xf64>) -> {T23}",
            f"%r = noma.tensor.mul %s, %c : ({T23}, tensor<2x1xf64>) -> {T23}",
        ]
    )
    r = value_of(body, f"r:{T23}")
    assert isinstance(r, np.ndarray)
    np.testing.assert_array_equal(r, [[11, 22, 33], [28, 50, 72]])


def test_scalar_ops_are_floats_and_c_like() -> None:
    body = "\n".join(
        [
            consts(a=-7.0, b=3.0, two=2.0, m1=-1.0, zero=0.0),
            "%rem = noma.tensor.rem %a, %b : (f64, f64) -> f64",
            "%pow = noma.tensor.pow %two, %m1 : (f64, f64) -> f64",
            "%inf = noma.tensor.div %b, %zero : (f64, f64) -> f64",
            "%x = noma.tensor.add %rem, %pow : (f64, f64) -> f64",
            "noma.io.print %rem : f64",
            "noma.io.print %pow : f64",
            "noma.io.print %inf : f64",
        ]
    )
    out, _, value = run(main(body, "x:f64"))
    assert out.splitlines() == ["-1", "0.5", "inf", "-0.5"]
    assert type(value) is float and value == -0.5


def test_unary_and_comparison_ops() -> None:
    vals = [-2.0, -0.5, 0.0, 0.5, 2.5]
    t = "tensor<5xf64>"
    ops = ["neg", "not", "sigmoid", "relu", "tanh", "abs", "floor", "ceil", "trunc", "exp"]
    lines = [tensor("x", vals), consts(h=0.5)]
    for op in ops:
        lines.append(f"%{op} = noma.tensor.{op} %x : {t} -> {t}")
        lines.append(f"noma.io.print %{op} : {t}")
    for pred in ("lt", "ge", "eq", "ne"):
        lines.append(f'%{pred} = noma.tensor.cmp "{pred}", %x, %h : ({t}, f64) -> {t}')
        lines.append(f"noma.io.print %{pred} : {t}")
    lines.append(f"%sel = noma.tensor.select %lt, %x, %h : ({t}, {t}, f64) -> {t}")
    lines.append(f"%mn = noma.tensor.min %x, %h : ({t}, f64) -> {t}")
    lines.append(f"%mx = noma.tensor.max %x, %h : ({t}, f64) -> {t}")
    for name in ("sel", "mn", "mx"):
        lines.append(f"noma.io.print %{name} : {t}")
    out = run(main("\n".join(lines)))[0].splitlines()
    x = np.array(vals)
    expected = [
        -x, (x == 0) * 1.0, 1 / (1 + np.exp(-x)), np.where(x > 0, x, 0.0), np.tanh(x),
        np.abs(x), np.floor(x), np.ceil(x), np.trunc(x), np.exp(x),
        (x < 0.5) * 1.0, (x >= 0.5) * 1.0, (x == 0.5) * 1.0, (x != 0.5) * 1.0,
        np.where(x < 0.5, x, 0.5), np.minimum(x, 0.5), np.maximum(x, 0.5),
    ]  # fmt: skip
    assert len(out) == len(expected)
    for line, want in zip(out, expected, strict=True):
        got = np.array(eval(line.replace("inf", "1e999")))  # noqa: S307 - our own output
        np.testing.assert_allclose(got, want, rtol=1e-9)


def test_broadcast_error_names_both_shapes_and_location() -> None:
    body = "\n".join(
        [
            tensor("a", [[1, 2, 3], [4, 5, 6]]),
            tensor("b", [1, 2]),
            dyn("da", "a", T23, DYN2),
            dyn("db", "b", "tensor<2xf64>", DYN1),
            f'%s = noma.tensor.add %da, %db : ({DYN2}, {DYN1}) -> {DYN2} loc("t.noma":7:11)',
        ]
    )
    e = error_of(main(body))
    assert e.message == "shapes [2, 3] and [2] cannot be broadcast"
    assert e.loc == SourceLoc("t.noma", 7, 11)


# ---------------------------------------------------------------- reductions, linear algebra


def test_reductions() -> None:
    body = "\n".join(
        [
            tensor("a", [[1, 2, 3], [4, 5, 6]]),
            tensor("v", [1, 2, 4]),
            f"%s = noma.tensor.sum %a : {T23} -> f64",
            f"%m0 = noma.tensor.mean %a {{axis = 0 : i64}} : {T23} -> tensor<3xf64>",
            f"%s1 = noma.tensor.sum %a {{axis = 1 : i64, keepdims}} : {T23} -> tensor<2x1xf64>",
            "%sv = noma.tensor.sum %v {axis = 0 : i64} : tensor<3xf64> -> f64",
            "%mv = noma.tensor.mean %v : tensor<3xf64> -> f64",
            "noma.io.print %s : f64",
            "noma.io.print %m0 : tensor<3xf64>",
            "noma.io.print %s1 : tensor<2x1xf64>",
            "noma.io.print %sv : f64",
        ]
    )
    out, _, mv = run(main(body, "mv:f64"))
    assert out.splitlines() == ["21", "[2.5, 3.5, 4.5]", "[[6], [15]]", "7", "2.333333333"]
    assert type(mv) is float


def test_matmul_dot_transpose() -> None:
    body = "\n".join(
        [
            tensor("a", [[1, 2, 3], [4, 5, 6]]),
            tensor("v", [1, 2, 3]),
            f"%t = noma.tensor.transpose %a : {T23} -> tensor<3x2xf64>",
            f"%p = noma.tensor.matmul %a, %t : ({T23}, tensor<3x2xf64>) -> tensor<2x2xf64>",
            "%d = noma.tensor.dot %v, %v : (tensor<3xf64>, tensor<3xf64>) -> f64",
            "noma.io.print %p : tensor<2x2xf64>",
            "noma.io.print %d : f64",
        ]
    )
    assert run(main(body))[0].splitlines() == ["[[14, 32], [32, 77]]", "14"]


def test_matmul_shape_error_has_location() -> None:
    body = "\n".join(
        [
            tensor("a", [[1, 2, 3], [4, 5, 6]]),
            dyn("da", "a", T23, DYN2),
            f'%p = noma.tensor.matmul %da, %da : ({DYN2}, {DYN2}) -> {DYN2} loc("m.noma":3:9)',
        ]
    )
    e = error_of(main(body))
    assert "matmul" in e.message and "[2, 3] and [2, 3]" in e.message
    assert e.loc == SourceLoc("m.noma", 3, 9)
    assert e.format().startswith("error: matmul: shapes [2, 3] and [2, 3]")


def test_softmax_log_softmax_dim_numel() -> None:
    x = [[1.0, 2.0, 3.0], [1000.0, 1000.0, 0.0]]
    body = "\n".join(
        [
            tensor("a", x),
            f"%s = noma.tensor.softmax %a : {T23} -> {T23}",
            f"%l = noma.tensor.log_softmax %a : {T23} -> {T23}",
            f"%d = noma.tensor.dim %a {{axis = 1 : i64}} : {T23}",
            f"%n = noma.tensor.numel %a : {T23}",
            "noma.io.print %d : f64",
            "noma.io.print %n : f64",
        ]
    )
    out, _, s = run(main(body, f"s:{T23}"))
    assert out.splitlines()[:2] == ["3", "6"]
    a = np.array(x)
    shifted = a - a.max(axis=1, keepdims=True)
    log_sm = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(s, np.exp(log_sm), rtol=1e-12)
    np.testing.assert_allclose(value_of(body, f"l:{T23}"), log_sm, rtol=1e-12)


def test_dim_axis_out_of_range() -> None:
    body = "\n".join(
        [
            tensor("a", [1, 2]),
            "%u = noma.tensor.cast %a : tensor<2xf64> -> tensor<*xf64>",
            '%d = noma.tensor.dim %u {axis = 1 : i64} : tensor<*xf64> loc("d.noma":1:2)',
        ]
    )
    e = error_of(main(body))
    assert "axis 1 out of range" in e.message and e.loc == SourceLoc("d.noma", 1, 2)


# ---------------------------------------------------------------- indexing


def test_index_row_and_element() -> None:
    body = "\n".join(
        [
            tensor("a", [[1, 2, 3], [4, 5, 6]]),
            consts(i=1.9, j=2.0),
            f"%row = noma.tensor.index %a[%i] : {T23} -> tensor<3xf64>",
            f"%e = noma.tensor.index %a[%i, %j] : {T23} -> f64",
            "noma.io.print %row : tensor<3xf64>",
        ]
    )
    out, _, e = run(main(body, "e:f64"))
    assert out == "[4, 5, 6]\n6\n" and e == 6.0


@pytest.mark.parametrize(("idx", "msg"), [(3.0, "index 3"), (-1.0, "index -1")])
def test_index_out_of_range(idx: float, msg: str) -> None:
    body = "\n".join(
        [
            tensor("a", [1, 2, 3]),
            consts(i=idx),
            '%e = noma.tensor.index %a[%i] : tensor<3xf64> -> f64 loc("i.noma":2:3)',
        ]
    )
    e = error_of(main(body))
    assert e.message == f"{msg} out of range for dimension of size 3"
    assert e.loc == SourceLoc("i.noma", 2, 3)


def test_insert_fills_row_and_returns_new_value() -> None:
    body = "\n".join(
        [
            tensor("a", [[1, 2, 3], [4, 5, 6]]),
            consts(i=0.0, j=1.0, v=9.0),
            f"%b = noma.tensor.insert %v into %a[%i] : f64, {T23} -> {T23}",
            f"%c = noma.tensor.insert %v into %a[%j, %j] : f64, {T23} -> {T23}",
            tensor("r", [7, 8, 9]),
            f"%d = noma.tensor.insert %r into %a[%j] : tensor<3xf64>, {T23} -> {T23}",
            f"noma.io.print %a : {T23}",
            f"noma.io.print %b : {T23}",
            f"noma.io.print %c : {T23}",
            f"noma.io.print %d : {T23}",
        ]
    )
    assert run(main(body))[0].splitlines() == [
        "[[1, 2, 3], [4, 5, 6]]",
        "[[9, 9, 9], [4, 5, 6]]",
        "[[1, 2, 3], [4, 9, 6]]",
        "[[1, 2, 3], [7, 8, 9]]",
    ]


def test_slice_clamps() -> None:
    body = "\n".join(
        [
            tensor("a", [[1], [2], [3], [4], [5]]),
            consts(s=3.0, e=10.0, neg=-2.0, two=2.0),
            f"%x = noma.tensor.slice %a[%s : %e] : tensor<5x1xf64> -> {DYN2}",
            f"%y = noma.tensor.slice %a[%neg : %two] : tensor<5x1xf64> -> {DYN2}",
            f"noma.io.print %x : {DYN2}",
            f"noma.io.print %y : {DYN2}",
        ]
    )
    assert run(main(body))[0].splitlines() == ["[[4], [5]]", "[[1], [2]]"]


# ---------------------------------------------------------------- construction, casts


def test_zeros_and_bad_dims() -> None:
    body = consts(a=2.7, b=3.0) + f"\n%z = noma.tensor.zeros [%a, %b] : {DYN2}"
    np.testing.assert_array_equal(value_of(body, f"z:{DYN2}"), np.zeros((2, 3)))
    for bad in (0.5, 1e300):
        src = main(consts(a=bad) + f'\n%z = noma.tensor.zeros [%a] : {DYN1} loc("z.noma":1:1)')
        e = error_of(src)
        assert "dimension" in e.message and e.loc == SourceLoc("z.noma", 1, 1)


def test_cast_unranked_checks_rank_and_to_scalar() -> None:
    good = "\n".join(
        [
            tensor("a", [[1, 2]]),
            "%u = noma.tensor.cast %a : tensor<1x2xf64> -> tensor<*xf64>",
            f"%r = noma.tensor.cast %u : tensor<*xf64> -> {DYN2}",
            "%s = noma.tensor.index %u[%z, %z] : tensor<*xf64> -> tensor<*xf64>",
            "%f = noma.tensor.to_scalar %s : tensor<*xf64>",
        ]
    )
    assert value_of(consts(z=0.0) + "\n" + good, "f:f64") == 1.0
    bad = good.replace(f"-> {DYN2}", f'-> {DYN1} loc("c.noma":5:6)').replace(DYN2, DYN1)
    e = error_of(main(consts(z=0.0) + "\n" + bad))
    assert "got shape [1, 2]" in e.message and e.loc == SourceLoc("c.noma", 5, 6)
    many = "\n".join(
        [
            tensor("a", [1, 2]),
            "%u = noma.tensor.cast %a : tensor<2xf64> -> tensor<*xf64>",
            "%f = noma.tensor.to_scalar %u : tensor<*xf64>",
        ]
    )
    assert "single value" in error_of(main(many)).message


def test_broadcast_like_and_reduce_like() -> None:
    body = "\n".join(
        [
            tensor("a", [[1, 2, 3], [4, 5, 6]]),
            tensor("col", [[0], [0]]),
            tensor("row", [0, 0, 0]),
            consts(s=2.0),
            f"%b = noma.tensor.broadcast_like %row, %a : (tensor<3xf64>, {T23}) -> {T23}",
            f"%c = noma.tensor.broadcast_like %s, %a : (f64, {T23}) -> {T23}",
            f"%r1 = noma.tensor.reduce_like %a, %col : ({T23}, tensor<2x1xf64>) -> tensor<2x1xf64>",
            f"%r2 = noma.tensor.reduce_like %a, %row : ({T23}, tensor<3xf64>) -> tensor<3xf64>",
            f"%r3 = noma.tensor.reduce_like %a, %s : ({T23}, f64) -> f64",
            *(f"noma.io.print %{n} : tensor<*xf64>".replace("tensor<*xf64>", t)
              for n, t in [("b", T23), ("c", T23), ("r1", "tensor<2x1xf64>"),
                           ("r2", "tensor<3xf64>"), ("r3", "f64")]),
        ]
    )  # fmt: skip
    assert run(main(body))[0].splitlines() == [
        "[[0, 0, 0], [0, 0, 0]]",
        "[[2, 2, 2], [2, 2, 2]]",
        "[[6], [15]]",
        "[5, 7, 9]",
        "21",
    ]


# ---------------------------------------------------------------- RNG, resize


def test_random_is_deterministic_and_seedable() -> None:
    body = "\n".join(
        [
            consts(a=0.0, b=1.0, two=2.0, three=3.0, s=7.0),
            '%u = noma.tensor.random "uniform"(%a, %b) : f64',
            f'%t = noma.tensor.random "normal"(%a, %b) [%two, %three] : {DYN2}',
            "noma.io.print %u : f64",
            "noma.tensor.seed %s",
            '%v = noma.tensor.random "uniform"(%a, %b) : f64',
        ]
    )
    out, _, v = run(main(body, "v:f64"))
    assert out.splitlines()[0] == "0.8833108082"
    assert v == NomaRng(7).uniform()
    _, _, v5 = run(main(body, "u:f64"))
    assert v5 == 0.8833108082136426
    rng = NomaRng(0)
    rng.uniform()
    _, _, t = run(main(body, f"t:{DYN2}"))
    np.testing.assert_array_equal(t, rng.normal_array((2, 3), 0.0, 1.0))
    assert run(main(body, "u:f64"), seed=5)[2] == NomaRng(5).uniform()


def test_resize_keeps_corner_and_draws_new() -> None:
    body = "\n".join(
        [
            tensor("a", [[1, 2], [3, 4]]),
            consts(r=3.0, c=1.0, lo=10.0, hi=20.0),
            f'%z = noma.tensor.resize %a to [%r, %c] init "zeros" () : tensor<2x2xf64> -> {DYN2}',
            f'%u = noma.tensor.resize %a to [%r, %r] init "uniform" (%lo, %hi) : tensor<2x2xf64> -> {DYN2}',
            f"noma.io.print %z : {DYN2}",
        ]
    )
    out, _, u = run(main(body, f"u:{DYN2}"))
    assert out.splitlines()[0] == "[[1], [3], [0]]"
    rng = NomaRng(0)
    fresh = rng.uniform_values(5, 10.0, 20.0)
    expected = np.array([[1, 2, fresh[0]], [3, 4, fresh[1]], list(fresh[2:])])
    np.testing.assert_array_equal(u, expected)


# ---------------------------------------------------------------- buffers


def test_buffers_store_realloc_free() -> None:
    b2 = "!noma.mem.buffer<2>"
    body = "\n".join(
        [
            consts(two=2.0, three=3.0, one=1.0, zero=0.0, nine=9.0),
            f"%b = noma.mem.alloc [%two, %two] : {b2}",
            f"noma.mem.store_element %nine, %b[%one, %zero] : f64, {b2}",
            f"%x = noma.mem.load %b : {b2} -> {DYN2}",
            f"noma.io.print %x : {DYN2}",
            tensor("n", [[1, 2, 3]]),
            f"noma.mem.store %n, %b : tensor<1x3xf64>, {b2}",
            f"%d = noma.mem.dim %b {{axis = 1 : i64}} : {b2}",
            "noma.io.print %d : f64",
            f'noma.mem.realloc %b to [%two, %two] init "zeros" () : {b2}',
            f"%y = noma.mem.load %b : {b2} -> {DYN2}",
            f"noma.io.print %y : {DYN2}",
            "noma.io.print %n : tensor<1x3xf64>",
            f"noma.mem.free %b : {b2}",
            f'%z = noma.mem.load %b : {b2} -> {DYN2} loc("f.noma":9:4)',
        ]
    )
    with pytest.raises(NomaRuntimeError) as info:
        out = io.StringIO()
        run_module(parse(main(body)), stdout=out)
    assert out.getvalue().splitlines() == [
        "[[0, 0], [9, 0]]",
        "3",
        "[[1, 2], [0, 0]]",
        "[[1, 2, 3]]",
    ]
    assert "use of freed variable" in info.value.message
    assert info.value.loc == SourceLoc("f.noma", 9, 4)


def test_load_is_a_copy_and_store_checks_rank() -> None:
    b1 = "!noma.mem.buffer<1>"
    body = "\n".join(
        [
            consts(two=2.0, zero=0.0, five=5.0),
            f"%b = noma.mem.alloc [%two] : {b1}",
            f"%x = noma.mem.load %b : {b1} -> {DYN1}",
            f"noma.mem.store_element %five, %b[%zero] : f64, {b1}",
            f"noma.io.print %x : {DYN1}",
            "%u = noma.tensor.cast %x : tensor<?xf64> -> tensor<*xf64>",
            f"%m = noma.tensor.zeros [%two, %two] : {DYN2}",
            "%mu = noma.tensor.cast %m : tensor<?x?xf64> -> tensor<*xf64>",
            f'noma.mem.store %mu, %b : tensor<*xf64>, {b1} loc("s.noma":1:1)',
        ]
    )
    out = io.StringIO()
    with pytest.raises(NomaRuntimeError, match="rank 1"):
        run_module(parse(main(body)), stdout=out)
    assert out.getvalue() == "[0, 0]\n"


# ---------------------------------------------------------------- control flow, calls


def test_scf_if_while_and_call() -> None:
    src = """
builtin.module attributes {noma.entry = "start"} {
  func.func @twice(%x: f64) -> f64 {
    %r = noma.tensor.add %x, %x : (f64, f64) -> f64
    func.return %r : f64
  }
  func.func @start() -> f64 {
    %zero = arith.constant 0.0 : f64
    %one = arith.constant 1.0 : f64
    %lim = arith.constant 100.0 : f64
    %w = scf.while (%v = %one) : (f64) -> f64 {
      %c = noma.tensor.cmp "lt", %v, %lim : (f64, f64) -> f64
      %b = arith.cmpf une, %c, %zero : f64
      scf.condition(%b) %v : f64
    } do {
    ^bb0(%v2: f64):
      %n = func.call @twice(%v2) : (f64) -> f64
      scf.yield %n : f64
    }
    %big = arith.cmpf ogt, %w, %lim : f64
    %t = arith.constant true
    %small = arith.xori %big, %t : i1
    %both = arith.andi %big, %t : i1
    %f = arith.uitofp %both : i1 to f64
    noma.io.print %f : f64
    %r = scf.if %small -> (f64) {
      scf.yield %zero : f64
    } else {
      scf.yield %w : f64
    }
    %q = arith.divf %one, %zero : f64
    noma.io.print %q : f64
    %sel = arith.select %big, %lim, %one : f64
    noma.io.print %sel : f64
    %h = arith.constant -2.7 : f64
    %i = arith.fptosi %h : f64 to i64
    %fi = arith.sitofp %i : i64 to f64
    %n = arith.negf %fi : f64
    noma.io.print %n : f64
    func.return %r : f64
  }
}
"""
    out, _, value = run(src)
    assert out.splitlines() == ["1", "inf", "100", "2", "128"]
    assert value == 128.0


def test_entry_falls_back_to_main_then_first() -> None:
    def fn(name: str, value: float) -> str:
        return f"func.func @{name}() -> f64 {{ %c = arith.constant {lit(value)} : f64 func.return %c : f64 }}"

    def module(*funcs: str, entry: str | None = None) -> str:
        attrs = f' attributes {{noma.entry = "{entry}"}}' if entry else ""
        return f"builtin.module{attrs} {{ {' '.join(funcs)} }}"

    assert run(module(fn("other", 1), fn("main", 2)))[2] == 2.0
    assert run(module(fn("first", 3), fn("second", 4)))[2] == 3.0
    assert run(module(fn("main", 5), fn("f.1", 6), entry="f.1"))[2] == 6.0


def test_run_function_api() -> None:
    src = main(consts(a=1.5), "a:f64")
    assert run_function(parse(src), "main", state=RuntimeState()) == (1.5,)


# ---------------------------------------------------------------- training

HYPER = "%kind, %lr, %b1, %b2, %rho, %eps, %max"


def hyper(kind: float, lr: float, max_iter: float, b1: float = 0.9, b2: float = 0.999) -> str:
    return consts(kind=kind, lr=lr, b1=b1, b2=b2, rho=0.9, eps=1e-8, max=max_iter)


def square_loop(kind: float, max_iter: float, stop_below: float, lr: float = 0.1) -> str:
    """minimize w*w from w = 1; stop when loss < stop_below; update when not stopping."""
    return main(
        "\n".join(
            [
                hyper(kind, lr, max_iter),
                consts(one=1.0, zero=0.0, two=2.0, lim=stop_below),
                '%w = noma.train.param "w" %one : f64 -> !noma.mem.buffer<0>',
                "%r = noma.train.optimize params(%w : !noma.mem.buffer<0>) "
                f"hyper({HYPER}) -> (f64) {{",
                "  %wv = noma.mem.load %w : !noma.mem.buffer<0> -> f64",
                "  %loss = noma.tensor.mul %wv, %wv : (f64, f64) -> f64",
                "  noma.train.minimize %loss : f64",
                '  %c = noma.tensor.cmp "lt", %loss, %lim : (f64, f64) -> f64',
                "  %stop = arith.cmpf une, %c, %zero : f64",
                "  %true = arith.constant true",
                "  %go = arith.xori %stop, %true : i1",
                "  scf.if %go {",
                "    %g = noma.tensor.mul %two, %wv : (f64, f64) -> f64",
                "    noma.train.update %w, %g : !noma.mem.buffer<0>, f64",
                "  }",
                "  noma.train.yield %stop, %loss : f64",
                '} loc("opt.noma":4:5)',
                "noma.io.print %r : f64",
                "%wf = noma.mem.load %w : !noma.mem.buffer<0> -> f64",
            ]
        ),
        "wf:f64",
    )


def test_sgd_max_iterations_warning() -> None:
    out, err, w = run(square_loop(1.0, 3.0, -1.0))
    assert w == pytest.approx(0.512, abs=1e-15)
    assert out.splitlines() == ["0.4096", "0.512"]  # loss of the 3rd iteration, then w
    assert err == "warning: optimize loop at opt.noma:4:5 reached max_iterations (3)\n"


def test_loop_stops_on_condition_without_update() -> None:
    out, err, w = run(square_loop(1.0, 100.0, 0.5))
    assert w == pytest.approx(0.64) and out.splitlines()[0] == "0.4096"
    assert err == ""


def test_max_iter_below_one_runs_one_iteration() -> None:
    _, err, w = run(square_loop(1.0, 0.0, -1.0))
    assert w == pytest.approx(0.8) and "max_iterations (1)" in err


def test_rmsprop_scalar() -> None:
    _, _, w = run(square_loop(3.0, 2.0, -1.0, lr=0.01))
    p, v = 1.0, 0.0
    for _ in range(2):
        g = 2 * p
        v = 0.9 * v + 0.1 * g * g
        p -= 0.01 * g / (math.sqrt(v) + 1e-8)
    assert w == pytest.approx(p, rel=1e-14)


def adam_reference(p: np.ndarray, steps: int, lr: float, target: float) -> np.ndarray:
    m, v = np.zeros_like(p), np.zeros_like(p)
    for t in range(1, steps + 1):
        g = 2 * (p - target)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        p = p - lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    return p


PARAM_W = '%w = noma.train.param "w" %init : tensor<3xf64> -> !noma.mem.buffer<1>'
ADAM_LOOP = """
  %res:2 = noma.train.optimize params(%w : !noma.mem.buffer<1>) hyper({hyper})
      carry(%zero : f64) -> (f64, f64) {{
  ^bb0(%it: f64):
    %wv = noma.mem.load %w : !noma.mem.buffer<1> -> tensor<?xf64>
    %d = noma.tensor.sub %wv, %target : (tensor<?xf64>, f64) -> tensor<?xf64>
    %sq = noma.tensor.mul %d, %d : (tensor<?xf64>, tensor<?xf64>) -> tensor<?xf64>
    %s = noma.tensor.sum %sq : tensor<?xf64> -> f64
    %loss = noma.tensor.add %s, %quarter : (f64, f64) -> f64
    noma.train.minimize %loss : f64
    %it1 = noma.tensor.add %it, %one : (f64, f64) -> f64
    %c = noma.tensor.cmp "lt", %loss, %zero : (f64, f64) -> f64
    %stop = arith.cmpf une, %c, %zero : f64
    %g = noma.tensor.mul %two, %d : (f64, tensor<?xf64>) -> tensor<?xf64>
    noma.train.update %w, %g : !noma.mem.buffer<1>, tensor<?xf64>
    {grow}
    noma.train.yield %stop, %it1, %loss : f64, f64
  }}
  noma.io.print %res#0 : f64
  noma.io.print %res#1 : f64
"""
LOAD_W = "%wf = noma.mem.load %w : !noma.mem.buffer<1> -> tensor<?xf64>"


def adam_module(max_iter: float, grow: str = "", after: str = "", loops: int = 1) -> str:
    """Adam on sum((w - 0.3)^2) + 0.25 from w = [1, -2, 0.5], `loops` loops in a row
    (`after` runs between them and after the last)."""
    loop = ADAM_LOOP.format(hyper=HYPER, grow=grow)
    body = "\n".join(
        [
            hyper(2.0, 0.1, max_iter),
            consts(zero=0.0, one=1.0, two=2.0, three=3.0, four=4.0, target=0.3, quarter=0.25),
            tensor("init", [1.0, -2.0, 0.5]),
            PARAM_W,
            *(f"{loop.replace('%res', f'%res{i}')}\n{after}" for i in range(loops)),
            LOAD_W,
        ]
    )
    return main(body, "wf:tensor<?xf64>")


def test_adam_matches_reference_and_conformance() -> None:
    out, err, w = run(adam_module(5.0))
    # shared/conformance/adam_max_iterations.expected
    assert out.splitlines() == [
        "5",
        "3.970811124",
        "[0.5145516423, -1.502470111, 0.1829049777]",
    ]
    ref = adam_reference(np.array([1.0, -2.0, 0.5]), 5, 0.1, 0.3)
    np.testing.assert_allclose(w, ref, rtol=1e-13)
    assert "max_iterations (5)" in err


def test_adam_state_migrates_on_realloc() -> None:
    # after the 3rd update, grow w to 4 elements (new one = 0): its first step is
    # a fresh Adam step (t = 1: lr * sign(g)), the old elements keep their history
    grow = "\n".join(
        [
            '%at3 = noma.tensor.cmp "eq", %it1, %three : (f64, f64) -> f64',
            "%grow = arith.cmpf une, %at3, %zero : f64",
            "scf.if %grow {",
            '  noma.mem.realloc %w to [%four] init "zeros" () : !noma.mem.buffer<1>',
            "}",
        ]
    )
    _, _, w = run(adam_module(4.0, grow))
    ref3 = adam_reference(np.array([1.0, -2.0, 0.5]), 3, 0.1, 0.3)
    # continue the old elements with t = 4 from the state after 3 steps
    ref4 = adam_reference(np.array([1.0, -2.0, 0.5]), 4, 0.1, 0.3)
    assert w.shape == (4,)
    np.testing.assert_allclose(w[:3], ref4, rtol=1e-13)
    assert w[3] == pytest.approx(0.0 - 0.1 * np.sign(2 * (0.0 - 0.3)), rel=1e-6)
    assert not np.allclose(ref3, ref4)


def test_reset_state_and_state_buffers() -> None:
    after = "\n".join(
        [
            '%m = noma.train.state %w "m" : !noma.mem.buffer<1> -> !noma.mem.buffer<1>',
            '%m2 = noma.train.state %w "m" : !noma.mem.buffer<1> -> !noma.mem.buffer<1>',
            "noma.mem.store_element %one, %m[%zero] : f64, !noma.mem.buffer<1>",
            "%mv = noma.mem.load %m2 : !noma.mem.buffer<1> -> tensor<?xf64>",
            "noma.io.print %mv : tensor<?xf64>",
            "noma.train.reset_state (%w : !noma.mem.buffer<1>)",
            "%mr = noma.mem.load %m : !noma.mem.buffer<1> -> tensor<?xf64>",
            "noma.io.print %mr : tensor<?xf64>",
        ]
    )
    out = run(adam_module(2.0, after=after))[0].splitlines()
    assert out[-3:-1] == ["[1, 0, 0]", "[0, 0, 0]"]


def test_reset_state_restarts_adam() -> None:
    # two loops of one step each; with a reset in between, each step is a t = 1 step
    reset = "noma.train.reset_state (%w : !noma.mem.buffer<1>)"
    _, _, w_reset = run(adam_module(1.0, after=reset, loops=2))
    _, _, w_keep = run(adam_module(1.0, loops=2))
    start = np.array([1.0, -2.0, 0.5])
    p1 = adam_reference(start, 1, 0.1, 0.3)
    np.testing.assert_allclose(w_reset, adam_reference(p1, 1, 0.1, 0.3), rtol=1e-13)
    np.testing.assert_allclose(w_keep, adam_reference(start, 2, 0.1, 0.3), rtol=1e-13)


def test_nan_objective_is_an_error_naming_the_iteration() -> None:
    src = square_loop(1.0, 10.0, -1.0, lr=2.0).replace(
        "%loss = noma.tensor.mul %wv, %wv : (f64, f64) -> f64",
        "%q = noma.tensor.mul %wv, %wv : (f64, f64) -> f64\n"
        "%lq = noma.tensor.log %wv : f64 -> f64\n"
        "%loss = noma.tensor.add %q, %lq : (f64, f64) -> f64",
    )
    e = error_of(src)  # w: 1 -> -3 after the first step, log(-3) is NaN
    assert e.message == "objective is NaN at iteration 2 of the optimize loop"
    assert e.loc == SourceLoc("opt.noma", 4, 5)


def test_update_outside_a_loop_and_state_of_freed_param() -> None:
    free = "noma.mem.free %w : !noma.mem.buffer<1>"
    state = '%m = noma.train.state %w "m" : !noma.mem.buffer<1> -> !noma.mem.buffer<1>'
    e = error_of(adam_module(1.0, after=f'{free}\n{state} loc("s.noma":1:1)'))
    assert e.message == "use of freed variable 'w'" and e.loc == SourceLoc("s.noma", 1, 1)
    update = "noma.train.update %w, %init : !noma.mem.buffer<1>, tensor<3xf64>"
    e = error_of(adam_module(1.0, after=update))
    assert "outside an optimize loop" in e.message


def test_update_shape_mismatch() -> None:
    src = adam_module(2.0).replace(
        "noma.train.update %w, %g : !noma.mem.buffer<1>, tensor<?xf64>",
        "%gs = noma.tensor.slice %g[%zero : %two] : tensor<?xf64> -> tensor<?xf64>\n"
        "noma.train.update %w, %gs : !noma.mem.buffer<1>, tensor<?xf64>",
    )
    assert "does not match parameter 'w'" in error_of(src).message


# ---------------------------------------------------------------- printing and files


def test_print_formats_and_return_value_last() -> None:
    body = "\n".join(
        [
            consts(a=25.0, b=0.5, c=1 / 3, d=1e-8),
            *(f"noma.io.print %{n} : f64" for n in "abcd"),
            'noma.io.print_str "hello, world"',
            tensor("t", [[1, 2.5], [-3, 4]]),
        ]
    )
    out, _, _ = run(main(body, "t:tensor<2x2xf64>"))
    assert out.splitlines() == [
        "25", "0.5", "0.3333333333", "1e-08", "hello, world", "[[1, 2.5], [-3, 4]]",
    ]  # fmt: skip


def test_csv_and_safetensors_round_trip(tmp_path: Path) -> None:
    csv, st = tmp_path / "x.csv", tmp_path / "x.safetensors"
    body = "\n".join(
        [
            tensor("a", [[1, 2], [3, 0.1]]),
            consts(s=4.0),
            f'noma.io.save_csv %a, "{csv}" : tensor<2x2xf64>',
            f'%b = noma.io.load_csv "{csv}" : {DYN2}',
            f'noma.io.save_safetensors ["w", "b"] (%b, %s : {DYN2}, f64), "{st}"',
            f'%ar = noma.io.load_safetensors "{st}"',
            "%first = noma.io.get %ar : tensor<*xf64>",
            '%w = noma.io.get %ar key "w" : tensor<*xf64>',
            "noma.io.print %first : tensor<*xf64>",
            "noma.io.print %w : tensor<*xf64>",
        ]
    )
    out, _, _ = run(main(body))
    assert out.splitlines() == ["4", "[[1, 2], [3, 0.1]]"]
    missing = body.replace('key "w"', 'key "nope"').replace(
        "tensor<*xf64>\nnoma.io.print %first",
        'tensor<*xf64> loc("g.noma":2:2)\nnoma.io.print %first',
    )
    e = error_of(main(missing))
    assert "'nope'" in e.message and str(st) in e.message
    assert e.loc == SourceLoc("g.noma", 2, 2)


def test_missing_file_error_has_location(tmp_path: Path) -> None:
    path = tmp_path / "none.csv"
    e = error_of(main(f'%b = noma.io.load_csv "{path}" : {DYN2} loc("l.noma":3:1)'))
    assert str(path) in e.message and e.loc == SourceLoc("l.noma", 3, 1)
