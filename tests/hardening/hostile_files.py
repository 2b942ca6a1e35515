"""A catalog of hostile input files (safetensors and CSV) for whole-program tests.

Each `Case` is the content of one input file and what a program that loads
it must do: fail with a SPEC §11 error that names the file (and contains
`expect`, a regular expression, when given), or load it and print `output`.
The programs (`SAFETENSORS_PROGRAM`, `CSV_PROGRAM`) read a fixed file name,
so one compiled program (JIT or executable) serves every case: the test
copies each case's content to that name and runs it.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass

ST_NAME = "input.safetensors"
CSV_NAME = "input.csv"

#: Load the file, print the first tensor and its sum (every element is read).
SAFETENSORS_PROGRAM = f"""fn main() {{
    print("start");
    load_safetensors t = "{ST_NAME}";
    print(t);
    print(sum(t));
}}
"""

CSV_PROGRAM = f"""fn main() {{
    print("start");
    load_csv d = "{CSV_NAME}";
    print(dim(d, 0));
    print(dim(d, 1));
    print(sum(d));
}}
"""


@dataclass(frozen=True)
class Case:
    name: str
    content: bytes | None  # None: the file does not exist
    expect: str | None = None  # regex the error must contain (besides the file name)
    output: tuple[str, ...] | None = None  # a valid file: the lines printed after "start"
    make: Callable[[str], None] | None = None  # builds the path itself (folder, FIFO, ...)

    @property
    def ok(self) -> bool:
        return self.output is not None


def _folder(path: str) -> None:
    os.mkdir(path)


def _fifo(path: str) -> None:
    os.mkfifo(path)  # opening it for reading would block until a writer comes


def _special(kind: str) -> list[Case]:
    """Paths that are not regular files: each must be an error, never a hang."""
    cases = [Case("is_a_folder", b"", "folder|directory|regular|cannot read", make=_folder)]
    if hasattr(os, "mkfifo"):
        cases.append(Case("is_a_fifo", b"", "regular|FIFO|cannot read", make=_fifo))
    return cases


# ----------------------------------------------------------------- safetensors


def st_raw(header: object, data: bytes = b"", *, length: int | None = None) -> bytes:
    """A safetensors file from a header (JSON-able, or raw bytes) and data."""
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    n = len(text) if length is None else length
    return struct.pack("<Q", n) + text + data


def f64(*values: float) -> bytes:
    return struct.pack(f"<{len(values)}d", *values)


def entry(dtype: object = "F64", shape: object = (2,), offsets: object = (0, 16)) -> dict:
    def js(x: object) -> object:
        return list(x) if isinstance(x, tuple) else x

    return {"dtype": js(dtype), "shape": js(shape), "data_offsets": js(offsets)}


_ONE_TWO = f64(1.0, 2.0)

SAFETENSORS_CASES: list[Case] = [
    # --- valid files (the reader must not be over-strict)
    Case("valid_f64", st_raw({"a": entry()}, _ONE_TWO), output=("[1, 2]", "3")),
    Case(
        "valid_f32",
        st_raw({"a": entry("F32", [2], [0, 8])}, struct.pack("<2f", 1.5, -2.0)),
        output=("[1.5, -2]", "-0.5"),
    ),
    Case(
        "valid_nan_inf_data",
        st_raw({"a": entry("F64", [3], [0, 24])}, f64(float("nan"), 1.0, float("inf"))),
        output=("[nan, 1, inf]", "nan"),
    ),
    Case(
        "valid_metadata_and_gap",
        st_raw({"__metadata__": {"x": "y"}, "a": entry("F64", [1], [8, 16])}, f64(9.0, 4.0)),
        output=("[4]", "4"),
    ),
    # --- the 8-byte length and the header
    Case("empty_file", b"", "8-byte|header length|short|too small|truncated"),
    Case("short_length", b"\x05\x00\x00", "8-byte|header length|short|too small|truncated"),
    Case("huge_header_length", struct.pack("<Q", 2**63) + b"{}", "header|limit|large"),
    Case("max_header_length", struct.pack("<Q", 2**64 - 1) + b"{}", "header|limit|large"),
    Case("header_past_end", st_raw({"a": entry()}, _ONE_TWO, length=10_000), "header|larger"),
    Case("header_len_zero", st_raw(b"", _ONE_TWO), "JSON|header"),
    Case("bad_utf8", st_raw(b'{"\xff\xfe": 1}'), "UTF-8|utf8|JSON|header"),
    Case("bad_json", st_raw(b'{"a": {"dtype": "F64",', _ONE_TWO), "JSON|header"),
    Case("json_array", st_raw([1, 2, 3]), "object|JSON|header"),
    Case("json_string", st_raw(b'"hello"'), "object|JSON|header"),
    Case("deep_json", st_raw(b"[" * 50_000 + b"]" * 50_000), "JSON|nested|object|header"),
    Case(
        "huge_int_literal",
        st_raw(b'{"a": {"dtype": "F64", "shape": [' + b"9" * 5000 + b"]}}"),
        "JSON|shape|header",
    ),  # fmt: skip
    Case("duplicate_keys", st_raw(b'{"a": {}, "a": {}}'), "duplicate|'a'"),
    Case("entry_not_object", st_raw({"a": 3}), "'a'|object"),
    Case(
        "missing_dtype", st_raw({"a": {"shape": [2], "data_offsets": [0, 16]}}, _ONE_TWO), "dtype"
    ),  # fmt: skip
    Case(
        "missing_offsets",
        st_raw({"a": {"dtype": "F64", "shape": [2]}}, _ONE_TWO),
        "data_offsets|offsets",
    ),  # fmt: skip
    Case("no_tensors", st_raw({}), "no tensors|empty"),
    Case("metadata_only", st_raw({"__metadata__": {}}), "no tensors|empty"),
    # --- dtypes
    Case("dtype_i32", st_raw({"a": entry("I32", [2], [0, 8])}, b"\0" * 8), "I32|dtype"),
    Case("dtype_f16", st_raw({"a": entry("F16", [2], [0, 4])}, b"\0" * 4), "F16|dtype"),
    Case("dtype_unknown", st_raw({"a": entry("Q7", [2], [0, 16])}, _ONE_TWO), "Q7|dtype"),
    Case("dtype_number", st_raw({"a": entry(64, [2], [0, 16])}, _ONE_TWO), "dtype"),
    Case("dtype_null", st_raw({"a": entry(None, [2], [0, 16])}, _ONE_TWO), "dtype"),
    # --- shapes
    Case("shape_negative", st_raw({"a": entry("F64", [-2], [0, 16])}, _ONE_TWO), "shape"),
    Case("shape_float", st_raw({"a": entry("F64", [2.0], [0, 16])}, _ONE_TWO), "shape"),
    Case("shape_bool", st_raw({"a": entry("F64", [True], [0, 8])}, f64(1)), "shape"),
    Case("shape_not_list", st_raw({"a": entry("F64", "2", [0, 16])}, _ONE_TWO), "shape"),
    Case(
        "shape_rank5", st_raw({"a": entry("F64", [1, 1, 1, 1, 2], [0, 16])}, _ONE_TWO), "rank|shape"
    ),  # fmt: skip
    Case("shape_rank_100_empty", st_raw({"a": entry("F64", [0] * 100, [0, 0])}), "rank|shape"),
    Case("shape_zero_dim", st_raw({"a": entry("F64", [0, 3], [0, 0])}), "shape|empty"),
    Case(
        "shape_overflow_zero_size",
        st_raw({"a": entry("F64", [0, 2**63], [0, 0])}),
        "shape|empty|large|overflow",
    ),  # fmt: skip
    Case(
        "shape_product_overflow",
        st_raw({"a": entry("F64", [2**32, 2**32, 2**32], [0, 16])}, _ONE_TWO),
        "shape|bytes|needs|size|large|overflow",
    ),  # fmt: skip
    Case(
        "shape_size_mismatch",
        st_raw({"a": entry("F64", [3], [0, 16])}, _ONE_TWO + f64(3)),
        "bytes|needs|size|shape",
    ),  # fmt: skip
    Case(
        "huge_claimed_shape",
        st_raw({"a": entry("F64", [10**6] * 4, [0, 8 * 10**24])}),
        "data|offsets|outside|large|shape|needs",
    ),  # fmt: skip
    # --- offsets
    Case(
        "offsets_outside", st_raw({"a": entry("F64", [2], [0, 16])}, f64(1)), "outside|offsets|data"
    ),  # fmt: skip
    Case(
        "offsets_far_outside",
        st_raw({"a": entry("F64", [2], [2**40, 2**40 + 16])}, _ONE_TWO),
        "outside|offsets|data",
    ),  # fmt: skip
    Case(
        "offsets_reversed", st_raw({"a": entry("F64", [2], [16, 0])}, _ONE_TWO), "order|offsets"
    ),  # fmt: skip
    Case("offsets_one", st_raw({"a": entry("F64", [2], [0])}, _ONE_TWO), "offsets"),
    Case("offsets_negative", st_raw({"a": entry("F64", [2], [-16, 0])}, _ONE_TWO), "offsets"),
    Case(
        "offsets_overlap",
        st_raw(
            {"a": entry("F64", [2], [0, 16]), "b": entry("F64", [2], [8, 24])},
            _ONE_TWO + f64(3),
        ),
        "overlap|offsets",
    ),
    Case(
        "truncated_data",
        st_raw({"a": entry("F64", [4], [0, 32])}, _ONE_TWO),
        "outside|offsets|data|truncated",
    ),  # fmt: skip
    Case("random_garbage", bytes(range(256)) * 4, "header|JSON|large|limit"),
    Case("missing_file", None, "no such file|cannot read|not found|open"),
    *_special("safetensors"),
]


# ----------------------------------------------------------------- CSV


CSV_CASES: list[Case] = [
    Case("valid", b"1,2\n3,4\n", output=("2", "2", "10")),
    Case(
        "valid_comments_blank_crlf",
        b"# head\r\n\r\n 1 ,\t2 # tail\r\n3,4\r\n",
        output=("2", "2", "10"),
    ),  # fmt: skip
    Case("valid_nan", b"1,nan\n2,3\n", output=("2", "2", "nan")),
    Case("valid_inf", b"1,inf\n-Infinity,3\n", output=("2", "2", "nan")),
    Case("valid_overflow_is_inf", b"1e999\n", output=("1", "1", "inf")),
    Case(
        "valid_enormous_line",
        (",".join(["1"] * 200_000) + "\n").encode(),
        output=("1", "200000", "200000"),
    ),  # fmt: skip
    Case("ragged_short", b"1,2,3\n4,5\n", "row|ragged|values|columns|expected"),
    Case("ragged_long", b"1,2\n3,4\n5,6,7\n", "row|ragged|values|columns|expected"),
    Case("junk_word", b"1,2\n3,abc\n", "abc|number"),
    # a bad field is shown as csvio._shorten does: undecodable bytes as U+FFFD,
    # NUL, controls and other characters Python does not print escaped
    Case("junk_binary", b"\x00\x01\xff\xfe,2\n", "bad number '\\\\x00\\\\x01\ufffd\ufffd'"),
    Case("terminal_escape", b"1,2\n3,\x1b[2J4\r\n", r"bad number '\\x1b\[2J4' in input\.csv:2:3"),
    Case("unicode_space", "1\u00a0\u2028,\u00e9\n".encode(), r"bad number '1\\xa0\\u2028'"),
    Case("empty_field", b"1,,2\n", "number|missing|empty"),
    Case("trailing_comma", b"1,2,\n", "number|missing|empty"),
    Case("hex", b"0x10\n", "0x10|number"),
    Case("underscore", b"1_000\n", "1_000|number"),
    Case("two_numbers_one_field", b"1 2\n", "number"),
    Case("empty_file", b"", "no data|empty|no rows"),
    Case("only_comments", b"# nothing\n\n   \n", "no data|empty|no rows"),
    Case("enormous_junk_line", b"1," + b"x" * 5_000_000 + b"\n", "number"),
    Case("valid_enormous_number", b"7" * 2_000_000, output=("1", "1", "inf")),
    Case("nul_bytes", b"1,2\n\x00\x00\x00\n", r"bad number '\\x00\\x00\\x00' in input\.csv:2:1"),
    Case("missing_file", None, "no such file|cannot read|not found|open"),
    *_special("CSV"),
]
