"""The mixer: one strip per stem (EQ, filters, sends, pan, fader in dB, mute, solo, meter), the
effect-return strip (reverb and delay buses) and the master strip."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSlider,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from core.contract import DelaySettings, ReverbSettings, StemInfo, StemSettings
from core.wording import format_db, format_hz, format_percent
from ui.elide import ElidedLabel
from ui.knob import Knob
from ui.meter import LevelMeter

FADER_MIN_DB = -60.0  # the bottom of the fader is silence
FADER_MAX_DB = 6.0
SILENT_DB = -96.0
MASTER_MIN_DB = -24.0  # the recipe's master range
STEPS_PER_DB = 10
STRIP_SPACING = 10
FADER_MIN_HEIGHT = 72

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


def format_fader_db(db: float) -> str:
    return "−∞ dB" if db <= FADER_MIN_DB else f"{db:+.1f} dB"


def format_hp(hz: float) -> str:
    return "Off" if hz <= 20.0 else format_hz(hz)


def format_lp(hz: float) -> str:
    return "Off" if hz >= 20000.0 else format_hz(hz)


DELAY_BEATS = (1 / 16, 1 / 8, 3 / 16, 1 / 4, 3 / 8, 1 / 2, 3 / 4, 1.0, 1.5, 2.0, 3.0, 4.0)
"""Musical delay times in beats (the bus is tempo-synced): the delay-time knob snaps to these."""
_FRACTIONS = {1 / 16: "1/16", 1 / 8: "1/8", 3 / 16: "3/16", 1 / 4: "1/4", 3 / 8: "3/8"}
_FRACTIONS |= {1 / 2: "1/2", 3 / 4: "3/4"}


def format_beats(beats: float) -> str:
    if beats in _FRACTIONS:
        return f"{_FRACTIONS[beats]} beat"
    return f"{beats:g} beat" + ("" if beats == 1.0 else "s")


def knob_grid(rows: list[list[Knob]], title: str | None = None) -> QWidget:
    """Knobs in centred rows, under an optional tiny title: the strip's compact FX section."""
    box = QWidget()
    box.setObjectName("knobPanel")
    box.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 4, 0, 3)
    layout.setSpacing(2)
    if title:
        label = QLabel(title)
        label.setObjectName("knobTitle")
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(label)
    grid = QGridLayout()
    grid.setContentsMargins(0, 0, 0, 0)
    grid.setHorizontalSpacing(0)
    grid.setVerticalSpacing(2)
    for r, row in enumerate(rows):
        # Six columns: three knobs take two each, two knobs sit centred on columns 1-2, 3-4.
        offset = 1 if len(row) == 2 else 0
        for c, knob in enumerate(row):
            grid.addWidget(knob, r, offset + 2 * c, 1, 2, Qt.AlignmentFlag.AlignCenter)
    layout.addLayout(grid)
    return box


