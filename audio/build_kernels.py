"""Build `encore_kernels`: every kernel and callback compiled ahead of time (numba's pycc).

    .venv/bin/python -m audio.build_kernels                 # into this environment (bootstrap)
    .venv/bin/python -m audio.build_kernels --if-stale      # only when the sources changed
    .venv/bin/python -m audio.build_kernels --out DIR --cpu x86-64-v3   # for a bundle

One extension module exports each kernel once per signature in audio/kernel_signatures.py, a
function per callback that returns its C function pointer, and `digest()` (the SHA-256 of the
kernel sources it was built from: audio.compiled uses the build only while they match) and
`target_cpu()`. It needs numba, setuptools and a C compiler with the Python headers at build
time, and none of them at run time (numpy only).

`--cpu host` (the default) compiles for this machine's CPU, as numba's JIT would: an
environment is built where it runs. A bundle that travels needs a CPU every target machine has
(`--cpu x86-64-v2`, or `x86-64` for any 64-bit PC); which instructions are used never changes a
bit of the output (no fast-math, no FMA contraction: see audio/dsp/__init__.py), only the speed.

pycc (pending deprecation since numba 0.57, still shipped) compiles functions with a Python
wrapper; two things it does not do are added here, by wrapping its compile step: release the
GIL in the wrappers of `nogil` kernels (as numba's JIT does), and callbacks.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import sysconfig
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

KERNEL_MODULES = ("audio.dsp", "audio.automation", "audio.loudness", "core.flacdec", "audio.device")


def default_out_dir() -> Path:
    """This environment's site-packages (on sys.path, and gone with the environment)."""
    return Path(sysconfig.get_path("platlib"))


def current_build(out_dir: Path, name: str = "") -> bool:
    """Is there a build in out_dir made from the current sources? (Without importing numba.)"""
    from audio.compiled import EXTENSION, source_digest

    code = (
        f"import sys; sys.path.insert(0, {str(out_dir)!r}); import {name or EXTENSION} as e; "
        f"print(e.digest())"
    )
    import subprocess  # a fresh interpreter: this one may hold an older build

    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    return done.returncode == 0 and done.stdout.strip() == source_digest()


def build(out_dir: Path, cpu: str = "host", verbose: bool = False, name: str = "") -> Path:
    """Compile the extension into out_dir (replacing an older build atomically): its path."""
    os.environ["ENCORE_KERNELS"] = "build"
    if cpu != "host":
        os.environ["NUMBA_CPU_NAME"] = cpu  # the kernels' callees, compiled by numba's JIT
        os.environ.pop("NUMBA_CPU_FEATURES", None)
    if "audio.compiled" in sys.modules and sys.modules["audio.compiled"].MODE != "build":
        raise RuntimeError("build() must run in a process that has not imported the kernels")
    import importlib

    from numba import types
    from numba.core import cgutils
    from numba.core.errors import NumbaPendingDeprecationWarning
    from numba.extending import intrinsic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumbaPendingDeprecationWarning)
        import numba.pycc.compiler as pycc_compiler
        from numba.pycc import CC

    from audio import compiled
    from audio.kernel_signatures import CALLBACKS, KERNELS

    for module in KERNEL_MODULES:
        importlib.import_module(module)
    digest = compiled.source_digest()
    if digest is None:
        raise RuntimeError("the kernel sources are not readable files: build from a checkout")

    # A libFLAC function `int f(void *)` passed in by ctypes: the build's wrapper takes its
    # address with audio.compiled.function_address (numba's own helper would import numba).
    fnptr = types.ExternalFunctionPointer(
        types.int32(types.voidptr), get_pointer=compiled.function_address
    )
    from audio.dsp.limiter import LimiterParams, LimiterState  # named tuples in signatures
    from audio.dsp.reverb import ReverbLines
    from audio.dsp.strip import StripState

    namespace = {**vars(types), "fnptr": fnptr}
    namespace.update(LimiterParams=LimiterParams, LimiterState=LimiterState)
    namespace.update(ReverbLines=ReverbLines, StripState=StripState)

    cc = CC(name or compiled.EXTENSION, source_module=compiled.__name__)
    cc.verbose = verbose
    cc.target_cpu = "" if cpu == "x86-64" else cpu
    if cpu == "host":
        import llvmlite.binding as llvm

        cc.target_cpu = llvm.get_host_cpu_name()
    release_gil: set[Callable[..., Any]] = set()
    for name, specs in KERNELS.items():
        try:
            py_func, nogil = compiled.DEFINED_KERNELS[name]
        except KeyError:
            raise RuntimeError(f"{name} is in kernel_signatures.py but is no @kernel") from None
        for i, spec in enumerate(specs):
            cc.export(compiled.export_name(name, i), eval(spec, {}, namespace))(py_func)
        if nogil:
            release_gil.add(py_func)
    for name in CALLBACKS:
        getter = _address_getter(name, intrinsic, cgutils)
        cc.export(compiled.callback_export_name(name), types.uintp())(getter)
    for label, value in (("digest", digest), ("target_cpu", cpu)):
        cc.export(label, types.unicode_type())(_constant(label, value))

    original = pycc_compiler.compile_extra

    def compile_extra(typingctx, targetctx, func, args, return_type, flags, locals, library):
        flags = flags.copy()
        flags.release_gil = func in release_gil
        flags.no_cfunc_wrapper = True  # callbacks are compiled by numba's cfunc, below
        return original(
            typingctx, targetctx, func, args, return_type, flags, locals=locals, library=library
        )

    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="encore-kernels-") as tmp:
        cc.output_dir = tmp
        pycc_compiler.compile_extra = compile_extra
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NumbaPendingDeprecationWarning)
                cc.compile()
        finally:
            pycc_compiler.compile_extra = original
        built = Path(tmp) / cc.output_file
        target = out_dir / cc.output_file
        staged = out_dir / f".{cc.output_file}.{os.getpid()}"
        shutil.copyfile(built, staged)
        os.chmod(staged, 0o755)
        os.replace(staged, target)  # a running Encore keeps the file it mapped
    return target


