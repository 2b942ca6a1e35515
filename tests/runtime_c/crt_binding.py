"""ctypes access to the native runtime (noma/backend/runtime_c) for the tests."""

from __future__ import annotations

import ctypes
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from noma.backend import rtbuild

c_double_p = ctypes.POINTER(ctypes.c_double)


class NomaTensor(ctypes.Structure):
    """`noma_tensor` of noma_rt.h."""

    _fields_ = [
        ("data", c_double_p),
        ("cap", ctypes.c_int64),
        ("rank", ctypes.c_int64),
        ("dims", ctypes.c_int64 * 4),
        ("scalar", ctypes.c_double),
    ]


class NomaSite(ctypes.Structure):
    """`noma_site` of noma_rt.h."""

    _fields_ = [
        ("file", ctypes.c_char_p),
        ("line", ctypes.c_int64),
        ("col", ctypes.c_int64),
        ("text", ctypes.c_char_p),
    ]


T_P = ctypes.POINTER(NomaTensor)
S_P = ctypes.POINTER(NomaSite)
I64 = ctypes.c_int64
D = ctypes.c_double
VP = ctypes.c_void_p
CP = ctypes.c_char_p

# name -> (restype, argtypes); pointers to double arrays are passed as void*
SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "noma_rt_run": (ctypes.c_int, [VP, ctypes.c_uint64]),
    "noma_rt_box": (T_P, [T_P, D]),
    "noma_rt_from_elements": (T_P, [T_P, I64, VP, VP]),
    "noma_rt_zeros": (T_P, [T_P, I64, VP, S_P]),
    "noma_rt_zeros_like": (T_P, [T_P, T_P]),
    "noma_rt_cast": (T_P, [T_P, I64, S_P]),
    "noma_rt_to_scalar": (D, [T_P, S_P]),
    "noma_rt_unary": (T_P, [I64, T_P, T_P]),
    "noma_rt_binary": (T_P, [I64, T_P, T_P, T_P, S_P]),
    "noma_rt_select": (T_P, [T_P, T_P, T_P, T_P, S_P]),
    "noma_rt_scalar_unary": (D, [I64, D]),
    "noma_rt_scalar_binary": (D, [I64, D, D]),
    "noma_rt_reduce_all": (D, [I64, T_P]),
    "noma_rt_reduce_axis": (T_P, [I64, T_P, T_P, I64, I64, S_P]),
    "noma_rt_matmul": (T_P, [T_P, T_P, T_P, S_P]),
    "noma_rt_dot": (D, [T_P, T_P, S_P]),
    "noma_rt_transpose": (T_P, [T_P, T_P, S_P]),
    "noma_rt_softmax": (T_P, [T_P, T_P, I64]),
    "noma_rt_broadcast_like": (T_P, [T_P, T_P, T_P, S_P]),
    "noma_rt_reduce_like": (T_P, [T_P, T_P, T_P, S_P]),
    "noma_rt_dim": (D, [T_P, I64, S_P]),
    "noma_rt_numel": (D, [T_P]),
    "noma_rt_index": (T_P, [T_P, T_P, I64, VP, S_P]),
    "noma_rt_index_scalar": (D, [T_P, I64, VP, S_P]),
    "noma_rt_insert": (T_P, [T_P, T_P, T_P, I64, VP, S_P]),
    "noma_rt_slice": (T_P, [T_P, T_P, D, D, S_P]),
    "noma_rt_resize": (T_P, [T_P, T_P, I64, VP, I64, D, D, S_P]),
    "noma_rt_seed": (None, [D, S_P]),
    "noma_rt_random": (D, [I64, D, D]),
    "noma_rt_random_tensor": (T_P, [T_P, I64, D, D, I64, VP, S_P]),
    "noma_rt_buf_new": (T_P, [T_P]),
    "noma_rt_buf_new_scalar": (T_P, [D]),
    "noma_rt_buf_alloc": (T_P, [I64, VP, S_P]),
    "noma_rt_buf_name": (T_P, [T_P, CP, T_P]),
    "noma_rt_buf_load": (T_P, [T_P, T_P, S_P]),
    "noma_rt_buf_load_scalar": (D, [T_P, S_P]),
    "noma_rt_buf_store": (None, [T_P, T_P, S_P]),
    "noma_rt_buf_store_scalar": (None, [T_P, D, S_P]),
    "noma_rt_buf_store_element": (None, [T_P, T_P, I64, VP, S_P]),
    "noma_rt_buf_realloc": (None, [T_P, I64, VP, I64, D, D, S_P]),
    "noma_rt_buf_free": (None, [T_P, S_P]),
    "noma_rt_buf_dim": (D, [T_P, I64, S_P]),
    "noma_rt_print_scalar": (None, [D]),
    "noma_rt_print_tensor": (None, [T_P]),
    "noma_rt_print_str": (None, [CP]),
    "noma_rt_load_csv": (T_P, [T_P, CP, S_P]),
    "noma_rt_save_csv": (None, [T_P, CP, S_P]),
    "noma_rt_load_safetensors": (VP, [CP, S_P]),
    "noma_rt_archive_get": (T_P, [T_P, VP, CP, S_P]),
    "noma_rt_save_safetensors": (None, [I64, VP, VP, CP, S_P]),
    "noma_rt_check_objective": (None, [D, D, S_P]),
    "noma_rt_warn_max_iterations": (None, [D, S_P]),
    "noma_rt_loss_log": (None, [D, D, D, S_P]),
    "noma_rt_end_loop": (None, []),
    "noma_rt_last_error": (CP, []),
    "noma_rt_test_call": (ctypes.c_int, [VP, I64, VP, VP, VP]),
    "noma_rt_set_num_threads": (I64, [I64]),
}

