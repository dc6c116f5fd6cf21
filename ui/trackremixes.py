"""The studio's Remixes panel: what other fans made of the open track.

Under the catalog in the sidebar (a splitter between them remembers the height), opened with
the header's **Remixes** button or View ▸ Remixes of this track: beside the studio it would take
the width the strips need at 1280-1366 px. It lists the track's published remixes, newest or most
played first, with their play counts, a page at a time (`GET /v1/tracks/{id}/remixes/published`).

* **Listen** plays the selected remix's published render in Encore through the same path as
  My remixes (`ui.remixes.Listener` → `StudioSession.listen`): fetched into memory, decoded there,
  never written anywhere; the studio's track waits, paused, until **Back to my mix**. A remix
  heard for 30 s counts one play (`app/plays.py`; the platform counts a listener once a day).
* **Remix this remix** asks the platform for a fork (the remix's recipe with `inspired_by`
  naming it) and makes it the open remix: heard, shown in the strips, autosaved as the draft,
  one undo step ("Undo Remix this remix" gives the previous mix back). Submitting it credits the
  original remixer (the Submit dialog shows how).

Every title and name is shown as a bidi isolate, so a right-to-left title cannot reorder the
words around it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.client import PlatformClient
from app.studio import Studio
from core.contract import FeedSort, PlayCount, RemixDocument, RemixInfo, TrackDetail
from core.lineage import credit_line
from core.text import isolate
from ui.elide import ElidedLabel
from ui.remixes import ListenBar, Listener, RowsFollowWidth, describe, plays_text, restyle
from ui.tasks import TaskRunner

if TYPE_CHECKING:
    from ui.mainwindow import MainWindow

PAGE = 20
ROW_HEIGHT = 72
ROW_HEIGHT_LINEAGE = 92
PANEL_MIN_HEIGHT = 300
PANEL_SHARE = 0.7  # of the catalog's column, when the panel first opens
SORT_LABELS = {FeedSort.NEWEST: "Newest", FeedSort.MOST_PLAYED: "Most played"}


def short_date(at: datetime) -> str:
    """ "4 Dec" this year, "4 Dec 2025" before: the narrow sidebar keeps the name whole."""
    local = at.astimezone()
    day = f"{local.day} {local:%b}"
    return day if local.year == datetime.now().year else f"{day} {local.year}"


class FeedRow(QWidget):
    """One remix in the feed: title and plays, then who made it and when, then what it was
    inspired by (when it was forked). Long texts end in "…" (the item's tooltip is whole)."""

    def __init__(self, remix: RemixInfo) -> None:
        super().__init__()
        self.title = ElidedLabel(isolate(remix.title))
        self.title.setObjectName("rowTitle")
        self.plays = QLabel(plays_text(remix.plays))
        self.plays.setObjectName("hint")
        self.byline = ElidedLabel(f"by {isolate(remix.creator)} · {short_date(remix.created_at)}")
        self.byline.setObjectName("hint")
        credit = remix.disclosure.inspired_by if remix.disclosure else None
        self.lineage = ElidedLabel(credit_line(credit.title, credit.remixer) if credit else "")
        self.lineage.setObjectName("hint")
        self.lineage.setVisible(credit is not None)
        top = QHBoxLayout()
        top.setSpacing(8)
        top.addWidget(self.title, 1)
        top.addWidget(self.plays)
        rows = QVBoxLayout(self)
        rows.setContentsMargins(8, 6, 8, 6)
        rows.setSpacing(3)
        rows.addLayout(top)
        rows.addWidget(self.byline)
        rows.addWidget(self.lineage)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, True)

    def show_plays(self, plays: int) -> None:
        self.plays.setText(plays_text(plays))


