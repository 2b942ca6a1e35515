#!/usr/bin/env python3
"""NOMA against the reference baselines of ../shared/bench, side by side, in one run.

    python benchmarks/run_benchmarks.py [--reps N] [--no-baselines] [--out FILE.md]

Benchmark 1, the self-growing XOR (320 Adam steps with a growth 2 -> 16
hidden units): the NOMA programs examples/xor_grow_{preserve,reset}.noma are
compiled once by the JIT and their full run (seeding, init draws, both
phases, growth with state migration, final forward pass — the timed region
of the baselines) is timed in-process, median of --reps runs; the C++ and
NumPy baselines are built and run here and report their own medians of the
same region.

Benchmark 2, the digits MLP (64-128-10, full batch, Adam, 200 steps):
benchmarks/digits_mlp.noma with 200 and with 1 step, timed the same way;
NOMA's step time is (T(200) - T(1)) / 199, which leaves out loading the data,
the init draws and the final evaluation, as the baselines do. The NumPy and
PyTorch eager baselines (PyTorch if it is installed: the `bench` extra)
report their medians of single steps.

Also measured: the whole `nomac run examples/xor_grow_preserve.noma` process.
Prints a markdown table (and writes it with --out).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO.parent / "shared" / "bench"
BASELINES = BENCH / "baselines"
DATA = BENCH / "data"
XOR_VARIANTS = ("preserve", "reset")


# ----------------------------------------------------------------- NOMA, in-process


@contextlib.contextmanager
def quiet_fds() -> Iterator[None]:
    """Send fd 1 and 2 (the C runtime's stdout/stderr) to /dev/null."""
    sys.stdout.flush()
    sys.stderr.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    saved = os.dup(1), os.dup(2)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def compile_program(source_path: Path):
    """The JIT-compiled program of a .noma file (after the `nomac run` pipeline)."""
    from noma.backend.jit import compile_jit
    from noma.driver import default_pipeline, load_module, run_passes

    module = load_module(str(source_path))
    run_passes(module, default_pipeline(), verify_each=False)
    return compile_jit(module)


def median_seconds(run: Callable[[], object], reps: int, warmup: int = 3) -> float:
    times = []
    with quiet_fds():
        for i in range(warmup + reps):
            start = time.perf_counter()
            run()
            if i >= warmup:
                times.append(time.perf_counter() - start)
    return statistics.median(times)


def noma_xor(reps: int) -> dict[str, float]:
    """Median full-run time in µs per variant."""
    out = {}
    for variant in XOR_VARIANTS:
        program = compile_program(REPO / "examples" / f"xor_grow_{variant}.noma")
        out[variant] = median_seconds(lambda p=program: p.run(0), reps) * 1e6
    return out


def noma_mlp(reps: int) -> float:
    """Median time of one training step in ms."""
    template = (REPO / "benchmarks" / "digits_mlp.noma").read_text()
    medians = {}
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(DATA):
        for steps in (1, 200):
            path = Path(tmp) / f"mlp_{steps}.noma"
            path.write_text(template.replace("STEPS", str(steps)))
            program = compile_program(path)
            medians[steps] = median_seconds(lambda p=program: p.run(0), reps, warmup=1)
    return (medians[200] - medians[1]) / 199 * 1e3


def nomac_wall(reps: int = 5) -> float:
    """Median wall time of a whole `nomac run` process on the XOR example, in s."""
    argv = [sys.executable, "-m", "noma.cli", "run", "examples/xor_grow_preserve.noma"]
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        subprocess.run(argv, cwd=REPO, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# ----------------------------------------------------------------- baselines


def run_json(argv: list[str], outdir: Path, name: str) -> dict | None:
    proc = subprocess.run(argv, cwd=BASELINES, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"baseline failed: {' '.join(argv)}\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads((outdir / name).read_text())


def cpp_xor(outdir: Path, reps: int) -> dict | None:
    gxx = shutil.which("g++")
    if gxx is None:
        print("no g++: the C++ baseline is left out", file=sys.stderr)
        return None
    exe = outdir / "xor_cpp"
    subprocess.run(
        [gxx, "-O3", "-march=native", "-std=c++17", "-o", str(exe), "xor_cpp.cpp"],
        cwd=BASELINES,
        check=True,
    )
    variants = [a for v in XOR_VARIANTS for a in ("--variant", v)]
    return run_json(
        [str(exe), "--reps", str(reps), *variants, "--outdir", str(outdir)], outdir, "xor_cpp.json"
    )


def python_baseline(script: str, args: list[str], outdir: Path, name: str) -> dict | None:
    argv = [sys.executable, script, *args, "--outdir", str(outdir)]
    return run_json(argv, outdir, name)


def torch_available() -> bool:
    probe = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True)
    return probe.returncode == 0


def baselines(reps: int) -> dict[str, dict | None]:
    found: dict[str, dict | None] = {}
    with tempfile.TemporaryDirectory() as tmp:
        outdir = Path(tmp)
        variants = [a for v in XOR_VARIANTS for a in ("--variant", v)]
        found["xor_cpp"] = cpp_xor(outdir, max(reps * 5, 200))
        found["xor_numpy"] = python_baseline(
            "xor_numpy.py", ["--reps", str(max(reps // 4, 5)), *variants], outdir, "xor_numpy.json"
        )
        found["mlp_numpy"] = python_baseline(
            "mlp_numpy.py", ["--reps", "3"], outdir, "mlp_numpy.json"
        )
        if torch_available():
            found["mlp_torch"] = python_baseline(
                "mlp_torch.py", ["--mode", "eager", "--reps", "3"], outdir, "mlp_torch_eager.json"
            )
        else:
            print("torch is not installed: the PyTorch baseline is left out", file=sys.stderr)
            found["mlp_torch"] = None
    return found


# ----------------------------------------------------------------- report


def fmt_ratio(ours: float, theirs: float | None) -> str:
    return "-" if theirs is None else f"{ours / theirs:.2f}"


def xor_rows(noma: dict[str, float], base: dict[str, dict | None]) -> list[str]:
    rows = []
    cpp, npy = base.get("xor_cpp"), base.get("xor_numpy")
    for v in XOR_VARIANTS:
        c = cpp["variants"][v]["run_us_median"] if cpp else None
        n = npy["variants"][v]["run_us_median"] if npy else None
        rows.append(
            f"| XOR full run, {v} (µs) | {noma[v]:.1f} | {_num(c)} | {_num(n)} | "
            f"{fmt_ratio(noma[v], c)} | {fmt_ratio(noma[v], n)} |"
        )
    return rows


def mlp_row(ms: float, base: dict[str, dict | None]) -> str:
    torch, npy = base.get("mlp_torch"), base.get("mlp_numpy")
    t = torch["step_ms_median"] if torch else None
    n = npy["step_ms_median"] if npy else None
    return (
        f"| digits MLP step (ms) | {ms:.2f} | {_num(t)} | {_num(n)} | "
        f"{fmt_ratio(ms, t)} | {fmt_ratio(ms, n)} |"
    )


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def report(noma_x: dict[str, float], mlp_ms: float, wall: float, base: dict) -> str:
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Measured {when} on {platform.machine()}, {os.cpu_count()} cores "
        f"({_cpu_name()}), Python {platform.python_version()}.",
        "",
        "| benchmark | NOMA (JIT) | C++ / PyTorch eager | NumPy | NOMA ÷ C++ / PyTorch | "
        "NOMA ÷ NumPy |",
        "|---|---|---|---|---|---|",
        *xor_rows(noma_x, base),
        mlp_row(mlp_ms, base),
        "",
        f"Whole `nomac run examples/xor_grow_preserve.noma` (compile + run): {wall:.2f} s.",
        "",
        "XOR rows compare with the C++ baseline, the MLP row with PyTorch eager (2 threads).",
    ]
    return "\n".join(lines) + "\n"


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=100, help="timed runs per NOMA measurement")
    ap.add_argument("--no-baselines", action="store_true", help="time NOMA only")
    ap.add_argument("--out", help="also write the table to this markdown file")
    args = ap.parse_args()
    if not BENCH.is_dir():
        print(f"needs the baselines in {BENCH} (../shared/bench beside the repo)", file=sys.stderr)
        return 1
    base = {} if args.no_baselines else baselines(args.reps)
    text = report(noma_xor(args.reps), noma_mlp(max(args.reps // 20, 3)), nomac_wall(), base)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