ENTRY = ctypes.CFUNCTYPE(None)


class Failed(Exception):
    """A runtime call ended in noma_rt_error; `.message` is the report."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Runtime:
    """The shared library with typed functions and value helpers."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self.lib = lib
        for name, (res, args) in SIGNATURES.items():
            fn = getattr(lib, name)
            fn.restype = res
            fn.argtypes = args
        self.libc = ctypes.CDLL(None)
        self.libc.fflush.argtypes = [VP]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.lib, "noma_rt_" + name)

    # ---- values ----

    def tensor(self, value: Any) -> NomaTensor:
        """An input descriptor viewing a float64 copy of `value` (rank 0: boxed)."""
        arr = np.array(value, dtype=np.float64, order="C", copy=True)
        t = NomaTensor()
        if arr.ndim == 0:
            self.lib.noma_rt_box(ctypes.byref(t), float(arr))
            return t
        assert arr.ndim <= 4
        t.rank = arr.ndim
        for i, d in enumerate(arr.shape):
            t.dims[i] = d
        t.data = arr.ctypes.data_as(c_double_p)
        t._keep = arr  # type: ignore[attr-defined]
        return t

    @staticmethod
    def slot() -> NomaTensor:
        """A zero-initialised output slot."""
        return NomaTensor()

    @staticmethod
    def array(t: NomaTensor | Any) -> np.ndarray:
        """A copy of a descriptor's value as a float64 array."""
        if not isinstance(t, NomaTensor):
            t = t.contents
        shape = tuple(t.dims[i] for i in range(t.rank))
        n = math.prod(shape)
        if n == 0:
            return np.zeros(shape)
        flat = np.ctypeslib.as_array(t.data, shape=(n,)).copy()
        return flat.reshape(shape)

    @staticmethod
    def doubles(values: Sequence[float]) -> Any:
        arr = (ctypes.c_double * max(len(values), 1))(*values)
        return arr

    def flush(self) -> None:
        self.libc.fflush(None)

    # ---- calls that may fail ----

    def attempt(self, name: str, *args: Any, returns_double: bool = False) -> Any:
        """Call `noma_rt_<name>` through noma_rt_test_call; raise `Failed` on an error.

        Arguments: float -> a double parameter; int / None -> integer; NomaTensor,
        NomaSite, ctypes arrays -> their address; bytes -> a C string."""
        ints: list[int] = []
        dbls: list[float] = []
        keep: list[Any] = []
        for a in args:
            if isinstance(a, float):
                dbls.append(a)
            elif a is None:
                ints.append(0)
            elif isinstance(a, int):
                ints.append(a)
            elif isinstance(a, bytes):
                buf = ctypes.create_string_buffer(a)
                keep.append(buf)
                ints.append(ctypes.addressof(buf))
            elif isinstance(a, ctypes.c_void_p):
                ints.append(a.value or 0)
            elif isinstance(a, ctypes._Pointer):
                ints.append(ctypes.cast(a, ctypes.c_void_p).value or 0)
            else:
                ints.append(ctypes.addressof(a))
        assert len(ints) <= 6 and len(dbls) <= 8
        iarr = (ctypes.c_int64 * 6)(*ints)
        darr = (ctypes.c_double * 8)(*dbls)
        result = ctypes.c_double() if returns_double else ctypes.c_int64()
        fn = ctypes.cast(getattr(self.lib, "noma_rt_" + name), ctypes.c_void_p)
        rc = self.lib.noma_rt_test_call(
            fn,
            int(returns_double),
            ctypes.addressof(iarr),
            ctypes.addressof(darr),
            ctypes.addressof(result),
        )
        if rc != 0:
            raise Failed(self.lib.noma_rt_last_error().decode("utf-8", "replace"))
        return result.value

    def error_of(self, name: str, *args: Any, returns_double: bool = False) -> str:
        """The report of a call that must fail."""
        with pytest.raises(Failed) as info:
            self.attempt(name, *args, returns_double=returns_double)
        return info.value.message


def load_runtime() -> Runtime:
    """The runtime built by rtbuild, or the library named by NOMA_TEST_RT_LIB
    (e.g. a build with sanitizers)."""
    path = os.environ.get("NOMA_TEST_RT_LIB") or str(rtbuild.shared_library_path())
    return Runtime(ctypes.CDLL(path))


def site(file: str = "prog.noma", line: int = 3, col: int = 5, text: str | None = None) -> NomaSite:
    return NomaSite(file.encode(), line, col, None if text is None else text.encode())
