"""`AudioOutput`: the one owner of the output stream — open, reopen, lose and get back a device.

Why an object of its own: the window must be able to reopen the stream (another device or block
size from the settings dialog) and to notice when the device vanishes, without knowing PortAudio.
The `Engine` outlives every stream, so the mix, the playhead and the loaded stems survive a reopen.
Every place that plays sound (the app, `scripts/screenshot.py`, the benchmarks' app child) opens
the device through it.

Everything here runs on the UI thread; `poll()` is meant to be called about once a second (a
QTimer). It never touches the audio callback's data beyond reading two counters.

Device loss. A lost device shows up as the stream going inactive, or its callbacks stopping while
PortAudio still calls it active. `poll` then pauses the engine (so sound comes back where it
stopped, not in mid-phrase), lets go of the stream, and rescans the devices on every later poll;
when the device is back it reopens it and, if it was playing, plays on. Letting go: a stream
whose JACK server went away can never be closed, nor can its PortAudio instance be terminated
(audio/device.py has the measurements), so that instance is left as it is and a fresh one is
loaded (`device.replace_portaudio`); any other stream is closed on a daemon thread with a timeout,
and if PortAudio does not come back, the same. Only if no fresh PortAudio can be loaded is the
state `WEDGED` and the message says to restart Encore (the draft is saved).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any, Protocol

import sounddevice as sd

from audio.device import (
    AudioDeviceError,
    default_output_device,
    list_output_devices,
    missing_device_message,
    open_stream,
    replace_portaudio,
    rescan_devices,
)
from audio.engine import Engine

STALL_SECONDS = 1.0
"""No callback for this long while the stream claims to run: the device is gone."""
RELEASE_TIMEOUT_S = 2.0

LOST_MESSAGE = (
    "The audio device went away (unplugged, or its sound server stopped). Playback is paused "
    "where it was; Encore reconnects and plays on as soon as the device is back, or pick "
    "another one in Audio settings. You can still mix and submit."
)
WEDGED_MESSAGE = (
    "The audio device went away and its driver did not let go of Encore. "
    "Your mix is saved as a draft: restart Encore to get sound back."
)


class OutputState(StrEnum):
    RUNNING = "running"
    NO_DEVICE = "no_device"  # never opened, or the chosen device is not there: looking for it
    LOST = "lost"  # it was running and vanished: looking for it
    WEDGED = "wedged"  # vanished and PortAudio cannot be reset in this process
    CLOSED = "closed"


class Stream(Protocol):
    """What AudioOutput needs of a stream (`device.OutputStream`; tests give stand-ins)."""

    @property
    def active(self) -> bool: ...

    @property
    def server_gone(self) -> bool: ...

    @property
    def latency_seconds(self) -> float: ...

    def close(self) -> None: ...


class AudioOutput:
    def __init__(
        self,
        engine: Engine,
        device: str | int | None = None,
        blocksize: int = 256,
        *,
        opener: Callable[[Engine, int, int], Stream] = open_stream,
        devices: Callable[[], list[dict[str, Any]]] = list_output_devices,
        default_device: Callable[[], int | None] = default_output_device,
        rescan: Callable[[], None] = rescan_devices,
        replace: Callable[[Any], bool] = replace_portaudio,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`opener` opens *and starts* a stream (`device.open_stream`), raising
        `AudioDeviceError` with the message to show; the other callables are the device layer
        (see `audio.device`), replaceable in tests that simulate hardware."""
        self.engine = engine
        self.device = device
        self.blocksize = blocksize
        self._opener, self._devices, self._default = opener, devices, default_device
        self._rescan, self._replace, self._clock = rescan, replace, clock
        self.stream: Stream | None = None
        self.state = OutputState.CLOSED
        self.message: str | None = None
        self.device_name: str | None = None
        self.recoveries = 0  # times PortAudio was replaced because a stream could not be closed
        self._wedged = False
        self._last_count = 0
        self._last_advance = 0.0
        self._resume = False  # it was playing when the device vanished: play on when back

    # -- opening ----------------------------------------------------------------------------------

    def open(self, device: str | int | None = None, blocksize: int | None = None) -> str | None:
        """(Re)open on `device` (a name, an index or None = default) at `blocksize`; returns
        None when sound runs, else the message to show (the state says whether it keeps
        looking). The engine keeps its stems, mix and playhead across a reopen."""
        if self.state == OutputState.WEDGED:
            return self.message
        self.device = device
        if blocksize is not None:
            self.blocksize = blocksize
        self._let_go()
        if self.state == OutputState.WEDGED:
            return self.message
        self.state = OutputState.CLOSED  # a new choice: its own message, if any
        return self._try_open(rescan=False)

    def _resolve(self) -> tuple[int | None, str | None]:
        """The device index to open and its name; (None, None) when it is not there."""
        outputs = self._devices()
        if isinstance(self.device, str) and not self.device.isdigit():
            for dev in outputs:
                if dev["name"] == self.device:
                    return int(dev["index"]), str(dev["name"])
            return None, None
        if self.device is not None:
            chosen = int(self.device)
            names = {int(d["index"]): str(d["name"]) for d in outputs}
            return (chosen, names[chosen]) if chosen in names else (None, None)
        index = self._default()
        if index is None:
            return None, None
        return index, next((str(d["name"]) for d in outputs if d["index"] == index), None)

    def _try_open(self, *, rescan: bool, last_try: bool = False) -> str | None:
        lost = self.state == OutputState.LOST
        try:
            if rescan:
                self._rescan()
            index, name = self._resolve()
        except sd.PortAudioError as exc:
            index, name = None, None
            problem = f"Cannot list audio devices: {exc}. Encore keeps looking."
        else:
            problem = missing_device_message(self.device)
        if index is None:
            if not lost:  # while lost, the loss message stays: it says what to do
                self.state, self.message = OutputState.NO_DEVICE, problem
            return self.message
        try:
            stream = self._opener(self.engine, index, self.blocksize)
        except AudioDeviceError as exc:
            if not last_try:
                # Once more on a fresh PortAudio, at once (no wait on the UI thread): a busy JACK
                # server refuses a start now and then (jack_connect error -1), or has dropped our
                # client for answering late, after which every start through it fails.
                return self._try_open(rescan=True, last_try=True)
            if not lost:
                self.state, self.message = OutputState.NO_DEVICE, str(exc)
            return self.message
        self.stream, self.device_name = stream, name
        self.state, self.message = OutputState.RUNNING, None
        self._last_count, self._last_advance = self.engine.callback_count, self._clock()
        if self._resume:
            self._resume = False
            self.engine.play()  # from where it stopped, fading in
        return None

    # -- watching ---------------------------------------------------------------------------------

    def poll(self) -> bool:
        """Watch the stream (call about once a second from the UI thread); returns True when the
        state changed, so the window updates its banner."""
        before = self.state
        if self.state == OutputState.RUNNING:
            self._check_alive()
        elif self.state in (OutputState.LOST, OutputState.NO_DEVICE):
            self._try_open(rescan=True)
        return self.state != before

    def _check_alive(self) -> None:
        stream, now = self.stream, self._clock()
        count = self.engine.callback_count
        if count != self._last_count:
            self._last_count, self._last_advance = count, now
        stalled = now - self._last_advance > STALL_SECONDS
        if stream is not None and stream.active and not stalled:
            return
        self._resume = self.engine.playing
        self.engine.pause()  # NB: applied by the callback when sound comes back: a clean restart
        self.state, self.message = OutputState.LOST, LOST_MESSAGE
        self._let_go()

    def _let_go(self) -> None:
        """Close the stream, or when PortAudio cannot, leave it and its PortAudio instance and
        load a fresh one; never hangs the UI."""
        stream, self.stream = self.stream, None
        if stream is None:
            return
        if not stream.server_gone and self._close_within_timeout(stream):
            return
        if self._replace(stream):
            self.recoveries += 1
        else:
            self._wedged = True
            self.state, self.message = OutputState.WEDGED, WEDGED_MESSAGE

    def _close_within_timeout(self, stream: Stream) -> bool:
        """Close on a daemon thread; False if PortAudio did not return in time."""
        worker = threading.Thread(target=_close_quietly, args=(stream,), daemon=True)
        worker.start()
        worker.join(RELEASE_TIMEOUT_S)
        return not worker.is_alive()

    # -- figures and shutdown ---------------------------------------------------------------------

    @property
    def latency_ms(self) -> float | None:
        """Output latency of the running stream: PortAudio's plus the stream's ring."""
        stream = self.stream
        return None if stream is None else 1000.0 * float(stream.latency_seconds)

    @property
    def underflows(self) -> int:
        return int(self.engine.underflows)

    @property
    def wedged(self) -> bool:
        """PortAudio cannot be shut down cleanly in this process (see the module notes)."""
        return self._wedged

    def list_devices(self) -> list[dict[str, Any]]:
        """Output devices as PortAudio saw them at its last (re)initialisation."""
        return self._devices()

    def refresh_devices(self) -> list[dict[str, Any]]:
        """Rescan for devices plugged in since start. PortAudio only rescans by restarting, which
        closes every stream, so the stream is closed and reopened around it (a short gap)."""
        if self.state != OutputState.WEDGED:
            self._let_go()
        if self.state != OutputState.WEDGED:
            self._try_open(rescan=True)
        return self._devices()

    def close(self) -> None:
        self._let_go()
        if self.state != OutputState.WEDGED:
            self.state = OutputState.CLOSED


def _close_quietly(stream: Stream) -> None:
    with contextlib.suppress(Exception):  # the device is gone; nothing left to tell anyone
        stream.close()
