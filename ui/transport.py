"""Transport: play/pause, the position bar (click or drag to seek), the clock (the remix's time
at its tempo, with the track's position under it when the tempo is changed), the loop controls
(loop on/off, loop this section, snap to bars) and the automation record arm."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QKeySequence, QMouseEvent, QPainter, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSlider,
    QStyle,
    QStyleOptionSlider,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

PLAY, PAUSE = "▶", "❚❚"
MS = 1000
POSITION_MIN_WIDTH = 260
"""The position bar's least width: ~0.3 s per pixel on a 72 s track, enough to aim a seek."""


def format_time(seconds: float, *, tenths: bool = True) -> str:
    """m:ss.s (or m:ss without `tenths`); the clock, the catalog and the remix list all use it."""
    seconds = max(0.0, seconds)
    if not tenths:
        whole = int(seconds)
        return f"{whole // 60}:{whole % 60:02d}"
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def typing_into(widget: QWidget | None) -> bool:
    """Whether `widget` is an editable text box (a key typed there is text, not a command)."""
    if isinstance(widget, (QLineEdit, QTextEdit, QPlainTextEdit)):
        return not widget.isReadOnly()
    return False


def transport_key(window: QWidget, key: Qt.Key, act: Callable[[], None]) -> QShortcut:
    """A one-key shortcut for the whole window (Space: play/pause, L: loop, Home, M, S…) that
    never takes a key away from a text box: there the key is typed (or moves the cursor).

    The menus show these keys on their actions (ui/menus.py) and `act` triggers that action, so a
    key and a menu click run the same command; the key itself stays a QShortcut because only
    here can it step aside for a text box.

    Qt offers a focused widget the key first (ShortcutOverride) and Qt's text boxes claim plain
    printable keys, so the shortcut does not even fire there; should one not claim it (a custom
    editor), the handler hands the key on to it instead of acting."""
    # The character a plain press types (" ", "l"); none for Home and the like.
    text = chr(key.value).lower() if key.value < 0x110000 else ""

    def activated() -> None:
        focus = QApplication.focusWidget()
        if typing_into(focus):
            for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
                QApplication.sendEvent(
                    focus, QKeyEvent(kind, key, Qt.KeyboardModifier.NoModifier, text)
                )
        else:
            act()

    shortcut = QShortcut(QKeySequence(key), window)
    shortcut.activated.connect(activated)
    return shortcut


class PositionBar(QSlider):
    """The position slider with the loop region painted over its groove.

    A left click anywhere on the groove puts the handle's centre under the pointer and grabs it,
    so the click seeks exactly there on release (`sliderReleased`) and a drag carries on from it;
    a QSlider alone would page by `pageStep` towards the click instead."""

    def __init__(self) -> None:
        super().__init__(Qt.Orientation.Horizontal)
        self._loop: tuple[float, float] | None = None  # fractions of the range

    def _option(self) -> QStyleOptionSlider:
        opt = QStyleOptionSlider()
        self.initStyleOption(opt)
        return opt

    def _rect(self, part: QStyle.SubControl) -> QRect:
        cc = QStyle.ComplexControl.CC_Slider
        return self.style().subControlRect(cc, self._option(), part, self)

    def value_at(self, x: float) -> int:
        """The value whose handle centre is at `x` (widget pixels), as QSlider maps a drag."""
        groove = self._rect(QStyle.SubControl.SC_SliderGroove)
        handle = self._rect(QStyle.SubControl.SC_SliderHandle)
        span = groove.width() - handle.width()
        pos = round(x - handle.width() / 2 - groove.x())
        return QStyle.sliderValueFromPosition(
            self.minimum(), self.maximum(), pos, max(span, 1), self._option().upsideDown
        )

    def mousePressEvent(self, event: QMouseEvent) -> None:
        handle = self._rect(QStyle.SubControl.SC_SliderHandle)
        if (
            event.button() == Qt.MouseButton.LeftButton
            and self.maximum() > self.minimum()
            and not handle.contains(event.position().toPoint())
        ):
            # Jump, then press the handle where it now is: QSlider grabs it (a drag carries on
            # from the pointer) and seeks on release, wherever on the bar the click was.
            self.setSliderPosition(self.value_at(event.position().x()))
            center = QPointF(self._rect(QStyle.SubControl.SC_SliderHandle).center())
            event = QMouseEvent(
                event.type(),
                center,
                QPointF(self.mapToGlobal(center)),
                event.button(),
                event.buttons(),
                event.modifiers(),
            )
        super().mousePressEvent(event)

    def set_loop(self, loop: tuple[float, float] | None) -> None:
        self._loop = loop
        self.update()

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self._loop is None:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width(), self.height()
        x0, x1 = self._loop[0] * w, self._loop[1] * w
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(124, 156, 255, 60))
        painter.drawRoundedRect(QRectF(x0, 2, max(2.0, x1 - x0), h - 4), 4, 4)
        painter.setBrush(QColor(124, 156, 255, 220))
        painter.drawRect(QRectF(x0, 2, 2, h - 4))
        painter.drawRect(QRectF(x1 - 2, 2, 2, h - 4))