class Fader(QSlider):
    """A vertical dB fader; double-click returns it to 0 dB, as on every console."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Vertical, parent)
        self.setRange(db_to_slider(FADER_MIN_DB), db_to_slider(FADER_MAX_DB))
        self.setSingleStep(5)
        self.setPageStep(30)
        self.setValue(0)
        # Short enough for the whole strip to fit a 1280×720 window (knobs above need the room);
        # a taller window gives the fader the rest.
        self.setMinimumHeight(FADER_MIN_HEIGHT)

    def mouseDoubleClickEvent(self, _event: object) -> None:
        self.setValue(0)


class StemStrip(QWidget):
    """One stem's channel strip. Signals carry the stem id and map 1:1 onto `Studio` setters
    (`set_gain_db`, `set_pan`, `set_mute`, `set_solo`, `set_eq`, `set_filters`, `set_sends`)."""

    gainChanged = Signal(str, float)
    panChanged = Signal(str, float)
    muteToggled = Signal(str, bool)
    soloToggled = Signal(str, bool)
    eqChanged = Signal(str, float, float, float)  # low, mid, high dB
    filtersChanged = Signal(str, float, float)  # high-pass Hz, low-pass Hz
    sendsChanged = Signal(str, float, float)  # reverb, delay (0..1)

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
        # A long name ("Electric Piano") takes a slightly smaller font, then "…" and a tooltip.
        self.name = ElidedLabel(info.name, min_point_size=8.5)
        self.name.setObjectName("stemName")
        self.name.setAlignment(Qt.AlignmentFlag.AlignCenter)
        kind = self.kind_label = QLabel(info.kind.value.upper())
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
        self.meter.setMinimumHeight(FADER_MIN_HEIGHT)  # as short as the fader, not taller
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
        self.db_label = QLabel(format_fader_db(settings.gain_db))
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

        self.fx = self._build_fx(info.name, settings)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(4)
        layout.addWidget(band)
        layout.addWidget(self.name)
        layout.addWidget(kind)
        layout.addWidget(self.loading)
        layout.addWidget(self.fx)
        layout.addWidget(self.pan)
        layout.addLayout(faders, 1)
        layout.addWidget(self.db_label)
        layout.addLayout(buttons)

        self.fader.valueChanged.connect(self._on_fader)
        self.pan.valueChanged.connect(lambda v: self.panChanged.emit(self.stem_id, v / 100.0))
        self.mute.toggled.connect(lambda on: self.muteToggled.emit(self.stem_id, on))
        self.solo.toggled.connect(self._on_solo)
        self._on_solo(settings.solo, emit=False)

    def mark_locked_for_fans(self, reason: str) -> None:
        """On the artist's own track: this stem plays for them, but fans get it locked."""
        self.kind_label.setText("NOT FOR FANS")  # within the strip's 96 px (theme.qss)
        self.kind_label.setObjectName("stripLockBadge")
        self.kind_label.setToolTip(reason)
        self.kind_label.style().polish(self.kind_label)  # the new name's style rule

    def _build_fx(self, name: str, s: StemSettings) -> QWidget:
        def eq(label: str, band: str) -> Knob:
            return Knob(
                label,
                -24.0,
                24.0,
                0.0,
                fmt=format_db,
                bipolar=True,
                accessible_name=f"{name} EQ {band}",
            )

        self.eq_low = eq("LOW", "low (120 Hz shelf)")
        self.eq_mid = eq("MID", "mid (1 kHz)")
        self.eq_high = eq("HIGH", "high (6 kHz shelf)")
        self.hp = Knob(
            "HPF",
            20.0,
            20000.0,
            20.0,
            log=True,
            fmt=format_hp,
            accessible_name=f"{name} high-pass filter",
        )
        self.lp = Knob(
            "LPF",
            20.0,
            20000.0,
            20000.0,
            log=True,
            fmt=format_lp,
            accessible_name=f"{name} low-pass filter",
        )
        self.send_reverb = Knob(
            "REV", 0.0, 1.0, 0.0, fmt=format_percent, accessible_name=f"{name} reverb send"
        )
        self.send_delay = Knob(
            "DLY", 0.0, 1.0, 0.0, fmt=format_percent, accessible_name=f"{name} delay send"
        )
        self.show_settings(s)
        for knob in (self.eq_low, self.eq_mid, self.eq_high):
            knob.valueChanged.connect(self._emit_eq)
        for knob in (self.hp, self.lp):
            knob.valueChanged.connect(self._emit_filters)
        for knob in (self.send_reverb, self.send_delay):
            knob.valueChanged.connect(self._emit_sends)
        return knob_grid(
            [
                [self.eq_low, self.eq_mid, self.eq_high],
                [self.hp, self.lp],
                [self.send_reverb, self.send_delay],
            ]
        )

    def show_settings(self, s: StemSettings) -> None:
        """Show EQ, filters and sends of `s` without emitting (a restored draft is already in
        the document and the engine)."""
        for knob, value in (
            (self.eq_low, s.eq_low_db),
            (self.eq_mid, s.eq_mid_db),
            (self.eq_high, s.eq_high_db),
            (self.hp, s.hp_hz),
            (self.lp, s.lp_hz),
            (self.send_reverb, s.send_reverb),
            (self.send_delay, s.send_delay),
        ):
            knob.setValue(value, emit=False)

    def show_all(self, s: StemSettings) -> None:
        """Show every control of `s` (fader, pan, mute, solo, knobs) without emitting: undo has
        already put `s` in the document and the engine, and an emitted change would be a new
        edit (and a new undo step)."""
        _quietly(self.fader, lambda: self.fader.setValue(db_to_slider(s.gain_db)))
        self.db_label.setText(format_fader_db(s.gain_db))
        _quietly(self.pan, lambda: self.pan.setValue(round(s.pan * 100)))
        _quietly(self.mute, lambda: self.mute.setChecked(s.mute))
        _quietly(self.solo, lambda: self.solo.setChecked(s.solo))
        self._on_solo(s.solo, emit=False)
        self.show_settings(s)

    def _emit_eq(self) -> None:
        self.eqChanged.emit(
            self.stem_id, self.eq_low.value(), self.eq_mid.value(), self.eq_high.value()
        )

    def _emit_filters(self) -> None:
        self.filtersChanged.emit(self.stem_id, self.hp.value(), self.lp.value())

    def _emit_sends(self) -> None:
        self.sendsChanged.emit(self.stem_id, self.send_reverb.value(), self.send_delay.value())

    def follow_automation(self, param: str, value: float) -> None:
        """Show an automated value as it plays, without sending it back as an edit."""
        if param == "gain_db":
            _quietly(self.fader, lambda: self.fader.setValue(db_to_slider(value)))
            self.db_label.setText(format_db(value))
        elif param == "pan":
            _quietly(self.pan, lambda: self.pan.setValue(round(value * 100)))
        elif param == "mute":
            _quietly(self.mute, lambda: self.mute.setChecked(value >= 0.5))
        elif param == "send_reverb":
            self.send_reverb.setValue(value, emit=False)
        elif param == "send_delay":
            self.send_delay.setValue(value, emit=False)

    def set_automated(self, params: set[str]) -> None:
        """Mark the strip whose controls follow automation (● after the name)."""
        base = self.name.text().removesuffix(" ●")
        self.name.setText(f"{base} ●" if params else base)
        self.name.setToolTip(
            "Automated: " + ", ".join(sorted(params)) + ". Arm ● Auto and move it to re-record."
            if params
            else ""
        )

    def show_loading(self, fraction: float, problem: str | None = None) -> None:
        """Streaming progress of this stem; the bar hides once the whole stem is in."""
        self.loading.setValue(int(fraction * 1000))
        self.loading.setVisible(fraction < 1.0 or problem is not None)
        self.loading.setToolTip(problem or f"Streaming: {fraction:.0%}")

    def _on_fader(self, value: int) -> None:
        db = slider_to_db(value)
        self.db_label.setText(format_fader_db(db))
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
        self.meter.setMinimumHeight(FADER_MIN_HEIGHT)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.fader)
        row.addSpacing(6)
        row.addWidget(self.meter)
        row.addStretch(1)
        self.db_label = QLabel(format_fader_db(0.0))
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

    def show_gain(self, db: float) -> None:
        """Show the document's master gain without emitting (undo already applied it)."""
        _quietly(self.fader, lambda: self.fader.setValue(round(db * STEPS_PER_DB)))
        self.db_label.setText(f"{db:+.1f} dB")


