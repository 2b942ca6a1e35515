"""Fuzzing the frontend with broken programs (SPEC §11).

Inputs: random token streams (with and without a `fn main() { ... }`
around them), random text, and the conformance programs with one to four
mutations each (tokens deleted, duplicated, swapped or replaced, extreme
numbers, lines dropped or repeated, the text cut short). Every input must
end in success or a `NomaError` (a SPEC §11 report) within a time bound:
compiling it (parse, IR generation, verification, the default pipeline with
the IR verified after each pass) never raises anything else and never
hangs. Inputs that compile are also run by the interpreter (in a scratch
folder, with an address-space cap and a time limit, since a mutated program
may loop forever or ask for a huge tensor, which are the program's
business): the run may only end in output or a `NomaError`.

A last test feeds a batch of mutated programs through the real command
line (`nomac FILE --split-input-file` compiles each chunk on its own) and
checks that no chunk makes it print a traceback or an internal error.

CI runs a few hundred inputs; NOMA_FUZZ_EXAMPLES=N runs N per strategy.
"""

from __future__ import annotations

import contextlib
import random
import re
import shutil
from collections.abc import Iterator
from functools import cache
from io import StringIO
from pathlib import Path

import pytest
from hardening_support import CONFORMANCE, Hang, examples, run_cli, time_limit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.control import event as hypothesis_event

from noma import driver
from noma.backend.interp import run_module
from noma.diagnostics import NomaError
from noma.frontend.lexer import KEYWORDS, OPERATORS

COMPILE_LIMIT_S = 20.0
RUN_LIMIT_S = 3.0
RUN_MEMORY = 2 << 30  # bytes of address space a fuzzed program may add while it runs

if not CONFORMANCE.is_dir():
    pytest.skip(f"conformance suite not found at {CONFORMANCE}", allow_module_level=True)

SEEDS = sorted(CONFORMANCE.glob("*.noma"))
SOURCES = {p.name: p.read_text(encoding="utf-8") for p in SEEDS}
INPUTS = [p for p in CONFORMANCE.iterdir() if p.suffix in (".csv", ".safetensors")]

NAMES = (
    "main", "x", "y", "w", "b", "loss", "i", "f", "data", "m", "print", "sum", "mean", "dot",
    "matmul", "transpose", "softmax", "log_softmax", "dim", "rand", "rand_tensor",
    "rand_normal_tensor", "xavier_init", "he_init", "seed", "reset_optimizer", "sigmoid",
    "relu", "exp", "log", "sqrt", "pow", "min", "max", "sgd", "adam", "rmsprop", "zeros",
    "normal", "uniform", "f64", "i32", "max_iterations", "learning_rate", "optimizer", "_",
)  # fmt: skip
NUMBERS = (
    "0", "1", "2", "3", "0.5", ".5", "1e-8", "2.5E+3", "1e308", "1e-320", "1e400", "1e12",
    "99999999999999999999", "4294967296", "1.", "1e", "2x", "0x10", "007",
)  # fmt: skip
STRINGS = ('"a"', '"tmp_fuzz.csv"', '"tmp_fuzz.safetensors"', '"x\\n"', '"\\q"', '"open',
           '""', '"csv_comments_input.csv"')  # fmt: skip
ODD = ("@", "$", "`", "#", "'", "\\", "é", "λ", "\x00", "\t", "\r", "\x0b", "/*", "*/", "//",
       "\u202e", "\ufeff", "💥")  # fmt: skip
VOCAB = (
    *sorted(KEYWORDS), *OPERATORS, *OPERATORS, *NAMES, *NUMBERS, *STRINGS, *ODD,
    "fn main() {", "}", "{", ";", "\n", "tensor [", "[1, 2]", "[[1], [2, 3]]",
)  # fmt: skip
SPACES = (" ", " ", "\n", "", "\t", "  ", "\n\n")

# One piece of source text: a comment, string, number, word, operator or character.
_PIECE = re.compile(
    r"\s+|//[^\n]*|/\*.*?\*/|\"(?:\\.|[^\"\\\n])*\"?|[0-9.][0-9.eE+-]*|[A-Za-z_]\w*"
    r"|\*\*|==|!=|<=|>=|&&|\|\||.",
    re.DOTALL,
)


