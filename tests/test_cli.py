"""The `nomac` command line and the driver API: error format, exit status,
`-o` atomicity, `--seed`, pipelines (docs/cli.md)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from noma import cli, driver
from noma.backend.runtime.fmt import format_number
from noma.backend.runtime.rng import NomaRng
from noma.diagnostics import CompileError

ROOT = Path(__file__).resolve().parents[1]

SYNTAX_ERROR = "fn main() {\n    let x = (1 + ;\n}\n"
HELLO = 'fn main() {\n    print("hi");\n    print(rand());\n}\n'
MLIR = """func.func @f(%a: f64) -> f64 {
  %0 = arith.addf %a, %a : f64
  %1 = arith.addf %a, %a : f64
  %2 = arith.mulf %0, %1 : f64
  func.return %2 : f64
}
"""


def nomac(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m noma.cli ARGS` in a fresh process."""
    environ = {k: v for k, v in os.environ.items() if k != "NOMA_DEBUG"}
    environ.update(PYTHONPATH=str(ROOT), **env)
    return subprocess.run(
        [sys.executable, "-m", "noma.cli", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------ error format


@pytest.mark.parametrize("mode", [["run"], []], ids=["run", "opt"])
def test_syntax_error_format(tmp_path: Path, mode: list[str]) -> None:
    write(tmp_path, "bad.noma", SYNTAX_ERROR)
    proc = nomac(*mode, "bad.noma", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [
        "error: unexpected ';' in expression at bad.noma:2:18",
        "      let x = (1 + ;",
        "                   ^",
    ]


def test_mlir_parse_error_format(tmp_path: Path) -> None:
    write(tmp_path, "bad.mlir", "func.func @f( {\n")
    proc = nomac("bad.mlir", cwd=tmp_path)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0] == "error: Expected argument or type at bad.mlir:1:15"
    assert lines[1:] == ["  func.func @f( {", "                ^"]


def test_missing_input(tmp_path: Path) -> None:
    proc = nomac("run", "nothere.noma", cwd=tmp_path)
    assert (proc.returncode, proc.stderr) == (
        1,
        "error: cannot read 'nothere.noma': no such file\n",
    )


def test_usage_error_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--no-such-option"]) == 2
    assert "No such option" in capsys.readouterr().err


def test_internal_error_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(driver, "print_module", broken)
    monkeypatch.delenv("NOMA_DEBUG", raising=False)
    path = write(tmp_path, "f.mlir", MLIR)
    assert cli.main([str(path)]) == 2
    assert capsys.readouterr().err == "internal compiler error: RuntimeError: boom\n"
    monkeypatch.setenv("NOMA_DEBUG", "1")
    assert cli.main([str(path)]) == 2
    assert "Traceback" in capsys.readouterr().err


# ------------------------------------------------------------------ -o


def test_output_file_written(tmp_path: Path) -> None:
    path = write(tmp_path, "f.mlir", MLIR)
    out = tmp_path / "out.mlir"
    assert cli.main([str(path), "-p", "cse", "-o", str(out)]) == 0
    assert "arith.mulf %0, %0" in out.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.mlir", "out.mlir"]


@pytest.mark.parametrize(
    "args",
    [["-p", "no-such-pass"], ["--emit", "llvm"], ["--verify-diagnostics"]],
    ids=["bad-pipeline", "bad-emit", "unexpected-diagnostic"],
)
def test_output_file_untouched_on_error(tmp_path: Path, args: list[str]) -> None:
    bad = write(tmp_path, "bad.mlir", MLIR.replace("%a, %a : f64\n  %1", "%a, %a : f32\n  %1"))
    out = write(tmp_path, "out.mlir", "previous contents\n")
    assert cli.main([str(bad), *args, "-o", str(out)]) == 1
    assert out.read_text() == "previous contents\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mlir", "out.mlir"]


def test_output_into_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "f.mlir", MLIR)
    assert cli.main([str(path), "-o", str(tmp_path / "no" / "out.mlir")]) == 1
    assert capsys.readouterr().err.startswith("error: cannot write ")


# ------------------------------------------------------------------ run, --seed


