"""A Pygments lexer for NOMA (SPEC §1), so `pygmentize -l noma`, Sphinx,
nbconvert and other Pygments users highlight NOMA source.

It is registered through the `pygments.lexers` entry point (pyproject.toml),
under the alias `noma` and the file pattern `*.noma`. It imports nothing
from the compiler.
"""

from __future__ import annotations

from typing import ClassVar

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import (
    Comment,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Text,
    Whitespace,
)

__all__ = ["BUILTINS", "DECLARATIONS", "KEYWORDS", "NomaLexer"]

#: Keywords that declare a name (highlighted as declarations).
DECLARATIONS = ("fn", "let", "learn", "alloc", "realloc", "free")
#: The other keywords (SPEC §1).
KEYWORDS = (
    "return", "optimize", "with", "until", "minimize", "if", "else", "while", "batch",
    "in", "init", "load_csv", "save_csv", "load_safetensors", "save_safetensors",
    "tensor", "as",
)  # fmt: skip
#: Built-in functions (SPEC §5), optimizers and realloc policies.
BUILTINS = (
    "sigmoid", "relu", "tanh", "exp", "log", "sqrt", "sin", "cos", "tan", "abs",
    "floor", "ceil", "pow", "min", "max", "sum", "mean", "dot", "matmul", "transpose",
    "softmax", "log_softmax", "dim", "rand", "rand_uniform", "rand_normal",
    "rand_tensor", "rand_normal_tensor", "xavier_init", "he_init", "print",
    "reset_optimizer", "seed", "sgd", "adam", "rmsprop", "zeros", "normal", "uniform",
)  # fmt: skip
#: Type names after `as`.
TYPES = ("f32", "f64", "i32", "i64")


class NomaLexer(RegexLexer):
    """NOMA, the machine-learning language with training loops as statements."""

    name = "NOMA"
    aliases: ClassVar[list[str]] = ["noma"]
    filenames: ClassVar[list[str]] = ["*.noma"]
    mimetypes: ClassVar[list[str]] = ["text/x-noma"]

    tokens: ClassVar[dict[str, list]] = {  # type: ignore[type-arg]
        "root": [
            (r"\s+", Whitespace),
            (r"//.*?$", Comment.Single),
            (r"/\*", Comment.Multiline, "comment"),
            (r'"', String.Double, "string"),
            (
                r"(fn)(\s+)([A-Za-z_][A-Za-z0-9_]*)",
                bygroups(Keyword.Declaration, Whitespace, Name.Function),
            ),
            (words(DECLARATIONS, suffix=r"\b"), Keyword.Declaration),
            (words(KEYWORDS, suffix=r"\b"), Keyword),
            (words(TYPES, suffix=r"\b"), Keyword.Type),
            (words(BUILTINS, suffix=r"\b"), Name.Builtin),
            (r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", Number.Float),
            (r"[A-Za-z_][A-Za-z0-9_]*", Name),
            (r"\*\*|==|!=|<=|>=|&&|\|\||[-+*/%^<>!=]", Operator),
            (r"[()\[\]{},;:.]", Punctuation),
            (r".", Text),
        ],
        "comment": [
            (r"[^*]+", Comment.Multiline),
            (r"\*/", Comment.Multiline, "#pop"),
            (r"\*", Comment.Multiline),
        ],
        "string": [
            (r'\\[nt"\\]', String.Escape),
            (r'[^"\\\n]+', String.Double),
            (r'"', String.Double, "#pop"),
            (r"\\.|\n", String.Double),
        ],
    }
