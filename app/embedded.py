"""Start a platform (the reference server) as a child process on 127.0.0.1.

The app uses this for its embedded default platform and the tests use it for theirs: one way to
start a platform. A child process, not a thread, so the server never competes with the audio
callback for the GIL.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

READY_MARKER = "ENCORE_PLATFORM_READY"


class PlatformStartError(RuntimeError):
    pass


@dataclass
class PlatformProcess:
    url: str
    data_dir: Path
    process: subprocess.Popen
    log: list[str] = field(default_factory=list)
    demo: bool = True

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def restart(self) -> PlatformProcess:
        """A new platform on the same data (and the same port when it is free, so clients and
        streams carry on with the URL they have). Reaps this one first: no zombie is left."""
        self.kill()
        try:
            return start_platform(self.data_dir, port=self.port, demo=self.demo)
        except PlatformStartError:
            return start_platform(self.data_dir, demo=self.demo)  # the port was taken meanwhile

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)

    def kill(self) -> None:
        """Die without warning, as a crashed server would (and reap it)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)

    @property
    def running(self) -> bool:
        return self.process.poll() is None


def start_platform(
    data_dir: Path,
    *,
    port: int = 0,
    demo: bool = True,
    extra_args: list[str] | None = None,
    timeout: float = 120.0,
    env: dict[str, str] | None = None,
) -> PlatformProcess:
    """Start `encore-platform serve` and wait until it accepts connections.

    The first demo start composes the demo catalog (a few seconds); later starts reuse it.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [
        sys.executable,
        "-m",
        "server.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]
    if demo:
        args.append("--demo")
    args.append("--exit-with-stdin")  # dies with us, even if we are killed
    args += extra_args or []
    proc = subprocess.Popen(
        args,
        stdin=subprocess.PIPE,  # NB: never written; its closing is the child's signal to exit
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"},
    )
    log: list[str] = []
    ready = threading.Event()
    url_box: list[str] = []

    def pump() -> None:
        # NB: runs for the life of the child so its pipe never fills and blocks the server.
        assert proc.stdout is not None
        for line in proc.stdout:
            log.append(line.rstrip())
            del log[:-500]
            if line.startswith(READY_MARKER) and not ready.is_set():
                url_box.append(line.split()[1])
                ready.set()
        ready.set()

    threading.Thread(target=pump, name="platform-log", daemon=True).start()
    if not ready.wait(timeout) or not url_box:
        proc.kill()
        tail = "\n".join(log[-20:])
        raise PlatformStartError(f"The local platform did not start. Its last output:\n{tail}")
    return PlatformProcess(url=url_box[0], data_dir=data_dir, process=proc, log=log, demo=demo)
