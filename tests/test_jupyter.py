"""The `%%noma` cell magic (noma/jupyter.py), in a real kernel: notebooks
are built with nbformat and executed by nbclient with the `python3` kernel
(ipykernel's own kernelspec: the Python running the tests)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

REPO = Path(__file__).resolve().parent.parent
JIT = "jit" if shutil.which("cc") else "interp"

TRAIN = """\
fn main() {
    learn w = 0;
    learn v = tensor [1, 2];
    optimize(w) with sgd(0.05) until loss < 0.000001 {
        let loss = (3 * w - 6) ** 2;
        minimize loss;
    }
    print("trained");
    return w * 2;
}"""


def execute(cells: list[str], tmp_path: Path, allow_errors: bool = True) -> Any:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=120,
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    return nb


def stream(cell: Any, name: str = "stdout") -> str:
    return "".join(o["text"] for o in cell.outputs if o.get("name") == name)


def error(cell: Any) -> Any:
    errors = [o for o in cell.outputs if o["output_type"] == "error"]
    assert len(errors) == 1, cell.outputs
    return errors[0]


def test_noma_cells(tmp_path: Path) -> None:
    nb = execute(
        [
            "%load_ext noma.jupyter",
            f"%%noma --seed 3 --backend {JIT} -o run\n{TRAIN}",
            "print(type(run).__name__, run.backend, run.seed, run.value, w, v.tolist(), run.params['v'] is v)",
            f"%%noma --backend interp -o again\n{TRAIN}",
            "print(again.output == run.output, again.params['w'] == run.params['w'])",
            # a run-time error after some output, with each backend
            f'%%noma --backend {JIT}\nfn main() {{\n    let x = tensor [1, 2];\n    print("before");\n    print(x[dim(x, 0) + 3]);\n}}',
            '%%noma --backend interp\nfn main() {\n    let x = tensor [1, 2];\n    print("before");\n    print(x[dim(x, 0) + 3]);\n}',
            # a compile-time error
            "%%noma\nfn main() {\n    let x = (1 + ;\n}",
            # a warning goes to stderr
            "%%noma --backend interp\nfn main() {\n    learn w = 0;\n    let max_iterations = 3;\n    optimize(w) until loss < 0 {\n        let loss = (w - 1) ** 2;\n        minimize loss;\n    }\n}",
            # bad options
            "%%noma --backend gpu\nfn main() {}",
            # errors from the Python API show their SPEC §11 report too
            "import noma\nnoma.compile('fn main() { let y = z; }')",
        ],
        tmp_path,
    )
    cells = nb.cells
    assert stream(cells[1]) == "trained\n3.9996\n"
    assert stream(cells[2]) == f"RunResult {JIT} 3 3.9996 1.9998 [1.0, 2.0] True\n"
    assert stream(cells[4]) == "True True\n"
    for cell in (cells[5], cells[6]):
        assert stream(cell) == "before\n"
        err = error(cell)
        assert err["ename"] == "NomaCellError"
        assert err["traceback"] == [
            "error: index 5 out of range for dimension of size 2 at cell line 5, column 11",
            "      print(x[dim(x, 0) + 3]);",
            "            ^",
        ]
    assert error(cells[7])["traceback"] == [
        "error: unexpected ';' in expression at cell line 3, column 18",
        "      let x = (1 + ;",
        "                   ^",
    ]
    assert stream(cells[8], "stderr") == (
        "warning: optimize loop at <cell>:5:5 reached max_iterations (3)\n"
    )
    assert "UsageError: argument --backend: invalid choice: 'gpu'" in stream(cells[9], "stderr")
    assert error(cells[10])["traceback"] == [
        "error: undeclared variable `z` at <string>:1:21",
        "  fn main() { let y = z; }",
        "                      ^",
    ]


def test_example_notebook_runs(tmp_path: Path) -> None:
    """examples/notebook.ipynb, the one docs/python-api.md points to, runs
    from top to bottom (its last cell is tagged as raising an error)."""
    nb = nbformat.read(REPO / "examples" / "notebook.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert stream(code[1]).startswith("trained; the final loss:\n")
    assert stream(code[2]) == "[[1.998]] 1.005\nTrue ['b', 'w']\n"
    assert "cell line 4, column 13" in error(code[-1])["traceback"][0]