def test_seed_reaches_the_backend(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import noma.backend.interp as interp

    seen: list[int] = []
    monkeypatch.setattr(interp, "run_module", lambda module, *, seed, **kw: seen.append(seed))
    path = write(tmp_path, "p.noma", HELLO)
    interp_run = ["run", str(path), "--backend", "interp"]
    assert cli.main([*interp_run, "--seed", "42"]) == 0
    assert cli.main([*interp_run, "--seed", "-3"]) == 0
    assert cli.main(interp_run) == 0
    assert seen == [42, -3, 0]


@pytest.mark.parametrize("seed", [0, 7, -1])
def test_seed_end_to_end(tmp_path: Path, seed: int) -> None:
    write(tmp_path, "p.noma", HELLO)
    proc = nomac("run", "p.noma", "--seed", str(seed), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"hi\n{format_number(NomaRng(seed).uniform())}\n"


@pytest.mark.skipif(shutil.which("cc") is None, reason="the JIT's runtime needs a C compiler")
def test_jit_backend(tmp_path: Path) -> None:
    write(tmp_path, "p.noma", HELLO)
    proc = nomac("run", "p.noma", "--backend", "jit", "--seed", "7", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"hi\n{format_number(NomaRng(7).uniform())}\n"


def test_unknown_backend(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "p.noma", HELLO)
    assert cli.main(["run", str(path), "--backend", "gpu"]) == 1
    assert capsys.readouterr().err.startswith("error: unknown backend 'gpu'")


def test_run_program_api(tmp_path: Path) -> None:
    import io

    out, err = io.StringIO(), io.StringIO()
    path = write(tmp_path, "p.noma", 'fn main() { print("a"); return 2; }\n')
    assert driver.run_program(str(path), stdout=out, stderr=err) == 0
    assert (out.getvalue(), err.getvalue()) == ("a\n2\n", "")
    bad = write(tmp_path, "bad.noma", SYNTAX_ERROR)
    assert driver.run_program(str(bad), stdout=out, stderr=err) == 1
    assert err.getvalue().startswith("error: unexpected ';'")


def test_python_dash_m_noma(tmp_path: Path) -> None:
    write(tmp_path, "p.noma", 'fn main() { print("ok"); }\n')
    proc = subprocess.run(
        [sys.executable, "-m", "noma", "run", "p.noma"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (proc.returncode, proc.stdout) == (0, "ok\n"), proc.stderr


@pytest.mark.skipif(not hasattr(__import__("signal"), "SIGPIPE"), reason="needs SIGPIPE")
@pytest.mark.parametrize("backend", ["interp", "jit"])
def test_closed_output_pipe_ends_quietly(tmp_path: Path, backend: str) -> None:
    """`nomac run prog.noma | head -1`: killed by SIGPIPE like an executable,
    not an `internal compiler error: BrokenPipeError` (docs/cli.md)."""
    import signal

    write(tmp_path, "many.noma", "fn main() {\n  let i = 0;\n  while i < 1e6 { print(i); i = i + 1; }\n}\n")
    environ = {**os.environ, "PYTHONPATH": str(ROOT)}
    environ.pop("NOMA_DEBUG", None)
    with subprocess.Popen(
        [sys.executable, "-m", "noma.cli", "run", "--backend", backend, "many.noma"],
        cwd=tmp_path,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline() == "0\n"
        proc.stdout.close()
        err = proc.stderr.read()
        assert proc.wait(timeout=300) == -signal.SIGPIPE
    assert "error" not in err and "Traceback" not in err


# ------------------------------------------------------------------ pipelines


@pytest.mark.parametrize(
    "spec",
    [
        "arith-add-fastmath{flags=fast},cse",
        "builtin.module(arith-add-fastmath{flags=fast},cse)",
        "builtin.module( arith-add-fastmath{flags=fast} , cse )",
    ],
)
def test_pipeline_spellings(spec: str) -> None:
    passes = driver.parse_pipeline(spec)
    assert [p.name for p in passes] == ["arith-add-fastmath", "cse"]
    assert passes[0].flags == "fast"


def test_empty_pipeline() -> None:
    assert driver.parse_pipeline("") == []
    assert driver.parse_pipeline("builtin.module()") == []


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("bogus", "unknown pass 'bogus' (`nomac --list-passes` lists them)"),
        ("noma-inlin", "unknown pass 'noma-inlin'; did you mean 'noma-inline'?"),
        ("cse{x=1}", "bad options for pass 'cse'"),
        ("cse,,dce", "bad pass pipeline 'cse,,dce': Expected pass name here (column 5)"),
        ("builtin.module(cse", "bad pass pipeline 'builtin.module(cse'"),
    ],
)
def test_pipeline_errors(spec: str, message: str) -> None:
    with pytest.raises(CompileError) as info:
        driver.parse_pipeline(spec)
    assert message in info.value.message


def test_pipeline_error_on_command_line(tmp_path: Path) -> None:
    write(tmp_path, "f.mlir", MLIR)
    proc = nomac("f.mlir", "--pass-pipeline", "builtin.module(cse,,dce)", cwd=tmp_path)
    assert proc.returncode == 1
    assert (
        proc.stderr == "error: bad pass pipeline 'cse,,dce': Expected pass name here (column 5)\n"
    )


@pytest.mark.parametrize(
    ("spec", "stripped"),
    [
        ("builtin.module(a,b{x=1})", "a,b{x=1}"),
        ("a,b", "a,b"),
        ("builtin.module(a),builtin.module(b)", "builtin.module(a),builtin.module(b)"),
    ],
)
def test_strip_module_wrapper(spec: str, stripped: str) -> None:
    assert driver.strip_module_wrapper(spec) == stripped


# ------------------------------------------------------------------ split input, diagnostics


def test_split_input_keeps_line_numbers() -> None:
    source = driver.Source("x.mlir", "a\n// -----\nb\nc\n  // -----  \nd", "mlir")
    chunks = [c.text.split("\n") for c in driver.split_input(source)]
    assert chunks == [["a"], ["", "", "b", "c"], ["", "", "", "", "", "d"]]


def test_expected_diagnostics_lines() -> None:
    text = (
        "x // expected-error {{same}}\n"
        "// expected-error @+2 {{two below}}\n"
        "// expected-error @above {{above}}\n"
        "// expected-error @below {{below}}\n"
    )
    found = driver.expected_diagnostics(driver.Source("x.mlir", text, "mlir"))
    assert [(e.message, e.line) for e in found] == [
        ("same", 1),
        ("two below", 4),
        ("above", 2),
        ("below", 5),
    ]
