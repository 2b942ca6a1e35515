"""NOMA's dialects and passes for the stock `xdsl-opt` (entry point `xdsl.universe`).

    xdsl-opt prog.mlir -p noma-inline,noma-autodiff

`xdsl-opt` registers dialects lazily by name and finds an op's dialect by the
text before the op name's first dot, so `noma.tensor.add` is looked up in a
dialect called `noma`: the four NOMA dialects are published as one umbrella
dialect `noma` (loading it loads all four). Passes that xDSL already
provides (cse, canonicalize, ...) are left out, since a duplicate name makes
`xdsl-opt` refuse to start. Nothing is imported until `xdsl-opt` needs it.
"""

from __future__ import annotations

from collections.abc import Callable

from xdsl.ir import Dialect
from xdsl.passes import ModulePass
from xdsl.transforms import get_all_passes
from xdsl.universe import Universe

from noma.passes import ALL_PASSES


def noma_dialect() -> Dialect:
    """One dialect `noma` holding the ops and types of noma.tensor/mem/train/io."""
    from noma.dialects import NOMA_DIALECTS

    ops = [op for d in NOMA_DIALECTS for op in d.operations]
    attrs = [attr for d in NOMA_DIALECTS for attr in d.attributes]
    return Dialect("noma", ops, attrs)


def _noma_only_passes() -> dict[str, Callable[[], type[ModulePass]]]:
    upstream = get_all_passes()
    return {name: factory for name, factory in ALL_PASSES.items() if name not in upstream}


NOMA_UNIVERSE = Universe(
    all_dialects={"noma": noma_dialect},
    all_passes=_noma_only_passes(),
)
