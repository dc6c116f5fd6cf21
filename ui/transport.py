"""Transport: play/pause, the position bar (click or drag to seek) and the clock."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QWidget

PLAY, PAUSE = "▶", "❚❚"
MS = 1000


def format_time(seconds: float) -> str:
    seconds = max(0.0, seconds)
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


class TransportBar(QWidget):
    playToggled = Signal()
    seekRequested = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.play_button = QPushButton(PLAY)
        self.play_button.setObjectName("playButton")
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.play_button.setFixedSize(44, 44)
        self.position = QSlider(Qt.Orientation.Horizontal)
        self.position.setRange(0, 0)
        self.position.setAccessibleName("Position")
        self.position.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.clock = QLabel(format_time(0))
        self.clock.setObjectName("timeLabel")
        self.section = QLabel("")
        self.section.setObjectName("trackMeta")
        self.section.setMinimumWidth(90)
        self._duration = 0.0
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(12)
        layout.addWidget(self.play_button)
        layout.addWidget(self.clock)
        layout.addWidget(self.position, 1)
        layout.addWidget(self.section)
        self.play_button.clicked.connect(self.playToggled)
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

    def set_enabled(self, on: bool) -> None:
        self.play_button.setEnabled(on)
        self.position.setEnabled(on)

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
