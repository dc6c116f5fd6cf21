"""PortAudio output (via sounddevice) around an `Engine`, and the PortAudio instance itself.

The stream callback does exactly two things: count PortAudio's underflow flag and call
`engine.process(outdata)`. Everything else (mixing, transport, fault handling) lives in the engine
so it can be tested and rendered offline without a device.

Every message a person sees about opening a device is written here (`AudioDeviceError`), once.

A server that vanishes under its stream. Measured with the JACK dummy server and Debian's
libportaudio2 19.6 (see `tests/test_audio_output.py`): when the JACK server quits or is killed,
PortAudio's JACK host API gets JACK's shutdown callback within milliseconds and the stream turns
inactive (`active` False, `stopped` still False), and from then on

- `Pa_StopStream`, `Pa_AbortStream`, `Pa_CloseStream` wait on a condition only the (dead) JACK
  process thread would signal: `pthread_cond_timedwait` with a 10-minute timeout;
- `Pa_Terminate` closes the open streams first, so it waits the same way; with the stream's
  magic cleared so that it skips it, it then asserts in `jack_deactivate` and aborts the process;
- device queries answer from PortAudio's cached list and return at once.

So that PortAudio instance can never be used or shut down again. `replace_portaudio` leaves it
as it is (never called again, never unloaded: its threads sit idle at 0 % CPU) and loads a
private copy of the library file, which is a second, independent PortAudio with a JACK client of
its own. It sees the server when it comes back (same name), plays in real time, and the process
exits cleanly (only the live copy is terminated at exit). libjack is shared by both copies; it
cleans up the dead client itself when the new one connects.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sys
import tempfile
import threading
from typing import Any

import sounddevice as sd

from audio.engine import Engine


class AudioDeviceError(RuntimeError):
    """The output device is missing or cannot be opened; the message says what to do."""


def _hostapi_name(index: int) -> str:
    return str(sd.query_hostapis(index)["name"])


def list_output_devices() -> list[dict[str, Any]]:
    """Every PortAudio device with output channels, as plain dicts for the settings UI."""
    devices = []
    for dev in sd.query_devices():
        if dev["max_output_channels"] < 1:
            continue
        devices.append(
            {
                "index": int(dev["index"]),
                "name": str(dev["name"]),
                "hostapi": _hostapi_name(dev["hostapi"]),
                "default_samplerate": float(dev["default_samplerate"]),
                "max_output_channels": int(dev["max_output_channels"]),
            }
        )
    return devices


def default_output_device() -> int | None:
    """PortAudio's default output if it has one, else the first JACK output, else None."""
    try:
        default = sd.default.device[1]
        if default is not None and int(default) >= 0:
            dev = sd.query_devices(int(default))
            if dev["max_output_channels"] >= 1:
                return int(default)
    except (sd.PortAudioError, ValueError, TypeError):
        pass
    outputs = list_output_devices()
    for dev in outputs:
        if "JACK" in dev["hostapi"].upper():
            return int(dev["index"])
    return None


# -- what the person is told ---------------------------------------------------------------------

_STILL_WORKS = "You can still mix and submit."


def missing_device_message(device: str | int | None) -> str:
    """The chosen device (None: any device) is not there."""
    if device is None:
        return (
            "No audio output device found. Connect one, or start JACK (e.g. "
            "`jackd -d dummy -r 48000 -p 128` for a silent virtual device); Encore starts the "
            f"sound as soon as one is there. {_STILL_WORKS}"
        )
    return (
        f"The audio device “{device}” is not connected. Connect it, or pick another in Audio "
        f"settings; Encore starts the sound as soon as one is there. {_STILL_WORKS}"
    )


def _describe_available() -> str:
    try:
        outputs = list_output_devices()
    except sd.PortAudioError:
        outputs = []
    if not outputs:
        return "No output device is connected."
    names = ", ".join(f"{d['index']}: {d['name']} ({d['hostapi']})" for d in outputs)
    return f"Available output devices: {names}. Pick one of these in Audio settings."


def _open_error(what: str, exc: BaseException) -> AudioDeviceError:
    return AudioDeviceError(f"No sound: {what}: {exc}. {_describe_available()} {_STILL_WORKS}")


# -- the stream ---------------------------------------------------------------------------------


