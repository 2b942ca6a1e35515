"""The documentation: generated pages are up to date, links resolve."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"


def load_script(name: str) -> ModuleType:
    path = REPO / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"noma_scripts_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("script", "page"),
    [("gen_dialect_docs", "dialects.md"), ("gen_pass_docs", "passes.md")],
)
def test_generated_page_is_up_to_date(script: str, page: str) -> None:
    generated = load_script(script).render()
    committed = (DOCS / page).read_text(encoding="utf-8")
    assert committed == generated, (
        f"docs/{page} is out of date: run `python scripts/{script}.py` and commit the result"
    )


def test_every_op_and_pass_is_documented() -> None:
    from noma.dialects import NOMA_DIALECTS
    from noma.passes import ALL_PASSES

    dialects = (DOCS / "dialects.md").read_text(encoding="utf-8")
    for dialect in NOMA_DIALECTS:
        for op in dialect.operations:
            assert f"### `{op.name}`" in dialects
            assert (op.__doc__ or "").strip(), f"{op.name} has no docstring"
    passes = (DOCS / "passes.md").read_text(encoding="utf-8")
    for name in ALL_PASSES:
        assert f"`{name}`" in passes


def markdown_files() -> list[Path]:
    return [REPO / "README.md", *sorted(DOCS.glob("*.md"))]


@pytest.mark.parametrize("page", markdown_files(), ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if "://" in target:
            continue
        assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def test_readme_lists_every_doc() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for page in sorted(DOCS.glob("*.md")):
        assert f"docs/{page.name}" in readme, f"README's Documentation list misses {page.name}"


_BLOCK = re.compile(r"```(\w*)\n(.*?)```", re.DOTALL)


def language_examples() -> list[tuple[str, str | None]]:
    """The ```noma blocks of docs/language.md, each with the ```output block
    right after it (if any)."""
    blocks = _BLOCK.findall((DOCS / "language.md").read_text(encoding="utf-8"))
    pairs = []
    for i, (lang, body) in enumerate(blocks):
        if lang == "noma":
            after = blocks[i + 1] if i + 1 < len(blocks) else ("", "")
            pairs.append((body, after[1] if after[0] == "output" else None))
    return pairs


@pytest.mark.parametrize(("source", "expected"), language_examples())
def test_language_guide_examples(source: str, expected: str | None) -> None:
    import noma

    program = noma.compile(source, filename="example.noma")
    if expected is not None:
        assert program.run(backend="interp").output == expected


def test_writing_a_pass_quotes_the_example_plugin() -> None:
    """The Python code docs/writing-a-pass.md shows is the plugin's own code,
    verbatim, so the walkthrough cannot drift from what the tests run."""
    page = (DOCS / "writing-a-pass.md").read_text(encoding="utf-8")
    plugin = (REPO / "tests" / "plugins" / "noma_example_plugin.py").read_text(encoding="utf-8")
    blocks = [body for lang, body in _BLOCK.findall(page) if lang == "python"]
    assert len(blocks) >= 4
    for body in blocks:
        assert body in plugin, f"not in the plugin:\n{body}"


def test_python_api_example() -> None:
    """The first example of docs/python-api.md gives what its comments say."""
    import shutil

    import numpy as np

    page = (DOCS / "python-api.md").read_text(encoding="utf-8")
    code = next(body for lang, body in _BLOCK.findall(page) if lang == "python")
    if shutil.which("cc") is None:  # the JIT needs a C compiler; same results
        code = code.replace("program.run(seed=0)", "program.run(seed=0, backend='interp')")
    namespace: dict[str, Any] = {}
    exec(compile(code, "python-api.md", "exec"), namespace)
    result = namespace["result"]
    assert "result.output       # 'trained\\n9.935471629e-06\\n'" in code
    assert result.output == "trained\n9.935471629e-06\n"
    assert result.value == pytest.approx(9.93547162862192e-06, rel=1e-9)
    assert set(result.params) == {"w", "b"}
    np.testing.assert_allclose(result.params["w"], [[1.99735384]], rtol=1e-8)
    assert result.params["b"] == pytest.approx(1.0050567914205355, rel=1e-9)
