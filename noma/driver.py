"""The compiler driver: the API that `nomac` (noma/cli.py) is a thin layer on.

- `load_module(path)`: a `.noma` file (parse + IR generation) or a `.mlir`
  file / `-` (stdin, MLIR text) to a verified `builtin.module`;
- `parse_pipeline(spec)`: `a,b{x=1 y=2}` or `builtin.module(a,b{x=1})` to passes;
- `run_passes(module, passes, ...)`: apply them, verifying after each;
- `run_program(path, ...)`: what `nomac run` does; returns the exit status;
- `run_opt(OptOptions(...))`: what `nomac FILE -p ...` (the mlir-opt mode) does;
- `register_pass` / `register_dialect`: the plugin API (`--load-plugin MODULE`
  or an entry point in the group `noma.plugins`).

Every error a user can cause is a `NomaError` (exit status 1): xDSL's parse
and verifier errors on user input, and the diagnostics of failing passes,
are turned into `CompileError`s where they arise. `guard` turns anything else
into one `internal compiler error:` line (exit status 2, with the traceback
when the environment has `NOMA_DEBUG=1`).
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import os
import re
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from io import StringIO
from pathlib import Path
from types import ModuleType
from typing import TextIO

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Dialect, Operation
from xdsl.parser import Parser
from xdsl.passes import ModulePass
from xdsl.printer import Printer
from xdsl.utils.arg_spec import parse_pipeline as parse_pass_specs
from xdsl.utils.exceptions import ArgSpecParseError, DiagnosticException, ParseError

from noma.diagnostics import CompileError, NomaError, SourceLoc, register_source
from noma.dialects import make_context
from noma.passes import source_loc

PassFactory = Callable[[], type[ModulePass]]

BACKENDS = ("interp", "jit")
EMIT_KINDS = ("noma", "llvm-dialect", "llvm", "asm", "obj")
SPLIT_MARKER = "// -----"
PLUGIN_GROUP = "noma.plugins"
STDIN = "-"


# ------------------------------------------------------------------ errors


class InternalCompilerError(Exception):
    """A bug in the compiler (not in the user's input), e.g. a pass produced invalid IR."""


class CompileErrors(CompileError):
    """Several errors found together (e.g. every op of an input that fails to verify)."""

    def __init__(self, errors: list[NomaError]):
        super().__init__(errors[0].message, errors[0].loc)
        self.errors = errors

    def format(self) -> str:
        return "\n".join(e.format() for e in self.errors)


def error_list(err: NomaError) -> list[NomaError]:
    return list(err.errors) if isinstance(err, CompileErrors) else [err]


def guard(action: Callable[[], int], stderr: TextIO | None = None) -> int:
    """Run `action`; report user errors (status 1) and internal errors (status 2)."""
    err_stream = stderr if stderr is not None else sys.stderr
    try:
        return action()
    except NomaError as e:
        print(e.format(), file=err_stream, flush=True)
        return 1
    except Exception as e:  # noqa: BLE001 - the last line of defence
        if os.environ.get("NOMA_DEBUG") == "1":
            traceback.print_exc(file=err_stream)
        name = "" if isinstance(e, InternalCompilerError) else f"{type(e).__name__}: "
        print(f"internal compiler error: {name}{e}", file=err_stream, flush=True)
        return 2


def _one_line(message: str) -> str:
    return " ".join(part.strip() for part in message.splitlines() if part.strip())


# ------------------------------------------------------------------ plugins

_PLUGIN_PASSES: dict[str, PassFactory] = {}
_PLUGIN_DIALECTS: list[Dialect] = []
_entry_points_loaded = False


def register_pass(cls: type[ModulePass]) -> type[ModulePass]:
    """Make a pass available to `nomac` by its `name` (usable as a class decorator)."""
    if cls.name in noma_passes() or cls.name in _PLUGIN_PASSES:
        raise CompileError(f"plugin pass '{cls.name}' clashes with an existing pass")
    _PLUGIN_PASSES[cls.name] = lambda: cls
    return cls


def register_dialect(dialect: Dialect) -> Dialect:
    """Make a dialect's ops and types parseable by `nomac`."""
    if dialect not in _PLUGIN_DIALECTS:
        _PLUGIN_DIALECTS.append(dialect)
    return dialect


def load_plugin(spec: str) -> ModuleType:
    """Import a plugin by module name or `.py` path; importing it registers its passes."""
    try:
        if spec.endswith(".py"):
            return _import_path(Path(spec))
        return importlib.import_module(spec)
    except NomaError:
        raise
    except Exception as e:  # noqa: BLE001 - any failure of foreign code is reported
        raise CompileError(f"cannot load plugin '{spec}': {type(e).__name__}: {e}") from None


def _import_path(path: Path) -> ModuleType:
    if not path.is_file():
        raise CompileError(f"cannot load plugin '{path}': no such file")
    name = "noma_plugin_" + re.sub(r"\W", "_", path.stem)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_entry_point_plugins() -> None:
    """Load every entry point of the group `noma.plugins` once (a module or a callable)."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in entry_points(group=PLUGIN_GROUP):
        try:
            obj = ep.load()
            if callable(obj) and not isinstance(obj, ModuleType):
                obj()
        except NomaError:
            raise
        except Exception as e:  # noqa: BLE001
            raise CompileError(f"cannot load plugin '{ep.name}' ({ep.value}): {e}") from None


# ------------------------------------------------------------------ registries


def noma_passes() -> dict[str, PassFactory]:
    from noma.passes import ALL_PASSES

    return ALL_PASSES


def upstream_passes() -> dict[str, PassFactory]:
    """xDSL's own passes (canonicalize, cse, dce, convert-scf-to-cf, ...)."""
    from xdsl.transforms import get_all_passes

    return {k: v for k, v in get_all_passes().items() if k not in noma_passes()}


def plugin_passes() -> dict[str, PassFactory]:
    load_entry_point_plugins()
    return dict(_PLUGIN_PASSES)


def available_passes() -> dict[str, PassFactory]:
    return {**upstream_passes(), **noma_passes(), **plugin_passes()}


def pass_doc(name: str) -> str:
    """The one-line description of a pass for `--list-passes`."""
    if name in noma_passes():
        from noma.passes import pass_doc as noma_pass_doc

        return noma_pass_doc(name)
    cls = available_passes()[name]()
    doc = cls.__doc__ or ""
    if doc.startswith(cls.__name__ + "("):  # the signature a dataclass makes up
        return ""
    return next((line.strip() for line in doc.splitlines() if line.strip()), "")


def plugin_dialects() -> list[Dialect]:
    load_entry_point_plugins()
    return list(_PLUGIN_DIALECTS)


def make_driver_context() -> Context:
    """NOMA's context, plus plugin dialects, plus every xDSL dialect (loaded on first use)."""
    from xdsl.dialects import get_all_dialects

    ctx = make_context()
    for dialect in plugin_dialects():
        ctx.load_dialect(dialect)
    known = set(ctx.registered_dialect_names)
    for name, factory in get_all_dialects().items():
        if name not in known:
            ctx.register_dialect(name, factory)
    return ctx


# ------------------------------------------------------------------ input


@dataclass(frozen=True)
class Source:
    """One input text: `kind` is "noma" or "mlir"."""

    name: str
    text: str
    kind: str


def read_source(path: str) -> Source:
    if path == STDIN:
        return Source("<stdin>", sys.stdin.read(), "mlir")
    kind = _input_kind(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CompileError(f"cannot read '{path}': no such file") from None
    except UnicodeDecodeError:
        raise CompileError(f"cannot read '{path}': not UTF-8 text") from None
    except OSError as e:
        raise CompileError(f"cannot read '{path}': {e.strerror or e}") from None
    return Source(path, text, kind)


def _input_kind(path: str) -> str:
    suffix = Path(path).suffix
    if suffix in (".noma", ".mlir"):
        return suffix[1:]
    raise CompileError(f"cannot tell what '{path}' is: inputs are .noma or .mlir files, or -")


def load_module(path: str, ctx: Context | None = None) -> ModuleOp:
    """Read, parse and verify one input (see `Source`)."""
    return parse_source(read_source(path), ctx)


def parse_source(source: Source, ctx: Context | None = None) -> ModuleOp:
    register_source(source.name, source.text)
    if source.kind == "noma":
        return _parse_noma(source)
    return _parse_mlir(source, ctx if ctx is not None else make_driver_context())


def _parse_noma(source: Source) -> ModuleOp:
    from noma.frontend.irgen import generate
    from noma.frontend.parser import parse_program

    module = generate(parse_program(source.text, source.name))
    verify_module(module, f"the IR generated from {source.name}")
    return module


class _LocatingParser(Parser):
    """The xDSL parser, remembering where in the text each operation started."""

    def __init__(self, ctx: Context, text: str, name: str):
        super().__init__(ctx, text, name)
        self.op_starts: dict[Operation, int] = {}

    def parse_operation(self) -> Operation:
        start = self.pos
        op = super().parse_operation()
        self.op_starts[op] = start
        return op


def _parse_mlir(source: Source, ctx: Context) -> ModuleOp:
    parser = _LocatingParser(ctx, source.text, source.name)
    text_locs = _TextLocations(source, parser.op_starts)
    try:
        module = parser.parse_module()
    except ParseError as e:
        loc = e.span.get_location()
        raise CompileError(_one_line(e.msg), SourceLoc(source.name, loc.line, loc.col)) from None
    except (DiagnosticException, ValueError) as e:  # e.g. a type parameter failing to verify
        raise CompileError(_one_line(str(e)), text_locs.at(parser.pos)) from None
    verify_input(module, text_locs.loc_of)
    return module


@dataclass
class _TextLocations:
    source: Source
    op_starts: dict[Operation, int]

    def loc_of(self, op: Operation) -> SourceLoc | None:
        start = self.op_starts.get(op)
        return source_loc(op) if start is None else self.at(start)

    def at(self, pos: int) -> SourceLoc:
        line_start = self.source.text.rfind("\n", 0, pos) + 1
        line = self.source.text.count("\n", 0, line_start) + 1
        return SourceLoc(self.source.name, line, pos - line_start + 1)


# ------------------------------------------------------------------ verification


def verify_input(
    module: ModuleOp, loc_of: Callable[[Operation], SourceLoc | None] = source_loc
) -> None:
    """Verify user-written IR; raise `CompileErrors` naming every op that fails.

    Some upstream verifiers raise a plain `Exception` (e.g. `scf.while` with
    block arguments of the wrong type) instead of a `VerifyException`: on
    user input, those are verification errors too, not compiler bugs."""
    try:
        module.verify()
        return
    except Exception as e:  # noqa: BLE001 - see the docstring
        whole = e
    errors = [_op_error(op, e, loc_of(op)) for op, e in _failing_ops(module)]
    raise CompileErrors(errors or [CompileError(_one_line(str(whole)))])


def _failing_ops(module: ModuleOp) -> Iterable[tuple[Operation, Exception]]:
    for op in module.walk():
        try:
            op.verify(verify_nested_ops=False)
        except Exception as e:  # noqa: BLE001 - see verify_input
            yield op, e


def _op_error(op: Operation, e: Exception, loc: SourceLoc | None) -> CompileError:
    message = _one_line(str(e))
    if not message.startswith(op.name):
        message = f"'{op.name}' op {message}"
    return CompileError(message, loc)


def verify_module(module: ModuleOp, what: str) -> None:
    """Verify IR the compiler made; a failure is a compiler bug."""
    try:
        module.verify()
    except DiagnosticException as e:
        raise InternalCompilerError(f"{what} does not verify: {_one_line(str(e))}") from e


# ------------------------------------------------------------------ pipelines


def parse_pipeline(spec: str) -> list[ModulePass]:
    """Passes from `a,b{x=1 y=2}` or MLIR's `builtin.module(a,b{x=1})`."""
    text = _drop_top_level_spaces(strip_module_wrapper(spec.strip()))
    try:
        specs = list(parse_pass_specs(text)) if text else []
    except ArgSpecParseError as e:
        raise CompileError(f"bad pass pipeline '{text}': {_spec_error(e)}") from None
    available = available_passes()
    passes = []
    for pass_spec in specs:
        if pass_spec.name not in available:
            raise CompileError(_unknown_pass(pass_spec.name, available))
        try:
            passes.append(available[pass_spec.name]().from_pass_spec(pass_spec))
        except (ValueError, TypeError) as e:
            raise CompileError(f"bad options for pass '{pass_spec.name}': {e}") from None
    return passes


def strip_module_wrapper(spec: str) -> str:
    """`builtin.module(a,b)` -> `a,b`; anything else is returned as it is."""
    m = re.fullmatch(r"builtin\.module\s*\((.*)\)", spec, re.DOTALL)
    if m is None or not _balanced(m.group(1)):
        return spec
    return m.group(1).strip()


def _drop_top_level_spaces(text: str) -> str:
    """`a, b{x=1 y=2}` -> `a,b{x=1 y=2}`: MLIR allows spaces between passes, xDSL does not."""
    out, depth, quote = [], 0, False
    for ch in text:
        quote = quote != (ch == '"')
        if not quote:
            depth += {"{": 1, "}": -1}.get(ch, 0)
        if quote or depth > 0 or not ch.isspace():
            out.append(ch)
    return "".join(out)


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def _spec_error(e: ArgSpecParseError) -> str:
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    return f"{lines[-1]} (column {lines[1].rsplit(':', 1)[-1]})" if len(lines) > 2 else str(e)


def _unknown_pass(name: str, available: dict[str, PassFactory]) -> str:
    close = difflib.get_close_matches(name, list(available), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown pass '{name}'{hint} (`nomac --list-passes` lists them)"


def default_pipeline() -> list[ModulePass]:
    from noma.passes import DEFAULT_PIPELINE

    return parse_pipeline(",".join(DEFAULT_PIPELINE))


@dataclass(frozen=True)
class PrintOptions:
    generic: bool = False
    debuginfo: bool = False


def print_module(module: ModuleOp, options: PrintOptions = PrintOptions()) -> str:
    out = StringIO()
    printer = Printer(
        stream=out, print_generic_format=options.generic, print_debuginfo=options.debuginfo
    )
    printer.print_op(module)
    out.write("\n")
    return out.getvalue()


@dataclass
class PassTimings:
    """Wall time per pass (and of the verifier), summed over every run."""

    rows: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, seconds: float) -> None:
        self.rows[name] = self.rows.get(name, 0.0) + seconds

    def report(self) -> str:
        total = sum(self.rows.values())
        bar = "===" + "-" * 73 + "==="
        lines = [bar, "  ... Pass execution timing report ...".center(79).rstrip(), bar]
        lines += [f"  Total Execution Time: {total:.4f} seconds", ""]
        lines.append("  ----Wall Time----  ----Name----")
        for name, t in [*self.rows.items(), ("Total", total)]:
            share = 100.0 * t / total if total > 0 else 0.0
            lines.append(f"  {t:10.4f} ({share:5.1f}%)  {name}")
        return "\n".join(lines)


def run_passes(
    module: ModuleOp,
    passes: Iterable[ModulePass],
    *,
    ctx: Context | None = None,
    verify_each: bool = True,
    print_after_all: TextIO | None = None,
    print_options: PrintOptions = PrintOptions(),
    timings: PassTimings | None = None,
) -> None:
    """Apply `passes` in order.

    `verify_each` verifies after every pass (a failure is an internal error
    naming the pass); `print_after_all` gets the IR after every pass under an
    MLIR-style header; `timings` collects per-pass wall time.
    """
    context = ctx if ctx is not None else make_driver_context()
    for p in passes:
        start = time.perf_counter()
        _apply(p, context, module)
        if timings is not None:
            timings.add(p.name, time.perf_counter() - start)
        if verify_each:
            start = time.perf_counter()
            verify_module(module, f"the IR after pass '{p.name}'")
            if timings is not None:
                timings.add("(verifier)", time.perf_counter() - start)
        if print_after_all is not None:
            header = f"// -----// IR Dump After {p.name} //----- //\n"
            print_after_all.write(header + print_module(module, print_options) + "\n")
            print_after_all.flush()


def _apply(p: ModulePass, ctx: Context, module: ModuleOp) -> None:
    try:
        p.apply(ctx, module)
    except NomaError:
        raise
    except DiagnosticException as e:
        raise CompileError(_one_line(str(e))) from None


# ------------------------------------------------------------------ running


def run_program(
    path: str,
    *,
    backend: str = "interp",
    seed: int = 0,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    loss_log: str | None = None,
    progress: bool = False,
    ctrl_c_ends_native_run: bool = False,
) -> int:
    """Compile and run a program (`nomac run`); returns the exit status.

    The interpreter prints to `stdout`/`stderr`; the JIT's C runtime prints
    to the process's file descriptors 1 and 2 whatever the streams are.
    `loss_log` names a CSV file that gets the objective of every iteration
    of every optimize loop (`loop,iteration,loss`); `progress` shows a live
    progress line for long loops on stderr (see `noma/backend/train_monitor.py`).
    `ctrl_c_ends_native_run` (the CLI, in the main thread): while the JIT's
    native code runs, SIGINT gets its default action, which the C runtime
    turns into "interrupted" and exit status 130 (Python's handler would
    only set a flag that native code never checks). Compilation keeps
    Python's handler (KeyboardInterrupt).
    """
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    training = TrainingOptions(loss_log, progress, ctrl_c_ends_native_run)
    return guard(lambda: _run_program(path, backend, seed, out, err, training), err)


@dataclass(frozen=True)
class TrainingOptions:
    """What `nomac run` reports about training loops besides the program's
    output, and how Ctrl-C stops native code (see `run_program`)."""

    loss_log: str | None = None
    progress: bool = False
    ctrl_c_ends_native_run: bool = False


#: A backend: runs a module after `DEFAULT_PIPELINE`, returns the exit status.
BackendRunner = Callable[[ModuleOp, int, TextIO, TextIO, TrainingOptions], int]


def build_program(path: str, output: str, seed: int = 0) -> int:
    """`nomac build-exe`: compile a program into a standalone executable."""

    def build() -> int:
        from noma.backend.exe import build_executable

        ctx = make_driver_context()
        module = load_module(path, ctx)
        run_passes(module, default_pipeline(), ctx=ctx, verify_each=False)
        verify_module(module, "the IR after the default pipeline")
        build_executable(module, output, seed=seed)
        return 0

    return guard(build)


def _run_program(
    path: str, backend: str, seed: int, out: TextIO, err: TextIO, training: TrainingOptions
) -> int:
    run_module = backend_runner(backend)
    ctx = make_driver_context()
    module = load_module(path, ctx)
    run_passes(module, default_pipeline(), ctx=ctx, verify_each=False)
    verify_module(module, "the IR after the default pipeline")
    status = run_module(module, seed, out, err, training)
    out.flush()
    return status


def backend_runner(backend: str) -> BackendRunner:
    if backend == "interp":
        return _run_interp
    if backend == "jit":
        return _run_jit
    raise CompileError(f"unknown backend '{backend}' (choose from {', '.join(BACKENDS)})")


def _run_interp(
    module: ModuleOp, seed: int, out: TextIO, err: TextIO, training: TrainingOptions
) -> int:
    from noma.backend.interp import run_module
    from noma.backend.train_monitor import LossLogFile, TrainingMonitor

    if training.loss_log is None and not training.progress:
        run_module(module, seed=seed, stdout=out, stderr=err)
        return 0
    log = LossLogFile(training.loss_log) if training.loss_log is not None else None
    monitor = TrainingMonitor(
        log.stream if log is not None else None, err if training.progress else None
    )
    try:
        run_module(module, seed=seed, stdout=out, stderr=err, monitor=monitor)
    finally:
        if log is not None:
            log.finish()
    return 0


@contextmanager
def _default_sigint(wanted: bool) -> Iterator[None]:
    """SIGINT's default action inside the block (main thread only)."""
    if not wanted or threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _run_jit(
    module: ModuleOp, seed: int, out: TextIO, err: TextIO, training: TrainingOptions
) -> int:
    """The JIT. `--loss-log` and `--progress` reach its C runtime through the
    environment variables `NOMA_LOSS_LOG` (the file to append rows to) and
    `NOMA_PROGRESS`; the rows go to FILE.tmp, renamed to FILE at the end (the
    runtime closes the file when the run ends)."""
    from noma.backend.jit import compile_jit
    from noma.backend.train_monitor import HEADER, tmp_path_for
    from noma.dialects.train import OptimizeOp

    has_loops = any(isinstance(op, OptimizeOp) for op in module.walk())
    program = compile_jit(module)  # lowers `module` in place
    env: dict[str, str] = {}
    tmp = None
    if training.loss_log is not None:
        tmp = tmp_path_for(training.loss_log)
        _create_empty(tmp, training.loss_log)  # the runtime appends, with the header if empty
        env["NOMA_LOSS_LOG"] = os.path.abspath(tmp)
    if training.progress:
        env["NOMA_PROGRESS"] = "1"
    try:
        with _environment(env), _default_sigint(training.ctrl_c_ends_native_run):
            status = program.run(seed)
    finally:
        if tmp is not None and training.loss_log is not None:
            if os.path.getsize(tmp) == 0:  # the runtime logged no row
                if has_loops:
                    err.write(
                        "warning: the loss log has no rows: no optimize loop ran, or "
                        "this JIT does not report losses yet (use --backend interp)\n"
                    )
                Path(tmp).write_text(HEADER, encoding="utf-8")
            os.replace(tmp, training.loss_log)
    return status


def _create_empty(path: str, name: str) -> None:
    try:
        Path(path).write_bytes(b"")
    except OSError as e:
        raise CompileError(f"cannot write the loss log '{name}': {e.strerror or e}") from None


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of a `with` block."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# ------------------------------------------------------------------ the mlir-opt mode


@dataclass(frozen=True)
class OptOptions:
    """What `nomac FILE ...` was asked to do (see docs/cli.md)."""

    input: str = STDIN
    pipeline: str = ""
    emit: str = "noma"
    output: str | None = None
    print_ir_after_all: bool = False
    print_options: PrintOptions = PrintOptions()
    split_input_file: bool = False
    verify_diagnostics: bool = False
    verify_each: bool = True
    time_passes: bool = False


def run_opt(
    options: OptOptions, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Parse the input, run the pipeline, print the IR; returns the exit status."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    return guard(lambda: _run_opt(options, out, err), err)


def _run_opt(options: OptOptions, out: TextIO, err: TextIO) -> int:
    check_emit(options.emit)
    passes = parse_pipeline(options.pipeline)
    source = read_source(options.input)
    chunks = split_input(source) if options.split_input_file else [source]
    timings = PassTimings() if options.time_passes else None
    ctx = make_driver_context()
    texts: list[str] = []
    failed = False
    for chunk in chunks:
        text, errors = _process_chunk(chunk, passes, options, ctx, err, timings)
        if options.verify_diagnostics:
            errors = check_diagnostics(expected_diagnostics(chunk), errors)
        for e in errors:
            print(e.format(), file=err, flush=True)
        failed = failed or bool(errors)
        if text is not None:
            texts.append(text)
    if timings is not None:
        print(timings.report(), file=err, flush=True)
    if failed:
        return 1
    if options.emit != "obj":  # an object file is already written
        write_output((SPLIT_MARKER + "\n").join(texts), options.output, out)
    return 0


def check_emit(emit: str) -> None:
    if emit not in EMIT_KINDS:
        raise CompileError(f"unknown --emit '{emit}' (choose from {', '.join(EMIT_KINDS)})")


def _process_chunk(
    source: Source,
    passes: list[ModulePass],
    options: OptOptions,
    ctx: Context,
    err: TextIO,
    timings: PassTimings | None,
) -> tuple[str | None, list[NomaError]]:
    """The printed IR of one input chunk, or the errors it raised."""
    try:
        module = parse_source(source, ctx)
        run_passes(
            module,
            passes,
            ctx=ctx,
            verify_each=options.verify_each,
            print_after_all=err if options.print_ir_after_all else None,
            print_options=options.print_options,
            timings=timings,
        )
        if options.emit != "noma":
            return render_native(module, options, ctx), []
    except NomaError as e:
        return None, error_list(e)
    return print_module(module, options.print_options), []


def render_native(module: ModuleOp, options: OptOptions, ctx: Context) -> str:
    """`--emit llvm-dialect|llvm|asm|obj`: lower to native code. Without `-p`,
    the `nomac run` pipeline runs first, so `nomac prog.noma --emit llvm` is
    the code `nomac run` executes. An object file is written to `-o` (binary)."""
    from noma.backend import llvm_emit

    if not options.pipeline:
        run_passes(module, default_pipeline(), ctx=ctx, verify_each=False)
    if options.emit == "llvm-dialect":
        return print_module(llvm_emit.to_llvm_dialect(module), options.print_options)
    if options.emit == "llvm":
        return llvm_emit.to_llvm_ir(module)
    if options.emit == "asm":
        return llvm_emit.to_asm(module)
    if options.output in (None, STDIN):
        raise CompileError("--emit obj writes a binary file: give it a name with -o FILE")
    from noma.backend.runtime.atomic import atomic_write_bytes

    atomic_write_bytes(options.output, llvm_emit.to_object(module))
    return ""


def split_input(source: Source) -> list[Source]:
    """Chunks between `// -----` lines, each padded with blank lines so that
    line numbers in errors stay those of the whole file."""
    chunks: list[Source] = []
    lines: list[str] = []
    first_line = 0
    for i, line in enumerate(source.text.split("\n")):
        if line.strip() == SPLIT_MARKER:
            chunks.append(_chunk(source, first_line, lines))
            lines, first_line = [], i + 1
        else:
            lines.append(line)
    chunks.append(_chunk(source, first_line, lines))
    return chunks


def _chunk(source: Source, first_line: int, lines: list[str]) -> Source:
    return Source(source.name, "\n" * first_line + "\n".join(lines), source.kind)


def write_output(text: str, output: str | None, stdout: TextIO) -> None:
    """Print to stdout, or write `output` atomically (all or nothing)."""
    if output is None or output == STDIN:
        stdout.write(text)
        stdout.flush()
        return
    from noma.backend.runtime.atomic import atomic_write_text

    atomic_write_text(output, text)


# ------------------------------------------------------------------ --verify-diagnostics

_EXPECTED = re.compile(
    r"//\s*expected-error\s*(?:@(?P<where>above|below|[+-]\d+))?\s*\{\{(?P<msg>.*?)\}\}"
)


@dataclass(frozen=True)
class ExpectedError:
    """`// expected-error {{msg}}` (MLIR's syntax; `@+N`, `@-N`, `@above`, `@below`)."""

    message: str
    line: int
    comment: SourceLoc


def expected_diagnostics(source: Source) -> list[ExpectedError]:
    found = []
    for number, text in enumerate(source.text.split("\n"), start=1):
        for m in _EXPECTED.finditer(text):
            offset = {"above": -1, "below": 1, None: 0}.get(m["where"])
            line = number + (offset if offset is not None else int(m["where"]))
            comment = SourceLoc(source.name, number, m.start() + 1)
            found.append(ExpectedError(m["msg"].strip(), line, comment))
    return found


def check_diagnostics(expected: list[ExpectedError], produced: list[NomaError]) -> list[NomaError]:
    """The mismatches between expected and produced errors, as errors to report.

    A produced error matches an expected one when it contains the expected
    text and, if it has a location in the same file, is on the expected line.
    """
    unmatched = list(produced)
    missing = []
    for exp in expected:
        hit = next((e for e in unmatched if _matches(exp, e)), None)
        if hit is None:
            missing.append(
                NomaError(f'expected error "{exp.message}" was not produced', exp.comment)
            )
        else:
            unmatched.remove(hit)
    unexpected = [NomaError(f"unexpected error: {e.message}", e.loc) for e in unmatched]
    return missing + unexpected


def _matches(exp: ExpectedError, err: NomaError) -> bool:
    if exp.message not in err.message:
        return False
    if err.loc is None or err.loc.file != exp.comment.file:
        return True
    return err.loc.line == exp.line


# ------------------------------------------------------------------ listings


def list_passes() -> str:
    sections = [
        ("NOMA passes", list(noma_passes())),
        ("Plugin passes", list(plugin_passes())),
        ("Upstream xDSL passes", sorted(upstream_passes())),
    ]
    return _listing((title, [(n, pass_doc(n)) for n in names]) for title, names in sections)


def list_dialects() -> str:
    ctx = make_driver_context()
    loaded = [(d.name, f"{len(list(d.operations))} ops") for d in ctx.loaded_dialects]
    names = {d.name for d in ctx.loaded_dialects}
    on_demand = [(n, "") for n in sorted(ctx.registered_dialect_names) if n not in names]
    return _listing(
        [("Loaded dialects", loaded), ("Other xDSL dialects (loaded on use)", on_demand)]
    )


def _listing(sections: Iterable[tuple[str, list[tuple[str, str]]]]) -> str:
    out = []
    for title, rows in sections:
        if not rows:
            continue
        width = max(len(name) for name, _ in rows)
        out.append(f"{title}:")
        out += [f"  {name.ljust(width)}  {doc}".rstrip() for name, doc in rows]
    return "\n".join(out) + "\n"
