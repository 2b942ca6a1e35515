"""A worked example of an out-of-tree NOMA plugin: one pass and one dialect.

docs/writing-a-pass.md walks through this file. Load it with

    nomac prog.noma --load-plugin tests/plugins/noma_example_plugin.py -p example-strip-prints

or, once it is importable (on `sys.path` or installed), `--load-plugin
noma_example_plugin`, or through an entry point in the group `noma.plugins`.

- `example-strip-prints` removes the program's printing (`noma.io.print`
  and `noma.io.print_str`), e.g. to time a training program without its
  I/O. With `notes=true` it keeps each printed string as an `example.note`.
- The dialect `example` has that one op, `example.note "text"`, which does
  nothing.
- `UNIVERSE` publishes both to the stock `xdsl-opt` (entry point group
  `xdsl.universe`).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.ir import Dialect
from xdsl.irdl import IRDLOperation, irdl_op_definition, prop_def
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.universe import Universe
from xdsl.utils.exceptions import VerifyException

from noma.dialects import io
from noma.driver import register_dialect, register_pass

# ------------------------------------------------------------------ the dialect


@irdl_op_definition
class NoteOp(IRDLOperation):
    """A note kept in the IR: does nothing, prints nothing."""

    name = "example.note"
    text = prop_def(StringAttr)
    assembly_format = "$text attr-dict"

    def __init__(self, text: str):
        super().__init__(properties={"text": StringAttr(text)})

    def verify_(self) -> None:
        if not self.text.data:
            raise VerifyException("example.note: a note must not be empty")


ExampleDialect = Dialect("example", [NoteOp])
register_dialect(ExampleDialect)


# ------------------------------------------------------------------ the pass


class RemovePrint(RewritePattern):
    """`noma.io.print %x` -> nothing."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: io.PrintOp, rewriter: PatternRewriter) -> None:
        rewriter.erase(op)


@dataclass
class RemovePrintStr(RewritePattern):
    """`noma.io.print_str "s"` -> nothing, or `example.note "s"`."""

    notes: bool

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: io.PrintStrOp, rewriter: PatternRewriter) -> None:
        if self.notes and op.text.data:  # a note must not be empty
            rewriter.replace(op, NoteOp(op.text.data))
        else:
            rewriter.erase(op)


@register_pass
@dataclass(frozen=True)
class StripPrintsPass(ModulePass):
    """Remove every print; with notes=true keep printed strings as example.note.

    Expects: any module. Produces: the same module without `noma.io.print`
    and `noma.io.print_str` ops; with `notes=true`, each non-empty printed
    string stays in the IR as an `example.note`.
    """

    name = "example-strip-prints"

    #: Keep each printed string as an `example.note` op.
    notes: bool = False

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        patterns = GreedyRewritePatternApplier([RemovePrint(), RemovePrintStr(self.notes)])
        PatternRewriteWalker(patterns).rewrite_module(op)


# ------------------------------------------------------------------ for xdsl-opt

#: The same pass and dialect for the stock `xdsl-opt` (entry point group
#: `xdsl.universe`): `xdsl-opt x.mlir -p example-strip-prints`.
UNIVERSE = Universe(
    all_dialects={"example": lambda: ExampleDialect},
    all_passes={"example-strip-prints": lambda: StripPrintsPass},
)
