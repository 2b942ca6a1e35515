"""The JIT backend (`nomac run`): the whole program as native code in-process.

`run_module_jit` lowers the module (`llvm_emit.NATIVE_PIPELINE`), optimizes
it at O3 for the host CPU, compiles it with MCJIT, loads the C runtime
(`rtbuild.shared_library_path()`) into the process and calls
`noma_rt_run(&noma_entry, seed)` once through ctypes: no Python runs per
iteration or per op. The runtime prints (C stdio, flushed at the end) and
reports user errors itself; the result is the exit status (0 ok, 1 error).
"""

from __future__ import annotations

import ctypes
import functools
import sys
from dataclasses import dataclass

import llvmlite.binding as llvm
from xdsl.dialects.builtin import ModuleOp

from noma.backend import llvm_emit

ENTRY_SYMBOL = "noma_entry"
_U64 = (1 << 64) - 1


@dataclass
class CompiledProgram:
    """A program compiled in this process; keep it alive while it runs."""

    engine: llvm.ExecutionEngine
    runtime: ctypes.CDLL
    entry: int

    def __post_init__(self) -> None:
        run = self.runtime.noma_rt_run
        run.argtypes = [ctypes.c_void_p, ctypes.c_uint64]
        run.restype = ctypes.c_int
        self._run = run

    def run(self, seed: int = 0) -> int:
        """Run the entry function with the RNG seeded by `seed` (mod 2^64)."""
        _flush_python()
        status = int(self._run(self.entry, seed & _U64))
        _flush_c()
        return status


def load_runtime() -> ctypes.CDLL:
    """The C runtime, loaded into the process (its symbols visible to JIT code)."""
    from noma.backend import rtbuild

    path = str(rtbuild.shared_library_path())
    llvm.load_library_permanently(path)
    return ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)


def compile_jit(module: ModuleOp, level: int = llvm_emit.DEFAULT_OPT_LEVEL) -> CompiledProgram:
    """Lower and compile `module` for this process."""
    runtime = load_runtime()
    tm = llvm_emit.host_target_machine(level, codemodel="jitdefault")
    ref = llvm_emit.compile_module(module, tm, level)
    _check_symbols(ref)
    engine = llvm.create_mcjit_compiler(ref, tm)  # owns `tm` from here on
    engine.finalize_object()
    entry = engine.get_function_address(ENTRY_SYMBOL)
    if not entry:
        raise RuntimeError(f"the compiled module has no {ENTRY_SYMBOL}")
    return CompiledProgram(engine, runtime, entry)


def _check_symbols(ref: llvm.ModuleRef) -> None:
    """Every external function must resolve (MCJIT would call address 0)."""
    missing = [
        f.name
        for f in ref.functions
        if f.is_declaration
        and not f.name.startswith("llvm.")
        and not llvm.address_of_symbol(f.name)
    ]
    if missing:
        raise RuntimeError(f"the NOMA runtime does not define {', '.join(sorted(missing))}")


def run_module_jit(module: ModuleOp, *, seed: int = 0) -> int:
    """Compile and run a module (after `DEFAULT_PIPELINE`); the exit status:
    0 when it ran to the end, 1 after a user error (already reported on
    stderr by the runtime)."""
    return compile_jit(module).run(seed)


def _flush_python() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None)


def _flush_c() -> None:
    _libc().fflush(None)
