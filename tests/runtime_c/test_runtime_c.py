"""The native runtime (noma/backend/runtime_c) against the reference semantics:
the pure-Python runtime (noma/backend/runtime) and numpy."""

from __future__ import annotations

import ctypes
import json
import math
import os
import struct
import subprocess
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from crt_binding import ENTRY, Failed, NomaTensor, Runtime, site
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from noma.backend import rtbuild
from noma.backend.interp_tensor import elementwise as py_elementwise
from noma.backend.interp_tensor import matmul as py_matmul
from noma.backend.interp_tensor import reduce_like as py_reduce_like
from noma.backend.interp_values import broadcast_shapes as py_broadcast_shapes
from noma.backend.runtime import (
    NomaRng,
    format_value,
    read_csv,
    read_safetensors,
    resize_array,
    write_csv,
    write_safetensors,
)
from noma.diagnostics import NomaRuntimeError

UNARY = [
    "neg", "not", "sigmoid", "relu", "tanh", "exp", "log", "sqrt", "sin", "cos", "tan", "abs",
    "floor", "ceil", "trunc",
]  # fmt: skip
BINARY = [
    "add",
    "sub",
    "mul",
    "div",
    "rem",
    "pow",
    "min",
    "max",
    "lt",
    "le",
    "gt",
    "ge",
    "eq",
    "ne",
]
ZEROS, NORMAL, UNIFORM = 0, 1, 2
POLICY = {ZEROS: "zeros", NORMAL: "normal", UNIFORM: "uniform"}

with np.errstate(all="ignore"):
    NP_UNARY = {
        "neg": np.negative,
        "not": lambda x: np.where(np.equal(x, 0.0), 1.0, 0.0),
        "sigmoid": lambda x: 1.0 / (1.0 + np.exp(np.negative(x))),
        "relu": lambda x: np.where(np.less_equal(x, 0.0), 0.0, x),
        "tanh": np.tanh, "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "sin": np.sin,
        "cos": np.cos, "tan": np.tan, "abs": np.abs, "floor": np.floor, "ceil": np.ceil,
        "trunc": np.trunc,
    }  # fmt: skip
    NP_BINARY = {
        "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
        "rem": np.fmod, "pow": np.power, "min": np.minimum, "max": np.maximum,
        "lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
        "eq": np.equal, "ne": np.not_equal,
    }  # fmt: skip
EXACT_UNARY = {"neg", "not", "relu", "abs", "floor", "ceil", "trunc", "sqrt"}
EXACT_BINARY = set(BINARY) - {"pow"}

SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, -2.5, 3.0, np.inf, -np.inf, np.nan, 1e-300, 7.25]


def _same(got: np.ndarray, want: np.ndarray, exact: bool = True) -> None:
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape
    if exact:
        np.testing.assert_array_equal(got, want)
        # signs of zeros too (they print differently)
        assert np.array_equal(np.signbit(got[got == 0]), np.signbit(want[want == 0]))
    else:
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=0, equal_nan=True)


def _values(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    x = rng.normal(0, 3, shape)
    flat = x.reshape(-1)
    picks = rng.integers(0, len(SPECIAL), flat.size)
    mask = rng.random(flat.size) < 0.3
    flat[mask] = np.array(SPECIAL)[picks[mask]]
    return x


# ----------------------------------------------------------------- printing


NUMBERS = [
    0.0, -0.0, 1.0, 25.0, 0.5, 1 / 3, -2 / 3, 1e-8, 1e-5, 1e-4, 123456.789, 1234567890.0,
    12345678901.0, 1e15, 1e16, 1e20, 1.5e-300, 5e-324, 1.7976931348623157e308, np.inf,
    -np.inf, np.nan, -np.nan, 0.1, 2.5e-7, 100.0, -1e100, 9999999999.5, 0.30000000000000004,
]  # fmt: skip


def test_print_scalars_match_fmt(rt: Runtime, capfd: pytest.CaptureFixture[str]) -> None:
    for x in NUMBERS:
        rt.print_scalar(x)
    rt.flush()
    want = "".join(format_value(float(x)) + "\n" for x in NUMBERS)
    assert capfd.readouterr().out == want


@pytest.mark.parametrize(
    "value",
    [
        np.array([1.0, 2.0, 3.5]),
        np.array([[1.0, 2.0], [3.0, -4.5]]),
        np.arange(24.0).reshape(2, 3, 4) / 7,
        np.arange(16.0).reshape(2, 2, 2, 2) - 8,
        np.array(-0.0),
        np.array(np.nan),
        np.zeros((0,)),
        np.zeros((2, 0)),
        np.array([np.inf, -np.inf, np.nan, -0.0, 1e-8]),
    ],
)
def test_print_tensors_match_fmt(
    rt: Runtime, capfd: pytest.CaptureFixture[str], value: np.ndarray
) -> None:
    rt.print_tensor(rt.tensor(value))
    rt.print_str("done é".encode())
    rt.flush()
    assert capfd.readouterr().out == format_value(value) + "\ndone é\n"


# ----------------------------------------------------------------- RNG


def _entry_with(rt: Runtime, fn: Any) -> Any:
    """A noma_rt_run entry calling `fn` (which must not fail)."""
    return ENTRY(fn)


@pytest.mark.parametrize("seed", [0, 42, -1, 2.7, -3.9, 2.0**64 + 4096, -(2.0**70), 1e30, 2.0**63])
def test_rng_sequences_match_python(rt: Runtime, seed: float) -> None:
    py = NomaRng(seed)
    rt.seed(float(seed), None)
    for _ in range(5):
        assert rt.random(0, 0.0, 1.0) == py.uniform()
    for _ in range(5):
        assert rt.random(0, -2.0, 3.5) == py.uniform_range(-2.0, 3.5)
    for _ in range(7):
        assert rt.random(1, 0.5, 2.0) == py.normal(0.5, 2.0)
    out = rt.slot()
    rt.random_tensor(ctypes.byref(out), 0, -1.0, 1.0, 2, rt.doubles([3, 4.9]), None)
    assert rt.array(out).tolist() == py.uniform_array((3, 4), -1.0, 1.0).tolist()
    rt.random_tensor(ctypes.byref(out), 1, 0.0, 0.3, 3, rt.doubles([2, 3, 5]), None)
    assert rt.array(out).tolist() == py.normal_array((2, 3, 5), 0.0, 0.3).tolist()
    assert rt.random(0, 0.0, 1.0) == py.uniform()


def test_run_seeds_and_reports(rt: Runtime, capfd: pytest.CaptureFixture[str]) -> None:
    drawn: list[float] = []
    entry = ENTRY(lambda: drawn.append(rt.random(0, 0.0, 1.0)))
    assert rt.run(entry, 7) == 0
    assert drawn == [NomaRng(7).uniform()]
    # a failing entry: test_call gives the same unwinding as noma_rt_run
    s = site(text="  let x = m[3];")
    with pytest.raises(Failed) as info:
        rt.attempt("index_scalar", rt.tensor([1.0, 2.0, 3.0]), 1, rt.doubles([3.0]), s,
                   returns_double=True)  # fmt: skip
    report = "error: index 3 out of range for dimension of size 3 at prog.noma:3:5\n"
    report += "    let x = m[3];\n      ^"
    assert info.value.message == report
    assert capfd.readouterr().err == report + "\n"


def test_seed_must_be_finite(rt: Runtime) -> None:
    for bad, text in [(math.nan, "nan"), (math.inf, "inf"), (-math.inf, "-inf")]:
        msg = rt.error_of("seed", bad)
        with pytest.raises(NomaRuntimeError) as info:
            NomaRng(bad)
        assert msg == f"error: {info.value.message}" and text in msg


# ----------------------------------------------------------------- resize


RESIZES = [
    ((5,), (8,)), ((5,), (3,)), ((2, 3), (4, 5)), ((4, 5), (2, 7)), ((3, 2), (3, 2)),
    ((2, 2, 2), (3, 1, 4)), ((1, 2, 3, 2), (2, 3, 2, 3)),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new"), RESIZES)
@pytest.mark.parametrize("policy", [ZEROS, NORMAL, UNIFORM])
def test_resize_matches_python(rt: Runtime, old: tuple, new: tuple, policy: int) -> None:
    src = np.arange(math.prod(old), dtype=np.float64).reshape(old) + 0.5
    args = () if policy == ZEROS else (0.25, 1.5)
    p0, p1 = args or (0.0, 0.0)
    py = NomaRng(11)
    want = resize_array(src, [float(d) for d in new], POLICY[policy], args, py)
    # the value kernel
    rt.seed(11.0, None)
    out = rt.slot()
    rt.resize(ctypes.byref(out), rt.tensor(src), len(new), rt.doubles(new), policy, p0, p1, None)
    assert rt.array(out).tolist() == want.tolist()
    assert rt.random(0, 0.0, 1.0) == py.uniform()  # the same number of draws
    # the buffer op, in place
    rt.seed(11.0, None)
    buf = rt.buf_new(rt.tensor(src))
    rt.buf_realloc(buf, len(new), rt.doubles(new), policy, p0, p1, None)
    assert rt.array(buf).tolist() == want.tolist()


def test_resize_errors(rt: Runtime) -> None:
    out = rt.slot()
    vec = rt.tensor([1.0, 2.0])
    checks = [
        ((rt.tensor(2.0), 1, rt.doubles([3]), ZEROS), "cannot realloc a scalar"),
        ((vec, 2, rt.doubles([3, 3]), ZEROS), "realloc cannot change the rank"),
        ((vec, 1, rt.doubles([0.5]), ZEROS), "dimension must be >= 1, got 0.5"),
        ((vec, 1, rt.doubles([math.nan]), ZEROS), "dimension must be >= 1, got nan"),
        ((vec, 1, rt.doubles([1e12]), ZEROS), "tensor too large: dimension 1e+12"),
        ((vec, 1, rt.doubles([math.inf]), ZEROS), "tensor too large: dimension inf"),
    ]
    for (a, rank, dims, policy), message in checks:
        assert message in rt.error_of("resize", out, a, rank, dims, policy, None)
    big = rt.doubles([65536.0, 65536.0, 3.0])
    msg = rt.error_of("zeros", out, 3, big, None)
    with pytest.raises(NomaRuntimeError) as info:
        resize_array(np.zeros((1, 1, 1)), [65536.0, 65536.0, 3.0])
    assert msg == "error: " + info.value.message
    scalar_buf = rt.buf_new_scalar(1.0)
    assert "cannot realloc a scalar" in rt.error_of(
        "buf_realloc", scalar_buf, 1, rt.doubles([2]), ZEROS, None
    )


# ----------------------------------------------------------------- element-wise


SHAPE_PAIRS = [
    ((3, 4), (3, 4)), ((3, 4), ()), ((), (3, 4)), ((), ()), ((3, 4), (4,)), ((4,), (3, 4)),
    ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)), ((2, 1, 3, 1), (4, 1, 5)), ((1,), (5,)),
    ((2, 2), (1, 1)), ((1, 1), (3,)), ((7,), (1, 7)), ((2, 0), (2, 1)), ((33,), (33,)),
]  # fmt: skip


