"""Soak: the real app plays an 8-stem track on the JACK dummy device while its UI animates.

Run from the repository root:  .venv/bin/python benchmarks/soak.py [--seconds 600] [--block 128]
Prints ONE JSON line (progress on stderr). Target (../shared/README.md §6): 0 xruns in 10
minutes at 128 frames with the UI animating.

What runs: a private JACK dummy server (period = block) and a local platform with the streaming
benchmark's catalog (8 stems x 4 min); a child interpreter with the real MainWindow (offscreen
QPA: widgets paint), signed in as the fan, opens the track as a click does, loops the whole track
and plays. While it plays, a "fan" drags one fader at 50 Hz and sweeps an EQ knob at 5 Hz through
the widgets (so every move goes widget -> Studio -> engine, and the draft autosaves), and the
window's own 30 Hz poll animates meters and playhead.

Dropouts are counted on every side, because each sees different ones: periods the render
thread had not filled in time (`ring_short_periods`, heard as silence), PortAudio's
output-underflow flags, and the JACK server's own log ("XRun ... was not finished": the callback
missed its period). `underflow_periods` (= `Engine.underflows`) is the first two together.
Callback count vs. wall time catches a stalled stream.
"""

from __future__ import annotations

import argparse
import faulthandler
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.machine import machine_info
from benchmarks.streaming import FAN, FIRST_SOUND_TRACK, build_catalog, local_platform, log

SR = 48000


def jack_xruns(log_path: str) -> int:
    try:
        return Path(log_path).read_text(errors="replace").count("XRun")
    except OSError:
        return 0


