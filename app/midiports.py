"""MIDI inputs: which MIDI system this computer has, its input ports, opened as they appear.

Why not just `mido.get_input_names()`: on Linux, rtmidi's ALSA backend fails outright without a
sequencer (/dev/snd/seq: containers, some minimal installs) and its JACK backend prints to stderr
on every try when no JACK server runs, so a hot-plug scan every few seconds would spam the
terminal and say nothing useful. Here the system is chosen by looking first (the ALSA sequencer
device, else a JACK server's socket), and when there is none, `problem` says so in words a
musician can act on.

Threads. With ALSA, CoreMIDI and Windows MIDI, rtmidi reads on a thread of its own and calls
`on_message(port_name, message)` there. With JACK, rtmidi would call back from inside JACK's
real-time process cycle, and a Python callback there waits for the GIL: when the GUI holds it a
moment too long, JACK throws the client out and MIDI falls silent (seen in tests/test_midi.py
before this was done). So on JACK rtmidi only queues (in C++, no Python), and a reader thread of
ours takes the messages every POLL_S. Nothing here touches the GUI or the audio engine; the
caller queues each message for the GUI thread (ui/midilearn.py). Ports are opened through
python-rtmidi directly (mido's input class always installs a Python callback) and messages are
parsed by mido.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mido

CLIENT_NAME = "Encore"
ALSA_SEQ = Path("/dev/snd/seq")
SHM = Path("/dev/shm")
POLL_S = 0.002
"""How often the JACK reader looks for messages: 2 ms is under a controller's own scan rate
and far under what a hand notices."""
IGNORED = frozenset({"clock", "active_sensing", "sysex", "quarter_frame", "songpos"})
"""Messages no mapping reads, dropped where they arrive (a DAW's clock sends 48 a second at
120 BPM, which would only wake the GUI for nothing)."""

OnMessage = Callable[[str, mido.Message], None]


@dataclass(frozen=True)
class MidiSystem:
    """An rtmidi API to open ports with, and how to name it to people."""

    api: int  # rtmidi.API_LINUX_ALSA, API_UNIX_JACK…
    label: str  # "ALSA", "JACK", "CoreMIDI"…

    @property
    def polled(self) -> bool:
        """Read by our thread rather than called back (JACK: see the module doc)."""
        import rtmidi

        return self.api == rtmidi.API_UNIX_JACK


def jack_server_running(server: str | None = None, uid: int | None = None) -> bool:
    """Whether a JACK 2 server is up (its socket in /dev/shm), without asking libjack: asking
    it when none runs prints to stderr every time."""
    server = server or os.environ.get("JACK_DEFAULT_SERVER") or "default"
    uid = os.getuid() if uid is None else uid
    return (SHM / f"jack_{server}_{uid}_0").exists()


def find_system() -> tuple[MidiSystem | None, str]:
    """The MIDI system to use, or None and why there is none."""
    try:
        import rtmidi
    except ImportError as exc:  # a broken install: say what is missing
        return None, f"MIDI is not available: the python-rtmidi package is missing ({exc})."
    compiled = set(rtmidi.get_compiled_api())
    if sys.platform.startswith("linux"):
        if rtmidi.API_LINUX_ALSA in compiled and ALSA_SEQ.exists():
            return MidiSystem(rtmidi.API_LINUX_ALSA, "ALSA"), ""
        if rtmidi.API_UNIX_JACK in compiled and jack_server_running():
            return MidiSystem(rtmidi.API_UNIX_JACK, "JACK"), ""
        return None, (
            "No MIDI system on this computer: there is no ALSA sequencer (/dev/snd/seq; load "
            "the snd-seq kernel module) and no JACK server running. Connect a MIDI device or "
            "start JACK, and Encore finds it."
        )
    if sys.platform == "darwin":
        return MidiSystem(rtmidi.API_MACOSX_CORE, "CoreMIDI"), ""
    if sys.platform == "win32":
        return MidiSystem(rtmidi.API_WINDOWS_MM, "Windows MIDI"), ""
    return MidiSystem(rtmidi.API_UNSPECIFIED, "MIDI"), ""


class MidiPorts:
    """Every input port of the MIDI system, opened as it appears (`rescan`) and closed as it
    goes; each message goes to `on_message(port_name, message)` on a thread that is not the
    GUI's (rtmidi's, or our JACK reader's).

    `system` may be given (tests choose JACK); by default it is found at each rescan, so a
    sequencer or JACK server that appears later is picked up, and one that goes is let go."""

    def __init__(self, on_message: OnMessage, system: MidiSystem | None = None) -> None:
        self.on_message = on_message
        self._fixed = system
        self.system: MidiSystem | None = system
        self.problem = ""
        self._lister: Any = None  # an rtmidi.MidiIn that lists the ports
        self._open: dict[str, Any] = {}  # port name -> its rtmidi.MidiIn
        self.failed: dict[str, str] = {}  # port name -> why it could not be opened
        self._lock = threading.Lock()  # NB: the JACK reader iterates `_open`
        self._reader: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def names(self) -> list[str]:
        """The open inputs, in the system's order."""
        return list(self._open)

    def rescan(self) -> bool:
        """Open new ports, close vanished ones; True when the set of open ports changed."""
        before = set(self._open)
        system, problem = (self._fixed, "") if self._fixed is not None else find_system()
        if system != self.system:
            self.close()
            self.system, self._lister = system, None
        self.problem = problem
        if system is None:
            return before != set(self._open)
        import rtmidi  # find_system found it

        try:
            if self._lister is None:
                self._lister = rtmidi.MidiIn(rtapi=system.api, name=CLIENT_NAME)
            available = list(self._lister.get_ports())
        except Exception as exc:  # rtmidi raises its own SystemError subclasses
            self.close()
            self._lister = None
            self.problem = f"The {system.label} MIDI system did not answer: {exc}"
            return before != set(self._open)
        for name in list(self._open):
            if name not in available:
                self._close_port(name)
        for name in list(self.failed):
            if name not in available:
                del self.failed[name]  # unplugged: tried again when it is back
        for name in available:
            if name not in self._open and name not in self.failed:
                self._open_port(system, name)
        if system.polled and self._open and self._reader is None:
            self._stop.clear()
            self._reader = threading.Thread(target=self._read, name="midi-in", daemon=True)
            self._reader.start()
        return before != set(self._open)

    def _open_port(self, system: MidiSystem, name: str) -> None:
        import rtmidi

        try:
            port = rtmidi.MidiIn(rtapi=system.api, name=CLIENT_NAME)
            port.ignore_types(sysex=True, timing=True, active_sense=True)
            # By its index in this client's own list (the lister's may be a moment older).
            port.open_port(port.get_ports().index(name), name=f"in {len(self._open) + 1}")
            if not system.polled:
                port.set_callback(self._called_back, name)
        except Exception as exc:  # busy, vanished meanwhile, refused
            self.failed[name] = str(exc)
            return
        with self._lock:
            self._open[name] = port

    def _called_back(self, event: tuple[list[int], float], name: str) -> None:
        """NB: rtmidi's thread (ALSA, CoreMIDI, Windows)."""
        self._deliver(name, event[0])

    def _deliver(self, name: str, data: list[int]) -> None:
        try:
            msg = mido.Message.from_bytes(data)
        except ValueError:
            return  # a message mido does not know: nothing a mapping could read
        if msg.type not in IGNORED:
            self.on_message(name, msg)

    def _read(self) -> None:
        """NB: our JACK reader thread. rtmidi queued the messages in JACK's cycle."""
        while not self._stop.wait(POLL_S):
            with self._lock:
                ports = list(self._open.items())
                for name, port in ports:
                    while (event := port.get_message()) is not None:
                        self._deliver(name, event[0])

    def _close_port(self, name: str) -> None:
        with self._lock:
            port = self._open.pop(name, None)
        if port is not None:
            with contextlib.suppress(Exception):
                port.cancel_callback()
            with contextlib.suppress(Exception):
                port.close_port()
                port.delete()

    def close(self) -> None:
        """Close every input (the reader thread ends first)."""
        self._stop.set()
        if self._reader is not None:
            self._reader.join(timeout=1.0)
            self._reader = None
        for name in list(self._open):
            self._close_port(name)
        self.failed.clear()

    def describe(self) -> str:
        """One line for people: what Encore listens to, or why it listens to nothing."""
        if self.problem:
            return self.problem
        label = self.system.label if self.system else "MIDI"
        if not self._open:
            return f"No MIDI input device is connected ({label}). Encore opens one as it appears."
        count = len(self._open)
        return f"Listening to {count} MIDI input{'s' if count > 1 else ''} ({label})."
