"""`noma-expand-optimizers`: optimizer steps as explicit state buffers and math."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from xdsl.context import Context
from xdsl.dialects import arith, scf
from xdsl.dialects.builtin import FloatAttr, LocationAttr, ModuleOp, f64
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from noma.diagnostics import CompileError
from noma.dialects import mem, train
from noma.dialects import tensor as nt
from noma.passes import source_loc

#: State buffers of each parameter: (param buffer) -> {"m"|"v"|"t": state buffer}.
States = dict[SSAValue, dict[str, SSAValue]]


@dataclass(frozen=True)
class ExpandOptimizersPass(ModulePass):
    """Expand `noma.train.update`/`reset_state` into state buffers and element-wise math.

    Expects: `noma.train.update %P, %g` ops (from `noma-autodiff`) inside
    `noma.train.optimize` bodies, each `%P` the result of a `noma.train.param`.
    Produces: three state buffers `noma.train.state %P "m"|"v"|"t"` right
    after every `noma.train.param` (all three always: state outlives loops
    and optimizer changes); each `update` replaced by `noma.mem.load`/`store`
    of the parameter and its state with `noma.tensor` math (SPEC §6.3):
    SGD `p -= lr*g`; RMSprop `v = rho v + (1-rho) g g; p -= lr g / (sqrt(v) + eps)`;
    Adam `t += 1; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g g;
    p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)` with a per-element
    `t`, products evaluated left to right as in the interpreter's reference
    step (bit-identical results). A constant `kind` (1 SGD, 2 Adam, 3 RMSprop,
    else SGD) selects one optimizer; otherwise an `scf.if` chain selects at run
    time; SGD and RMSprop leave `t` alone. Each
    `reset_state` becomes stores of zeros into m, v and t of its parameters.
    An `update` outside any optimize loop is an SGD step with `default-lr`.
    """

    name = "noma-expand-optimizers"

    default_lr: float = 0.01

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        states = _create_states(op)
        for inner in list(op.walk()):
            if isinstance(inner, train.UpdateOp):
                self._expand_update(inner, states)
            elif isinstance(inner, train.ResetStateOp):
                _expand_reset(inner, states)

    def _expand_update(self, update: train.UpdateOp, states: States) -> None:
        state = states.get(update.param)
        if state is None:
            raise CompileError(
                "noma-expand-optimizers: noma.train.update of a buffer that is not a "
                "learnable parameter (no noma.train.param defines it)",
                source_loc(update),
            )
        e = _Emitter(InsertPoint.before(update), update.location)
        step = _Step(update.param, update.grad, state, self._hyper(update, e))
        _emit_dispatch(e, step)
        Rewriter.erase_op(update)

    def _hyper(self, update: train.UpdateOp, e: _Emitter) -> _Hyper:
        opt = _enclosing_optimize(update)
        if opt is None:
            sgd, lr = e.const(train.SGD), e.const(self.default_lr)
            return _Hyper(sgd, lr, lr, lr, lr, lr)
        return _Hyper(opt.kind, opt.lr, opt.beta1, opt.beta2, opt.rho, opt.eps)


# ----------------------------------------------------------------- state buffers


def _create_states(module: ModuleOp) -> States:
    """m, v, t for every parameter, right after its `param` op (existing ones reused)."""
    states: States = {}
    for op in module.walk():
        if isinstance(op, train.StateOp):
            states.setdefault(op.param, {})[op.kind.data] = op.result
    for op in list(module.walk()):
        if isinstance(op, train.ParamOp):
            _add_states(op, states.setdefault(op.result, {}))
    return states


def _add_states(param: train.ParamOp, have: dict[str, SSAValue]) -> None:
    anchor: Operation = param
    for kind in train.STATE_KINDS:
        if kind in have:
            continue
        state = train.StateOp(param.result, kind)
        state.location = param.location
        state.result.name_hint = _state_hint(param, kind)
        Rewriter.insert_op(state, InsertPoint.after(anchor))
        have[kind] = state.result
        anchor = state


def _state_hint(param: train.ParamOp, kind: str) -> str | None:
    base = param.result.name_hint or param.sym_name.data
    return SSAValue.extract_valid_name(f"{base}_{kind}")


def _expand_reset(reset: train.ResetStateOp, states: States) -> None:
    e = _Emitter(InsertPoint.before(reset), reset.location)
    for param in reset.params:
        for buffer in states.get(param, {}).values():
            e.store(e(nt.ZerosLikeOp(e.load(buffer))), buffer)
    Rewriter.erase_op(reset)


def _enclosing_optimize(op: Operation) -> train.OptimizeOp | None:
    parent = op.parent_op()
    while parent is not None and not isinstance(parent, train.OptimizeOp):
        parent = parent.parent_op()
    return parent


# ----------------------------------------------------------------- emission


@dataclass
class _Emitter:
    """Inserts ops at `ip`, each with the source location `loc`."""

    ip: InsertPoint
    loc: LocationAttr
    consts: dict[float, SSAValue] = field(default_factory=dict)

    def __call__(self, op: Operation, hint: str | None = None) -> SSAValue:
        self.insert(op)
        result = op.results[0]
        if hint is not None:
            result.name_hint = hint
        return result

    def insert(self, op: Operation) -> None:
        op.location = self.loc
        Rewriter.insert_op(op, self.ip)

    def const(self, x: float) -> SSAValue:
        """An f64 constant (one per value and emitter)."""
        if x not in self.consts:
            self.consts[x] = self(arith.ConstantOp(FloatAttr(x, f64)))
        return self.consts[x]

    def load(self, buffer: SSAValue, hint: str | None = None) -> SSAValue:
        return self(mem.LoadOp(buffer), hint)

    def store(self, value: SSAValue, buffer: SSAValue) -> None:
        self.insert(mem.StoreOp(value, buffer))

    def add(self, a: SSAValue, b: SSAValue, hint: str | None = None) -> SSAValue:
        return self(nt.AddOp(a, b), hint)

    def sub(self, a: SSAValue, b: SSAValue, hint: str | None = None) -> SSAValue:
        return self(nt.SubOp(a, b), hint)

    def mul(self, a: SSAValue, b: SSAValue, hint: str | None = None) -> SSAValue:
        return self(nt.MulOp(a, b), hint)

    def div(self, a: SSAValue, b: SSAValue, hint: str | None = None) -> SSAValue:
        return self(nt.DivOp(a, b), hint)

    def pow(self, a: SSAValue, b: SSAValue, hint: str | None = None) -> SSAValue:
        return self(nt.PowOp(a, b), hint)

    def sqrt(self, a: SSAValue) -> SSAValue:
        return self(nt.SqrtOp(a))


@dataclass(frozen=True)
class _Hyper:
    kind: SSAValue
    lr: SSAValue
    beta1: SSAValue
    beta2: SSAValue
    rho: SSAValue
    eps: SSAValue


@dataclass(frozen=True)
class _Step:
    """One optimizer step: parameter, gradient, state buffers, hyperparameters."""

    param: SSAValue
    grad: SSAValue
    state: dict[str, SSAValue]
    hyper: _Hyper


def _sgd(e: _Emitter, s: _Step) -> None:
    p = e.load(s.param, "p")
    e.store(e.sub(p, e.mul(s.hyper.lr, s.grad), "p_new"), s.param)


def _rmsprop(e: _Emitter, s: _Step) -> None:
    h, g = s.hyper, s.grad
    v = _moment(e, s.state["v"], "v", h.rho, g, squared=True)
    p = e.load(s.param, "p")
    step = e.div(e.mul(h.lr, g), e.add(e.sqrt(v), h.eps))
    e.store(e.sub(p, step, "p_new"), s.param)


def _adam(e: _Emitter, s: _Step) -> None:
    h, g, one = s.hyper, s.grad, e.const(1.0)
    t = e.add(e.load(s.state["t"], "t"), one, "t_new")
    e.store(t, s.state["t"])
    m = _moment(e, s.state["m"], "m", h.beta1, g, squared=False)
    v = _moment(e, s.state["v"], "v", h.beta2, g, squared=True)
    m_hat = e.div(m, e.sub(one, e.pow(h.beta1, t)), "m_hat")
    v_hat = e.div(v, e.sub(one, e.pow(h.beta2, t)), "v_hat")
    p = e.load(s.param, "p")
    step = e.div(e.mul(h.lr, m_hat), e.add(e.sqrt(v_hat), h.eps))
    e.store(e.sub(p, step, "p_new"), s.param)


def _moment(
    e: _Emitter, buffer: SSAValue, name: str, beta: SSAValue, g: SSAValue, squared: bool
) -> SSAValue:
    """`buffer = beta * buffer + (1 - beta) * g` (or `* (g * g)`), rounded like the
    NumPy reference of shared/bench (`(1 - beta) * (g * g)`); returns the new value."""
    decayed = e.mul(beta, e.load(buffer, name))
    scaled = e.mul(e.sub(e.const(1.0), beta), e.mul(g, g) if squared else g)
    new = e.add(decayed, scaled, f"{name}_new")
    e.store(new, buffer)
    return new


Emit = Callable[[_Emitter, _Step], None]
_BY_KIND: dict[float, Emit] = {train.ADAM: _adam, train.RMSPROP: _rmsprop}


def _emit_dispatch(e: _Emitter, s: _Step) -> None:
    """The step for a constant `kind`, else a run-time choice Adam / RMSprop / SGD."""
    kind = _constant(s.hyper.kind)
    if kind is not None:
        _BY_KIND.get(kind, _sgd)(e, s)
        return
    is_adam = e(arith.CmpfOp(s.hyper.kind, e.const(train.ADAM), "oeq"), "is_adam")
    adam_block, other_block = _if(e, is_adam)
    _adam(_at_end(adam_block, e.loc), s)
    other = _at_end(other_block, e.loc)
    is_rms = other(arith.CmpfOp(s.hyper.kind, other.const(train.RMSPROP), "oeq"), "is_rmsprop")
    rms_block, sgd_block = _if(other, is_rms)
    _rmsprop(_at_end(rms_block, e.loc), s)
    _sgd(_at_end(sgd_block, e.loc), s)


def _if(e: _Emitter, cond: SSAValue) -> tuple[Block, Block]:
    """An `scf.if` without results; returns its then and else blocks."""
    blocks = (Block([scf.YieldOp()]), Block([scf.YieldOp()]))
    e.insert(scf.IfOp(cond, [], Region(blocks[0]), Region(blocks[1])))
    return blocks


def _at_end(block: Block, loc: LocationAttr) -> _Emitter:
    """An emitter inserting before the block's terminator."""
    assert block.last_op is not None
    return _Emitter(InsertPoint.before(block.last_op), loc)


def _constant(v: SSAValue) -> float | None:
    owner = v.owner
    if isinstance(owner, arith.ConstantOp) and isinstance(owner.value, FloatAttr):
        return float(owner.value.value.data)
    return None
