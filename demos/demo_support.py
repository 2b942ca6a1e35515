"""What the demos' run.py scripts share: running this checkout's `nomac`
with a loss log, choosing the backend, and writing tables, plots and the
report.

The scripts are run as files (`python demos/NAME/run.py`), so each puts
demos/ on sys.path before importing this module.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def checkout_env() -> dict[str, str]:
    """The environment, with this checkout first on PYTHONPATH."""
    environ = dict(os.environ)
    environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), environ.get("PYTHONPATH", "")) if p
    )
    return environ


def nomac(
    args: Sequence[str], cwd: Path, timeout: float = 600
) -> tuple[subprocess.CompletedProcess[str], float]:
    """`nomac ARGS` (this checkout) and its wall time in seconds."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "noma.cli", *args],
        cwd=cwd,
        env=checkout_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return proc, time.perf_counter() - start


def jit_works(work: Path) -> bool:
    program = work / "probe.noma"
    program.write_text("fn main() { print(1 + 1); }\n")
    proc, _ = nomac(["run", str(program), "--backend", "jit"], work)
    return proc.returncode == 0 and proc.stdout == "2\n"


def pick_backend(requested: str, work: Path) -> str:
    """`requested`, where `auto` is the JIT when it works here, else the
    interpreter; printed."""
    backend = requested
    if backend == "auto":
        backend = "jit" if jit_works(work) else "interp"
    print(f"backend: {backend}", flush=True)
    return backend


@dataclass
class LoggedRun:
    folder: Path  # where it ran: the files the program writes are there
    stdout: str
    wall_s: float
    #: The loss after k updates for k = 0, 1, ... over all loops of the run
    #: (every demo program ends its loops by max_iterations, so each logged
    #: iteration is followed by one update).
    losses: list[float]
    losses_backend: str  # the backend that logged them


def run_logged(
    program: Path,
    seed: int,
    backend: str,
    work: Path,
    links: Sequence[Path] = (),
    timeout: float = 600,
) -> LoggedRun:
    """`nomac run PROGRAM --seed SEED --backend BACKEND --loss-log ...` in a
    folder of its own under `work` (with symbolic links to `links`). When
    the backend logs nothing (native code that does not report losses yet),
    the losses come from an interpreter run of the same program and seed,
    which computes the same numbers."""
    name = f"{program.stem} seed {seed}"
    folder = work / f"{program.stem}_{seed}"
    folder.mkdir()
    for target in links:
        os.symlink(target, folder / target.name)
    log = folder / "loss.csv"
    args = ["run", str(program), "--seed", str(seed), "--backend", backend, "--loss-log", str(log)]
    proc, wall = nomac(args, folder, timeout)
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed:\n{proc.stderr}")
    losses, losses_backend = read_loss_log(log), backend
    if not losses:
        args[args.index("--backend") + 1] = "interp"
        again, _ = nomac(args, folder, timeout)
        if again.returncode != 0:
            raise SystemExit(f"{name} (interp) failed:\n{again.stderr}")
        losses, losses_backend = read_loss_log(log), "interp"
    return LoggedRun(folder, proc.stdout, wall, losses, losses_backend)


def read_loss_log(path: Path) -> list[float]:
    with open(path, newline="") as f:
        return [float(row["loss"]) for row in csv.DictReader(f)]


# ----------------------------------------------------------------- output


def parser(doc: str | None, seeds: int, variants: Iterable[str]) -> argparse.ArgumentParser:
    """The options every demo has: --seeds, --backend, --variants."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seeds", type=int, default=seeds, help=f"seeds 0..N-1 (default {seeds})")
    ap.add_argument("--backend", choices=["auto", "interp", "jit"], default="auto",
                    help="auto: jit when it works here, else interp")  # fmt: skip
    ap.add_argument("--variants", nargs="*", default=list(variants), choices=list(variants))
    return ap


def steps_summary(values: Sequence[int | None], reached_word: str = "") -> str:
    """The median of the step counts that are not None, and how many those are."""
    reached = [v for v in values if v is not None]
    if not reached:
        return f"never (0/{len(values)})"
    return f"{statistics.median(reached):g} ({len(reached)}/{len(values)}{reached_word})"


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def figure(variants: Iterable[str], **kwargs: Any) -> tuple[Any, Any, dict[str, str]]:
    """A figure with two plots side by side (matplotlib, no display), their
    axes, and a color per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 5), **kwargs)
    colors = dict(zip(variants, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False))
    return fig, axes, colors


def plot_band(
    ax: Any, steps: Sequence[int], columns: Sequence[Sequence[float]], label: str, color: str
) -> None:
    """The median of each column, in a band from its minimum to its maximum."""
    ax.plot(steps, [statistics.median(c) for c in columns], label=label, color=color)
    ax.fill_between(
        steps, [min(c) for c in columns], [max(c) for c in columns], color=color, alpha=0.15
    )


def save_figure(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def with_notes(lines: list[str], notes: Sequence[str]) -> str:
    """The report's text: `lines`, then the notes, if any."""
    if notes:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def write_report(results: Path, text: str, start: float) -> int:
    """Write and print results.md; say how long it all took (from `start`)."""
    (results / "results.md").write_text(text, encoding="utf-8")
    print(text)
    print(f"wrote {results}/ in {time.perf_counter() - start:.0f} s")
    return 0
