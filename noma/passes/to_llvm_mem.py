"""`noma-to-llvm`, part 2: `noma.mem`, `noma.train` and `noma.io` ops.

Buffers are runtime-owned heap descriptors (`noma_rt_buf_*`); a load copies
the buffer into the load's own slot, so later stores never change a loaded
value (a load whose value is only read before anything may write the
buffer is a view instead: `to_llvm_views.py`). `noma.train.param` makes a
buffer from its initial value; `noma.train.state %P` a zero buffer of P's
current shape. Files and strings
are compile-time literals, passed as constant C strings.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects import llvm
from xdsl.dialects.builtin import f64
from xdsl.ir import Operation, SSAValue

from noma.dialects import io, mem, train
from noma.dialects.common import rank_of
from noma.passes.to_llvm_support import Emitter, is_f64
from noma.passes.to_llvm_tensor import POLICIES, Lowering, TypeOf, policy_args

# ----------------------------------------------------------------- noma.mem


def lower_alloc(e: Emitter, op: mem.AllocOp, type_of: TypeOf) -> Sequence[SSAValue]:
    dims = list(op.dims)
    return [e.call("noma_rt_buf_alloc", e.i64(len(dims)), e.doubles(dims), e.site())]


def lower_load(e: Emitter, op: mem.LoadOp, type_of: TypeOf) -> Sequence[SSAValue]:
    if rank_of(op.result.type) == 0:
        return [e.call("noma_rt_buf_load_scalar", op.buffer, e.site())]
    return [e.call("noma_rt_buf_load", e.slot(), op.buffer, e.site())]


def lower_store(e: Emitter, op: mem.StoreOp, type_of: TypeOf) -> Sequence[SSAValue]:
    if is_f64(op.value):
        e.do("noma_rt_buf_store_scalar", op.buffer, op.value, e.site())
    else:
        e.do("noma_rt_buf_store", op.buffer, op.value, e.site())
    return []


def lower_store_element(e: Emitter, op: mem.StoreElementOp, type_of: TypeOf) -> Sequence[SSAValue]:
    idx = list(op.indices)
    value = e.box(op.value)
    n, ptr = e.i64(len(idx)), e.doubles(idx)
    e.do("noma_rt_buf_store_element", op.buffer, value, n, ptr, e.site())
    return []


def lower_realloc(e: Emitter, op: mem.ReallocOp, type_of: TypeOf) -> Sequence[SSAValue]:
    dims = list(op.dims)
    p0, p1 = policy_args(e, list(op.policy_args))
    policy = e.i64(POLICIES[op.policy.data])
    rank, ptr = e.i64(len(dims)), e.doubles(dims)
    e.do("noma_rt_buf_realloc", op.buffer, rank, ptr, policy, p0, p1, e.site())
    return []


def lower_free(e: Emitter, op: mem.FreeOp, type_of: TypeOf) -> Sequence[SSAValue]:
    e.do("noma_rt_buf_free", op.buffer, e.site())
    return []


def lower_buf_dim(e: Emitter, op: mem.DimOp, type_of: TypeOf) -> Sequence[SSAValue]:
    return [e.call("noma_rt_buf_dim", op.buffer, e.i64(op.axis.value.data), e.site())]


# ----------------------------------------------------------------- noma.train


def lower_param(e: Emitter, op: train.ParamOp, type_of: TypeOf) -> Sequence[SSAValue]:
    if is_f64(op.init):
        buf = e.call("noma_rt_buf_new_scalar", op.init)
    else:
        buf = e.call("noma_rt_buf_new", op.init)
    return [_named(e, buf, op.sym_name.data)]


def _named(e: Emitter, buf: SSAValue, name: str, of: SSAValue | None = None) -> SSAValue:
    """`buf` named for messages (`name`, or "<of's name>.<name>"), as the
    interpreter names its buffers: "use of freed variable 'w'"."""
    text = e.addr(e.g.string(name))
    return e.call("noma_rt_buf_name", buf, text, e.null() if of is None else of)


def lower_state(e: Emitter, op: train.StateOp, type_of: TypeOf) -> Sequence[SSAValue]:
    """A zero-filled buffer of the parameter's current shape."""
    assert isinstance(op.result.type, mem.BufferType)
    kind = op.kind.data
    if op.result.type.value_rank() == 0:
        return [_named(e, e.call("noma_rt_buf_new_scalar", e.f64(0.0)), kind, op.param)]
    value = e.call("noma_rt_buf_load", e.slot(), op.param, e.site())
    zeros = e.call("noma_rt_zeros_like", e.slot(), value)
    return [_named(e, e.call("noma_rt_buf_new", zeros), kind, op.param)]


