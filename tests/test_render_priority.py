"""The embedded platform renders beside the studio at a low priority (server/queue.py): a render
in full flight must not take the CPU from the studio's audio thread on the fan's machine."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from server.queue import RENDER_NICE_ENV, lower_this_threads_priority

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="a thread's own nice is Linux's")


def nice_in_a_thread(monkeypatch, setting: str | None) -> tuple[int, int]:
    """(the process's nice, a thread's nice after lowering its own priority)."""
    if setting is None:
        monkeypatch.delenv(RENDER_NICE_ENV, raising=False)
    else:
        monkeypatch.setenv(RENDER_NICE_ENV, setting)
    seen: list[int] = []

    def render_thread() -> None:
        lower_this_threads_priority()
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    worker = threading.Thread(target=render_thread)
    worker.start()
    worker.join(10)
    return os.getpriority(os.PRIO_PROCESS, 0), seen[0]


def test_the_render_thread_is_nicer_than_the_platform_and_only_it(monkeypatch):
    process, thread = nice_in_a_thread(monkeypatch, None)
    assert thread == min(process + 10, 19)
    assert os.getpriority(os.PRIO_PROCESS, 0) == process  # the API threads keep theirs


def test_the_tests_platforms_render_at_normal_priority(monkeypatch):
    process, thread = nice_in_a_thread(monkeypatch, "0")
    assert thread == process