class TrackRemixesPanel(QWidget):
    """The feed of the open track, with Listen, Back to my mix and Remix this remix."""

    forkReady = Signal(object, object)  # (RemixDocument, RemixInfo): make it the open remix
    countChanged = Signal()  # the header button's count follows the feed

    def __init__(
        self, client: PlatformClient, tasks: TaskRunner, listener: Listener, studio: Studio
    ) -> None:
        super().__init__()
        self.setObjectName("trackRemixes")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.client, self.tasks, self.listener, self.studio = client, tasks, listener, studio
        self.track: TrackDetail | None = None
        self.sort = FeedSort.NEWEST
        self.remixes: dict[str, RemixInfo] = {}  # id -> remix, in the feed's order
        self.next_cursor: str | None = None
        self.loaded = False  # the first page of this track and order is in
        self.forking: str | None = None  # the remix id a fork was asked for
        self._generation = 0  # answers for an older track or order are dropped

        heading = QLabel("REMIXES OF THIS TRACK")
        heading.setObjectName("sectionTitle")
        self.sort_buttons: dict[FeedSort, QPushButton] = {}
        group = QButtonGroup(self)
        sorts = QHBoxLayout()
        sorts.setSpacing(6)
        for sort, label in SORT_LABELS.items():
            button = QPushButton(label)
            button.setObjectName("sortButton")
            button.setCheckable(True)
            button.setChecked(sort == self.sort)
            button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
            button.setAccessibleName(f"Sort remixes: {label.lower()}")
            button.clicked.connect(lambda _c=False, s=sort: self.set_sort(s))
            group.addButton(button)
            sorts.addWidget(button)
            self.sort_buttons[sort] = button
        sorts.addStretch(1)
        self.list = QListWidget()
        self.list.setObjectName("feedList")
        self.list.setAccessibleName("Published remixes of this track")
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        RowsFollowWidth(self.list)
        self.more = QPushButton("Show more")
        self.more.setVisible(False)
        self.more.clicked.connect(self.load_more)
        self.empty = QLabel("")
        self.empty.setObjectName("hint")
        self.empty.setWordWrap(True)
        self.error = QLabel("")
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.setVisible(False)

        # My remixes' listen bar, fitted to the sidebar: a short fetch bar, the time in the
        # hint's size, and its message on a line of its own under it.
        self.listen = ListenBar(listener)
        self.listen.fetch.setFixedWidth(70)
        self.listen.time.setObjectName("hint")
        self.listen.layout().removeWidget(self.listen.message)
        self.listen.layout().addStretch(1)
        self.back = QPushButton("Back to my mix")
        self.back.setToolTip("Stop listening: your studio track returns, paused where it was")
        self.back.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.back.clicked.connect(self.back_to_mix)
        self.fork = QPushButton("Remix this remix")
        self.fork.setObjectName("primary")
        self.fork.setToolTip(
            "Start your remix from this one's mix; submitting it credits its remixer"
        )
        self.fork.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.fork.clicked.connect(self.fork_selected)
        self.note = QLabel("")
        self.note.setObjectName("hint")
        self.note.setWordWrap(True)
        actions = QVBoxLayout()  # one above the other: the sidebar is narrow
        actions.setSpacing(6)
        actions.addWidget(self.back)
        actions.addWidget(self.fork)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 10, 0, 0)  # inside the sidebar's own margins
        layout.setSpacing(8)
        layout.addWidget(heading)
        layout.addLayout(sorts)
        layout.addWidget(self.error)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.more)
        layout.addWidget(self.empty)
        layout.addWidget(self.listen)
        layout.addWidget(self.listen.message)
        layout.addLayout(actions)
        layout.addWidget(self.note)

        self.list.currentItemChanged.connect(lambda *_a: self._selection_changed())
        self.list.itemActivated.connect(lambda _item: self.listen_selected())
        listener.changed.connect(self._listening_changed)
        listener.played.connect(self._played)
        self._selection_changed()

    # -- the feed ---------------------------------------------------------------------------------

    def set_track(self, track: TrackDetail | None) -> None:
        """The studio opened `track`: its feed from the first page (fetched now, so the header
        button can say how many there are even while the panel is closed)."""
        same = track is not None and self.track is not None and track.id == self.track.id
        self.track = track
        if not same:
            self.note.setText("")
        self.refresh()

    def set_sort(self, sort: FeedSort) -> None:
        for key, button in self.sort_buttons.items():
            button.setChecked(key == sort)
        if sort != self.sort:
            self.sort = sort
            self.refresh()

    def refresh(self) -> None:
        """The first page again, keeping the selection when the remix is still listed."""
        self._generation += 1
        self.next_cursor = None
        if self.track is None:
            self._fill([], keep=None, append=False)
            return
        self._fetch(None, append=False)

    def load_more(self) -> None:
        if self.next_cursor is not None and self.track is not None:
            self.more.setEnabled(False)
            self._fetch(self.next_cursor, append=True)

    def _fetch(self, cursor: str | None, *, append: bool) -> None:
        assert self.track is not None
        generation, client = self._generation, self.client
        track_id, sort = self.track.id, self.sort
        self.tasks.run(
            lambda: client.published_remixes(track_id, sort, cursor=cursor, limit=PAGE),
            lambda feed: self._fetched(generation, feed, append),
            lambda exc: self._failed(generation, exc),
        )

    def _fetched(self, generation: int, feed, append: bool) -> None:
        if generation != self._generation:
            return  # another track or order was asked for meanwhile
        self.error.setVisible(False)
        self.next_cursor = feed.next_cursor
        keep = self.selected_id()
        self._fill(feed.remixes, keep=keep, append=append)
        self.loaded = True
        self.countChanged.emit()

    def _failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self.more.setEnabled(True)
        self.error.setText(describe(exc))
        self.error.setVisible(True)

    def _fill(self, remixes: list[RemixInfo], *, keep: str | None, append: bool) -> None:
        self.list.blockSignals(True)
        if not append:
            self.list.clear()
            self.remixes = {}
        for remix in remixes:
            if remix.id in self.remixes:  # a remix that rose into a page already read
                continue
            self.remixes[remix.id] = remix
            item = QListWidgetItem()
            item.setData(Qt.ItemDataRole.UserRole, remix.id)
            row = FeedRow(remix)
            tip = [isolate(remix.title), row.byline.text(), plays_text(remix.plays)]
            if row.lineage.isVisibleTo(row):
                tip.append(row.lineage.text())
            item.setToolTip("\n".join(tip))
            lineage = remix.disclosure is not None and remix.disclosure.inspired_by is not None
            item.setSizeHint(QSize(0, ROW_HEIGHT_LINEAGE if lineage else ROW_HEIGHT))
            self.list.addItem(item)
            self.list.setItemWidget(item, row)
            if remix.id == keep:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        self.more.setVisible(self.next_cursor is not None)
        self.more.setEnabled(True)
        if self.track is None:
            self.empty.setText("")
        elif not self.remixes:
            self.empty.setText(
                "No published remixes of this track yet. Yours could be the first: mix it and "
                "press Submit remix…"
            )
        else:
            self.empty.setText("")
        self._selection_changed()

    def count_text(self) -> str:
        """For the header button: how many remixes the feed holds (20+ when there are more)."""
        if not self.loaded or self.track is None:
            return ""
        return f"{len(self.remixes)}{'+' if self.next_cursor else ''}"

    # -- the selected remix -----------------------------------------------------------------------

    def selected_id(self) -> str | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def selected(self) -> RemixInfo | None:
        remix_id = self.selected_id()
        return self.remixes.get(remix_id) if remix_id else None

    def select(self, remix_id: str) -> None:
        for i in range(self.list.count()):
            if self.list.item(i).data(Qt.ItemDataRole.UserRole) == remix_id:
                self.list.setCurrentRow(i)
                return

    def _selection_changed(self) -> None:
        remix = self.selected()
        self.listen.set_remix(
            remix, remix is not None, "Pick a remix to listen to it, or to remix it yourself."
        )
        self.fork.setEnabled(remix is not None and self.forking is None)
        self._listening_changed()

    def _listening_changed(self) -> None:
        self.back.setVisible(self.studio.listening)

    def listen_selected(self) -> None:
        """Listen, pause or resume the selected remix (Enter or a double click on a row)."""
        remix = self.selected()
        if remix is not None:
            self.listener.toggle(remix)

    def back_to_mix(self) -> None:
        self.listener.stop()

    def _played(self, count: PlayCount) -> None:
        """The platform's count after a play: shown at once in the row."""
        remix = self.remixes.get(count.remix_id)
        if remix is None:
            return
        self.remixes[count.remix_id] = remix.model_copy(update={"plays": count.plays})
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.data(Qt.ItemDataRole.UserRole) == count.remix_id:
                row = self.list.itemWidget(item)
                if isinstance(row, FeedRow):
                    row.show_plays(count.plays)

    # -- remix this remix -------------------------------------------------------------------------

    def fork_selected(self) -> None:
        remix = self.selected()
        if remix is None or self.forking is not None:
            return
        self.forking = remix.id
        self.fork.setEnabled(False)
        self.note.setObjectName("hint")
        restyle(self.note)
        self.note.setText(f"Fetching the mix of “{isolate(remix.title)}”…")
        client = self.client
        self.tasks.run(
            lambda: client.fork_remix(remix.id),
            lambda doc: self._forked(doc, remix),
            self._fork_failed,
        )

    def _forked(self, doc: RemixDocument, remix: RemixInfo) -> None:
        self.forking = None
        self._selection_changed()
        self.forkReady.emit(doc, remix)

    def _fork_failed(self, exc: BaseException) -> None:
        self.forking = None
        self._selection_changed()
        self.show_note(describe(exc), error=True)

    def show_note(self, text: str, *, error: bool = False) -> None:
        self.note.setObjectName("error" if error else "hint")
        restyle(self.note)
        self.note.setText(text)


