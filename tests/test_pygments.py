"""The Pygments lexer (noma/pygments_lexer.py), found through its entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Comment, Error, Keyword, Name, Number, Operator, String

from noma import pygments_lexer
from noma.frontend import builtins, lexer

REPO = Path(__file__).resolve().parent.parent
CONFORMANCE = REPO.parent / "shared" / "conformance"
PYGMENTIZE = Path(sys.executable).parent / "pygmentize"

SAMPLE = """\
// train
fn main() {
    learn w = 1.5e-3; /* a
    block */
    optimize(w) with adam(0.01, beta2 = 0.99) until loss < .5 {
        let loss = (w - 2) ** 2 as f32;
        minimize loss;
    }
    print("w = \\"done\\"\\n");
}
"""


def tokens(text: str) -> list[tuple[object, str]]:
    return [(t, v) for t, v in get_lexer_by_name("noma").get_tokens(text) if v.strip()]


def test_found_by_name_and_filename() -> None:
    assert isinstance(get_lexer_by_name("noma"), pygments_lexer.NomaLexer)
    assert isinstance(get_lexer_for_filename("prog.noma"), pygments_lexer.NomaLexer)


def test_token_kinds() -> None:
    toks = tokens(SAMPLE)
    kinds = dict((v, t) for t, v in toks)
    assert kinds["// train"] in Comment
    assert kinds["fn"] in Keyword.Declaration and kinds["main"] in Name.Function
    assert kinds["learn"] in Keyword.Declaration and kinds["let"] in Keyword.Declaration
    for kw in ("optimize", "with", "until", "minimize", "as"):
        assert kinds[kw] in Keyword, kw
    assert kinds["f32"] in Keyword.Type
    assert kinds["adam"] in Name.Builtin and kinds["print"] in Name.Builtin
    for num in ("1.5e-3", "0.01", ".5", "2"):
        assert kinds[num] in Number, num
    assert kinds["**"] in Operator and kinds["<"] in Operator
    assert kinds["w"] is Name and kinds["beta2"] is Name
    assert any(t in Comment.Multiline for t, v in toks if "block" in v)
    assert any(t in String.Escape for t, v in toks if v == '\\"')
    assert not any(t in Error for t, _ in toks)


def test_vocabulary_matches_the_compiler() -> None:
    words = set(pygments_lexer.KEYWORDS) | set(pygments_lexer.DECLARATIONS)
    assert words == set(lexer.KEYWORDS)
    named = set(builtins.UNARY) | set(builtins.BINARY) | set(builtins.OPTIMIZER_ARGS)
    named |= {name[2:] for name in dir(builtins.BuiltinGen) if name.startswith("b_")}
    assert named <= set(pygments_lexer.BUILTINS)


def test_every_example_lexes_without_errors() -> None:
    programs = sorted(REPO.glob("examples/*.noma")) + sorted(CONFORMANCE.glob("*.noma"))
    assert programs
    lexer_ = get_lexer_by_name("noma")
    for path in programs:
        bad = [v for t, v in lexer_.get_tokens(path.read_text()) if t in Error]
        assert not bad, f"{path.name}: {bad}"


def test_pygmentize_command(tmp_path: Path) -> None:
    if not PYGMENTIZE.exists():
        pytest.fail(f"{PYGMENTIZE} is missing; install the test extras")
    html = tmp_path / "hello.html"
    proc = subprocess.run(
        [str(PYGMENTIZE), "-l", "noma", "-f", "html", "-o", str(html), "examples/hello.noma"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert '<span class="kd">fn</span>' in html.read_text()
    proc = subprocess.run(
        [str(PYGMENTIZE), "-N", "prog.noma"], capture_output=True, text=True, timeout=60
    )
    assert proc.stdout.strip() == "noma"
