"""Resource limits and interruption, through the command line and executables.

- Out of memory: a tensor under the element limit but over what the
  process may allocate (an address-space cap stands in for a small machine)
  is a clear `error: out of memory ... at prog.noma:L:C`, status 1, not a
  crash. (Absurd dimensions, over the element limit, are in
  test_hardening_runtime_checks.py.)
- Ctrl-C: an endless `while` stops promptly on SIGINT with one line
  `interrupted` and status 130, in the interpreter, the JIT and executables
  (the C runtime's handler); never a traceback, and the lines printed
  before stay printed.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hardening_support import (
    NOMAC,
    Outcome,
    assert_user_error,
    build_exe,
    child_env,
    native_available,
)

CAP_BYTES = 3 << 30  # address space of the capped processes

OOM_PROGRAM = """fn main() {
    print("start");
    alloc a = [1e9];
    a[0] = 1;
    print(a[0]);
}
"""

# 1.6e9 elements (12.8 GB): under the element limit (2^31), over the cap
OOM_BROADCAST_PROGRAM = """fn main() {
    let a = rand_tensor(40000, 1);
    let b = rand_tensor(1, 40000);
    print("start");
    print(sum(a + b));
}
"""

LOOP_PROGRAM = """fn main() {
    print("started");
    let i = 0;
    while 1 {
        i = i + 1;
    }
}
"""

needs_rlimit = pytest.mark.skipif(
    not hasattr(os, "fork") or not Path("/proc/self").exists(),
    reason="needs POSIX resource limits (Linux)",
)


def _cap() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (CAP_BYTES, CAP_BYTES))


def run_capped(cmd: list[str], cwd: Path) -> Outcome:
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=120,
        env=child_env(),
        preexec_fn=_cap,
        check=False,
    )
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


def _native() -> None:
    why = native_available()
    if why is not None:
        pytest.skip(why)


BACKENDS = ["interp", "jit", "exe"]
OOM_CASES = [("alloc", OOM_PROGRAM, 3), ("broadcast", OOM_BROADCAST_PROGRAM, 5)]


@needs_rlimit
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("name", "program", "line"), OOM_CASES, ids=[c[0] for c in OOM_CASES])
def test_out_of_memory_is_a_clear_error(
    tmp_path: Path, backend: str, name: str, program: str, line: int
) -> None:
    (tmp_path / "prog.noma").write_text(program, encoding="utf-8")
    if backend == "interp":
        cmd = [*NOMAC, "run", "--backend", "interp", "prog.noma"]
    elif backend == "jit":
        _native()
        cmd = [*NOMAC, "run", "--backend", "jit", "prog.noma"]
    else:
        _native()
        cmd = [str(build_exe(tmp_path / "prog.noma", tmp_path / "prog"))]
    outcome = run_capped(cmd, tmp_path)
    assert_user_error(outcome, file="prog.noma", line=line, phrase="out of memory")
    assert outcome.stdout == "start\n", outcome.describe()


# ----------------------------------------------------------------- Ctrl-C


def interrupt(cmd: list[str], cwd: Path, wait: float = 30) -> tuple[Outcome, float]:
    """Start `cmd`, wait for its first line (at most `wait` seconds: output may
    be buffered), send SIGINT; (outcome, seconds from the signal to the exit)."""
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    try:
        assert proc.stdout is not None
        first = ""
        if select.select([proc.stdout], [], [], wait)[0]:
            first = proc.stdout.readline()
        time.sleep(1.0)  # well inside the endless loop
        assert proc.poll() is None, "the program ended by itself"
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        return Outcome(proc.returncode, first + out, err), time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name != "posix", reason="POSIX signals")
@pytest.mark.parametrize("backend", BACKENDS)
def test_ctrl_c_stops_an_endless_loop(tmp_path: Path, backend: str) -> None:
    (tmp_path / "loop.noma").write_text(LOOP_PROGRAM, encoding="utf-8")
    if backend == "exe":
        _native()
        cmd = [str(build_exe(tmp_path / "loop.noma", tmp_path / "loop"))]
    else:
        if backend == "jit":
            _native()
        cmd = [*NOMAC, "run", "--backend", backend, "loop.noma"]
    outcome, seconds = interrupt(cmd, tmp_path, wait=3 if backend == "exe" else 30)
    why = outcome.describe()
    assert seconds < 5, f"took {seconds:.1f} s to stop\n{why}"
    assert outcome.stdout == "started\n", why  # printed lines are not lost
    assert "Traceback" not in outcome.stderr, why
    assert outcome.status == 130, why
    assert outcome.stderr == "interrupted\n", why


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name != "posix", reason="POSIX signals")
def test_jit_embedded_keeps_the_hosts_sigint_handler(tmp_path: Path) -> None:
    """The runtime's Ctrl-C handler replaces only the default action: a host
    that handles SIGINT itself (Python running the JIT in-process) keeps its
    handler during and after the run."""
    _native()
    code = (
        "import signal\n"
        "from noma import api\n"
        "seen = []\n"
        "signal.signal(signal.SIGINT, lambda s, f: seen.append(s))\n"
        "handler = signal.getsignal(signal.SIGINT)\n"
        "prog = api.compile('fn main() { print(1); }')\n"
        "prog.run()\n"
        "assert signal.getsignal(signal.SIGINT) is handler\n"
        "signal.raise_signal(signal.SIGINT)\n"
        "assert seen == [signal.SIGINT], seen\n"
        "print('kept')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=child_env(),
        check=False,
    )
    assert proc.returncode == 0 and proc.stdout.endswith("kept\n"), proc.stdout + proc.stderr
