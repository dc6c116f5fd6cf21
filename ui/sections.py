"""The window's sections: a segmented switch atop the sidebar (Catalog · My remixes · Review)
that also switches the main area (the studio, a remix's page, the artist's review page).

Going back to the Catalog ends any in-app listening, so the studio track is always what the
studio shows: it comes back paused where it was (`StudioSession.back_to_mix`).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QStackedWidget, QTabWidget, QWidget

from app.client import PlatformClient
from app.studiosession import StudioSession
from core.contract import Account, Role
from ui.artist import ArtistView
from ui.remixes import Listener, RemixesView
from ui.tasks import TaskRunner

SIDEBAR_WIDTH = 320
"""The sidebar's first width on a wide window; it sits in a splitter (ui/mainwindow.py)."""
SIDEBAR_MIN, SIDEBAR_MAX = 240, 560


class Sections(QObject):
    changed = Signal(str)  # "catalog", "remixes" or "review"

    def __init__(
        self,
        catalog: QWidget,
        studio_page: QWidget,
        client: PlatformClient,
        tasks: TaskRunner,
        session: StudioSession,
        account: Account | None,
    ) -> None:
        super().__init__()
        self.listener = Listener(client, tasks, session)
        self.remixes = RemixesView(client, tasks, self.listener)
        is_artist = account is not None and Role.ARTIST in account.roles
        self.artist = ArtistView(client, tasks, self.listener) if is_artist else None

        self.sidebar = QTabWidget()
        self.sidebar.setObjectName("sections")
        self.sidebar.setMinimumWidth(SIDEBAR_MIN)
        self.sidebar.setMaximumWidth(SIDEBAR_MAX)
        self.sidebar.setDocumentMode(True)
        self.sidebar.tabBar().setExpanding(True)
        self.sidebar.tabBar().setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.pages = QStackedWidget()
        self.names: list[str] = []
        self._add("catalog", "Catalog", catalog, studio_page)
        self._add("remixes", "My remixes", self.remixes.sidebar, self.remixes.page)
        if self.artist is not None:
            self._add("review", "Review", self.artist.sidebar, self.artist.page)
        self.sidebar.currentChanged.connect(self._switched)
        self.setParent(self.sidebar)  # these QObjects go with the window, never outlive it
        self.listener.setParent(self.sidebar)

    def _add(self, name: str, label: str, side: QWidget, page: QWidget) -> None:
        self.names.append(name)
        self.sidebar.addTab(side, label)
        self.pages.addWidget(page)

    @property
    def current(self) -> str:
        return self.names[self.sidebar.currentIndex()]

    def show_section(self, name: str) -> None:
        self.sidebar.setCurrentIndex(self.names.index(name))

    def _switched(self, index: int) -> None:
        self.pages.setCurrentIndex(index)
        name = self.names[index]
        if name == "catalog":
            self.listener.stop()
        elif name == "remixes":
            self.remixes.refresh()
        elif name == "review" and self.artist is not None:
            self.artist.refresh()
        self.changed.emit(name)
