"""My remixes: the fan's submissions with their status, split statement, disclosure and link,
and in-app listening to a published render.

The widgets here (status chip, split view, disclosure view, listen bar, remix detail) are shared
with the artist's review page (`ui/artist.py`): both sides see the same record of a remix.
"""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QBoxLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.client import PlatformClient, PlatformError
from app.listening import decode_render
from app.plays import PLAY_AFTER_S, PlayTally
from app.studiosession import StudioSession
from core.contract import (
    Disclosure,
    PlayCount,
    RemixInfo,
    RemixStatus,
    SplitRole,
    SplitStatement,
    Tier,
)
from core.lineage import credit_line
from core.text import isolate
from core.wording import (
    describe_stem_setting,
    describe_transformation,
    format_db,
    format_pan,
    format_semitones,
    format_tempo,
    stem_value,
)
from ui.elide import ElidedLabel
from ui.sidebar import sidebar_list
from ui.tasks import TaskRunner
from ui.transport import format_time

IN_PROGRESS = {RemixStatus.RECEIVED, RemixStatus.RENDERING}
STATUS_LABEL = {
    RemixStatus.RECEIVED: "Received",
    RemixStatus.RENDERING: "Rendering",
    RemixStatus.PENDING_APPROVAL: "Pending approval",
    RemixStatus.PUBLISHED: "Published",
    RemixStatus.REJECTED: "Rejected",
    RemixStatus.TAKEN_DOWN: "Taken down",
}
WITHDRAWN = {RemixStatus.REJECTED, RemixStatus.TAKEN_DOWN}  # the creator is told why
ROLE_LABEL = {
    SplitRole.RIGHTSHOLDER: "Rightsholder",
    SplitRole.CREATOR: "Creator",
    SplitRole.PLATFORM: "Platform",
    SplitRole.ORIGINAL_REMIXER: "Original remixer",
}
AI_LABEL = {
    "vocals": "Vocals",
    "instrumentation": "Instrumentation",
    "composition": "Composition",
    "post_production": "Post-production",
    "lyrics": "Lyrics",
}
ROW_HEIGHT = 62
REFRESH_MS = 1500  # while a remix renders: the platform renders a 4-minute remix in ~3 s


def describe(exc: BaseException) -> str:
    return exc.message if isinstance(exc, PlatformError) else f"Something went wrong: {exc}"


def sentence(text: str) -> str:
    """Its first letter capitalised (str.capitalize would lower-case every stem name after it)."""
    return text[:1].upper() + text[1:]


def plays_text(plays: int) -> str:
    """A play count in words: each listener counts once a day (docs/policy.md)."""
    if plays == 0:
        return "No plays yet"
    return "1 play" if plays == 1 else f"{plays:,} plays"


def percent(basis_points: int) -> str:
    """10000 bp = 100 %: exact, from the integers (no float rounding to explain away)."""
    return f"{Decimal(basis_points) / 100:.2f} %"


def restyle(widget: QWidget) -> None:
    """Re-apply the style sheet after a dynamic property change."""
    widget.style().unpolish(widget)
    widget.style().polish(widget)