@pytest.mark.parametrize(("sa", "sb"), SHAPE_PAIRS)
def test_binary_ops_match_numpy(rt: Runtime, sa: tuple, sb: tuple) -> None:
    rng = np.random.default_rng(len(sa) * 10 + len(sb))
    a, b = _values(rng, sa), _values(rng, sb)
    out = rt.slot()
    for op, name in enumerate(BINARY):
        rt.binary(op, ctypes.byref(out), rt.tensor(a), rt.tensor(b), None)
        with np.errstate(all="ignore"):
            want = NP_BINARY[name](a, b).astype(np.float64)
        _same(rt.array(out), want, exact=name in EXACT_BINARY)


def test_scalar_ops_match_numpy(rt: Runtime) -> None:
    for x in SPECIAL:
        for y in SPECIAL:
            for op, name in enumerate(BINARY):
                with np.errstate(all="ignore"):
                    want = float(NP_BINARY[name](np.float64(x), np.float64(y)))
                got = rt.scalar_binary(op, x, y)
                assert got == want or (math.isnan(got) and math.isnan(want)), (name, x, y)
                assert (
                    name not in EXACT_BINARY
                    or got != 0
                    or (math.copysign(1, got) == math.copysign(1, want))
                )
        for op, name in enumerate(UNARY):
            with np.errstate(all="ignore"):
                want = float(NP_UNARY[name](np.float64(x)))
            got = rt.scalar_unary(op, x)
            assert (
                got == want
                or (math.isnan(got) and math.isnan(want))
                or (abs(got - want) <= 1e-13 * abs(want))
            ), (name, x)


@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 3, 4), (2, 1, 3, 2)])
def test_unary_ops_match_numpy(rt: Runtime, shape: tuple) -> None:
    x = _values(np.random.default_rng(3), shape)
    out = rt.slot()
    for op, name in enumerate(UNARY):
        rt.unary(op, ctypes.byref(out), rt.tensor(x))
        with np.errstate(all="ignore"):
            want = NP_UNARY[name](x)
        _same(rt.array(out), want, exact=name in EXACT_UNARY)


ELEMENTARY = {"sigmoid": 2, "tanh": 4, "exp": 5}


def _ulps(got: np.ndarray, x: np.ndarray, name: str) -> np.ndarray:
    """|got - f(x)| in units in the last place of f(x), with f(x) from mpmath."""
    import mpmath

    f = {
        "tanh": mpmath.tanh,
        "exp": mpmath.exp,
        "sigmoid": lambda v: 1 / (1 + mpmath.exp(-v)),
    }[name]
    out = []
    with mpmath.workprec(120):
        for g, v in zip(got.tolist(), x.tolist(), strict=True):
            ref = f(mpmath.mpf(v))
            out.append(float(abs(mpmath.mpf(g) - ref)) / float(np.spacing(abs(float(ref)))))
    return np.array(out)


@pytest.mark.parametrize("name", sorted(ELEMENTARY))
def test_vectorised_elementary_functions_are_accurate(rt: Runtime, name: str) -> None:
    """The array versions of exp, tanh and sigmoid (four lanes at a time,
    polynomials) are within a few ulp of the exact value over their whole
    range, including both tanh branches (|x| < 0.625 and beyond), and odd
    lengths (the tail)."""
    rng = np.random.default_rng(7)
    if name == "exp":
        x = np.concatenate([rng.uniform(-708, 708, 3001), rng.uniform(-0.5, 0.5, 2001)])
    elif name == "tanh":
        x = np.concatenate([
            rng.uniform(-0.7, 0.7, 3001), rng.uniform(-4, 4, 2001), rng.uniform(0.6, 0.65, 501),
            rng.uniform(-25, 25, 501), 10.0 ** rng.uniform(-300, 0, 501),
        ])  # fmt: skip
    else:
        x = np.concatenate([rng.uniform(-700, 700, 2001), rng.uniform(-5, 5, 3001)])
    out = rt.slot()
    rt.unary(ELEMENTARY[name], ctypes.byref(out), rt.tensor(x))
    got = rt.array(out)
    assert _ulps(got, x, name).max() <= 3.0
    want = NP_UNARY[name](x)
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)


@pytest.mark.parametrize("name", sorted(ELEMENTARY))
def test_vectorised_elementary_special_values(rt: Runtime, name: str) -> None:
    """NaN, infinities, signed zeros, overflow and underflow as numpy, at every
    position of a vector (each special value amid ordinary ones)."""
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -1e-310, 709.7, -709.7, 710.0,
               -745.5, -760.0, 22.0, -22.0, 19.1, 1e300, -1e300, 0.625, -0.625, 1e-8]  # fmt: skip
    for pos in range(5):
        for v in special:
            x = np.full(5, 0.3)
            x[pos] = v
            out = rt.slot()
            rt.unary(ELEMENTARY[name], ctypes.byref(out), rt.tensor(x))
            got = rt.array(out)
            with np.errstate(all="ignore"):
                want = NP_UNARY[name](x)
            assert np.array_equal(np.isnan(got), np.isnan(want)), (name, v)
            ok = ~np.isnan(want)
            np.testing.assert_allclose(got[ok], want[ok], rtol=4e-16, atol=0)
            assert np.array_equal(np.signbit(got[ok]), np.signbit(want[ok])), (name, v)


