"""CSV reading and writing (SPEC §8)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from noma.backend.runtime import read_csv, write_csv
from noma.diagnostics import NomaRuntimeError


def _write(tmp_path: Path, text: str, name: str = "data.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_conformance_inputs(conformance: Path) -> None:
    comments = read_csv(conformance / "csv_comments_input.csv")
    assert comments.tolist() == [[1, 2, 3], [4.5, -5, 0.6]]
    spaces = read_csv(conformance / "csv_spaces_input.csv")
    assert spaces.tolist() == [[1, 2.5], [3, -0.4], [5.25, 6]]
    assert spaces.dtype == np.float64


def test_comments_blanks_spaces_crlf(tmp_path: Path) -> None:
    text = "\ufeff# head\r\n \t \r\n1,\t2 # c\r\n+.5 , 5. ,-1e+2\n#\n"
    with pytest.raises(NomaRuntimeError, match=r"row has 3 values, expected 2 in .*data.csv:4:1"):
        read_csv(_write(tmp_path, text))
    got = read_csv(_write(tmp_path, text.replace("1,\t2", "1,\t2,3")))
    assert got.tolist() == [[1, 2, 3], [0.5, 5, -100]]


def test_single_column_is_2d(tmp_path: Path) -> None:
    assert read_csv(_write(tmp_path, "1\n2\n3")).shape == (3, 1)


def test_inf_nan_accepted(tmp_path: Path) -> None:
    got = read_csv(_write(tmp_path, "inf,-Infinity,NaN,1e999\n"))
    assert got[0, :2].tolist() == [np.inf, -np.inf]
    assert np.isnan(got[0, 2]) and got[0, 3] == np.inf


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,2,3\n4,x1,6\n", r"bad number 'x1' in .*data.csv:2:3"),
        ("1,2\n\n 3 ,  4\n9 ,x1\n", r"bad number 'x1' in .*data.csv:4:4"),
        ("1,2\n1,2\n3\n", r"row has 1 values, expected 2 in .*data.csv:3:1"),
        ("1,,2\n", r"missing number in .*data.csv:1:3"),
        ("1,2,\n", r"missing number in .*data.csv:1:5"),
        ("1_000\n", r"bad number '1_000'"),
        ("0x10\n", r"bad number '0x10'"),
        ("1 2\n", r"bad number '1 2'"),
        ("# only comments\n\n   \n", r"no data rows"),
        ("", r"no data rows"),
    ],
)
def test_bad_files(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(NomaRuntimeError, match=message):
        read_csv(_write(tmp_path, text))


def test_missing_and_unreadable(tmp_path: Path) -> None:
    with pytest.raises(NomaRuntimeError, match="no_such_file_public_case.csv"):
        read_csv(tmp_path / "no_such_file_public_case.csv")
    with pytest.raises(NomaRuntimeError, match=re.escape(str(tmp_path))):
        read_csv(tmp_path)
    if os.path.exists("/dev/zero"):
        with pytest.raises(NomaRuntimeError, match="not a regular file"):
            read_csv("/dev/zero")


def test_write_read_round_trip(tmp_path: Path) -> None:
    m = np.array([[1.5, -2, 1 / 3], [4, 5e-7, 6]])
    path = tmp_path / "m.csv"
    write_csv(path, m)
    assert read_csv(path).tolist() == m.tolist()  # %.17g reloads exactly
    assert path.read_text().splitlines()[0] == "1.5,-2,0.33333333333333331"
    write_csv(path, np.array([1.0, 2, 3]))
    assert path.read_text() == "1,2,3\n"
    assert read_csv(path).shape == (1, 3)
    write_csv(path, 2.5)
    assert path.read_text() == "2.5\n"
    write_csv(path, np.array(-0.125))
    assert read_csv(path).tolist() == [[-0.125]]


def test_write_errors(tmp_path: Path) -> None:
    with pytest.raises(NomaRuntimeError, match="rank 3"):
        write_csv(tmp_path / "x.csv", np.ones((1, 1, 1)))
    missing = tmp_path / "no_dir" / "x.csv"
    with pytest.raises(NomaRuntimeError, match="no_dir"):
        write_csv(missing, 1.0)
    (tmp_path / "sub").mkdir()
    with pytest.raises(NomaRuntimeError, match="cannot write .*sub"):
        write_csv(tmp_path / "sub", 1.0)  # a folder: the rename fails
    assert [p.name for p in tmp_path.iterdir()] == ["sub"]  # no temp file left


_CSV_ALPHABET = st.sampled_from(list("0123456789.,-+eE# \t\r\nxinfa_") + ["\ufeff", "\x00", "é"])


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(_CSV_ALPHABET, max_size=60) | st.text(max_size=40))
def test_random_text_only_noma_errors(tmp_path: Path, text: str) -> None:
    path = tmp_path / "fuzz.csv"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        got = read_csv(path)
    except NomaRuntimeError as e:
        assert str(path) in str(e)
    else:
        assert got.ndim == 2 and got.dtype == np.float64 and got.size >= 1
