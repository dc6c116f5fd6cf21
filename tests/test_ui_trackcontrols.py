"""Tempo and key controls in the track header: real widgets, real platform, real engine (driven
block by block, no device): the control shows the policy, changes the document (and the draft)
and the engine, and the engine then plays faster."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.drafts import DraftStore
from audio.engine import Engine
from core.contract import RightsPolicy
from tests.test_ui_e2e import sign_in
from ui.mainwindow import MainWindow
from ui.trackcontrols import TrackControls, shifted_key

pytestmark = [pytest.mark.ui]


def test_shifted_key_names():
    assert shifted_key("A minor", 2) == "B minor"
    assert shifted_key("A minor", -3) == "F# minor"
    assert shifted_key("Bb major", 1) == "B major"
    assert shifted_key("C", -1) == "B"
    assert shifted_key("unknown", 3) == "unknown"


def test_tempo_and_key_controls_change_document_draft_and_engine(qtbot, tasks, platform, tmp_path):
    dialog = sign_in(qtbot, tasks, platform.url, "fan")
    engine = Engine(48000, 256)
    drafts = DraftStore(tmp_path / "d")
    window = MainWindow(dialog.client, engine, tasks, drafts, tmp_path / "c")
    qtbot.addWidget(window)
    window.open_track(dialog.client.tracks()[0].id)
    qtbot.waitUntil(lambda: window.studio.track is not None, timeout=20000)
    controls = window.track_controls
    detail = window.studio.detail
    policy, bpm = detail.policy, detail.analysis.bpm
    assert controls.isEnabled()
    # The policy's limits are on screen, as BPM and semitones.
    assert controls.tempo.minimum() == round(policy.tempo_ratio_min * 100)
    assert controls.tempo.maximum() == round(policy.tempo_ratio_max * 100)
    assert (controls.key.minimum(), controls.key.maximum()) == (
        policy.key_shift_min,
        policy.key_shift_max,
    )
    assert f"{bpm * policy.tempo_ratio_max:.0f}" in controls.limits.text()
    assert f"{policy.key_shift_max:+d}" in controls.limits.text()

    # Keyboard on the slider: each step is 1 % of tempo.
    controls.tempo.setFocus()
    for _ in range(10):
        qtbot.keyClick(controls.tempo, Qt.Key.Key_Right)
    assert window.studio.document.tempo_ratio == pytest.approx(1.10)
    assert f"{bpm * 1.1:.1f} BPM" in controls.tempo_label.text()
    controls.key.setValue(2)
    assert window.studio.document.key_shift == 2
    key = detail.analysis.key
    assert controls.key_label.text() == f"{key} → {shifted_key(key, 2)}"
    assert engine.stretch == (pytest.approx(1.10), 2)

    # The draft autosaves (within ~0.15 s of the last edit).
    def saved() -> tuple[float, int] | None:
        draft = drafts.load(detail.id)
        return (draft.tempo_ratio, draft.key_shift) if draft is not None else None

    qtbot.waitUntil(lambda: saved() == (pytest.approx(1.1), 2), timeout=2000)
    # The slider cannot leave the policy.
    controls.tempo.setValue(10_000)
    assert window.studio.document.tempo_ratio == pytest.approx(policy.tempo_ratio_max)

    # The engine plays it: the playhead runs tempo_ratio times faster than the output.
    track = window.studio.track
    qtbot.waitUntil(lambda: track.ready_at(0), timeout=10000)
    engine.play()
    out = np.zeros((256, 2), dtype=np.float32)
    for _ in range(40):  # past the cut and its priming
        engine.process(out)
        time.sleep(0.003)
    p0, frames = engine.position_seconds, 0
    st = engine.stretcher
    for _ in range(400):
        deadline = time.monotonic() + 30.0  # a busy machine: wait, never drop
        while not st.settled() and time.monotonic() < deadline:
            time.sleep(0.001)
        engine.process(out)
        frames += out.shape[0]
    assert (engine.position_seconds - p0) / (frames / 48000) == pytest.approx(
        policy.tempo_ratio_max, rel=0.01
    )

    # A worker that falls behind is told, not hidden: blocks processed back to back outrun the
    # stretcher (as a callback would on a machine too slow for it) and the header says so.
    window._tick()
    assert controls.lag.isHidden()
    for _ in range(300):
        engine.process(out)
    assert window.studio.stretch_late_seconds > 0.05
    window._tick()
    assert not controls.lag.isHidden() and "can't keep up" in controls.lag.text()
    controls.show_stretch_lag(window.studio.stretch_late_seconds, time.monotonic() + 6.0)
    assert controls.lag.isHidden()  # nothing new dropped for a while: the warning goes away

    # Reset buttons go back to the plain engine.
    controls.tempo_reset.click()
    controls.key_reset.click()
    assert (window.studio.document.tempo_ratio, window.studio.document.key_shift) == (1.0, 0)
    assert engine.stretch == (1.0, 0)
    window.studio.close()


def test_a_tempo_and_key_the_artist_fixed_cannot_be_moved(qtbot):
    """A range of one value: the controls are disabled and the limits say so plainly (a slider
    that moved between 100 and 100 and "120–120 BPM" did nothing and said little)."""
    controls = TrackControls()
    qtbot.addWidget(controls)
    fixed = RightsPolicy(tempo_ratio_min=1.0, tempo_ratio_max=1.0, key_shift_min=0, key_shift_max=0)
    controls.set_track(120.0, "A minor", fixed, 1.0, 0)
    assert not controls.tempo.isEnabled() and not controls.key.isEnabled()
    assert controls.limits.text() == "Artist allows only 120 BPM, no key change"
    open_ = RightsPolicy(
        tempo_ratio_min=0.75, tempo_ratio_max=1.25, key_shift_min=-3, key_shift_max=3
    )
    controls.set_track(120.0, "A minor", open_, 1.0, 0)
    assert controls.tempo.isEnabled() and controls.key.isEnabled()
    assert controls.limits.text() == "Artist allows 90–150 BPM, -3 to +3 semitones"
