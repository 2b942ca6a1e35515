"""`noma-fold-transpose`: matmul reads transposed operands in place."""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, UnitAttr
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import Rewriter

from noma.dialects import tensor as nt


@dataclass(frozen=True)
class FoldTransposePass(ModulePass):
    """Fold `noma.tensor.transpose` into the `noma.tensor.matmul` ops that use it.

    Expects: any stage (the native pipeline runs it after `noma-lower-train`).
    Produces: every matmul operand defined by a transpose is replaced by the
    transpose's input and the matmul's `transpose_lhs` / `transpose_rhs`
    attribute is toggled (so a transpose of a transpose cancels); transposes
    left without users are erased. The backward pass of `matmul` is written
    with transposes (`dA = g @ B^T`, `dB = A^T @ g`), which this turns into
    products that read `A` and `B` where they are, with no copy. Only
    transposes are removed, and a transpose of a 2-D tensor cannot fail, so
    errors and their order are unchanged. Running it twice changes nothing
    more.
    """

    name = "noma-fold-transpose"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        matmuls = [inner for inner in op.walk() if isinstance(inner, nt.MatmulOp)]
        for matmul in matmuls:
            _fold(matmul)


def _fold(matmul: nt.MatmulOp) -> None:
    lhs, flip_lhs = _untransposed(matmul.lhs)
    rhs, flip_rhs = _untransposed(matmul.rhs)
    if lhs is matmul.lhs and rhs is matmul.rhs:
        return
    flags = {
        "transpose_lhs": (matmul.transpose_lhs is not None) != flip_lhs,
        "transpose_rhs": (matmul.transpose_rhs is not None) != flip_rhs,
    }
    folded = nt.MatmulOp.create(
        operands=[lhs, rhs],
        result_types=[matmul.result.type],  # the same product: keep its type
        properties={name: UnitAttr() for name, on in flags.items() if on},
    )
    folded.location = matmul.location
    folded.result.name_hint = matmul.result.name_hint
    dropped = [v.owner for v in (matmul.lhs, matmul.rhs)]
    Rewriter.replace_op(matmul, folded, [folded.result])
    for owner in dropped:
        _erase_dead_transposes(owner)


def _untransposed(value: SSAValue) -> tuple[SSAValue, bool]:
    """The value under a chain of transposes, and whether their number is odd."""
    odd = False
    while isinstance(value.owner, nt.TransposeOp):
        value, odd = value.owner.operand, not odd
    return value, odd


def _erase_dead_transposes(owner: object) -> None:
    """Erase `owner` and the transposes under it while they have no users."""
    while isinstance(owner, nt.TransposeOp) and owner.parent is not None and not owner.result.uses:
        below = owner.operand.owner
        Rewriter.erase_op(owner)
        owner = below
