#!/usr/bin/env python3
"""Digits MLP grown mid-training: 16 -> 128 hidden units, against 128 from the start.

    python demos/digits_growth/run.py [--seeds 3] [--backend auto|interp|jit]

Runs every program of this folder (`VARIANTS`) with `nomac run PROGRAM
--seed N --loss-log ...` for seeds 0..N-1, in a scratch folder that holds
the data (../shared/bench/data/digits_X.csv, digits_Y.csv), and writes into
results/:

- `curves.png`: training loss and training accuracy per Adam step (median
  over the seeds, band from min to max);
- `results.md`: final loss and accuracy, the loss right after the growth,
  steps to reach 99 % training accuracy and to loss < 0.05, time per run,
  and a check against the NumPy baseline of ../shared/bench (the `large`
  program, seed 0, after 200 steps, is benchmark 2);
- `runs.csv`, `curves.csv`: the raw numbers.

Needs matplotlib (`pip install -e '.[demos]'`).
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # demos/: demo_support.py
import demo_support as demo

HERE = Path(__file__).resolve().parent
BENCH = demo.REPO.parent / "shared" / "bench"
DATA = [BENCH / "data" / "digits_X.csv", BENCH / "data" / "digits_Y.csv"]
GROWTH_STEP = 150
TOTAL_STEPS = 300
ACC_TARGET = 0.99
LOSS_TARGET = 0.05

VARIANTS: dict[str, str] = {
    "grow_preserve": "16 → 128 at step 150, Adam state kept (NOMA's `realloc`)",
    "grow_reset": "16 → 128 at step 150, then `reset_optimizer()`",
    "grow_function_preserving": "16 → 128 at step 150, new outgoing weights `init zeros`",
    "large": "128 hidden units from the start",
    "small": "16 hidden units, no growth",
}


@dataclass
class Run:
    variant: str
    seed: int
    final_loss: float
    final_acc: float
    wall_s: float
    loss: list[float]  # after k updates, k = 0..TOTAL_STEPS
    acc: list[float]  # the same for the training accuracy


def read_csv_numbers(path: Path) -> list[float]:
    return [float(x) for x in path.read_text().replace("\n", ",").split(",") if x.strip()]


def run_noma(variant: str, seed: int, backend: str, work: Path) -> Run:
    run = demo.run_logged(HERE / f"{variant}.noma", seed, backend, work, links=DATA, timeout=900)
    final = read_csv_numbers(run.folder / "final_loss.csv")[0]
    acc = read_csv_numbers(run.folder / "accuracy.csv")
    return Run(variant, seed, final, acc[-1], run.wall_s, [*run.losses, final], acc)


def numpy_baseline(notes: list[str]) -> tuple[float, float] | None:
    """Benchmark 2 by ../shared/bench/baselines/mlp_numpy.py: (final loss, accuracy)."""
    script = BENCH / "baselines" / "mlp_numpy.py"
    if not script.is_file():
        notes.append(f"NumPy baseline skipped: {script} not found")
        return None
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run(
        [sys.executable, script.name, "--quick"],
        cwd=script.parent,
        capture_output=True,
        text=True,
        env=env,
    )
    m = re.search(r"final_loss=(\S+) train_acc=(\S+)", proc.stdout)
    if proc.returncode != 0 or m is None:
        notes.append(f"NumPy baseline failed: {proc.stderr.strip()[:200]}")
        return None
    return float(m[1]), float(m[2])


# ----------------------------------------------------------------- report


def first(values: list[float], ok: Callable[[float], bool]) -> int | None:
    """The first step whose value is `ok`."""
    return next((k for k, x in enumerate(values) if ok(x)), None)


def mean_sd(values: list[float], fmt: str) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):{fmt}} ± {sd:.2g}"


def report(
    runs: list[Run], backend: str, baseline: tuple[float, float] | None, notes: list[str]
) -> str:
    seeds = sorted({r.seed for r in runs})
    lines = [
        "# Digits MLP grown mid-training: results",
        "",
        f"NOMA backend: `{backend}`; seeds {seeds[0]}..{seeds[-1]}; {TOTAL_STEPS} full-batch "
        f"Adam steps (lr 0.01) on the 1797 digits; growth at step {GROWTH_STEP}. Losses and "
        "accuracies are on the training set (there is no held-out split in the benchmark "
        "data), from a forward pass after k updates. Mean ± sd over seeds; step counts "
        "are medians over the seeds that reach the target. Wall: one whole `nomac run` "
        "process (start-up, compilation, data loading, 300 steps).",
        "",
        "| variant | what | final loss | final accuracy | loss at step 149 → 150 | "
        f"steps to accuracy ≥ {ACC_TARGET} | steps to loss < {LOSS_TARGET} | wall per run (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for variant, what in VARIANTS.items():
        rs = [r for r in runs if r.variant == variant]
        if not rs:
            continue
        jump = (
            statistics.mean(r.loss[GROWTH_STEP - 1] for r in rs),
            statistics.mean(r.loss[GROWTH_STEP] for r in rs),
        )
        lines.append(
            f"| {variant} | {what} | {mean_sd([r.final_loss for r in rs], '.4g')} | "
            f"{mean_sd([r.final_acc for r in rs], '.4f')} | {jump[0]:.4g} → {jump[1]:.4g} | "
            f"{demo.steps_summary([first(r.acc, lambda a: a >= ACC_TARGET) for r in rs])} | "
            f"{demo.steps_summary([first(r.loss, lambda x: x < LOSS_TARGET) for r in rs])} | "
            f"{statistics.median(r.wall_s for r in rs):.1f} |"
        )
    large0 = next((r for r in runs if r.variant == "large" and r.seed == 0), None)
    if baseline is not None and large0 is not None:
        loss200, acc200 = large0.loss[200], large0.acc[200]
        lines += [
            "",
            "Check against benchmark 2 (`large`, seed 0, after 200 steps, vs "
            "../shared/bench/baselines/mlp_numpy.py):",
            "",
            "| | loss after 200 steps | training accuracy |",
            "|---|---|---|",
            f"| NOMA `large` | {loss200:.17g} | {acc200:.6f} |",
            f"| NumPy baseline | {baseline[0]:.17g} | {baseline[1]:.6f} |",
            f"| difference | {abs(loss200 - baseline[0]):.2g} | {abs(acc200 - baseline[1]):.2g} |",
        ]
    return demo.with_notes(lines, notes)


def plot(runs: list[Run], path: Path) -> None:
    fig, (ax_loss, ax_acc), colors = demo.figure(VARIANTS)
    for variant in VARIANTS:
        rs = [r for r in runs if r.variant == variant]
        if not rs:
            continue
        for ax, series in ((ax_loss, [r.loss for r in rs]), (ax_acc, [r.acc for r in rs])):
            steps = list(range(min(len(s) for s in series)))
            cols = [[s[k] for s in series] for k in steps]
            demo.plot_band(ax, steps, cols, variant, colors[variant])
    ax_loss.set_yscale("log")
    ax_loss.set_ylabel("training loss (cross-entropy)")
    ax_acc.set_ylabel("training accuracy")
    ax_acc.set_ylim(0.8, 1.005)
    for ax in (ax_loss, ax_acc):
        ax.axvline(GROWTH_STEP, color="gray", linestyle=":", linewidth=1)
        ax.set_xlabel("Adam steps")
        ax.legend(fontsize=8)
    seeds = len({r.seed for r in runs})
    fig.suptitle(f"Digits MLP, hidden 16 → 128 at step {GROWTH_STEP} (median of {seeds} seeds)")
    demo.save_figure(fig, path)


def write_tables(runs: list[Run], results: Path) -> None:
    demo.write_csv(
        results / "runs.csv",
        ["variant", "seed", "final_loss", "final_accuracy", "wall_s"],
        (
            [r.variant, r.seed, repr(r.final_loss), repr(r.final_acc), f"{r.wall_s:.2f}"]
            for r in runs
        ),
    )
    demo.write_csv(
        results / "curves.csv",
        ["variant", "seed", "step", "loss", "accuracy"],
        (
            [r.variant, r.seed, k, repr(loss), repr(acc)]
            for r in runs
            for k, (loss, acc) in enumerate(zip(r.loss, r.acc, strict=True))
        ),
    )


def main(argv: list[str] | None = None) -> int:
    ap = demo.parser(__doc__, 3, VARIANTS)
    ap.add_argument("--no-baseline", action="store_true", help="skip the NumPy check")
    ap.add_argument("--results", type=Path, default=HERE / "results")
    args = ap.parse_args(argv)
    missing = [str(p) for p in DATA if not p.is_file()]
    if missing:
        raise SystemExit(f"data not found: {', '.join(missing)}")

    start = time.perf_counter()
    args.results.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="noma_digits_demo_") as tmp:
        work = Path(tmp)
        backend = demo.pick_backend(args.backend, work)
        runs = []
        for variant in args.variants:
            for seed in range(args.seeds):
                r = run_noma(variant, seed, backend, work)
                print(f"  {variant:26s} seed {seed}: loss {r.final_loss:.4g}, "
                      f"accuracy {r.final_acc:.4f} ({r.wall_s:.1f} s)", flush=True)  # fmt: skip
                runs.append(r)
    baseline = None if args.no_baseline else numpy_baseline(notes)
    write_tables(runs, args.results)
    plot(runs, args.results / "curves.png")
    return demo.write_report(args.results, report(runs, backend, baseline, notes), start)


if __name__ == "__main__":
    sys.exit(main())