def soak_child(url: str, track_id: str, work: Path, seconds: float, block: int) -> None:
    """Child process: the app as `encore` runs it, for `seconds` of looped playback."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.client import PlatformClient
    from app.drafts import DraftStore
    from audio.engine import Engine
    from audio.output import AudioOutput
    from ui.main import load_theme
    from ui.mainwindow import MainWindow
    from ui.tasks import TaskRunner

    faulthandler.dump_traceback_later(seconds + 150, exit=True)  # a hang shows where it is
    app = QApplication(sys.argv[:1])
    app.setStyleSheet(load_theme())
    client = PlatformClient(url)
    client.login(*FAN)
    engine = Engine()
    output = AudioOutput(engine)
    problem = output.open(os.environ["BENCH_DEVICE"], block)
    if problem is not None:
        raise RuntimeError(problem)
    window = MainWindow(client, engine, TaskRunner(app), DraftStore(work / "drafts"), work / "c")
    window.resize(1400, 860)
    window.show()
    jack_log = os.environ["BENCH_JACK_LOG"]
    state: dict = {"moves": 0}
    gc_pauses: list[float] = []  # the collector holds the GIL: a long pass delays the callback
    gc_start = [0.0]

    def gc_timer(phase: str, _info: dict) -> None:
        if phase == "start":
            gc_start[0] = time.perf_counter()
        elif "t0" in state:
            gc_pauses.append(time.perf_counter() - gc_start[0])

    gc.callbacks.append(gc_timer)

    deadline = time.monotonic() + 120.0

    def open_track() -> None:
        if window.catalog.list.count() == 0:  # the catalog loads in a worker
            QTimer.singleShot(100, open_track)
            return
        window.catalog.trackActivated.emit(track_id)  # what a click in the catalog emits
        QTimer.singleShot(100, start)

    def start() -> None:
        studio = window.studio
        if studio.track is None or not studio.track.seekable:
            if time.monotonic() > deadline:
                state["result"] = {
                    "error": "the track did not open",
                    "banner": window.banner.text(),
                }
                app.quit()
                return
            QTimer.singleShot(100, start)
            return
        studio.set_loop(0.0, engine.duration_frames / engine.sample_rate)
        if not engine.playing:
            window.toggle_play()
        state.update(
            t0=time.monotonic(),
            c0=engine.callback_count,
            u0=engine.underflows,
            m0=engine.missing_frames,
            x0=jack_xruns(jack_log),
            pa0=output.stream.portaudio_underflows,
            ring0=output.stream.ring_underflows,
            ringf0=output.stream.ring_underflow_frames,
        )
        strips = list(window.mixer.strips.values())
        fader, knob = strips[0].fader, strips[1].hp

        def move() -> None:
            i = state["moves"] = state["moves"] + 1
            fader.setValue(fader.minimum() + (i * 7) % (fader.maximum() - fader.minimum()))

        def sweep() -> None:
            knob.set_position((state["moves"] * 0.013) % 1.0)

        def watch() -> None:  # when underflows happen (seconds into the soak), for diagnosis
            n = engine.underflows - state["u0"]
            if n > state.setdefault("u_seen", 0):
                state.setdefault("u_times", []).append(round(time.monotonic() - state["t0"], 1))
                state["u_seen"] = n

        for interval, action in ((20, move), (200, sweep), (250, watch)):
            timer = QTimer(window, interval=interval)
            timer.timeout.connect(action)
            timer.start()
        QTimer.singleShot(round(seconds * 1000), finish)

    def finish() -> None:
        try:
            report()
        finally:
            app.quit()

    def report() -> None:
        stream = output.stream
        elapsed = time.monotonic() - state["t0"]
        callbacks = engine.callback_count - state["c0"]
        state["result"] = {
            "seconds": round(elapsed, 1),
            "block": block,
            "stems": len(window.mixer.strips),
            "callbacks": callbacks,
            "expected_callbacks": round(elapsed * SR / block),
            "underflow_periods": engine.underflows - state["u0"],
            "portaudio_underflows": stream.portaudio_underflows - state["pa0"],
            "ring_short_periods": stream.ring_underflows - state["ring0"],
            "ring_short_frames": stream.ring_underflow_frames - state["ringf0"],
            "underflow_at_s": state.get("u_times", [])[:50],
            "jack_xruns": jack_xruns(jack_log) - state["x0"],
            "missing_frames": engine.missing_frames - state["m0"],
            "callback_errors": engine.callback_errors,
            "ui_moves": state["moves"],
            "gc_passes": len(gc_pauses),
            "gc_pause_ms_max": round(1000 * max(gc_pauses, default=0.0), 2),
            "gc_pauses_over_1ms": sum(p > 0.001 for p in gc_pauses),
            "latency_ms": output.latency_ms,
            "switch_interval_s": sys.getswitchinterval(),
            "banner": window.banner.text() if not window.banner.isHidden() else None,
        }

    QTimer.singleShot(0, open_track)
    app.exec()
    window.close()
    output.close()
    print(json.dumps(state["result"]), flush=True)


def run(seconds: float, block: int) -> dict:
    from tests.plugins.jack import jack_server

    work = Path(tempfile.mkdtemp(prefix="encore-bench-soak-"))
    try:
        build_catalog(work / "catalog", work)
        with local_platform(work, work / "catalog") as plat, jack_server(SR, block) as device:
            server = os.environ["JACK_DEFAULT_SERVER"]  # set by jack_server
            jack_log = os.path.join(tempfile.gettempdir(), f"encore-jackd-{server}.log")
            if not os.path.exists(jack_log):
                raise RuntimeError(f"no JACK log at {jack_log}: xruns could not be counted")
            log(False, f"platform at {plat.url}, JACK device {device}, soaking {seconds:g} s")
            env = {
                **os.environ,
                "QT_QPA_PLATFORM": "offscreen",
                "BENCH_DEVICE": str(device),
                "BENCH_JACK_LOG": jack_log,
            }
            cmd = [sys.executable, __file__, "--child", plat.url, FIRST_SOUND_TRACK[0], str(work)]
            cmd += ["--seconds", str(seconds), "--block", str(block)]
            done = subprocess.run(
                cmd, env=env, capture_output=True, text=True, timeout=seconds + 240, check=False
            )
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
        if done.returncode != 0 or not lines:
            err = done.stderr.split("\nExtension modules:")[0]  # a fatal error lists 100+ modules
            raise RuntimeError(f"soak child failed ({done.returncode}):\n{err[-4000:]}")
        soak = json.loads(lines[-1])
        xruns = soak["underflow_periods"] + soak["jack_xruns"]
        return {
            "machine": machine_info(),
            "loadavg_after": round(os.getloadavg()[0], 2),
            "soak": soak,
            "target": {"xruns": 0, "seconds": 600, "met": xruns == 0 and seconds >= 600},
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--block", type=int, default=128)
    parser.add_argument("--child", nargs=3, metavar=("URL", "TRACK", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url, track_id, directory = args.child
        soak_child(url, track_id, Path(directory), args.seconds, args.block)
        return
    started = time.monotonic()
    result = run(args.seconds, args.block)
    result["wall_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