# ----------------------------------------------------------------- strategies


@st.composite
def token_streams(draw: st.DrawFn) -> str:
    tokens = draw(st.lists(st.sampled_from(VOCAB), max_size=60))
    parts = []
    for tok in tokens:
        parts += [tok, draw(st.sampled_from(SPACES))]
    body = "".join(parts)
    if draw(st.booleans()):
        return "fn main() {\n" + body + "\n}\n"
    return body


def pieces(text: str) -> list[str]:
    return _PIECE.findall(text)


@st.composite
def mutated_programs(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(sorted(SOURCES)))
    parts = pieces(SOURCES[name])
    for _ in range(draw(st.integers(1, 4))):
        parts = _mutate(draw, parts)
    return "".join(parts)


def _mutate(draw: st.DrawFn, parts: list[str]) -> list[str]:
    if not parts:
        return [draw(st.sampled_from(VOCAB))]
    kind = draw(st.sampled_from(["delete", "duplicate", "swap", "replace", "insert", "number",
                                 "line_drop", "line_dup", "truncate", "char"]))  # fmt: skip
    i = draw(st.integers(0, len(parts) - 1))
    j = draw(st.integers(0, len(parts) - 1))
    out = list(parts)
    if kind == "delete":
        del out[i]
    elif kind == "duplicate":
        out.insert(i, out[i])
    elif kind == "swap":
        out[i], out[j] = out[j], out[i]
    elif kind == "replace":
        out[i] = draw(st.sampled_from(VOCAB))
    elif kind == "insert":
        out.insert(i, draw(st.sampled_from(VOCAB)) + draw(st.sampled_from(SPACES)))
    elif kind == "number":
        numbers = [k for k, p in enumerate(out) if p[:1].isdigit()]
        if numbers:
            out[draw(st.sampled_from(numbers))] = draw(st.sampled_from(NUMBERS))
    elif kind in ("line_drop", "line_dup"):
        lines = "".join(out).split("\n")
        k = draw(st.integers(0, len(lines) - 1))
        if kind == "line_drop":
            del lines[k]
        else:
            lines.insert(k, lines[k])
        out = pieces("\n".join(lines))
    elif kind == "truncate":
        out = out[:i]
    else:  # one character of a piece replaced
        text = out[i]
        k = draw(st.integers(0, len(text) - 1))
        out[i] = text[:k] + draw(st.sampled_from(ODD + ("(", ")", "]", "{", "0"))) + text[k + 1 :]
    return out


# ----------------------------------------------------------------- the check


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch folder with the suite's input files, where fuzzed programs run."""
    folder = tmp_path_factory.mktemp("frontend-fuzz")
    for p in INPUTS:
        shutil.copy(p, folder / p.name)
    return folder


