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

import argparse
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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
BASELINES = REPO.parent / "shared" / "bench" / "baselines"
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


def nomac(args: Sequence[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """`nomac ARGS` (this checkout) and its wall time in seconds."""
    environ = dict(os.environ)
    environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), environ.get("PYTHONPATH", "")) if p
    )
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "noma.cli", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return proc, time.perf_counter() - start


def jit_works(work: Path) -> bool:
    program = work / "probe.noma"
    program.write_text("fn main() { print(1 + 1); }\n")
    proc, _ = nomac(["run", str(program), "--backend", "jit"], work)
    return proc.returncode == 0 and proc.stdout == "2\n"


def read_loss_log(path: Path) -> Curve:
    """The loss after k updates for k = 0, 1, ... over all loops of the run
    (every program here ends its loops by max_iterations, so each logged
    iteration is followed by one update)."""
    curve: Curve = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            curve.append((len(curve), float(row["loss"])))
    return curve


def run_noma(variant: str, seed: int, backend: str, work: Path) -> NomaRun:
    """One run, in its own folder (the program writes final_loss.csv there)."""
    program = str(HERE / f"{variant}.noma")
    folder = work / f"{variant}_{seed}"
    folder.mkdir()
    log = folder / "loss.csv"
    args = ["run", program, "--seed", str(seed), "--backend", backend, "--loss-log", str(log)]
    proc, wall = nomac(args, folder)
    if proc.returncode != 0:
        raise SystemExit(f"{variant} seed {seed} failed:\n{proc.stderr}")
    lines = proc.stdout.split()
    final = float((folder / "final_loss.csv").read_text())  # %.17g; stdout has %.10g
    curve, curve_backend = read_loss_log(log), backend
    if not curve:  # this backend does not log yet: the interpreter computes the same numbers
        args[args.index("--backend") + 1] = "interp"
        again, _ = nomac(args, folder)
        if again.returncode != 0:
            raise SystemExit(f"{variant} seed {seed} (interp) failed:\n{again.stderr}")
        curve, curve_backend = read_loss_log(log), "interp"
    curve.append((len(curve), final))  # the fresh forward pass after the last update
    grown = int(float(lines[0])) if variant == "plateau" else None
    return NomaRun(variant, seed, final, wall, curve, curve_backend, grown)


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
    environ = dict(os.environ)
    environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), environ.get("PYTHONPATH", "")) if p
    )
    cmd = [
        sys.executable,
        "-c",
        _TIMER,
        str(HERE / f"{variant}.noma"),
        backend,
        str(reps),
        str(out),
    ]
    subprocess.run(cmd, cwd=folder, env=environ, check=True, stdout=subprocess.DEVNULL,
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


def summarize_steps(values: list[int | None]) -> str:
    reached = [v for v in values if v is not None]
    if not reached:
        return f"never (0/{len(values)})"
    return f"{statistics.median(reached):g} ({len(reached)}/{len(values)} reached)"


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
            f"{summarize_steps([steps_to(r.curve) for r in rs])} | "
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
    if notes:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def plot(runs: list[NomaRun], baselines: list[BaselineRun], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5), sharey=True)
    colors = dict(zip(VARIANTS, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False))
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
        right.plot(
            steps, [statistics.median(c) for c in columns], label=variant, color=colors[variant]
        )
        right.fill_between(
            steps,
            [min(c) for c in columns],
            [max(c) for c in columns],
            alpha=0.15,
            color=colors[variant],
        )
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
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_tables(runs: list[NomaRun], results: Path) -> None:
    with open(results / "runs.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["variant", "seed", "final_loss", "steps_to_0.002", "wall_s", "grown_at"])
        for r in runs:
            reached = steps_to(r.curve)
            w.writerow(
                [r.variant, r.seed, repr(r.final_loss), "" if reached is None else reached,
                 f"{r.wall_s:.3f}", "" if r.grown_at is None else r.grown_at]
            )  # fmt: skip
    with open(results / "curves.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["variant", "seed", "step", "loss"])
        for r in runs:
            w.writerows([r.variant, r.seed, step, repr(loss)] for step, loss in r.curve)


# ----------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    ap.add_argument("--backend", choices=["auto", "interp", "jit"], default="auto",
                    help="auto: jit when it works here, else interp")  # fmt: skip
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--no-baselines", action="store_true", help="skip ../shared/bench")
    ap.add_argument("--results", type=Path, default=HERE / "results")
    args = ap.parse_args(argv)

    start = time.perf_counter()
    args.results.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="noma_xor_demo_") as tmp:
        work = Path(tmp)
        backend = args.backend
        if backend == "auto":
            backend = "jit" if jit_works(work) else "interp"
            if backend == "interp":
                notes.append("`--backend jit` does not work here; the interpreter ran everything")
        print(f"backend: {backend}", flush=True)
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
    text = report(runs, run_ms, baselines, backend, notes)
    (args.results / "results.md").write_text(text, encoding="utf-8")
    print(text)
    print(f"wrote {args.results}/ in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