class ReturnStrip(QWidget):
    """The shared effect buses the stems' sends feed: reverb (size, damping, return) and the
    tempo-synced delay (time in beats, feedback, return). Maps onto `Studio.set_reverb` and
    `Studio.set_delay`."""

    reverbChanged = Signal(float, float, float)  # size, damping, wet
    delayChanged = Signal(float, float, float)  # beats, feedback, wet

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("strip")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setFixedWidth(112)
        rev, dly = ReverbSettings(), DelaySettings()
        self.reverb_size = Knob(
            "SIZE", 0.0, 1.0, rev.size, fmt=format_percent, accessible_name="Reverb size"
        )
        self.reverb_damping = Knob(
            "DAMP", 0.0, 1.0, rev.damping, fmt=format_percent, accessible_name="Reverb damping"
        )
        self.reverb_wet = Knob(
            "RET", 0.0, 1.0, rev.wet, fmt=format_percent, accessible_name="Reverb return level"
        )
        self.delay_beats = Knob(
            "TIME",
            DELAY_BEATS[0],
            DELAY_BEATS[-1],
            dly.beats,
            log=True,
            steps=DELAY_BEATS,
            fmt=format_beats,
            accessible_name="Delay time",
        )
        self.delay_feedback = Knob(
            "FDBK", 0.0, 0.95, dly.feedback, fmt=format_percent, accessible_name="Delay feedback"
        )
        self.delay_wet = Knob(
            "RET", 0.0, 1.0, dly.wet, fmt=format_percent, accessible_name="Delay return level"
        )

        band = QWidget()
        band.setFixedHeight(4)
        band.setStyleSheet("background: #9a9bb0; border-radius: 2px;")
        title = QLabel("Returns")
        title.setObjectName("stemName")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        kind = QLabel("FX BUSES")
        kind.setObjectName("sectionTitle")
        kind.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        layout.addWidget(band)
        layout.addWidget(title)
        layout.addWidget(kind)
        layout.addSpacing(4)
        layout.addWidget(
            knob_grid([[self.reverb_size, self.reverb_damping, self.reverb_wet]], "REVERB")
        )
        layout.addSpacing(6)
        layout.addWidget(
            knob_grid([[self.delay_beats, self.delay_feedback, self.delay_wet]], "DELAY")
        )
        layout.addStretch(1)
        for knob in (self.reverb_size, self.reverb_damping, self.reverb_wet):
            knob.valueChanged.connect(self._emit_reverb)
        for knob in (self.delay_beats, self.delay_feedback, self.delay_wet):
            knob.valueChanged.connect(self._emit_delay)

    def show_settings(self, reverb: ReverbSettings, delay: DelaySettings) -> None:
        """Show the document's buses without emitting (they are already in the engine)."""
        for knob, value in (
            (self.reverb_size, reverb.size),
            (self.reverb_damping, reverb.damping),
            (self.reverb_wet, reverb.wet),
            (self.delay_beats, delay.beats),
            (self.delay_feedback, delay.feedback),
            (self.delay_wet, delay.wet),
        ):
            knob.setValue(value, emit=False)

    def _emit_reverb(self) -> None:
        self.reverbChanged.emit(
            self.reverb_size.value(), self.reverb_damping.value(), self.reverb_wet.value()
        )

    def _emit_delay(self) -> None:
        self.delayChanged.emit(
            self.delay_beats.value(), self.delay_feedback.value(), self.delay_wet.value()
        )


