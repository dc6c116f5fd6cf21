"""First launch and later launches: process start to a usable studio, the real app.

Run from the repository root:  .venv/bin/python benchmarks/startup.py [--repeat N] [--jit]
Prints ONE JSON line (progress on stderr unless --json-only). Everything lives in a temp dir
that is removed at the end; nothing is written into the checkout.

Each launch is the real `encore` (ui.launch.main: the embedded platform spawned first, then
PySide6 and the studio imported, as the app does) in a fresh interpreter, offscreen, on a
private JACK dummy device. A driver inside it does what a fan does as fast as the app allows:
signs in as `fan` as soon as the sign-in button is enabled (the platform is up), opens the
first track of the catalog as soon as it is listed, presses play. **Usable** = the main window
is shown with that track open and playing (the engine's playhead has moved: the device is
pulling its audio). The figure is from just before the process is spawned to that moment.

* cold: a fresh data dir, an empty stem cache and an empty numba cache (NUMBA_CACHE_DIR in the
  temp dir), i.e. a clean machine after `make bootstrap` (which builds the kernels, see
  audio/compiled.py). The demo catalog's music is composed once before timing and shared
  (ENCORE_DEMO_CACHE, as the tests do): composing it is the platform's first-run seeding, not
  the studio's start (`--compose` times a launch that composes it too).
* warm: the same again on the data dir a cold launch left (platform database and demo seeded).
* `--jit`: one cold launch with ENCORE_KERNELS=jit, the kernels compiled by numba on first use
  (what every first launch did before the ahead-of-time build).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TIMEOUT_S = 180.0
USABLE = "main window shown, first track of the catalog open and playing (playhead moved)"
POLL_MS = 5


def log(quiet: bool, message: str) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)


# -- the app, driven (child process) -------------------------------------------------------------


def child(data_dir: str, device: str) -> None:
    """`encore --data-dir DIR --device N` with a driver; prints the milestones (perf_counter,
    CLOCK_MONOTONIC: comparable with the parent's) as one JSON line."""
    sys.path.insert(0, str(REPO))
    from ui import launch  # as `encore` starts: the platform spawned, then Qt imported

    argv = ["--data-dir", data_dir, "--device", device]
    platform = launch.spawn_embedded(argv)
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from ui import main as encore  # then the studio, PySide6 before anything else of it
    from ui.login import LoginDialog
    from ui.mainwindow import MainWindow

    marks: dict[str, float] = {"imported": time.perf_counter()}

    def mark(name: str) -> None:
        marks.setdefault(name, time.perf_counter())

    def visible(kind: type) -> Any:
        return next(
            (w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()),
            None,
        )

    def drive() -> None:
        window = visible(MainWindow)
        if window is not None:
            mark("window_shown")
            if window.catalog.list.count() > 0 and "catalog_listed" not in marks:
                mark("catalog_listed")
                item = window.catalog.list.item(0)  # what a click on it emits:
                window.catalog.trackActivated.emit(item.data(Qt.ItemDataRole.UserRole))
            if window.studio.track is not None and "track_open" not in marks:
                mark("track_open")
                window.toggle_play()
            if "track_open" in marks and window.engine.position_seconds > 0.0:
                mark("usable")  # playing: the device pulls the track's audio
                marks["kernels"] = _kernel_mode()
                window.close()
                return
        else:
            dialog = visible(LoginDialog)
            if dialog is not None:
                mark("login_shown")
                if dialog.sign_in.isEnabled() and "signed_in" not in marks:
                    mark("platform_ready")
                    dialog.username.setText("fan")
                    dialog.password.setText("encore-demo")
                    dialog.sign_in.click()
                    mark("signed_in")
        QTimer.singleShot(POLL_MS, drive)

    QTimer.singleShot(0, drive)
    code = encore.main(argv, platform)
    marks["exit_code"] = code
    print(json.dumps(marks), flush=True)


def _kernel_mode() -> Any:
    from audio import compiled

    return {"mode": compiled.MODE, "numba_imported": "numba" in sys.modules}


# -- launches (parent) ---------------------------------------------------------------------------


def launch(work: Path, data_dir: Path, device: int, env: dict[str, str]) -> dict[str, Any]:
    """One launch: seconds from spawn to each milestone, and whether numba was imported."""
    cmd = [sys.executable, __file__, "--child", str(data_dir), str(device)]
    t0 = time.perf_counter()
    done = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False, cwd=work
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"launch failed ({done.returncode}):\n{done.stderr[-3000:]}")
    marks = json.loads(lines[-1])
    if "usable" not in marks:
        raise RuntimeError(f"the studio never became usable: {marks}\n{done.stderr[-2000:]}")
    out = {k: round(v - t0, 3) for k, v in marks.items() if isinstance(v, float)}
    out["kernels"] = marks.get("kernels")
    return out


