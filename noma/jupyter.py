"""`%%noma`: NOMA cells in Jupyter notebooks (and IPython).

    %load_ext noma.jupyter

    %%noma --seed 1 -o run
    fn main() {
        learn w = 0;
        optimize(w) with sgd(0.05) until loss < 1e-6 {
            let loss = (3 * w - 6) ** 2;
            minimize loss;
        }
        print(w);
    }

Options: `--seed N` (default 0), `--backend jit|interp` (default jit), and
`-o NAME`, which binds `NAME` to the `noma.RunResult` (`.output`, `.value`,
`.params`) and each learnable parameter to a variable of its own name
(a float or a numpy array), so the next Python cell can use them.

The cell's output appears as the cell's stdout (warnings on stderr). An
error shows as its SPEC §11 report, without a Python traceback, at the
line of the cell as the notebook numbers it (the `%%noma` line is line 1):
`error: ... at cell line 3, column 18`.
"""

from __future__ import annotations

import sys
from typing import Any

from IPython.core.magic import Magics, cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from noma.diagnostics import NomaError, NomaRuntimeError, source_line

#: The file name a cell is compiled as (errors in it are reported by cell line).
CELL_FILE = "<cell>"


class NomaCellError(NomaError):
    """An error in a `%%noma` cell, reported by cell line."""

    def __init__(self, errors: list[NomaError]):
        super().__init__(errors[0].message, errors[0].loc)
        self.errors = errors

    def format(self) -> str:
        return "\n".join(format_cell_error(e) for e in self.errors)


def format_cell_error(err: NomaError) -> str:
    """SPEC §11's report, with a position in the cell given as `cell line N`."""
    loc = err.loc
    if loc is None or loc.file != CELL_FILE:
        return err.format()
    out = [f"{err.kind}: {err.message} at cell line {loc.line}, column {loc.col}"]
    text = source_line(loc.file, loc.line)
    if text is not None:
        out.append("  " + text.replace("\t", " "))
        out.append("  " + " " * max(loc.col - 1, 0) + "^")
    return "\n".join(out)


def cell_source(cell: str) -> str:
    """The cell body as a NOMA file whose line numbers are the notebook's:
    one empty line stands for the `%%noma` line."""
    return "\n" + cell


@magics_class
class NomaMagics(Magics):
    """The `%%noma` cell magic."""

    @magic_arguments()
    @argument("--seed", type=int, default=0, metavar="N", help="Seed of the program's RNG.")
    @argument(
        "--backend",
        choices=("jit", "interp"),
        default="jit",
        help="jit (native code, the default) or interp (the reference interpreter).",
    )
    @argument(
        "-o",
        dest="name",
        metavar="NAME",
        default=None,
        help="Bind NAME to the run's result and each parameter to its own name.",
    )
    @cell_magic
    def noma(self, line: str, cell: str) -> None:
        """Compile and run the cell as a NOMA program."""
        args = parse_argstring(self.noma, line)
        result = run_cell(cell, seed=args.seed, backend=args.backend)
        if args.name is not None:
            namespace: dict[str, Any] = self.shell.user_ns  # type: ignore[union-attr]
            namespace.update(result.params)
            namespace[args.name] = result


def run_cell(cell: str, *, seed: int = 0, backend: str = "jit") -> Any:
    """Compile and run one cell; print its output; return its `RunResult`.
    Errors are raised as `NomaCellError`s."""
    from noma.api import compile as compile_noma

    try:
        program = compile_noma(cell_source(cell), filename=CELL_FILE)
        result = program.run(seed=seed, backend=backend)
    except NomaRuntimeError as e:
        _show(e.output, e.stderr)
        raise NomaCellError([e]) from None
    except NomaError as e:
        raise NomaCellError(list(getattr(e, "errors", [e]))) from None
    _show(result.output, result.stderr)
    return result


def _show(output: str, stderr: str) -> None:
    if output:
        sys.stdout.write(output)
        sys.stdout.flush()
    if stderr:
        sys.stderr.write(stderr)
        sys.stderr.flush()


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext noma.jupyter`."""
    ipython.register_magics(NomaMagics)


def unload_ipython_extension(ipython: Any) -> None:
    """`%unload_ext noma.jupyter` (the magic stays until the kernel restarts)."""
