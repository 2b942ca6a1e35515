"""Time the self-growing XOR (examples/xor_grow_preserve.noma) through the JIT,
in-process: compile once, then `program.run(0)` many times with fd 1/2
sent to /dev/null; median per variant. Variants are interleaved so that
load from other processes hits them alike.

    python benchmarks/xor_fusion_bench.py [--reps 200] [--example PATH]
                                          [--variant fused --variant unfused]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from contextlib import contextmanager

from noma import driver
from noma.backend import jit, llvm_emit
from noma.dialects import make_context
from noma.passes import ALL_PASSES, DEFAULT_PIPELINE

FUSION = "noma-fuse-elementwise"


def compile_variant(path: str, fused: bool) -> tuple[jit.CompiledProgram, float]:
    start = time.perf_counter()
    module = driver.load_module(path)
    ctx = make_context()
    native = [p for p in llvm_emit.NATIVE_PIPELINE if fused or p != FUSION]
    for name in (*DEFAULT_PIPELINE, *native):
        ALL_PASSES[name]()().apply(ctx, module)
    program = jit.compile_jit(module)
    return program, time.perf_counter() - start


@contextmanager
def quiet():
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    try:
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, null):
            os.close(fd)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--example", default="examples/xor_grow_preserve.noma")
    ap.add_argument("--variant", action="append", choices=["fused", "unfused"])
    args = ap.parse_args()
    variants = args.variant or ["unfused", "fused"]
    programs = {}
    for v in variants:
        programs[v], secs = compile_variant(args.example, v == "fused")
        print(f"{v}: compile {secs * 1e3:.0f} ms")
    times: dict[str, list[float]] = {v: [] for v in variants}
    with quiet():
        for v in variants:  # warm-up
            for _ in range(5):
                programs[v].run(0)
        for _ in range(args.reps):
            for v in variants:
                t0 = time.perf_counter()
                status = programs[v].run(0)
                times[v].append(time.perf_counter() - t0)
                assert status == 0
    for v in variants:
        ts = sorted(times[v])
        med = statistics.median(ts) * 1e6
        print(
            f"{v}: median {med:.1f} us  (p10 {ts[len(ts) // 10] * 1e6:.1f}, "
            f"min {ts[0] * 1e6:.1f}) over {len(ts)} runs"
        )


if __name__ == "__main__":
    main()