def test_pow_memo_is_exact(rt: Runtime) -> None:
    """pow with a scalar base and a tensor of exponents that repeat (Adam's
    bias corrections) reuses results: the values are pow's, bit for bit."""
    t = np.array([[201.0, 201.0, 1.0, 1.0, 1.0], [201.0, 201.0, 1.0, 1.0, 2.0]])
    for base in (0.9, 0.999, -0.5, 0.0, -0.0, np.inf, np.nan):
        out = rt.slot()
        rt.binary(BINARY.index("pow"), ctypes.byref(out), rt.tensor(base), rt.tensor(t), None)
        want = np.array([[math.pow(base, e) if not (base == 0 and e < 0) else math.inf
                          for e in row] for row in t.tolist()])  # fmt: skip
        got = rt.array(out)
        assert np.array_equal(got, want, equal_nan=True)
        assert np.array_equal(np.signbit(got), np.signbit(want))
    # tensor bases and exponents: the memo keys on both (and on the sign of zero)
    x = np.array([0.0, -0.0, -0.0, 2.0, 2.0, 2.0, -3.0])
    y = np.array([-1.0, -1.0, -1.0, 3.0, 3.0, 0.5, 3.0])
    out = rt.slot()
    rt.binary(BINARY.index("pow"), ctypes.byref(out), rt.tensor(x), rt.tensor(y), None)
    with np.errstate(all="ignore"):
        want = np.power(x, y)
    assert np.array_equal(rt.array(out), want, equal_nan=True)
    assert np.array_equal(np.signbit(rt.array(out)), np.signbit(want))


def test_broadcast_errors_name_both_shapes(rt: Runtime) -> None:
    out = rt.slot()
    msg = rt.error_of("binary", 0, out, rt.tensor(np.zeros((2, 3))), rt.tensor(np.zeros(2)), None)
    assert msg == "error: shapes [2, 3] and [2] cannot be broadcast"
    msg = rt.error_of(
        "select",
        out,
        rt.tensor(np.zeros(3)),
        rt.tensor(np.zeros((2, 3))),
        rt.tensor(np.zeros(4)),
        None,
    )
    assert msg == "error: shapes [2, 3] and [4] cannot be broadcast"


@pytest.mark.parametrize(
    ("kernel", "shapes"),
    [
        ("binary", [(100_000, 1), (1, 100_000)]),
        ("binary", [(1000, 1, 1000, 1), (1, 1000, 1, 1000)]),  # over 2^64 in int64 maths: no
        ("select", [(100_000, 1), (1, 100_000), ()]),
        ("matmul", [(100_000, 1), (1, 100_000)]),
        ("matmul_t", [(1, 100_000), (1, 100_000)]),  # a^T @ b
    ],
)
def test_results_over_the_element_limit(rt: Runtime, kernel: str, shapes: list) -> None:
    """Broadcasting and matmul results are capped like alloc (2^31 elements),
    with the interpreter's message, before anything is allocated."""
    values = [np.zeros(s) for s in shapes]
    out = rt.slot()
    args = [rt.tensor(v) for v in values]
    if kernel == "binary":
        msg = rt.error_of("binary", 0, out, *args, None)
        want = _py_error(py_elementwise, np.add, *values)
    elif kernel == "select":
        msg = rt.error_of("select", out, *args, None)
        want = _py_error(py_broadcast_shapes, values)
    elif kernel == "matmul":
        msg = rt.error_of("matmul", out, *args, None)
        want = _py_error(py_matmul, *values)
    else:
        msg = rt.error_of("matmul_t", out, *args, 1, 0, None)
        want = _py_error(py_matmul, values[0].T, values[1])
    assert msg == want
    assert msg.startswith("error: tensor too large: shape [")
    assert out.cap == 0  # nothing allocated


def test_select(rt: Runtime) -> None:
    rng = np.random.default_rng(5)
    for sc, sa, sb in [((3, 4), (3, 4), (3, 4)), ((3, 1), (4,), ()), ((), (2, 3), (1, 3))]:
        c = np.where(rng.random(sc) < 0.5, 0.0, rng.normal(size=sc))
        if c.ndim:
            c.reshape(-1)[0] = np.nan  # NaN is true
        a, b = rng.normal(size=sa), rng.normal(size=sb)
        out = rt.slot()
        rt.select(ctypes.byref(out), rt.tensor(c), rt.tensor(a), rt.tensor(b), None)
        _same(rt.array(out), np.where(np.not_equal(c, 0.0), a, b))


def test_slots_keep_their_storage(rt: Runtime) -> None:
    out = rt.slot()
    a, b = rt.tensor(np.ones((10, 10))), rt.tensor(np.ones((10, 10)))
    rt.binary(0, ctypes.byref(out), a, b, None)
    where, cap = ctypes.addressof(out.data.contents), out.cap
    small = rt.tensor(np.ones(5))
    for _ in range(3):
        rt.binary(2, ctypes.byref(out), a, b, None)
        rt.binary(0, ctypes.byref(out), small, small, None)
    assert ctypes.addressof(out.data.contents) == where and out.cap == cap == 100
    assert rt.array(out).tolist() == [2.0] * 5
    rt.binary(0, ctypes.byref(out), rt.tensor(np.ones(300)), rt.tensor(1.0), None)
    assert out.cap == 300 and rt.array(out).tolist() == [2.0] * 300


# ----------------------------------------------------------------- reductions, linear algebra


@pytest.mark.parametrize(
    "shape", [(), (1,), (7,), (300,), (3, 4), (5, 200), (2, 3, 4), (2, 3, 2, 5)]
)
def test_reductions_match_numpy(rt: Runtime, shape: tuple) -> None:
    x = np.random.default_rng(1).normal(size=shape) * 100
    t = rt.tensor(x)
    assert rt.reduce_all(0, t) == pytest.approx(float(np.sum(x)), rel=1e-12, abs=1e-9)
    assert rt.reduce_all(1, t) == pytest.approx(float(np.mean(x)), rel=1e-12, abs=1e-9)
    out = rt.slot()
    for axis in range(len(shape)):
        for keep in (0, 1):
            for op, fn in ((0, np.sum), (1, np.mean)):
                rt.reduce_axis(op, ctypes.byref(out), t, axis, keep, None)
                want = fn(x, axis=axis, keepdims=bool(keep))
                np.testing.assert_allclose(rt.array(out), want, rtol=1e-12, atol=1e-9)
    msg = rt.error_of("reduce_axis", 0, out, rt.tensor(np.zeros((2, 2))), 2, 0, None)
    assert msg == "error: axis 2 out of range for a tensor of rank 2"


def test_pairwise_sum_is_accurate(rt: Runtime) -> None:
    x = np.full(1_000_001, 0.1)
    assert rt.reduce_all(0, rt.tensor(x)) == pytest.approx(float(np.sum(x)), rel=1e-15)


@pytest.mark.parametrize(("m", "k", "n"), [(1, 1, 1), (2, 3, 4), (17, 9, 33), (64, 130, 700)])
def test_matmul_dot_transpose(rt: Runtime, m: int, k: int, n: int) -> None:
    rng = np.random.default_rng(m)
    a, b = rng.normal(size=(m, k)), rng.normal(size=(k, n))
    out = rt.slot()
    rt.matmul(ctypes.byref(out), rt.tensor(a), rt.tensor(b), None)
    np.testing.assert_allclose(rt.array(out), a @ b, rtol=1e-12, atol=1e-12)
    rt.transpose(ctypes.byref(out), rt.tensor(a), None)
    assert rt.array(out).tolist() == a.T.tolist()
    v, w = a.reshape(-1), rng.normal(size=m * k)
    assert rt.dot(rt.tensor(v), rt.tensor(w), None) == pytest.approx(float(v @ w), rel=1e-12)


def _fma(a: float, b: float, c: float) -> float:
    """a * b + c rounded once (float(Fraction) rounds correctly)."""
    return float(Fraction(a) * Fraction(b) + Fraction(c))


