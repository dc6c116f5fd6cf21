"""The mixer: one strip per stem (fader in dB, pan, mute, solo, meter) and the master strip."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.contract import StemInfo, StemSettings
from ui.meter import LevelMeter

FADER_MIN_DB = -60.0  # the bottom of the fader is silence
FADER_MAX_DB = 6.0
SILENT_DB = -96.0
MASTER_MIN_DB = -24.0  # the recipe's master range
STEPS_PER_DB = 10

KIND_COLORS = {
    "drums": "#ff8a5c",
    "bass": "#5cc8ff",
    "keys": "#b08cff",
    "lead": "#ff5c8a",
    "vocals": "#ffc857",
    "fx": "#5cffb1",
    "other": "#9a9bb0",
}


def slider_to_db(value: int) -> float:
    db = value / STEPS_PER_DB
    return SILENT_DB if db <= FADER_MIN_DB else db


def db_to_slider(db: float) -> int:
    return round(max(FADER_MIN_DB, min(FADER_MAX_DB, db)) * STEPS_PER_DB)


def format_db(db: float) -> str:
    return "−∞ dB" if db <= FADER_MIN_DB else f"{db:+.1f} dB"


class Fader(QSlider):
    """A vertical dB fader; double-click returns it to 0 dB, as on every console."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Vertical, parent)
        self.setRange(db_to_slider(FADER_MIN_DB), db_to_slider(FADER_MAX_DB))
        self.setSingleStep(5)
        self.setPageStep(30)
        self.setValue(0)
        self.setMinimumHeight(150)

    def mouseDoubleClickEvent(self, _event: object) -> None:
        self.setValue(0)