class TransportBar(QWidget):
    playToggled = Signal()
    seekRequested = Signal(float)
    loopToggled = Signal(bool)
    """On: loop the current section (or the last loop); off: play on."""
    loopSectionRequested = Signal()
    snapToggled = Signal(bool)
    recordToggled = Signal(bool)
    clearAutomationRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.play_button = QPushButton(PLAY)
        self.play_button.setObjectName("playButton")
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.play_button.setFixedSize(44, 44)
        self.play_button.setAccessibleName("Play")  # the glyph says nothing to a screen reader
        self.position = PositionBar()
        self.position.setRange(0, 0)
        self.position.setAccessibleName("Position")
        self.position.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.position.setMinimumWidth(POSITION_MIN_WIDTH)
        self.clock = QLabel(format_time(0))
        self.clock.setObjectName("timeLabel")
        self.clock.setToolTip("Time in your remix, at its tempo / the remix's length")
        self.clock.setAccessibleName("Time")
        # At a changed tempo the clock counts the remix's time; this says where that is in the
        # artist's track (the position bar, the sections and the loop stay in track time).
        self.track_clock = QLabel("")
        self.track_clock.setObjectName("hint")
        self.track_clock.setToolTip("Position in the original track, at its own tempo")
        self.track_clock.setStyleSheet("QLabel { font-size: 8pt; }")  # smaller than the clock
        self.track_clock.setVisible(False)
        self.section = QLabel("")
        self.section.setObjectName("trackMeta")
        self.section.setMinimumWidth(70)
        self.section.setAccessibleName("Section")
        self.loop_button = self._toggle("⟲  Loop", "loopButton", "Loop on/off (L)")
        self.loop_section_button = QPushButton("Loop section")
        self.loop_section_button.setObjectName("transportButton")
        self.loop_section_button.setToolTip("Loop the section under the playhead")
        self.loop_section_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.snap_button = self._toggle("Snap", "snapButton", "Snap loop ends to bar lines")
        self.snap_button.setChecked(True)
        self.loop_button.setAccessibleName("Loop")
        self.snap_button.setAccessibleName("Snap loop to bars")
        self.record_button = self._toggle(
            "●  Auto",
            "recordButton",
            "Arm automation: fader, pan, mute and send moves made while playing are recorded "
            "into the remix (a moved control writes until playback stops)",
        )
        self.record_button.setAccessibleName("Arm automation recording")
        self.record_button.setStyleSheet(
            "QPushButton#recordButton:checked { background: #d0342c; color: white; }"
        )
        self.clear_automation_button = QPushButton("Clear auto")
        self.clear_automation_button.setObjectName("transportButton")
        self.clear_automation_button.setToolTip(
            "Delete every recorded move: the controls' own settings play again"
        )
        self.clear_automation_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._duration = 0.0
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(12)
        layout.addWidget(self.play_button)
        # The section's name and the track's own time sit under the clock, not beside the bar:
        # at 1280 px the position bar needs that width more (a longer bar seeks finer).
        under = QHBoxLayout()
        under.setContentsMargins(0, 0, 0, 0)
        under.setSpacing(8)
        under.addWidget(self.section)
        under.addWidget(self.track_clock)
        under.addStretch(1)
        clocks = QVBoxLayout()
        clocks.setContentsMargins(0, 0, 0, 0)
        clocks.setSpacing(0)
        clocks.addStretch(1)
        clocks.addWidget(self.clock)
        clocks.addLayout(under)
        clocks.addStretch(1)
        layout.addLayout(clocks)
        layout.addWidget(self.position, 1)
        layout.addSpacing(4)
        layout.addWidget(self.loop_button)
        layout.addWidget(self.loop_section_button)
        layout.addWidget(self.snap_button)
        layout.addSpacing(4)
        layout.addWidget(self.record_button)
        layout.addWidget(self.clear_automation_button)
        self.clear_automation_button.clicked.connect(self.clearAutomationRequested)
        self.play_button.clicked.connect(self.playToggled)
        self.loop_button.toggled.connect(self.loopToggled)
        self.loop_section_button.clicked.connect(self.loopSectionRequested)
        self.snap_button.toggled.connect(self.snapToggled)
        self.record_button.toggled.connect(self.recordToggled)
        self.position.sliderReleased.connect(
            lambda: self.seekRequested.emit(self.position.value() / MS)
        )
        self.set_enabled(False)

    @staticmethod
    def _toggle(text: str, name: str, tip: str) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.setCheckable(True)
        button.setToolTip(tip)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        return button

    def set_enabled(self, on: bool) -> None:
        for widget in (
            self.play_button,
            self.position,
            self.loop_button,
            self.loop_section_button,
            self.snap_button,
            self.record_button,
            self.clear_automation_button,
        ):
            widget.setEnabled(on)

    def show_loop(self, loop: tuple[float, float] | None) -> None:
        """Reflect the engine's loop (seconds of the piece) without re-emitting loopToggled."""
        self.loop_button.blockSignals(True)
        self.loop_button.setChecked(loop is not None)
        self.loop_button.blockSignals(False)
        if loop is None or self._duration <= 0:
            self.position.set_loop(None)
        else:
            self.position.set_loop((loop[0] / self._duration, loop[1] / self._duration))

    def set_duration(self, seconds: float) -> None:
        self._duration = seconds
        self.position.setRange(0, int(seconds * MS))
        self.position.setPageStep(int(10 * MS))

    def show_state(
        self, position: float, playing: bool, section: str = "", tempo_ratio: float = 1.0
    ) -> None:
        """`position` in seconds of the arranged track at its original tempo (the engine's
        time); the clock shows the remix's time, `position / tempo_ratio`."""
        self.play_button.setText(PAUSE if playing else PLAY)
        if self.play_button.accessibleName() != (name := "Pause" if playing else "Play"):
            self.play_button.setAccessibleName(name)  # only on change: 30 Hz would spam readers
        if not self.position.isSliderDown():
            self.position.setValue(int(position * MS))
        ratio = tempo_ratio if tempo_ratio > 0 else 1.0
        self.clock.setText(
            f"{format_time(position / ratio)} / {format_time(self._duration / ratio)}"
        )
        changed = abs(ratio - 1.0) > 1e-6
        self.track_clock.setText(f"track {format_time(position, tenths=False)}" if changed else "")
        self.track_clock.setVisible(changed)
        self.section.setText(section)