def environment(work: Path, catalog: Path | None, mode: str) -> dict[str, str]:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "ENCORE_KERNELS": mode,
        "NUMBA_CACHE_DIR": str(work / "numba-cache"),  # empty: a clean machine's
        "XDG_CACHE_HOME": str(work / "xdg-cache"),
        "XDG_CONFIG_HOME": str(work / "xdg-config"),
        "XDG_DATA_HOME": str(work / "xdg-data"),
        "PYTHONDONTWRITEBYTECODE": "1",  # nothing written into the checkout
    }
    env.pop("ENCORE_DEMO_CACHE", None)
    if catalog is not None:
        env["ENCORE_DEMO_CACHE"] = str(catalog)
    return env


def demo_catalog(work: Path) -> Path:
    """The composed demo catalog: the repo's `.cache/demo-catalog` when current (read only),
    else composed into the temp dir (not timed)."""
    from server.demo_music import GENERATOR_VERSION, write_demo_catalog

    source = REPO / ".cache" / "demo-catalog"
    try:
        tracks = json.loads((source / "catalog.json").read_text())
        if all(t.get("generator_version") == GENERATOR_VERSION for t in tracks):
            return source
    except (OSError, ValueError):
        pass
    write_demo_catalog(work / "demo-catalog")
    return work / "demo-catalog"


def fresh(work: Path, name: str) -> Path:
    """An empty directory (and empty caches) for a cold launch."""
    for sub in ("numba-cache", "xdg-cache", "xdg-config", "xdg-data"):
        shutil.rmtree(work / sub, ignore_errors=True)
    path = work / name
    shutil.rmtree(path, ignore_errors=True)
    return path


def summarise(runs: list[dict[str, Any]], key: str = "usable") -> dict[str, Any]:
    values = [r[key] for r in runs]
    return {"median_s": round(statistics.median(values), 2), "max_s": round(max(values), 2)}


def run(repeat: int, jit: bool, compose: bool, quiet: bool) -> dict[str, Any]:
    sys.path.insert(0, str(REPO))
    from benchmarks.machine import machine_info
    from tests.plugins.jack import jack_server

    work = Path(tempfile.mkdtemp(prefix="encore-bench-startup-"))
    try:
        catalog = demo_catalog(work)
        result: dict[str, Any] = {"machine": machine_info(), "usable": USABLE}
        with jack_server() as device:
            env = environment(work, catalog, "aot")
            cold, warm = [], []
            for i in range(repeat):
                data = fresh(work, f"data-{i}")
                cold.append(launch(work, data, device, env))
                log(quiet, f"cold {i}: {json.dumps(cold[-1])}")
                warm.append(launch(work, data, device, env))
                log(quiet, f"warm {i}: {json.dumps(warm[-1])}")
            result["cold"] = {**summarise(cold), "runs": cold}
            result["warm"] = {**summarise(warm), "runs": warm}
            if compose:
                data = fresh(work, "data-compose")
                run1 = launch(work, data, device, environment(work, None, "aot"))
                log(quiet, f"cold, composing the demo music: {json.dumps(run1)}")
                result["cold_composing_demo_music"] = run1
            if jit:
                data = fresh(work, "data-jit")
                run1 = launch(work, data, device, environment(work, catalog, "jit"))
                log(quiet, f"cold, numba JIT: {json.dumps(run1)}")
                result["cold_jit_reference"] = run1
        result["targets"] = {
            "cold_s": {"target": 5.0, "worst": result["cold"]["max_s"]},
            "warm_s": {"target": 2.0, "worst": result["warm"]["max_s"]},
        }
        for v in result["targets"].values():
            v["met"] = v["worst"] <= v["target"]
        result["loadavg_end"] = os.getloadavg()[0]
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="cold+warm launch pairs (3)")
    parser.add_argument("--jit", action="store_true", help="also a cold launch on numba's JIT")
    parser.add_argument("--compose", action="store_true", help="also one composing demo music")
    parser.add_argument("--json-only", action="store_true", help="no progress on stderr")
    parser.add_argument("--child", nargs=2, metavar=("DATA_DIR", "DEVICE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    print(json.dumps(run(args.repeat, args.jit, args.compose, args.json_only)), flush=True)


if __name__ == "__main__":
    main()
