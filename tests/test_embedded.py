"""The embedded platform lives and dies with the app that started it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

CHILD = """
import os, sys
from pathlib import Path
from app.embedded import start_platform
p = start_platform(Path(sys.argv[1]), env={"ENCORE_DEMO_CACHE": sys.argv[2]})
print(p.process.pid, p.url, flush=True)
os.kill(os.getpid(), 9)  # the app crashes: no cleanup code runs
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited; it only waits to be reaped


def test_platform_exits_when_the_app_is_killed(tmp_path, demo_cache):
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "platform"), str(demo_cache)],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    pid = int(out.stdout.split()[0])
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid), "the platform outlived the app that started it"