def _address_getter(name: str, intrinsic: Any, cgutils: Any) -> Any:
    """A function returning the C function pointer of the callback `name`: numba compiles the
    callback (its C wrapper) with cfunc, and this links it into the extension."""
    from llvmlite import ir
    from numba import cfunc as make_cfunc
    from numba import types

    from audio import compiled

    py_func, signature, _ = compiled.DEFINED_CALLBACKS[name]
    callback = make_cfunc(signature, nopython=True, cache=False)(py_func)

    @intrinsic
    def address(typingctx):
        def codegen(context, builder, sig, args):
            context.active_code_library.add_linking_library(callback._library)
            ll_args = [context.get_value_type(t) for t in callback._sig.args]
            ll_ret = context.get_value_type(callback._sig.return_type)
            fn = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ll_ret, ll_args), callback.native_name
            )
            return builder.ptrtoint(fn, context.get_value_type(types.uintp))

        return types.uintp(), codegen

    def getter():
        return address()

    getter.__name__ = compiled.callback_export_name(name)
    return getter


def _constant(label: str, value: str) -> Callable[[], str]:
    namespace: dict[str, Any] = {"VALUE": value}
    exec(f"def {label}():\n    return VALUE\n", namespace)  # a global numba freezes into the code
    return namespace[label]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="directory (default: site-packages)")
    parser.add_argument("--cpu", default="host", help="host (default), x86-64-v2, x86-64, ...")
    parser.add_argument("--if-stale", action="store_true", help="only if the sources changed")
    parser.add_argument(
        "--name",
        default="",
        help="module name (default encore_kernels; a bundle's x86-64-v3 build: "
        "encore_kernels_x86_64_v3, which audio.compiled prefers on such CPUs)",
    )
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    os.environ["ENCORE_KERNELS"] = "build"  # before audio.compiled is imported: no JIT notice
    out = args.out or default_out_dir()
    if args.if_stale and current_build(out, args.name):
        return 0
    print(f"Compiling Encore's audio kernels ahead of time for {args.cpu} (~30 s, once)")
    t0 = time.perf_counter()
    try:
        path = build(out, args.cpu, args.verbose, args.name)
    except Exception as exc:
        print(
            f"Could not build the audio kernels ahead of time: {exc!r}\n"
            "Encore still runs, but compiles them on first use (~30 s). A C compiler and the "
            "Python headers are needed (Debian: sudo apt-get install gcc python3-dev).",
            file=sys.stderr,
        )
        return 1
    print(f"Built {path} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
