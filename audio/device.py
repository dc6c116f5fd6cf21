"""PortAudio output (via sounddevice) around an `Engine`, and the PortAudio instance itself.

No Python runs on PortAudio's real-time thread: its callback is compiled and copies frames out of
a ring that a render thread fills by calling `engine.process` (`OutputStream`). Everything else
(mixing, transport, fault handling) lives in the engine so it can be tested and rendered offline
without a device.

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
import ctypes
import math
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from typing import Any

import numpy as np
import sounddevice as sd

from audio.compiled import callback, carray, cgutils, from_ctypes, intrinsic, kernel, types
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

SWITCH_INTERVAL_S = 0.0005
"""Python's GIL switch interval while a stream runs; see `_keep_the_renderer_on_time`."""

RING_SLACK_S = 0.008
"""How late the render thread may be without a dropout: the ring holds this much audio beyond the
block the device is playing (rounded up to whole blocks)."""

# The ring's header: int64 slots at the start of its buffer (`userdata` of the C callback).
_READ = 0  # frames the callback has taken (written by the callback only)
_WRITE = 1  # frames the render thread has put in (written by the render thread only)
_CALLBACKS = 2  # device periods (callback calls)
_PA_UNDERFLOWS = 3  # periods PortAudio flagged paOutputUnderflow
_SHORT_CALLBACKS = 4  # periods the ring ran short (the rest was zero-filled)
_SHORT_FRAMES = 5  # frames zero-filled for it
_DETACHED = 6  # nonzero: output silence, leave the ring alone
_CAPACITY = 7  # ring size in frames
_HEADER = 16  # slots (128 bytes: 32 float32, so the frames that follow start 16-byte aligned)
_PA_OUTPUT_UNDERFLOW = 4  # paOutputUnderflow

# -- the ring's publish order -------------------------------------------------------------------
#
# NB: the two indices publish the frames between them, and on a weakly ordered CPU (arm64) plain
# stores and loads may become visible out of program order. So each side publishes its index
# with a *release* store (every frame store or load before it is done first) and reads the
# other side's index with an *acquire* load (no frame access after it moves before it):
#
#   producer (render thread, `_ring_put`):   frames -> release-store _WRITE
#   consumer (PortAudio thread, callback):   acquire-load _WRITE -> copy frames out
#                                            -> release-store _READ
#   producer (`_ring_room`):                 acquire-load _READ -> overwrite those frames
#
# Both sides run compiled code for this (the producer's copy too: a Python-level numpy store
# carries no ordering guarantee against the C thread). On x86-64 acquire/release cost nothing
# (plain moves; the compiler just may not reorder across them).


def _header_slot(context: Any, builder: Any, sig: Any, args: Any) -> Any:
    aryty = sig.args[0]
    ary = context.make_array(aryty)(context, builder, args[0])
    index = context.cast(builder, args[1], sig.args[1], types.intp)
    return cgutils.get_item_pointer(context, builder, aryty, ary, [index], wraparound=False)


def _is_header(arr: Any) -> bool:
    return isinstance(arr, types.Array) and arr.dtype == types.int64 and arr.ndim == 1


@intrinsic
def _load_acquire(typingctx, arr, i):
    """arr[i] (int64) loaded with acquire order."""
    if not _is_header(arr):
        return None

    def codegen(context, builder, sig, args):
        return builder.load_atomic(_header_slot(context, builder, sig, args), "acquire", 8)

    return types.int64(arr, i), codegen


@intrinsic
def _store_release(typingctx, arr, i, value):
    """arr[i] = value (int64), stored with release order."""
    if not _is_header(arr):
        return None

    def codegen(context, builder, sig, args):
        v = context.cast(builder, args[2], sig.args[2], types.int64)
        builder.store_atomic(v, _header_slot(context, builder, sig, args), "release", 8)
        return context.get_dummy_value()

    return types.none(arr, i, value), codegen


@kernel(nogil=True)
def _ring_room(header):  # pragma: no cover (native)
    """Producer: free frames in the ring (acquire: the consumer is done with them)."""
    return header[_CAPACITY] - (header[_WRITE] - _load_acquire(header, _READ))


@kernel(nogil=True)
def _ring_put(header, ring, block):  # pragma: no cover (native)
    """Producer: copy `block` in at the write index, then publish it (release)."""
    n = block.shape[0]
    write = header[_WRITE]
    start = write % header[_CAPACITY]  # a multiple of the block size: a block never wraps
    for i in range(n):
        ring[start + i, 0] = block[i, 0]
        ring[start + i, 1] = block[i, 1]
    _store_release(header, _WRITE, write + n)


