"""Pytest plugin: a JACK dummy server, so device tests run on a clocked real-time device with no
sound card. Also used by `benchmarks/engine.py --soak`.

The dummy backend runs its own clock at the requested rate and period, so PortAudio callbacks
arrive exactly as on real hardware (minus the hardware).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest

SAMPLE_RATE = 48000
PERIOD = 128
_START_TIMEOUT_S = 10.0


def rescan_jack_output() -> int | None:
    """Re-initialise PortAudio (sounddevice caches the device list) and return the index of a
    JACK output device, or None."""
    import sounddevice as sd

    sd._terminate()
    sd._initialize()
    for api in sd.query_hostapis():
        if "JACK" not in api["name"].upper():
            continue
        for index in api["devices"]:
            if sd.query_devices(index)["max_output_channels"] >= 2:
                return int(index)
    return None


def _stop(proc: subprocess.Popen) -> None:
    """Stop a jackd we started: SIGTERM, then SIGKILL if it hangs.

    PortAudio is terminated first: its JACK host API asserts (aborting the process) if it has to
    close its client after the server went away.
    """
    if proc.poll() is not None:
        return
    import sounddevice as sd

    # Fully: PortAudio counts initialisations, and one left over keeps its JACK client open.
    with contextlib.suppress(Exception):
        while sd._initialized:
            sd._terminate()
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@contextlib.contextmanager
def jack_server(rate: int = SAMPLE_RATE, period: int = PERIOD) -> Iterator[int]:
    """Yield a PortAudio JACK output device index of a `jackd -d dummy` started for this process.

    The server has a name of its own (`-n encore-<pid>`, selected for PortAudio through
    JACK_DEFAULT_SERVER), so concurrent test runs, benchmarks or a running app never share one:
    PortAudio's JACK host API aborts the whole process when its server vanishes under it.
    Raises RuntimeError with jackd's log when it cannot start (realtime first, then without).
    """
    # Never let a JACK client (PortAudio) spawn a server on its own behind our back.
    os.environ["JACK_NO_START_SERVER"] = "1"
    name = f"encore-{os.getpid()}"
    os.environ["JACK_DEFAULT_SERVER"] = name
    jackd = shutil.which("jackd")
    if jackd is None:
        raise RuntimeError("jackd is not installed (apt-get install jackd2)")
    env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1")
    logs: list[str] = []
    log_path = os.path.join(tempfile.gettempdir(), f"encore-jackd-{os.getpid()}.log")
    for rt_flag in ("-R", "--no-realtime"):
        cmd = [jackd, "-n", name, rt_flag, "-d", "dummy", "-r", str(rate), "-p", str(period)]
        with open(log_path, "w") as log:  # the child keeps its own copy of the fd
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        atexit.register(_stop, proc)  # a crashed session must not leave jackd behind
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
                import sounddevice as sd

                with contextlib.suppress(Exception):
                    sd._initialize()  # back to a device list without JACK
            return
        _stop(proc)
        with open(log_path) as log:
            logs.append(f"$ {' '.join(cmd)}\n{log.read()[-2000:]}")
    raise RuntimeError("jackd did not come up:\n" + "\n".join(logs))


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
