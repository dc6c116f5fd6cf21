"""The platform's injectable clock (server/clock.py): rules that depend on the time of day read
it, so tests move time instead of sleeping, and only a platform started with --test-clock can
have its time moved at all."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from app.embedded import PlatformProcess, start_platform
from server.clock import (
    OFFSET_FILE,
    ManualClock,
    OffsetFileClock,
    SystemClock,
    advance_offset_file,
)
from server.config import Settings
from tests.platform_helpers import as_demo, assert_error, doc_for, unique_mix, wait_for_status

# -- the clocks themselves ----------------------------------------------------------------------


def test_manual_clock_moves_only_forward_and_only_when_told():
    start = datetime(2026, 12, 4, 23, 59, 30, tzinfo=UTC)
    clock = ManualClock(start)
    assert clock.now() == start and clock.monotonic() == 0.0
    clock.advance(45)
    assert clock.now() == datetime(2026, 12, 5, 0, 0, 15, tzinfo=UTC)
    assert clock.monotonic() == 45.0
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="aware datetime"):
        ManualClock(datetime(2026, 1, 1))


def test_offset_file_clock_reads_the_offset_and_never_goes_back(tmp_path):
    clock = OffsetFileClock(tmp_path / OFFSET_FILE)
    assert clock.offset() == 0.0  # no file yet: the real time
    assert advance_offset_file(tmp_path, 3600) == 3600
    assert advance_offset_file(tmp_path, 0.5) == 3600.5
    real = datetime.now(UTC)
    assert 3600 <= (clock.now() - real).total_seconds() < 3700
    assert clock.monotonic() - time.monotonic() >= 3600
    (tmp_path / OFFSET_FILE).write_text("1")  # a smaller offset: monotonic must not decrease
    assert clock.offset() == 3600.5
    (tmp_path / OFFSET_FILE).write_text("soon")  # not a number: ignored, said in the log
    assert clock.offset() == 3600.5
    with pytest.raises(ValueError, match="only moves forward"):
        advance_offset_file(tmp_path, -5)


def test_only_a_test_clock_platform_reads_the_offset_file(tmp_path):
    advance_offset_file(tmp_path, 86400)
    assert isinstance(Settings(data_dir=tmp_path).make_clock(), SystemClock)
    assert isinstance(Settings(data_dir=tmp_path, test_clock=True).make_clock(), OffsetFileClock)
    given = ManualClock()
    assert Settings(data_dir=tmp_path, clock=given).make_clock() is given


# -- a platform in another process, its clock moved by the test ---------------------------------


@pytest.fixture(scope="module")
def clocked(tmp_path_factory, demo_env) -> Iterator[PlatformProcess]:
    proc = start_platform(
        tmp_path_factory.mktemp("clock"),
        env=demo_env,
        extra_args=["--test-clock", "--daily-quota", "1"],
    )
    try:
        yield proc
    finally:
        proc.stop()


def test_the_daily_quota_and_play_counts_follow_the_platforms_utc_day(clocked):
    fan, listener = as_demo(clocked.url, "fan"), as_demo(clocked.url, "qa")
    track = fan("GET", "/tracks/neon-harbor").json()
    first = fan.submit(doc_for(track, stems=unique_mix(track)))
    assert first.status_code == 201, first.text
    over = fan.submit(doc_for(track, stems=unique_mix(track)))
    assert_error(over, 429, "daily_quota_exceeded")
    to_midnight = int(over.headers["Retry-After"])

    remix_id = first.json()["id"]
    assert wait_for_status(fan, remix_id)["status"] == "published"
    play = listener("POST", f"/remixes/{remix_id}/plays").json()
    assert (play["plays"], play["counted"]) == (1, True)
    again = listener("POST", f"/remixes/{remix_id}/plays").json()
    assert (again["plays"], again["counted"]) == (1, False)  # once per listener per UTC day

    advance_offset_file(clocked.data_dir, to_midnight + 1)  # just past the platform's midnight
    assert_error(fan("GET", "/me"), 401, "token_expired")  # 15-min access tokens: long gone
    fan, listener = as_demo(clocked.url, "fan"), as_demo(clocked.url, "qa")
    next_day = listener("POST", f"/remixes/{remix_id}/plays").json()
    assert (next_day["plays"], next_day["counted"]) == (2, True)
    assert fan.submit(doc_for(track, stems=unique_mix(track))).status_code == 201