class StatusChip(QLabel):
    """A rounded status label; the theme colours it by the `status` property."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statusChip")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)

    def set_status(self, status: RemixStatus) -> None:
        self.setText(STATUS_LABEL[status])
        self.setProperty("status", status.value)
        restyle(self)


def clear_grid(grid: QGridLayout, keep: QWidget | None = None) -> None:
    """Empty a grid now: detached at once (a deferred delete alone would still paint)."""
    while grid.count():
        widget = grid.takeAt(0).widget()
        if widget is not None and widget is not keep:
            widget.hide()
            widget.setParent(None)
            widget.deleteLater()


def card(title: str, body: QWidget | QGridLayout | QVBoxLayout) -> QFrame:
    frame = QFrame()
    frame.setObjectName("card")
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(16, 14, 16, 14)
    layout.setSpacing(10)
    heading = QLabel(title)
    heading.setObjectName("sectionTitle")
    layout.addWidget(heading)
    if isinstance(body, QWidget):
        layout.addWidget(body)
    else:
        layout.addLayout(body)
    layout.addStretch(1)
    return frame


class SplitView(QWidget):
    """Who gets what: one row per party with a share bar, and a total that visibly adds up."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(12)
        self.grid.setVerticalSpacing(8)
        self.grid.setColumnStretch(1, 1)
        self.total = QLabel("")
        self.rows: list[tuple[str, str]] = []  # (party, percent) as shown: tests read these

    def set_split(self, split: SplitStatement | None, stem_names: dict[str, str]) -> None:
        clear_grid(self.grid, keep=self.total)
        self.rows = []
        if split is None:
            self.total.setText("The split is computed when the platform accepts the remix.")
            self.total.setObjectName("hint")
            self.grid.addWidget(self.total, 0, 0, 1, 3)
            return
        for row, line in enumerate(split.lines):
            who = QLabel(line.party)
            who.setObjectName("splitParty")
            role = ROLE_LABEL[line.role]
            if line.stem_id:
                role = f"{role} · {isolate(stem_names.get(line.stem_id, line.stem_id))}"
            what = QLabel(role)
            what.setObjectName("hint")
            names = QVBoxLayout()
            names.setSpacing(0)
            names.addWidget(who)
            names.addWidget(what)
            bar = QProgressBar()
            bar.setObjectName("splitBar")
            bar.setProperty("role", line.role.value)
            bar.setRange(0, 10000)
            bar.setValue(line.basis_points)
            bar.setTextVisible(False)
            bar.setFixedHeight(8)
            share = QLabel(percent(line.basis_points))
            share.setObjectName("splitShare")
            share.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            holder = QWidget()
            holder.setLayout(names)
            self.grid.addWidget(holder, row, 0)
            self.grid.addWidget(bar, row, 1)
            self.grid.addWidget(share, row, 2)
            self.rows.append((line.party, share.text()))
        total_bp = sum(line.basis_points for line in split.lines)
        self.total.setText(f"Total  {percent(total_bp)}")
        self.total.setObjectName("splitTotal")
        self.total.setAlignment(Qt.AlignmentFlag.AlignRight)
        restyle(self.total)
        self.grid.addWidget(self.total, len(split.lines), 0, 1, 3)


