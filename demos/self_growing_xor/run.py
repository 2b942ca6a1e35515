#!/usr/bin/env python3
"""Self-growing XOR: growth variants over several seeds, next to the baselines.

    python demos/self_growing_xor/run.py [--seeds 5] [--backend auto|interp|jit]

Runs every variant program of this folder (`VARIANTS`) with `nomac run
PROGRAM --seed N --loss-log ...` for seeds 0..N-1, the reference baselines
of ../shared/bench/baselines (numpy, and C++ when g++ is there; torch and
jax when installed) for seed 0, and writes into results/:

- `loss_curves.png`: the loss per Adam step (seed 0 with the baselines'
  curves, and the median over seeds with the min-max band);
- `results.md`: final loss, steps to reach loss < 0.002 and time per run;
- `runs.csv`: one row per NOMA run; `curves.csv`: every logged loss.

The loss curves come from `--loss-log`; when the chosen backend logs nothing
(a JIT whose native code does not report losses yet) they are taken from an
interpreter run of the same program and seed (the same numbers), and the
report says so. Needs matplotlib (`pip install -e '.[demos]'`).
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # demos/: demo_support.py
import demo_support as demo

HERE = Path(__file__).resolve().parent
BASELINES = demo.REPO.parent / "shared" / "bench" / "baselines"
THRESHOLD = 0.002
GROWTH_STEP = 200
TOTAL_STEPS = 320

#: Program (in this folder) -> what it does.
VARIANTS: dict[str, str] = {
    "preserve": "grow 2→16 at step 200, old weights keep their Adam state (NOMA's `realloc`)",
    "reset": "grow 2→16 at step 200, then `reset_optimizer()`",
    "function_preserving": "grow 2→16 at step 200, new outgoing weights `init zeros`",
    "plateau": "grow 2→16 inside the loop when the loss improved < 2 % in 20 steps",
    "small": "2 hidden units, no growth (control)",
    "large": "16 hidden units from the start (control)",
}

Curve = list[tuple[int, float]]  # (Adam updates done, loss)


@dataclass
class NomaRun:
    variant: str
    seed: int
    final_loss: float
    wall_s: float
    curve: Curve
    curve_backend: str
    grown_at: int | None = None


@dataclass
class BaselineRun:
    impl: str
    variant: str
    final_loss: float
    run_ms: float  # in-process median of a full run
    wall_s: float | None  # a whole `--quick --variant V` process
    curve: Curve = field(default_factory=list)


# ----------------------------------------------------------------- NOMA


def run_noma(variant: str, seed: int, backend: str, work: Path) -> NomaRun:
    """One run, in its own folder (the program writes final_loss.csv there)."""
    run = demo.run_logged(HERE / f"{variant}.noma", seed, backend, work)
    final = float((run.folder / "final_loss.csv").read_text())  # %.17g; stdout has %.10g
    # the losses after k updates, then the fresh forward pass after the last update
    curve: Curve = [*enumerate(run.losses), (len(run.losses), final)]
    grown = int(float(run.stdout.split()[0])) if variant == "plateau" else None
    return NomaRun(variant, seed, final, run.wall_s, curve, run.losses_backend, grown)


#: Times `reps` runs of one compiled program in a fresh process (stdout, where
#: the JIT's C runtime prints, goes to /dev/null); writes the times to argv[4].
_TIMER = """
import io, json, sys, time
from noma import driver
program, backend, reps, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ctx = driver.make_driver_context()
module = driver.load_module(program, ctx)
driver.run_passes(module, driver.default_pipeline(), ctx=ctx, verify_each=False)
if backend == "jit":
    from noma.backend.jit import compile_jit
    compiled = compile_jit(module)
    run = lambda: compiled.run(0)
else:
    from noma.backend.interp import run_module
    run = lambda: run_module(module, seed=0, stdout=io.StringIO(), stderr=io.StringIO())
run()
times = []
for _ in range(reps):
    start = time.perf_counter()
    run()
    times.append(time.perf_counter() - start)
