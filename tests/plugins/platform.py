"""Pytest fixtures for a real platform process on 127.0.0.1 (the same launcher the app uses)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from app.embedded import PlatformProcess, start_platform

REPO = Path(__file__).resolve().parents[2]
DEMO_PASSWORD = "encore-demo"

__all__ = ["demo_cache", "demo_env", "login", "platform"]

# Every platform a test starts (the fixtures here, a test's own start_platform, a restart, the
# app's embedded one) begins without the demo's seeded remixes (server/demo_remixes.py): tests
# count and order their own remixes, and no seeded render competes with theirs for the CPU.
# tests/test_demo_remixes.py turns them on for its own platform.
DEMO_REMIXES_ENV = "ENCORE_DEMO_REMIXES"
os.environ[DEMO_REMIXES_ENV] = "0"
# The embedded platform renders at a low priority beside the studio (server/queue.py); a test's
# renders keep normal priority, or a machine kept busy would starve them.
RENDER_NICE_ENV = "ENCORE_RENDER_NICE"
os.environ[RENDER_NICE_ENV] = "0"


@pytest.fixture(scope="session")
def demo_cache() -> Path:
    """Composing the demo music takes a while, so every platform on this machine shares one copy
    (`.cache/` is gitignored)."""
    path = REPO / ".cache" / "demo-catalog"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def demo_env(demo_cache: Path) -> dict[str, str]:
    return {"ENCORE_DEMO_CACHE": str(demo_cache), DEMO_REMIXES_ENV: "0", RENDER_NICE_ENV: "0"}


@pytest.fixture(scope="session")
def platform(
    tmp_path_factory: pytest.TempPathFactory, demo_env: dict[str, str]
) -> Iterator[PlatformProcess]:
    proc = start_platform(tmp_path_factory.mktemp("platform"), env=demo_env)
    try:
        yield proc
    finally:
        proc.stop()


def login(url: str, username: str, password: str = DEMO_PASSWORD) -> dict:
    """Sign in with the OAuth2 password grant; returns the TokenPair as a dict."""
    resp = requests.post(
        f"{url}/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
        timeout=30,
    )
    resp.raise_for_status()
    return resp.json()
