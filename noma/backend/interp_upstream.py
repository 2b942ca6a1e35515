"""Upstream dialects in the reference interpreter.

xDSL's `FuncFunctions`, `ScfFunctions`, `CfFunctions` and `ArithFunctions`
cover func.call/return, scf.if/while/for/yield/condition, cf branches and
arith.constant (f64, i1), cmpf, andi/ori/xori and select. `NomaArithFunctions`
adds what they lack or get wrong for f64: `divf` (Python's `/` raises on
zero; here `1/0` is `inf` as in C), `negf`, and the
conversions `uitofp`/`sitofp` (an i1 is held as 0/1, -1 or a bool: its low
bit is the truth value) and `fptosi`.
"""

from __future__ import annotations

import math

import numpy as np
from xdsl.dialects import arith
from xdsl.dialects.builtin import IntegerType
from xdsl.interpreter import Interpreter, PythonValues, impl, register_impls
from xdsl.interpreters.arith import ArithFunctions

from noma.diagnostics import NomaRuntimeError


def _unsigned(v: int, typ: object) -> int:
    width = typ.width.data if isinstance(typ, IntegerType) else 64
    return int(v) & ((1 << width) - 1)


@register_impls
class NomaArithFunctions(ArithFunctions):
    """xDSL's arith implementations plus the f64 ops NOMA IR uses."""

    @impl(arith.DivfOp)
    def run_divf(self, interp: Interpreter, op: arith.DivfOp, args: PythonValues) -> PythonValues:
        return (float(np.divide(float(args[0]), float(args[1]))),)

    @impl(arith.NegfOp)
    def run_negf(self, interp: Interpreter, op: arith.NegfOp, args: PythonValues) -> PythonValues:
        return (-float(args[0]),)

    @impl(arith.UIToFPOp)
    def run_uitofp(
        self, interp: Interpreter, op: arith.UIToFPOp, args: PythonValues
    ) -> PythonValues:
        return (float(_unsigned(args[0], op.input.type)),)

    @impl(arith.SIToFPOp)
    def run_sitofp(
        self, interp: Interpreter, op: arith.SIToFPOp, args: PythonValues
    ) -> PythonValues:
        typ = op.input.type
        v = _unsigned(args[0], typ)
        width = typ.width.data if isinstance(typ, IntegerType) else 64
        if v >> (width - 1):
            v -= 1 << width
        return (float(v),)

    @impl(arith.FPToSIOp)
    def run_fptosi(
        self, interp: Interpreter, op: arith.FPToSIOp, args: PythonValues
    ) -> PythonValues:
        x = float(args[0])
        if not math.isfinite(x):
            raise NomaRuntimeError(f"cannot convert {x} to an integer")
        return (int(x),)
