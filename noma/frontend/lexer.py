"""The NOMA lexer (SPEC §1): source text to a list of `Token`s.

The list always ends with one `EOF` token, so the parser can look ahead
without bounds checks. Every malformed input raises `CompileError` at the
offending character.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Final

from noma.diagnostics import CompileError, SourceLoc

# Token kinds (plain strings keep the tokens cheap and easy to print).
NUM: Final = "num"
STR: Final = "str"
IDENT: Final = "ident"
KW: Final = "kw"
OP: Final = "op"
EOF: Final = "eof"

KEYWORDS: Final = frozenset(
    """fn let learn return optimize with until minimize if else while batch in
    alloc realloc free init load_csv save_csv load_safetensors save_safetensors
    tensor as""".split()
)

# Longest first, so `**` wins over `*` and `<=` over `<` (maximal munch).
OPERATORS: Final = (
    "**", "==", "!=", "<=", ">=", "&&", "||",
    "+", "-", "*", "/", "%", "^", "<", ">", "!", "=",
    "(", ")", "[", "]", "{", "}", ",", ";", ":", ".",
)  # fmt: skip

_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# `1.` and `1.e5` are accepted as in Python; `.5` needs a digit after the dot.
_NUMBER_RE = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_WORD_TAIL_RE = re.compile(r"[A-Za-z0-9_.]*")
_WHITESPACE = frozenset(" \t\r\n\f\v")
_ESCAPES: Final = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
# Hints for characters that are a typo for a real operator.
_HINTS: Final = {"&": "&&", "|": "||"}


@dataclass(frozen=True)
class Token:
    kind: str  # NUM, STR, IDENT, KW, OP or EOF
    text: str  # the source spelling (for STR: the raw text with quotes)
    loc: SourceLoc
    value: float | str | None = None  # NUM: the float; STR: the decoded text

    def describe(self) -> str:
        """How error messages name this token."""
        if self.kind == EOF:
            return "end of input"
        if self.kind == STR:
            text = self.text if len(self.text) <= 20 else self.text[:17] + '..."'
            return f"string {text}"
        if self.kind == KW:
            return f"keyword '{self.text}'"
        return f"'{self.text}'"


def describe_char(ch: str) -> str:
    return f"'{ch}'" if ch.isprintable() else repr(ch)


def _show_escape(esc: str) -> str:
    if not esc:
        return "'\\' at end of input"
    shown = f"'\\{esc}'" if esc.isprintable() else f"'\\' followed by {esc!r}"
    return f'{shown} (allowed: \\n \\t \\" \\\\)'


class _Lexer:
    def __init__(self, text: str, filename: str) -> None:
        self.text = text
        self.filename = filename
        self.pos = 0
        self.line = 1
        self.line_start = 0  # index of the first character of `self.line`
        self.tokens: list[Token] = []

    def loc_at(self, pos: int) -> SourceLoc:
        # Only valid for positions on the current line.
        return SourceLoc(self.filename, self.line, pos - self.line_start + 1)

    def error(self, message: str, pos: int) -> CompileError:
        return CompileError(message, self.loc_at(pos))

    def run(self) -> list[Token]:
        text = self.text
        while True:
            self.skip_trivia()
            if self.pos >= len(text):
                self.tokens.append(Token(EOF, "", self.loc_at(self.pos)))
                return self.tokens
            self.tokens.append(self.next_token())

    # -- whitespace and comments

    def newline_at(self, pos: int) -> None:
        self.line += 1
        self.line_start = pos + 1

    def skip_trivia(self) -> None:
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch in _WHITESPACE:
                if ch == "\n":
                    self.newline_at(self.pos)
                self.pos += 1
            elif text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            elif text.startswith("/*", self.pos):
                self.skip_block_comment()
            else:
                return

    def skip_block_comment(self) -> None:
        start = self.pos
        end = self.text.find("*/", start + 2)
        if end < 0:
            raise self.error("unterminated block comment (missing '*/')", start)
        # Block comments do not nest: the first `*/` closes them.
        for i in range(start, end):
            if self.text[i] == "\n":
                self.newline_at(i)
        self.pos = end + 2

    # -- tokens

    def next_token(self) -> Token:
        text, pos = self.text, self.pos
        ch = text[pos]
        if ch == '"':
            return self.string()
        if ch.isascii() and (ch.isdigit() or (ch == "." and _NUMBER_RE.match(text, pos))):
            return self.number()
        m = _IDENT_RE.match(text, pos)
        if m:
            word = m.group()
            self.pos = m.end()
            return Token(KW if word in KEYWORDS else IDENT, word, self.loc_at(pos))
        for op in OPERATORS:
            if text.startswith(op, pos):
                self.pos += len(op)
                return Token(OP, op, self.loc_at(pos))
        hint = f" (did you mean '{_HINTS[ch]}'?)" if ch in _HINTS else ""
        raise self.error(f"unexpected character {describe_char(ch)}{hint}", pos)

    def number(self) -> Token:
        start = self.pos
        m = _NUMBER_RE.match(self.text, start)
        assert m is not None  # next_token only calls us on a digit or `.digit`
        end = m.end()
        # `2x` or `1e` is one malformed word, not a number next to a name.
        tail = _WORD_TAIL_RE.match(self.text, end)
        if tail and tail.end() > end and not self.text.startswith(".", end):
            bad = self.text[start : tail.end()]
            raise self.error(f"malformed number '{bad}'", start)
        spelling = m.group()
        value = float(spelling)
        if math.isinf(value):
            raise self.error(f"number '{spelling}' is too large", start)
        self.pos = end
        return Token(NUM, spelling, self.loc_at(start), value)

    def string(self) -> Token:
        text, start = self.text, self.pos
        out: list[str] = []
        i = start + 1
        while i < len(text) and text[i] != '"':
            ch = text[i]
            if ch == "\n":
                break  # strings do not span lines
            if ch == "\\":
                esc = text[i + 1] if i + 1 < len(text) else ""
                if esc not in _ESCAPES:
                    raise self.error(f"unknown escape {_show_escape(esc)} in string", i)
                out.append(_ESCAPES[esc])
                i += 2
                continue
            out.append(ch)
            i += 1
        if i >= len(text) or text[i] != '"':
            raise self.error("unterminated string literal (missing closing '\"')", start)
        self.pos = i + 1
        return Token(STR, text[start : i + 1], self.loc_at(start), "".join(out))


def tokenize(text: str, filename: str) -> list[Token]:
    """Split `text` into tokens, ending with an EOF token."""
    return _Lexer(text, filename).run()
