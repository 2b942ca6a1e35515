"""`nomac`, the NOMA compiler's command line (a thin layer on noma/driver.py).

    nomac run prog.noma [--seed N] [--backend interp|jit] [--loss-log FILE.csv] [--progress]
    nomac build-exe prog.noma -o prog
    nomac prog.noma|prog.mlir|- [-p PIPELINE | --pass-pipeline PIPELINE] [options]
    nomac --list-passes | --list-dialects

A positional path and subcommands do not mix well in one typer app, so
`main` dispatches on the first argument: `run` and `build-exe` go to their
own apps, everything else to the mlir-opt-style app. See docs/cli.md.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

from noma import driver
from noma.diagnostics import CompileError


def _app() -> typer.Typer:
    """A one-command typer app with plain (not rich) help and errors."""
    return typer.Typer(
        add_completion=False,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )


run_app = _app()
build_exe_app = _app()
opt_app = _app()

_OPT_EPILOG = """\b
Other forms:
  nomac run prog.noma [--seed N] [--backend interp|jit]   compile and run a program
  nomac build-exe prog.noma -o prog                        build a standalone executable
"""


# ------------------------------------------------------------------ nomac run


@run_app.command(help="Compile and run a NOMA program.")
def run(
    program: Annotated[
        str, typer.Argument(metavar="PROGRAM", help="The program (.noma, or .mlir).")
    ],
    seed: Annotated[int, typer.Option(metavar="N", help="Seed of the program's RNG.")] = 0,
    backend: Annotated[
        str, typer.Option(metavar="NAME", help="jit (native code, the default) or interp.")
    ] = "jit",
    loss_log: Annotated[
        str | None,
        typer.Option(
            metavar="FILE.csv",
            help="Write the objective of every optimize iteration as CSV (loop,iteration,loss).",
        ),
    ] = None,
    progress: Annotated[
        bool, typer.Option("--progress", help="Show a live progress line for long loops.")
    ] = False,
) -> int:
    _line_buffered_stdio()

    def start() -> int:
        return driver.run_program(
            program,
            backend=backend,
            seed=seed,
            loss_log=loss_log,
            progress=progress,
            ctrl_c_ends_native_run=True,
        )

    return interruptible(start)


INTERRUPTED_STATUS = 130  # 128 + SIGINT, what a shell reports for Ctrl-C


def interruptible(action: Callable[[], int]) -> int:
    """Run `action`; Ctrl-C ends it with one line `interrupted` and status 130,
    not a traceback (files are written atomically, so nothing is half-written)."""
    try:
        return action()
    except KeyboardInterrupt:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        print("interrupted", file=sys.stderr, flush=True)
        return INTERRUPTED_STATUS


def _line_buffered_stdio() -> None:
    """Programs' output reaches a pipe line by line (tests and users read it live)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(line_buffering=True)


# ------------------------------------------------------------------ nomac build-exe


@build_exe_app.command(help="Build a standalone executable from a NOMA program.")
def build_exe(
    program: Annotated[str, typer.Argument(metavar="PROGRAM", help="The program (.noma).")],
    output: Annotated[
        str, typer.Option("-o", "--output", metavar="FILE", help="The executable.")
    ] = "a.out",
    seed: Annotated[
        int, typer.Option(metavar="N", help="Default seed (the executable takes --seed N).")
    ] = 0,
) -> int:
    return interruptible(lambda: driver.build_program(program, output, seed))


# ------------------------------------------------------------------ nomac FILE (mlir-opt mode)


