"""Sign-in: username and password, with the demo accounts listed on the embedded platform."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
)

from app.client import PlatformClient, PlatformError
from app.session import NO_KEYRING_MESSAGE, TokenVault
from core.contract import Account
from core.text import isolate
from ui.tasks import TaskRunner

DEMO_ACCOUNTS_TEXT = (
    "Demo accounts (password <nobr><b>encore-demo</b></nobr>):<br>"
    "<b>fan</b> — Superfan, can remix · <b>casual</b> — free tier · "
    "<b>artist</b> — owns the demo tracks · <b>qa</b> — Superfan with diagnostics · "
    "<b>mika</b>, <b>jo</b> — other fans, their remixes in Remixes"
)


class LoginDialog(QDialog):
    def __init__(self, tasks: TaskRunner, *, demo: bool, parent=None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.client: PlatformClient | None = None
        self.vault: TokenVault | None = None
        self.account: Account | None = None
        self.setWindowTitle("Sign in to Encore")
        self.setMinimumWidth(460)

        title = QLabel("Encore")
        title.setObjectName("trackTitle")
        subtitle = QLabel("The Superfan remix studio")
        subtitle.setObjectName("trackMeta")
        self.platform_label = QLabel("Starting the local platform…")
        self.platform_label.setObjectName("hint")
        self.platform_label.setWordWrap(True)  # the no-keyring notice is a sentence or two
        self.username = QLineEdit("fan" if demo else "")
        self.username.setAccessibleName("Username")
        self.password = QLineEdit("")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setAccessibleName("Password")
        self.password.setPlaceholderText("encore-demo" if demo else "")
        form = QFormLayout()
        form.addRow("Username", self.username)
        form.addRow("Password", self.password)
        self.demo_hint = QLabel(DEMO_ACCOUNTS_TEXT)
        self.demo_hint.setObjectName("hint")
        self.demo_hint.setWordWrap(True)
        self.demo_hint.setTextFormat(Qt.TextFormat.RichText)
        self.demo_hint.setVisible(demo)
        self.error = QLabel("")
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.sign_in = QPushButton("Sign in")
        self.sign_in.setObjectName("primary")
        self.sign_in.setDefault(True)
        self.sign_in.setEnabled(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 24, 28, 24)
        layout.setSpacing(10)
        layout.addWidget(title)
        layout.addWidget(subtitle)
        layout.addSpacing(8)
        layout.addLayout(form)
        layout.addWidget(self.demo_hint)
        layout.addWidget(self.error)
        layout.addWidget(self.sign_in)
        layout.addWidget(self.platform_label)
        self.sign_in.clicked.connect(self._submit)
        self.password.returnPressed.connect(self._submit)

    def platform_ready(
        self, client: PlatformClient, label: str, vault: TokenVault | None = None
    ) -> None:
        """Point the dialog at a platform; with a vault, resume a remembered session first."""
        self.client, self.vault = client, vault
        self.platform_label.setText(label)
        self.error.setText("")  # e.g. "the local platform stopped…": it is back
        if vault is not None:
            client.on_tokens = vault.save
            if not vault.available:
                self.platform_label.setText(f"{label}\n{NO_KEYRING_MESSAGE}")
            stored = vault.load()
            if stored is not None:
                username, refresh = stored
                self.username.setText(username)
                self.error.setText(f"Signing you back in as {isolate(username)}…")
                self.tasks.run(lambda: client.resume(refresh), self._on_done, self._on_resume_error)
                return
        self.sign_in.setEnabled(True)
        self.password.setFocus()

    def _on_resume_error(self, exc: BaseException) -> None:
        if self.vault is not None:
            self.vault.clear()
        self.sign_in.setEnabled(True)
        self.error.setText("Your saved session has ended. Sign in again.")
        self.password.setFocus()

    def platform_failed(self, message: str) -> None:
        self.platform_label.setText("")
        self.error.setText(message)

    def _submit(self) -> None:
        if self.client is None or not self.sign_in.isEnabled():
            return
        username, password = self.username.text().strip(), self.password.text()
        if not username or not password:
            self.error.setText("Enter your username and password.")
            return
        self.sign_in.setEnabled(False)
        self.error.setText("")
        client = self.client
        self.tasks.run(lambda: client.login(username, password), self._on_done, self._on_error)

    def _on_done(self, account: Account) -> None:
        self.account = account
        self.accept()

    def _on_error(self, exc: BaseException) -> None:
        self.sign_in.setEnabled(True)
        message = exc.message if isinstance(exc, PlatformError) else f"Sign-in failed: {exc}"
        self.error.setText(message)
