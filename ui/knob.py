"""A small rotary knob for the channel strip: EQ, filters, sends and the effect buses.

Why a custom widget: QDial is large, draws a platform-specific notch ring, and maps the mouse to an
angle (you grab the knob and spin it), which is fiddly at 30 px. Studio knobs drag *vertically*,
show their value while they move, return to their default on a double-click, and can be logarithmic
(frequencies). The knob keeps its value as a position in [0, 1] and maps it through its scale.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QKeyEvent, QMouseEvent, QPainter, QPen, QWheelEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

ACCENT = "#ff5c8a"
TRACK = "#2e2f3d"
TEXT = "#9a9bb0"
DISABLED_OPACITY = 0.4  # a resting knob: visibly not in play, still readable
START_DEG = 225.0  # 7:30 o'clock; the arc sweeps clockwise to 4:30
SWEEP_DEG = 270.0
DRAG_PIXELS = 180.0  # a full sweep takes this much vertical mouse travel (10x with Shift)
WHEEL_STEP = 1.0 / 50.0  # one wheel notch
KEY_STEP = 1.0 / 100.0
PAGE_STEP = 1.0 / 10.0


class Knob(QWidget):
    """A value in [minimum, maximum] on a linear or logarithmic scale, optionally snapped to
    `steps`. `valueChanged` fires for every change a person makes (and for `setValue` unless
    `emit=False`, which the strip uses to show a restored draft without re-sending it)."""

    valueChanged = Signal(float)

    def __init__(
        self,
        label: str,
        minimum: float,
        maximum: float,
        default: float,
        *,
        log: bool = False,
        steps: Sequence[float] | None = None,
        fmt: Callable[[float], str] = lambda v: f"{v:.2f}",
        bipolar: bool = False,
        accessible_name: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        if not minimum < maximum or (log and minimum <= 0):
            raise ValueError(f"bad knob range {minimum}..{maximum} (log={log})")
        self.label = label
        self.minimum, self.maximum, self.default = float(minimum), float(maximum), float(default)
        self.log = log
        self.steps = sorted(float(s) for s in steps) if steps else None
        self.fmt = fmt
        self.bipolar = bipolar  # the value arc starts at the default (EQ gain), not at the minimum
        self._value = self._clamp(default)
        self._drag_y: float | None = None
        self._drag_pos = 0.0
        self.setObjectName("knob")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setCursor(Qt.CursorShape.SizeVerCursor)
        self.setAccessibleName(accessible_name or label)
        self._refresh_text()

    # -- value and scale --------------------------------------------------------------------------

    def value(self) -> float:
        return self._value

    def setValue(self, value: float, emit: bool = True) -> None:
        value = self._clamp(value)
        if value == self._value:
            return
        self._value = value
        self._refresh_text()
        self.update()
        if emit:
            self.valueChanged.emit(value)

    def reset(self) -> None:
        """Back to the default, as a double-click does."""
        self.setValue(self.default)

    def position(self) -> float:
        """The value as a fraction of the knob's travel, in [0, 1]."""
        return self._to_position(self._value)

    def set_position(self, position: float) -> None:
        self.setValue(self._from_position(min(1.0, max(0.0, position))))

    def _clamp(self, value: float) -> float:
        value = min(self.maximum, max(self.minimum, float(value)))
        if self.steps:
            p = self._to_position(value)
            value = min(self.steps, key=lambda s: abs(self._to_position(s) - p))
        return value

    def _to_position(self, value: float) -> float:
        if self.log:
            return math.log(value / self.minimum) / math.log(self.maximum / self.minimum)
        return (value - self.minimum) / (self.maximum - self.minimum)

    def _from_position(self, position: float) -> float:
        if self.log:
            raw = self.minimum * (self.maximum / self.minimum) ** position
        else:
            raw = self.minimum + position * (self.maximum - self.minimum)
        # Land exactly on the ends (and the default), whatever the float round trip does.
        for exact in (self.minimum, self.maximum, self.default):
            if abs(raw - exact) <= 1e-9 * max(1.0, abs(exact)):
                return exact
        return raw

    def turn(self, ticks: int) -> None:
        """Turn by `ticks` detents (an encoder on a MIDI controller; negative: down), as the
        arrow keys do: a hundredth of the travel each, or one of `steps` each."""
        if ticks:
            self._step(ticks * KEY_STEP, abs(ticks))

    def _step(self, delta: float, count: int = 1) -> None:
        """Move by `delta` of the travel; with `steps`, `count` steps in that direction."""
        if self.steps and delta:
            i = self.steps.index(self._value) if self._value in self.steps else 0
            i = min(len(self.steps) - 1, max(0, i + (count if delta > 0 else -count)))
            self.setValue(self.steps[i])
        else:
            self.set_position(self.position() + delta)

    def text(self) -> str:
        return self.fmt(self._value)

    def _refresh_text(self) -> None:
        self.setToolTip(f"{self.accessibleName()}: {self.text()} (double-click to reset)")
        self.setAccessibleDescription(self.text())

    # -- input ------------------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._drag_y = event.position().y()
            self._drag_pos = self.position()
            self.update()
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag_y is None:
            return
        fine = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        travel = DRAG_PIXELS * (10.0 if fine else 1.0)
        self.set_position(self._drag_pos + (self._drag_y - event.position().y()) / travel)
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._drag_y = None
        self.update()
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.reset()
        event.accept()

    def wheelEvent(self, event: QWheelEvent) -> None:
        notches = event.angleDelta().y() / 120.0
        if notches:
            self._step(notches * WHEEL_STEP, max(1, round(abs(notches))))
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        moves = {
            Qt.Key.Key_Up: KEY_STEP,
            Qt.Key.Key_Right: KEY_STEP,
            Qt.Key.Key_Down: -KEY_STEP,
            Qt.Key.Key_Left: -KEY_STEP,
            Qt.Key.Key_PageUp: PAGE_STEP,
            Qt.Key.Key_PageDown: -PAGE_STEP,
        }
        if key in moves:
            self._step(moves[key])
        elif key == Qt.Key.Key_Home:
            self.setValue(self.minimum)
        elif key == Qt.Key.Key_End:
            self.setValue(self.maximum)
        elif key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace, Qt.Key.Key_0):
            self.reset()
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    # -- painting ---------------------------------------------------------------------------------

    def sizeHint(self) -> QSize:
        return QSize(32, 46)

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()

    def paintEvent(self, _event: object) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        if not self.isEnabled():
            p.setOpacity(DISABLED_OPACITY)  # resting (e.g. while another remix is heard)
        w = self.width()
        label_h = 13
        d = min(w, self.height() - label_h) - 4
        dial = QRectF((w - d) / 2, 2, d, d)
        active = self._drag_y is not None or self.hasFocus()

        track = QPen(QColor(TRACK), 3.2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
        p.setPen(track)
        p.drawArc(dial, int(START_DEG * 16), int(-SWEEP_DEG * 16))

        pos = self.position()
        origin = self._to_position(self.default) if self.bipolar else 0.0
        start = START_DEG - origin * SWEEP_DEG
        span = -(pos - origin) * SWEEP_DEG
        accent = QColor(ACCENT)
        if abs(span) > 0.5:
            p.setPen(QPen(accent, 3.2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
            p.drawArc(dial, int(start * 16), int(span * 16))

        # The cap and its pointer.
        inner = dial.adjusted(d * 0.22, d * 0.22, -d * 0.22, -d * 0.22)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor("#30313f") if active else QColor("#262733"))
        p.drawEllipse(inner)
        angle = math.radians(START_DEG - pos * SWEEP_DEG)
        c = dial.center()
        r0, r1 = inner.width() * 0.12, inner.width() * 0.5
        tip = QPointF(c.x() + r1 * math.cos(angle), c.y() - r1 * math.sin(angle))
        base = QPointF(c.x() + r0 * math.cos(angle), c.y() - r0 * math.sin(angle))
        p.setPen(QPen(QColor("#e6e6ef"), 1.8, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        p.drawLine(base, tip)

        # The label, or the value while it is being turned.
        font = QFont(self.font())
        font.setPointSizeF(6.5)
        font.setBold(active)
        p.setFont(font)
        p.setPen(QColor("#e6e6ef") if active else QColor(TEXT))
        text = self._short_value() if self._drag_y is not None else self.label
        p.drawText(
            QRectF(-6, self.height() - label_h, w + 12, label_h),
            Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter,
            text,
        )
        p.end()

    def _short_value(self) -> str:
        return self.text().replace(" dB", "").replace(" Hz", "").replace(" kHz", "k")
