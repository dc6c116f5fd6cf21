"""Undo and redo (issue 11 item 2), in the real studio window on the demo platform: a gesture is
one step named after what it changed, Ctrl+Z / Ctrl+Shift+Z put back the document, the engine's
controls, the widgets and the draft on disk, for every kind of edit; undoing records nothing and
makes no step; opening a track (or a restored draft) and signing out start with nothing to undo."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QStyle, QStyleOptionSlider

from app.client import PlatformClient
from audio import dsp
from core.contract import AutomationLane, RemixDocument, StemSettings
from tests.test_ui_transport_details import open_studio
from ui.mainwindow import MainWindow
from ui.mixer import StemStrip, db_to_slider

pytestmark = pytest.mark.ui
CTRL = Qt.KeyboardModifier.ControlModifier
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
BLOCK = 256


@pytest.fixture
def window(qtbot, platform, tmp_path):
    win, tasks = open_studio(qtbot, platform, tmp_path)
    qtbot.waitUntil(lambda: len(win.mixer.strips) >= 2, timeout=10000)
    yield win
    win.close()
    tasks.wait(5000)


def first(window: MainWindow) -> tuple[str, StemStrip, int]:
    """The first stem: id, strip, engine index."""
    stem_id, strip = next(iter(window.mixer.strips.items()))
    return stem_id, strip, list(window.studio.track.stem_ids).index(stem_id)


def name_of(strip: StemStrip) -> str:
    return strip.name.text().removesuffix(" ●")


def undo_text(window: MainWindow) -> str:
    window.menus.refresh()
    return window.menus.undo.text()


def undo(widget) -> None:
    QTest.keyClick(widget, Qt.Key.Key_Z, CTRL)


def redo(widget) -> None:
    QTest.keyClick(widget, Qt.Key.Key_Z, CTRL_SHIFT)


def handle_center(slider) -> QPoint:
    opt = QStyleOptionSlider()
    slider.initStyleOption(opt)
    rect = slider.style().subControlRect(
        QStyle.ComplexControl.CC_Slider, opt, QStyle.SubControl.SC_SliderHandle, slider
    )
    return rect.center()


def drag(widget, start: QPoint, dy: int, steps: int = 8) -> None:
    """Press, several moves (dy pixels in all), release: one gesture, as a hand makes it."""
    QTest.mousePress(widget, Qt.MouseButton.LeftButton, pos=start)
    for i in range(1, steps + 1):
        QTest.mouseMove(widget, QPoint(start.x(), start.y() + round(dy * i / steps)))
    QTest.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=QPoint(start.x(), start.y() + dy))


def wheel(widget, notches: int) -> None:
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(
        pos,
        QPointF(widget.mapToGlobal(pos.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def draft_gain(window: MainWindow, stem_id: str) -> float | None:
    """The stem's gain in the draft on disk (None until the first edit's autosave)."""
    draft = window.drafts.load(window.studio.document.track_id)
    return draft.stems[stem_id].gain_db if draft is not None else None


def test_a_fader_drag_is_one_step_and_ctrl_z_puts_everything_back(qtbot, window, tmp_path):
    stem_id, strip, index = first(window)
    stack = window.remix_undo.stack
    assert stack.count() == 0 and undo_text(window) == "Nothing to undo"
    assert not window.menus.undo.isEnabled()

    drag(strip.fader, handle_center(strip.fader), 40)  # eight moves down
    gain = window.studio.document.stems[stem_id].gain_db
    assert gain < -3.0 and strip.fader.value() == db_to_slider(gain)
    assert window.engine._gain_db[index] == gain
    assert stack.count() == 1  # the whole drag is one step
    assert undo_text(window) == f"Undo {name_of(strip)} fader"
    assert window.menus.undo.isEnabled()

    undo(strip.fader)
    assert window.studio.document.stems[stem_id].gain_db == 0.0
    assert window.engine._gain_db[index] == 0.0
    assert strip.fader.value() == 0 and strip.db_label.text() == "+0.0 dB"
    assert stack.count() == 1 and stack.index() == 0  # undoing made no step of its own
    window.menus.refresh()
    assert window.menus.redo.text() == f"Redo {name_of(strip)} fader"
    # The draft on disk follows the undo.
    qtbot.waitUntil(
        lambda: draft_gain(window, stem_id) == 0.0,
        timeout=3000,
    )

    redo(strip.fader)
    assert window.studio.document.stems[stem_id].gain_db == gain
    assert window.engine._gain_db[index] == gain
    assert strip.fader.value() == db_to_slider(gain)
    assert stack.count() == 1 and stack.index() == 1
    qtbot.waitUntil(
        lambda: draft_gain(window, stem_id) == gain,
        timeout=3000,
    )

    # A second drag of the same fader is a second step.
    drag(strip.fader, handle_center(strip.fader), -20)
    assert stack.count() == 2
    undo(strip.fader)
    assert window.studio.document.stems[stem_id].gain_db == gain

    # A drag that ends where it started leaves no step.
    start = handle_center(strip.fader)
    QTest.mousePress(strip.fader, Qt.MouseButton.LeftButton, pos=start)
    for dy in (10, 20, 10, 0):
        QTest.mouseMove(strip.fader, QPoint(start.x(), start.y() + dy))
    QTest.mouseRelease(strip.fader, Qt.MouseButton.LeftButton, pos=start)
    assert window.studio.document.stems[stem_id].gain_db == gain
    assert stack.index() == 1 and undo_text(window) == f"Undo {name_of(strip)} fader"


def test_knobs_pan_mute_solo_and_reset_strip(qtbot, window):
    stem_id, strip, index = first(window)
    stack, name = window.remix_undo.stack, name_of(strip)
    studio = window.studio

    drag(strip.eq_low, QPoint(strip.eq_low.width() // 2, 20), -30)  # a knob drag: one step
    low = studio.document.stems[stem_id].eq_low_db
    assert low > 0 and window.engine._strip[index, dsp.P_EQ_LOW] == low
    assert stack.count() == 1 and undo_text(window) == f"Undo {name} EQ low"

    for _ in range(4):  # a wheel burst: one step
        wheel(strip.send_reverb, 1)
    assert studio.document.stems[stem_id].send_reverb > 0
    assert stack.count() == 2 and undo_text(window) == f"Undo {name} reverb send"
    wheel(strip.send_delay, 1)  # the wheel over another knob: another step
    assert stack.count() == 3 and undo_text(window) == f"Undo {name} delay send"
    undo(strip.send_delay)
    assert strip.send_delay.value() == 0.0 and stack.count() == 3

    qtbot.mouseClick(strip.mute, Qt.MouseButton.LeftButton)
    assert studio.document.stems[stem_id].mute and window.engine._mute[index]
    assert undo_text(window) == f"Undo Mute {name}"
    qtbot.mouseClick(strip.solo, Qt.MouseButton.LeftButton)
    assert undo_text(window) == f"Undo Solo {name}"
    strip.pan.setFocus()
    QTest.keyClick(strip.pan, Qt.Key.Key_Right)
    assert studio.document.stems[stem_id].pan == pytest.approx(0.01)
    assert undo_text(window) == f"Undo {name} pan"
    assert stack.count() == 5  # the delay send's undone step went when mute was pushed

    for _ in range(3):
        undo(strip.pan)
    settings = studio.document.stems[stem_id]
    assert (settings.pan, settings.mute, settings.solo) == (0.0, False, False)
    assert strip.pan.value() == 0 and not strip.mute.isChecked() and not strip.solo.isChecked()
    assert not window.engine._mute[index] and not window.engine._solo[index]
    undo(strip.pan)
    assert studio.document.stems[stem_id].send_reverb == 0.0
    assert strip.send_reverb.value() == 0.0
    assert window.engine._strip[index, dsp.P_SEND_REVERB] == 0.0
    undo(strip.pan)
    assert studio.document.stems[stem_id].eq_low_db == 0.0 and strip.eq_low.value() == 0.0
    assert window.engine._strip[index, dsp.P_EQ_LOW] == 0.0
    assert stack.index() == 0 and stack.count() == 5
    for _ in range(5):
        redo(strip.pan)
    assert studio.document.stems[stem_id].model_dump() == settings.model_dump() | {
        "pan": pytest.approx(0.01),
        "mute": True,
        "solo": True,
        "eq_low_db": low,
        "send_reverb": strip.send_reverb.value(),
    }
    assert strip.mute.isChecked() and strip.solo.isChecked() and strip.eq_low.value() == low

    # Reset strip (one key): every control back at once, one step named after the strip.
    window.selection.select(stem_id)
    QTest.keyClick(strip.pan, Qt.Key.Key_Backspace, CTRL)
    assert studio.document.stems[stem_id] == StemSettings()
    assert stack.count() == 6 and undo_text(window) == f"Undo {name} strip"
    undo(strip.pan)
    assert studio.document.stems[stem_id].mute and strip.mute.isChecked()
    assert studio.document.stems[stem_id].eq_low_db == low


def test_tempo_key_master_and_returns(qtbot, window):
    studio, stack = window.studio, window.remix_undo.stack
    controls = window.track_controls
    controls.tempo.setFocus()
    QTest.keyClick(controls.tempo, Qt.Key.Key_Right)
    assert studio.document.tempo_ratio == pytest.approx(1.01)
    assert undo_text(window) == "Undo Tempo"
    qtbot.mouseClick(controls.key_reset, Qt.MouseButton.LeftButton)  # already ±0: no step
    assert stack.count() == 1
    controls.key.stepUp()  # the spin box's arrow
    assert studio.document.key_shift == 1 and undo_text(window) == "Undo Key"
    window.menus.undo.trigger()
    assert studio.document.key_shift == 0 and controls.key.value() == 0
    assert window.engine.stretch == (pytest.approx(1.01), 0)
    window.menus.undo.trigger()
    assert studio.document.tempo_ratio == 1.0 and controls.tempo.value() == 100
    assert window.engine.stretch == (1.0, 0)
    assert controls.tempo_label.text().endswith("(1.00×)")

    master = window.mixer.master
    master.fader.setFocus()
    QTest.keyClick(master.fader, Qt.Key.Key_Down)
    assert studio.document.master_gain_db == -0.5
    assert undo_text(window) == "Undo Master fader"
    returns = window.mixer.returns
    returns.reverb_size.setFocus()
    QTest.keyClick(returns.reverb_size, Qt.Key.Key_Up)
    size = studio.document.reverb.size
    assert undo_text(window) == "Undo Reverb size"
    undo(returns.reverb_size)
    assert studio.document.reverb.size == returns.reverb_size.value() != size
    undo(returns.reverb_size)
    assert studio.document.master_gain_db == 0.0 and master.fader.value() == 0
    assert window.engine._master_db[0] == 0.0


def test_loop_and_arrangement(qtbot, window):
    studio, stack, engine = window.studio, window.remix_undo.stack, window.engine
    transport, editor = window.transport, window.arrangement
    qtbot.mouseClick(transport.loop_button, Qt.MouseButton.LeftButton)
    loop = engine.loop_seconds
    assert loop is not None and undo_text(window) == "Undo Loop on"
    undo(window)
    assert engine.loop_seconds is None and not transport.loop_button.isChecked()
    redo(window)
    assert engine.loop_seconds == loop and transport.loop_button.isChecked()

    chips = [editor.palette.itemAt(i).widget() for i in range(editor.palette.count())]
    assert len(chips) >= 2
    qtbot.mouseClick(chips[1], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(chips[0], Qt.MouseButton.LeftButton)
    assert studio.arrangement_indices() == [1, 0] and editor.indices() == [1, 0]
    assert engine.loop_seconds is None  # a new order ends the loop
    assert undo_text(window) == "Undo Arrangement" and stack.count() == 3
    undo(window)
    assert studio.arrangement_indices() == [1] and editor.indices() == [1]
    assert engine.timeline.arranged
    undo(window)
    assert studio.document.arrangement is None and editor.indices() == []
    assert not engine.timeline.arranged
    assert engine.loop_seconds == loop and transport.loop_button.isChecked()  # as it was
    undo(window)
    assert engine.loop_seconds is None
    assert stack.index() == 0 and stack.count() == 3


def run(window: MainWindow, blocks: int) -> None:
    """Advance the engine as the device callback would, with the UI timer's tick."""
    out = np.zeros((BLOCK, 2), dtype=np.float32)
    for b in range(blocks):
        window.engine.process(out)
        if b % 5 == 4:
            window._tick()


