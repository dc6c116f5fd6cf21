"""A track the caller may not stream (the free tier): what Superfan unlocks, in place of a
transport and mixer that could not play anything.

Encore sells nothing: the Superfan tier is a membership of the platform account, so "Upgrade to
Superfan" explains where to get it and never pretends to upgrade.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.contract import Account, Tier, TrackDetail

UNLOCKS = [
    (
        "Stream the stems",
        "Every part of the track — drums, bass, keys, lead… — on a fader of its own, "
        "streamed into Encore.",
    ),
    (
        "Remix",
        "Levels, EQ and effects, tempo and key, loops and your own order of the sections.",
    ),
    (
        "Publish",
        "Submit your remix to the platform: fans hear it in Encore, credited to you, and you "
        "get a share of what it earns.",
    ),
]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def upgrade_text(platform_url: str) -> str:
    """How to become a Superfan on this platform, in words (no upgrade happens in Encore)."""
    text = (
        "Superfan is a membership of your account on the platform, not something Encore sells. "
        f"Upgrade your account on the platform ({platform_url}), then sign out of Encore and "
        "sign in again: the studio opens with your new tier."
    )
    if urlsplit(platform_url).hostname in LOOPBACK:
        text += (
            "\n\nThis is the local demo platform on this computer: it takes no payments, so "
            "there is nothing to buy here. To try the studio, sign out and sign in as “fan” "
            "(password “encore-demo”), a Superfan demo account."
        )
    return text


class UpgradeDialog(QDialog):
    def __init__(self, platform_url: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Upgrade to Superfan")
        self.setMinimumWidth(460)
        heading = QLabel("How to become a Superfan")
        heading.setObjectName("pageTitle")
        self.text = QLabel(upgrade_text(platform_url))
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.close_button = QPushButton("Close")
        self.close_button.setObjectName("primary")
        self.close_button.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(22, 18, 22, 16)
        layout.setSpacing(12)
        layout.addWidget(heading)
        layout.addWidget(self.text)
        layout.addLayout(buttons)


class UpgradePanel(QWidget):
    """Shown by the studio while its track is one the caller may not stream; `covers` names the
    controls it stands in for (hidden meanwhile)."""

    def __init__(self, platform_url: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.platform_url = platform_url
        self.dialog: UpgradeDialog | None = None
        self._covered: list[QWidget] = []
        self.heading = QLabel("")
        self.heading.setObjectName("pageTitle")
        self.heading.setWordWrap(True)
        self.message = QLabel("")
        self.message.setObjectName("trackMeta")
        self.message.setWordWrap(True)
        self.unlocks = QWidget()
        rows = QVBoxLayout(self.unlocks)
        rows.setContentsMargins(0, 8, 0, 6)
        rows.setSpacing(12)
        title = QLabel("WITH SUPERFAN")
        title.setObjectName("sectionTitle")
        rows.addWidget(title)
        self.unlock_titles: list[str] = []
        for title, text in UNLOCKS:
            name = QLabel(title)
            name.setObjectName("rowTitle")
            what = QLabel(text)
            what.setObjectName("hint")
            what.setWordWrap(True)
            item = QVBoxLayout()
            item.setSpacing(2)
            item.addWidget(name)
            item.addWidget(what)
            rows.addLayout(item)
            self.unlock_titles.append(title)
        self.upgrade_button = QPushButton("Upgrade to Superfan…")
        self.upgrade_button.setObjectName("primary")
        self.upgrade_button.clicked.connect(self.explain_upgrade)
        self.browse_hint = QLabel("You can still browse the catalog and read about every track.")
        self.browse_hint.setObjectName("hint")
        self.browse_hint.setWordWrap(True)
        action = QHBoxLayout()
        action.addWidget(self.upgrade_button)
        action.addStretch(1)
        self.card = QFrame()
        self.card.setObjectName("card")
        layout = QVBoxLayout(self.card)
        layout.setContentsMargins(28, 24, 28, 24)
        layout.setSpacing(10)
        layout.addWidget(self.heading)
        layout.addWidget(self.message)
        layout.addWidget(self.unlocks)
        layout.addLayout(action)
        layout.addWidget(self.browse_hint)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.card)
        outer.addStretch(1)  # the card keeps its height; the studio's background below
        self.setVisible(False)

    def covers(self, *widgets: QWidget) -> None:
        self._covered = list(widgets)

    def show_for(self, detail: TrackDetail, account: Account | None) -> bool:
        """Stand in for the covered controls when `detail` is not the caller's to stream;
        give them back otherwise. True when shown."""
        locked = not detail.entitled
        upsell = locked and (account is None or account.tier != Tier.SUPERFAN)
        if upsell:
            self.heading.setText("Remixing is a Superfan feature")
        else:
            self.heading.setText("You can't remix this track")
        self.message.setText(detail.entitlement_message or "")
        self.unlocks.setVisible(upsell)
        self.upgrade_button.setVisible(upsell)
        self.browse_hint.setVisible(upsell)
        for widget in self._covered:
            widget.setVisible(not locked)
        self.setVisible(locked)
        return locked

    def explain_upgrade(self) -> UpgradeDialog:
        dialog = UpgradeDialog(self.platform_url, self.window())
        self.dialog = dialog
        dialog.open()
        return dialog
