"""Take down a published remix (the artist's side): asks for the reason the creator will read.

The platform decides (only the track's artist may take a remix down, and only a published one);
a refusal comes back as its message, shown in the dialog as is.
"""

from __future__ import annotations

from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.client import PlatformClient
from core.contract import RemixInfo
from core.text import isolate
from ui.remixes import describe, restyle
from ui.tasks import TaskRunner

MAX_REASON = 1000  # TakedownRequest.reason


class TakedownDialog(QDialog):
    """`remix` holds the platform's answer (status taken down) once it has accepted."""

    def __init__(
        self,
        remix: RemixInfo,
        client: PlatformClient,
        tasks: TaskRunner,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.target, self.client, self.tasks = remix, client, tasks
        self.remix: RemixInfo | None = None
        self.setWindowTitle("Take down a remix")
        self.setMinimumWidth(480)
        heading = QLabel(f"Take down “{isolate(remix.title)}” by {isolate(remix.creator)}?")
        heading.setObjectName("sectionTitle")
        heading.setWordWrap(True)
        explain = QLabel(
            "Fans can no longer listen to it, and its link stops working. "
            f"{isolate(remix.creator)} sees your reason in My remixes, and the takedown is "
            "recorded in the audit log."
        )
        explain.setObjectName("hint")
        explain.setWordWrap(True)
        self.reason = QPlainTextEdit()
        self.reason.setPlaceholderText(
            f"Why are you taking it down? {isolate(remix.creator)} reads this."
        )
        self.reason.setAccessibleName("Reason for the takedown")
        self.reason.setFixedHeight(96)
        self.reason.textChanged.connect(self._limit)
        self.error = QLabel("")
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        self.cancel = QPushButton("Cancel")
        self.confirm = QPushButton("Take down")
        self.confirm.setObjectName("danger")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel)
        buttons.addWidget(self.confirm)
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addWidget(heading)
        layout.addWidget(explain)
        layout.addWidget(self.reason)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        self.cancel.clicked.connect(self.reject)
        self.confirm.clicked.connect(self.submit)
        self.reason.setFocus()

    def _limit(self) -> None:
        text = self.reason.toPlainText()
        if len(text) > MAX_REASON:
            self.reason.setPlainText(text[:MAX_REASON])
            self.reason.moveCursor(QTextCursor.MoveOperation.End)

    def submit(self) -> None:
        reason = self.reason.toPlainText().strip()
        if not reason:
            self._show_error(
                "Write why you are taking this remix down first: its creator sees your reason."
            )
            return
        self.confirm.setEnabled(False)
        self._show_error("")
        client, remix_id = self.client, self.target.id
        self.tasks.run(lambda: client.take_down(remix_id, reason), self._done, self._failed)

    def _done(self, remix: RemixInfo) -> None:
        self.remix = remix
        self.confirm.setEnabled(True)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self.confirm.setEnabled(True)
        self._show_error(describe(exc))

    def _show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))
        restyle(self.error)
        self.adjustSize()