_CALLBACK_SIGNATURE = types.intc(
    types.voidptr,  # const void *input
    types.voidptr,  # void *output
    from_ctypes(ctypes.c_ulong),  # unsigned long frameCount
    types.voidptr,  # const PaStreamCallbackTimeInfo *timeInfo
    from_ctypes(ctypes.c_ulong),  # PaStreamCallbackFlags statusFlags
    types.voidptr,  # void *userData: the ring buffer
)


@callback(_CALLBACK_SIGNATURE, nogil=True)
def _ring_callback(inp, out, frames, time_info, flags, user):  # pragma: no cover (native)
    # NB: runs on PortAudio's real-time thread, compiled: no Python, no GIL, no allocation.
    # Single consumer of the ring: acquires `_WRITE` (the producer's index) before reading the
    # frames it covers, and publishes `_READ` with a release store after copying them out.
    hdr = carray(user, (_HEADER,), np.int64)
    n = int(frames)
    o = carray(out, (2 * n,), np.float32)
    hdr[_CALLBACKS] += 1
    if flags & _PA_OUTPUT_UNDERFLOW:
        hdr[_PA_UNDERFLOWS] += 1
    if hdr[_DETACHED] != 0:
        for i in range(2 * n):
            o[i] = 0.0
        return 0
    cap = hdr[_CAPACITY]
    data = carray(user, (2 * _HEADER + 2 * cap,), np.float32)
    r = hdr[_READ]
    take = min(_load_acquire(hdr, _WRITE) - r, n)
    pos = r % cap
    for i in range(take):
        src = 2 * _HEADER + 2 * pos
        o[2 * i] = data[src]
        o[2 * i + 1] = data[src + 1]
        pos += 1
        if pos == cap:
            pos = 0
    for i in range(2 * take, 2 * n):
        o[i] = 0.0
    if take < n:
        hdr[_SHORT_CALLBACKS] += 1
        hdr[_SHORT_FRAMES] += n - take
    _store_release(hdr, _READ, r + take)
    return 0


