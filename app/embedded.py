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
    pending = spawn_platform(data_dir, port=port, demo=demo, extra_args=extra_args, env=env)
    return pending.wait(timeout)


@dataclass
class PendingPlatform:
    """A platform process spawned but maybe not serving yet: the studio spawns it before its own
    imports (ui/launch.py) and waits for it only when the sign-in dialog needs the URL."""

    data_dir: Path
    process: subprocess.Popen
    demo: bool
    log: list[str]
    ready: threading.Event
    url_box: list[str]

    def wait(self, timeout: float = 120.0) -> PlatformProcess:
        if not self.ready.wait(timeout) or not self.url_box:
            self.kill()
            tail = "\n".join(self.log[-20:])
            raise PlatformStartError(f"The local platform did not start. Its last output:\n{tail}")
        return PlatformProcess(
            url=self.url_box[0],
            data_dir=self.data_dir,
            process=self.process,
            log=self.log,
            demo=self.demo,
        )

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)


def spawn_platform(
    data_dir: Path,
    *,
    port: int = 0,
    demo: bool = True,
    extra_args: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> PendingPlatform:
    """Start `encore-platform serve` without waiting for it (see `PendingPlatform.wait`)."""
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
    pending = PendingPlatform(data_dir, proc, demo, [], threading.Event(), [])

    def pump() -> None:
        # NB: runs for the life of the child so its pipe never fills and blocks the server.
        # `url_box` is appended before `ready` is set: a waiter that sees the event sees the URL.
        assert proc.stdout is not None
        for line in proc.stdout:
            pending.log.append(line.rstrip())
            del pending.log[:-500]
            if line.startswith(READY_MARKER) and not pending.ready.is_set():
                pending.url_box.append(line.split()[1])
                pending.ready.set()
        pending.ready.set()

    threading.Thread(target=pump, name="platform-log", daemon=True).start()
    return pending
