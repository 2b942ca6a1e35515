"""Standalone executables (`nomac build-exe`): object file + C runtime, linked by `cc`.

`build_executable` lowers the module, adds `i32 @main(i32, ptr)` calling
`noma_rt_main(argc, argv, @noma_entry, seed)` (runtime_c/noma_rt_main.c:
parses `--seed N`, then runs the program), emits a PIC object file for this
host (O3), and links it with the static runtime library and libm. The
executable is written atomically (a temporary file in the same folder,
then renamed) and needs no Python: `env -i ./prog` runs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from xdsl.dialects import llvm
from xdsl.dialects.builtin import IntegerAttr, IntegerType, ModuleOp, i64
from xdsl.ir import Block, Operation, Region

from noma.backend import llvm_emit
from noma.diagnostics import CompileError

PTR = llvm.LLVMPointerType()
I32 = IntegerType(32)
RT_MAIN = "noma_rt_main"


def main_function(seed: int) -> list[Operation]:
    """`main` and the declaration of `noma_rt_main`, as llvm-dialect ops."""
    signed = (seed & ((1 << 64) - 1)) - ((1 << 64) if seed & (1 << 63) else 0)
    block = Block(arg_types=[I32, PTR])
    entry = llvm.AddressOfOp("noma_entry", PTR)
    default_seed = llvm.ConstantOp(IntegerAttr(signed, i64), i64)
    call = llvm.CallOp(RT_MAIN, *block.args, entry, default_seed, return_type=I32)
    assert call.returned is not None
    block.add_ops([entry, default_seed, call, llvm.ReturnOp(call.returned)])
    external = llvm.LinkageAttr("external")
    declaration = llvm.FuncOp(
        RT_MAIN, llvm.LLVMFunctionType([I32, PTR, PTR, i64], I32), linkage=external
    )
    main = llvm.FuncOp(
        "main", llvm.LLVMFunctionType([I32, PTR], I32), linkage=external, body=Region(block)
    )
    return [declaration, main]


def find_cc() -> str:
    cc = shutil.which("cc")
    if cc is None:
        raise CompileError("a C compiler (cc) is needed to build executables; none found on PATH")
    return cc


def build_executable(module: ModuleOp, out_path: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """Compile `module` (after `DEFAULT_PIPELINE`) into an executable at
    `out_path` whose default seed is `seed`; returns the path."""
    cc = find_cc()
    from noma.backend import rtbuild

    link_args = rtbuild.link_args()
    obj = llvm_emit.to_object(module, extra=main_function(seed))
    out = Path(out_path)
    folder = out.parent if str(out.parent) else Path(".")
    with tempfile.TemporaryDirectory(prefix="noma-exe-") as tmp:
        obj_path = Path(tmp) / "program.o"
        obj_path.write_bytes(obj)
        try:
            fd, partial = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=folder)
        except OSError as e:
            raise CompileError(f"cannot write '{out}': {e.strerror or e}") from None
        os.close(fd)
        try:
            _link(cc, obj_path, link_args, Path(partial))
            os.chmod(partial, 0o755)
            os.replace(partial, out)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
    return out


def _link(cc: str, obj: Path, link_args: list[str], out: Path) -> None:
    cmd = [cc, str(obj), *link_args, "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()
        raise CompileError(f"linking the executable with cc failed: {detail}")
