"""Signed-in devices (File ▸ Signed-in devices…): where the account is signed in, and signing a
lost or old device out from here. Its session ends and its key is never handed out again, so
the stems it cached can no longer be decrypted (docs/threat-model.md)."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.client import PlatformClient
from core.contract import DeviceInfo
from core.text import isolate
from ui.remixes import describe, restyle
from ui.tasks import TaskRunner


def when(at: datetime) -> str:
    return f"{at.astimezone():%d %b %Y, %H:%M}"


class SignedInDevicesDialog(QDialog):
    """`devices` is the last list shown (tests read it); `sign_out_buttons` by device id."""

    def __init__(self, client: PlatformClient, tasks: TaskRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.client, self.tasks = client, tasks
        self.devices: list[DeviceInfo] | None = None
        self.sign_out_buttons: dict[str, QPushButton] = {}
        self.setWindowTitle("Signed-in devices")
        self.setMinimumWidth(560)
        intro = QLabel(
            "Encore is signed in to your account on these devices. Signing one out ends its "
            "session and makes the stems it has cached unreadable, even if someone copied them."
        )
        intro.setObjectName("hint")
        intro.setWordWrap(True)
        self.rows = QVBoxLayout()
        self.rows.setSpacing(10)
        self.status = QLabel("Loading…")
        self.status.setObjectName("hint")
        self.status.setWordWrap(True)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(12)
        layout.addWidget(intro)
        layout.addLayout(self.rows)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.refresh()

    def refresh(self) -> None:
        client = self.client
        self.tasks.run(client.devices, self._show, self._failed)

    def _show(self, devices: list[DeviceInfo]) -> None:
        while self.rows.count():
            item = self.rows.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.devices, self.sign_out_buttons = devices, {}
        for device in devices:
            row = self._row(device)
            self.rows.addWidget(row)
            row.show()  # now, not on the layout's next turn: the height below counts it
        self.status.setObjectName("hint")
        self.status.setText(
            "Only this device is signed in." if len(devices) <= 1 else "Other devices shown above."
        )
        restyle(self.status)
        # The rows it now has, and the height they need (the dialog's own hint lags behind its
        # word-wrapped labels).
        layout = self.layout()
        layout.activate()
        self.resize(max(self.width(), layout.sizeHint().width()), layout.sizeHint().height())

    def _row(self, device: DeviceInfo) -> QWidget:
        name = QLabel(f"{isolate(device.name)}{'  (this device)' if device.current else ''}")
        name.setObjectName("rowTitle")
        name.setTextFormat(Qt.TextFormat.PlainText)  # the device named itself
        seen = QLabel(
            f"Signed in {when(device.signed_in_at)} · last used {when(device.last_seen_at)}"
        )
        seen.setObjectName("hint")
        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(name)
        text.addWidget(seen)
        row = QWidget()
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        line.addLayout(text, 1)
        if not device.current:  # this one signs out from File ▸ Sign out
            button = QPushButton("Sign out")
            button.setAccessibleName(f"Sign out {device.name}")
            button.clicked.connect(lambda _c=False, d=device: self.sign_out(d))
            line.addWidget(button, 0, Qt.AlignmentFlag.AlignVCenter)
            self.sign_out_buttons[device.id] = button
        return row

    def sign_out(self, device: DeviceInfo) -> None:
        self.sign_out_buttons[device.id].setEnabled(False)
        client = self.client
        self.tasks.run(lambda: client.sign_out_device(device.id), self._signed_out, self._failed)

    def _signed_out(self, _result: object) -> None:
        self.refresh()

    def _failed(self, exc: BaseException) -> None:
        self.status.setObjectName("error")
        self.status.setText(describe(exc))
        restyle(self.status)
