"""Out-of-tree plugins: the worked example of docs/writing-a-pass.md
(tests/plugins/noma_example_plugin.py), loaded with `--load-plugin` (see
also tests/filecheck/plugins/) and through the `noma.plugins` entry point
group, as an installed plugin package would be."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PLUGINS = REPO / "tests" / "plugins"
NOMAC = Path(sys.executable).parent / "nomac"

PROGRAM = """\
fn main() {
    print("hello");
    learn w = 1;
    print(w);
    return w + 1;
}
"""


def nomac(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(NOMAC), *args], capture_output=True, text=True, timeout=120, env=env)


def fake_installed_plugin(site: Path, value: str, universe: str | None = None) -> None:
    """What `pip install` of a plugin package leaves: a dist-info folder
    whose entry_points.txt names the plugin in the group `noma.plugins`
    (and its universe in `xdsl.universe`)."""
    dist = site / "noma_example_plugin-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: noma-example-plugin\nVersion: 1.0\n"
    )
    text = f"[noma.plugins]\nexample = {value}\n"
    if universe is not None:
        text += f"\n[xdsl.universe]\nexample = {universe}\n"
    (dist / "entry_points.txt").write_text(text)


def plugin_env(site: Path) -> dict[str, str]:
    path = os.pathsep.join([str(site), str(PLUGINS), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path}


def test_load_plugin_by_path(tmp_path: Path) -> None:
    src = tmp_path / "prog.noma"
    src.write_text(PROGRAM)
    proc = nomac(
        str(src), "--load-plugin", str(PLUGINS / "noma_example_plugin.py"),
        "-p", "noma-inline,example-strip-prints{notes=true}",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert 'example.note "hello"' in proc.stdout
    assert "noma.io.print" not in proc.stdout


def test_entry_point_module(tmp_path: Path) -> None:
    fake_installed_plugin(tmp_path / "site", "noma_example_plugin")
    env = plugin_env(tmp_path / "site")
    proc = nomac("--list-passes", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "Plugin passes:\n  example-strip-prints  Remove every print" in proc.stdout
    src = tmp_path / "prog.noma"
    src.write_text(PROGRAM)
    proc = nomac(str(src), "-p", "example-strip-prints", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "noma.io.print" not in proc.stdout
    proc = nomac("--list-dialects", env=env)
    assert "example" in proc.stdout.split()


def test_entry_point_that_fails(tmp_path: Path) -> None:
    fake_installed_plugin(tmp_path / "site", "no_such_module_anywhere")
    proc = nomac("--list-passes", env=plugin_env(tmp_path / "site"))
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: cannot load plugin 'example' (no_such_module_anywhere)")


def test_plugin_pass_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """The plugin's pass through the driver API (what nomac does)."""
    from xdsl.dialects.builtin import ModuleOp

    from noma import driver

    # registrations last as long as the process: keep them to this test
    monkeypatch.setattr(driver, "_PLUGIN_PASSES", dict(driver._PLUGIN_PASSES))
    monkeypatch.setattr(driver, "_PLUGIN_DIALECTS", list(driver._PLUGIN_DIALECTS))
    monkeypatch.delitem(sys.modules, "noma_plugin_noma_example_plugin", raising=False)
    module = driver.load_plugin(str(PLUGINS / "noma_example_plugin.py"))
    assert driver.available_passes()["example-strip-prints"]() is module.StripPrintsPass
    program = driver.parse_source(driver.Source("p.noma", PROGRAM, "noma"))
    assert isinstance(program, ModuleOp)
    driver.run_passes(program, driver.parse_pipeline("noma-inline,example-strip-prints"))
    text = driver.print_module(program)
    assert "noma.io.print" not in text and "noma.train.param" in text


def test_plugin_universe_in_xdsl_opt(tmp_path: Path) -> None:
    """The plugin's `UNIVERSE` makes its pass and dialect available to the
    stock `xdsl-opt`, next to NOMA's."""
    site = tmp_path / "site"
    fake_installed_plugin(site, "noma_example_plugin", "noma_example_plugin:UNIVERSE")
    src = tmp_path / "prog.mlir"
    src.write_text(
        "func.func @main() {\n"
        '  noma.io.print_str "hi"\n'
        '  example.note "kept"\n'
        "  func.return\n"
        "}\n"
    )
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "xdsl-opt"), str(src), "-p",
         "example-strip-prints{notes=true}"],
        capture_output=True, text=True, timeout=120, env=plugin_env(site),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert 'example.note "hi"\n    example.note "kept"' in proc.stdout
    assert "noma.io.print_str" not in proc.stdout