@opt_app.command(
    help="Print the IR of a .noma or .mlir file (- reads MLIR from stdin) after a pass pipeline.",
    epilog=_OPT_EPILOG,
)
def opt(
    input: Annotated[
        str | None, typer.Argument(metavar="FILE", help="A .noma or .mlir file, or - for stdin.")
    ] = None,
    passes: Annotated[
        str | None,
        typer.Option("--passes", "-p", metavar="PIPELINE", help="Passes, e.g. 'a,b{x=1 y=2}'."),
    ] = None,
    pass_pipeline: Annotated[
        str | None,
        typer.Option(
            metavar="PIPELINE", help="MLIR-style pipeline, e.g. 'builtin.module(a,b{x=1})'."
        ),
    ] = None,
    emit: Annotated[
        str,
        typer.Option(
            metavar="KIND", help="What to print: noma (later: llvm-dialect, llvm, asm, obj)."
        ),
    ] = "noma",
    output: Annotated[
        str | None, typer.Option("-o", "--output", metavar="FILE", help="Write here (atomically).")
    ] = None,
    print_ir_after_all: Annotated[
        bool, typer.Option("--print-ir-after-all", help="Print the IR after every pass on stderr.")
    ] = False,
    print_op_generic: Annotated[
        bool, typer.Option("--print-op-generic", help="Print ops in the generic form.")
    ] = False,
    print_debuginfo: Annotated[
        bool, typer.Option("--print-debuginfo", help="Print op locations loc(...).")
    ] = False,
    split_input_file: Annotated[
        bool,
        typer.Option("--split-input-file", help="Process each '// -----' chunk on its own."),
    ] = False,
    verify_diagnostics: Annotated[
        bool,
        typer.Option(
            "--verify-diagnostics",
            help="Check the errors against '// expected-error {{...}}' comments.",
        ),
    ] = False,
    verify_each: Annotated[bool, typer.Option(help="Verify the IR after every pass.")] = True,
    time_passes: Annotated[
        bool, typer.Option("--time-passes", help="Report the wall time of each pass on stderr.")
    ] = False,
    list_passes: Annotated[
        bool, typer.Option("--list-passes", help="List the passes and exit.")
    ] = False,
    list_dialects: Annotated[
        bool, typer.Option("--list-dialects", help="List the dialects and exit.")
    ] = False,
    load_plugin: Annotated[
        list[str] | None,
        typer.Option(
            metavar="MODULE", help="Import a module (or .py file) that registers passes/dialects."
        ),
    ] = None,
    show_version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.")
    ] = False,
) -> int:
    if show_version:
        print(_version())
        return 0

    def start() -> int:
        _load_plugins(load_plugin or [])
        if list_passes or list_dialects:
            return _listings(list_passes, list_dialects)
        options = driver.OptOptions(
            input=_input_or_stdin(input),
            pipeline=_pipeline(passes, pass_pipeline),
            emit=emit,
            output=output,
            print_ir_after_all=print_ir_after_all,
            print_options=driver.PrintOptions(generic=print_op_generic, debuginfo=print_debuginfo),
            split_input_file=split_input_file,
            verify_diagnostics=verify_diagnostics,
            verify_each=verify_each,
            time_passes=time_passes,
        )
        return driver.run_opt(options)

    return interruptible(lambda: driver.guard(start))


def _input_or_stdin(path: str | None) -> str:
    if path is not None:
        return path
    if sys.stdin.isatty():
        raise CompileError("no input file (give a .noma or .mlir file, or - for stdin)")
    return driver.STDIN


def _pipeline(passes: str | None, pass_pipeline: str | None) -> str:
    if passes is not None and pass_pipeline is not None:
        raise CompileError("give -p/--passes or --pass-pipeline, not both")
    return passes if passes is not None else (pass_pipeline or "")


def _load_plugins(plugins: list[str]) -> None:
    for plugin in plugins:
        driver.load_plugin(plugin)


def _listings(passes: bool, dialects: bool) -> int:
    if passes:
        sys.stdout.write(driver.list_passes())
    if dialects:
        sys.stdout.write(driver.list_dialects())
    return 0


def _version() -> str:
    try:
        noma_version = version("noma")
    except PackageNotFoundError:
        noma_version = "(not installed)"
    return f"nomac {noma_version} (xDSL {version('xdsl')})"


# ------------------------------------------------------------------ entry point

SUBCOMMANDS: dict[str, typer.Typer] = {"run": run_app, "build-exe": build_exe_app}


def main(argv: list[str] | None = None) -> int:
    """The `nomac` console script; returns the exit status."""
    if argv is None:
        _default_sigpipe()
    args = sys.argv[1:] if argv is None else list(argv)
    if args and args[0] in SUBCOMMANDS:
        return interruptible(lambda: _invoke(SUBCOMMANDS[args[0]], args[1:], f"nomac {args[0]}"))
    return interruptible(lambda: _invoke(opt_app, args, "nomac"))


def _default_sigpipe() -> None:
    """Output into a closed pipe (`nomac run prog.noma | head`) ends the
    process quietly, as it ends a standalone executable or any Unix filter,
    instead of an `internal compiler error: BrokenPipeError` (Python ignores
    SIGPIPE; the JIT's C stdio would then lose the output silently)."""
    import signal

    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)


def _invoke(app: typer.Typer, args: list[str], prog_name: str) -> int:
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name=prog_name, standalone_mode=False)
    except typer.TyperException as e:  # usage errors: bad option, missing argument
        show = getattr(e, "show", None)
        if show is not None:
            show()
        else:
            print(f"error: {e.format_message()}", file=sys.stderr)
        return e.exit_code
    except typer.Abort:
        print("Aborted!", file=sys.stderr)
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
