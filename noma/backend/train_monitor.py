"""Watching training loops: `nomac run --loss-log FILE.csv` and `--progress`.

A `TrainingMonitor` gets one call per `optimize` loop that starts
(`begin_loop`), one per iteration with the objective of `minimize`
(`record`), and one when the loop ends (`end_loop`). It

- writes the loss log, CSV with the header `loop,iteration,loss`: `loop`
  counts the loops in the order they start, from 0 for the whole run;
  `iteration` counts the iterations of that loop from 0; the loss is printed
  with `%.17g` (exact on reload). Every iteration has a row, also the last
  one, whose condition ended the loop (it makes no update), and one whose
  objective is NaN (the run then stops with an error);
- shows a progress line on a terminal stream: once a loop has run for
  `interval` seconds, one line (`optimize loop 0 at prog.noma:12:5:
  iteration 1234, loss 0.01234567`) is rewritten in place with `\\r` at most
  every `interval` seconds; when the loop ends the line is written a last
  time, with the final iteration, and ended with a newline. Loops shorter
  than `interval` show nothing.

`LossLogFile` is the file behind `--loss-log`: rows are appended to
`FILE.tmp` while the program runs (flushed about once a second, so a long
run can be followed with `tail -f FILE.tmp`), and `finish()` renames it to
FILE when the run ends, also when it ends with an error. FILE itself is
thus never half-written; only a killed process leaves `FILE.tmp` behind.

The interpreter calls the monitor only when one is installed
(`RuntimeState.monitor`); without one a loop costs one attribute test per
iteration. The JIT gets the same file through the environment variable
`NOMA_LOSS_LOG` read by the C runtime's `noma_rt_loss_log`.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import TextIO

from noma.diagnostics import NomaRuntimeError

HEADER = "loop,iteration,loss\n"
PROGRESS_INTERVAL = 0.1  # seconds between two updates of the progress line
FLUSH_INTERVAL = 1.0  # seconds between two flushes of the loss log


def format_row(loop: int, iteration: int, loss: float) -> str:
    """One row of the loss log (`%.17g`, as the C runtime writes it)."""
    return f"{loop},{iteration},{_g17(loss)}\n"


def _g17(x: float) -> str:
    if math.isnan(x):
        return "nan"
    return format(x, ".17g")


class LossLogFile:
    """`--loss-log PATH`: rows go to `PATH.tmp`, renamed to PATH by `finish()`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.tmp_path = tmp_path_for(path)
        try:
            self.stream: TextIO = open(self.tmp_path, "w", encoding="utf-8")
        except OSError as e:
            raise NomaRuntimeError(
                f"cannot write the loss log '{path}': {e.strerror or e}"
            ) from None
        self.stream.write(HEADER)

    def finish(self) -> None:
        """Close the file and give it its final name."""
        if self.stream.closed:
            return
        self.stream.close()
        try:
            os.replace(self.tmp_path, self.path)
        except OSError as e:
            raise NomaRuntimeError(
                f"cannot write the loss log '{self.path}': {e.strerror or e}"
            ) from None


def tmp_path_for(path: str) -> str:
    """Where the rows of the loss log `path` go while the program runs."""
    return path + ".tmp"


class TrainingMonitor:
    """The loss log and the progress line of one run (see the module docstring)."""

    def __init__(
        self,
        loss_log: TextIO | None = None,
        progress: TextIO | None = None,
        *,
        interval: float = PROGRESS_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.loss_log = loss_log
        self.progress = progress
        self.interval = interval
        self.clock = clock
        self.loop = -1  # number of the running (or last) loop
        self.where = ""
        self._running = False
        self._iteration = 0
        self._loss = math.nan
        self._started = 0.0
        self._shown_at: float | None = None  # when the progress line was last written
        self._shown_width = 0
        self._flushed_at = 0.0

    def begin_loop(self, where: str = "") -> None:
        """An optimize loop starts; `where` is its source location (for the progress line)."""
        self.end_loop()
        self.loop += 1
        self.where = where
        self._running = True
        self._iteration = 0
        self._loss = math.nan
        self._started = self.clock()
        self._shown_at = None
        self._shown_width = 0

    def record(self, iteration: int, loss: float) -> None:
        """The objective of iteration `iteration` (from 0) of the running loop."""
        self._iteration, self._loss = iteration, loss
        if self.loss_log is not None:
            self.loss_log.write(format_row(self.loop, iteration, loss))
        if self.progress is None and self.loss_log is None:
            return
        now = self.clock()
        if self.progress is not None:
            last = self._started if self._shown_at is None else self._shown_at
            if now - last >= self.interval:
                self._show(now)
        if self.loss_log is not None and now - self._flushed_at >= FLUSH_INTERVAL:
            self._flushed_at = now
            self.loss_log.flush()

    def end_loop(self) -> None:
        """The running loop has ended (normally, at its cap, or by an error)."""
        if not self._running:
            return
        self._running = False
        if self.progress is not None and self._shown_at is not None:
            self._show(self.clock())
            self.progress.write("\n")
            self.progress.flush()

    def close(self) -> None:
        """The run is over."""
        self.end_loop()
        if self.loss_log is not None:
            self.loss_log.flush()

    def _show(self, now: float) -> None:
        assert self.progress is not None
        where = f" at {self.where}" if self.where else ""
        text = (
            f"optimize loop {self.loop}{where}: iteration {self._iteration}, loss {self._loss:.8g}"
        )
        pad = max(self._shown_width - len(text), 0)
        self.progress.write("\r" + text + " " * pad)
        self.progress.flush()
        self._shown_width = len(text)
        self._shown_at = now
