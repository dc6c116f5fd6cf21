"""Pytest plugin: a JACK dummy server, so device tests run on a clocked real-time device with no
sound card. Also used by `benchmarks/engine.py --soak`.

The dummy backend runs its own clock at the requested rate and period, so PortAudio callbacks
arrive exactly as on real hardware (minus the hardware). `JackProcess` is a server a test can
make vanish under PortAudio and bring back under the same name (device loss and recovery).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest

SAMPLE_RATE = 48000
PERIOD = 128
_START_TIMEOUT_S = 10.0
_NAME_SLOTS = 6  # JACK's registry holds 8 servers; leave room for a default one and a spare
_slot: list[int] = []  # this process's slot, held (its lock file open) for the process's life


def server_name(suffix: str = "") -> str:
    """A JACK server name for this test process, from a small pool of names (one slot per
    process, by a lock file). JACK reclaims a dead server's registry entry only when a server of
    the same name registers again; with names unique per process (encore-<pid>), every server
    that died without unregistering kept one of the registry's 8 entries for good, until "Too
    many servers already active" and every JACK test on the machine skipped."""
    if not _slot:
        for slot in range(_NAME_SLOTS):
            path = os.path.join(tempfile.gettempdir(), f"encore-jack-slot-{slot}.lock")
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            _slot.append(slot)
            break
        else:
            raise RuntimeError(f"all {_NAME_SLOTS} JACK test server names are in use")
    return f"encore-t{_slot[0]}{'-' + suffix if suffix else ''}"


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def rescan_jack_output() -> int | None:
    """Re-initialise PortAudio (sounddevice caches the device list) and return the index of a
    JACK output device, or None."""
    import sounddevice as sd

    from audio.device import rescan_devices

    rescan_devices()
    for api in sd.query_hostapis():
        if "JACK" not in api["name"].upper():
            continue
        for index in api["devices"]:
            if sd.query_devices(index)["max_output_channels"] >= 2:
                return int(index)
    return None


def _terminate_portaudio() -> None:
    """PortAudio is terminated before a server we started stops: its JACK host API asserts
    (aborting the process) if it has to close its client after the server went away."""
    import sounddevice as sd

    # Fully: PortAudio counts initialisations, and one left over keeps its JACK client open.
    with contextlib.suppress(Exception):
        while sd._initialized:
            sd._terminate()


def _stop(proc: subprocess.Popen) -> None:
    """Stop a jackd we started (PortAudio first): SIGTERM, then SIGKILL if it hangs."""
    if proc.poll() is not None:
        return
    _terminate_portaudio()
    _end(proc)


def _end(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def _launch(name: str, rt_flag: str, rate: int, period: int, log_path: str) -> subprocess.Popen:
    # Never let a JACK client (PortAudio) spawn a server on its own behind our back.
    os.environ["JACK_NO_START_SERVER"] = "1"
    os.environ["JACK_DEFAULT_SERVER"] = name
    jackd = shutil.which("jackd")
    if jackd is None:
        raise RuntimeError("jackd is not installed (apt-get install jackd2)")
    env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1")
    cmd = [jackd, "-n", name, rt_flag, "-d", "dummy", "-r", str(rate), "-p", str(period)]
    with open(log_path, "w") as log:  # the child keeps its own copy of the fd
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=env, preexec_fn=die_with_parent
        )
    atexit.register(_stop, proc)  # an ordinary exit stops it cleanly (PortAudio first)
    return proc