@pytest.mark.parametrize(
    ("m", "k", "n"), [(5, 7, 9), (6, 2, 13), (3, 600, 3), (7, 300, 10), (13, 40, 21), (2, 9, 1)]
)
def test_matmul_sums_in_k_order(rt: Runtime, m: int, k: int, n: int) -> None:
    """Each element is 0 + a[i,0]*b[0,j] + a[i,1]*b[1,j] + ..., in this order,
    every step a fused multiply-add where the build has FMA, else a product
    and a sum (deterministic, and independent of the blocking: the shapes
    cover the small path, several k-blocks and partial panels)."""
    rng = np.random.default_rng(k)
    a, b = rng.normal(size=(m, k)), rng.normal(size=(k, n))
    unfused = np.zeros((m, n))
    for kk in range(k):
        unfused = unfused + np.outer(a[:, kk], b[kk, :])
    fused = np.zeros((m, n))
    for i in range(m):
        for j in range(n):
            c = 0.0
            for kk in range(k):
                c = _fma(float(a[i, kk]), float(b[kk, j]), c)
            fused[i, j] = c
    out = rt.slot()
    rt.matmul(ctypes.byref(out), rt.tensor(a), rt.tensor(b), None)
    got = rt.array(out)
    assert np.array_equal(got, fused) or np.array_equal(got, unfused)


@pytest.mark.parametrize(
    ("m", "k", "n"),
    [(1797, 64, 128), (1797, 128, 10), (1797, 10, 128), (128, 1797, 10), (64, 1797, 128),
     (67, 1001, 45), (300, 5, 301), (7, 2000, 130), (601, 257, 1), (1, 3000, 700)],
)  # fmt: skip
def test_matmul_threads(rt: Runtime, m: int, k: int, n: int) -> None:
    """Large products run on several threads; the result does not depend on
    how many, and matches numpy to rounding."""
    rng = np.random.default_rng(m + k + n)
    a, b = rng.normal(size=(m, k)), rng.normal(size=(k, n))
    ta, tb = rt.tensor(a), rt.tensor(b)
    want = a @ b
    scale = np.sqrt(k)  # size of the elements
    results = []
    old = rt.set_num_threads(1)
    try:
        for threads in (1, 2, 3, 4):
            rt.set_num_threads(threads)
            out = rt.slot()
            for _ in range(2):  # the second call reuses the slot and the pool
                rt.matmul(ctypes.byref(out), ta, tb, None)
            results.append(rt.array(out))
    finally:
        rt.set_num_threads(old)
    np.testing.assert_allclose(results[0], want, rtol=1e-12, atol=1e-13 * scale)
    for r in results[1:]:
        assert np.array_equal(r, results[0])


def test_matmul_after_fork(rt: Runtime) -> None:
    """A child process forked after the pool started runs parallel products
    (its workers are started afresh)."""
    a = np.random.default_rng(0).normal(size=(400, 300))
    out = rt.slot()
    old = rt.set_num_threads(2)
    try:
        rt.matmul(ctypes.byref(out), rt.tensor(a), rt.tensor(a.T), None)
        first = rt.array(out)
        pid = os.fork()
        if pid == 0:  # child: exit status 0 only if the product is right
            code = 1
            try:
                rt.matmul(ctypes.byref(out), rt.tensor(a), rt.tensor(a.T), None)
                code = 0 if np.array_equal(rt.array(out), first) else 1
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    finally:
        rt.set_num_threads(old)


def test_large_element_wise_and_transpose_threads(rt: Runtime) -> None:
    """exp, tanh, sigmoid, binary operations and transpose of large tensors
    are split between threads; the results are those of one thread (and of
    numpy)."""
    rng = np.random.default_rng(9)
    x = rng.normal(0, 3, (1797, 129))
    x.reshape(-1)[rng.integers(0, x.size, 50)] = np.nan  # libm lanes amid vector lanes
    x.reshape(-1)[rng.integers(0, x.size, 50)] = 800.0
    tx = rt.tensor(x)
    old = rt.set_num_threads(1)
    try:
        for name in ("exp", "tanh", "sigmoid"):
            got = []
            for threads in (1, 2, 3):
                rt.set_num_threads(threads)
                out = rt.slot()
                rt.unary(ELEMENTARY[name], ctypes.byref(out), tx)
                got.append(rt.array(out))
            with np.errstate(all="ignore"):
                np.testing.assert_allclose(got[0], NP_UNARY[name](x), rtol=1e-14, equal_nan=True)
            for g in got[1:]:
                assert np.array_equal(g, got[0], equal_nan=True), name
        big, row = rng.normal(size=(1797, 129)), rng.normal(size=129)
        steps = np.where(rng.random((1797, 129)) < 0.1, 1.0, 201.0)
        cases = [(0, big, x), (3, big, 2.5), (5, 0.999, steps), (2, big, row), (5, big, 2.0),
                 (7, x, big)]  # fmt: skip
        for op, a, b in cases:
            got = []
            for threads in (1, 2, 3):
                rt.set_num_threads(threads)
                out = rt.slot()
                rt.binary(op, ctypes.byref(out), rt.tensor(a), rt.tensor(b), None)
                got.append(rt.array(out))
            with np.errstate(all="ignore"):
                want = NP_BINARY[BINARY[op]](a, b)
            np.testing.assert_allclose(got[0], want, rtol=1e-15, equal_nan=True)
            for g in got[1:]:
                assert np.array_equal(g, got[0], equal_nan=True), BINARY[op]
        for shape in ((1797, 128), (64, 1797), (1001, 67)):
            a = rng.normal(size=shape)
            for threads in (1, 2):
                rt.set_num_threads(threads)
                out = rt.slot()
                rt.transpose(ctypes.byref(out), rt.tensor(a), None)
                assert np.array_equal(rt.array(out), a.T)
    finally:
        rt.set_num_threads(old)


def test_linear_algebra_errors(rt: Runtime) -> None:
    out = rt.slot()
    a, b = rt.tensor(np.zeros((2, 3))), rt.tensor(np.zeros((2, 2)))
    msg = rt.error_of("matmul", out, a, b, None)
    assert "matmul" in msg and "[2, 3]" in msg and "[2, 2]" in msg
    assert "dot" in rt.error_of(
        "dot", rt.tensor(np.zeros(2)), rt.tensor(np.zeros(3)), None, returns_double=True
    )
    assert "transpose needs a 2-D tensor, got shape [3]" in rt.error_of(
        "transpose", out, rt.tensor(np.zeros(3)), None
    )


@pytest.mark.parametrize("shape", [(), (1,), (5,), (3, 4), (2, 3, 4)])
def test_softmax_matches_numpy(rt: Runtime, shape: tuple) -> None:
    x = np.random.default_rng(2).normal(size=shape) * 30 + 500
    out = rt.slot()
    b = x.reshape(1) if x.ndim == 0 else x
    s = b - b.max(axis=-1, keepdims=True)
    soft = (np.exp(s) / np.exp(s).sum(axis=-1, keepdims=True)).reshape(x.shape)
    logsoft = (s - np.log(np.exp(s).sum(axis=-1, keepdims=True))).reshape(x.shape)
    rt.softmax(ctypes.byref(out), rt.tensor(x), 0)
    np.testing.assert_allclose(rt.array(out), soft, rtol=1e-12, atol=1e-300)
    rt.softmax(ctypes.byref(out), rt.tensor(x), 1)
    np.testing.assert_allclose(rt.array(out), logsoft, rtol=1e-12, atol=1e-12)
    rt.softmax(ctypes.byref(out), rt.tensor([1.0, np.nan, 2.0]), 0)
    assert np.isnan(rt.array(out)).all()


@pytest.mark.parametrize(
    ("shape", "like"),
    [((3,), (2, 3)), ((2, 1), (2, 4)), ((), (3, 2)), ((1, 3), (2, 2, 3)), ((2, 3), (2, 3))],
)
def test_broadcast_like_and_reduce_like(rt: Runtime, shape: tuple, like: tuple) -> None:
    rng = np.random.default_rng(4)
    x, big = rng.normal(size=shape), rng.normal(size=like)
    out = rt.slot()
    rt.broadcast_like(ctypes.byref(out), rt.tensor(x), rt.tensor(np.zeros(like)), None)
    assert rt.array(out).tolist() == np.broadcast_to(x, like).tolist()
    rt.reduce_like(ctypes.byref(out), rt.tensor(big), rt.tensor(np.zeros(shape)), None)
    np.testing.assert_allclose(rt.array(out), py_reduce_like(big, np.zeros(shape)), rtol=1e-12)


def test_broadcast_like_and_reduce_like_errors(rt: Runtime) -> None:
    out = rt.slot()
    z = rt.tensor
    assert rt.error_of("broadcast_like", out, z(np.zeros(3)), z(np.zeros((2, 2))), None) == (
        "error: shapes [3] and [2, 2] cannot be broadcast"
    )
    assert rt.error_of("reduce_like", out, z(np.zeros(3)), z(np.zeros((2, 3))), None) == (
        "error: cannot reduce shape [3] to [2, 3]"
    )
    assert rt.error_of("reduce_like", out, z(np.zeros((2, 3))), z(np.zeros(2)), None) == (
        "error: cannot reduce shape [2, 3] to [2]"
    )


