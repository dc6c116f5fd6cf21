"""The strip knob (ui/knob.py) as a person uses it: drag, wheel, keys, double-click."""

from __future__ import annotations

import math

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from core.wording import format_db, format_hz
from ui.knob import DRAG_PIXELS, Knob
from ui.mixer import DELAY_BEATS, format_beats, format_hp, format_lp

pytestmark = pytest.mark.ui

LEFT = Qt.MouseButton.LeftButton
NONE = Qt.KeyboardModifier.NoModifier


def mouse(knob: Knob, kind: QEvent.Type, y: float, modifiers=NONE) -> None:
    pos = QPointF(16, y)
    buttons = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseButtonRelease else LEFT
    event = QMouseEvent(kind, pos, knob.mapToGlobal(pos), LEFT, buttons, modifiers)
    QApplication.sendEvent(knob, event)


def drag(knob: Knob, dy: float, modifiers=NONE) -> None:
    """Press, move up by `dy` pixels (down if negative), release."""
    mouse(knob, QEvent.Type.MouseButtonPress, 20)
    mouse(knob, QEvent.Type.MouseMove, 20 - dy, modifiers)
    mouse(knob, QEvent.Type.MouseButtonRelease, 20 - dy)


def wheel(knob: Knob, notches: int) -> None:
    pos = QPointF(16, 20)
    event = QWheelEvent(
        pos, knob.mapToGlobal(pos), QPoint(), QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton, NONE, Qt.ScrollPhase.NoScrollPhase, False,
    )  # fmt: skip
    QApplication.sendEvent(knob, event)


@pytest.fixture
def eq(qtbot) -> Knob:
    knob = Knob("LOW", -24.0, 24.0, 0.0, fmt=format_db, bipolar=True, accessible_name="Bass EQ")
    qtbot.addWidget(knob)
    knob.show()
    return knob


def test_vertical_drag_turns_and_double_click_resets(qtbot, eq):
    seen: list[float] = []
    eq.valueChanged.connect(seen.append)
    drag(eq, DRAG_PIXELS / 4)  # a quarter of the travel up: +12 dB
    assert eq.value() == pytest.approx(12.0)
    assert seen[-1] == pytest.approx(12.0)
    drag(eq, -DRAG_PIXELS)  # far past the bottom: clamps
    assert eq.value() == -24.0
    drag(eq, DRAG_PIXELS / 4, Qt.KeyboardModifier.ShiftModifier)  # fine: a tenth as fast
    assert eq.value() == pytest.approx(-24.0 + 1.2)
    qtbot.mouseDClick(eq, LEFT)
    assert eq.value() == 0.0 and seen[-1] == 0.0


def test_wheel_and_keyboard(qtbot, eq):
    wheel(eq, 5)  # 5 notches of 1/50 of 48 dB
    assert eq.value() == pytest.approx(4.8)
    eq.setFocus()
    qtbot.keyClick(eq, Qt.Key.Key_Down)
    assert eq.value() == pytest.approx(4.32)
    qtbot.keyClick(eq, Qt.Key.Key_PageUp)
    assert eq.value() == pytest.approx(9.12)
    qtbot.keyClick(eq, Qt.Key.Key_Home)
    assert eq.value() == -24.0
    qtbot.keyClick(eq, Qt.Key.Key_End)
    assert eq.value() == 24.0
    qtbot.keyClick(eq, Qt.Key.Key_Delete)
    assert eq.value() == 0.0


def test_tooltip_and_accessibility_say_the_value(eq):
    eq.setValue(-6.0)
    assert eq.accessibleName() == "Bass EQ"
    assert eq.accessibleDescription() == "-6.0 dB"
    assert eq.toolTip() == "Bass EQ: -6.0 dB (double-click to reset)"


def test_set_value_without_emit_is_silent(eq):
    seen: list[float] = []
    eq.valueChanged.connect(seen.append)
    eq.setValue(3.0, emit=False)
    assert eq.value() == 3.0 and seen == []


def test_log_frequency_knob(qtbot):
    hp = Knob("HPF", 20.0, 20000.0, 20.0, log=True, fmt=format_hp)
    qtbot.addWidget(hp)
    hp.set_position(0.5)  # the geometric middle of 20 Hz .. 20 kHz
    assert hp.value() == pytest.approx(math.sqrt(20.0 * 20000.0))
    assert hp.text() == "632 Hz"
    hp.set_position(1.0)
    assert hp.value() == 20000.0 and hp.text() == "20.0 kHz"
    hp.reset()
    assert hp.value() == 20.0 and hp.text() == "Off"
    assert format_lp(20000.0) == "Off" and format_hz(1500.0) == "1.5 kHz"


def test_stepped_knob_snaps_to_musical_delay_times(qtbot):
    knob = Knob(
        "TIME", DELAY_BEATS[0], DELAY_BEATS[-1], 0.75, log=True, steps=DELAY_BEATS,
        fmt=format_beats,
    )  # fmt: skip
    qtbot.addWidget(knob)
    knob.setValue(0.8)
    assert knob.value() == 0.75 and knob.text() == "3/4 beat"
    wheel(knob, 1)  # one notch = the next musical value, not 1/50 of the travel
    assert knob.value() == 1.0 and knob.text() == "1 beat"
    wheel(knob, -3)
    assert knob.value() == 0.375 and knob.text() == "3/8 beat"
    knob.setValue(100.0)
    assert knob.value() == 4.0 and knob.text() == "4 beats"


def test_bad_range_is_refused():
    with pytest.raises(ValueError):
        Knob("x", 0.0, 1.0, 0.5, log=True)