def die_with_parent() -> None:
    """Run in the child before exec: the kernel sends it SIGTERM when the process that started it
    dies, however it dies (a crash, PortAudio's abort, SIGKILL, a CI timeout), so no server
    outlives the test run that started it. atexit alone missed the aborts."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _log(log_path: str, proc: subprocess.Popen) -> str:
    with open(log_path) as log:
        return f"$ {' '.join(map(str, proc.args))}\n{log.read()[-2000:]}"


@contextlib.contextmanager
def jack_server(
    rate: int = SAMPLE_RATE, period: int = PERIOD, name: str | None = None
) -> Iterator[int]:
    """Yield a PortAudio JACK output device index of a `jackd -d dummy` started for this process.

    The server has a name of its own (`server_name()` unless `name` is given, selected for
    PortAudio through JACK_DEFAULT_SERVER), so concurrent test runs, benchmarks or a running app
    never share one: PortAudio's JACK host API aborts the whole process when its server vanishes
    under it. Raises RuntimeError with jackd's log when it cannot start (realtime first, then
    without). On exit a previous JACK_DEFAULT_SERVER (and its device list) is back.
    """
    name = name or server_name()
    previous = os.environ.get("JACK_DEFAULT_SERVER")
    logs: list[str] = []
    log_path = os.path.join(tempfile.gettempdir(), f"encore-jackd-{name}.log")
    for rt_flag in ("-R", "--no-realtime"):
        proc = _launch(name, rt_flag, rate, period, log_path)
        device = None
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            device = rescan_jack_output()
            if device is not None:
                break
        if device is not None:
            try:
                yield device
            finally:
                _stop(proc)  # terminates PortAudio first
                _restore_server(previous)
            return
        _stop(proc)
        logs.append(_log(log_path, proc))
    _restore_server(previous)
    raise RuntimeError("jackd did not come up:\n" + "\n".join(logs))


def _restore_server(previous: str | None) -> None:
    if previous is not None:  # else it keeps naming the stopped server: no foreign one is used
        os.environ["JACK_DEFAULT_SERVER"] = previous
    from audio.device import rescan_devices

    with contextlib.suppress(Exception):
        rescan_devices()  # back to the previous device list


class JackProcess:
    """A jackd that vanishes under PortAudio (`vanish`) and comes back under the same name
    (`start` again), as a sound server does when it is stopped and restarted, or a USB interface
    when it is unplugged and plugged back. Use as a context manager: on exit the server is stopped
    (PortAudio terminated first) and a previous JACK_DEFAULT_SERVER is back."""

    def __init__(self, name: str, rate: int = SAMPLE_RATE, period: int = PERIOD) -> None:
        self.name, self.rate, self.period = name, rate, period
        self.proc: subprocess.Popen | None = None
        self._previous = os.environ.get("JACK_DEFAULT_SERVER")
        self._rt_flags = ["-R", "--no-realtime"]
        self._log_path = os.path.join(tempfile.gettempdir(), f"encore-jackd-{name}.log")

    def start(self) -> None:
        """Start jackd; returns once it runs (no PortAudio call: one may be mid-loss)."""
        logs = []
        for rt_flag in list(self._rt_flags):
            proc = _launch(self.name, rt_flag, self.rate, self.period, self._log_path)
            socket_path = f"/dev/shm/jack_{self.name}_{os.getuid()}_0"
            deadline = time.monotonic() + _START_TIMEOUT_S
            while time.monotonic() < deadline and proc.poll() is None:
                if os.path.exists(socket_path):
                    time.sleep(0.3)  # its system ports register right after the socket opens
                    self.proc, self._rt_flags = proc, [rt_flag]
                    return
                time.sleep(0.05)
            _end(proc)
            logs.append(_log(self._log_path, proc))
        raise RuntimeError("jackd did not come up:\n" + "\n".join(logs))

    def vanish(self) -> None:
        """The server quits under its clients (SIGTERM, as at a normal shutdown); PortAudio is
        not told."""
        assert self.proc is not None
        _end(self.proc)
        self.proc = None

    def __enter__(self) -> JackProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            _stop(self.proc)
        _restore_server(self._previous)


@pytest.fixture(scope="session")
def jackd() -> Iterator[int]:
    """Session-wide JACK dummy device (48 kHz, period 128); yields its PortAudio index."""
    try:
        cm = jack_server()
        device = cm.__enter__()
    except RuntimeError as exc:
        pytest.skip(f"JACK dummy server unavailable: {exc}")
    try:
        yield device
    finally:
        cm.__exit__(None, None, None)


def start_stream(engine, device: int, blocksize: int):
    """Open and start an output stream on a JACK device as the app's `AudioOutput` does: a busy
    JACK server refuses a start now and then (jack_connect error -1), and the app then tries once
    more on a fresh PortAudio. Tests that open a stream themselves do the same, or a loaded
    machine fails them for what the app survives."""
    import sounddevice as sd

    from audio.device import AudioDeviceError, open_stream, rescan_devices

    try:
        return open_stream(engine, device, blocksize)
    except AudioDeviceError:
        name = sd.query_devices(device)["name"]
        rescan_devices()
        outputs = [d for d in sd.query_devices() if d["max_output_channels"] > 0]
        index = next(int(d["index"]) for d in outputs if d["name"] == name)
        return open_stream(engine, index, blocksize)
