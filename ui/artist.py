"""Artist mode: the artist's tracks, each with its review queue, policy editor and audit log.

Shown only to accounts with the `artist` role. The platform authorises every call (only a track's
own artist may review or change it), so this view never decides who may do what; it shows the
platform's answer when it refuses.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.client import PlatformClient
from core.contract import (
    ArtistTrack,
    AuditEntry,
    RemixInfo,
    RemixStatus,
    ReviewDecision,
    RightsPolicy,
    TrackDetail,
)
from core.text import isolate
from core.wording import policy_label, policy_value
from ui.policy import PolicyDialog
from ui.remixes import Listener, RemixDetail, describe, fill_remix_list, restyle
from ui.sidebar import sidebar_list
from ui.takedown import TakedownDialog
from ui.tasks import TaskRunner

QUEUE_REFRESH_MS = 5000
ACTION_TEXT = {
    "policy_changed": "Changed the policy",
    "remix_approved": "Approved a remix",
    "remix_rejected": "Rejected a remix",
    "remix_taken_down": "Took down a remix",
}


def track_row_text(track: ArtistTrack) -> str:
    """A track in the sidebar: title, stems and state, and what waits for review."""
    state = "open to remixes" if track.opted_in else "closed to remixes"
    text = f"{isolate(track.title)}\n{track.stem_count} stems · {state}"
    if track.awaiting_review:
        text += f"\n{track.awaiting_review} waiting for review"
    return text


def policy_summary(policy: RightsPolicy, detail: TrackDetail | None = None) -> str:
    if not policy.opted_in:
        return "Closed to remixes (only you can preview it)"
    if policy.allowed_stems is None:
        stems = "all stems"
    else:
        names = {s.id: s.name for s in detail.stems} if detail else {}
        stems = ", ".join(names.get(s, s) for s in policy.allowed_stems)
    approval = "you approve each remix" if policy.requires_approval else "published at once"
    return (
        f"Open to remixes · {stems} · tempo ×{policy.tempo_ratio_min:g}–"
        f"{policy.tempo_ratio_max:g} · key {policy.key_shift_min:+d}…{policy.key_shift_max:+d} · "
        f"creator {policy.creator_share * 100:g} % · {approval}"
    )


def audit_details(
    entry: AuditEntry, titles: dict[str, str], stem_names: dict[str, str] | None = None
) -> str:
    """What changed, in a line: the policy settings that differ (named as the policy editor
    names them, stems by name), or the remix and the reason."""
    if entry.action == "policy_changed":
        before, after = entry.before or {}, entry.after or {}
        changes = [
            f"{policy_label(key)}: {policy_value(key, before.get(key), stem_names)} → "
            f"{policy_value(key, after[key], stem_names)}"
            for key in after
            if before.get(key) != after[key]
        ]
        return "; ".join(changes) or "nothing changed"
    remix = titles.get(entry.remix_id or "")
    text = f"“{isolate(remix)}”" if remix else "a remix that is no longer listed"
    return f"{text} — {isolate(entry.reason)}" if entry.reason else text


class ArtistView(QObject):
    """`sidebar`: the artist's tracks. `page`: the selected track's queue, policy and audit."""

    def __init__(self, client: PlatformClient, tasks: TaskRunner, listener: Listener) -> None:
        super().__init__()
        self.client, self.tasks, self.listener = client, tasks, listener
        self.tracks: dict[str, ArtistTrack] = {}
        self.detail: TrackDetail | None = None
        self.queue: dict[str, RemixInfo] = {}
        self.titles: dict[str, str] = {}
        self.selected: str | None = None
        self.audit_entries: list[AuditEntry] = []
        self.policy_dialog: PolicyDialog | None = None
        self.takedown_dialog: TakedownDialog | None = None

        self.sidebar = QWidget()
        self.sidebar.setObjectName("sidebarPanel")
        column = sidebar_list(self.sidebar, "YOUR TRACKS", "Your tracks")
        self.track_list, self.empty = column.list, column.empty

        self.page = QWidget()
        self._build_page()
        self.track_list.currentItemChanged.connect(self._track_selected)
        # New submissions arrive while the artist looks: the queue refreshes while it is shown.
        self._poll = QTimer(self, interval=QUEUE_REFRESH_MS)
        self._poll.timeout.connect(self._poll_queue)
        self._poll.start()
        self.setParent(self.page)  # timers and all go with the window, never outlive it

    # -- layout -----------------------------------------------------------------------------------

    def _build_page(self) -> None:
        self.title = QLabel("Your tracks")
        self.title.setObjectName("pageTitle")
        self.policy_line = QLabel("Pick a track to review its remixes and set its policy.")
        self.policy_line.setObjectName("trackMeta")
        self.policy_line.setWordWrap(True)
        self.policy_button = QPushButton("Policy…")
        self.policy_button.setEnabled(False)
        self.policy_button.clicked.connect(self.edit_policy)
        head_text = QVBoxLayout()
        head_text.addWidget(self.title)
        head_text.addWidget(self.policy_line)
        header = QWidget()
        header.setObjectName("trackHeader")
        header.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        head = QHBoxLayout(header)
        head.setContentsMargins(20, 14, 20, 14)
        head.addLayout(head_text, 1)
        head.addWidget(self.policy_button, 0, Qt.AlignmentFlag.AlignTop)
        self.error = QLabel("")
        self.error.setObjectName("banner")
        self.error.setWordWrap(True)
        self.error.setVisible(False)

        # Review queue: filter + list on the left, the remix with its decision on the right.
        self.filter = QComboBox()
        self.filter.addItem("Pending approval", RemixStatus.PENDING_APPROVAL.value)
        self.filter.addItem("All remixes", "")
        self.filter.currentIndexChanged.connect(lambda _i: self.refresh_queue())
        self.queue_list = QListWidget()
        self.queue_list.setObjectName("remixList")
        self.queue_list.setAccessibleName("Review queue")
        self.queue_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.queue_empty = QLabel("")
        self.queue_empty.setObjectName("hint")
        self.queue_empty.setWordWrap(True)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 8, 0)
        left_layout.addWidget(self.filter)
        left_layout.addWidget(self.queue_list, 1)
        left_layout.addWidget(self.queue_empty)
        self.remix_detail = RemixDetail(self.listener, stacked=True)
        self.remix_detail.setVisible(False)
        self.reason = QLineEdit()
        self.reason.setMaxLength(1000)
        self.reason.setPlaceholderText("Reason (required to reject; the creator sees it)")
        self.approve = QPushButton("Approve and publish")
        self.approve.setObjectName("primary")
        self.reject = QPushButton("Reject")
        self.reject.setObjectName("danger")
        self.decision_error = QLabel("")
        self.decision_error.setObjectName("error")
        self.decision_error.setWordWrap(True)
        self.decision = QWidget()
        self.decision.setObjectName("decisionBar")
        self.decision.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        row = QHBoxLayout()
        row.addWidget(self.reason, 1)
        row.addWidget(self.reject)
        row.addWidget(self.approve)
        box = QVBoxLayout(self.decision)
        box.setContentsMargins(12, 10, 12, 10)
        box.addLayout(row)
        box.addWidget(self.decision_error)
        self.decision_error.setVisible(False)
        self.remix_detail.actions.addWidget(self.decision)
        # A published remix can be taken down (with a reason the creator reads).
        self.takedown_button = QPushButton("Take down…")
        self.takedown_button.setObjectName("danger")
        self.takedown_button.setToolTip(
            "Stop fans hearing this remix; its creator sees your reason"
        )
        self.takedown_button.clicked.connect(self.take_down)
        self.takedown_bar = QWidget()
        takedown_row = QHBoxLayout(self.takedown_bar)
        takedown_row.setContentsMargins(0, 0, 0, 0)
        takedown_row.addWidget(self.takedown_button)
        takedown_row.addStretch(1)
        self.takedown_bar.setVisible(False)
        self.remix_detail.actions.addWidget(self.takedown_bar)
        self.approve.clicked.connect(lambda: self.decide(ReviewDecision.APPROVE))
        self.reject.clicked.connect(lambda: self.decide(ReviewDecision.REJECT))
        self.queue_list.currentItemChanged.connect(self._remix_selected)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(self.remix_detail)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([260, 640])

        self.audit_view = QTreeWidget()
        self.audit_view.setHeaderLabels(["When", "Who", "What", "Details"])
        self.audit_view.setRootIsDecorated(False)
        self.audit_view.setWordWrap(True)
        self.audit_view.setAlternatingRowColors(True)
        self.audit_view.setColumnWidth(0, 180)
        self.audit_view.setColumnWidth(1, 90)
        self.audit_view.setColumnWidth(2, 150)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("pageTabs")
        self.tabs.addTab(splitter, "Review queue")
        self.tabs.addTab(self.audit_view, "Audit log")
        self.tabs.currentChanged.connect(lambda i: self.refresh_audit() if i == 1 else None)
        layout = QVBoxLayout(self.page)
        layout.setContentsMargins(22, 18, 22, 14)
        layout.setSpacing(12)
        layout.addWidget(header)
        layout.addWidget(self.error)
        layout.addWidget(self.tabs, 1)

    # -- tracks -----------------------------------------------------------------------------------

    def refresh(self) -> None:
        self.refresh_tracks()
        if self.detail is not None:
            self.refresh_queue()

    def refresh_tracks(self) -> None:
        self.tasks.run(self.client.artist_tracks, self._show_tracks, self._failed)

    def _show_tracks(self, tracks: list[ArtistTrack]) -> None:
        keep = self.detail.id if self.detail else None
        same = [t.id for t in tracks] == list(self.tracks)
        self.tracks = {t.id: t for t in tracks}
        self.empty.setText("" if tracks else "You have no tracks on this platform yet.")
        if same:  # the counts change often: update the rows in place (selection, scroll stay)
            for row, t in enumerate(tracks):
                self.track_list.item(row).setText(track_row_text(t))
            return
        self.track_list.blockSignals(True)
        self.track_list.clear()
        for t in tracks:
            item = QListWidgetItem(track_row_text(t))
            item.setData(Qt.ItemDataRole.UserRole, t.id)
            self.track_list.addItem(item)
            if t.id == keep:
                self.track_list.setCurrentItem(item)
        self.track_list.blockSignals(False)

    def _track_selected(self, item: QListWidgetItem | None, _previous=None) -> None:
        if item is not None:
            self.open_track(item.data(Qt.ItemDataRole.UserRole))

    def open_track(self, track_id: str) -> None:
        client = self.client
        self.tasks.run(lambda: client.track(track_id), self._show_track, self._failed)

    def _show_track(self, detail: TrackDetail) -> None:
        changed = self.detail is None or self.detail.id != detail.id
        self.detail = detail
        self.title.setText(detail.title)
        self.policy_line.setText(policy_summary(detail.policy, detail))
        self.policy_button.setEnabled(True)
        self.error.setVisible(False)
        if changed:
            self.selected = None
            self.remix_detail.setVisible(False)
        self.refresh_queue()
        if self.tabs.currentIndex() == 1:
            self.refresh_audit()

    # -- review queue -----------------------------------------------------------------------------

    def _poll_queue(self) -> None:
        if self.page.isVisible() and self.tabs.currentIndex() == 0:
            self.refresh_queue()
            self.refresh_tracks()  # counts of remixes waiting on every track

    def refresh_queue(self) -> None:
        if self.detail is None:
            return
        client, track_id = self.client, self.detail.id
        status = self.filter.currentData()
        wanted = RemixStatus(status) if status else None
        self.tasks.run(
            lambda: client.review_queue(track_id, wanted), self._show_queue, self._failed
        )

    def _show_queue(self, remixes: list[RemixInfo]) -> None:
        self.queue = {r.id: r for r in remixes}
        self.titles.update({r.id: r.title for r in remixes})
        fill_remix_list(self.queue_list, remixes, self.selected)
        pending = self.filter.currentData() == RemixStatus.PENDING_APPROVAL.value
        if remixes:
            self.queue_empty.setText("")
        elif pending and self.detail is not None and not self.detail.policy.requires_approval:
            self.queue_empty.setText(
                "Nothing waits for you: remixes of this track publish at once. Turn on approval "
                "in Policy… to review each one first."
            )
        else:
            self.queue_empty.setText("Nothing to review. New remixes appear here.")
        if self.selected in self.queue:
            self._show_remix(self.queue[self.selected])
        elif self.selected is not None and self.listener.active(self.selected):
            pass  # decided while heard: it stays shown, with its Pause, until another is picked
        elif self.selected is not None:
            self.selected = None
            self.remix_detail.setVisible(False)

    def _remix_selected(self, item: QListWidgetItem | None, _previous=None) -> None:
        if item is None:
            return
        self.selected = item.data(Qt.ItemDataRole.UserRole)
        self.reason.clear()
        self._decision_failed_text("")
        self._show_remix(self.queue[self.selected])

    def _show_remix(self, remix: RemixInfo) -> None:
        self.remix_detail.setVisible(True)
        self.remix_detail.set_remix(remix)
        pending = remix.status == RemixStatus.PENDING_APPROVAL
        self.decision.setVisible(pending)
        self.takedown_bar.setVisible(remix.status == RemixStatus.PUBLISHED)
        if remix.status == RemixStatus.TAKEN_DOWN:
            self.remix_detail.listen.set_remix(remix, True)  # the artist still hears it

    def take_down(self) -> TakedownDialog | None:
        """Ask for the reason, then take the selected (published) remix down."""
        remix = self.queue.get(self.selected or "")
        if remix is None or remix.status != RemixStatus.PUBLISHED:
            return None
        dialog = TakedownDialog(remix, self.client, self.tasks, self.page.window())
        dialog.accepted.connect(lambda: self._taken_down(dialog))
        self.takedown_dialog = dialog
        dialog.open()
        return dialog

    def _taken_down(self, dialog: TakedownDialog) -> None:
        remix = dialog.remix
        if remix is None:
            return
        self.queue[remix.id] = remix
        if self.selected == remix.id:
            self._show_remix(remix)
        self.refresh_queue()
        self.refresh_audit()

    def decide(self, decision: ReviewDecision) -> None:
        if self.selected is None:
            return
        reason = self.reason.text().strip()
        if decision == ReviewDecision.REJECT and not reason:
            self._decision_failed_text(
                "Write why you are rejecting this remix first: the creator sees your reason."
            )
            return
        self.approve.setEnabled(False)
        self.reject.setEnabled(False)
        client, remix_id = self.client, self.selected
        self.tasks.run(
            lambda: client.review(remix_id, decision, reason), self._decided, self._decide_failed
        )

    def _decided(self, remix: RemixInfo) -> None:
        self.approve.setEnabled(True)
        self.reject.setEnabled(True)
        self.queue[remix.id] = remix
        self.reason.clear()
        self._show_remix(remix)
        self.refresh_queue()
        self.refresh_audit()
        self.refresh_tracks()

    def _decide_failed(self, exc: BaseException) -> None:
        self.approve.setEnabled(True)
        self.reject.setEnabled(True)
        self._decision_failed_text(describe(exc))
        self.refresh_queue()

    def _decision_failed_text(self, text: str) -> None:
        self.decision_error.setText(text)
        self.decision_error.setVisible(bool(text))
        restyle(self.decision_error)

    # -- policy and audit -------------------------------------------------------------------------

    def edit_policy(self) -> PolicyDialog | None:
        if self.detail is None:
            return None
        dialog = PolicyDialog(self.detail, self.client, self.tasks, self.page.window())
        dialog.accepted.connect(self._policy_saved)
        self.policy_dialog = dialog
        dialog.open()
        return dialog

    def _policy_saved(self) -> None:
        if self.detail is not None:
            self.open_track(self.detail.id)  # the platform's copy, not the dialog's
            self.refresh_tracks()

    def refresh_audit(self) -> None:
        if self.detail is None:
            return
        client, track_id = self.client, self.detail.id

        def fetch() -> tuple[list[AuditEntry], dict[str, str]]:
            # Reviews name remixes by id; every remix of the track gives them their titles.
            titles = {r.id: r.title for r in client.review_queue(track_id)}
            return client.audit(track_id), titles

        self.tasks.run(fetch, self._show_audit, self._failed)

    def _show_audit(self, result: tuple[list[AuditEntry], dict[str, str]]) -> None:
        entries, titles = result
        self.titles.update(titles)
        self.audit_entries = entries
        self.audit_view.clear()
        stem_names = {s.id: s.name for s in self.detail.stems} if self.detail else {}
        for e in entries:
            item = QTreeWidgetItem(
                [
                    f"{e.at.astimezone():%d %b %Y, %H:%M:%S}",
                    e.actor,
                    ACTION_TEXT.get(e.action, e.action),
                    audit_details(e, self.titles, stem_names),
                ]
            )
            item.setToolTip(3, item.text(3))
            self.audit_view.addTopLevelItem(item)
        if not entries:
            hint = "Policy changes, reviews and takedowns appear here."
            self.audit_view.addTopLevelItem(QTreeWidgetItem(["", "", "Nothing yet", hint]))

    def _failed(self, exc: BaseException) -> None:
        self.error.setText(describe(exc))
        self.error.setVisible(True)