class OutputStream:
    """A stereo float32 sounddevice.OutputStream whose callback is `engine.process`."""

    def __init__(
        self,
        engine: Engine,
        device: int | str | None = None,
        blocksize: int = 256,
        latency: str | float = "low",
    ) -> None:
        if blocksize > engine.max_block:
            raise ValueError(f"blocksize {blocksize} exceeds engine.max_block {engine.max_block}")
        self.engine = engine
        self._detached = False
        if device is None:
            device = default_output_device()
            if device is None:
                raise AudioDeviceError(missing_device_message(None))
        try:
            self._stream = sd.OutputStream(
                samplerate=engine.sample_rate,
                blocksize=blocksize,
                device=device,
                channels=2,
                dtype="float32",
                latency=latency,
                callback=self._callback,
            )
            self.hostapi = _hostapi_name(sd.query_devices(self._stream.device)["hostapi"])
        except (sd.PortAudioError, ValueError) as exc:
            raise _open_error(
                f"cannot open audio output device {device!r} at {engine.sample_rate} Hz stereo",
                exc,
            ) from exc

    def _callback(self, outdata, frames, time, status) -> None:
        # NB: runs on PortAudio's real-time thread.
        if self._detached:  # given up on (see `detach`): another stream may own the engine now
            outdata.fill(0)
            return
        if status.output_underflow:
            self.engine.underflows += 1
        self.engine.process(outdata)

    def start(self) -> None:
        try:
            self._stream.start()
        except sd.PortAudioError as exc:
            raise _open_error("cannot start audio output", exc) from exc

    def stop(self) -> None:
        self._stream.stop()

    def close(self) -> None:
        self._stream.close()

    def detach(self) -> None:
        """From now on the callback, if PortAudio still calls it, outputs silence and leaves the
        engine alone. For a stream being given up on without closing it."""
        self._detached = True

    @property
    def active(self) -> bool:
        return bool(self._stream.active)

    @property
    def server_gone(self) -> bool:
        """Its JACK server shut down under it: every PortAudio call on it (and `Pa_Terminate`)
        would block (module notes). JACK's shutdown callback leaves the stream inactive but not
        stopped; our callback never ends a stream by itself, so nothing else does that."""
        return "JACK" in self.hostapi.upper() and not self._stream.active and not self.stopped

    @property
    def stopped(self) -> bool:
        return bool(self._stream.stopped)

    @property
    def latency_seconds(self) -> float:
        """Output latency PortAudio reports for the open stream."""
        return float(self._stream.latency)

    def __enter__(self) -> OutputStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_stream(engine: Engine, device: int | str | None, blocksize: int) -> OutputStream:
    """Open and start the output stream: the one way the app opens a device (`AudioOutput`)."""
    stream = OutputStream(engine, device=device, blocksize=blocksize)
    try:
        stream.start()
    except AudioDeviceError:
        with contextlib.suppress(sd.PortAudioError):
            stream.close()
        raise
    return stream


# -- the PortAudio instance ---------------------------------------------------------------------


def rescan_devices() -> None:
    """Make PortAudio see devices plugged in (or servers started) since it was initialised.

    Only with no stream open: `Pa_Terminate` closes every open stream (and blocks on one whose
    JACK server is gone: see the module notes). When the instance has a JACK client whose server
    has gone (even with no stream), `Pa_Terminate` would abort the process in `jack_deactivate`:
    then the instance is replaced instead."""
    global _jack_socket_seen
    if sd._initialized and _jack_client_orphaned():
        replace_portaudio()
        return
    if sd._initialized:
        sd._terminate()
    sd._initialize()
    _jack_socket_seen = _jack_socket() if _has_jack_client() else None


def _has_jack_client() -> bool:
    """The current instance connected to a JACK server when it was initialised."""
    return any("JACK" in str(api["name"]).upper() for api in sd.query_hostapis())


def _jack_socket() -> str:
    """Where jackd (jack2 on Linux) listens for the server PortAudio's JACK client uses."""
    name = os.environ.get("JACK_DEFAULT_SERVER", "default")
    return f"/dev/shm/jack_{name}_{os.getuid()}_0"


_UNKNOWN = "?"
_jack_socket_seen: str | None = _UNKNOWN
"""The server socket of the current instance's JACK client (None: it has none)."""


def _jack_client_orphaned() -> bool:
    """The current instance's JACK server no longer answers (stopped: its socket is gone;
    killed: nobody listens on it). A connect and close is all jackd sees of the probe."""
    if not sys.platform.startswith("linux") or not _has_jack_client():
        return False
    path = _jack_socket() if _jack_socket_seen == _UNKNOWN else _jack_socket_seen
    if path is None:
        return False
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(0.5)
        probe.connect(path)
    except OSError:
        return True
    finally:
        probe.close()
    return False


_ABANDONED: list[Any] = []
"""PortAudio instances given up on, and their streams. NB: never released: the library must stay
loaded (its threads and JACK's still point into it) and the streams' cffi callbacks alive."""
_LOCK = threading.Lock()


def _library_path() -> str | None:
    """The PortAudio library file this process loaded first (Linux: from /proc/self/maps)."""
    if os.path.isabs(sd._libname) and os.path.exists(sd._libname):
        return sd._libname
    with contextlib.suppress(OSError), open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split(maxsplit=5)[-1].strip()
            if os.path.basename(path).startswith("libportaudio") and os.path.exists(path):
                return path
    return None


_ORIGINAL_LIBRARY = _library_path()


def replace_portaudio(stream: OutputStream | None = None) -> bool:
    """Give up on the current PortAudio instance without calling it again, and make a fresh one
    (a private copy of the library file) the one sounddevice uses. For a stream PortAudio cannot
    close (module notes); `stream` is kept so its callback stays valid. False if no fresh
    instance could be made: then PortAudio is unusable in this process."""
    if stream is not None:
        stream.detach()
    global _jack_socket_seen
    with _LOCK:
        _ABANDONED.append((sd._lib, stream))
        source = _ORIGINAL_LIBRARY
        if source is None:
            return False
        folder = tempfile.mkdtemp(prefix="encore-portaudio-")
        try:
            copy = os.path.join(folder, f"libportaudio-{len(_ABANDONED)}.so")
            shutil.copyfile(source, copy)
            lib = sd._ffi.dlopen(copy)
        except OSError:
            return False
        finally:  # the loaded copy stays mapped after its file is gone (not on Windows)
            with contextlib.suppress(OSError):
                shutil.rmtree(folder)
        sd._lib = lib
        sd._initialized = 0  # the old instance's count: it must never be terminated
        try:
            sd._initialize()
        except sd.PortAudioError:
            return False
        _jack_socket_seen = _jack_socket() if _has_jack_client() else None
        return True