class StemStrip(QWidget):
    gainChanged = Signal(str, float)
    panChanged = Signal(str, float)
    muteToggled = Signal(str, bool)
    soloToggled = Signal(str, bool)

    def __init__(
        self,
        info: StemInfo,
        settings: StemSettings,
        *,
        solo_allowed: bool = True,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.stem_id = info.id
        self.setObjectName("strip")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setFixedWidth(112)
        color = KIND_COLORS.get(info.kind.value, KIND_COLORS["other"])

        band = QWidget()
        band.setFixedHeight(4)
        band.setStyleSheet(f"background: {color}; border-radius: 2px;")
        self.name = QLabel(info.name)
        self.name.setObjectName("stemName")
        self.name.setAlignment(Qt.AlignmentFlag.AlignCenter)
        kind = QLabel(info.kind.value.upper())
        kind.setObjectName("sectionTitle")
        kind.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.pan = QSlider(Qt.Orientation.Horizontal)
        self.pan.setRange(-100, 100)
        self.pan.setValue(round(settings.pan * 100))
        self.pan.setToolTip("Pan (double-click the fader to reset gain)")
        self.pan.setAccessibleName(f"{info.name} pan")

        self.fader = Fader()
        self.fader.setValue(db_to_slider(settings.gain_db))
        self.fader.setAccessibleName(f"{info.name} gain")
        self.meter = LevelMeter(channels=1)
        faders = QHBoxLayout()
        faders.addStretch(1)
        faders.addWidget(self.fader)
        faders.addSpacing(6)
        faders.addWidget(self.meter)
        faders.addStretch(1)

        self.loading = QProgressBar()
        self.loading.setRange(0, 1000)
        self.loading.setTextVisible(False)
        self.loading.setFixedHeight(4)
        self.loading.setAccessibleName(f"{info.name} streaming progress")
        self.db_label = QLabel(format_db(settings.gain_db))
        self.db_label.setObjectName("dbLabel")
        self.db_label.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.mute = QPushButton("M")
        self.mute.setObjectName("muteButton")
        self.mute.setCheckable(True)
        self.mute.setChecked(settings.mute)
        self.mute.setToolTip("Mute")
        self.solo = QPushButton("S")
        self.solo.setObjectName("soloButton")
        self.solo.setCheckable(True)
        self.solo.setChecked(settings.solo)
        self.solo.setEnabled(solo_allowed)
        self.solo.setToolTip(
            "Solo" if solo_allowed else "The artist does not allow soloing this stem"
        )
        buttons = QHBoxLayout()
        buttons.addWidget(self.mute)
        buttons.addWidget(self.solo)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        layout.addWidget(band)
        layout.addWidget(self.name)
        layout.addWidget(kind)
        layout.addWidget(self.loading)
        layout.addWidget(self.pan)
        layout.addLayout(faders, 1)
        layout.addWidget(self.db_label)
        layout.addLayout(buttons)

        self.fader.valueChanged.connect(self._on_fader)
        self.pan.valueChanged.connect(lambda v: self.panChanged.emit(self.stem_id, v / 100.0))
        self.mute.toggled.connect(lambda on: self.muteToggled.emit(self.stem_id, on))
        self.solo.toggled.connect(self._on_solo)
        self._on_solo(settings.solo, emit=False)

    def show_loading(self, fraction: float, problem: str | None = None) -> None:
        """Streaming progress of this stem; the bar hides once the whole stem is in."""
        self.loading.setValue(int(fraction * 1000))
        self.loading.setVisible(fraction < 1.0 or problem is not None)
        self.loading.setToolTip(problem or f"Streaming: {fraction:.0%}")

    def _on_fader(self, value: int) -> None:
        db = slider_to_db(value)
        self.db_label.setText(format_db(db))
        self.gainChanged.emit(self.stem_id, db)

    def _on_solo(self, on: bool, emit: bool = True) -> None:
        self.setProperty("soloed", on)
        self.style().unpolish(self)
        self.style().polish(self)
        if emit:
            self.soloToggled.emit(self.stem_id, on)


class MasterStrip(QWidget):
    gainChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("strip")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setFixedWidth(112)
        title = QLabel("Master")
        title.setObjectName("stemName")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.fader = Fader()
        self.fader.setRange(round(MASTER_MIN_DB * STEPS_PER_DB), db_to_slider(FADER_MAX_DB))
        self.fader.setAccessibleName("Master gain")
        self.meter = LevelMeter(channels=2)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.fader)
        row.addSpacing(6)
        row.addWidget(self.meter)
        row.addStretch(1)
        self.db_label = QLabel(format_db(0.0))
        self.db_label.setObjectName("dbLabel")
        self.db_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        band = QWidget()
        band.setFixedHeight(4)
        band.setStyleSheet("background: #e6e6ef; border-radius: 2px;")
        layout.addWidget(band)
        layout.addWidget(title)
        layout.addSpacing(34)
        layout.addLayout(row, 1)
        layout.addWidget(self.db_label)
        layout.addSpacing(30)
        self.fader.valueChanged.connect(self._on_fader)

    def _on_fader(self, value: int) -> None:
        db = value / STEPS_PER_DB
        self.db_label.setText(f"{db:+.1f} dB")
        self.gainChanged.emit(db)


class MixerPanel(QWidget):
    """Strips side by side; rebuilt when a track opens."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mixerPanel")
        self.strips: dict[str, StemStrip] = {}
        self.master = MasterStrip()
        self._row = QHBoxLayout(self)
        self._row.setContentsMargins(0, 0, 0, 0)
        self._row.setSpacing(10)
        self._row.addStretch(1)
        self._row.addWidget(self.master)

    def set_stems(
        self, stems: list[StemInfo], settings: dict[str, StemSettings], solo_forbidden: set[str]
    ) -> list[StemStrip]:
        for strip in self.strips.values():
            strip.setParent(None)
            strip.deleteLater()
        self.strips = {}
        for i, info in enumerate(stems):
            strip = StemStrip(
                info,
                settings.get(info.id, StemSettings()),
                solo_allowed=info.id not in solo_forbidden,
            )
            self._row.insertWidget(i, strip)
            self.strips[info.id] = strip
        return list(self.strips.values())
