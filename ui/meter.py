"""A level meter: the engine's block peaks, drawn with a falling bar and a peak-hold line."""

from __future__ import annotations

import math

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QLinearGradient, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

FLOOR_DB = -60.0
FALL_DB_PER_TICK = 1.5  # at ~30 Hz polling: ~45 dB/s, the usual PPM-like fall
HOLD_TICKS = 45


def to_db(peak: float) -> float:
    return 20.0 * math.log10(peak) if peak > 1e-6 else FLOOR_DB


class LevelMeter(QWidget):
    def __init__(self, channels: int = 1, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._levels = [FLOOR_DB] * channels
        self._holds = [FLOOR_DB] * channels
        self._hold_age = [0] * channels
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(100)

    def sizeHint(self) -> QSize:
        return QSize(6 + 6 * len(self._levels), 200)

    @property
    def level_db(self) -> float:
        return max(self._levels)

    def push(self, *peaks: float) -> None:
        """Feed the newest block peaks (linear); called from the UI's polling timer."""
        for ch, peak in enumerate(peaks[: len(self._levels)]):
            db = max(to_db(peak), FLOOR_DB)
            self._levels[ch] = max(db, self._levels[ch] - FALL_DB_PER_TICK)
            if db >= self._holds[ch]:
                self._holds[ch], self._hold_age[ch] = db, 0
            else:
                self._hold_age[ch] += 1
                if self._hold_age[ch] > HOLD_TICKS:
                    self._holds[ch] = max(FLOOR_DB, self._holds[ch] - FALL_DB_PER_TICK)
        self.update()

    def paintEvent(self, _event: object) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        n = len(self._levels)
        w = (self.width() - 2 * (n - 1)) / n
        h = self.height()
        grad = QLinearGradient(0, h, 0, 0)
        grad.setColorAt(0.0, QColor("#2bd99f"))
        grad.setColorAt(0.7, QColor("#c6e84a"))
        grad.setColorAt(0.88, QColor("#ffb347"))
        grad.setColorAt(1.0, QColor("#ff4d6d"))
        for ch in range(n):
            x = ch * (w + 2)
            p.fillRect(QRectF(x, 0, w, h), QColor("#15161c"))
            frac = (self._levels[ch] - FLOOR_DB) / -FLOOR_DB
            bar = max(0.0, min(1.0, frac)) * h
            p.fillRect(QRectF(x, h - bar, w, bar), grad)
            hold = (self._holds[ch] - FLOOR_DB) / -FLOOR_DB * h
            if hold > 1:
                color = QColor("#ff4d6d") if self._holds[ch] > -0.5 else QColor("#e8e8f0")
                p.fillRect(QRectF(x, h - hold, w, 2), color)
        p.setPen(Qt.PenStyle.NoPen)
        p.end()
