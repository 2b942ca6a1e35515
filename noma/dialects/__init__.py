"""NOMA's xDSL dialects and the context that loads them with the upstream ones."""

from __future__ import annotations

from xdsl.context import Context
from xdsl.dialects import arith, builtin, cf, func, llvm, math, scf
from xdsl.ir import Dialect

from noma.dialects.io import NomaIO
from noma.dialects.mem import NomaMem
from noma.dialects.tensor import NomaTensor
from noma.dialects.train import NomaTrain

NOMA_DIALECTS: tuple[Dialect, ...] = (NomaTensor, NomaMem, NomaTrain, NomaIO)
UPSTREAM_DIALECTS: tuple[Dialect, ...] = (
    builtin.Builtin,
    func.Func,
    arith.Arith,
    scf.Scf,
    cf.Cf,
    math.Math,
    llvm.LLVM,
)


def make_context() -> Context:
    """A context with every dialect a NOMA pipeline can meet."""
    ctx = Context()
    for dialect in (*UPSTREAM_DIALECTS, *NOMA_DIALECTS):
        ctx.load_dialect(dialect)
    return ctx
