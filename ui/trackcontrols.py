"""Tempo and key controls for the track header: inside the track's rights policy, limits shown.

Tempo is a ratio (1.25 = 25 % faster, key kept) shown as the resulting BPM; key shift is in
semitones, shown with the resulting key ("A minor → B minor"). Both are heard live (the engine's
stretcher, the render's own) and land in the remix document through `Studio` (drafts autosave).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.contract import RightsPolicy
from ui.elide import ElidedLabel

LAG_SHOW_S = 0.05
"""Newly dropped audio (seconds) that shows the "can't keep up" warning."""

LAG_CLEAR_S = 5.0
"""Seconds without newly dropped audio after which the warning goes away."""

NO_TEMPO, NO_KEY = "Tempo", "Key"
"""The labels with no track open (disabled controls with no name looked broken)."""
NOTES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
FLATS = {"Db": "C#", "Eb": "D#", "Gb": "F#", "Ab": "G#", "Bb": "A#"}


def shifted_key(key: str, semitones: int) -> str:
    """'A minor' shifted by +2 -> 'B minor' (sharps, mode kept); an unknown name is returned."""
    parts = key.split(maxsplit=1)
    if not parts:
        return key
    root = FLATS.get(parts[0], parts[0])
    if root not in NOTES:
        return key
    new = NOTES[(NOTES.index(root) + int(semitones)) % 12]
    return new if len(parts) == 1 else f"{new} {parts[1]}"


class TrackControls(QWidget):
    """Tempo slider (in hundredths of the ratio) with BPM readout and reset; key spin box with
    the resulting key name and reset. `set_track` shows a track's policy and the document's
    values without emitting."""

    tempoChanged = Signal(float)
    keyChanged = Signal(int)

    def __init__(self, parent: QWidget | None = None, *, notes_beside: bool = False) -> None:
        """`notes_beside`: the limits' line (and the warning that takes its place) is `notes`
        for the caller to place (the studio's header puts it under the track's meta line, where
        it costs no height: ui/mainwindow.py); else it sits under the controls."""
        super().__init__(parent)
        self._bpm = 120.0
        self._key = ""
        self.tempo = QSlider(Qt.Orientation.Horizontal)
        self.tempo.setObjectName("tempoSlider")
        self.tempo.setFixedWidth(90)
        self.tempo.setAccessibleName("Tempo")
        self.tempo.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.tempo_label = QLabel(NO_TEMPO)  # until a track opens: what the controls are
        self.tempo_label.setMinimumWidth(140)
        self.tempo_reset = QPushButton("1×")
        self.tempo_reset.setToolTip("Original tempo")
        self.tempo_reset.setAccessibleName("Original tempo")
        self.tempo_reset.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.key = QSpinBox()
        self.key.setObjectName("keySpin")
        self.key.setAccessibleName("Key shift")
        self.key.setSuffix(" st")
        self.key.setFixedWidth(74)
        self.key_label = QLabel(NO_KEY)
        self.key_label.setMinimumWidth(120)
        self.key_reset = QPushButton("±0")
        self.key_reset.setToolTip("Original key")
        self.key_reset.setAccessibleName("Original key")
        self.key_reset.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.limits = ElidedLabel()
        self.limits.setObjectName("trackMeta")
        # One line, in the place of the limits while it shows: the header keeps its height at
        # 1280×720; where it does not fit it ends in "…" with the whole text in its tooltip.
        self.lag = ElidedLabel(
            "⚠ Tempo/key preview can't keep up on this computer: you may hear gaps. "
            "Close busy programs, or reset to 1× / ±0."
        )
        self.lag.setObjectName("warningLabel")
        side = Qt.AlignmentFlag.AlignLeft if notes_beside else Qt.AlignmentFlag.AlignRight
        self.lag.setAlignment(side | Qt.AlignmentFlag.AlignVCenter)
        self.limits.setAlignment(side | Qt.AlignmentFlag.AlignVCenter)
        self.lag.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.lag.setToolTip(
            "The live preview stretches every stem on this computer as it plays. The remix you "
            "submit is rendered in full on the platform, so it has no gaps either way."
        )
        self.lag.hide()
        self._late_seen = 0.0
        self._lag_at: float | None = None

        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        row = QHBoxLayout()
        row.setSpacing(6)
        for w in (self.tempo_label, self.tempo, self.tempo_reset):
            row.addWidget(w)
        row.addSpacing(10)
        for w in (self.key_label, self.key, self.key_reset):
            row.addWidget(w)
        column.addLayout(row)
        self.notes = QWidget()
        notes = QVBoxLayout(self.notes)
        notes.setContentsMargins(0, 0, 0, 0)
        notes.setSpacing(0)
        notes.addWidget(self.limits)
        notes.addWidget(self.lag)
        if not notes_beside:
            column.addWidget(self.notes)

        self.tempo.valueChanged.connect(self._tempo_moved)
        self.key.valueChanged.connect(self._key_moved)
        self.tempo_reset.clicked.connect(lambda: self.tempo.setValue(100))
        self.key_reset.clicked.connect(lambda: self.key.setValue(0))
        self.setEnabled(False)

    # -- showing a track -------------------------------------------------------------------------

    def set_track(
        self, bpm: float, key: str, policy: RightsPolicy, ratio: float, shift: int
    ) -> None:
        self._bpm, self._key = float(bpm), key
        lo, hi = round(policy.tempo_ratio_min * 100), round(policy.tempo_ratio_max * 100)
        self.tempo.blockSignals(True)  # showing the document, not editing it
        self.key.blockSignals(True)
        self.tempo.setRange(lo, hi)
        self.tempo.setValue(round(ratio * 100))
        self.key.setRange(policy.key_shift_min, policy.key_shift_max)
        self.key.setValue(int(shift))
        self.tempo.blockSignals(False)
        self.key.blockSignals(False)
        self.tempo_reset.setEnabled(lo <= 100 <= hi)
        self.key_reset.setEnabled(policy.key_shift_min <= 0 <= policy.key_shift_max)
        # A range of one value is the artist fixing it: a control that cannot move is disabled,
        # and the limits say "only 120 BPM" rather than "120–120 BPM".
        fixed_tempo, fixed_key = lo == hi, policy.key_shift_min == policy.key_shift_max
        self.tempo.setEnabled(not fixed_tempo)
        self.key.setEnabled(not fixed_key)
        tempo = (
            f"only {bpm * policy.tempo_ratio_min:.0f} BPM"
            if fixed_tempo
            else f"{bpm * policy.tempo_ratio_min:.0f}–{bpm * policy.tempo_ratio_max:.0f} BPM"
        )
        key = (
            "no key change"
            if fixed_key
            else f"{policy.key_shift_min:+d} to {policy.key_shift_max:+d} semitones"
        )
        self.limits.setText(f"Artist allows {tempo}, {key}")
        self.tempo.setToolTip(
            f"Tempo, key kept: {policy.tempo_ratio_min:g}× to {policy.tempo_ratio_max:g}× "
            f"({bpm * policy.tempo_ratio_min:.1f}–{bpm * policy.tempo_ratio_max:.1f} BPM) "
            "allowed by the artist"
        )
        self.key.setToolTip(
            f"Key shift: {policy.key_shift_min:+d} to {policy.key_shift_max:+d} semitones "
            "allowed by the artist"
        )
        self._show()
        self.setEnabled(True)

    def show_values(self, ratio: float, shift: int) -> None:
        """Show a tempo ratio and key shift without emitting (undo already applied them)."""
        self.tempo.blockSignals(True)
        self.key.blockSignals(True)
        self.tempo.setValue(round(ratio * 100))
        self.key.setValue(int(shift))
        self.tempo.blockSignals(False)
        self.key.blockSignals(False)
        self._show()

    def show_stretch_lag(self, late_seconds: float, now: float) -> None:
        """Warn while the live stretcher drops audio: `late_seconds` is the running total it
        dropped (audio.livestretch late_frames), polled with the monotonic time `now`."""
        if late_seconds < self._late_seen:  # a new stretcher: its count starts again
            self._late_seen = late_seconds
        if late_seconds - self._late_seen >= LAG_SHOW_S:
            self._late_seen, self._lag_at = late_seconds, now
            self.lag.show()
            self.limits.hide()
        elif self._lag_at is not None and now - self._lag_at > LAG_CLEAR_S:
            self._lag_at = None
            self.lag.hide()
            self.limits.show()

    def clear(self) -> None:
        self.lag.hide()
        self.limits.show()
        self._late_seen, self._lag_at = 0.0, None
        self.setEnabled(False)
        self.tempo_label.setText(NO_TEMPO)
        self.key_label.setText(NO_KEY)
        self.limits.setText("")

    @property
    def ratio(self) -> float:
        return self.tempo.value() / 100.0

    def _show(self) -> None:
        ratio, shift = self.ratio, self.key.value()
        self.tempo_label.setText(f"Tempo {self._bpm * ratio:.1f} BPM ({ratio:.2f}×)")
        if shift == 0:
            self.key_label.setText(f"Key {self._key}")
        else:
            self.key_label.setText(f"{self._key} → {shifted_key(self._key, shift)}")

    def _tempo_moved(self, value: int) -> None:
        self._show()
        self.tempoChanged.emit(value / 100.0)

    def _key_moved(self, value: int) -> None:
        self._show()
        self.keyChanged.emit(int(value))
