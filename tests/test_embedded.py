"""The embedded platform lives and dies with the app that started it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from app.embedded import PlatformStartError, start_platform
from ui.launch import spawn_embedded

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


def test_a_second_platform_on_the_same_data_dir_is_refused(tmp_path, demo_cache):
    """Two SQLite platforms on one data dir would share its database and render queue: the
    second start says so and leaves, and the first carries on serving."""
    env = {"ENCORE_DEMO_CACHE": str(demo_cache), "ENCORE_DEMO_REMIXES": "0"}
    first = start_platform(tmp_path / "platform", env=env)
    try:
        with pytest.raises(PlatformStartError) as refused:
            start_platform(tmp_path / "platform", env=env, timeout=60)
        assert "Another platform already serves" in str(refused.value)
        assert "--data-dir" in str(refused.value)
        assert requests.get(f"{first.url}/v1/health", timeout=10).status_code == 200
    finally:
        first.stop()
    again = start_platform(tmp_path / "platform", env=env)  # the lock went with the process
    again.stop()


def test_the_encore_command_spawns_the_embedded_platform_only_when_it_is_used(tmp_path):
    assert spawn_embedded(["--platform", "http://127.0.0.1:9", "--data-dir", str(tmp_path)]) is None
    assert spawn_embedded(["--help"]) is None
    assert spawn_embedded(["--data-dir"]) is None  # unreadable: the studio's parser says why
    pending = spawn_embedded(["--data-dir", str(tmp_path), "--device", "3"])
    assert pending is not None
    try:
        assert pending.data_dir == tmp_path / "platform"
        assert pending.process.poll() is None
    finally:
        pending.kill()