class LockedStrip(QWidget):
    """A stem the artist keeps out of fan remixes: shown (so the track's make-up is clear) with
    the reason, never streamed, heard or editable."""

    def __init__(self, info: StemInfo, reason: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.stem_id = info.id
        self.setObjectName("strip")
        self.setProperty("locked", True)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setFixedWidth(112)
        self.setAccessibleName(f"{info.name}: locked. {reason}")
        name = QLabel(info.name)
        name.setObjectName("stemName")
        name.setAlignment(Qt.AlignmentFlag.AlignCenter)
        name.setWordWrap(True)
        kind = QLabel(info.kind.value.upper())
        kind.setObjectName("sectionTitle")
        kind.setAlignment(Qt.AlignmentFlag.AlignCenter)
        badge = QLabel("LOCKED")
        badge.setObjectName("lockBadge")
        badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.reason = QLabel(reason)
        self.reason.setObjectName("hint")
        self.reason.setWordWrap(True)
        self.reason.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setToolTip(reason)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        for widget in (name, kind, badge, self.reason):
            layout.addWidget(widget)
        layout.addStretch(1)
        self._wrapped = (name, self.reason)

    def _fit_labels(self) -> None:
        """The strip's width is fixed, so the wrapped labels' heights are too (in the font the
        style gives them, hence on show and on a style or font change)."""
        inner = self.width() - 16
        for label in self._wrapped:
            label.setFixedHeight(label.heightForWidth(inner))

    def showEvent(self, event) -> None:
        self._fit_labels()
        super().showEvent(event)

    def changeEvent(self, event) -> None:
        if event.type() in (QEvent.Type.StyleChange, QEvent.Type.FontChange):
            self._fit_labels()
        super().changeEvent(event)

    def hasHeightForWidth(self) -> bool:
        """No: a wrapped label made the strips' row ask for its height-for-width, which a scroll
        area takes as the row's height: the preferred one, taller than the mixer, so every
        strip's fader and buttons were cut off at 1366×768 (a real-use review found it)."""
        return False


class MixerPanel(QWidget):
    """Stem strips side by side in a horizontal scroll area (16 stems scroll on a laptop
    screen), with the Returns and Master strips pinned at the right, always in reach.
    Rebuilt when a track opens.

    The strips never scroll vertically: the scroll area asks for their full height plus room
    for its scroll bar, so a fader or a mute button is never cut off below the fold; the window
    is laid out to have that height at 1280×720 (tests/test_ui_layout.py)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mixerPanel")
        self.strips: dict[str, StemStrip] = {}  # in the engine's stem order
        self.locked: dict[str, LockedStrip] = {}  # after them: not in the engine
        self.returns = ReturnStrip()
        self.master = MasterStrip()
        self.strip_row = QWidget()
        self.strip_row.setObjectName("stripRow")
        self._row = QHBoxLayout(self.strip_row)
        self._row.setContentsMargins(0, 0, 0, 0)
        self._row.setSpacing(STRIP_SPACING)
        self._row.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setObjectName("stripScroll")
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setWidget(self.strip_row)
        self.scroll.viewport().setAutoFillBackground(False)
        self.strip_row.setAutoFillBackground(False)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setAccessibleName("Stem strips")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(STRIP_SPACING)
        row.addWidget(self.scroll, 1)
        row.addWidget(self.returns)
        row.addWidget(self.master)
        self._fit_height()

    def _fit_height(self) -> None:
        """The strips' full height, plus the horizontal scroll bar's when there is one to show."""
        strips = max(
            (s.minimumSizeHint().height() for s in [*self.strips.values(), *self.locked.values()]),
            default=0,
        )
        bar = self.scroll.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        tallest = max(strips, self.master.minimumSizeHint().height())
        self.scroll.setMinimumHeight(tallest + bar + 2)

    def set_stems(
        self,
        stems: list[StemInfo],
        settings: dict[str, StemSettings],
        solo_forbidden: set[str],
        locked: dict[str, str] | None = None,
    ) -> list[StemStrip]:
        """One strip per playable stem (in `stems`' order), then the locked ones (id -> why)."""
        focus = QApplication.focusWidget()
        if focus is not None and self.isAncestorOf(focus):
            # The focused control goes away with its strip: keep the focus here, or Qt hands it
            # to the next widget in the chain (the catalog search box, where Space types).
            self.setFocus()
        for strip in [*self.strips.values(), *self.locked.values()]:
            strip.setParent(None)
            strip.deleteLater()
        self.strips, self.locked = {}, {}
        locked = locked or {}
        playable = [info for info in stems if info.id not in locked]
        for i, info in enumerate(playable):
            strip = StemStrip(
                info,
                settings.get(info.id, StemSettings()),
                solo_allowed=info.id not in solo_forbidden,
            )
            self._row.insertWidget(i, strip)
            self.strips[info.id] = strip
        for info in stems:
            if info.id in locked:
                locked_strip = LockedStrip(info, locked[info.id])
                self._row.insertWidget(len(self.strips) + len(self.locked), locked_strip)
                self.locked[info.id] = locked_strip
        self._fit_height()
        return list(self.strips.values())


def _quietly(widget: QWidget, change: Callable[[], None]) -> None:
    """Change a control's display without emitting its change signal (no edit is made)."""
    blocked = widget.blockSignals(True)
    try:
        change()
    finally:
        widget.blockSignals(blocked)
