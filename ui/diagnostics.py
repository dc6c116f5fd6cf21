"""Diagnostics for QA accounts (`Account.diagnostics`): the audio output, its dropouts counted
where they happen, the open track's stream and cache, and the platform — live, twice a second.

A dock at the right of the studio window, shown at sign-in (the "Diagnostics" button in the
status bar or Ctrl+Shift+D hides and shows it; docked at the bottom, its cards line up side by
side).
It only reads what the window already has: `AudioOutput` and its stream's counters (aligned
int64 words the real-time callback writes: reading them is what `AudioOutput.poll` does too),
the engine's diagnostic attributes, the `TrackStream`'s per-stem states and the cache folder.
It never touches audio buffers, and its timer runs only while the dock is shown.

Dropouts, by where they happen (audio/device.py):

- ring underruns: device periods the render thread had not filled in time (zero-filled);
- PortAudio output underflows: periods PortAudio flagged (the device ran dry before us);
- source misses: frames the stream had not decoded in time (played as silence, never waited for).

The stream's counters cover the stream now open (a reopen starts them at 0); the engine's total
adds every stream's since the engine started or its counters were reset (`reset_diagnostics`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QBoxLayout,
    QDockWidget,
    QFormLayout,
    QFrame,
    QGridLayout,
    QLabel,
    QMainWindow,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.cache import EncryptedCache
from app.client import PlatformClient
from app.playback import AudioOutput, Engine, OutputState
from app.studio import Studio
from core.contract import Account, Health
from core.text import isolate
from ui.remixes import describe
from ui.tasks import TaskRunner

REFRESH_MS = 500  # ~2 Hz
SIDE_WIDTH = 340
SIDE_AREAS = (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea)
STATE_TEXT = {
    OutputState.RUNNING: "Running",
    OutputState.NO_DEVICE: "No device — looking for it",
    OutputState.LOST: "Device lost — looking for it",
    OutputState.WEDGED: "Driver stuck — restart Encore",
    OutputState.CLOSED: "Closed",
}
STEM_STATUS = {
    "waiting": "waiting",
    "downloading": "streaming",
    "reconnecting": "reconnecting…",
    "complete": "cached, verified",
    "failed": "failed",
}


class Diagnosed(Protocol):
    """What the panel reads from the studio window (ui/mainwindow.py)."""

    output: AudioOutput | None
    engine: Engine
    studio: Studio
    cache: EncryptedCache | None
    cache_dir: Path
    client: PlatformClient
    account: Account | None
    tasks: TaskRunner


MB = 1024 * 1024  # as the cache limit in Audio settings counts them


def megabytes(n: int) -> str:
    return f"{n / MB:.1f} MB"


def count(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


class DiagnosticsPanel(QWidget):
    """The figures; `values` maps each row's label to the text shown (tests read it)."""

    def __init__(self, source: Diagnosed, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source = source
        self.values: dict[str, str] = {}
        self._labels: dict[str, QLabel] = {}
        self.version = "asking the platform…"
        self._cache_checked = -1  # refresh count at the last cache size scan
        self._refreshes = 0
        self._cache_usage: int | None = None
        body = QWidget()
        body.setObjectName("page")
        # One above the other in a side dock (the default), side by side at the top or bottom.
        self.columns = QBoxLayout(QBoxLayout.Direction.TopToBottom, body)
        self.columns.setContentsMargins(12, 10, 12, 12)
        self.columns.setSpacing(12)
        self.columns.addWidget(
            self._group(
                "AUDIO OUTPUT",
                [
                    ("Device", "The output device and its host API."),
                    ("State", "Whether the stream runs; AudioOutput watches it once a second."),
                    ("Block size", "Frames per device period, as opened."),
                    ("Output latency", "What PortAudio reports plus the render-ahead ring."),
                    ("Sample rate", "The engine's rate; the stream is opened at it."),
                ],
            )
        )
        self.columns.addWidget(
            self._group(
                "DROPOUTS",
                [
                    (
                        "Underflows",
                        "Every stream's ring underruns and PortAudio underflows since the engine "
                        "started or its counters were reset.",
                    ),
                    (
                        "Ring underruns",
                        "This stream: device periods the render thread had not filled in time "
                        "(heard as silence).",
                    ),
                    (
                        "PortAudio underflows",
                        "This stream: periods PortAudio flagged as an output underflow.",
                    ),
                    ("Device periods", "This stream: times the device called for audio."),
                    (
                        "Source misses",
                        "Frames the stream had not decoded in time, played as silence.",
                    ),
                    ("Tempo/key lag", "Audio the live stretcher dropped because it fell behind."),
                    ("Engine errors", "Blocks the engine silenced after an error."),
                ],
            )
        )
        # One line per stem: name, bytes in the cache, state (a grid of labels: they wrap).
        self.stems = QWidget()
        self.stems.setAccessibleName("Stems of the open track")
        self.stem_grid = QGridLayout(self.stems)
        self.stem_grid.setContentsMargins(0, 6, 0, 0)
        self.stem_grid.setHorizontalSpacing(10)
        self.stem_grid.setVerticalSpacing(3)
        self.stem_grid.setColumnStretch(2, 1)
        self.stem_rows: list[tuple[str, str, str]] = []  # as shown: tests read these
        self._stem_labels: list[list[QLabel]] = []
        self.columns.addWidget(
            self._group(
                "TRACK STREAM",
                [
                    ("Track", "The track open in the studio."),
                    ("Received", "Bytes of its stems in the encrypted cache."),
                    ("Seekable", "Every stem cached and verified: any position decodes at once."),
                    ("Connection", "Streaming state; a failure is what the banner shows."),
                ],
                self.stems,
            ),
            2,
        )
        last = QVBoxLayout()
        last.setSpacing(12)
        last.addWidget(
            self._group(
                "CACHE",
                [
                    ("Folder", "Where encrypted stems are kept (emptied at sign-out)."),
                    ("Size", "Files in the folder, and the limit from Audio settings."),
                ],
            )
        )
        last.addWidget(
            self._group(
                "PLATFORM",
                [
                    ("Address", "The platform this session talks to."),
                    ("Version", "The platform's software version (/v1/health)."),
                    ("Account", "Who is signed in."),
                ],
            )
        )
        self.columns.addLayout(last, 1)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(body)
        self.scroll.viewport().setAutoFillBackground(False)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroll)
        self.set_vertical(True)
        self.timer = QTimer(self, interval=REFRESH_MS)
        self.timer.timeout.connect(self.refresh)

    def set_vertical(self, vertical: bool) -> None:
        """Cards one above the other (a side dock) or side by side (top or bottom)."""
        self.columns.setDirection(
            QBoxLayout.Direction.TopToBottom if vertical else QBoxLayout.Direction.LeftToRight
        )
        # A side dock is as wide as the stem table and scrolls down; a bottom one scrolls across.
        self.setMinimumWidth(SIDE_WIDTH if vertical else 0)
        policy = Qt.ScrollBarPolicy
        self.scroll.setHorizontalScrollBarPolicy(
            policy.ScrollBarAlwaysOff if vertical else policy.ScrollBarAsNeeded
        )

    def _group(self, title: str, rows: list[tuple[str, str]], *extra: QWidget) -> QFrame:
        frame = QFrame()
        frame.setObjectName("card")
        layout = QVBoxLayout(frame)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setSpacing(6)
        heading = QLabel(title)
        heading.setObjectName("sectionTitle")
        layout.addWidget(heading)
        form = QFormLayout()
        form.setHorizontalSpacing(12)
        form.setVerticalSpacing(4)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        for name, tip in rows:
            key = QLabel(name)
            key.setObjectName("fieldLabel")
            key.setToolTip(tip)
            value = QLabel("—")
            value.setWordWrap(True)
            value.setToolTip(tip)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(key, value)
            self._labels[name] = value
        layout.addLayout(form)
        for widget in extra:
            layout.addWidget(widget)
        layout.addStretch(1)
        return frame

    # -- showing ----------------------------------------------------------------------------------

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.ask_version()
        self.refresh()
        self.timer.start()

    def hideEvent(self, event) -> None:
        self.timer.stop()
        super().hideEvent(event)

    def ask_version(self) -> None:
        client = self.source.client
        self.source.tasks.run(client.health, self._got_version, self._no_version)

    def _got_version(self, health: Health) -> None:
        self.version = health.version

    def _no_version(self, exc: BaseException) -> None:
        self.version = f"unknown — {describe(exc)}"

    def _set(self, name: str, text: str) -> None:
        self.values[name] = text
        label = self._labels[name]
        if label.text() != text:
            label.setText(text)

    def refresh(self) -> None:
        self._refreshes += 1
        self._show_output()
        self._show_dropouts()
        self._show_stream()
        self._show_cache()
        self._show_platform()

    # -- sections ---------------------------------------------------------------------------------

    def _show_output(self) -> None:
        out, rate = self.source.output, self.source.engine.sample_rate
        self._set("Sample rate", f"{rate:,} Hz")
        if out is None:
            for name in ("Device", "Block size", "Output latency"):
                self._set(name, "—")
            self._set("State", "No audio output (sound is off in this session)")
            return
        stream: Any = out.stream
        hostapi = getattr(stream, "hostapi", None)
        name = out.device_name or "the default device"
        self._set("Device", f"{name} ({hostapi})" if hostapi else name)
        state = STATE_TEXT.get(out.state, str(out.state))
        if out.recoveries:
            state += f" · PortAudio reloaded {count(out.recoveries, 'time')}"
        self._set("State", state)
        block = getattr(stream, "blocksize", out.blocksize)
        self._set("Block size", f"{block} frames ({1000 * block / rate:.1f} ms)")
        latency = out.latency_ms
        if latency is None:
            self._set("Output latency", "— (no stream open)")
            return
        ring = getattr(stream, "ring_latency_seconds", None)
        if ring is None:
            self._set("Output latency", f"{latency:.1f} ms")
        else:
            device_ms = latency - 1000 * ring
            self._set(
                "Output latency",
                f"{latency:.1f} ms (device {device_ms:.1f} + ring {1000 * ring:.1f})",
            )

    def _show_dropouts(self) -> None:
        engine, out = self.source.engine, self.source.output
        stream: Any = out.stream if out is not None else None
        self._set("Underflows", f"{int(engine.underflows):,}")
        ring = getattr(stream, "ring_underflows", None)
        if ring is None:
            for name in ("Ring underruns", "PortAudio underflows", "Device periods"):
                self._set(name, "— (no stream open)")
        else:
            silent = int(stream.ring_underflow_frames)
            self._set(
                "Ring underruns",
                f"{count(int(ring), 'period')} ({count(silent, 'frame')} silent)",
            )
            self._set("PortAudio underflows", f"{int(stream.portaudio_underflows):,}")
            self._set("Device periods", f"{int(stream.device_callbacks):,}")
        self._set("Source misses", count(int(engine.missing_frames), "frame"))
        late = self.source.studio.stretch_late_seconds
        self._set("Tempo/key lag", "none" if late <= 0 else f"{late:.2f} s dropped")
        errors = int(engine.callback_errors)
        last = engine.last_error
        self._set("Engine errors", f"{errors:,}" + (f" — last: {last}" if errors and last else ""))

    def _show_stream(self) -> None:
        track = self.source.studio.track
        if track is None:
            self._set("Track", "No track open")
            for name in ("Received", "Seekable", "Connection"):
                self._set(name, "—")
            self._show_stem_rows([])
            return
        self._set("Track", f"{isolate(track.detail.title)} — {isolate(track.detail.artist)}")
        received = sum(s.received for s in track.states)
        total = sum(s.info.size for s in track.states)
        self._set("Received", f"{megabytes(received)} of {megabytes(total)} ({track.progress:.0%})")
        self._set("Seekable", "yes" if track.seekable else "not yet (stems still streaming)")
        failure = track.failure
        if failure:
            connection = f"failed — {failure}"
        elif track.reconnecting:
            connection = "reconnecting…"
        elif track.seekable:
            connection = "done (every stem in the cache)"
        else:
            connection = "streaming"
        self._set("Connection", connection)
        rows = []
        for s in track.states:
            state = STEM_STATUS.get(s.status.value, s.status.value)
            if s.status.value in ("downloading", "reconnecting"):
                state += f" {s.fraction:.0%}"
            rows.append(
                (
                    s.info.name,
                    f"{s.received / MB:.1f}/{megabytes(s.info.size)}",
                    state + (f" — {s.message}" if s.message else ""),
                )
            )
        self._show_stem_rows(rows)

    def _show_stem_rows(self, rows: list[tuple[str, str, str]]) -> None:
        if len(rows) != len(self._stem_labels):
            for labels in self._stem_labels:
                for label in labels:
                    label.hide()
                    label.setParent(None)
                    label.deleteLater()
            self._stem_labels = []
            for row in range(len(rows)):
                labels = [QLabel(""), QLabel(""), QLabel("")]
                labels[0].setObjectName("fieldLabel")
                labels[2].setWordWrap(True)
                for column, label in enumerate(labels):
                    self.stem_grid.addWidget(label, row, column)
                self._stem_labels.append(labels)
        for labels, texts in zip(self._stem_labels, rows, strict=True):
            for label, text in zip(labels, texts, strict=True):
                if label.text() != text:
                    label.setText(text)
        self.stem_rows = rows

    def _show_cache(self) -> None:
        cache = self.source.cache
        folder = cache.directory if cache is not None else self.source.cache_dir
        self._set("Folder", str(folder))
        if cache is None:
            self._set("Size", "not open yet (opens with the first track)")
            return
        # A directory listing: every other refresh (once a second) is plenty.
        if self._cache_usage is None or self._refreshes - self._cache_checked >= 2:
            self._cache_usage = cache.usage() if cache.directory.exists() else 0
            self._cache_checked = self._refreshes
        self._set(
            "Size", f"{megabytes(self._cache_usage)} of {megabytes(cache.limit_bytes)} allowed"
        )

    def _show_platform(self) -> None:
        self._set("Address", self.source.client.base_url)
        self._set("Version", self.version)
        account = self.source.account
        if account is None:
            self._set("Account", "—")
        else:
            self._set(
                "Account",
                f"{isolate(account.username)} · {account.tier.value.capitalize()} tier"
                " · diagnostics on",
            )


