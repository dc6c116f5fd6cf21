"""Submit a remix: title, description, AI declaration; then follow its status on the platform."""

from __future__ import annotations

import uuid

from pydantic import ValidationError
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFormLayout,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
)

from app.client import PlatformClient, PlatformError
from app.studio import Studio
from core.contract import (
    AIInvolvement,
    ErrorDetail,
    RemixCheck,
    RemixDocument,
    RemixInfo,
    RemixStatus,
    SplitRole,
)
from core.lineage import credit_line
from core.text import isolate
from ui.remixes import percent
from ui.tasks import TaskRunner

FINAL = {
    RemixStatus.PUBLISHED,
    RemixStatus.REJECTED,
    RemixStatus.PENDING_APPROVAL,
    RemixStatus.TAKEN_DOWN,
}
STATUS_TEXT = {
    RemixStatus.RECEIVED: "Received by the platform — waiting to render…",
    RemixStatus.RENDERING: "The platform is rendering your remix…",
    RemixStatus.PENDING_APPROVAL: "Rendered. Waiting for the artist's approval.",
    RemixStatus.PUBLISHED: "Published! Fans can now listen to it in Encore.",
    RemixStatus.REJECTED: "Rejected",
    RemixStatus.TAKEN_DOWN: "Taken down",
}
AI_FIELDS = ["vocals", "instrumentation", "composition", "post_production", "lyrics"]


def field_problem(exc: ValidationError) -> str:
    """The first problem in words: the text rule's own message (core/text.py), or the length."""
    error = exc.errors()[0]
    if error["type"] == "text_rule":
        return str(error["msg"])
    if error["loc"] and error["loc"][0] == "description":
        return "The description is too long: shorten it to 2000 characters and submit again."
    return "Give your remix a title (up to 120 characters)."