@contextlib.contextmanager
def memory_cap(extra: int) -> Iterator[None]:
    """Cap this process's address space at its current size plus `extra` bytes
    (Linux), so a fuzzed program asking for a huge tensor gets a MemoryError
    ("out of memory") instead of the machine's memory."""
    try:
        import resource

        with open("/proc/self/statm") as f:
            size = int(f.read().split()[0]) * resource.getpagesize()
        old = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError):
        yield
        return
    cap = size + extra
    if old[1] != resource.RLIM_INFINITY:
        cap = min(cap, old[1])
    resource.setrlimit(resource.RLIMIT_AS, (cap, old[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, old)


def event(what: str) -> None:
    """Count an outcome (`pytest --hypothesis-show-statistics` shows the counts)."""
    if currently_in_test_context():
        hypothesis_event(what)


def check_report(e: NomaError, text: str) -> None:
    report = e.format()
    assert report.startswith("error: ") and len(report) > len("error: "), report
    if e.loc is not None and e.loc.file in ("fuzz.noma", "fuzz.mlir"):
        assert 1 <= e.loc.line <= text.count("\n") + 1, report
        assert e.loc.col >= 1, report


def compile_and_run(text: str, workdir: Path, run: bool = True) -> None:
    """Success or a NomaError; anything else (or a hang) fails the test."""
    source = driver.Source("fuzz.noma", text, "noma")
    try:
        with time_limit(COMPILE_LIMIT_S):
            module = driver.parse_source(source)
            driver.run_passes(module, driver.default_pipeline(), verify_each=True)
    except NomaError as e:
        check_report(e, text)
        event("compile error")
        return
    except Hang:
        pytest.fail(f"compiling took longer than {COMPILE_LIMIT_S} s:\n{text}")
    if not run:
        return
    out = StringIO()
    with contextlib.chdir(workdir), memory_cap(RUN_MEMORY):
        try:
            with time_limit(RUN_LIMIT_S):
                run_module(module, seed=1, stdout=out, stderr=StringIO())
            event("compiled, ran to the end")
        except NomaError as e:
            check_report(e, text)
            event("compiled, run-time error")
        except Hang:
            # A mutated program may loop forever: that is not the compiler's fault.
            event("compiled, still running at the time limit")


def fuzz(default_examples: int) -> settings:
    return settings(
        max_examples=examples(default_examples),
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],  # fmt: skip
    )


@fuzz(150)
@given(text=token_streams())
def test_random_token_streams(workdir: Path, text: str) -> None:
    compile_and_run(text, workdir)


@fuzz(60)
@given(text=st.text(max_size=200))
def test_random_text(workdir: Path, text: str) -> None:
    compile_and_run(text, workdir)


@fuzz(150)
@given(text=mutated_programs())
def test_mutated_conformance_programs(workdir: Path, text: str) -> None:
    compile_and_run(text, workdir)


IR_SEEDS = ("xor_grow", "control_flow", "safetensors_roundtrip", "realloc_in_optimize",
            "batch_loop", "train_softmax_fn", "indexed_store")  # fmt: skip
IR_VOCAB = (
    "f64", "i1", "i64", "tensor<?xf64>", "tensor<2x?xf64>", "tensor<*xf64>", "!noma.mem.buffer<1>",
    "%0", "%1", "%arg0", "^bb0", "{", "}", "(", ")", "[", "]", "<", ">", ":", ",", "=", "->",
    "noma.tensor.add", "noma.tensor.matmul", "noma.mem.realloc", "noma.train.optimize",
    "noma.train.minimize", "scf.yield", "scf.while", "func.return", "func.call @main",
    "arith.constant", '"noma.tensor.add"', "0", "-1", "1e400", "0x7FF8000000000000", '"x"',
    "dense<1.0>", "loc(", "#loc", "attributes {noma.entry = \"nope\"}", "@main",
)  # fmt: skip
_IR_PIECE = re.compile(r'\s+|"(?:\\.|[^"\\])*"|%[\w.#]+|@[\w."]+|\^\w+|[\w.]+|->|.', re.DOTALL)


@cache
def ir_texts() -> list[str]:
    """The printed IR (custom and generic form) of a few conformance programs."""
    texts = []
    for name in IR_SEEDS:
        module = driver.parse_source(driver.Source(name + ".noma", SOURCES[name + ".noma"], "noma"))
        for generic in (False, True):
            texts.append(driver.print_module(module, driver.PrintOptions(generic=generic)))
    return texts


@st.composite
def mutated_ir(draw: st.DrawFn) -> str:
    parts = _IR_PIECE.findall(draw(st.sampled_from(ir_texts())))
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(parts) - 1))
        kind = draw(st.sampled_from(["delete", "replace", "insert", "swap"]))
        if kind == "delete":
            del parts[i]
        elif kind == "replace":
            parts[i] = draw(st.sampled_from(IR_VOCAB))
        elif kind == "insert":
            parts.insert(i, draw(st.sampled_from(IR_VOCAB)))
        else:
            j = draw(st.integers(0, len(parts) - 1))
            parts[i], parts[j] = parts[j], parts[i]
    return "".join(parts)


