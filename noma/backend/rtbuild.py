"""Building the native runtime (`noma/backend/runtime_c/`) on first use.

The C sources ship inside the package. The first call of
`shared_library_path()` (the LLVM JIT loads it) or `static_library_path()`
(standalone executables link it) compiles them with the system C compiler
into a per-user cache folder, `$XDG_CACHE_HOME/noma` (else `~/.cache/noma`),
in a subfolder named by a hash of the sources, the compiler's version, the
flags and the host CPU, so a changed source, compiler or machine gives a new
build and an unchanged one is reused.

Flags: `-O3 -fPIC -ffp-contract=off -fno-math-errno -pthread`, plus
`-march=native` when the compiler accepts it. `-O3` because it vectorises the
element-wise loops (2-10x over `-O2` with GCC 12); `-ffp-contract=off`
because a fused multiply-add would round differently from the reference
interpreter (the RNG and the element-wise arithmetic must be bit-identical;
the matrix products and the vectorised exp/tanh/sigmoid fuse explicitly,
see runtime_c/noma_rt_simd.h); `-fno-math-errno` because the runtime never
reads errno after a math function and, without it, GCC cannot vectorise
`sqrt` (the values are the same); `-pthread` for the matrix products'
worker threads. Nothing like `-ffast-math`: NaN, infinities and signed zeros
behave as in numpy. A build goes to a temporary
folder and each product is renamed into place, so two processes building at
once both end with complete files.

`NOMA_CC` overrides the compiler (default `cc`); `NOMA_CACHE_DIR` the cache folder.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

from noma.diagnostics import NomaError

SOURCE_DIR = Path(__file__).resolve().parent / "runtime_c"
SHARED_NAME = "libnoma_rt.so"
STATIC_NAME = "libnoma_rt.a"
BASE_FLAGS = ("-O3", "-fPIC", "-std=gnu11", "-ffp-contract=off", "-fno-math-errno", "-pthread")
NATIVE_FLAGS = ("-march=native",)
#: what an executable needs besides the static library
LINK_LIBS = ("-lm", "-pthread")


class RuntimeBuildError(NomaError):
    """The native runtime could not be built (no compiler, compile failure)."""


def compiler() -> str:
    """The C compiler command (`NOMA_CC` or `cc`); an error if there is none."""
    cc = os.environ.get("NOMA_CC") or "cc"
    found = shutil.which(cc)
    if found is None:
        raise RuntimeBuildError("a C compiler (cc) is needed to build the NOMA runtime")
    return found


def cache_root() -> Path:
    """`NOMA_CACHE_DIR`, else `$XDG_CACHE_HOME/noma`, else `~/.cache/noma`."""
    explicit = os.environ.get("NOMA_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "noma"


def sources() -> list[Path]:
    """The C sources of the runtime."""
    return sorted(SOURCE_DIR.glob("*.c"))


def shared_library_path() -> Path:
    """The runtime as a shared library (built on first use)."""
    return _build() / SHARED_NAME


def static_library_path() -> Path:
    """The runtime as a static archive for linking executables (built on first use)."""
    return _build() / STATIC_NAME


def link_args() -> list[str]:
    """Linker arguments for an executable using the runtime: the archive and libm."""
    return [str(static_library_path()), *LINK_LIBS]


# ----------------------------------------------------------------- building


@cache
def _build() -> Path:
    cc = compiler()
    flags = _flags(cc)
    key = _build_key(cc, flags)
    folder = _cache_folder(f"rt-{key}")
    if (folder / SHARED_NAME).is_file() and (folder / STATIC_NAME).is_file():
        return folder
    with tempfile.TemporaryDirectory(dir=folder, prefix=".build-") as tmp:
        work = Path(tmp)
        jobs = [
            ([cc, *flags, "-c", str(src), "-o", str(work / (src.stem + ".o"))], src.name)
            for src in sources()
        ]
        _run_all(jobs)
        objects = [job[0][-1] for job in jobs]
        shared = work / SHARED_NAME
        _run(
            [cc, *flags, "-shared", "-o", str(shared), *objects, *LINK_LIBS],
            "linking the shared runtime",
        )
        static = work / STATIC_NAME
        _archive(cc, static, objects)
        # rename into place: readers see either no file or a complete one
        os.replace(static, folder / STATIC_NAME)
        os.replace(shared, folder / SHARED_NAME)
    return folder


def _cache_folder(name: str) -> Path:
    """`cache_root()/name`, created; where the cache root cannot be written (a
    read-only home), a private folder in the system's temporary directory."""
    folder = cache_root() / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if os.access(folder, os.W_OK | os.X_OK):
            return folder
        first_error = "not writable"
    except OSError as e:
        first_error = e.strerror or str(e)
    fallback = Path(tempfile.gettempdir()) / f"noma-cache-{os.getuid()}"
    try:
        fallback.mkdir(mode=0o700, exist_ok=True)
        st = fallback.stat()
        if st.st_uid != os.getuid() or st.st_mode & 0o022:
            raise OSError(0, "owned by another user or writable by others")
        (fallback / name).mkdir(exist_ok=True)
    except OSError as e:
        raise RuntimeBuildError(
            f"cannot create the runtime cache folder '{folder}' ({first_error}) "
            f"nor '{fallback}' ({e.strerror or e})"
        ) from None
    return fallback / name


