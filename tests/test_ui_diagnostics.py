"""The Diagnostics panel: shown to accounts with diagnostics (`qa`), absent for everyone else,
and its figures are the real ones — a real AudioOutput on the JACK dummy device, a real stream
from a real platform process, the real cache folder."""

from __future__ import annotations

import re

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QToolButton

from app.drafts import DraftStore
from audio.engine import Engine
from audio.output import AudioOutput, OutputState
from core.text import isolate
from tests.test_ui_remixes import client_for
from ui.diagnostics import REFRESH_MS, megabytes
from ui.main import load_theme
from ui.mainwindow import MainWindow

pytestmark = pytest.mark.ui


def window_for(qtbot, client, tasks, tmp_path, engine=None, output=None) -> MainWindow:
    window = MainWindow(
        client,
        engine or Engine(),
        tasks,
        DraftStore(tmp_path / "drafts"),
        tmp_path / "cache",
        output=output,
    )
    window.setStyleSheet(load_theme())
    qtbot.addWidget(window)
    window.show()
    return window


def first(text: str) -> int:
    """The first number in a figure, e.g. '1,204 periods (…)' -> 1204."""
    match = re.search(r"\d[\d,]*", text)
    assert match, text
    return int(match.group().replace(",", ""))


def test_no_diagnostics_for_other_accounts(qtbot, tasks, platform, tmp_path):
    fan = client_for(platform.url, "fan")
    assert fan.account is not None and not fan.account.diagnostics
    window = window_for(qtbot, fan, tasks, tmp_path)
    assert window.diagnostics is None
    assert window.findChildren(QDockWidget) == []
    assert window.findChildren(QToolButton, "diagnosticsToggle") == []


def test_diagnostics_without_a_device_say_so(qtbot, tasks, platform, tmp_path):
    qa = client_for(platform.url, "qa")
    window = window_for(qtbot, qa, tasks, tmp_path)
    panel = window.diagnostics.panel
    qtbot.waitUntil(lambda: panel.values.get("Version") == qa.health().version, timeout=10000)
    assert panel.values["State"] == "No audio output (sound is off in this session)"
    assert panel.values["Ring underruns"] == "— (no stream open)"
    assert panel.values["Track"] == "No track open"
    assert panel.values["Size"] == "not open yet (opens with the first track)"
    assert panel.values["Folder"] == str(tmp_path / "cache")


@pytest.mark.device
def test_diagnostics_panel_shows_the_real_figures_for_qa(qtbot, tasks, platform, jackd, tmp_path):
    qa = client_for(platform.url, "qa")
    assert qa.account is not None and qa.account.diagnostics
    engine = Engine()
    output = AudioOutput(engine)
    assert output.open(None, 256) is None, output.message
    try:
        window = window_for(qtbot, qa, tasks, tmp_path, engine, output)
        dock = window.diagnostics
        assert dock is not None and dock.isVisible()
        assert window.dockWidgetArea(dock) == Qt.DockWidgetArea.RightDockWidgetArea
        panel = dock.panel
        assert panel.timer.isActive() and panel.timer.interval() == REFRESH_MS  # ~2 Hz
        toggle = window.findChildren(QToolButton, "diagnosticsToggle")
        assert len(toggle) == 1 and toggle[0].defaultAction().text() == "Diagnostics"

        qtbot.waitUntil(lambda: window.catalog.list.count() >= 1, timeout=10000)
        window.open_track(window.catalog.list.item(0).data(Qt.ItemDataRole.UserRole))
        qtbot.waitUntil(lambda: window.studio.track is not None, timeout=30000)
        track = window.studio.track
        qtbot.waitUntil(lambda: track.seekable, timeout=30000)
        window.toggle_play()
        qtbot.waitUntil(lambda: engine.position_seconds > 0.5, timeout=5000)

        stream = output.stream
        assert output.state == OutputState.RUNNING and stream is not None
        # Counters move while the device plays: each shown figure lies between a reading just
        # before the refresh and one just after.
        before = (
            engine.underflows,
            stream.ring_underflows,
            stream.portaudio_underflows,
            stream.device_callbacks,
        )
        panel.refresh()
        after = (
            engine.underflows,
            stream.ring_underflows,
            stream.portaudio_underflows,
            stream.device_callbacks,
        )
        v = dict(panel.values)
        shown = [
            first(v[k])
            for k in ("Underflows", "Ring underruns", "PortAudio underflows", "Device periods")
        ]
        for lo, figure, hi in zip(before, shown, after, strict=True):
            assert lo <= figure <= hi, (before, shown, after)
        assert shown[3] > 0  # the device has been calling
        assert re.fullmatch(r"[\d,]+ periods? \([\d,]+ frames? silent\)", v["Ring underruns"])

        assert v["Device"] == f"{output.device_name} ({stream.hostapi})"
        assert "JACK" in v["Device"]
        assert v["State"] == "Running"
        assert v["Block size"] == "256 frames (5.3 ms)"
        ring_ms = 1000 * stream.ring_latency_seconds
        assert v["Output latency"] == (
            f"{output.latency_ms:.1f} ms (device {output.latency_ms - ring_ms:.1f} "
            f"+ ring {ring_ms:.1f})"
        )
        assert v["Sample rate"] == "48,000 Hz"
        assert v["Engine errors"] == "0"

        detail = track.detail
        assert v["Track"] == f"{isolate(detail.title)} — {isolate(detail.artist)}"
        assert v["Seekable"] == "yes"
        assert v["Received"].endswith("(100%)")
        assert v["Connection"] == "done (every stem in the cache)"
        assert [row[0] for row in panel.stem_rows] == [s.name for s in track.stems]
        for row, info in zip(panel.stem_rows, track.stems, strict=True):
            assert row[1].endswith(f"/{megabytes(info.size)}")
            assert row[2] == "cached, verified"

        cache = window.cache
        assert cache is not None
        assert v["Folder"] == str(tmp_path / "cache")
        assert v["Size"] == f"{megabytes(cache.usage())} of {megabytes(cache.limit_bytes)} allowed"
        assert cache.usage() > 0

        assert v["Address"] == platform.url
        qtbot.waitUntil(lambda: panel.values["Version"] == qa.health().version, timeout=10000)
        assert re.fullmatch(r"\d+\.\d+\.\d+\S*", panel.values["Version"])
        assert v["Account"] == f"{isolate('qa')} · Superfan tier · diagnostics on"

        # The timer refreshes on its own, and only while the dock shows.
        periods = first(panel.values["Device periods"])
        qtbot.waitUntil(lambda: first(panel.values["Device periods"]) > periods, timeout=3000)
        dock.toggleViewAction().trigger()
        assert not dock.isVisible() and not panel.timer.isActive()
        dock.toggleViewAction().trigger()
        assert dock.isVisible() and panel.timer.isActive()

        window.grab().save(str(tmp_path / "diagnostics.png"))
        engine.pause()
        window.close()
    finally:
        output.close()