class DisclosureView(QWidget):
    """How the remix was made, as the platform recorded it (what listeners are told)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(14)
        self.grid.setVerticalSpacing(6)
        self.grid.setColumnStretch(1, 1)
        self.fields: dict[str, str] = {}  # label -> text as shown: tests read these

    def set_disclosure(self, disclosure: Disclosure | None) -> None:
        clear_grid(self.grid)
        self.fields = {}
        if disclosure is None:
            hint = QLabel("The disclosure is recorded when the platform accepts the remix.")
            hint.setObjectName("hint")
            self.grid.addWidget(hint, 0, 0, 1, 2)
            return
        d = disclosure
        names = {s.stem_id: s.name for s in d.stems}
        changes = []
        for s in d.stems:
            bits = []
            if s.muted:
                bits.append("muted")
            if s.soloed:
                bits.append("solo")
            if s.gain_db:
                bits.append(f"level {stem_value('gain_db', s.gain_db)}")
            if s.pan:
                bits.append(f"pan {format_pan(s.pan)}")
            bits += [describe_stem_setting(k, v) for k, v in s.settings.items()]
            if bits:
                changes.append(f"{isolate(s.name)}: {', '.join(bits)}")
        transforms = [
            f"tempo {format_tempo(d.tempo_ratio)}" if d.tempo_ratio != 1.0 else "original tempo",
            f"key {format_semitones(d.key_shift)}" if d.key_shift else "original key",
        ]
        if d.master_gain_db:
            transforms.append(f"master {format_db(d.master_gain_db)}")
        transforms += [
            describe_transformation(k, v, names) for k, v in d.other_transformations.items()
        ]
        source = (
            f"{isolate(d.source_track_title)} — {isolate(d.source_artist)} "
            f"(version {d.source_track_version})"
        )
        rows = [
            ("Source", source),
            ("Stems used", ", ".join(names.get(s, s) for s in d.stems_used) or "none"),
            ("Mix", "\n".join(changes) or "Every stem at its original level"),
            ("Transformations", sentence(" · ".join(transforms))),
            ("Tools", ", ".join(d.tools)),
            *(
                [("Inspired by", credit_line(d.inspired_by.title, d.inspired_by.remixer))]
                if d.inspired_by
                else []
            ),
            (
                "AI involvement",
                ", ".join(AI_LABEL.get(c, c) for c in d.ai_categories)
                or "None declared by the creator",
            ),
        ]
        for row, (label, text) in enumerate(rows):
            key = QLabel(label)
            key.setObjectName("fieldLabel")
            key.setAlignment(Qt.AlignmentFlag.AlignTop)
            value = QLabel(text)
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
            self.grid.addWidget(key, row, 0)
            self.grid.addWidget(value, row, 1)
            self.fields[label] = text


class Listener(QObject):
    """In-app listening: fetch a render into memory, decode it, and play it through the app's
    engine in place of the studio track (the session's listening route,
    `StudioSession.listen`). Nothing touches the disk.

    One per window, shared by My remixes and the review queue, so only one render plays."""

    changed = Signal()
    played = Signal(object)  # PlayCount: the platform counted (or had counted) a play

    def __init__(self, client: PlatformClient, tasks: TaskRunner, session: StudioSession) -> None:
        super().__init__()
        self.client, self.tasks, self.session = client, tasks, session
        self.studio = session.studio
        self.remix_id: str | None = None  # the render loaded in the engine
        self.loading_id: str | None = None
        self.fraction = 0.0
        self.error = ""
        self.duration = 0.0
        self.play_after_s = PLAY_AFTER_S
        self._tally: PlayTally | None = None  # the published remix being heard, until it counts
        self._timer = QTimer(self, interval=100)
        self._timer.timeout.connect(self._tick)
        session.on_listening_change(self._session_changed)

    def _tick(self) -> None:
        tally, remix_id = self._tally, self.remix_id
        heard = tally is not None and tally.update(self.position, self.engine.playing)
        if heard and remix_id is not None:
            self._count_play(remix_id)
        self.changed.emit()

    def _session_changed(self) -> None:
        """The session ended listening by itself (a track opened, sign-out): no render is
        loaded any more, and the bars say so."""
        if self.session.render is None and self.remix_id is not None:
            self.remix_id, self._tally = None, None
            self._timer.stop()
            self.changed.emit()

    @property
    def engine(self):
        return self.session.engine  # the device's: the render's while one is heard

    def is_playing(self, remix_id: str) -> bool:
        return self.active(remix_id) and self.engine.playing

    def active(self, remix_id: str) -> bool:
        render = self.session.render
        return render is not None and self.remix_id == remix_id

    def toggle(self, remix: RemixInfo) -> None:
        """Listen / pause / resume the given remix."""
        if self.active(remix.id):
            if self.engine.playing:
                self.engine.pause()
            else:
                self.engine.play()
            self.changed.emit()
            return
        if self.loading_id is not None:
            return
        self.loading_id, self.fraction, self.error = remix.id, 0.0, ""
        client, rate, remix_id = self.client, self.engine.sample_rate, remix.id

        def progress(done: int, total: int) -> None:
            self.fraction = done / total if total else 0.0  # NB: worker thread, a float rebind

        def fetch():
            return decode_render(client.remix_audio(remix_id, progress=progress), rate)

        self.tasks.run(fetch, lambda audio: self._loaded(remix, audio), self._failed)
        self._timer.start()
        self.changed.emit()

    def stop(self) -> None:
        """Back to the studio: the suspended track returns exactly as it was."""
        self.session.back_to_mix()
        self.remix_id = self.loading_id = None  # a fetch still running is dropped when it lands
        self._tally = None  # left before it became a play
        self._timer.stop()
        self.changed.emit()

    def _loaded(self, remix: RemixInfo, audio) -> None:
        if self.loading_id != remix.id:
            return  # the listener went back to the studio meanwhile
        self.loading_id = None
        self.session.listen(audio, remix_id=remix.id, name=remix.title)
        self.remix_id = remix.id
        self.duration = audio.shape[2] / self.engine.sample_rate
        published = remix.status == RemixStatus.PUBLISHED
        self._tally = PlayTally(self.duration, self.play_after_s) if published else None
        self.changed.emit()

    def _count_play(self, remix_id: str) -> None:
        """Tell the platform a published remix has been heard long enough to be a play
        (`app/plays.py`; it counts a listener once a day); a failure costs one play in the
        count, never the listening."""
        client = self.client
        self.tasks.run(lambda: client.record_play(remix_id), self._counted, lambda _exc: None)

    def _counted(self, count: PlayCount) -> None:
        self.played.emit(count)

    def _failed(self, exc: BaseException) -> None:
        self.loading_id = None
        self.error = describe(exc)
        self.changed.emit()

    @property
    def position(self) -> float:
        render = self.session.render
        return render.position_seconds if render is not None else 0.0


class ListenBar(QWidget):
    """Listen button, position and fetch progress for one remix."""

    def __init__(self, listener: Listener, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.listener = listener
        self.remix: RemixInfo | None = None
        self.button = QPushButton("▶  Listen")
        self.button.setObjectName("listenButton")
        self.button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.time = QLabel("")
        self.time.setObjectName("timeLabel")
        self.fetch = QProgressBar()
        self.fetch.setRange(0, 1000)
        self.fetch.setTextVisible(False)
        self.fetch.setFixedWidth(140)
        self.fetch.setVisible(False)
        self.message = QLabel("")
        self.message.setObjectName("hint")
        self.message.setWordWrap(True)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(12)
        row.addWidget(self.button)
        row.addWidget(self.fetch)
        row.addWidget(self.time)
        row.addWidget(self.message, 1)
        self.button.clicked.connect(self._clicked)
        listener.changed.connect(self.refresh)

    def set_remix(self, remix: RemixInfo | None, playable: bool, why_not: str = "") -> None:
        self.remix = remix if playable else None
        self.button.setVisible(playable)
        self._why_not = why_not
        self.refresh()

    def _clicked(self) -> None:
        if self.remix is not None:
            self.listener.toggle(self.remix)

    def refresh(self) -> None:
        listener, remix = self.listener, self.remix
        loading = remix is not None and listener.loading_id == remix.id
        active = remix is not None and listener.active(remix.id)
        self.fetch.setVisible(loading)
        self.fetch.setValue(int(listener.fraction * 1000))
        playing = remix is not None and listener.is_playing(remix.id)
        self.button.setText("❚❚  Pause" if playing else "▶  Listen")
        if active:
            self.time.setText(
                f"{format_time(listener.position)[:-2]} / {format_time(listener.duration)[:-2]}"
            )
        else:
            self.time.setText("")
        if loading:
            self.message.setText("Fetching the render…")
        elif remix is not None and listener.error and not active:
            self.message.setText(listener.error)
        elif active:
            self.message.setText("Playing in Encore. Your studio track waits, paused.")
        else:
            self.message.setText(getattr(self, "_why_not", "") if remix is None else "")


class RemixDetail(QWidget):
    """Everything about one remix: status, reason, link, listening, split and disclosure.

    `stacked` puts the split above the disclosure (for the narrower review pane)."""

    def __init__(
        self, listener: Listener, parent: QWidget | None = None, *, stacked: bool = False
    ) -> None:
        super().__init__(parent)
        self.remix: RemixInfo | None = None
        self.title = QLabel("")
        self.title.setObjectName("pageTitle")
        self.title.setWordWrap(True)
        self.chip = StatusChip()
        self.meta = QLabel("")
        self.meta.setObjectName("trackMeta")
        self.reason = QLabel("")
        self.reason.setObjectName("rejection")
        self.reason.setWordWrap(True)
        self.reason.setVisible(False)
        self.link = QLineEdit()
        self.link.setReadOnly(True)
        self.link.setAccessibleName("In-app link to the remix")
        self.copy = QPushButton("Copy link")
        self.copy.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.copy.clicked.connect(self._copy_link)
        self.listen = ListenBar(listener)
        self.split = SplitView()
        self.disclosure = DisclosureView()

        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.chip, 0, Qt.AlignmentFlag.AlignTop)
        link_row = QHBoxLayout()
        link_label = QLabel("In-app link")
        link_label.setObjectName("fieldLabel")
        link_row.addWidget(link_label)
        link_row.addWidget(self.link, 1)
        link_row.addWidget(self.copy)
        cards = QBoxLayout(
            QBoxLayout.Direction.TopToBottom if stacked else QBoxLayout.Direction.LeftToRight
        )
        cards.setSpacing(14)
        cards.addWidget(card("REVENUE SPLIT", self.split), 1)
        cards.addWidget(card("DISCLOSURE", self.disclosure), 1)
        self.actions = QVBoxLayout()  # the artist's review controls go here
        body = QWidget()
        body.setObjectName("page")
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 6, 0)
        layout.setSpacing(12)
        layout.addLayout(head)
        layout.addWidget(self.meta)
        layout.addWidget(self.reason)
        layout.addWidget(self.listen)
        layout.addLayout(self.actions)
        layout.addLayout(link_row)
        layout.addLayout(cards)
        layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        scroll.viewport().setAutoFillBackground(False)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

    def set_remix(self, remix: RemixInfo) -> None:
        same = self.remix is not None and self.remix.id == remix.id
        self.remix = remix
        self.title.setText(remix.title)
        self.chip.set_status(remix.status)
        d = remix.disclosure
        source = remix.track_id
        if d:
            source = f"{isolate(d.source_track_title)} by {isolate(d.source_artist)}"
        self.meta.setText(
            f"By {isolate(remix.creator)} · remix of {source} · "
            f"submitted {remix.created_at.astimezone():%d %b %Y, %H:%M}"
            + (f" · {plays_text(remix.plays)}" if remix.status == RemixStatus.PUBLISHED else "")
        )
        withdrawn = remix.status in WITHDRAWN
        self.reason.setVisible(withdrawn)
        fallback = f"{STATUS_LABEL[remix.status]}, with no reason given."
        self.reason.setText((remix.reason or fallback) if withdrawn else "")
        published = remix.status == RemixStatus.PUBLISHED
        self.link.setText(remix.link if published else "")
        self.link.setPlaceholderText(
            "No link: the artist took this remix down."
            if remix.status == RemixStatus.TAKEN_DOWN
            else "The link appears when the remix is published."
        )
        self.copy.setEnabled(published)
        # The creator and the artist may hear a pending render (the platform allows both).
        playable = published or remix.status == RemixStatus.PENDING_APPROVAL
        why = {
            RemixStatus.RECEIVED: "You can listen once the platform has rendered it.",
            RemixStatus.RENDERING: "The platform is rendering it; you can listen in a moment.",
            RemixStatus.REJECTED: "Rejected remixes are not published, so there is nothing "
            "to listen to.",
            RemixStatus.TAKEN_DOWN: "The artist took this remix down, so it is no longer played "
            "in Encore.",
        }.get(remix.status, "")
        self.listen.set_remix(remix, playable, why)
        if not same or self.split.rows == [] or self.disclosure.fields == {}:
            names = {s.stem_id: s.name for s in d.stems} if d else {}
            self.split.set_split(remix.split, names)
            self.disclosure.set_disclosure(d)

    def _copy_link(self) -> None:
        """The in-app link is the one thing that leaves Encore: a pointer, never audio."""
        if self.link.text():
            QGuiApplication.clipboard().setText(self.link.text())
            self.copy.setText("Copied")
            QTimer.singleShot(1500, lambda: self.copy.setText("Copy link"))


class RemixRow(QWidget):
    """A list row: title and date, then the status chip and the track.

    The date and the chip are always whole; in a narrow list the title and the track's name end
    in "…" (their tooltips have them whole)."""

    def __init__(self, remix: RemixInfo) -> None:
        super().__init__()
        self.title = ElidedLabel(remix.title)
        self.title.setObjectName("rowTitle")
        self.date = QLabel(f"{remix.created_at.astimezone():%d %b, %H:%M}")
        self.date.setObjectName("hint")
        d = remix.disclosure
        self.track = ElidedLabel(d.source_track_title if d else remix.track_id)
        self.track.setObjectName("hint")
        self.chip = StatusChip()
        self.chip.set_status(remix.status)
        self.plays = QLabel(
            plays_text(remix.plays) if remix.status == RemixStatus.PUBLISHED else ""
        )
        self.plays.setObjectName("hint")
        top = QHBoxLayout()
        top.setSpacing(8)
        top.addWidget(self.title, 1)
        top.addWidget(self.date)
        line = QHBoxLayout()
        line.setSpacing(8)
        line.addWidget(self.chip)
        line.addWidget(self.track, 1)
        line.addWidget(self.plays)
        rows = QVBoxLayout(self)
        rows.setContentsMargins(8, 6, 8, 6)
        rows.setSpacing(4)
        rows.addLayout(top)
        rows.addLayout(line)
        # Clicks (and the pointer's tooltips: the list item has the whole text) go to the list.
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, True)


class RowsFollowWidth(QObject):
    """Keeps a list's row widgets as wide as the list. Qt can leave them at an older width when
    the list narrows (the review pane appearing beside the queue): the row then runs off the
    list's edge, cutting its date and status off."""

    def __init__(self, view: QListWidget) -> None:
        super().__init__(view)
        self.view = view
        view.viewport().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            QTimer.singleShot(0, self.view, self.view.updateGeometries)
        return False