class SubmitDialog(QDialog):
    def __init__(
        self, studio: Studio, client: PlatformClient, tasks: TaskRunner, parent=None
    ) -> None:
        super().__init__(parent)
        assert studio.document is not None
        self.studio, self.client, self.tasks = studio, client, tasks
        # One key per dialog: pressing Submit again after a dropped connection cannot duplicate.
        self.idempotency_key = uuid.uuid4().hex
        self.remix: RemixInfo | None = None
        self.setWindowTitle("Submit your remix")
        self.setMinimumWidth(480)
        doc = studio.document
        self.title = QLineEdit(doc.title)
        self.title.setMaxLength(120)
        self.description = QPlainTextEdit(doc.description)
        self.description.setPlaceholderText("What did you do with the track?")
        self.description.setFixedHeight(90)
        self.ai_boxes = {name: QCheckBox(name.replace("_", "-").capitalize()) for name in AI_FIELDS}
        ai_grid = QGridLayout()
        for i, (name, box) in enumerate(self.ai_boxes.items()):
            box.setChecked(getattr(doc.ai, name))
            ai_grid.addWidget(box, i // 3, i % 3)
        form = QFormLayout()
        form.addRow("Title", self.title)
        form.addRow("Description", self.description)
        # A fork credits the remix it started from (docs/policy.md, "Inspired by"): said here
        # as the platform will record it, once its check answers.
        self.credit = QLabel(
            "Started from another fan's published remix: the platform credits its remixer."
        )
        self.credit.setObjectName("credit")
        self.credit.setWordWrap(True)
        self.credit.setVisible(doc.inspired_by is not None)
        ai_label = QLabel("Did AI make any part of this remix? (declared with your remix)")
        ai_label.setObjectName("hint")
        ai_label.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setVisible(False)
        self.status = QLabel(
            "Your remix is published inside Encore, credited to you and the "
            "artist. Nothing leaves the platform."
        )
        self.status.setObjectName("hint")
        self.status.setWordWrap(True)
        self.link = QLineEdit()
        self.link.setReadOnly(True)
        self.link.setVisible(False)
        self.link.setAccessibleName("Link to the published remix")
        self.submit_button = QPushButton("Submit remix")
        self.submit_button.setObjectName("primary")
        self.close_button = QPushButton("Close")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addLayout(form)
        layout.addWidget(self.credit)
        layout.addWidget(ai_label)
        layout.addLayout(ai_grid)
        layout.addSpacing(6)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.link)
        layout.addWidget(self.submit_button)
        layout.addWidget(self.close_button)
        self.submit_button.clicked.connect(self.submit)
        self.close_button.clicked.connect(self.reject)
        self._poll = QTimer(self, interval=800)
        self._poll.timeout.connect(self._refresh)
        self._polling = True  # until the dialog closes: then a status in flight is dropped
        self.finished.connect(self._stop_polling)
        self.problems: list[ErrorDetail] | None = None  # the platform's answer to the check
        self.check: RemixCheck | None = None
        self._check()

    def _check(self) -> None:
        """Ask the platform what it would refuse, before the fan presses Submit (the same rules:
        a stem the artist forbids alone, tempo range, length...)."""
        doc, client = self.studio.document, self.client
        self.tasks.run(lambda: client.preflight(doc), self._on_checked, self._on_check_failed)

    def _show_credit(self, check: RemixCheck) -> None:
        """Who the remix credits and what they get, from the platform's own answer."""
        credit = check.inspired_by
        if credit is None:
            return
        text = f"{credit_line(credit.title, credit.remixer)}: credited in the disclosure"
        share = next(
            (
                ln
                for ln in (check.split.lines if check.split else [])
                if ln.role == SplitRole.ORIGINAL_REMIXER
            ),
            None,
        )
        if share is not None:
            text += f", with {percent(share.basis_points)} of the revenue (from your creator share)"
        elif check.split is not None:
            text += " (your own remix, so nobody is paid twice)"
        self.credit.setText(text + ".")

    def _on_checked(self, check: RemixCheck) -> None:
        self.check = check
        self._show_credit(check)
        problems = check.problems
        self.problems = problems
        if not problems or self.remix is not None or not self.submit_button.isEnabled():
            return  # fine, or already sent (the submission's own answer decides)
        self.submit_button.setEnabled(False)
        self._show_error(
            "The platform would refuse this remix: "
            + " ".join(p.message for p in problems)
            + " Close this window, change the mix and open Submit again."
        )

    def _on_check_failed(self, exc: BaseException) -> None:
        self.problems = None  # the platform decides on submission, as before

    def submit(self) -> None:
        try:
            doc = self.studio.set_metadata(
                title=self.title.text().strip(), description=self.description.toPlainText()
            )
            doc = doc.model_copy(
                update={"ai": AIInvolvement(**{n: b.isChecked() for n, b in self.ai_boxes.items()})}
            )
            self.studio.document = doc
        except ValidationError as exc:
            self._show_error(field_problem(exc))
            return
        self.submit_button.setEnabled(False)
        self.progress.setVisible(True)
        self.status.setObjectName("hint")
        self.status.setText("Sending your remix…")
        client, key = self.client, self.idempotency_key
        self.tasks.run(lambda: client.submit_remix(doc, key), self._on_status, self._on_error)

    def _refresh(self) -> None:
        if self.remix is not None:
            remix_id, client = self.remix.id, self.client
            self.tasks.run(lambda: client.remix(remix_id), self._on_polled, self._on_poll_error)

    def _stop_polling(self, _result: int) -> None:
        """Closed: its labels may go with the window soon (sign-out), so nothing updates them."""
        self._polling = False
        self._poll.stop()

    def _on_polled(self, remix: RemixInfo) -> None:
        if self._polling:
            self._on_status(remix)

    def _on_status(self, remix: RemixInfo) -> None:
        self.remix = remix
        text = STATUS_TEXT[remix.status]
        if remix.status == RemixStatus.REJECTED:
            text = f"Rejected: {isolate(remix.reason or 'no reason given')}"
        elif remix.status == RemixStatus.TAKEN_DOWN:  # published, then withdrawn by the artist
            text = remix.reason or text
        self.status.setText(text)
        if remix.status in FINAL:
            self._poll.stop()
            self.progress.setVisible(False)
            if remix.status == RemixStatus.PUBLISHED:
                self.link.setText(remix.link)
                self.link.setVisible(True)
            if remix.status == RemixStatus.REJECTED:
                self.submit_button.setEnabled(True)
                self.idempotency_key = uuid.uuid4().hex
        elif not self._poll.isActive():
            self._poll.start()

    def _on_poll_error(self, exc: BaseException) -> None:
        # Keep polling: a status check failing once (platform restarting) is not the end.
        if self._polling:
            self.status.setText(f"{self.status.text()} (checking again…)")

    def _on_error(self, exc: BaseException) -> None:
        self.progress.setVisible(False)
        self.submit_button.setEnabled(True)
        message = exc.message if isinstance(exc, PlatformError) else f"Submission failed: {exc}"
        self._show_error(message)

    def _show_error(self, message: str) -> None:
        self.status.setObjectName("error")
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)
        self.status.setText(message)

    @property
    def document(self) -> RemixDocument | None:
        return self.studio.document
