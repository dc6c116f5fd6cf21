"""When a listen becomes a play (app/plays.py): heard time, not a click on Listen."""

from __future__ import annotations

import pytest

from app.plays import PLAY_AFTER_S, PlayTally


def feed(tally: PlayTally, positions, playing=True) -> list[bool]:
    return [tally.update(p, playing) for p in positions]


def test_a_play_counts_once_after_thirty_seconds_heard():
    tally = PlayTally(duration_s=240.0)
    steps = [i * 0.1 for i in range(int(PLAY_AFTER_S * 10) + 5)]
    said = feed(tally, steps)
    assert said.count(True) == 1
    assert said.index(True) == pytest.approx(PLAY_AFTER_S * 10, abs=1)
    assert not any(feed(tally, [40.0, 40.1, 40.2]))  # once per listen


def test_paused_time_and_seeks_ahead_are_not_listening():
    tally = PlayTally(duration_s=240.0)
    assert not any(feed(tally, [0.0, 0.1, 0.2]))
    assert not any(feed(tally, [0.2] * 500, playing=False))  # paused for a long while
    assert not any(feed(tally, [10.0, 60.0, 120.0, 200.0]))  # skipping through
    assert tally.heard == pytest.approx(0.2)
    assert not any(feed(tally, [100.0, 50.0, 20.0]))  # seeking back is not listening either


def test_a_short_remix_counts_when_most_of_it_is_heard():
    tally = PlayTally(duration_s=20.0)
    said = feed(tally, [i * 0.5 for i in range(41)])
    assert said.index(True) == 36  # 18 s of 20: 90 %