# ----------------------------------------------------------------- shapes and indexing


def test_index_insert_slice_dim(rt: Runtime) -> None:
    m = np.arange(12.0).reshape(3, 4)
    t, out = rt.tensor(m), rt.slot()
    rt.index(ctypes.byref(out), t, 1, rt.doubles([2.9]), None)
    assert rt.array(out).tolist() == m[2].tolist()
    assert rt.index_scalar(t, 2, rt.doubles([1.5, -0.5]), None) == m[1, 0]
    assert rt.dim(t, 1, None) == 4 and rt.numel(t) == 12 and rt.numel(rt.tensor(3.0)) == 1
    rt.insert(ctypes.byref(out), rt.tensor(-1.0), t, 1, rt.doubles([1]), None)
    want = m.copy()
    want[1] = -1
    assert rt.array(out).tolist() == want.tolist()
    rt.insert(ctypes.byref(out), rt.tensor([9.0, 8, 7, 6]), t, 1, rt.doubles([0]), None)
    want = m.copy()
    want[0] = [9, 8, 7, 6]
    assert rt.array(out).tolist() == want.tolist()
    rt.insert(ctypes.byref(out), rt.tensor(5.0), t, 2, rt.doubles([2, 3]), None)
    assert rt.array(out)[2, 3] == 5 and rt.array(out).sum() == m.sum() - 11 + 5
    assert rt.array(t).tolist() == m.tolist()  # inputs are never written
    for start, stop, want_rows in [
        (1, 3, m[1:3]),
        (-5, 2.7, m[0:2]),
        (2, 99, m[2:]),
    ]:  # an empty block inside the tensor is an error, as in the interpreter (batch size < 1)
        rt.slice(ctypes.byref(out), t, float(start), float(stop), None)
        assert rt.array(out).shape == want_rows.shape
        assert rt.array(out).tolist() == want_rows.tolist()


def test_index_errors(rt: Runtime) -> None:
    t, out, v = rt.tensor(np.zeros((3, 2))), rt.slot(), rt.tensor([1.0, 2.0, 3.0])
    d = rt.doubles
    checks = [
        (("index_scalar", v, 1, d([3]), None), "index 3 out of range for dimension of size 3"),
        (("index_scalar", v, 1, d([-1]), None), "index -1 out of range for dimension of size 3"),
        (("index_scalar", v, 1, d([math.nan]), None), "index nan out of range for dimension"),
        (("index_scalar", v, 1, d([1e300]), None), "index 1e+300 out of range"),
        (("index_scalar", t, 1, d([0]), None), "expected a scalar, got a tensor of shape [2]"),
        (("index_scalar", v, 2, d([0, 0]), None), "2 indices for a tensor of rank 1 (shape [3])"),
        (("index", out, t, 1, d([5]), None), "index 5 out of range for dimension of size 3"),
        (("dim", t, 2, None), "axis 2 out of range for a tensor of rank 2"),
        (("slice", out, rt.tensor(1.0), 0.0, 1.0, None), "cannot slice a scalar"),
        (("slice", out, v, math.nan, 1.0, None), "batch size must be >= 1, got nan"),
        (("insert", out, v, t, 1, d([0]), None), "cannot store a value of shape [3] into a row of shape [2]"),
        (("insert", out, v, t, 2, d([0, 0]), None), "cannot store a value of shape [3] into an element"),
        (("cast", v, 2, None), "expected a tensor of shape [?, ?], got shape [3]"),
        (("cast", v, 0, None), "expected a scalar, got a tensor of shape [3]"),
        (("to_scalar", v, None), "expected a single value, got a tensor of shape [3]"),
    ]  # fmt: skip
    for (name, *args), message in checks:
        dbl = name in ("index_scalar", "dim", "to_scalar")
        assert message in rt.error_of(name, *args, returns_double=dbl), name


def test_values(rt: Runtime) -> None:
    out = rt.slot()
    dims = (ctypes.c_int64 * 2)(2, 3)
    rt.from_elements(ctypes.byref(out), 2, dims, rt.doubles([1, 2, 3, 4, 5, 6]))
    assert rt.array(out).tolist() == [[1, 2, 3], [4, 5, 6]]
    rt.zeros_like(ctypes.byref(out), rt.tensor(np.ones((4, 1))))
    assert rt.array(out).tolist() == [[0]] * 4
    rt.zeros(ctypes.byref(out), 2, rt.doubles([2.9, 1]), None)
    assert rt.array(out).tolist() == [[0], [0]]
    v = rt.tensor([1.0])
    assert ctypes.addressof(rt.cast(v, 1, None).contents) == ctypes.addressof(v)
    assert rt.cast(v, -1, None) and rt.to_scalar(v, None) == 1.0
    # reducing a 1-D tensor along its axis gives a 0-d value, usable anywhere
    rt.reduce_axis(0, ctypes.byref(out), rt.tensor([1.0, 2.0]), 0, 0, None)
    assert out.rank == 0 and rt.to_scalar(out, None) == 3.0
    other = rt.slot()
    rt.binary(2, ctypes.byref(other), rt.tensor([1.0, 2.0]), out, None)
    assert rt.array(other).tolist() == [3.0, 6.0]


# ----------------------------------------------------------------- buffers


def test_buffers(rt: Runtime) -> None:
    buf = rt.buf_alloc(2, rt.doubles([2, 3]), None)
    assert rt.array(buf).tolist() == [[0.0] * 3] * 2
    rt.buf_store_element(buf, rt.tensor(7.0), 2, rt.doubles([1, 2]), None)
    rt.buf_store_element(buf, rt.tensor([1.0, 2, 3]), 1, rt.doubles([0]), None)
    out = rt.slot()
    rt.buf_load(ctypes.byref(out), buf, None)
    assert rt.array(out).tolist() == [[1, 2, 3], [0, 0, 7]]
    rt.buf_store(buf, rt.tensor(np.ones((4, 5))), None)
    assert rt.buf_dim(buf, 0, None) == 4 and rt.buf_dim(buf, 1, None) == 5
    assert "cannot store a value of shape [3] into a variable of rank 2" in rt.error_of(
        "buf_store", buf, rt.tensor([1.0, 2, 3]), None
    )
    s = rt.buf_new_scalar(2.5)
    rt.buf_store_scalar(s, 4.0, None)
    assert rt.buf_load_scalar(s, None) == 4.0
    assert rt.buf_load_scalar(rt.buf_alloc(0, None, None), None) == 0.0
    copy = rt.buf_new(rt.tensor([1.0, 2.0]))
    assert rt.array(copy).tolist() == [1.0, 2.0]
    rt.buf_free(buf, None)
    assert buf.contents.rank == -1
    for name, args in [
        ("buf_load", (out, buf, None)),
        ("buf_load_scalar", (buf, None)),
        ("buf_store", (buf, rt.tensor(1.0), None)),
        ("buf_dim", (buf, 0, None)),
        ("buf_free", (buf, None)),
        ("buf_realloc", (buf, 1, rt.doubles([2]), 0, None)),
    ]:
        ptr_args = [a.contents if isinstance(a, ctypes._Pointer) else a for a in args]
        dbl = name in ("buf_load_scalar", "buf_dim")
        assert rt.error_of(name, *ptr_args, returns_double=dbl) == "error: use of freed variable"