class TrackRemixes(QObject):
    """The panel in the window: beside the studio page, its header button and View action, fed
    by the track the studio opens, and a fork made the open remix."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        sections = window.sections
        self.panel = TrackRemixesPanel(
            window.client, window.tasks, sections.listener, window.studio
        )
        self.panel.setVisible(False)
        # Under the catalog's list, in a splitter: the panel goes away with the catalog's tab
        # (My remixes, Review) and the studio keeps its whole width.
        catalog = window.catalog
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("catalogSplit")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setHandleWidth(6)
        catalog.layout().replaceWidget(catalog.list, self.splitter)
        self.splitter.addWidget(catalog.list)
        self.splitter.addWidget(self.panel)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 2)
        window.splitters["remixes"] = self.splitter

        self.action = QAction("&Remixes of this track", window)
        self.action.setCheckable(True)
        self.action.setShortcut(QKeySequence("Ctrl+Shift+R"))
        self.action.setToolTip("Other fans' remixes of the open track (Ctrl+Shift+R)")
        self.action.setEnabled(False)
        self.action.toggled.connect(self.show_panel)
        window.addAction(self.action)
        window.menus.view.addAction(self.action)
        self.button = QPushButton("Remixes")
        self.button.setObjectName("remixesToggle")
        self.button.setCheckable(True)
        self.button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.button.setToolTip("Listen to what other fans made of this track, and remix theirs")
        self.button.setVisible(False)  # until a track is open
        self.button.toggled.connect(self.action.setChecked)
        self.action.toggled.connect(self.button.setChecked)
        window.header_buttons.insertWidget(1, self.button)  # after Submit remix…

        window.trackOpened.connect(lambda _id: self._track_opened())
        self.panel.forkReady.connect(self.apply_fork)
        self.panel.countChanged.connect(self._show_count)

    def _track_opened(self) -> None:
        self.button.setVisible(True)
        self.action.setEnabled(True)
        self.panel.set_track(self.window.detail)

    def _show_count(self) -> None:
        count = self.panel.count_text()
        self.button.setText(f"Remixes · {count}" if count else "Remixes")

    def show_panel(self, on: bool) -> None:
        """Open (on the catalog's tab, which is the studio's) or close the panel; closing it
        while one of its remixes plays gives the studio's track back."""
        self.panel.setVisible(on)
        listener = self.panel.listener
        if not on and listener.remix_id in self.panel.remixes and self.window.studio.listening:
            listener.stop()
        if on:
            self.window.sections.show_section("catalog")
            sizes = self.splitter.sizes()
            if len(sizes) == 2 and sizes[1] < PANEL_MIN_HEIGHT:  # first opened: most of it
                total = sum(sizes)
                panel = max(PANEL_MIN_HEIGHT, int(total * PANEL_SHARE))
                self.splitter.setSizes([max(1, total - panel), panel])
            if self.panel.track is not None:
                self.panel.refresh()

    def apply_fork(self, doc: RemixDocument, original: RemixInfo) -> None:
        """Make the fork the open remix: heard, shown, autosaved, one undo step."""
        window, studio = self.window, self.window.studio
        if studio.document is None or studio.detail is None or studio.detail.id != doc.track_id:
            self.panel.show_note(
                "Open the track this remix is of, then press Remix this remix again.", error=True
            )
            return
        self.panel.listener.stop()  # what plays next is the fork, not the render
        window.remix_undo.end_gesture()
        studio.apply_document(doc)  # engine, draft autosave, and one step: "Remix this remix"
        window.remix_undo.end_gesture()
        window.remix_undo.show_remix()
        credit = credit_line(original.title, original.creator)
        self.panel.show_note(
            f"Your remix now starts from “{isolate(original.title)}”. {credit}: submitting "
            "credits its remixer. Edit ▸ Undo gives your previous mix back."
        )
        window.draft_label.setText(f"{credit} · draft autosaves as you mix.")


def install_track_remixes(window: MainWindow) -> TrackRemixes:
    """The Remixes panel beside the studio (after the menus and undo exist)."""
    return TrackRemixes(window)
