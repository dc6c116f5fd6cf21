"""Strip and return knobs, through real widgets, `Studio` and the engine, on a real platform.

The engine is not on a device here: the test calls `Engine.process` itself (the same callback
body PortAudio calls), so the meter figures come from exactly the blocks the test rendered.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.client import PlatformClient
from app.drafts import DraftStore
from audio import dsp
from audio.engine import Engine
from core.contract import StemKind
from ui.mainwindow import MainWindow

pytestmark = pytest.mark.ui

BLOCK = 1024


def open_first_track(qtbot, platform, tasks, tmp_path) -> tuple[MainWindow, Engine]:
    client = PlatformClient(platform.url)
    client.login("fan", "encore-demo")
    engine = Engine()
    window = MainWindow(client, engine, tasks, DraftStore(tmp_path / "drafts"), tmp_path / "cache")
    qtbot.addWidget(window)
    window.open_track(client.tracks()[0].id)
    qtbot.waitUntil(lambda: window.studio.track is not None, timeout=20000)
    qtbot.waitUntil(lambda: window.studio.track.seekable, timeout=20000)
    return window, engine


def stem_level(qtbot, window: MainWindow, index: int, seconds: float = 1.5) -> float:
    """Mean post-strip peak of one stem over `seconds` of rendered blocks from 16 s.

    Stems decode a window ahead of the playhead in a worker; this waits for each block's chunk
    (the real callback would play a miss as silence), so every measured block is real audio."""
    engine, track = window.engine, window.studio.track
    out = np.zeros((BLOCK, 2), dtype=np.float32)
    engine.seek(16.0)
    engine.process(out)  # paused: applies the seek, so the decoder follows the playhead there
    engine.play()
    peaks = []
    for i in range(8 + int(seconds * engine.sample_rate / BLOCK)):
        frame = int(engine.position_seconds * engine.sample_rate)
        qtbot.waitUntil(lambda f=frame: track.ready_at(f + 2 * BLOCK), timeout=5000)
        missing = engine.missing_frames
        engine.process(out)
        assert engine.missing_frames == missing
        if i >= 8:  # after the fade-in, the seek and the EQ ramps
            peaks.append(float(engine.meters()[0][index]))
    engine.pause()
    engine.process(out)
    return float(np.mean(peaks))


def test_knobs_change_document_engine_and_sound(qtbot, platform, tasks, tmp_path):
    window, engine = open_first_track(qtbot, platform, tasks, tmp_path)
    track = window.studio.track
    bass = next(s for s in track.stems if s.kind == StemKind.BASS)
    index = track.stem_ids.index(bass.id)
    strip = window.mixer.strips[bass.id]
    flat = stem_level(qtbot, window, index)
    assert flat > 0.02, "the demo bass should be playing at 16 s"

    # A full low-shelf cut on the bass, from the keyboard.
    strip.eq_low.setFocus()
    qtbot.keyClick(strip.eq_low, Qt.Key.Key_Home)
    assert window.studio.document.stems[bass.id].eq_low_db == -24.0
    assert engine._strip[index, dsp.P_EQ_LOW] == -24.0
    cut = stem_level(qtbot, window, index)
    assert cut < flat * 0.5, (flat, cut)  # more than 6 dB quieter: the bass lives below 120 Hz

    # Back to flat with a double-click: the level returns.
    qtbot.mouseDClick(strip.eq_low, Qt.MouseButton.LeftButton)
    assert window.studio.document.stems[bass.id].eq_low_db == 0.0
    assert stem_level(qtbot, window, index) == pytest.approx(flat, rel=0.05)

    # A high-pass at the top of its travel leaves almost nothing of a bass line.
    strip.hp.setValue(2000.0)
    assert window.studio.document.stems[bass.id].hp_hz == 2000.0
    assert engine._strip[index, dsp.P_HP] == 2000.0
    high_passed = stem_level(qtbot, window, index)
    assert high_passed < flat * 0.2, (flat, high_passed)
    print(f"bass peak: flat {flat:.4f}, low shelf -24 dB {cut:.4f}, HP 2 kHz {high_passed:.4f}")

    # Sends and the return buses land in the document and in the engine's arrays.
    strip.send_reverb.set_position(0.5)
    strip.send_delay.setValue(0.25)
    s = window.studio.document.stems[bass.id]
    assert (s.send_reverb, s.send_delay) == (0.5, 0.25)
    assert engine._strip[index, dsp.P_SEND_REVERB] == 0.5
    assert engine._strip[index, dsp.P_SEND_DELAY] == 0.25
    returns = window.mixer.returns
    returns.delay_beats.setValue(1.5)
    returns.reverb_size.setValue(0.8)
    doc = window.studio.document
    assert doc.delay.beats == 1.5 and doc.reverb.size == 0.8
    assert engine._bus[dsp.B_DLY_BEATS] == 1.5 and engine._bus[dsp.B_REV_SIZE] == 0.8

    # The draft autosaves these, and a reopened studio shows them on its knobs.
    drafts = DraftStore(tmp_path / "drafts")
    qtbot.waitUntil(
        lambda: (d := drafts.load(track.detail.id)) is not None and d.delay.beats == 1.5,
        timeout=5000,
    )
    window.close()
    again, _engine = open_first_track(qtbot, platform, tasks, tmp_path)
    restored = again.mixer.strips[bass.id]
    assert restored.hp.value() == 2000.0 and restored.send_reverb.value() == 0.5
    assert again.mixer.returns.delay_beats.value() == 1.5
    assert again.mixer.returns.delay_beats.text() == "1.5 beats"
    again.close()
