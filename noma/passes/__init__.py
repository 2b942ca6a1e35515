"""NOMA's compiler passes and the registry `nomac` builds pipelines from.

Each pass lives in its own module and is imported only when used, so that
`nomac --list-passes` and pipelines that do not need a pass stay cheap.
`DEFAULT_PIPELINE` is what `nomac run` applies before interpreting or lowering.
"""

from __future__ import annotations

from collections.abc import Callable

from xdsl.dialects.builtin import FileLineColLoc
from xdsl.ir import Operation
from xdsl.passes import ModulePass

from noma.diagnostics import SourceLoc


def _inline() -> type[ModulePass]:
    from noma.passes.inline import InlinePass

    return InlinePass


def _shape_inference() -> type[ModulePass]:
    from noma.passes.shape_inference import ShapeInferencePass

    return ShapeInferencePass


def _autodiff() -> type[ModulePass]:
    from noma.passes.autodiff import AutodiffPass

    return AutodiffPass


def _expand_optimizers() -> type[ModulePass]:
    from noma.passes.expand_optimizers import ExpandOptimizersPass

    return ExpandOptimizersPass


def _migrate_realloc_state() -> type[ModulePass]:
    from noma.passes.migrate_realloc_state import MigrateReallocStatePass

    return MigrateReallocStatePass


def _lower_train() -> type[ModulePass]:
    from noma.passes.lower_train import LowerTrainPass

    return LowerTrainPass


def _fold_transpose() -> type[ModulePass]:
    from noma.passes.fold_transpose import FoldTransposePass

    return FoldTransposePass


def _fuse_elementwise() -> type[ModulePass]:
    from noma.passes.fuse_elementwise import FuseElementwisePass

    return FuseElementwisePass


def _to_llvm() -> type[ModulePass]:
    from noma.passes.to_llvm import ToLLVMPass

    return ToLLVMPass


def _canonicalize() -> type[ModulePass]:
    from xdsl.transforms.canonicalize import CanonicalizePass

    return CanonicalizePass


def _cse() -> type[ModulePass]:
    from xdsl.transforms.common_subexpression_elimination import (
        CommonSubexpressionElimination,
    )

    return CommonSubexpressionElimination


def _dce() -> type[ModulePass]:
    from xdsl.transforms.dead_code_elimination import DeadCodeElimination

    return DeadCodeElimination


def _scf_to_cf() -> type[ModulePass]:
    from xdsl.transforms.convert_scf_to_cf import ConvertScfToCf

    return ConvertScfToCf


def _reconcile_casts() -> type[ModulePass]:
    from xdsl.transforms.reconcile_unrealized_casts import ReconcileUnrealizedCastsPass

    return ReconcileUnrealizedCastsPass


#: Every pass `nomac -p` knows, by name; the factories import lazily.
ALL_PASSES: dict[str, Callable[[], type[ModulePass]]] = {
    "noma-inline": _inline,
    "noma-shape-inference": _shape_inference,
    "noma-autodiff": _autodiff,
    "noma-expand-optimizers": _expand_optimizers,
    "noma-migrate-realloc-state": _migrate_realloc_state,
    "canonicalize": _canonicalize,
    "cse": _cse,
    "dce": _dce,
    "convert-scf-to-cf": _scf_to_cf,
    "reconcile-unrealized-casts": _reconcile_casts,
    "noma-lower-train": _lower_train,
    "noma-fold-transpose": _fold_transpose,
    "noma-fuse-elementwise": _fuse_elementwise,
    "noma-to-llvm": _to_llvm,
}

#: The passes `nomac run` applies, in order, before interpreting the module.
DEFAULT_PIPELINE: tuple[str, ...] = (
    "noma-inline",
    "noma-autodiff",
    "noma-expand-optimizers",
    "noma-migrate-realloc-state",
)


#: One-line descriptions of the upstream passes whose classes have no docstring.
_UPSTREAM_DOCS = {
    "canonicalize": "Apply the canonicalization patterns of every op (folding, simplification).",
    "cse": "Common subexpression elimination.",
    "dce": "Remove operations whose results are unused and that have no side effects.",
    "convert-scf-to-cf": "Lower structured control flow (scf) to blocks and branches (cf).",
    "reconcile-unrealized-casts": "Fold away chains of builtin.unrealized_conversion_cast.",
}


def pass_doc(name: str) -> str:
    """The first line of the pass's docstring (for `nomac --list-passes`)."""
    try:
        cls = ALL_PASSES[name]()
    except ImportError as e:  # a pass whose module is missing stays listable
        return f"(unavailable: {e})"
    doc = (cls.__doc__ or "").strip()
    if not doc or doc.startswith(f"{cls.__name__}("):  # none, or dataclass-generated
        return _UPSTREAM_DOCS.get(name, "")
    return doc.splitlines()[0].strip()


def source_loc(op: Operation) -> SourceLoc | None:
    """The op's `FileLineColLoc` as a `SourceLoc` (None for other locations)."""
    loc = op.location
    if isinstance(loc, FileLineColLoc):
        return SourceLoc(loc.filename.data, loc.line.data, loc.column.data)
    return None
