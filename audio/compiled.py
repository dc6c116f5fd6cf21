"""Where the compiled kernels come from: an ahead-of-time build, or numba's JIT as a fallback.

The DSP, automation, loudness, FLAC and PortAudio kernels are numba code. Compiled on first use
they cost a fan's first launch ~30 s and ~140 MB of LLVM; numba itself another ~65 MB and 0.3 s
to import. So `make bootstrap` (and `make bundle`) compiles them ahead of time into one
extension module, `encore_kernels` (audio/build_kernels.py, numba's pycc), and the kernel
modules take their functions from it: no compilation, no numba in the process.

The kernel modules import numba's names from here instead of from numba, and mark kernels with
`@kernel` (for `@njit(cache=True)`) and native callbacks with `@callback(signature)` (for
`@cfunc`). Which one they get is decided once, when this module is imported:

* "aot": `encore_kernels` is importable and was built from exactly these sources (its digest
  is the SHA-256 of the kernel modules' source, `source_digest()`). Kernels are its functions
  (a kernel exported for several signatures picks the one the arguments need: the variants are
  in audio/kernel_signatures.py), callbacks its C function pointers, and the numba names below
  are inert stand-ins (`types`, `intrinsic`...), only there for the module-level code of the
  kernel modules, which never runs them. numba is not imported.
* "jit": no current build (a kernel module edited since, no C compiler at install, or
  ENCORE_KERNELS=jit): numba compiles on first use and caches on disk, as before (~30 s cold).
  Said once on stderr, with what to do about it.
* "build": audio/build_kernels.py is compiling the extension (ENCORE_KERNELS=build): plain
  numba, uncached, so nothing stale from the JIT cache ends up in the build.

An update re-runs the build at install (`make bootstrap` when the digest changed), never at the
user's first launch; a PyInstaller bundle carries the build (packaging/encore.spec) and has no
numba at all. ENCORE_KERNELS=aot refuses to fall back (benchmarks, the bundle's smoke test).
ENCORE_KERNELS_STRICT=1 checks every argument of every kernel call against the exported
signature (tests/conftest.py sets it): the build's functions do not check their arguments.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib
import os
import re
import sys
from _ctypes import CFuncPtr  # the base of every ctypes function pointer type
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from audio.kernel_signatures import CALLBACKS, KERNELS

EXTENSION = "encore_kernels"
"""The ahead-of-time build's module name (a top-level extension module on sys.path)."""
EXTENSION_V3 = "encore_kernels_x86_64_v3"
"""A bundle's second build, for x86-64-v3 CPUs (AVX2, ~20 % faster), preferred where it runs."""
_X86_64_V3 = {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"}
MODE_ENV = "ENCORE_KERNELS"
STRICT_ENV = "ENCORE_KERNELS_STRICT"
ROOT = Path(__file__).resolve().parents[1]
DSP_MODULES = (
    "__init__",
    "constants",
    "simd",
    "biquad",
    "strip",
    "reverb",
    "delay",
    "limiter",
    "master",
)
"""The files of the audio.dsp package (listed, not globbed: a bundle has none of them)."""
KERNEL_SOURCES = (
    *(f"audio/dsp/{name}.py" for name in DSP_MODULES),
    "audio/automation.py",
    "audio/loudness.py",
    "core/flacdec.py",
    "audio/device.py",
    "audio/compiled.py",
    "audio/kernel_signatures.py",
    "audio/build_kernels.py",
)
"""Everything the build's machine code depends on: any change here calls for a new build."""


def source_digest(root: Path = ROOT) -> str | None:
    """SHA-256 over the kernel sources (None where they are not files, in a frozen bundle)."""
    h = hashlib.sha256()
    for rel in KERNEL_SOURCES:
        try:
            data = (root / rel).read_bytes()
        except OSError:
            return None
        h.update(rel.encode() + b"\0" + data.replace(b"\r\n", b"\n") + b"\0")
    return h.hexdigest()


def export_name(kernel_name: str, variant: int) -> str:
    """The extension's function for one signature of a kernel: audio_dsp_strip__strip_mix__1."""
    module, _, func = kernel_name.rpartition(".")
    return f"{module.replace('.', '_')}__{func}__{variant}"


def callback_export_name(callback_name: str) -> str:
    """The extension's function that returns a callback's C function pointer."""
    module, _, func = callback_name.rpartition(".")
    return f"{module.replace('.', '_')}__{func}__address"


def function_address(fn: Any) -> int:
    """The address of a ctypes function (how the build's kernels take a `fnptr` argument)."""
    return ctypes.cast(fn, ctypes.c_void_p).value or 0


# -- which mode -----------------------------------------------------------------------------


def _cpu_has_x86_64_v3() -> bool:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return _X86_64_V3.issubset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return False


def _load_build() -> tuple[Any, str]:
    """(the extension module or None, why) for the automatic choice: the first build that
    imports and was made from these sources (the x86-64-v3 one first, on a CPU that has it)."""
    names = [EXTENSION_V3, EXTENSION] if _cpu_has_x86_64_v3() else [EXTENSION]
    want = source_digest()
    why = "no ahead-of-time build"
    for name in names:
        try:
            ext = importlib.import_module(name)
        except ImportError as exc:
            why = f"no ahead-of-time build ({exc})"
            continue
        if want is None:  # a bundle without sources: it ships the build made from them
            return ext, "bundled build"
        if getattr(ext, "digest", str)() == want:
            return ext, "built from these sources"
        why = f"the ahead-of-time build ({ext.__file__}) is older than the kernel sources"
    return None, why


def _choose() -> tuple[str, Any, str]:
    wanted = os.environ.get(MODE_ENV, "").strip().lower()
    if wanted in ("jit", "build"):
        return wanted, None, f"{MODE_ENV}={wanted}"
    if wanted not in ("", "aot", "auto"):
        raise ImportError(f"{MODE_ENV}={wanted!r}: use aot, jit or build (or leave it unset)")
    ext, why = _load_build()
    if ext is not None:
        return "aot", ext, why
    if wanted == "aot":
        raise ImportError(
            f"{MODE_ENV}=aot but {why}. Build it with `make bootstrap` "
            "(or `.venv/bin/python -m audio.build_kernels`)."
        )
    return "jit", None, why


MODE, _EXT, REASON = _choose()
STRICT = os.environ.get(STRICT_ENV, "") not in ("", "0")

if MODE == "jit":
    print(
        f"encore: {REASON}: numba compiles the audio kernels on first use (~30 s the first "
        "time, cached after). `make bootstrap` builds them ahead of time.",
        file=sys.stderr,
    )


def build_info() -> dict[str, Any]:
    """What this process runs: the mode, why, and the build's own record (if any)."""
    info: dict[str, Any] = {"mode": MODE, "reason": REASON, "strict": STRICT}
    if _EXT is not None:
        info.update(file=_EXT.__file__, digest=_EXT.digest(), target=_EXT.target_cpu())
    return info


# -- numba's names, or inert stand-ins -------------------------------------------------------

if MODE == "aot":

    class _Inert:
        """Stands for numba's types in module-level signatures: anything, called or indexed."""

        def __getattr__(self, name: str) -> _Inert:
            return self

        def __call__(self, *args: Any, **kwargs: Any) -> _Inert:
            return self

        def __getitem__(self, key: Any) -> _Inert:
            return self

    class _InertType:
        """Stands for numba.types.Type (the base of the SIMD vector types in audio.dsp.simd)."""

        def __init__(self, name: str = "", *args: Any, **kwargs: Any) -> None:
            self.name = name

    class _Types(_Inert):
        Type = _InertType
        TypeRef = _InertType

    class _Models(_Inert):
        PrimitiveModel = _InertType
        StructModel = _InertType

    def _identity_decorator(*args: Any, **kwargs: Any) -> Callable[[Any], Any]:
        return lambda obj: obj

    def _intrinsic(fn: Any = None, **kwargs: Any) -> Any:
        """numba.extending.intrinsic: compiled into the build's kernels, inert here."""
        return fn if fn is not None else (lambda f: f)

    def _carray(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("carray only exists inside compiled kernels")

    intrinsic: Any = _intrinsic
    carray: Any = _carray
    types: Any = _Types()
    models: Any = _Models()
    cgutils: Any = _Inert()
    from_ctypes: Any = _Inert()
    overload: Any = _identity_decorator
    register_model: Any = _identity_decorator
else:
    # numba's names, re-exported for the kernel modules.
    import numba
    import numba.core.cgutils
    import numba.core.typing.ctypes_utils
    import numba.extending

    intrinsic = numba.extending.intrinsic
    carray = numba.carray
    types = numba.types
    models = numba.extending.models
    cgutils = numba.core.cgutils
    from_ctypes = numba.core.typing.ctypes_utils.from_ctypes
    overload = numba.extending.overload
    register_model = numba.extending.register_model


# -- the decorators ---------------------------------------------------------------------------

DEFINED_KERNELS: dict[str, tuple[Callable[..., Any], bool]] = {}
"""Every @kernel seen in this process: name -> (Python function, nogil). For the build."""
DEFINED_CALLBACKS: dict[str, tuple[Callable[..., Any], Any, bool]] = {}
"""Every @callback seen: name -> (Python function, numba signature, nogil). For the build."""


def kernel(
    fn: Callable[..., Any] | None = None, *, nogil: bool = False, inline: bool = False
) -> Any:
    """A compiled kernel: `@kernel` or `@kernel(nogil=True)` (numba's njit(cache=True) in JIT
    mode; the build's function, chosen by argument types, in AOT mode).

    `inline=True`: a step of a bigger kernel, inlined into its callers by numba itself
    (njit(inline="always")), where LLVM would leave a call in a hot loop."""

    def wrap(f: Callable[..., Any]) -> Any:
        name = f"{f.__module__}.{f.__qualname__}"
        DEFINED_KERNELS[name] = (f, nogil)
        if MODE == "aot":
            return _aot_kernel(name, f)
        from numba import njit

        return njit(cache=MODE == "jit", nogil=nogil, inline="always" if inline else "never")(f)

    return wrap(fn) if fn is not None else wrap


def callback(signature: Any, *, nogil: bool = False) -> Callable[[Callable[..., Any]], Any]:
    """A native callback with a C signature (numba's cfunc): the result's `.address` is the C
    function pointer to hand to a C library."""

    def wrap(f: Callable[..., Any]) -> Any:
        name = f"{f.__module__}.{f.__qualname__}"
        DEFINED_CALLBACKS[name] = (f, signature, nogil)
        if MODE == "aot":
            if name not in CALLBACKS:
                raise ImportError(f"callback {name} is not in audio/kernel_signatures.py CALLBACKS")
            return _AotCallback(name)
        from numba import cfunc

        return cfunc(signature, nopython=True, nogil=nogil, cache=MODE == "jit")(f)

    return wrap


class _AotCallback:
    """A callback from the build: its C function pointer, as numba's CFunc.address gives it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.address = int(getattr(_EXT, callback_export_name(name))())

    def __call__(self, *args: Any) -> Any:
        raise RuntimeError(f"{self.name} is a native callback: C libraries call it")


def _aot_kernel(name: str, f: Callable[..., Any]) -> Any:
    specs = KERNELS.get(name)
    if specs is None:

        def compiled_only(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError(
                f"{name} is compiled into other kernels only; to call it from Python, list its "
                "signature in audio/kernel_signatures.py"
            )

        compiled_only.__name__ = f.__name__
        compiled_only.__doc__ = f.__doc__
        return compiled_only
    fns = [getattr(_EXT, export_name(name, i)) for i in range(len(specs))]
    if len(fns) == 1 and not STRICT:
        return fns[0]
    return _Variants(name, fns, [_parse_signature(s) for s in specs])


# -- picking and checking a variant -----------------------------------------------------------

_DTYPES: dict[str, np.dtype] = {
    "f8": np.dtype(np.float64),
    "f4": np.dtype(np.float32),
    "i8": np.dtype(np.int64),
    "i4": np.dtype(np.int32),
    "u1": np.dtype(np.uint8),
    "b1": np.dtype(np.bool_),
}


class _Arg:
    """One argument of an exported signature, as the build's function unboxes it unchecked;
    `accepts(value)` is whether numba would type `value` as this (strict mode's check)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.array: tuple[np.dtype, int, bool] | None = None
        m = re.fullmatch(r"(\w+)\[([^\]]*)\]", text)
        if m:
            dims = m.group(2).replace(" ", "").split(",")
            self.array = (_DTYPES[m.group(1)], len(dims), dims[-1] == "::1")
        self.accepts = self._checker()

    def key(self) -> Any:
        """What `_describe` gives for the values this argument is made for."""
        if self.array is not None:
            dtype, ndim, contiguous = self.array
            return (dtype.char, ndim, contiguous)
        return None if self.text == "none" else "scalar"

    def _checker(self) -> Callable[[Any], bool]:
        t = self.text
        if self.array is not None:
            dtype, ndim, contiguous = self.array

            def array(v: Any) -> bool:
                if type(v) is not np.ndarray or v.dtype != dtype or v.ndim != ndim:
                    return False
                f = v.flags
                return (f.c_contiguous or not contiguous) and f.aligned and f.writeable

            return array
        if t == "none":
            return lambda v: v is None
        if t == "f8":
            return lambda v: type(v) is float or isinstance(v, np.float64)
        if t in ("i8", "i4"):
            return lambda v: isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_)
        if t == "b1":
            return lambda v: isinstance(v, bool | np.bool_)
        if t == "fnptr":
            return lambda v: isinstance(v, CFuncPtr)
        m = re.fullmatch(r"NamedTuple\(\((.*)\), (\w+)\)", t)
        if m:
            fields, cls = [_Arg(a).accepts for a in _split_top(m.group(1))], m.group(2)
            return lambda v: (
                type(v).__name__ == cls
                and len(v) == len(fields)
                and all(ok(x) for ok, x in zip(fields, v, strict=True))
            )
        m = re.fullmatch(r"UniTuple\((\w+), (\d+)\)", t)
        if m:
            item, count = _Arg(m.group(1)).accepts, int(m.group(2))
            return lambda v: type(v) is tuple and len(v) == count and all(map(item, v))
        return lambda v: True  # not a type the app passes from Python


def _split_top(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def _parse_signature(spec: str) -> list[_Arg]:
    """The arguments of "return(arguments)" (the return type may hold parentheses itself)."""
    depth = 0
    for i in range(len(spec) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(spec[i], 0)
        if depth == 0:
            return [_Arg(a) for a in _split_top(spec[i + 1 : -1])]
    raise ValueError(f"not a signature: {spec}")


def _describe(value: Any) -> Any:
    """What tells the variants of a kernel apart: None, an array's (dtype, ndim, C-contiguous)."""
    if value is None:
        return None
    flags = getattr(value, "flags", None)
    if flags is None:
        return "scalar"
    return (value.dtype.char, value.ndim, flags.c_contiguous)


class _Variants:
    """A kernel exported for several signatures: the one the arguments need (cached by what
    tells them apart), every argument checked first in strict mode."""

    def __init__(self, name: str, fns: list[Any], sigs: list[list[_Arg]]) -> None:
        self.name, self.fns, self.sigs = name, fns, sigs
        self.positions = tuple(i for i in range(len(sigs[0])) if len({s[i].text for s in sigs}) > 1)
        self.table: dict[tuple[Any, ...], int] = {}
        self.__name__ = name.rpartition(".")[2]

    def __call__(self, *args: Any) -> Any:
        key = tuple([_describe(args[i]) for i in self.positions])
        index = self.table.get(key)
        if index is None:
            index = self._resolve(key, args)
        if STRICT:
            self._check(index, args)
        return self.fns[index](*args)

    def _resolve(self, key: tuple[Any, ...], args: tuple[Any, ...]) -> int:
        candidates = [
            i
            for i, sig in enumerate(self.sigs)
            if all(sig[p].accepts(args[p]) for p in self.positions)
        ]
        if not candidates:
            self._check(0, args)  # raises, naming the argument
            raise TypeError(f"{self.name}: no compiled signature takes these arguments")
        # A C-contiguous array prefers its C variant to the any-layout one.
        exact = [i for i in candidates if all(self.sigs[i][p].key() == key[j]
                                               for j, p in enumerate(self.positions))]  # fmt: skip
        index = (exact or candidates)[0]
        self.table[key] = index
        return index

    def _check(self, index: int, args: tuple[Any, ...]) -> None:
        sig = self.sigs[index]
        if len(args) != len(sig):
            raise TypeError(f"{self.name} takes {len(sig)} arguments, got {len(args)}")
        for i, (arg, value) in enumerate(zip(sig, args, strict=True)):
            if not arg.accepts(value):
                raise TypeError(
                    f"{self.name}: argument {i} is {_show(value)}, the compiled kernel takes "
                    f"{arg.text} (audio/kernel_signatures.py lists the signatures it is built "
                    "for; numba's JIT would compile a new one)"
                )


def _show(value: Any) -> str:
    if isinstance(value, np.ndarray):
        layout = "C-contiguous" if value.flags.c_contiguous else "strided"
        ro = "" if value.flags.writeable else ", read-only"
        return f"a {layout} {value.dtype} array of {value.ndim} dimensions{ro}"
    return f"{type(value).__name__} {value!r}"[:120]
