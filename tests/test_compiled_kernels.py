"""The kernels come ahead of time from the install's build, not from numba at first use.

A fan's first launch must not compile (audio/compiled.py): after `make bootstrap` the studio's
whole audio path (engine, offline render with its helper thread, automation, FLAC decoding, the
PortAudio callback, loudness) runs with numba never imported, so nothing can be compiled; a
build older than the sources is not used; the build's functions give numba's bits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from audio import compiled
from audio.kernel_signatures import CALLBACKS, KERNELS

ROOT = Path(__file__).resolve().parents[1]
NEEDS_BUILD = (
    "no ahead-of-time build of the current kernel sources in this environment: run "
    "`make bootstrap` (or `.venv/bin/python -m audio.build_kernels`)"
)


def run_child(code: str, mode: str, tmp: Path, timeout: float = 240.0) -> dict:
    """Run `code` in a fresh interpreter with ENCORE_KERNELS=mode (argv[1]: a file in tmp);
    it prints one JSON line."""
    env = {**os.environ, "ENCORE_KERNELS": mode, "QT_QPA_PLATFORM": "offscreen"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), str(tmp / f"stem-{mode}.flac")],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


# What the studio does to its kernels in a session, in the app's import order (PySide6 first,
# as ui/main.py): engine warm-up, live blocks, an offline render on two threads with the full
# strip and automation, a FLAC decoded progressively and from a file, the PortAudio callback's
# address, loudness. Prints whether numba or LLVM were ever imported, scipy before loudness (the
# platform's), and a digest of everything computed (the same in every mode).
SESSION = """
    import hashlib, json, sys
    import PySide6.QtWidgets  # noqa: F401  (the app imports Qt first)
    import numpy as np
    import soundfile as sf
    from audio import automation, compiled, dsp, loudness
    from audio.engine import Engine
    from audio.mixer import MixKernel
    from audio.offline import render_mix
    from core.flacdec import FlacFileDecoder, FlacStreamDecoder
    from audio import device

    digest = hashlib.sha256()
    def add(a):
        digest.update(np.ascontiguousarray(a).tobytes())
    MixKernel(1, 256)
    automation.warm_up()
    rng = np.random.default_rng(7)
    stems = (rng.standard_normal((5, 2, 48000 * 3)) * 0.2).astype(np.float32)
    strip = np.tile(dsp.STRIP_DEFAULTS, (5, 1))
    strip[:, dsp.P_EQ_MID] = np.linspace(-6, 6, 5)
    strip[:, dsp.P_HP] = 80.0
    strip[:, dsp.P_LP] = 9000.0
    strip[:, dsp.P_SEND_REVERB] = 0.4
    strip[:, dsp.P_SEND_DELAY] = 0.3
    args = (np.linspace(-6, 0, 5), np.linspace(-1, 1, 5), False, False, 4.0, 48000)
    for block in (1024, 256):
        add(render_mix(stems, *args, block, strip, dsp.BUS_DEFAULTS.copy()))
    engine = Engine(48000, max_block=256, max_stems=5)
    engine.load(stems, ["a", "b", "c", "d", "e"])
    engine.set_strip(strip)
    lane = (0, "gain_db", [0.0, 0.5, 1.0], [0.0, -12.0, 0.0])
    engine.set_automation(engine.automation_for([lane]))
    engine.play()
    out = np.zeros((256, 2), np.float32)
    for _ in range(200):
        engine.process(out)
        add(out)
    path = sys.argv[1]  # a FLAC file in the test's temp dir
    sf.write(path, stems[0].T * 0.5, 48000, format="FLAC", subtype="PCM_16")
    for _, chunk in FlacStreamDecoder(open(path, "rb").read()).frames():
        add(chunk)
    planar = np.zeros((2, 4096), np.float32)
    decoder = FlacFileDecoder(path, 2)
    add(planar[:, : decoder.read(1000, planar)])
    add(planar[:, : decoder.read(30000, planar[:, ::2])])  # a strided window
    studio_scipy = "scipy" in sys.modules  # loudness (the platform's) designs its FIR with it
    add(np.array([loudness.integrated_loudness(stems[0].T, 48000), loudness.true_peak(stems[1].T)]))
    assert device._ring_callback.address
    print(json.dumps({
        "mode": compiled.MODE,
        "digest": digest.hexdigest(),
        "numba": "numba" in sys.modules,
        "llvm": "llvmlite.binding" in sys.modules,
        "scipy": studio_scipy,
    }))
"""


def current_build() -> bool:
    ext_ok = compiled.MODE == "aot"
    if not ext_ok and compiled.MODE == "jit":
        ext_ok = compiled._load_build()[0] is not None
    return ext_ok


def test_after_install_nothing_is_compiled_and_numba_is_never_imported(tmp_path):
    if not current_build():
        pytest.fail(NEEDS_BUILD)
    result = run_child(SESSION, "aot", tmp_path)
    assert result["mode"] == "aot"
    assert not result["numba"], "numba was imported: something can compile at first use"
    assert not result["llvm"]
    assert not result["scipy"], "the studio's audio path imported scipy (~70 MB)"


def test_the_jit_fallback_gives_the_builds_bits(tmp_path):
    """numba's JIT (a stale or missing build) and the build compute the very same samples."""
    if not current_build():
        pytest.fail(NEEDS_BUILD)
    aot = run_child(SESSION, "aot", tmp_path)
    jit = run_child(SESSION, "jit", tmp_path, timeout=600)  # numba caches it after a first run
    assert jit["mode"] == "jit" and jit["numba"]
    assert aot["digest"] == jit["digest"]


