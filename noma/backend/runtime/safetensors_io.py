"""The safetensors format (SPEC §8).

Layout: an 8-byte little-endian u64 `N`, an `N`-byte UTF-8 JSON header
`{key: {"dtype": ..., "shape": [...], "data_offsets": [begin, end]}, ...}`
(optionally with a `"__metadata__"` entry), then the raw little-endian data;
offsets are relative to the start of the data.

Writing: dtype F64, tensors laid out contiguously in the order given, the
header padded with spaces to a multiple of 8, a scalar stored with shape
`[]`, written atomically.

Reading: F64 and F32 (widened to float64); shape `[]` gives a 0-d array.
Anything malformed is a `NomaRuntimeError` naming the path: a file shorter
than 8 bytes, a header longer than the file or than `MAX_HEADER`, bad UTF-8
or JSON, duplicate keys, a header that is not an object, an entry without
its fields, an unknown dtype, a negative or non-integer dimension, offsets
that are reversed, overlap, leave the data area or do not match shape times
item size. `__metadata__` is ignored. Gaps between tensors are tolerated.
The reader returns every tensor as stored (any rank, zero-size dimensions
included); the caller checks what a NOMA value may be when it uses one.
"""

from __future__ import annotations

import json
import math
import os
import struct
from typing import Any

import numpy as np

from noma.backend.runtime.atomic import atomic_write_bytes
from noma.backend.runtime.fileio import open_input
from noma.diagnostics import NomaRuntimeError

MAX_HEADER = 100 * 1024 * 1024
METADATA_KEY = "__metadata__"
DTYPES: dict[str, np.dtype] = {"F64": np.dtype("<f8"), "F32": np.dtype("<f4")}


# ----------------------------------------------------------------- writing