def test_buffer_names(rt: Runtime) -> None:
    """Named buffers (parameters, their optimizer state) are named in messages
    as the interpreter names them."""
    w = rt.buf_name(rt.buf_new(rt.tensor([1.0, 2.0])), b"w", None)
    m = rt.buf_name(rt.buf_new(rt.tensor([0.0, 0.0])), b"m", w)
    t = rt.buf_name(rt.buf_new_scalar(0.0), b"t", w)
    anonymous = rt.buf_alloc(1, rt.doubles([2]), None)
    unnamed_state = rt.buf_name(rt.buf_new_scalar(0.0), b"t", anonymous)
    assert "into variable 'w' of rank 1" in rt.error_of(
        "buf_store", w.contents, rt.tensor(np.zeros((2, 2))), None
    )
    assert "into variable 'w.t' of rank 0" in rt.error_of(
        "buf_store", t.contents, rt.tensor([1.0]), None
    )
    for buf, want in [(w, "'w'"), (m, "'w.m'"), (t, "'w.t'")]:
        rt.buf_free(buf, None)
        assert rt.error_of("buf_free", buf.contents, None) == f"error: use of freed variable {want}"
    for buf in (anonymous, unnamed_state):
        rt.buf_free(buf, None)
        assert rt.error_of("buf_free", buf.contents, None) == "error: use of freed variable"
    renamed = rt.buf_name(rt.buf_name(rt.buf_new_scalar(1.0), b"a", None), b"b", None)
    rt.buf_free(renamed, None)
    assert rt.error_of("buf_load_scalar", renamed.contents, None, returns_double=True) == (
        "error: use of freed variable 'b'"
    )


# ----------------------------------------------------------------- errors and training


