"""The studio's resident memory with an 8-stem 5-minute track playing, in the app's own process.

Run from the repository root:  .venv/bin/python benchmarks/memory.py [--play SECONDS]
Prints ONE JSON line (progress on stderr unless --json-only). Starts a private JACK dummy
server and a local platform; everything lives in a temp dir that is removed at the end.

The measured process is the real `encore` (ui.main.main, `--platform URL`): this module imports
nothing but the standard library before it, so the interpreter imports what the app imports, in
the app's order (PySide6 first: Qt's binding then sees every later import, which costs memory).
A driver inside it signs in as `fan`, opens the track as a click does and presses play; once
every stem has streamed in (the track is seekable) and it has played `--play` seconds more, it
reads its own memory from /proc:

* rss_mb: VmRSS, everything resident, including JACK's shared-memory segments, which libjack
  maps into every client (shared with jackd, and only there on a JACK device);
* rss_mb_without_jack_shm: the same less those segments (the figure on an ALSA/PulseAudio
  device); the 350 MB target is for this one, and is reported for both;
* the biggest mappings, the decoded-audio pool, RSS after malloc_trim (allocator slack), and
  whether numba, LLVM or scipy were imported (they cost ~65, ~140 and ~70 MB).

The catalog is benchmarks/streaming.py's: 8 distinct demo stems tiled to 5 minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TRACK = ("bench-5min", 300.0)
PLAY_SECONDS = 5.0
TIMEOUT_S = 120.0
TARGET_MB = 350.0


def log(quiet: bool, message: str) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)


# -- what /proc says (usable from any process: standard library only) ---------------------------


def proc_status_mb(pid: int | str = "self") -> dict[str, float]:
    """VmRSS / VmHWM of a process, in MB (the kernel's figures, not an estimate)."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = round(int(value.split()[0]) / 1024, 1)
    return out


def rss_by_mapping_kb() -> dict[str, int]:
    """RSS by mapping (anonymous memory vs each shared library or shm segment), in kB."""
    by_name: dict[str, int] = {}
    name = "[anon]"
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
            name = Path(head[5]).name if len(head) > 5 and head[5].startswith("/") else "[anon]"
        elif head and head[0] == "Rss:":
            by_name[name] = by_name.get(name, 0) + int(head[1])
    return by_name


def smaps_top(n: int = 6) -> dict[str, float]:
    """The biggest mappings by RSS, in MB: where the megabytes live."""
    top = sorted(rss_by_mapping_kb().items(), key=lambda kv: -kv[1])[:n]
    return {k: round(v / 1024, 1) for k, v in top}


def jack_shm_mb() -> float:
    """JACK's shared-memory segments mapped by libjack: counted in RSS, but shared with jackd
    and only there because the device is JACK (an ALSA or PulseAudio device has none)."""
    kb = sum(v for k, v in rss_by_mapping_kb().items() if k.startswith("jack-"))
    return round(kb / 1024, 1)


def heap_trimmed_mb() -> float:
    """RSS after returning freed heap to the OS: how much of RSS is allocator slack."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return proc_status_mb()["VmRSS"]


# -- the app, driven (child process) -------------------------------------------------------------


def child(url: str, track_id: str, data_dir: str, device: str, play_s: float) -> None:
    """`encore --platform URL --data-dir DIR --device N` with a driver; prints its memory."""
    sys.path.insert(0, str(REPO))
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from ui import main as encore  # first, as `encore` starts: PySide6 before anything else
    from ui.login import LoginDialog
    from ui.mainwindow import MainWindow

    rss: dict[str, float] = {"imported": proc_status_mb()["VmRSS"]}
    state: dict[str, Any] = {}
    deadline = time.monotonic() + TIMEOUT_S

    def visible(kind: type) -> Any:
        return next(
            (w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()),
            None,
        )

    def drive() -> None:
        if time.monotonic() > deadline:
            state["error"] = f"timed out: {sorted(rss)}"
            QApplication.instance().quit()
            return
        window = visible(MainWindow)
        if window is None:
            dialog = visible(LoginDialog)
            if dialog is not None and dialog.sign_in.isEnabled() and "signed_in" not in state:
                rss["login"] = proc_status_mb()["VmRSS"]
                dialog.username.setText("fan")
                dialog.password.setText("encore-demo")
                dialog.sign_in.click()
                state["signed_in"] = True
        elif "opened" not in state:
            if window.catalog.list.count() > 0:
                state.setdefault("listed", time.monotonic())
                if time.monotonic() - state["listed"] > 1.0:  # first paints, styles, fonts
                    rss["baseline"] = proc_status_mb()["VmRSS"]
                    state["baseline_top"] = smaps_top()
                    state["opened"] = time.monotonic()
                    window.catalog.trackActivated.emit(track_id)  # what a click emits
        elif "playing" not in state:
            if window.studio.track is not None:
                window.toggle_play()
                rss["opened"] = proc_status_mb()["VmRSS"]
                state["playing"] = time.monotonic()
        elif "seekable" not in state:
            if window.studio.track.seekable:
                state["seekable"] = time.monotonic()
        elif time.monotonic() - state["seekable"] >= play_s:
            state["result"] = measure(window, rss, state)
            window.close()
            return
        QTimer.singleShot(20, drive)

    QTimer.singleShot(0, drive)
    code = encore.main(["--platform", url, "--data-dir", data_dir, "--device", device])
    if "result" not in state:
        raise SystemExit(f"no figure ({code}): {state.get('error', state)}")
    print(json.dumps(state["result"]), flush=True)


def measure(window: Any, rss: dict[str, float], state: dict[str, Any]) -> dict[str, Any]:
    import linecache

    engine, track = window.engine, window.studio.track
    playing = proc_status_mb()
    jack = jack_shm_mb()
    trimmed = heap_trimmed_mb()
    # PySide6's import hook reads the source of every module imported after it (to see whether
    # it uses PySide6): it stays in linecache. What clearing it would give back:
    sources = len(linecache.cache)
    linecache.clearcache()
    return {
        "rss_mb": playing["VmRSS"],
        "rss_mb_without_jack_shm": round(playing["VmRSS"] - jack, 1),
        "jack_shm_mb": jack,
        "hwm_mb": playing["VmHWM"],
        "rss_mb_after_malloc_trim": trimmed,
        "pyside_source_cache": {"modules": sources, "rss_mb_after_clearing": heap_trimmed_mb()},
        "rss_mb_steps": {
            "imported": rss["imported"],
            "sign_in": rss.get("login"),
            "catalog_shown": rss["baseline"],
            "track_opened": rss["opened"],
        },
        "rss_by_mapping_mb": smaps_top(),
        "rss_by_mapping_mb_catalog_shown": state["baseline_top"],
        "chunk_pool_mb": round(track.source.nbytes / 2**20, 1),
        "imported": {m: m in sys.modules for m in ("numba", "llvmlite.binding", "scipy")},
        "seekable_s": round(state["seekable"] - state["opened"], 2),
        "played_s": round(engine.position_seconds, 2),
        "missing_frames": engine.missing_frames,
        "callback_errors": engine.callback_errors,
        "banner": window.banner.text() if window.banner.isVisible() else None,
    }


# -- the parent ----------------------------------------------------------------------------------


def measure_app(url: str, device: int, work: Path, play_s: float = PLAY_SECONDS) -> dict:
    """The real app in a fresh interpreter on the platform at `url`: its memory (see above)."""
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_CACHE_HOME": str(work / "xdg-cache"),  # the stem cache: empty, in the temp dir
        "XDG_CONFIG_HOME": str(work / "xdg-config"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    cmd = [sys.executable, __file__, "--child", url, TRACK[0], str(work / "app"), str(device)]
    cmd.append(str(play_s))
    done = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S + 60, check=False
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"app child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return {"track": {"stems": 8, "seconds": TRACK[1]}, **json.loads(lines[-1])}


def run(play_s: float, quiet: bool) -> dict:
    sys.path.insert(0, str(REPO))
    from app.embedded import start_platform
    from benchmarks.machine import machine_info
    from benchmarks.streaming import FIRST_SOUND_TRACK, build_catalog
    from tests.plugins.jack import jack_server

    assert FIRST_SOUND_TRACK != TRACK
    work = Path(tempfile.mkdtemp(prefix="encore-bench-memory-"))
    try:
        t = time.perf_counter()
        build_catalog(work / "catalog", work)
        log(quiet, f"catalog built in {time.perf_counter() - t:.1f} s")
        platform = start_platform(
            work / "platform", env={"ENCORE_DEMO_CACHE": str(work / "catalog")}
        )
        try:
            with jack_server() as device:
                log(quiet, f"platform at {platform.url}, JACK device {device}")
                result = {
                    "machine": machine_info(),
                    "app": measure_app(platform.url, device, work, play_s),
                }
        finally:
            platform.stop()
        app = result["app"]
        result["targets"] = {
            "rss_mb_without_jack_shm": {
                "target": TARGET_MB,
                "measured": app["rss_mb_without_jack_shm"],
                "met": app["rss_mb_without_jack_shm"] <= TARGET_MB,
            },
            "rss_mb": {
                "target": TARGET_MB,
                "measured": app["rss_mb"],
                "met": app["rss_mb"] <= TARGET_MB,
            },
        }
        result["loadavg_end"] = os.getloadavg()[0]
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--play", type=float, default=PLAY_SECONDS, help="seconds after seekable")
    parser.add_argument("--json-only", action="store_true", help="no progress on stderr")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url, track_id, data_dir, device, play_s = args.child
        child(url, track_id, data_dir, device, float(play_s))
        return
    print(json.dumps(run(args.play, args.json_only)), flush=True)


if __name__ == "__main__":
    main()