def fill_remix_list(view: QListWidget, remixes: list[RemixInfo], keep: str | None) -> None:
    """Rebuild a list of remixes, keeping the selection on `keep` when it is still there."""
    if view.findChild(RowsFollowWidth) is None:
        RowsFollowWidth(view)
    view.blockSignals(True)
    view.clear()
    for remix in remixes:
        item = QListWidgetItem()
        item.setData(Qt.ItemDataRole.UserRole, remix.id)
        row = RemixRow(remix)
        item.setToolTip(f"{isolate(remix.title)}\n{row.track.text()} · {row.date.text()}")
        item.setSizeHint(QSize(0, ROW_HEIGHT))
        view.addItem(item)
        view.setItemWidget(item, row)
        if remix.id == keep:
            view.setCurrentItem(item)
    view.blockSignals(False)


class RemixesView(QObject):
    """My remixes: `sidebar` (the list) and `page` (the selected remix), kept up to date while
    any remix is still being received or rendered."""

    def __init__(self, client: PlatformClient, tasks: TaskRunner, listener: Listener) -> None:
        super().__init__()
        self.client, self.tasks, self.listener = client, tasks, listener
        self.remixes: dict[str, RemixInfo] = {}
        self.selected: str | None = None
        self._busy = False

        self.sidebar = QWidget()
        self.sidebar.setObjectName("sidebarPanel")
        column = sidebar_list(self.sidebar, "MY REMIXES", "My remixes")
        self.list, self.empty = column.list, column.empty
        self.list.setObjectName("remixList")

        self.detail = RemixDetail(listener)
        self.placeholder = QLabel(
            "Pick one of your remixes to see its status, who gets paid what, and how it was "
            "made.\nPublished remixes play right here, inside Encore."
        )
        self.placeholder.setObjectName("placeholder")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.error = QLabel("")
        self.error.setObjectName("banner")
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        self.page = QWidget()
        page = QVBoxLayout(self.page)
        page.setContentsMargins(22, 18, 22, 14)
        page.setSpacing(12)
        page.addWidget(self.error)
        page.addWidget(self.placeholder, 1)
        page.addWidget(self.detail, 1)
        self.detail.setVisible(False)

        self.list.currentItemChanged.connect(self._selected)
        self._timer = QTimer(self, interval=REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self.setParent(self.page)  # timers and all go with the window, never outlive it

    def refresh(self) -> None:
        if self._busy:
            return
        self._busy = True
        self.tasks.run(self.client.my_remixes, self._show, self._failed)

    def _empty_text(self) -> str:
        account = self.client.account
        if account is not None and account.tier != Tier.SUPERFAN:
            return (
                "No remixes yet. Remixing is part of Superfan: upgrade, then open a track, mix "
                "it and submit it from the studio."
            )
        return "No remixes yet. Open a track from the catalog, mix it, and press Submit remix…"

    def _show(self, remixes: list[RemixInfo]) -> None:
        self._busy = False
        self.error.setVisible(False)
        self.remixes = {r.id: r for r in remixes}
        fill_remix_list(self.list, remixes, self.selected)
        self.empty.setText("" if remixes else self._empty_text())
        if self.selected in self.remixes:
            self.detail.set_remix(self.remixes[self.selected])
        if any(r.status in IN_PROGRESS for r in remixes):
            self._timer.start()
        else:
            self._timer.stop()

    def _failed(self, exc: BaseException) -> None:
        self._busy = False
        self.error.setText(describe(exc))
        self.error.setVisible(True)

    def _selected(self, item: QListWidgetItem | None, _previous=None) -> None:
        if item is None:
            return
        self.selected = item.data(Qt.ItemDataRole.UserRole)
        self.placeholder.setVisible(False)
        self.detail.setVisible(True)
        self.detail.set_remix(self.remixes[self.selected])

    def show_remix(self, remix: RemixInfo) -> None:
        """Show any remix (one of ours, or another fan's opened from a link) on the page."""
        self.selected = remix.id
        self.remixes.setdefault(remix.id, remix)
        self.select(remix.id)
        self.placeholder.setVisible(False)
        self.detail.setVisible(True)
        self.detail.set_remix(remix)

    def select(self, remix_id: str) -> None:
        for i in range(self.list.count()):
            if self.list.item(i).data(Qt.ItemDataRole.UserRole) == remix_id:
                self.list.setCurrentRow(i)
                return
