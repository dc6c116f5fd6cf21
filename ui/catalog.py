"""The catalog: tracks that artists opted in, with search."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QLineEdit, QListWidgetItem, QWidget

from core.contract import TrackSummary
from core.text import isolate
from ui.sidebar import sidebar_list
from ui.transport import format_time


class CatalogPanel(QWidget):
    trackActivated = Signal(str)
    searchChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sidebar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search tracks or artists")
        self.search.setClearButtonEnabled(True)
        column = sidebar_list(self, "CATALOG", "Tracks", self.search, top_margin=16)
        self.list, self.empty = column.list, column.empty
        self._debounce = QTimer(self, singleShot=True, interval=250)
        self._debounce.timeout.connect(lambda: self.searchChanged.emit(self.search.text().strip()))
        self.search.textChanged.connect(lambda _t: self._debounce.start())
        self.list.itemActivated.connect(self._activated)
        self.list.itemClicked.connect(self._activated)

    def set_tracks(self, tracks: list[TrackSummary]) -> None:
        self.list.clear()
        for t in tracks:
            text = (
                f"{isolate(t.title)}\n{isolate(t.artist)}\n{t.bpm:g} BPM · {t.key} · "
                f"{format_time(t.duration)[:-2]} · {t.stem_count} stems"
            )
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, t.id)
            self.list.addItem(item)
        self.empty.setText("" if tracks else "No tracks match. Try another search.")

    def _activated(self, item: QListWidgetItem) -> None:
        self.trackActivated.emit(item.data(Qt.ItemDataRole.UserRole))