def test_error_report_format(
    rt: Runtime, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "p.noma"
    src.write_text("fn main() {\n\tlet m = tensor [1, 2];\n  print(m[5]);\n}\n")
    s = site(str(src), 3, 11, None)  # the line is read from the file
    msg = rt.error_of("index_scalar", rt.tensor([1.0, 2.0]), 1, rt.doubles([5]), s,
                      returns_double=True)  # fmt: skip
    assert msg == (
        f"error: index 5 out of range for dimension of size 2 at {src}:3:11\n"
        "    print(m[5]);\n" + " " * 12 + "^"
    )
    tab = site("x.noma", 2, 2, "\tlet m = 1;")
    msg = rt.error_of("check_objective", math.nan, 12.0, tab)
    assert msg == (
        "error: objective is NaN at iteration 12 of the optimize loop at x.noma:2:2\n"
        "   let m = 1;\n   ^"
    )
    assert "objective is infinite at iteration 3 of" in rt.error_of(
        "check_objective", -math.inf, 3.0, None
    )
    rt.check_objective(1.5, 1.0, None)  # finite: nothing happens
    capfd.readouterr()
    rt.print_scalar(1.0)  # stdout is flushed before stderr is written
    rt.warn_max_iterations(50.0, site("x.noma", 4, 3))
    cap = capfd.readouterr()
    assert cap.out == "1\n"
    assert cap.err == "warning: optimize loop at x.noma:4:3 reached max_iterations (50)\n"


def test_loss_log(rt: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "loss.csv"
    monkeypatch.setenv("NOMA_LOSS_LOG", str(log))
    entry = ENTRY(lambda: [rt.loss_log(1.0, float(i), 0.5 / (i + 1), None) for i in range(3)])
    assert rt.run(entry, 0) == 0
    assert rt.run(entry, 0) == 0
    lines = log.read_text().splitlines()
    assert lines[0] == "loop,iteration,loss" and len(lines) == 7
    assert lines[1:4] == [f"1,{i},{0.5 / (i + 1)!r}" for i in range(3)]
    # the file is closed at the end of a run: a new file under the same name
    # gets the next run's rows (the driver renames FILE.tmp after each run)
    log.rename(tmp_path / "first.csv")
    assert rt.run(entry, 0) == 0
    assert len(log.read_text().splitlines()) == 4
    assert len((tmp_path / "first.csv").read_text().splitlines()) == 7
    monkeypatch.delenv("NOMA_LOSS_LOG")


def test_progress_line(
    rt: Runtime, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """NOMA_PROGRESS: a loop that runs over 0.1 s gets a line, rewritten with
    \\r, written a last time and ended by noma_rt_end_loop; a short loop none."""
    where = site("x.noma", 4, 3)

    def loops() -> None:
        rt.loss_log(0.0, 0.0, 2.0, where)
        time.sleep(0.15)
        rt.loss_log(0.0, 1.0, 0.123456789, where)  # shown: over 0.1 s since the start
        rt.loss_log(0.0, 2.0, 0.5, where)  # not shown: under 0.1 s since
        rt.end_loop()  # shown with the last iteration, then the newline
        rt.loss_log(1.0, 0.0, 3.0, where)  # a short loop: nothing
        rt.end_loop()

    entry = ENTRY(loops)
    monkeypatch.delenv("NOMA_LOSS_LOG", raising=False)
    capfd.readouterr()
    assert rt.run(entry, 0) == 0
    assert capfd.readouterr().err == ""  # off by default
    monkeypatch.setenv("NOMA_PROGRESS", "1")
    assert rt.run(entry, 0) == 0
    line = "\roptimize loop 0 at x.noma:4:3: iteration "
    assert capfd.readouterr().err == f"{line}1, loss 0.12345679{line}2, loss 0.5{' ' * 7}\n"

    # an error ends the line before its report (outside noma_rt_run: an error
    # must not unwind through Python frames)
    rt.loss_log(0.0, 0.0, 2.0, where)
    time.sleep(0.15)
    rt.loss_log(0.0, 1.0, -math.nan, where)
    assert "objective is NaN" in rt.error_of("check_objective", math.nan, 2.0, where)
    err = capfd.readouterr().err
    assert err.startswith(f"{line}1, loss nan{line}1, loss nan\nerror: objective is NaN")

    def capped() -> None:
        rt.loss_log(0.0, 0.0, 2.0, where)
        time.sleep(0.15)
        rt.loss_log(0.0, 1.0, 1.0, where)
        rt.warn_max_iterations(2.0, where)
        rt.end_loop()

    entry = ENTRY(capped)
    assert rt.run(entry, 0) == 0
    assert capfd.readouterr().err == (
        f"{line}1, loss 1{line}1, loss 1\n"
        "warning: optimize loop at x.noma:4:3 reached max_iterations (2)\n"
    )
    monkeypatch.setenv("NOMA_PROGRESS", "0")
    entry = ENTRY(loops)
    assert rt.run(entry, 0) == 0
    assert capfd.readouterr().err == ""
    monkeypatch.delenv("NOMA_PROGRESS")


# ----------------------------------------------------------------- CSV


def _c_load_csv(rt: Runtime, path: Any) -> np.ndarray:
    out = rt.slot()
    rt.attempt("load_csv", out, os.fspath(path).encode(), None)
    return rt.array(out)


def _py_error(fn: Any, *args: Any) -> str:
    with pytest.raises(NomaRuntimeError) as info:
        fn(*args)
    return "error: " + info.value.message


CSV_TEXTS = [
    "1,2,3\n4,5,6\n",
    "\ufeff# head\r\n \t \r\n1,\t2,3 # c\r\n+.5 , 5. ,-1e+2\n#\n",
    "1\n2\n3",
    "inf,-Infinity,NaN,1e999,-0,1e-400\n",
    "  7.25  \n",
    "1,2,3\n4,x1,6\n",
    "1,2\n\n 3 ,  4\n9 ,x1\n",
    "1,2\n1,2\n3\n",
    "1,,2\n",
    "1,2,\n",
    "1_000\n",
    "0x10\n",
    "1 2\n",
    "e5\n",
    "1e\n",
    "# only comments\n\n   \n",
    "",
    "é,1\n2,ü3\n",
    "a" * 60 + "\n",
    "1,2\n3,\u00e9\u00e9\u00e9,4\n",
]


@pytest.mark.parametrize("text", CSV_TEXTS)
def test_csv_reading_matches_python(rt: Runtime, tmp_path: Path, text: str) -> None:
    path = tmp_path / "data.csv"
    path.write_text(text, encoding="utf-8")
    try:
        want = read_csv(path)
    except NomaRuntimeError as e:
        with pytest.raises(Failed) as info:
            _c_load_csv(rt, path)
        assert info.value.message == "error: " + e.message
    else:
        got = _c_load_csv(rt, path)
        assert got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def test_csv_invalid_utf8_columns(rt: Runtime, tmp_path: Path) -> None:
    path = tmp_path / "bin.csv"
    for raw in [b"1,\xff\xfe,2\n", b"\xe2\x82,1,z\n", b"1,\xe0\x80x, 3\n", b"\xf0\x9f\x98\x80,q\n"]:
        path.write_bytes(raw)
        with pytest.raises(Failed) as info:
            _c_load_csv(rt, path)
        assert info.value.message == _py_error(read_csv, path)


#: Characters a bad CSV field may hold: Python's csvio._shorten escapes
#: those str.isprintable() rejects as ascii() writes them (the C runtime
#: must show the same text, not stop at a NUL).
ODD_CHARACTERS = [
    "\x00", "\x01", "\t", "\x1b", "\x7f", "\x80", "\x9f", "\xa0", "\xad", "\xe9", "\u0600",
    "\u061c", "\u1680", "\u200b", "\u200f", "\u2028", "\u2029", "\u202f", "\u2060", "\u3000",
    "\ue000", "\uf8ff", "\ufdd0", "\ufeff", "\ufff9", "\ufffd", "\uffff", "\U0001f600",
    "\U000110bd", "\U0001d173", "\U0001fffe", "\U000e0001", "\U000e0100", "\U000f0000",
    "\U0010fffd", "\U0010ffff", "\u4e2d", "\u00e9\u0301",
]  # fmt: skip


@pytest.mark.parametrize("char", ODD_CHARACTERS, ids=[ascii(c) for c in ODD_CHARACTERS])
def test_csv_bad_fields_are_shown_as_python_shows_them(
    rt: Runtime, tmp_path: Path, char: str
) -> None:
    path = tmp_path / "odd.csv"
    path.write_bytes(f"1,2\n3,4{char}x{char}\n".encode("utf-8", "surrogatepass"))
    with pytest.raises(Failed) as info:
        _c_load_csv(rt, path)
    assert info.value.message == _py_error(read_csv, path)


def test_csv_bad_field_shortened_after_escaping(rt: Runtime, tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_bytes(b"\x00" * 50 + b"\n")
    with pytest.raises(Failed) as info:
        _c_load_csv(rt, path)
    assert info.value.message == _py_error(read_csv, path)
    assert "'" + "\\x00" * 40 + "...'" in info.value.message


def test_csv_missing_files(rt: Runtime, tmp_path: Path) -> None:
    paths = [tmp_path / "nope.csv", tmp_path, Path("/dev/zero")]
    if hasattr(os, "mkfifo"):  # a FIFO without a writer: an error, not a wait
        os.mkfifo(tmp_path / "fifo.csv")
        paths.append(tmp_path / "fifo.csv")
    for path in paths:
        with pytest.raises(Failed) as info:
            _c_load_csv(rt, path)
        assert info.value.message == _py_error(read_csv, path)


@pytest.mark.parametrize(
    "value",
    [np.array(2.5), np.array([1 / 3, -0.0, 1e300]), np.array([[0.1, np.inf], [np.nan, -2]])],
)
def test_csv_writing_matches_python(rt: Runtime, tmp_path: Path, value: np.ndarray) -> None:
    c_path, py_path = tmp_path / "c.csv", tmp_path / "py.csv"
    rt.attempt("save_csv", rt.tensor(value), str(c_path).encode(), None)
    write_csv(py_path, value)
    assert c_path.read_bytes() == py_path.read_bytes()
    np.testing.assert_array_equal(
        read_csv(c_path),
        np.atleast_2d(value).reshape(-1, value.size if value.ndim < 2 else value.shape[1]),
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.csv", "py.csv"]  # no temp files


def test_csv_write_errors(rt: Runtime, tmp_path: Path) -> None:
    value = rt.tensor([1.0])
    target = tmp_path / "no_dir" / "x.csv"
    assert rt.error_of("save_csv", value, str(target).encode(), None) == _py_error(
        write_csv, target, np.array([1.0])
    )
    (tmp_path / "adir").mkdir()
    msg = rt.error_of("save_csv", value, str(tmp_path / "adir").encode(), None)
    assert msg.startswith(f"error: cannot write '{tmp_path / 'adir'}':")
    assert (
        rt.error_of("save_csv", value, b"", None) == "error: cannot write file: the path is empty"
    )
    assert "got rank 3" in rt.error_of("save_csv", rt.tensor(np.zeros((1, 1, 1))), b"x.csv", None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir"]
    # the mode of a replaced file is kept
    keep = tmp_path / "keep.csv"
    keep.write_text("1\n")
    os.chmod(keep, 0o640)
    rt.attempt("save_csv", value, str(keep).encode(), None)
    assert keep.read_text() == "1\n" and (keep.stat().st_mode & 0o777) == 0o640


# ----------------------------------------------------------------- safetensors


def _save_c(rt: Runtime, path: Path, entries: dict[str, Any]) -> None:
    keys = [k.encode() for k in entries]
    key_arr = (ctypes.c_char_p * len(keys))(*keys)
    tensors = [rt.tensor(v) for v in entries.values()]
    val_arr = (ctypes.POINTER(NomaTensor) * len(tensors))(*[ctypes.pointer(t) for t in tensors])
    rt.attempt("save_safetensors", len(keys), key_arr, val_arr, str(path).encode(), None)


def _load_c(rt: Runtime, path: Path) -> ctypes.c_void_p:
    return ctypes.c_void_p(rt.attempt("load_safetensors", str(path).encode(), None))


def _get_c(rt: Runtime, archive: ctypes.c_void_p, key: str | None) -> np.ndarray:
    out = rt.slot()
    rt.attempt("archive_get", out, archive, None if key is None else key.encode(), None)
    return rt.array(out)


def test_safetensors_written_by_c(rt: Runtime, tmp_path: Path) -> None:
    st_numpy = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "out.safetensors"
    entries = {
        "weight": np.array([[1.0, 2, 3], [4, 5, 6]]),
        "bias": np.array([1, -0.5]),
        "lr": np.array(0.125),
        'é"\\\n\x01\U0001f600': np.arange(24.0).reshape(2, 3, 2, 2),
    }
    _save_c(rt, path, entries)
    py_path = tmp_path / "py.safetensors"
    write_safetensors(py_path, entries)
    assert path.read_bytes() == py_path.read_bytes()  # byte for byte
    loaded = st_numpy.load_file(str(path))
    for k, v in entries.items():
        assert loaded[k].shape == v.shape and loaded[k].tolist() == v.tolist()
    back = read_safetensors(path)
    assert list(back) == list(entries)
    assert "reserved" in rt.error_of(
        "save_safetensors", 1, (ctypes.c_char_p * 1)(b"__metadata__"),
        (ctypes.POINTER(NomaTensor) * 1)(ctypes.pointer(rt.tensor(1.0))),
        str(path).encode(), None,
    )  # fmt: skip
    # a repeated key keeps its first place and its last value, like a Python dict
    keys = (ctypes.c_char_p * 3)(b"b", b"a", b"b")
    vals = [rt.tensor(1.0), rt.tensor(2.0), rt.tensor(3.0)]
    arr = (ctypes.POINTER(NomaTensor) * 3)(*[ctypes.pointer(t) for t in vals])
    rt.attempt("save_safetensors", 3, keys, arr, str(path).encode(), None)
    back = read_safetensors(path)
    assert list(back) == ["b", "a"] and float(back["b"]) == 3.0


def test_safetensors_read_by_c(rt: Runtime, tmp_path: Path) -> None:
    st_numpy = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "in.safetensors"
    tensors = {
        "z": np.arange(6, dtype=np.float32).reshape(2, 3) / 4,
        "y": np.array([1 / 3, 1e300]),
        "x": np.array(7.5, dtype=np.float64),
        "B": np.array([np.nan, -0.0], dtype=np.float32),
    }
    st_numpy.save_file(tensors, str(path), metadata={"who": "test"})
    ar = _load_c(rt, path)
    for k, v in tensors.items():
        got = _get_c(rt, ar, k)
        np.testing.assert_array_equal(got, v.astype(np.float64))
        assert got.shape == v.shape
    np.testing.assert_array_equal(_get_c(rt, ar, None), tensors["B"])  # first by UTF-8 bytes
    msg = rt.error_of("archive_get", rt.slot(), ar, b"nope", None)
    assert msg == f"error: no tensor 'nope' in safetensors file '{path}'"


def test_safetensors_archive_get_checks_values(rt: Runtime, tmp_path: Path) -> None:
    path = tmp_path / "odd.safetensors"
    write_safetensors(path, {"e": np.zeros((2, 0)), "r5": np.zeros((1, 1, 1, 1, 2))})
    ar = _load_c(rt, path)
    assert "tensor 'e' in" in rt.error_of("archive_get", rt.slot(), ar, b"e", None)
    assert "has shape [1, 1, 1, 1, 2]; NOMA tensors have rank 0 to 4" in rt.error_of(
        "archive_get", rt.slot(), ar, b"r5", None
    )
    write_safetensors(path, {})
    assert "has no tensors" in rt.error_of("archive_get", rt.slot(), _load_c(rt, path), None, None)


def _raw(header: Any, data: bytes = b"", pad: bool = True) -> bytes:
    text = json.dumps(header).encode() if not isinstance(header, bytes) else header
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def _entry(dtype: Any = "F64", shape: Any = (1,), offsets: Any = (0, 8)) -> dict:
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


HOSTILE = [
    b"",
    b"\x05\x00\x00",
    struct.pack("<Q", 1000) + b"{}",
    struct.pack("<Q", 2**63) + b"{}",
    _raw(b"\xff\xfe{}"),
    _raw(b"\xed\xa0\x80"),
    _raw(b"{not json"),
    _raw(b"[" * 100_000 + b"]" * 100_000),
    _raw([1, 2]),
    _raw("text"),
    _raw(3.5),
    _raw(None),
    _raw({"a": 3}),
    _raw({"a": {"dtype": "F64", "shape": [1]}}),
    _raw({"a": _entry("I32", (1,), (0, 4))}, b"\0" * 4),
    _raw({"a": _entry(["F64", {"x": 1.5e300}], (1,), (0, 4))}, b"\0" * 4),
    _raw({"a": _entry("F64", (-1,))}, b"\0" * 8),
    _raw({"a": _entry("F64", (1.0,))}, b"\0" * 8),
    _raw({"a": _entry("F64", (True,))}, b"\0" * 8),
    _raw({"a": _entry("F64", (1,), (8, 0))}, b"\0" * 8),
    _raw({"a": _entry("F64", (2,), (0, 16))}, b"\0" * 8),
    _raw({"a": _entry("F64", (2,), (0, 8))}, b"\0" * 8),
    _raw({"a": _entry("F64", (10**6,) * 4, (0, 8))}),
    _raw({"a": _entry("F64", (10**30,) * 2, (0, 8))}),
    _raw({"a": _entry("F64", (1,), (0,))}, b"\0" * 8),
    _raw({"a": _entry("F64", (1,), (2**70, 2**70 + 8))}, b"\0" * 8),
    _raw({"a": _entry("F64", (2,), (0, 16)), "b": _entry("F64", (2,), (8, 24))}, b"\0" * 24),
    _raw(b'{"a": {}, "a": {}}'),
    _raw(b'{"m": {"x": 1, "y": 2, "x": 3}, "__metadata__": {"k": {"q": 1, "q": 2}}}'),
    _raw({"a": _entry("F64", (0, 2**63), (0, 0))}),
    _raw({"a": _entry("F32", (0,) * 100, (0, 0))}),
    _raw(b'{"a": {"dtype": "F64", "shape": [' + b"9" * 5000 + b"]}}"),
    _raw(b'{"a": 1} x'),
    _raw(b'{"a" 1}'),
    _raw(b'{"a": [1 2]}'),
    _raw(b'{"a": "\\x"}'),
    _raw(b'{"a": "\\u12"}'),
    _raw(b'{"a": "b\nc"}'),
    _raw(b'{"a": "abc'),
    _raw(b'{"a": 1,}'),
    _raw(b'\n\n  {"a": -}'),
    _raw(b'{"a": {"dtype": "F64", "shape": [], "data_offsets": [0, 8], "x": NaN}}', b"\0" * 8),
    _raw(b"{}\x00"),
    _raw({"__metadata__": {"format": "np"}}),
]


def _py_read(path: Path) -> dict[str, np.ndarray] | str:
    try:
        return read_safetensors(path)
    except NomaRuntimeError as e:
        return "error: " + e.message


def _c_read(rt: Runtime, path: Path) -> dict[str, np.ndarray] | str:
    try:
        ar = _load_c(rt, path)
    except Failed as e:
        return e.message
    py = read_safetensors(path)  # the C reader accepted it: so must Python
    return {
        k: _get_c(rt, ar, k) for k in py if np.asarray(py[k]).ndim <= 4 and 0 not in py[k].shape
    }


@pytest.mark.parametrize("content", HOSTILE)
def test_hostile_safetensors_match_python(rt: Runtime, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    want, got = _py_read(path), _c_read(rt, path)
    if isinstance(want, str):
        assert isinstance(got, str) and str(path) in got
        assert "set_int_max_str_digits" not in want  # no Python advice to NOMA users
        assert got == want
    else:
        assert isinstance(got, dict)


FUZZ = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _agree(rt: Runtime, path: Path, content: bytes) -> None:
    path.write_bytes(content)
    want, got = _py_read(path), _c_read(rt, path)
    if isinstance(want, str):
        assert isinstance(got, str) and str(path) in got and got.startswith("error: bad")
    else:
        assert isinstance(got, dict)
        for k, v in got.items():
            np.testing.assert_array_equal(v, want[k])


def _valid_file() -> bytes:
    header = {
        "__metadata__": {"format": "np"},
        "a": {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]},
        "b": {"dtype": "F32", "shape": [], "data_offsets": [16, 20]},
    }
    return _raw(header, struct.pack("<2d", 1.5, -2.0) + struct.pack("<f", 0.25))


@FUZZ
@given(data=st.data())
def test_fuzz_mutated_safetensors(rt: Runtime, tmp_path: Path, data: st.DataObject) -> None:
    content = bytearray(_valid_file())
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(content) - 1))
        content[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(content)))
    _agree(rt, tmp_path / "fuzz.safetensors", bytes(content[:cut]))


_ATOM = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=4)
_ENTRY = st.fixed_dictionaries(
    {},
    optional={
        "dtype": st.sampled_from(["F64", "F32", "I8", ""]) | _ATOM,
        "shape": st.lists(st.integers(-2, 4) | _ATOM, max_size=3) | _ATOM,
        "data_offsets": st.lists(st.integers(-8, 40), max_size=3) | _ATOM,
    },
)


@FUZZ
@given(
    header=st.dictionaries(st.sampled_from(["a", "b", "__metadata__", "é"]), _ENTRY | _ATOM),
    data=st.binary(max_size=40),
)
def test_fuzz_structured_safetensors(
    rt: Runtime, tmp_path: Path, header: dict, data: bytes
) -> None:
    path = tmp_path / "fuzz.safetensors"
    path.write_bytes(_raw(header, data))
    want, got = _py_read(path), _c_read(rt, path)
    if isinstance(want, str):
        assert got == want  # the same message
    else:
        assert isinstance(got, dict)


# ----------------------------------------------------------------- building


def test_missing_compiler_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOMA_CC", "no-such-cc-for-noma")
    with pytest.raises(rtbuild.RuntimeBuildError) as info:
        rtbuild.compiler()
    assert info.value.format() == "error: a C compiler (cc) is needed to build the NOMA runtime"


def test_static_library_links_an_executable(tmp_path: Path) -> None:
    main = tmp_path / "main.c"
    main.write_text(
        '#include "noma_rt.h"\n'
        "static noma_tensor t, out;\n"
        'static const noma_site where = {"prog.noma", 2, 7, "  let y = x[4];"};\n'
        "static void entry(void) {\n"
        "    double dims[2] = {2, 3};\n"
        "    noma_rt_random_tensor(&t, NOMA_DIST_UNIFORM, 0, 1, 2, dims, &where);\n"
        "    noma_rt_print_tensor(noma_rt_binary(NOMA_MUL, &out, &t, noma_rt_box(&(noma_tensor){0}, 0), &where));\n"
        '    noma_rt_print_str("next");\n'
        "    double i = 4;\n"
        "    noma_rt_index(&out, &t, 1, &i, &where);\n"
        "}\n"
        "int main(void) { return noma_rt_run(entry, 0); }\n"
    )
    exe = tmp_path / "prog"
    cc = rtbuild.compiler()
    subprocess.run(
        [cc, "-I", str(rtbuild.SOURCE_DIR), str(main), "-o", str(exe), *rtbuild.link_args()],
        check=True,
    )
    done = subprocess.run([str(exe)], capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stdout == "[[0, 0, 0], [0, 0, 0]]\nnext\n"
    assert done.stderr == (
        "error: index 4 out of range for dimension of size 2 at prog.noma:2:7\n"
        "    let y = x[4];\n        ^\n"
    )
