"""The engine's thread boundary as named parts (audio.commands, audio.shared, audio.parts): what
crosses between the UI thread and the callback arrives whole and in order.

These run a real second thread against the real objects (no mocks); they assert what a reader
sees, never how long anything took.
"""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest

from audio.commands import CommandQueue, Load, Pause, Play, Seek, SetLoop, Unload
from audio.engine import Engine
from audio.shared import Published
from audio.source import ArraySource

SR = 48000
BLOCK = 128


def test_commands_are_frozen_records_that_arrive_in_order_across_threads():
    queue = CommandQueue()
    n = 20000
    got: list[int] = []

    def consume() -> None:  # the callback's side: never blocks, polls
        while len(got) < n:
            cmd = queue.get()
            if cmd is not None:
                assert isinstance(cmd, Seek) and cmd.frame == 3 * cmd.seq
                got.append(cmd.seq)

    consumer = threading.Thread(target=consume)
    consumer.start()
    for _ in range(n):
        seq = queue.next_seq()
        queue.put(Seek(3 * seq, seq))
    consumer.join(60)
    assert not consumer.is_alive()
    assert got == list(range(1, n + 1))
    assert queue.get() is None and queue.last_seq == n
    with pytest.raises(dataclasses.FrozenInstanceError):
        Seek(1, 1).frame = 2  # type: ignore[misc]


def test_the_published_playhead_group_is_never_seen_torn():
    """A writer publishes (k, 2k, odd k, 3k) while a reader snapshots: every snapshot it gets
    is one whole publication."""
    pub = Published(4)
    stop = threading.Event()
    published = [0]

    def write() -> None:
        k = 0
        while not stop.is_set():
            k += 1
            pub.publish(k, 2 * k, bool(k & 1), 3 * k)
            published[0] = k

    writer = threading.Thread(target=write)
    writer.start()
    try:
        seen = 0
        for _ in range(20000):
            p = pub.snapshot()
            assert p.source_playhead == 2 * p.playhead
            assert p.applied_seq == 3 * p.playhead
            assert p.playing == bool(p.playhead & 1)
            assert p.playhead >= seen  # never goes back
            seen = p.playhead
    finally:
        stop.set()
        writer.join(10)
    assert published[0] > 0


def test_engine_sends_one_typed_record_per_request():
    engine = Engine(SR, max_block=BLOCK, max_stems=4)
    stems = np.zeros((2, 2, SR), dtype=np.float32)
    engine.load(stems, ["a", "b"])
    engine.play()
    engine.seek(0.5)
    engine.set_loop(0.25, 0.75)
    engine.pause()
    engine.unload()
    kinds = []
    while (cmd := engine._commands.get()) is not None:
        kinds.append(type(cmd))
    assert kinds == [Load, Play, Seek, SetLoop, Pause, Unload]


class FailingSource(ArraySource):
    """A real array source that raises once told to (a decoder fault, say)."""

    fail = False

    def read(self, start: int, out: np.ndarray) -> int:
        if self.fail:
            raise OSError("the stem file went away")
        return super().read(start, out)


def test_a_fault_in_the_callback_still_publishes_the_commands_it_applied():
    """The callback never raises; the UI still learns what was applied before the fault."""
    engine = Engine(SR, max_block=BLOCK, max_stems=4)
    source = FailingSource(np.full((2, 2, SR), 0.1, dtype=np.float32))
    engine.load_source(source, ["a", "b"])
    engine.play()
    out = np.zeros((BLOCK, 2), dtype=np.float32)
    engine.process(out)
    assert out.any()
    engine.pause()
    source.fail = True
    engine.process(out)  # drains Pause, then the fade-out read raises
    assert engine.callback_errors == 1 and "went away" in (engine.last_error or "")
    assert not out.any()
    assert engine._pub.snapshot().applied_seq == engine._commands.last_seq
    assert not engine.playing