def test_a_build_older_than_the_sources_is_not_used(monkeypatch):
    monkeypatch.setattr(compiled, "source_digest", lambda root=compiled.ROOT: "0" * 64)
    monkeypatch.delenv(compiled.MODE_ENV, raising=False)
    mode, ext, why = compiled._choose()
    assert (mode, ext) == ("jit", None)
    assert "older than the kernel sources" in why or "no ahead-of-time build" in why
    monkeypatch.setenv(compiled.MODE_ENV, "aot")
    with pytest.raises(ImportError, match="make bootstrap"):
        compiled._choose()
    monkeypatch.setenv(compiled.MODE_ENV, "sometimes")
    with pytest.raises(ImportError, match="use aot, jit or build"):
        compiled._choose()


def test_an_avx2_machine_prefers_a_bundles_x86_64_v3_build_while_it_is_current(monkeypatch):
    from types import SimpleNamespace

    current = compiled.source_digest()
    builds = {
        compiled.EXTENSION_V3: SimpleNamespace(digest=lambda: current, __file__="v3.so"),
        compiled.EXTENSION: SimpleNamespace(digest=lambda: current, __file__="v2.so"),
    }

    def import_module(name):
        if name not in builds:
            raise ImportError(f"No module named {name!r}")
        return builds[name]

    monkeypatch.setattr(compiled.importlib, "import_module", import_module)
    monkeypatch.setattr(compiled, "_cpu_has_x86_64_v3", lambda: True)
    assert compiled._load_build()[0].__file__ == "v3.so"
    builds[compiled.EXTENSION_V3] = SimpleNamespace(digest=lambda: "old", __file__="v3.so")
    assert compiled._load_build()[0].__file__ == "v2.so"  # a stale one is passed over
    monkeypatch.setattr(compiled, "_cpu_has_x86_64_v3", lambda: False)
    builds[compiled.EXTENSION_V3] = SimpleNamespace(digest=lambda: current, __file__="v3.so")
    assert compiled._load_build()[0].__file__ == "v2.so"  # no AVX2: never the v3 build


def test_every_listed_kernel_and_callback_exists():
    import core.flacdec  # noqa: F401
    from audio import automation, device, dsp, loudness  # noqa: F401

    assert set(KERNELS) <= set(compiled.DEFINED_KERNELS), "listed but not a @kernel"
    assert set(CALLBACKS) == set(compiled.DEFINED_CALLBACKS)
    for name, specs in KERNELS.items():
        for spec in specs:
            assert (
                len(compiled._parse_signature(spec))
                == compiled.DEFINED_KERNELS[name][0].__code__.co_argcount
            ), (name, spec)


@pytest.fixture
def aot():
    if compiled.MODE != "aot":
        pytest.skip(f"kernels from numba's JIT in this process ({compiled.REASON})")
    if not compiled.STRICT:
        pytest.skip("ENCORE_KERNELS_STRICT is off (tests/conftest.py sets it)")


def test_a_call_the_build_has_no_signature_for_is_refused_with_a_reason(aot):
    from audio import dsp

    out = np.zeros((4, 2), np.float64)  # meter reads float32
    with pytest.raises(
        TypeError, match=r"argument 0 is a C-contiguous float64 array.*f4\[:, ::1\]"
    ):
        dsp.meter(out, 4, np.zeros(2, np.float32), np.zeros(2, np.float32))
    with pytest.raises(TypeError, match="argument 1 is float"):
        dsp.meter(out.astype(np.float32), 4.0, np.zeros(2, np.float32), np.zeros(2, np.float32))
    with pytest.raises(RuntimeError, match="compiled into other kernels only"):
        dsp._any_active(np.zeros((5, 2)), 2)


def test_a_strided_block_takes_the_any_layout_variant_with_the_same_bits(aot):
    from audio import dsp
    from audio.mixer import MixKernel

    rng = np.random.default_rng(3)
    wide = (rng.standard_normal((3, 2, 512)) * 0.3).astype(np.float32)
    strip = np.tile(dsp.STRIP_DEFAULTS, (3, 1))
    strip[:, dsp.P_EQ_LOW] = 4.0
    outs = []
    for block in (wide[:, :, ::2], np.ascontiguousarray(wide[:, :, ::2])):
        assert block.flags.c_contiguous == (len(outs) == 1)
        kernel = MixKernel(3, 256)
        controls = (np.zeros(3), np.zeros(3), np.zeros(3, bool), np.zeros(3, bool), 0.0)
        kernel.reset(*controls, strip)
        out = np.zeros((256, 2), np.float32)
        kernel.process(block, out, *controls, strip)
        outs.append(out)
    assert np.array_equal(outs[0], outs[1]) and np.abs(outs[0]).max() > 0.1


def test_nogil_kernels_let_other_threads_run(aot):
    """The build's wrapper of a nogil kernel releases the GIL, as numba's does (the offline
    render's helper thread and the decoders rely on it). With a 10 s switch interval a kernel
    that held the GIL would keep this thread waiting until it returned."""
    from audio import loudness

    x = np.random.default_rng(1).standard_normal((48000 * 240, 2)).astype(np.float32)
    h = np.full((4, 21), 0.05)  # any interpolator: only the time it takes matters here
    started, done = threading.Event(), threading.Event()

    def work() -> None:
        started.set()
        loudness._true_peak(x, 0, x.shape[0], h)
        done.set()

    interval = sys.getswitchinterval()
    sys.setswitchinterval(10.0)
    try:
        t = threading.Thread(target=work)
        t.start()
        started.wait()
        time.sleep(0.02)  # the kernel is running now (it takes ~0.3 s)
        ran_meanwhile = not done.is_set()
        t.join()
    finally:
        sys.setswitchinterval(interval)
    assert ran_meanwhile, "this thread could not run while a nogil kernel ran"