def write_safetensors(path: str | os.PathLike[str], entries: dict[str, Any]) -> None:
    """Write `entries` (scalars or arrays) as F64 tensors, atomically."""
    name = os.fspath(path)
    header: dict[str, Any] = {}
    chunks: list[bytes] = []
    offset = 0
    for key, value in entries.items():
        if key == METADATA_KEY:
            raise NomaRuntimeError(f"cannot write '{name}': the key '{METADATA_KEY}' is reserved")
        arr = np.asarray(value, dtype="<f8")
        raw = arr.tobytes(order="C")
        header[key] = {
            "dtype": "F64",
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    atomic_write_bytes(name, struct.pack("<Q", len(text)) + text + b"".join(chunks))


# ----------------------------------------------------------------- reading


class _Bad(Exception):
    """A format problem; `read_safetensors` adds the path."""


def read_safetensors(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """All tensors of a safetensors file as float64 arrays, keys as stored."""
    name = os.fspath(path)
    try:
        with open_input(name, "safetensors") as f:
            return _read(f, os.fstat(f.fileno()).st_size)
    except _Bad as e:
        raise NomaRuntimeError(f"bad safetensors file '{name}': {e}") from None
    except OSError as e:
        raise NomaRuntimeError(
            f"cannot read safetensors file '{name}': {e.strerror or e}"
        ) from None


def first_key(tensors: dict[str, Any]) -> str:
    """The smallest key by UTF-8 bytes (what `name` alone means, SPEC §8)."""
    if not tensors:
        raise NomaRuntimeError("the safetensors file has no tensors")
    return min(tensors, key=lambda k: k.encode("utf-8", "surrogatepass"))


def _read(f: Any, size: int) -> dict[str, np.ndarray]:
    head = f.read(8)
    if len(head) < 8:
        raise _Bad(f"file is {len(head)} bytes, shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", head)
    if n > MAX_HEADER:
        raise _Bad(f"header length {n} is over the limit of {MAX_HEADER} bytes")
    if 8 + n > size:
        raise _Bad(f"header length {n} is larger than the file ({size} bytes)")
    specs = _parse_header(_exact(f, n))
    data = _exact(f, size - 8 - n)
    return {key: _tensor(key, spec, data) for key, spec in specs.items()}


def _exact(f: Any, n: int) -> bytes:
    raw = f.read(n)
    if len(raw) != n:
        raise _Bad("file changed size while being read")
    return raw


def _parse_header(raw: bytes) -> dict[str, tuple[np.dtype, tuple[int, ...], int, int]]:
    try:
        obj = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except UnicodeDecodeError:
        raise _Bad("header is not valid UTF-8") from None
    except RecursionError:
        raise _Bad("header is nested too deeply") from None
    except ValueError as e:  # JSONDecodeError, and huge integer literals
        # Python's advice on huge integers ("; use sys.set_int_max_str_digits()
        # ...") means nothing to a NOMA user, and the C reader does not give it.
        why = str(e).split("; use sys.set_int_max_str_digits", 1)[0]
        raise _Bad(f"header is not valid JSON ({why})") from None
    if not isinstance(obj, dict):
        raise _Bad(f"header is a JSON {type(obj).__name__}, not an object")
    specs = {k: _entry(k, v) for k, v in obj.items() if k != METADATA_KEY}
    _check_layout(specs)
    return specs


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _Bad(f"duplicate key '{k}' in header")
        out[k] = v
    return out


def _entry(key: str, spec: Any) -> tuple[np.dtype, tuple[int, ...], int, int]:
    if not isinstance(spec, dict):
        raise _Bad(f"entry '{key}' is not an object")
    for field in ("dtype", "shape", "data_offsets"):
        if field not in spec:
            raise _Bad(f"entry '{key}' has no '{field}'")
    dtype = spec["dtype"]
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise _Bad(f"tensor '{key}' has unsupported dtype {_show(dtype)} (F64 and F32 are read)")
    shape = spec["shape"]
    if not isinstance(shape, list) or not all(_is_count(d) for d in shape):
        raise _Bad(f"tensor '{key}' has a bad shape {_show(shape)} (need non-negative integers)")
    offsets = spec["data_offsets"]
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(map(_is_count, offsets)):
        raise _Bad(f"tensor '{key}' has bad data_offsets {_show(offsets)}")
    begin, end = offsets
    if begin > end:
        raise _Bad(f"tensor '{key}' has data_offsets out of order [{begin}, {end}]")
    want = math.prod(shape) * DTYPES[dtype].itemsize
    if end - begin != want:
        raise _Bad(
            f"tensor '{key}' has {end - begin} bytes of data, but {dtype} shape "
            f"{_plain(shape)} needs {_plain(want)}"
        )
    return DTYPES[dtype], tuple(shape), begin, end


def _is_count(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _plain(x: Any) -> str:
    """str(x), or a placeholder for integers too long to print (hostile headers)."""
    try:
        return str(x)
    except ValueError:
        return "<a number too large to show>"


def _show(x: Any, limit: int = 60) -> str:
    try:
        text = json.dumps(x)
    except ValueError:  # an integer too long for str() (hostile header)
        return "<a number too large to show>"
    return text if len(text) <= limit else text[:limit] + "..."


def _check_layout(specs: dict[str, tuple[np.dtype, tuple[int, ...], int, int]]) -> None:
    """Tensors may not overlap (which also bounds the memory a file can claim)."""
    spans = sorted((b, e, k) for k, (_, _, b, e) in specs.items() if e > b)
    for (_, end1, k1), (begin2, _, k2) in zip(spans, spans[1:], strict=False):
        if begin2 < end1:
            raise _Bad(f"tensors '{k1}' and '{k2}' overlap")


def _tensor(key: str, spec: tuple[np.dtype, tuple[int, ...], int, int], data: bytes) -> np.ndarray:
    dtype, shape, begin, end = spec
    if end > len(data):
        raise _Bad(
            f"tensor '{key}' has data_offsets [{begin}, {end}] outside the data ({len(data)} bytes)"
        )
    flat = np.frombuffer(data, dtype=dtype, count=(end - begin) // dtype.itemsize, offset=begin)
    try:
        return flat.astype(np.float64).reshape(shape)
    except (ValueError, OverflowError):  # zero-size tensors with absurd dimensions or rank
        raise _Bad(f"tensor '{key}' has an unsupported shape {_show(list(shape))}") from None
