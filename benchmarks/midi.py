"""MIDI: what a fast 14-bit fader costs the UI thread, how late its moves land, and what the
JACK reader thread costs while nothing is played.

Run from the repository root:  .venv/bin/python benchmarks/midi.py [--json-only]
Prints ONE JSON line (progress goes to stderr unless --json-only). Offscreen Qt, the studio window
on a private demo platform (temp dir removed at the end), the first demo track open.

Fader: strip 1's fader bound to a 14-bit CC pair; a thread standing in for rtmidi's (it calls
`MidiLearn.receive`, as the port callback does) sweeps it up and down once a second at RATE
messages a second (MSB and LSB: RATE / 2 positions), for SECONDS. Figures: the UI thread's CPU
(`time.thread_time()`) as a share of one core, the positions that reached the remix per second,
the undo steps made (a continuous sweep is one gesture: 1), and the delay from a message's
arrival to the GUI reading it (p50, p99, max). Fader moves reach the widget at most every
APPLY_S (ui/midilearn.py), so the remix changes ~66 times a second, as under a mouse drag.

JACK (when jackd is installed): a JACK dummy server, a virtual output port sending the same
sweep through JACK to `MidiPorts` (our 2 ms reader thread: app/midiports.py), end-to-end delay
from `send` to the fader; then the reader thread's CPU while the port is idle.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mido
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.client import PlatformClient
from app.drafts import DraftStore
from app.embedded import start_platform
from app.midi import MAX_14, Binding, MidiMap, Source, device_key
from audio.engine import Engine
from benchmarks.machine import machine_info
from ui.main import apply_theme
from ui.mainwindow import MainWindow
from ui.tasks import TaskRunner

RATE = 1000  # messages a second: a 14-bit fader moved fast
SECONDS = 5.0
IDLE_SECONDS = 3.0
REPO = Path(__file__).resolve().parents[1]


def log(quiet: bool, message: str) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)


def pump(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        QApplication.processEvents()
        if predicate():
            return True
        time.sleep(0.002)
    return False


def sweep(position0: float, n: int) -> list[int]:
    """14-bit values from `position0`, down to 0, up to the top and back, once a second."""
    values = []
    per_second = RATE // 2
    for i in range(n):
        phase = (i % per_second) / per_second
        tri = 1.0 - 2.0 * phase if phase < 0.5 else 2.0 * phase - 1.0  # 1 -> 0 -> 1
        values.append(round(min(1.0, tri * position0 + (1 - tri) * 0.0) * MAX_14))
    return values


def pairs(value: int) -> list[mido.Message]:
    return [
        mido.Message("control_change", control=0, value=value >> 7),
        mido.Message("control_change", control=32, value=value & 127),
    ]


def percentiles(delays: list[float]) -> dict[str, float]:
    if not delays:
        return {}
    ordered = sorted(delays)
    return {
        "p50_ms": round(1e3 * statistics.median(ordered), 2),
        "p99_ms": round(1e3 * ordered[int(0.99 * (len(ordered) - 1))], 2),
        "max_ms": round(1e3 * ordered[-1], 2),
    }


def instrument(window: MainWindow) -> tuple[list[float], list[float]]:
    """Stamp each message as it is queued; record, per GUI read, how long its oldest waited.
    Returns (stamps, delays): lists the caller clears."""
    midi = window.midi
    stamps: list[float] = []
    delays: list[float] = []
    put, take = midi.queue.put, midi.queue.take

    def stamped_put(port, msg):
        stamps.append(time.perf_counter())  # NB: the feeding thread; list.append is atomic
        put(port, msg)

    def timed_take():
        items = take()
        now = time.perf_counter()
        if items and stamps:
            delays.append(now - stamps[0])
            del stamps[: len(items)]
        return items

    midi.queue.put = stamped_put
    midi.queue.take = timed_take
    return stamps, delays


def fader_cost(window: MainWindow) -> dict:
    strip = next(iter(window.mixer.strips.values()))
    fader = strip.fader
    window.midi.maps["Bench"] = MidiMap([Binding("strip1.fader", Source.CC14, 0, 0)])
    position0 = (fader.value() - fader.minimum()) / (fader.maximum() - fader.minimum())
    n_positions = int(RATE / 2 * SECONDS)
    values = sweep(position0, n_positions)
    _stamps, delays = instrument(window)
    changes = [0]
    window.studio.on_change(lambda _doc: changes.__setitem__(0, changes[0] + 1))
    steps0 = window.remix_undo.stack.count()
    done = threading.Event()

    def feed() -> None:
        start = time.perf_counter()
        for i, value in enumerate(values):
            for msg in pairs(value):
                window.midi.receive("Bench", msg)
            wait = start + (i + 1) * 2 / RATE - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        done.set()

    cpu0, wall0 = time.thread_time(), time.perf_counter()
    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    while not done.is_set() or window.midi.busy:
        QApplication.processEvents()
        time.sleep(0.001)  # an idle event loop, as the app's between events
    cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
    feeder.join()
    return {
        "messages_per_s": RATE,
        "seconds": round(wall, 2),
        "ui_thread_cpu_percent_of_one_core": round(100 * cpu / wall, 1),
        "gui_reads_per_s": round(len(delays) / wall, 1),
        "remix_changes_per_s": round(changes[0] / wall, 1),
        "undo_steps": window.remix_undo.stack.count() - steps0,
        "arrival_to_gui": percentiles(delays),
    }


def jack_figures(window: MainWindow, quiet: bool) -> dict:
    import rtmidi

    from app.midiports import MidiPorts, MidiSystem
    from tests.plugins.jack import JackProcess, server_name

    jack = MidiSystem(rtmidi.API_UNIX_JACK, "JACK")
    strip = next(iter(window.mixer.strips.values()))
    fader = strip.fader
    with JackProcess(server_name("midi")):
        out = mido.Backend("mido.backends.rtmidi/UNIX_JACK", load=True).open_output(
            "Bench Fader", virtual=True
        )
        ports = MidiPorts(window.midi.receive, jack)
        window.midi.ports = ports
        try:
            ports.rescan()
            [name] = ports.names
            window.midi.maps = {
                device_key(name): MidiMap([Binding("strip1.fader", Source.CC, 0, 7)])
            }
            # Pick the fader up, then time single moves from send() to the fader.
            for v in range(0, 128):
                out.send(mido.Message("control_change", control=7, value=v))
                time.sleep(0.002)
            pump(lambda: fader.value() == fader.maximum(), 10)
            log(quiet, "JACK: timing moves end to end…")
            delays = []
            for i in range(200):
                v = 20 + (i % 100)
                target = round(fader.minimum() + v / 127 * (fader.maximum() - fader.minimum()))
                sent = time.perf_counter()
                out.send(mido.Message("control_change", control=7, value=v))
                if pump(lambda t=target: fader.value() == t, 2):
                    delays.append(time.perf_counter() - sent)
                time.sleep(0.005)
            log(quiet, "JACK: the reader thread idle…")
            tid = ports._reader.native_id if ports._reader else None
            cpu0 = thread_cpu(tid)
            time.sleep(IDLE_SECONDS)
            idle = (thread_cpu(tid) - cpu0) / IDLE_SECONDS if tid else None
        finally:
            ports.close()
            window.midi.ports = None
            out.close()
    return {
        "send_to_fader": percentiles(delays),
        "moves_timed": len(delays),
        "reader_idle_cpu_percent_of_one_core": None if idle is None else round(100 * idle, 2),
    }


def thread_cpu(tid: int | None) -> float:
    """User + system CPU seconds of one thread of this process (Linux /proc)."""
    if tid is None:
        return 0.0
    fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json-only", action="store_true")
    args = parser.parse_args()
    quiet = args.json_only
    app = QApplication(sys.argv[:1])
    apply_theme(app)
    with tempfile.TemporaryDirectory(prefix="encore-bench-midi-") as tmp:
        work = Path(tmp)
        log(quiet, "starting the platform…")
        cache = REPO / ".cache" / "demo-catalog"
        platform = start_platform(work / "platform", env={"ENCORE_DEMO_CACHE": str(cache)})
        try:
            client = PlatformClient(platform.url)
            client.login("fan", "encore-demo")
            tasks = TaskRunner()
            window = MainWindow(client, Engine(), tasks, DraftStore(work / "drafts"), work / "c")
            window.show()
            pump(lambda: window.catalog.list.count() >= 1)
            window.open_track(window.catalog.list.item(0).data(Qt.ItemDataRole.UserRole))
            pump(lambda: len(window.mixer.strips) >= 1)
            log(quiet, f"a 14-bit fader at {RATE} messages a second for {SECONDS:g} s…")
            fader = fader_cost(window)
            jack = None
            if os.path.exists("/usr/bin/jackd") or os.path.exists("/usr/local/bin/jackd"):
                jack = jack_figures(window, quiet)
            window.close()
            tasks.wait(5000)
        finally:
            platform.stop()
    print(
        json.dumps(
            {
                "benchmark": "midi",
                "fader_14_bit": fader,
                "jack": jack,
                "loadavg": os.getloadavg(),
                "machine": machine_info(),
            }
        )
    )


if __name__ == "__main__":
    main()
