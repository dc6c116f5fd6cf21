"""Transport: play/pause, the position bar (click or drag to seek), the clock, the loop controls
(loop on/off, loop this section, snap to bars) and the automation record arm."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QWidget

PLAY, PAUSE = "▶", "❚❚"
MS = 1000


def format_time(seconds: float) -> str:
    seconds = max(0.0, seconds)
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


class PositionBar(QSlider):
    """The position slider with the loop region painted over its groove."""

    def __init__(self) -> None:
        super().__init__(Qt.Orientation.Horizontal)
        self._loop: tuple[float, float] | None = None  # fractions of the range

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
        self.position = PositionBar()
        self.position.setRange(0, 0)
        self.position.setAccessibleName("Position")
        self.position.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.clock = QLabel(format_time(0))
        self.clock.setObjectName("timeLabel")
        self.section = QLabel("")
        self.section.setObjectName("trackMeta")
        self.section.setMinimumWidth(90)
        self.loop_button = self._toggle("⟲  Loop", "loopButton", "Loop on/off (L)")
        self.loop_section_button = QPushButton("Loop section")
        self.loop_section_button.setObjectName("transportButton")
        self.loop_section_button.setToolTip("Loop the section under the playhead")
        self.loop_section_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.snap_button = self._toggle("Snap", "snapButton", "Snap loop ends to bar lines")
        self.snap_button.setChecked(True)
        self.record_button = self._toggle(
            "●  Auto",
            "recordButton",
            "Arm automation: fader, pan, mute and send moves made while playing are recorded "
            "into the remix (a moved control writes until playback stops)",
        )
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
        layout.addWidget(self.clock)
        layout.addWidget(self.position, 1)
        layout.addWidget(self.section)
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
        self.position.actionTriggered.connect(self._on_action)
        self.set_enabled(False)

    def _on_action(self, action: int) -> None:
        # A click on the groove (page step) seeks too, not only a drag of the handle.
        if action in (
            QSlider.SliderAction.SliderPageStepAdd,
            QSlider.SliderAction.SliderPageStepSub,
        ):
            self.seekRequested.emit(self.position.sliderPosition() / MS)

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

    def show_state(self, position: float, playing: bool, section: str = "") -> None:
        self.play_button.setText(PAUSE if playing else PLAY)
        if not self.position.isSliderDown():
            self.position.setValue(int(position * MS))
        self.clock.setText(f"{format_time(position)} / {format_time(self._duration)}")
        self.section.setText(section)
