"""safetensors reading and writing (SPEC §8), checked against the `safetensors` package."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from noma.backend.runtime import first_key, read_safetensors, write_safetensors
from noma.diagnostics import NomaRuntimeError

safetensors_numpy = pytest.importorskip("safetensors.numpy")

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _raw(header: Any, data: bytes = b"", pad: bool = True) -> bytes:
    text = json.dumps(header).encode() if not isinstance(header, bytes) else header
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def _valid_file() -> bytes:
    header = {
        "__metadata__": {"format": "np"},
        "a": {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]},
        "b": {"dtype": "F32", "shape": [], "data_offsets": [16, 20]},
    }
    return _raw(header, struct.pack("<2d", 1.5, -2.0) + struct.pack("<f", 0.25))


def test_conformance_f32_input(conformance: Path) -> None:
    st_ = read_safetensors(conformance / "safetensors_f32_input.safetensors")
    assert st_["alpha"].tolist() == [[0.5, -1.25], [3, 4.75]]
    assert st_["alpha"].dtype == np.float64
    assert st_["beta"].tolist()[1:] == [2, -7.5]
    assert abs(st_["beta"][0] - 1 / 3) < 1e-9
    assert first_key(st_) == "alpha"


def test_conformance_scalar_input(conformance: Path) -> None:
    st_ = read_safetensors(conformance / "safetensors_scalar_input.safetensors")
    assert st_["scale"].shape == () and float(st_["scale"]) == 2.5
    assert (st_["vec"] * st_["scale"]).tolist() == [2.5, -5, 10]


def test_written_file_loads_in_safetensors(tmp_path: Path) -> None:
    path = tmp_path / "out.safetensors"
    w = np.array([[1.0, 2, 3], [4, 5, 6]])
    write_safetensors(path, {"weight": w, "bias": np.array([1, -0.5]), "lr": 0.125})
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0 and json.loads(raw[8 : 8 + n])["lr"]["shape"] == []
    loaded = safetensors_numpy.load_file(str(path))
    assert loaded["weight"].dtype == np.float64 and loaded["weight"].tolist() == w.tolist()
    assert loaded["bias"].tolist() == [1, -0.5]
    assert loaded["lr"].shape == () and float(loaded["lr"]) == 0.125
    back = read_safetensors(path)
    assert list(back) == ["weight", "bias", "lr"]
    assert first_key(back) == "bias"


def test_reads_safetensors_package_output(tmp_path: Path) -> None:
    path = tmp_path / "in.safetensors"
    tensors = {
        "z": np.arange(6, dtype=np.float32).reshape(2, 3) / 4,
        "y": np.array([1 / 3, 1e300]),
        "x": np.array(7.5, dtype=np.float64),
    }
    safetensors_numpy.save_file(tensors, str(path), metadata={"who": "test"})
    back = read_safetensors(path)
    assert set(back) == {"x", "y", "z"}
    assert all(v.dtype == np.float64 for v in back.values())
    assert back["z"].tolist() == tensors["z"].astype(np.float64).tolist()
    assert back["y"].tolist() == tensors["y"].tolist()
    assert back["x"].shape == () and float(back["x"]) == 7.5


def test_first_key_by_utf8_bytes() -> None:
    assert first_key({"b": 1, "a": 2, "B": 3}) == "B"
    assert first_key({"\u00e9": 1, "\uff41": 2, "z": 3}) == "z"
    with pytest.raises(NomaRuntimeError, match="no tensors"):
        first_key({})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "shorter than the 8-byte"),
        (b"\x05\x00\x00", "shorter than the 8-byte"),
        (struct.pack("<Q", 1000) + b"{}", "larger than the file"),
        (struct.pack("<Q", 2**63) + b"{}", "over the limit"),
        (_raw(b"\xff\xfe{}"), "UTF-8"),
        (_raw(b"{not json"), "not valid JSON"),
        (_raw(b"[" * 100_000 + b"]" * 100_000), "JSON|nested"),
        (_raw([1, 2]), "not an object"),
        (_raw({"a": 3}), "'a' is not an object"),
        (_raw({"a": {"dtype": "F64", "shape": [1]}}), "no 'data_offsets'"),
        (_raw({"a": {"dtype": "I32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4), "I32"),
        (_raw({"a": {"dtype": "F64", "shape": [-1], "data_offsets": [0, 8]}}, b"\0" * 8), "shape"),
        (_raw({"a": {"dtype": "F64", "shape": [1.0], "data_offsets": [0, 8]}}, b"\0" * 8), "shape"),
        (
            _raw({"a": {"dtype": "F64", "shape": [True], "data_offsets": [0, 8]}}, b"\0" * 8),
            "shape",
        ),
        (_raw({"a": {"dtype": "F64", "shape": [1], "data_offsets": [8, 0]}}, b"\0" * 8), "order"),
        (
            _raw({"a": {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]}}, b"\0" * 8),
            "outside",
        ),
        (
            _raw({"a": {"dtype": "F64", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8),
            "needs 16",
        ),
        (_raw({"a": {"dtype": "F64", "shape": [10**6] * 4, "data_offsets": [0, 8]}}), "needs"),
        (_raw({"a": {"dtype": "F64", "shape": [1], "data_offsets": [0]}}, b"\0" * 8), "offsets"),
        (
            _raw(
                {
                    "a": {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]},
                    "b": {"dtype": "F64", "shape": [2], "data_offsets": [8, 24]},
                },
                b"\0" * 24,
            ),
            "overlap",
        ),
        (_raw(b'{"a": {}, "a": {}}'), "duplicate key"),
        (_raw({"a": {"dtype": "F64", "shape": [0, 2**63], "data_offsets": [0, 0]}}), "shape"),
        (_raw({"a": {"dtype": "F32", "shape": [0] * 100, "data_offsets": [0, 0]}}), "shape"),
        (_raw(b'{"a": {"dtype": "F64", "shape": [' + b"9" * 5000 + b"]}}"), "JSON"),
    ],
)
def test_hostile_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(NomaRuntimeError, match=message) as info:
        read_safetensors(path)
    assert str(path) in str(info.value)


def test_metadata_ignored_and_gaps_allowed(tmp_path: Path) -> None:
    path = tmp_path / "ok.safetensors"
    path.write_bytes(_valid_file())
    back = read_safetensors(path)
    assert back["a"].tolist() == [1.5, -2.0] and float(back["b"]) == 0.25
    assert back["b"].shape == ()
    gap = {"a": {"dtype": "F64", "shape": [1], "data_offsets": [8, 16]}}
    path.write_bytes(_raw(gap, struct.pack("<2d", 9.0, 3.0), pad=False))
    assert read_safetensors(path)["a"].tolist() == [3.0]


def test_missing_file_and_bad_writes(tmp_path: Path) -> None:
    with pytest.raises(NomaRuntimeError, match="nope.safetensors"):
        read_safetensors(tmp_path / "nope.safetensors")
    with pytest.raises(NomaRuntimeError, match="no_dir"):
        write_safetensors(tmp_path / "no_dir" / "x.safetensors", {"a": 1.0})
    with pytest.raises(NomaRuntimeError, match="reserved"):
        write_safetensors(tmp_path / "x.safetensors", {"__metadata__": 1.0})
    assert list(tmp_path.iterdir()) == []


def _check_only_noma_errors(path: Path, content: bytes) -> None:
    path.write_bytes(content)
    try:
        got = read_safetensors(path)
    except NomaRuntimeError as e:
        assert str(path) in str(e)
    else:
        assert all(isinstance(v, np.ndarray) and v.dtype == np.float64 for v in got.values())


@FUZZ
@given(content=st.binary(max_size=64))
def test_fuzz_random_bytes(tmp_path: Path, content: bytes) -> None:
    _check_only_noma_errors(tmp_path / "fuzz.safetensors", content)


@FUZZ
@given(data=st.data())
def test_fuzz_mutated_valid_file(tmp_path: Path, data: st.DataObject) -> None:
    content = bytearray(_valid_file())
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(content) - 1))
        content[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(content)))
    _check_only_noma_errors(tmp_path / "fuzz.safetensors", bytes(content[:cut]))


_JSON_ATOM = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=4)
)
_ENTRY = st.fixed_dictionaries(
    {},
    optional={
        "dtype": st.sampled_from(["F64", "F32", "I8", "BF16", ""]) | _JSON_ATOM,
        "shape": st.lists(st.integers(-2, 4) | _JSON_ATOM, max_size=3) | _JSON_ATOM,
        "data_offsets": st.lists(st.integers(-8, 40), max_size=3) | _JSON_ATOM,
    },
)


@FUZZ
@given(
    header=st.dictionaries(st.sampled_from(["a", "b", "__metadata__", "é"]), _ENTRY | _JSON_ATOM),
    data=st.binary(max_size=40),
    lie=st.none() | st.integers(0, 2**64 - 1),
)
def test_fuzz_structured_headers(
    tmp_path: Path, header: dict, data: bytes, lie: int | None
) -> None:
    content = _raw(header, data)
    if lie is not None:
        content = struct.pack("<Q", lie) + content[8:]
    _check_only_noma_errors(tmp_path / "fuzz.safetensors", content)
