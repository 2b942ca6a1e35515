"""A `nomac --load-plugin` test plugin: one pass and one dialect."""

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, UnitAttr
from xdsl.ir import Dialect
from xdsl.irdl import IRDLOperation, irdl_op_definition
from xdsl.passes import ModulePass

from noma.driver import register_dialect, register_pass


@register_pass
@dataclass(frozen=True)
class MarkModulePass(ModulePass):
    """Mark the module with the unit attribute `test_plugin.marked`."""

    name = "test-plugin-mark"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        op.attributes["test_plugin.marked"] = UnitAttr()


@irdl_op_definition
class NoopOp(IRDLOperation):
    """Does nothing."""

    name = "test_plugin.noop"
    assembly_format = "attr-dict"


register_dialect(Dialect("test_plugin", [NoopOp]))