def _keep_the_renderer_on_time() -> None:
    """Let the render thread get the GIL within about half a millisecond.

    The PortAudio callback itself runs no Python, but the render thread that keeps its ring
    full runs `Engine.process`, so it has to take the GIL. Python's default switch interval is
    5 ms: a thread running Python (the Qt thread painting, a decoder) keeps the GIL that long
    before it is asked to hand it over, which eats most of the ring's slack (RING_SLACK_S), so
    the ring would run dry while the UI is busy. Set whenever a render thread starts;
    process-wide, and never restored (a shorter interval costs the other threads a little
    throughput, which the app does not miss)."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)


class OutputStream:
    """A stereo float32 PortAudio output stream fed by `engine.process`, with no Python on the
    real-time path.

    PortAudio's callback is compiled (`_ring_callback`, a numba cfunc): it copies frames out of a
    preallocated single-producer/single-consumer ring and never waits for the GIL. A render
    thread (Python, started and stopped with the stream) keeps the ring full: whenever it has
    room for a block, it calls `engine.process` on a preallocated block and puts that in. The
    ring holds `ring_blocks` blocks, so the render thread may be late by `ring_blocks - 1` blocks
    (at least `RING_SLACK_S`) before the device hears anything of it; that is latency the stream
    adds, and `latency_seconds` includes it.

    Counters (as before): `engine.callback_count` advances once per rendered block, which the
    device's consumption paces (when the device stops calling, the ring stays full and the count
    stops: `AudioOutput` sees the loss). `engine.underflows` counts both periods PortAudio flagged
    as an output underflow (`portaudio_underflows`) and periods the ring ran short and were
    zero-filled (`ring_underflows`); the render thread adds them to the engine.
    """

    def __init__(
        self,
        engine: Engine,
        device: int | str | None = None,
        blocksize: int = 256,
        latency: str | float = "low",
    ) -> None:
        if blocksize > engine.max_block:
            raise ValueError(f"blocksize {blocksize} exceeds engine.max_block {engine.max_block}")
        if blocksize <= 0:
            raise ValueError(f"blocksize must be positive, got {blocksize}")
        self.engine = engine
        self.blocksize = int(blocksize)
        slack_blocks = math.ceil(RING_SLACK_S * engine.sample_rate / self.blocksize)
        self.ring_blocks = 1 + max(1, slack_blocks)
        capacity = self.ring_blocks * self.blocksize
        # NB: shared with the C callback (the header's indices and counters, then the frames);
        # kept alive by this object, which abandoned streams keep (device.replace_portaudio).
        self._buffer = np.zeros(2 * _HEADER + 2 * capacity, dtype=np.float32)
        self._header = self._buffer[: 2 * _HEADER].view(np.int64)
        self._ring = self._buffer[2 * _HEADER :].reshape(capacity, 2)
        self._header[_CAPACITY] = capacity
        self._block = np.zeros((self.blocksize, 2), dtype=np.float32)
        self._renderer: threading.Thread | None = None
        self._halt = threading.Event()
        self._filled = threading.Event()
        self._reported_underflows = 0
        if device is None:
            device = default_output_device()
            if device is None:
                raise AudioDeviceError(missing_device_message(None))
        try:
            self._stream = sd._StreamBase(
                kind="output",
                samplerate=engine.sample_rate,
                blocksize=self.blocksize,
                device=device,
                channels=2,
                dtype="float32",
                latency=latency,
                callback=sd._ffi.cast("PaStreamCallback*", _ring_callback.address),
                userdata=sd._ffi.cast("void*", self._buffer.ctypes.data),
                wrap_callback=None,
            )
            self.hostapi = _hostapi_name(sd.query_devices(self._stream.device)["hostapi"])
        except (sd.PortAudioError, ValueError) as exc:
            raise _open_error(
                f"cannot open audio output device {device!r} at {engine.sample_rate} Hz stereo",
                exc,
            ) from exc

    # -- the render thread (producer) --------------------------------------------------------------

    def _render(self) -> None:
        engine, header, ring, block = self.engine, self._header, self._ring, self._block
        n = self.blocksize
        nap = n / engine.sample_rate / 4
        halt, filled = self._halt, self._filled
        while not halt.is_set():
            self._report_underflows()
            if _ring_room(header) < n:  # NB: acquires the consumer's index
                filled.set()
                time.sleep(nap)
                continue
            engine.process(block)  # never raises (faults: silence + engine.callback_errors)
            _ring_put(header, ring, block)  # NB: the frames, then the index (release)
        self._report_underflows()

    def _report_underflows(self) -> None:
        # NB: on the render thread, the one that runs engine.process (which may reset the count).
        total = self.portaudio_underflows + self.ring_underflows
        if total != self._reported_underflows:
            self.engine.underflows += total - self._reported_underflows
            self._reported_underflows = total

    def _start_renderer(self) -> None:
        if self._renderer is not None:
            return
        _keep_the_renderer_on_time()
        self._halt.clear()
        self._filled.clear()
        self._renderer = threading.Thread(target=self._render, name="encore-render", daemon=True)
        self._renderer.start()
        self._filled.wait(RENDER_JOIN_S)  # the ring starts full: no shortfall on the first periods

    def _stop_renderer(self) -> None:
        renderer, self._renderer = self._renderer, None
        if renderer is None:
            return
        self._halt.set()
        if renderer is not threading.current_thread():
            renderer.join(RENDER_JOIN_S)

    # -- control -----------------------------------------------------------------------------------

    def start(self) -> None:
        if self._header[_DETACHED]:
            return
        self._start_renderer()
        try:
            self._stream.start()
        except sd.PortAudioError as exc:
            self._stop_renderer()
            raise _open_error("cannot start audio output", exc) from exc

    def stop(self) -> None:
        try:
            self._stream.stop()
        finally:
            self._stop_renderer()

    def close(self) -> None:
        self._stop_renderer()  # first: a close that never returns leaves the engine alone
        self._stream.close()

    def detach(self) -> None:
        """From now on the callback, if PortAudio still calls it, outputs silence, and the
        engine is left alone (the render thread has stopped when this returns). For a stream
        being given up on without closing it."""
        self._header[_DETACHED] = 1
        self._stop_renderer()

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
    def ring_latency_seconds(self) -> float:
        """What the ring adds: its whole depth (the render thread keeps it full)."""
        return int(self._header[_CAPACITY]) / self.engine.sample_rate

    @property
    def latency_seconds(self) -> float:
        """Output latency PortAudio reports for the open stream, plus the ring's depth."""
        return float(self._stream.latency) + self.ring_latency_seconds

    # -- what the callback counted (NB: written by the real-time thread; aligned int64 reads) ----

    @property
    def device_callbacks(self) -> int:
        """Times PortAudio called the callback (device periods)."""
        return int(self._header[_CALLBACKS])

    @property
    def portaudio_underflows(self) -> int:
        """Periods PortAudio flagged as an output underflow (the device ran dry before us)."""
        return int(self._header[_PA_UNDERFLOWS])

    @property
    def ring_underflows(self) -> int:
        """Periods the render thread had not filled in time (zero-filled, in part or whole)."""
        return int(self._header[_SHORT_CALLBACKS])

    @property
    def ring_underflow_frames(self) -> int:
        """Frames those periods were short of (heard as silence)."""
        return int(self._header[_SHORT_FRAMES])

    @property
    def ring_frames(self) -> tuple[int, int]:
        """(frames put in, frames taken out) of the ring since the stream was opened."""
        return int(self._header[_WRITE]), int(self._header[_READ])

    def __enter__(self) -> OutputStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


RENDER_JOIN_S = 2.0
"""How long `start` waits for the first fill and `stop`/`detach` for the render thread."""


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
