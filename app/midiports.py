"""MIDI inputs: which MIDI system this computer has, its input ports, opened as they appear.

Why not just `mido.get_input_names()`: on Linux, rtmidi's ALSA backend fails outright without a
sequencer (/dev/snd/seq: containers, some minimal installs) and its JACK backend prints to stderr
on every try when no JACK server runs, so a hot-plug scan every few seconds would spam the
terminal and say nothing useful. Here the system is chosen by looking first (the ALSA sequencer
device, else a JACK server's socket), and when there is none, `problem` says so in words a
musician can act on.

Threads: mido's rtmidi backend calls `on_message(port_name, message)` on rtmidi's own thread,
one call per message. Nothing here touches the GUI or the audio engine; the caller queues the
message for the GUI thread (ui/midilearn.py).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mido

CLIENT_NAME = "Encore"
ALSA_SEQ = Path("/dev/snd/seq")
SHM = Path("/dev/shm")

OnMessage = Callable[[str, mido.Message], None]


@dataclass(frozen=True)
class MidiSystem:
    """A mido backend to open ports with, and how to name it to people."""

    backend: str  # mido backend spec, e.g. "mido.backends.rtmidi/LINUX_ALSA"
    label: str  # "ALSA", "JACK", "CoreMIDI"…


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
    if sys.platform.startswith("linux"):
        compiled = set(rtmidi.get_compiled_api())
        if rtmidi.API_LINUX_ALSA in compiled and ALSA_SEQ.exists():
            return MidiSystem("mido.backends.rtmidi/LINUX_ALSA", "ALSA"), ""
        if rtmidi.API_UNIX_JACK in compiled and jack_server_running():
            return MidiSystem("mido.backends.rtmidi/UNIX_JACK", "JACK"), ""
        return None, (
            "No MIDI system on this computer: there is no ALSA sequencer (/dev/snd/seq; load "
            "the snd-seq kernel module) and no JACK server running. Connect a MIDI device or "
            "start JACK, and Encore finds it."
        )
    labels = {"darwin": "CoreMIDI", "win32": "Windows MIDI"}
    return MidiSystem("mido.backends.rtmidi", labels.get(sys.platform, "MIDI")), ""


class MidiPorts:
    """Every input port of the MIDI system, opened as it appears (`rescan`) and closed as it
    goes; each message goes to `on_message(port_name, message)` on rtmidi's thread.

    `system` may be given (tests choose JACK, or a backend of their own); by default it is found
    at each rescan, so a sequencer or JACK server that appears later is picked up."""

    def __init__(self, on_message: OnMessage, system: MidiSystem | None = None) -> None:
        self.on_message = on_message
        self._fixed = system
        self.system: MidiSystem | None = system
        self.problem = ""
        self._backend: Any = None
        self._open: dict[str, Any] = {}  # port name -> mido input port
        self.failed: dict[str, str] = {}  # port name -> why it could not be opened

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
            self.system, self._backend = system, None
        self.problem = problem
        if system is None:
            return before != set(self._open)
        try:
            if self._backend is None:
                self._backend = mido.Backend(system.backend, load=True)
            available = [
                n for n in self._backend.get_input_names() if not n.startswith(CLIENT_NAME + ":")
            ]
        except Exception as exc:  # rtmidi raises its own SystemError subclasses
            self.close()
            self.problem = f"The {system.label} MIDI system did not answer: {exc}"
            return before != set(self._open)
        for name in list(self._open):
            if name not in available:
                self._close_port(name)
        for name in list(self.failed):
            if name not in available:
                del self.failed[name]  # unplugged: try again when it is back
        for name in available:
            if name not in self._open and name not in self.failed:
                self._open_port(name)
        return before != set(self._open)

    def _open_port(self, name: str) -> None:
        def deliver(msg: mido.Message, port: str = name) -> None:
            self.on_message(port, msg)  # NB: rtmidi's thread

        try:
            self._open[name] = self._backend.open_input(
                name, callback=deliver, client_name=CLIENT_NAME
            )
        except Exception as exc:  # busy, vanished meanwhile, refused
            self.failed[name] = str(exc)

    def _close_port(self, name: str) -> None:
        port = self._open.pop(name, None)
        if port is not None:
            with contextlib.suppress(Exception):
                port.close()

    def close(self) -> None:
        for name in list(self._open):
            self._close_port(name)
        self.failed.clear()

    def describe(self) -> str:
        """One line for people: what Encore listens to, or why it listens to nothing."""
        if self.problem:
            return self.problem
        if not self._open:
            where = f" ({self.system.label})" if self.system else ""
            return f"No MIDI input device is connected{where}. Encore opens one as it appears."
        count = len(self._open)
        inputs = "input" if count == 1 else "inputs"
        return f"Listening to {count} MIDI {inputs} ({self.system.label if self.system else ''})."