json.dump(times, open(out, "w"))
"""


def run_time_ms(variant: str, backend: str, work: Path, reps: int) -> float:
    """Median time of one run of the compiled program (no start-up, no compilation)."""
    folder = work / f"timing_{variant}"
    folder.mkdir()
    out = folder / "times.json"
    cmd = [
        sys.executable,
        "-c",
        _TIMER,
        str(HERE / f"{variant}.noma"),
        backend,
        str(reps),
        str(out),
    ]
    subprocess.run(cmd, cwd=folder, env=demo.checkout_env(), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=600)  # fmt: skip
    return statistics.median(json.loads(out.read_text())) * 1000.0


# ----------------------------------------------------------------- baselines


def run_baselines(work: Path, notes: list[str]) -> list[BaselineRun]:
    """The XOR baselines of ../shared/bench for seed 0 (preserve and reset)."""
    if not BASELINES.is_dir():
        notes.append(f"baselines skipped: {BASELINES} not found")
        return []
    runs: list[BaselineRun] = []
    programs: list[tuple[str, list[str]]] = [("numpy", [sys.executable, "xor_numpy.py"])]
    if shutil.which("g++"):
        exe = work / "xor_cpp"
        build = subprocess.run(
            ["g++", "-O3", "-march=native", "-std=c++17", "-o", str(exe), "xor_cpp.cpp"],
            cwd=BASELINES,
            capture_output=True,
            text=True,
        )
        if build.returncode == 0:
            programs.append(("cpp", [str(exe)]))
        else:
            notes.append(f"C++ baseline skipped: g++ failed: {build.stderr.strip()[:200]}")
    else:
        notes.append("C++ baseline skipped: no g++")
    for module, impl in (("torch", "torch"), ("jax", "jax")):
        if importlib.util.find_spec(module) is not None:
            programs.append((impl, [sys.executable, f"xor_{impl}.py"]))
        else:
            notes.append(f"{impl} baseline skipped: `{module}` is not installed")
    reps = {"numpy": "20", "cpp": "200", "torch": "5", "jax": "20"}
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    for impl, cmd in programs:
        out = work / f"baseline_{impl}"
        out.mkdir()
        variants = ["--variant", "preserve", "--variant", "reset"]
        args = [*cmd, "--reps", reps[impl], "--warmup", "2", "--outdir", str(out), *variants]
        proc = subprocess.run(args, cwd=BASELINES, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            notes.append(f"{impl} baseline failed: {proc.stderr.strip()[:200]}")
            continue
        result = json.loads((out / f"xor_{impl}.json").read_text())
        for variant, res in result["variants"].items():
            if not isinstance(res, dict) or "final_loss" not in res:
                continue  # jax nests its modes
            start = time.perf_counter()
            quick = [*cmd, "--quick", "--variant", variant]
            ok = subprocess.run(quick, cwd=BASELINES, capture_output=True, env=env).returncode
            wall = time.perf_counter() - start if ok == 0 else None
            curve_csv = out / f"xor_loss_{impl}_{variant}.csv"
            runs.append(
                BaselineRun(
                    impl,
                    variant,
                    float(res["final_loss"]),
                    float(res["run_us_median"]) / 1000.0,
                    wall,
                    read_baseline_curve(curve_csv) if curve_csv.is_file() else [],
                )
            )
    return runs


def read_baseline_curve(path: Path) -> Curve:
    """`step,loss,hidden` rows; at step 200 the second row (after the growth) wins."""
    points: dict[int, float] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            points[int(row["step"])] = float(row["loss"])
    return sorted(points.items())


# ----------------------------------------------------------------- report


def steps_to(curve: Curve, threshold: float = THRESHOLD) -> int | None:
    """The number of updates after which the loss is first below `threshold`."""
    return next((step for step, loss in curve if loss < threshold), None)


def report(
    runs: list[NomaRun],
    run_ms: dict[str, float],
    baselines: list[BaselineRun],
    backend: str,
    notes: list[str],
) -> str:
    seeds = sorted({r.seed for r in runs})
    by_variant = {v: [r for r in runs if r.variant == v] for v in VARIANTS}
    lines = [
        "# Self-growing XOR: results",
        "",
        f"NOMA backend: `{backend}`; seeds {seeds[0]}..{seeds[-1]} (`nomac run --seed N`); "
        f"{TOTAL_STEPS} Adam steps per run. Steps to < {THRESHOLD}: the number of Adam "
        "updates after which the loss (a fresh forward pass) is first below it "
        "(median over the seeds that reach it). Wall: one whole `nomac run` process "
        "(start-up, compilation and the run), median over seeds. Run: one run of the "
        "compiled program in a warm process (seed 0, median of repeated runs), "
        "comparable with the baselines' in-process time.",
        "",
        "| variant | what | final loss, seed 0 | final loss, mean ± sd | "
        f"steps to < {THRESHOLD} | wall per run (s) | run (ms) |",
        "|---|---|---|---|---|---|---|",
    ]
    for variant, what in VARIANTS.items():
        rs = by_variant[variant]
        if not rs:
            continue
        finals = [r.final_loss for r in rs]
        seed0 = next((r.final_loss for r in rs if r.seed == 0), float("nan"))
        sd = statistics.stdev(finals) if len(finals) > 1 else 0.0
        lines.append(
            f"| {variant} | {what} | {seed0:.6g} | {statistics.mean(finals):.4g} ± {sd:.2g} | "
            f"{demo.steps_summary([steps_to(r.curve) for r in rs], ' reached')} | "
            f"{statistics.median(r.wall_s for r in rs):.2f} | "
            f"{run_ms.get(variant, float('nan')):.3g} |"
        )
    lines += ["", "Final loss per seed:", ""]
    lines.append("| variant | " + " | ".join(f"seed {s}" for s in seeds) + " |")
    lines.append("|---|" + "---|" * len(seeds))
    for variant, rs in by_variant.items():
        if rs:
            cells = " | ".join(f"{r.final_loss:.4g}" for r in sorted(rs, key=lambda r: r.seed))
            lines.append(f"| {variant} | {cells} |")
    plateau = [r for r in by_variant["plateau"] if r.grown_at is not None]
    if plateau:
        grown = ", ".join(f"seed {r.seed}: {r.grown_at}" for r in plateau)
        lines += ["", f"Plateau variant, iteration of the growth: {grown}."]
    if baselines:
        lines += [
            "",
            "## Baselines (seed 0; ../shared/bench/baselines)",
            "",
            "| implementation | variant | final loss | difference to NOMA seed 0 | "
            f"steps to < {THRESHOLD} (10-step grid) | in-process run (ms) | process wall (s) |",
            "|---|---|---|---|---|---|---|",
        ]
        noma0 = {r.variant: r.final_loss for r in runs if r.seed == 0}
        for b in baselines:
            diff = abs(noma0[b.variant] - b.final_loss) if b.variant in noma0 else float("nan")
            reached = steps_to(b.curve)
            wall = f"{b.wall_s:.3f}" if b.wall_s is not None else "-"
            lines.append(
                f"| {b.impl} | {b.variant} | {b.final_loss:.17g} | {diff:.2g} | "
                f"{reached if reached is not None else 'never'} | {b.run_ms:.3f} | {wall} |"
            )
    curve_backends = sorted({r.curve_backend for r in runs})
    if curve_backends != [backend]:
        notes.append(
            f"the `{backend}` backend wrote no loss log rows, so the curves come from "
            "interpreter runs of the same programs and seeds (same numbers)"
        )
    return demo.with_notes(lines, notes)


def plot(runs: list[NomaRun], baselines: list[BaselineRun], path: Path) -> None:
    fig, (left, right), colors = demo.figure(VARIANTS, sharey=True)
    for r in runs:
        if r.seed == 0:
            steps, losses = zip(*r.curve, strict=True)
            left.plot(steps, losses, label=f"NOMA {r.variant}", color=colors[r.variant])
    markers = {"numpy": "o", "cpp": "x", "torch": "s", "jax": "^"}
    for b in baselines:
        if b.curve and b.impl in ("numpy", "cpp"):
            steps, losses = zip(*b.curve, strict=True)
            left.plot(
                steps,
                losses,
                linestyle="none",
                marker=markers.get(b.impl, "."),
                markersize=5,
                fillstyle="none",
                color=colors.get(b.variant, "black"),
                label=f"{b.impl} baseline {b.variant}",
            )
    left.set_title("seed 0 (markers: reference baselines, every 10 steps)")
    for variant in VARIANTS:
        curves = [r.curve for r in runs if r.variant == variant]
        if not curves:
            continue
        n = min(len(c) for c in curves)
        steps = [curves[0][i][0] for i in range(n)]
        columns = [[c[i][1] for c in curves] for i in range(n)]
        demo.plot_band(right, steps, columns, variant, colors[variant])
    seeds = len({r.seed for r in runs})
    right.set_title(f"median over {seeds} seeds (band: min to max)")
    for ax in (left, right):
        ax.set_yscale("log")
        ax.axvline(GROWTH_STEP, color="gray", linestyle=":", linewidth=1)
        ax.axhline(THRESHOLD, color="gray", linestyle="--", linewidth=1)
        ax.set_xlabel("Adam steps")
        ax.legend(fontsize=7)
    left.set_ylabel("loss (mean squared error)")
    fig.suptitle("Self-growing XOR: 2 → 16 hidden units")
    demo.save_figure(fig, path)


def write_tables(runs: list[NomaRun], results: Path) -> None:
    def blank_if_none(x: int | None) -> int | str:
        return "" if x is None else x

    demo.write_csv(
        results / "runs.csv",
        ["variant", "seed", "final_loss", "steps_to_0.002", "wall_s", "grown_at"],
        (
            [
                r.variant,
                r.seed,
                repr(r.final_loss),
                blank_if_none(steps_to(r.curve)),
                f"{r.wall_s:.3f}",
                blank_if_none(r.grown_at),
            ]
            for r in runs
        ),
    )
    demo.write_csv(
        results / "curves.csv",
        ["variant", "seed", "step", "loss"],
        ([r.variant, r.seed, step, repr(loss)] for r in runs for step, loss in r.curve),
    )


# ----------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = demo.parser(__doc__, 5, VARIANTS)
    ap.add_argument("--no-baselines", action="store_true", help="skip ../shared/bench")
    ap.add_argument("--results", type=Path, default=HERE / "results")
    args = ap.parse_args(argv)

    start = time.perf_counter()
    args.results.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="noma_xor_demo_") as tmp:
        work = Path(tmp)
        backend = demo.pick_backend(args.backend, work)
        if args.backend == "auto" and backend == "interp":
            notes.append("`--backend jit` does not work here; the interpreter ran everything")
        runs = []
        for variant in args.variants:
            for seed in range(args.seeds):
                run = run_noma(variant, seed, backend, work)
                print(f"  {variant:20s} seed {seed}: final loss {run.final_loss:.6g} "
                      f"({run.wall_s:.2f} s)", flush=True)  # fmt: skip
                runs.append(run)
        reps = 20 if backend == "jit" else 3
        run_ms = {v: run_time_ms(v, backend, work, reps) for v in args.variants}
        baselines = [] if args.no_baselines else run_baselines(work, notes)
        for b in baselines:
            print(f"  baseline {b.impl:6s} {b.variant:9s}: final loss {b.final_loss:.6g}")
    write_tables(runs, args.results)
    plot(runs, baselines, args.results / "loss_curves.png")
    return demo.write_report(args.results, report(runs, run_ms, baselines, backend, notes), start)


if __name__ == "__main__":
    sys.exit(main())