def _archive(cc: str, out: Path, objects: list[str]) -> None:
    """A static archive with `ar`, or one relocatable object when there is no `ar`."""
    ar = shutil.which(os.environ.get("NOMA_AR") or "ar")
    if ar is not None:
        _run([ar, "rcs", str(out), *objects], "archiving the static runtime")
    else:
        _run([cc, "-r", "-nostdlib", "-o", str(out), *objects], "linking the static runtime")


@cache
def _flags(cc: str) -> tuple[str, ...]:
    """The compile flags; `-march=native` only where the compiler accepts it."""
    with tempfile.TemporaryDirectory(prefix="noma-probe-") as tmp:
        probe = Path(tmp) / "probe.c"
        probe.write_text("double f(double x) { return x * 2.0; }\n")
        try:
            done = subprocess.run(
                [cc, *BASE_FLAGS, *NATIVE_FLAGS, "-c", str(probe), "-o", str(Path(tmp) / "p.o")],
                capture_output=True,
                timeout=120,
            )
        except (OSError, subprocess.TimeoutExpired):
            return BASE_FLAGS
    return (*BASE_FLAGS, *NATIVE_FLAGS) if done.returncode == 0 else BASE_FLAGS


def _build_key(cc: str, flags: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    for path in sorted(SOURCE_DIR.glob("*.[ch]")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    h.update(_compiler_version(cc).encode() + b"\0")
    h.update(" ".join(flags).encode() + b"\0")
    h.update(" ".join(LINK_LIBS).encode() + b"\0")
    h.update(platform.machine().encode() + b"\0")
    if "-march=native" in flags:
        h.update(_cpu_id().encode())
    return h.hexdigest()[:20]


def _compiler_version(cc: str) -> str:
    try:
        done = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return cc
    return cc + "\n" + done.stdout


def _cpu_id() -> str:
    """The CPU's model and feature flags (a `-march=native` build is only for such a CPU)."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return platform.processor()
    keep = []
    for line in text.splitlines():
        name = line.split(":", 1)[0].strip()
        if name in ("model name", "flags", "Features", "CPU part", "CPU implementer"):
            keep.append(line)
            if len(keep) >= 5:
                break
    return "\n".join(sorted(set(keep)))


def _run_all(jobs: list[tuple[list[str], str]]) -> None:
    """Compile the sources in parallel; the first failure is the error."""
    procs = []
    try:
        for cmd, name in jobs:
            try:
                proc = subprocess.Popen(
                    cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
                )
            except OSError as e:
                raise RuntimeBuildError(
                    f"building the NOMA runtime failed (compiling {name}): {e.strerror or e}"
                ) from None
            procs.append((proc, name))
        for proc, name in procs:
            out, err = proc.communicate(timeout=600)
            if proc.returncode != 0:
                detail = (err or out).strip()
                raise RuntimeBuildError(
                    f"building the NOMA runtime failed (compiling {name}):\n{detail}"
                )
    except subprocess.TimeoutExpired:
        raise RuntimeBuildError("building the NOMA runtime timed out") from None
    finally:
        for proc, _ in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _run(cmd: list[str], what: str) -> None:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except OSError as e:
        raise RuntimeBuildError(
            f"building the NOMA runtime failed ({what}): {e.strerror or e}"
        ) from None
    except subprocess.TimeoutExpired:
        raise RuntimeBuildError(f"building the NOMA runtime timed out ({what})") from None
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()
        raise RuntimeBuildError(f"building the NOMA runtime failed ({what}):\n{detail}")
