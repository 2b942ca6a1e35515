"""The `noma.train` dialect: learnable parameters and training loops.

- `param` declares a learnable parameter: a `noma.mem` buffer with an initial value.
- `optimize` is the training loop (SPEC §6) as a region op. Its body runs
  once per iteration and ends in `yield %stop, %values...`: the body
  computes the objective (marked by `minimize`), then the `until` condition
  (`%stop`). The op owns the iteration protocol: when `%stop` is false the
  iteration counts, and the loop ends when the count reaches `max_iter`
  (with a warning). Values threaded between iterations are the body's block
  arguments (initialised from `inits`); the op's results are the yielded
  values of the last iteration.
- `noma-autodiff` adds the gradient computation and `update(param, grad)`
  ops, guarded by `!%stop`; `noma-expand-optimizers` turns each `update`
  into `state` buffers (m, v, t) and element-wise math.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from xdsl.dialects.builtin import StringAttr, i1
from xdsl.ir import Attribute, Block, Dialect, Operation, Region, SSAValue
from xdsl.irdl import (
    AttrSizedOperandSegments,
    IRDLOperation,
    irdl_op_definition,
    lazy_traits_def,
    operand_def,
    prop_def,
    region_def,
    result_def,
    var_operand_def,
    var_result_def,
)
from xdsl.traits import HasParent, IsTerminator
from xdsl.utils.exceptions import VerifyException

from noma.dialects.common import F64, SCALAR_OR_TENSOR, rank_of
from noma.dialects.mem import BufferType

#: Optimizer kinds as carried by the `kind` operand (the compat `optimizer` variable).
SGD, ADAM, RMSPROP = 1.0, 2.0, 3.0
OPTIMIZER_KINDS = {"sgd": SGD, "adam": ADAM, "rmsprop": RMSPROP}
#: Names of the optimizer state buffers a parameter can own.
STATE_KINDS = ("m", "v", "t")


def _value(v: SSAValue | Operation) -> SSAValue:
    return SSAValue.get(v)


@irdl_op_definition
class ParamOp(IRDLOperation):
    """Declare a learnable parameter named `sym_name` with initial value `init`."""

    name = "noma.train.param"
    sym_name = prop_def(StringAttr)
    init = operand_def(SCALAR_OR_TENSOR)
    result = result_def(BufferType)
    assembly_format = "$sym_name $init attr-dict `:` type($init) `->` type($result)"

    def __init__(self, name: str, init: SSAValue | Operation):
        init = _value(init)
        super().__init__(
            operands=[init],
            result_types=[BufferType(rank_of(init.type))],
            properties={"sym_name": StringAttr(name)},
        )

    def verify_(self) -> None:
        assert isinstance(self.result.type, BufferType)
        r, v = self.result.type.value_rank(), rank_of(self.init.type)
        if r is not None and v is not None and r != v:
            raise VerifyException("noma.train.param: buffer rank must be the init value's rank")


@irdl_op_definition
class OptimizeOp(IRDLOperation):
    """A training loop (SPEC §6.2).

    Operands: `params` (the parameters named in the source, for intent and
    checking), the hyperparameters read when the loop starts — `kind` (1 SGD,
    2 Adam, 3 RMSprop), `lr`, `beta1`, `beta2` (Adam), `rho` (RMSprop decay),
    `eps`, `max_iter` — and `inits`, the initial values of the loop-carried
    variables (the body's block arguments)."""

    name = "noma.train.optimize"
    params = var_operand_def(BufferType)
    kind = operand_def(F64)
    lr = operand_def(F64)
    beta1 = operand_def(F64)
    beta2 = operand_def(F64)
    rho = operand_def(F64)
    eps = operand_def(F64)
    max_iter = operand_def(F64)
    inits = var_operand_def(SCALAR_OR_TENSOR | BufferType)
    res = var_result_def(SCALAR_OR_TENSOR | BufferType)
    body = region_def("single_block")
    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    assembly_format = (
        "`params` `(` ($params^ `:` type($params))? `)` "
        "`hyper` `(` $kind `,` $lr `,` $beta1 `,` $beta2 `,` $rho `,` $eps `,` $max_iter `)` "
        "(`carry` `(` $inits^ `:` type($inits) `)`)? attr-dict-with-keyword "
        "(`->` `(` type($res)^ `)`)? $body"
    )

    HYPER_NAMES: ClassVar[tuple[str, ...]] = (
        "kind", "lr", "beta1", "beta2", "rho", "eps", "max_iter",
    )

    def __init__(
        self,
        params: Sequence[SSAValue | Operation],
        hyper: Sequence[SSAValue | Operation],
        inits: Sequence[SSAValue | Operation],
        result_types: Sequence[Attribute],
        body: Region,
    ):
        assert len(hyper) == len(self.HYPER_NAMES)
        super().__init__(
            operands=[[_value(p) for p in params], *[_value(h) for h in hyper],
                      [_value(i) for i in inits]],
            result_types=[list(result_types)],
            regions=[body],
        )

    def hyper(self, name: str) -> SSAValue:
        return getattr(self, name)

    @property
    def block(self) -> Block:
        return self.body.block

    def verify_(self) -> None:
        block = self.body.block
        if [a.type for a in block.args] != [v.type for v in self.inits]:
            raise VerifyException(
                "noma.train.optimize: body arguments must have the types of the carried inits"
            )
        term = block.last_op
        if not isinstance(term, YieldOp):
            raise VerifyException("noma.train.optimize: body must end in noma.train.yield")
        yielded = [v.type for v in term.values]
        if yielded != [r.type for r in self.res]:
            raise VerifyException("noma.train.optimize: yielded values must match the results")
        n = len(self.inits)
        if yielded[:n] != [v.type for v in self.inits]:
            raise VerifyException(
                "noma.train.optimize: the first yielded values are the next carried values "
                "and must have the carried types"
            )

    def minimize_op(self) -> MinimizeOp | None:
        for op in self.block.ops:
            if isinstance(op, MinimizeOp):
                return op
        return None


@irdl_op_definition
class MinimizeOp(IRDLOperation):
    """Marks the objective of the enclosing `optimize` (an f64). At run time a
    NaN or infinite objective stops the program with an error."""

    name = "noma.train.minimize"
    objective = operand_def(F64)
    traits = lazy_traits_def(lambda: (HasParent(OptimizeOp),))
    assembly_format = "$objective attr-dict `:` type($objective)"

    def __init__(self, objective: SSAValue | Operation):
        super().__init__(operands=[_value(objective)])


@irdl_op_definition
class YieldOp(IRDLOperation):
    """Terminator of an `optimize` body: the stop flag of the `until` condition,
    then the next carried values, then the values visible after the loop."""

    name = "noma.train.yield"
    stop = operand_def(i1)
    values = var_operand_def(SCALAR_OR_TENSOR | BufferType)
    traits = lazy_traits_def(lambda: (IsTerminator(), HasParent(OptimizeOp)))
    assembly_format = "$stop (`,` $values^ `:` type($values))? attr-dict"

    def __init__(self, stop: SSAValue | Operation, values: Sequence[SSAValue | Operation]):
        super().__init__(operands=[_value(stop), [_value(v) for v in values]])


@irdl_op_definition
class UpdateOp(IRDLOperation):
    """One optimizer step of `param` with gradient `grad`, using the
    hyperparameters and state of the enclosing `optimize` (before
    `noma-expand-optimizers`)."""

    name = "noma.train.update"
    param = operand_def(BufferType)
    grad = operand_def(SCALAR_OR_TENSOR)
    assembly_format = "$param `,` $grad attr-dict `:` type($param) `,` type($grad)"

    def __init__(self, param: SSAValue | Operation, grad: SSAValue | Operation):
        super().__init__(operands=[_value(param), _value(grad)])


@irdl_op_definition
class StateOp(IRDLOperation):
    """The optimizer state buffer `kind` (m, v or t) owned by `param`: created
    with the parameter's shape, zero-filled; it lives as long as the parameter."""

    name = "noma.train.state"
    param = operand_def(BufferType)
    kind = prop_def(StringAttr)
    result = result_def(BufferType)
    assembly_format = "$param $kind attr-dict `:` type($param) `->` type($result)"

    def __init__(self, param: SSAValue | Operation, kind: str):
        param = _value(param)
        super().__init__(
            operands=[param], result_types=[param.type], properties={"kind": StringAttr(kind)}
        )

    def verify_(self) -> None:
        if self.kind.data not in STATE_KINDS:
            raise VerifyException(f"noma.train.state: unknown state {self.kind.data!r}")


@irdl_op_definition
class ResetStateOp(IRDLOperation):
    """`reset_optimizer(...)`: zero m, v and t of the listed parameters."""

    name = "noma.train.reset_state"
    params = var_operand_def(BufferType)
    assembly_format = "`(` ($params^ `:` type($params))? `)` attr-dict"

    def __init__(self, params: Sequence[SSAValue | Operation]):
        super().__init__(operands=[[_value(p) for p in params]])


@irdl_op_definition
class CheckObjectiveOp(IRDLOperation):
    """Run-time check of a lowered training loop's objective (from `minimize`):
    a NaN or infinite `objective` stops the program with the error
    `objective is NaN/infinite at iteration K of the optimize loop`, K being
    `iteration` (1-based, an f64). The op's location is the optimize loop's."""

    name = "noma.train.check_objective"
    objective = operand_def(F64)
    iteration = operand_def(F64)
    assembly_format = "$objective `,` $iteration attr-dict"

    def __init__(self, objective: SSAValue | Operation, iteration: SSAValue | Operation):
        super().__init__(operands=[_value(objective), _value(iteration)])


@irdl_op_definition
class WarnMaxIterationsOp(IRDLOperation):
    """A lowered training loop stopped because its iteration count reached
    `max_iter`: prints `warning: optimize loop at FILE:LINE:COL reached
    max_iterations (N)` on stderr, N being `count` (an f64). The op's location
    is the optimize loop's."""

    name = "noma.train.warn_max_iterations"
    count = operand_def(F64)
    assembly_format = "$count attr-dict"

    def __init__(self, count: SSAValue | Operation):
        super().__init__(operands=[_value(count)])


@irdl_op_definition
class EndLoopOp(IRDLOperation):
    """A lowered training loop has ended (placed right after its `scf.while`):
    the progress line of `nomac run --progress`, if the loop showed one, is
    written a last time and ended with a newline. No effect otherwise. The
    op's location is the optimize loop's."""

    name = "noma.train.end_loop"
    assembly_format = "attr-dict"

    def __init__(self) -> None:
        super().__init__()


NomaTrain = Dialect(
    "noma.train",
    [
        ParamOp, OptimizeOp, MinimizeOp, YieldOp, UpdateOp, StateOp, ResetStateOp,
        CheckObjectiveOp, WarnMaxIterationsOp, EndLoopOp,
    ],
    [],
)  # fmt: skip


