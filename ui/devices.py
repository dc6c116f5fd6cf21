"""Audio settings: output device and block size, with the live latency and underflow count.

Apply reopens the stream through `AudioOutput` (the engine, and so the mix, stays as it is) and
saves the choice in the settings file, so the next start uses it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.playback import AudioOutput, OutputState
from app.settings import BLOCK_SIZES, Settings, save_settings

REFRESH_MS = 250
DEFAULT_LABEL = "System default"


class AudioSettingsDialog(QDialog):
    def __init__(
        self,
        output: AudioOutput,
        settings: Settings,
        *,
        settings_path: Path | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Audio settings")
        self.output, self.settings, self.settings_path = output, settings, settings_path
        self.setMinimumWidth(460)

        self.device = QComboBox()
        self.device.setAccessibleName("Output device")
        self.refresh = QPushButton("Rescan")
        self.refresh.setToolTip("Look for devices connected since Encore started")
        row = QHBoxLayout()
        row.addWidget(self.device, 1)
        row.addWidget(self.refresh)
        self.blocksize = QComboBox()
        self.blocksize.setAccessibleName("Block size")
        rate = output.engine.sample_rate
        for frames in BLOCK_SIZES:
            self.blocksize.addItem(f"{frames} frames ({1000 * frames / rate:.1f} ms)", frames)
        self.blocksize.setCurrentIndex(BLOCK_SIZES.index(output.blocksize))
        self.status = QLabel()
        self.latency = QLabel()
        self.latency.setObjectName("timeLabel")
        self.underflows = QLabel()
        self.underflows.setObjectName("timeLabel")
        self.hint = QLabel(
            "Smaller blocks answer faster; if you hear dropouts (the underflow count rises), "
            "pick a larger one."
        )
        self.hint.setObjectName("hint")
        self.hint.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Output device", row)
        form.addRow("Block size", self.blocksize)
        form.addRow("Status", self.status)
        form.addRow("Output latency", self.latency)
        form.addRow("Underflows", self.underflows)
        self.cache_limit = QSpinBox()
        self.cache_limit.setRange(256, 100_000)
        self.cache_limit.setSingleStep(256)
        self.cache_limit.setSuffix(" MB")
        self.cache_limit.setValue(settings.cache_limit_mb)
        self.cache_limit.setAccessibleName("Stem cache limit")
        self.cache_limit.setToolTip(
            "Streamed stems are kept encrypted on disk so tracks reopen instantly; the least "
            "recently opened go first when the cache passes this size. Signing out empties it."
        )
        form.addRow("Stem cache limit", self.cache_limit)

        self.apply_button = QPushButton("Apply")
        self.apply_button.setObjectName("primary")
        self.close_button = QPushButton("Close")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.apply_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.hint)
        layout.addLayout(buttons)

        self.apply_button.clicked.connect(self.apply)
        self.close_button.clicked.connect(self.accept)
        self.refresh.clicked.connect(self.rescan)
        self._fill_devices(output.list_devices())
        self._timer = QTimer(self, interval=REFRESH_MS)
        self._timer.timeout.connect(self.show_figures)
        self._timer.start()
        self.show_figures()

    def _fill_devices(self, devices: list[dict]) -> None:
        self.device.clear()
        self.device.addItem(DEFAULT_LABEL, None)
        for dev in devices:
            self.device.addItem(f"{dev['name']} ({dev['hostapi']})", dev["name"])
        current = self.settings.output_device
        index = self.device.findData(current)
        if index < 0 and current is not None:  # the saved device is not connected now
            self.device.addItem(f"{current} (not connected)", current)
            index = self.device.count() - 1
        self.device.setCurrentIndex(max(0, index))

    def rescan(self) -> None:
        self._fill_devices(self.output.refresh_devices())
        self.show_figures()

    def apply(self) -> None:
        """Reopen the stream on the chosen device and block size, and remember them."""
        device = self.device.currentData()
        blocksize = int(self.blocksize.currentData())
        self.output.open(device, blocksize)
        self.settings = self.settings.model_copy(
            update={
                "output_device": device,
                "blocksize": blocksize,
                "cache_limit_mb": self.cache_limit.value(),
            }
        )
        save_settings(self.settings, self.settings_path)
        self.show_figures()

    def show_figures(self) -> None:
        out = self.output
        if out.state == OutputState.RUNNING:
            self.status.setText(f"Playing on {out.device_name or 'the default device'}")
        else:
            self.status.setText(out.message or "Closed")
        self.status.setWordWrap(True)
        latency = out.latency_ms
        self.latency.setText("—" if latency is None else f"{latency:.1f} ms")
        self.underflows.setText(str(out.underflows))

    def done(self, result: int) -> None:
        self._timer.stop()
        super().done(result)
