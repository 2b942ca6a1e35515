"""Pure-Python runtime library of the reference interpreter.

RNG (SPEC §9), realloc resizing (§7), `print` formatting and CSV and
safetensors I/O (§8), with atomic writes. Every user-caused failure is a
`noma.diagnostics.NomaRuntimeError` without a location; the interpreter
attaches the statement's location.
"""

from noma.backend.runtime.atomic import atomic_write_bytes, atomic_write_text
from noma.backend.runtime.csvio import read_csv, write_csv
from noma.backend.runtime.fmt import format_number, format_value
from noma.backend.runtime.resize import MAX_ELEMENTS, check_dims, check_elements, resize_array
from noma.backend.runtime.rng import NomaRng, seed_to_state
from noma.backend.runtime.safetensors_io import first_key, read_safetensors, write_safetensors

__all__ = [
    "MAX_ELEMENTS",
    "NomaRng",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_dims",
    "check_elements",
    "first_key",
    "format_number",
    "format_value",
    "read_csv",
    "read_safetensors",
    "resize_array",
    "seed_to_state",
    "write_csv",
    "write_safetensors",
]