@fuzz(100)
@given(text=mutated_ir())
def test_mutated_ir_text(text: str) -> None:
    """`nomac prog.mlir`: hand-written (here: mutated) IR is user input too. Parsing,
    verifying and the default pipeline end in success or a NomaError."""
    try:
        with time_limit(COMPILE_LIMIT_S):
            module = driver.parse_source(driver.Source("fuzz.mlir", text, "mlir"))
            driver.run_passes(module, driver.default_pipeline(), verify_each=True)
        event("IR accepted")
    except NomaError as e:
        check_report(e, text)
        event("IR rejected")
    except Hang:
        pytest.fail(f"compiling took longer than {COMPILE_LIMIT_S} s:\n{text}")


def test_every_conformance_program_compiles_or_reports(workdir: Path) -> None:
    """The unmutated seeds themselves (error cases included)."""
    for text in SOURCES.values():
        compile_and_run(text, workdir, run=False)


def test_mutations_through_the_command_line(tmp_path: Path) -> None:
    """Mutated programs through `nomac FILE --split-input-file` (one process,
    each chunk compiled on its own): errors in the SPEC §11 form, never a
    traceback or an internal error."""
    rng = random.Random(20240611)
    chunks = []
    for _ in range(examples(40)):
        parts = pieces(SOURCES[rng.choice(sorted(SOURCES))])
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(parts))
            if rng.random() < 0.5:
                del parts[i]
            else:
                parts.insert(i, rng.choice(VOCAB) + " ")
        chunks.append("".join(parts).replace("// -----", "//"))
    path = tmp_path / "mutants.noma"
    path.write_text("\n// -----\n".join(chunks), encoding="utf-8")
    result = run_cli([str(path), "--split-input-file"], tmp_path)
    assert result.status in (0, 1), result.describe()
    assert "Traceback" not in result.stderr, result.describe()
    assert "internal compiler error" not in result.stderr, result.describe()
    for line in result.stderr.split("\n")[:-1]:
        assert line.startswith(("error: ", "  ", "warning: ")), result.describe()
    if result.status == 1:
        assert "error: " in result.stderr


# ----------------------------------------------------------------- compile bombs


def _doubling_calls(depth: int) -> str:
    """`f_k(x) = f_{k-1}(f_{k-1}(x))`: 2^depth copies once inlined."""
    lines = ["fn f0(x) { return x + 1; }"]
    lines += [f"fn f{k}(x) {{ return f{k - 1}(f{k - 1}(x)); }}" for k in range(1, depth + 1)]
    return "\n".join([*lines, f"fn main() {{ print(f{depth}(tensor [1, 2])); }}"]) + "\n"


BOMBS = [
    ("doubling_calls", _doubling_calls(60), r"too large once its calls are inlined"),
    ("parentheses", "fn main() { print(" + "(" * 5000 + "1" + ")" * 5000 + "); }", r"nested"),
    ("operator_chain", "fn main() { print(" + " + ".join(["1"] * 5000) + "); }", r"nested"),
    ("prefix_chain", "fn main() { print(" + "-" * 5000 + "1); }", r"nested"),
    ("blocks", "fn main() { " + "if 1 { " * 2000 + "}" * 2000 + " }", r"nested"),
    ("tensor_rank", "fn main() { let t = tensor " + "[" * 500 + "1" + "]" * 500 + "; }", r"rank"),
    ("unterminated_comment", "fn main() { /*" + "x\n" * 200_000, r"unterminated block comment"),
    ("unterminated_string", 'fn main() { print("' + "x" * 200_000 + "); }", r"unterminated"),
]


@pytest.mark.parametrize(("name", "text", "phrase"), BOMBS, ids=[b[0] for b in BOMBS])
def test_compile_bombs_fail_fast(workdir: Path, name: str, text: str, phrase: str) -> None:
    """Inputs made to blow up the compiler: a clear error, quickly."""
    source = driver.Source("bomb.noma", text, "noma")
    with time_limit(10.0):
        try:
            module = driver.parse_source(source)
            driver.run_passes(module, driver.default_pipeline(), verify_each=False)
        except NomaError as e:
            assert re.search(phrase, e.message), e.format()
            return
    pytest.fail(f"{name} compiled")