def lower_check_objective(
    e: Emitter, op: train.CheckObjectiveOp, type_of: TypeOf
) -> Sequence[SSAValue]:
    """Log the loss (`--loss-log` and `--progress`: loop index in order of
    start, iteration from 0, the loop's site), then check it. Iteration 1 is
    a loop's first: it counts one more loop started in `@noma.loops` (reset
    when the entry starts)."""
    started = e.addr(e.g.loop_counter())
    first = e.fcmp("oeq", op.iteration, e.f64(1.0))
    before = e.add(llvm.LoadOp(started, f64))
    count = e.add(llvm.FAddOp(before, e.select(first, e.f64(1.0), e.f64(0.0))))
    e.run(llvm.StoreOp(count, started))
    loop = e.add(llvm.FSubOp(count, e.f64(1.0)))
    iteration = e.add(llvm.FSubOp(op.iteration, e.f64(1.0)))
    site = e.site()
    e.do("noma_rt_loss_log", loop, iteration, op.objective, site)
    e.do("noma_rt_check_objective", op.objective, op.iteration, site)
    return []


def lower_warn(e: Emitter, op: train.WarnMaxIterationsOp, type_of: TypeOf) -> Sequence[SSAValue]:
    e.do("noma_rt_warn_max_iterations", op.count, e.site())
    return []


def lower_end_loop(e: Emitter, op: train.EndLoopOp, type_of: TypeOf) -> Sequence[SSAValue]:
    e.do("noma_rt_end_loop")
    return []


# ----------------------------------------------------------------- noma.io


def lower_print(e: Emitter, op: io.PrintOp, type_of: TypeOf) -> Sequence[SSAValue]:
    print_value(e, op.value)
    return []


def print_value(e: Emitter, value: SSAValue) -> None:
    if is_f64(value):
        e.do("noma_rt_print_scalar", value)
    else:
        e.do("noma_rt_print_tensor", value)


def lower_print_str(e: Emitter, op: io.PrintStrOp, type_of: TypeOf) -> Sequence[SSAValue]:
    e.do("noma_rt_print_str", e.addr(e.g.string(op.text.data)))
    return []


def lower_load_csv(e: Emitter, op: io.LoadCsvOp, type_of: TypeOf) -> Sequence[SSAValue]:
    path = e.addr(e.g.string(op.path.data))
    return [e.call("noma_rt_load_csv", e.slot(), path, e.site())]


def lower_save_csv(e: Emitter, op: io.SaveCsvOp, type_of: TypeOf) -> Sequence[SSAValue]:
    path = e.addr(e.g.string(op.path.data))
    e.do("noma_rt_save_csv", e.box(op.value), path, e.site())
    return []


def lower_load_safetensors(
    e: Emitter, op: io.LoadSafetensorsOp, type_of: TypeOf
) -> Sequence[SSAValue]:
    path = e.addr(e.g.string(op.path.data))
    return [e.call("noma_rt_load_safetensors", path, e.site())]


def lower_get(e: Emitter, op: io.GetOp, type_of: TypeOf) -> Sequence[SSAValue]:
    key = e.null() if op.key is None else e.addr(e.g.string(op.key.data))
    return [e.call("noma_rt_archive_get", e.slot(), op.archive, key, e.site())]


def lower_save_safetensors(
    e: Emitter, op: io.SaveSafetensorsOp, type_of: TypeOf
) -> Sequence[SSAValue]:
    keys = [e.addr(e.g.string(k.data)) for k in op.keys]
    values = [e.box(v) for v in op.values]
    key_array = e.pointers(keys)
    value_array = e.pointers(values)
    path = e.addr(e.g.string(op.path.data))
    e.do("noma_rt_save_safetensors", e.i64(len(keys)), key_array, value_array, path, e.site())
    return []


MEM_LOWERINGS: dict[type[Operation], Lowering] = {
    mem.AllocOp: lower_alloc,
    mem.LoadOp: lower_load,
    mem.StoreOp: lower_store,
    mem.StoreElementOp: lower_store_element,
    mem.ReallocOp: lower_realloc,
    mem.FreeOp: lower_free,
    mem.DimOp: lower_buf_dim,
    train.ParamOp: lower_param,
    train.StateOp: lower_state,
    train.CheckObjectiveOp: lower_check_objective,
    train.WarnMaxIterationsOp: lower_warn,
    train.EndLoopOp: lower_end_loop,
    io.PrintOp: lower_print,
    io.PrintStrOp: lower_print_str,
    io.LoadCsvOp: lower_load_csv,
    io.SaveCsvOp: lower_save_csv,
    io.LoadSafetensorsOp: lower_load_safetensors,
    io.GetOp: lower_get,
    io.SaveSafetensorsOp: lower_save_safetensors,
}  # type: ignore[dict-item]
