"""Atomic writes (SPEC §8): killing a program in the middle of
`save_safetensors` of a large tensor leaves the previous file intact.

The program saves a 2e7-element tensor (160 MB) over the same file in an
endless loop. The test waits until the program's temporary file appears
in the folder (so the write is under way), then SIGKILLs it, and checks
that the file under the final name is a complete safetensors file that the
`safetensors` package reads: the one the test put there before, or one
that an earlier iteration finished. Left-over temporary files may exist (a
killed process cannot clean up) but never under the final name. Also: a
save that fails (no such folder, the path is a folder) is a clear error and
leaves the old file as it was.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from hardening_support import (
    NOMAC,
    Outcome,
    assert_user_error,
    build_exe,
    child_env,
    native_available,
)

safetensors_numpy = pytest.importorskip("safetensors.numpy")

ELEMENTS = 20_000_000
FINAL = "out.safetensors"

SAVE_LOOP = f"""fn main() {{
    let big = rand_tensor({ELEMENTS});
    let k = 0;
    while 1 {{
        big[0] = k;
        save_safetensors {{ w: big, k: k }}, "{FINAL}";
        print(k);
        k = k + 1;
    }}
}}
"""


def _write_previous(folder: Path) -> None:
    """The file that is there before the program runs."""
    safetensors_numpy.save_file(
        {"w": np.arange(5, dtype=np.float64), "k": np.array(-1.0)}, str(folder / FINAL)
    )


def _temp_files(folder: Path) -> list[str]:
    return [n for n in os.listdir(folder) if n not in (FINAL, "prog.noma", "prog")]


def _check_complete(folder: Path) -> float:
    """The final file is complete and consistent; returns its k."""
    tensors = safetensors_numpy.load_file(str(folder / FINAL))
    assert set(tensors) == {"w", "k"}, sorted(tensors)
    k = float(tensors["k"])
    if k == -1.0:
        assert np.array_equal(tensors["w"], np.arange(5, dtype=np.float64))
    else:
        assert tensors["w"].shape == (ELEMENTS,)
        assert float(tensors["w"][0]) == k
    return k


def _kill_mid_write(cmd: list[str], folder: Path, after_save: bool) -> float:
    """Run `cmd` (after one finished save when `after_save`: the final name
    then points to another file), SIGKILL it while a save is being written;
    returns the k of the file left under the final name."""
    before = os.stat(folder / FINAL).st_ino
    proc = subprocess.Popen(
        cmd, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=child_env()
    )
    deadline = time.monotonic() + 120

    def wait_for(condition: object) -> None:
        while not condition():  # type: ignore[operator]
            assert proc.poll() is None, f"the program ended: {proc.communicate()}"
            assert time.monotonic() < deadline, "the program saved nothing in time"
            time.sleep(0.002)

    try:
        if after_save:
            wait_for(lambda: os.stat(folder / FINAL).st_ino != before)
        wait_for(lambda: any(os.path.getsize(folder / n) > 0 for n in _temp_files(folder)))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    k = _check_complete(folder)
    left = _temp_files(folder)
    for name in left:
        assert name.startswith("." + FINAL) or name.endswith(".tmp"), name
    # The kill landed mid-write: the partial temporary file is still there.
    assert left, "the kill came too late (no partial temporary file left)"
    return k


def _command(backend: str, folder: Path) -> list[str]:
    (folder / "prog.noma").write_text(SAVE_LOOP, encoding="utf-8")
    if backend == "interp":
        return [*NOMAC, "run", "--backend", "interp", "prog.noma"]
    why = native_available()
    if why is not None:
        pytest.skip(why)
    if backend == "jit":
        return [*NOMAC, "run", "--backend", "jit", "prog.noma"]
    return [str(build_exe(folder / "prog.noma", folder / "prog"))]


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
@pytest.mark.parametrize("backend", ["interp", "jit", "exe"])
def test_kill_during_save_keeps_the_previous_file(tmp_path: Path, backend: str) -> None:
    cmd = _command(backend, tmp_path)
    _write_previous(tmp_path)
    # Killed during the first save: the file from before is intact.
    assert _kill_mid_write(cmd, tmp_path, after_save=False) == -1.0
    # Killed during a later save: the last complete save is there.
    for name in _temp_files(tmp_path):
        os.unlink(tmp_path / name)
    assert _kill_mid_write(cmd, tmp_path, after_save=True) >= 0.0


FAILING_SAVES = [
    ("no_such_folder", 'save_csv tensor [1, 2], "no_such_folder/out.csv";', "no_such_folder"),
    ("path_is_a_folder", 'save_safetensors { a: tensor [1, 2] }, "a_folder";', "a_folder"),
]


@pytest.mark.parametrize(
    ("name", "statement", "path"), FAILING_SAVES, ids=[c[0] for c in FAILING_SAVES]
)
def test_failed_save_is_a_clear_error(tmp_path: Path, name: str, statement: str, path: str) -> None:
    (tmp_path / "a_folder").mkdir()
    (tmp_path / "a_folder" / "keep.txt").write_text("kept")
    program = f'fn main() {{\n    print("start");\n    {statement}\n    print("after");\n}}\n'
    (tmp_path / "prog.noma").write_text(program, encoding="utf-8")
    proc = subprocess.run(
        [*NOMAC, "run", "--backend", "interp", "prog.noma"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=120,
        check=False,
    )
    outcome = Outcome(proc.returncode, proc.stdout, proc.stderr)
    assert_user_error(outcome, file="prog.noma", line=3, phrase=path)
    assert outcome.stdout == "start\n", outcome.describe()
    assert (tmp_path / "a_folder" / "keep.txt").read_text() == "kept"
    assert sorted(os.listdir(tmp_path)) == ["a_folder", "prog.noma"]