def test_automation_record_and_clear_undo_without_recording(qtbot, window):
    stem_id, strip, _ = first(window)
    studio, stack, engine = window.studio, window.remix_undo.stack, window.engine
    track = studio.track
    qtbot.waitUntil(lambda: track.ready_at(0) and track.ready_at(48000 * 3), timeout=20000)
    qtbot.mouseClick(window.transport.record_button, Qt.MouseButton.LeftButton)
    assert studio.automation_armed
    engine.play()
    run(window, 100)
    strip.fader.setFocus()
    QTest.keyClick(strip.fader, Qt.Key.Key_PageDown)  # -3 dB while recording
    run(window, 100)
    engine.pause()
    run(window, 4)
    window._tick()  # the pass is written: a step of its own
    assert (stem_id, "gain_db") in studio.automated()
    assert undo_text(window) == f"Undo Record {name_of(strip)} fader automation"
    assert stack.count() == 2

    # Undo while armed and playing records nothing.
    engine.play()
    run(window, 20)
    undo(strip.fader)
    assert studio.document.automation == [] and engine.automation is None
    undo(strip.fader)
    assert studio.document.stems[stem_id].gain_db == 0.0
    run(window, 20)
    assert not studio._passes and studio.document.automation == []
    assert stack.count() == 2
    engine.pause()
    qtbot.mouseClick(window.transport.record_button, Qt.MouseButton.LeftButton)
    redo(strip.fader)
    redo(strip.fader)
    assert (stem_id, "gain_db") in studio.automated() and engine.automation is not None
    lanes = studio.document.automation

    # Clear auto (asked first), undone: the lanes come back, in the engine too.
    qtbot.mouseClick(window.transport.clear_automation_button, Qt.MouseButton.LeftButton)
    box = window.transport_ctl.confirm_clear
    clear = next(b for b in box.buttons() if b.text() == "Clear")
    qtbot.mouseClick(clear, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.transport_ctl.confirm_clear is None, timeout=2000)
    assert studio.document.automation == [] and engine.automation is None
    assert undo_text(window) == "Undo Clear automation"
    undo(strip.fader)
    assert studio.document.automation == lanes and engine.automation is not None
    assert studio.automated() == {(stem_id, "gain_db")}


