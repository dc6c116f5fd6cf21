"""Automated controls move on screen with the music, and their strips are marked."""

from __future__ import annotations

import numpy as np
import pytest

from app.client import PlatformClient
from app.drafts import DraftStore
from audio.engine import Engine
from ui.mainwindow import MainWindow
from ui.tasks import TaskRunner

pytestmark = pytest.mark.ui
BLOCK = 256


def run(window: MainWindow, blocks: int) -> None:
    """Advance the engine as the device callback would (no device needed for this test), with
    the UI timer's tick every ~25 ms as in the app."""
    out = np.zeros((BLOCK, 2), dtype=np.float32)
    for b in range(blocks):
        window.engine.process(out)
        if b % 5 == 4:
            window._tick()


def test_an_automated_fader_follows_the_recording(qtbot, platform, tmp_path):
    client = PlatformClient(platform.url)
    client.login("fan", "encore-demo")
    tasks = TaskRunner()
    engine = Engine()
    window = MainWindow(client, engine, tasks, DraftStore(tmp_path / "d"), tmp_path / "c")
    qtbot.addWidget(window)
    window.open_track(client.tracks()[0].id)
    qtbot.waitUntil(lambda: window.studio.track is not None, timeout=20000)
    track = window.studio.track
    qtbot.waitUntil(lambda: track.ready_at(0) and track.ready_at(48000 * 3), timeout=20000)
    stem = track.stems[0].id
    strip = window.mixer.strips[stem]

    window.studio.arm_automation(True)
    engine.play()
    run(window, 100)  # ~0.5 s at unity
    strip.fader.setValue(-180)  # the fan pulls the fader to -18 dB while recording
    run(window, 100)
    engine.pause()
    run(window, 4)
    window._tick()  # the UI timer sees the stop and writes the pass
    window.studio.arm_automation(False)
    assert (stem, "gain_db") in window.studio.automated()

    before = window.studio.document.model_dump()
    engine.seek(0.0)
    engine.play()
    run(window, 40)
    window._tick()
    assert strip.fader.value() == 0 and strip.name.text().endswith("●")
    run(window, 110)  # past the recorded move
    window._tick()
    assert strip.fader.value() == -180
    assert strip.db_label.text() == "-18.0 dB"
    assert window.studio.document.model_dump() == before  # the display follows; nothing is edited
    window.close()
    tasks.wait(5000)
