"""What a name means at one point of a function during IR generation.

NOMA scopes are function-wide (like Python): the environment maps each name
to a binding, and control flow merges environments (see irgen.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.ir import SSAValue

from noma.dialects.common import rank_of
from noma.dialects.mem import BufferType


@dataclass(frozen=True)
class Value:
    """A pure value (scalar or tensor) held in SSA form."""

    value: SSAValue

    @property
    def rank(self) -> int | None:
        return rank_of(self.value.type)


@dataclass(frozen=True)
class Param:
    """A learnable parameter: a `noma.mem` buffer, never reassigned."""

    buffer: SSAValue
    name: str

    @property
    def rank(self) -> int | None:
        assert isinstance(self.buffer.type, BufferType)
        return self.buffer.type.value_rank()


@dataclass(frozen=True)
class Archive:
    """A safetensors file read by `load_safetensors`."""

    value: SSAValue
    path: str


@dataclass(frozen=True)
class Poison:
    """A name that may not be read here; `why` completes "`x` ...". """

    why: str


Binding = Value | Param | Archive | Poison

#: Pseudo-variables that carry an early `return` through structured control flow.
RET = "$ret"
DONE = "$done"


class Env:
    """name -> Binding, copied on entry to a nested block."""

    def __init__(self, bindings: dict[str, Binding] | None = None):
        self.bindings: dict[str, Binding] = dict(bindings or {})

    def copy(self) -> Env:
        return Env(self.bindings)

    def get(self, name: str) -> Binding | None:
        return self.bindings.get(name)

    def set(self, name: str, binding: Binding) -> None:
        self.bindings[name] = binding

    def params(self) -> list[Param]:
        return [b for b in self.bindings.values() if isinstance(b, Param)]

    def changed_names(self, before: Env) -> list[str]:
        """Names bound differently here than in `before`, in a stable order."""
        return [n for n, b in self.bindings.items() if before.bindings.get(n) is not b]