def test_another_track_or_signing_out_leaves_nothing_to_undo(qtbot, window):
    stem_id, strip, _ = first(window)
    stack = window.remix_undo.stack
    qtbot.mouseClick(strip.mute, Qt.MouseButton.LeftButton)
    assert stack.count() == 1
    first_id = window.studio.document.track_id
    qtbot.waitUntil(
        lambda: (d := window.drafts.load(first_id)) is not None and d.stems[stem_id].mute,
        timeout=3000,
    )
    other = window.catalog.list.item(1).data(Qt.ItemDataRole.UserRole)
    window.open_track(other)
    qtbot.waitUntil(
        lambda: (
            window.studio.document is not None
            and window.studio.document.track_id == other
            and len(window.mixer.strips) > 0
        ),
        timeout=30000,
    )
    assert stack.count() == 0 and undo_text(window) == "Nothing to undo"
    assert not window.menus.undo.isEnabled()
    undo(window)  # nothing happens
    assert window.studio.document.track_id == other

    # Back to the first track: its draft (muted) is restored, with nothing to undo.
    window.open_track(first_id)
    qtbot.waitUntil(
        lambda: window.studio.document is not None and window.studio.document.track_id == first_id,
        timeout=30000,
    )
    assert window.studio.document.stems[stem_id].mute
    assert stack.count() == 0
    strip = window.mixer.strips[stem_id]
    qtbot.mouseClick(strip.mute, Qt.MouseButton.LeftButton)
    assert stack.count() == 1

    with qtbot.waitSignal(window.signedOut, timeout=10000):
        window.sign_out_and_close()
    assert stack.count() == 0 and undo_text(window) == "Nothing to undo"


def test_a_restored_draft_starts_with_nothing_to_undo(qtbot, platform, tmp_path):
    client = PlatformClient(platform.url)
    client.login("fan", "encore-demo")
    track = client.track(client.tracks()[0].id)
    draft = RemixDocument(
        track_id=track.id,
        track_version=track.version,
        title="Restored",
        stems={s.id: StemSettings(gain_db=-6.0) for s in track.stems},
        automation=[
            AutomationLane(stem=track.stems[0].id, param="pan", points=[(0.0, -1.0), (4.0, 1.0)])
        ],
    )
    win, tasks = open_studio(qtbot, platform, tmp_path, draft)
    try:
        assert win.remix_undo.stack.count() == 0
        assert win.studio.document.stems[track.stems[0].id].gain_db == -6.0
        assert undo_text(win) == "Nothing to undo"
    finally:
        win.close()
        tasks.wait(5000)