class DiagnosticsDock(QDockWidget):
    def __init__(self, source: Diagnosed, parent: QWidget | None = None) -> None:
        super().__init__("Diagnostics", parent)
        self.setObjectName("diagnostics")
        self.panel = DiagnosticsPanel(source)
        self.setWidget(self.panel)
        self.dockLocationChanged.connect(lambda area: self.panel.set_vertical(area in SIDE_AREAS))
        self.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetClosable
            | QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )


def install_diagnostics(window: QMainWindow) -> DiagnosticsDock:
    """Add the Diagnostics dock (shown, at the right: under the studio it would squeeze the
    mixer) and its toggle (status bar button, Ctrl+Shift+D) to the studio window."""
    dock = DiagnosticsDock(window, window)  # type: ignore[arg-type]  # MainWindow is Diagnosed
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    toggle: QAction = dock.toggleViewAction()
    toggle.setText("Diagnostics")
    toggle.setToolTip("Show or hide the diagnostics panel (Ctrl+Shift+D)")
    toggle.setShortcut(QKeySequence("Ctrl+Shift+D"))
    window.addAction(toggle)
    button = QToolButton()
    button.setObjectName("diagnosticsToggle")
    button.setDefaultAction(toggle)
    button.setAutoRaise(True)
    window.statusBar().addPermanentWidget(button)
    return dock
