"""The studio window: catalog on the left; track, transport and mixer on the right; the menu bar
(ui/menus.py) over them.

Laid out for 1280×720 up to 4K (tests/test_ui_layout.py): the header puts the track's name and
its buttons on one line and its tempo and key under them, the strips scroll sideways, and the
sidebar sits in a splitter; size, place and splitters are remembered (`layout_file`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QUndoStack
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.cache import EncryptedCache
from app.client import PlatformClient, PlatformError, PlatformUnavailable
from app.drafts import DraftStore
from app.playback import LOST_MESSAGE, AudioOutput, Engine
from app.session import TokenVault
from app.settings import Settings
from app.streaming import TrackStream
from app.studiosession import OpenedTrack, StudioSession
from core.contract import Account, RemixDocument, RemixInfo, RemixStatus, TrackDetail, TrackSummary
from core.links import LinkError, parse_remix_link
from core.text import isolate
from ui.arrangement import ArrangementEditor
from ui.catalog import CatalogPanel
from ui.devices import AudioSettingsDialog
from ui.diagnostics import install_diagnostics
from ui.elide import ElidedLabel
from ui.menus import StudioMenus
from ui.midilearn import install_midi
from ui.mixer import MixerPanel
from ui.sections import SIDEBAR_WIDTH, Sections
from ui.selection import StripSelection
from ui.submit import SubmitDialog
from ui.tasks import TaskRunner
from ui.timeline import TimelineFeed, TimelineView, timeline_splitter
from ui.trackcontrols import TrackControls
from ui.trackremixes import install_track_remixes
from ui.transport import TransportBar, format_time
from ui.transportctl import TransportController
from ui.undo import RemixUndo
from ui.upgrade import UpgradePanel
from ui.windowstate import WindowState, initial_geometry

POLL_MS = 33  # ~30 Hz: meters and playhead
LISTENING_TIP = "Another remix is playing. Press Back to my mix to edit yours."
AUTOSAVE_MS = 150
"""Drafts follow every edit: a write at once when none was made in the last AUTOSAVE_MS, else one
that long after the previous write (a drag writes ~7 times a second, its last value always), so
a crash loses at most the last ~0.15 s. A write is ~1 ms (~10 ms for a remix full of automation)."""
DEVICE_POLL_MS = 1000
DEVICE_MESSAGES = (LOST_MESSAGE,)
NARROW_SIDEBAR = 260
"""The sidebar's first width on a window narrower than WIDE: the studio needs the room more."""
WIDE = 1440


def describe(exc: BaseException) -> str:
    return exc.message if isinstance(exc, PlatformError) else f"Something went wrong: {exc}"


class MainWindow(QMainWindow):
    trackOpened = Signal(str)
    signedOut = Signal()  # the session ended: the app shows the sign-in window again

    def __init__(
        self,
        client: PlatformClient,
        engine: Engine,
        tasks: TaskRunner,
        drafts: DraftStore,
        cache_dir: Path,
        *,
        account: Account | None = None,
        vault: TokenVault | None = None,
        audio_problem: str | None = None,
        output: AudioOutput | None = None,
        settings: Settings | None = None,
        layout_file: Path | None = None,
        midi_file: Path | None = None,
        midi_inputs: bool = False,
    ) -> None:
        """`layout_file`: where the window's size, place and splitters are remembered (an INI
        file under the data dir, ui/shell.py); None remembers nothing (tests, scripts).
        `midi_file`: where MIDI mappings are kept (None: in memory only); `midi_inputs`: open
        the computer's MIDI inputs (the app does; tests feed messages in themselves)."""
        super().__init__()
        self.client, self.engine, self.tasks, self.drafts = client, engine, tasks, drafts
        self.cache_dir = cache_dir
        self.vault = vault
        # The session owns the engine, the stream, the cache and who is heard (app/
        # studiosession.py); this window shows its state and forwards the user's acts to it.
        self.session = StudioSession(
            client,
            engine,
            tasks,
            drafts,
            cache_dir,
            vault=vault,
            cache_limit_bytes=lambda: self._cache_limit_bytes(),
        )
        self._reconnect_shown = False
        self._closed = False
        self.studio = self.session.studio
        self.account = account or client.account
        self._rested_tips: dict[QWidget, str] = {}  # controls resting while a remix is heard
        self.preview_as_fan = False  # an artist hears their track as fans get it
        self.setWindowTitle("Encore — Superfan remix studio")
        self.undo_stack: QUndoStack | None = None  # set_undo_stack: Edit ▸ Undo names the step

        self.catalog = CatalogPanel()
        self.header = self._build_header()
        self.banner = QLabel("")
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.setVisible(False)
        # One action beside the banner's message (Retry, Restore draft…): a message a user can
        # act on offers the act.
        self.banner_action = QPushButton("")
        self.banner_action.setVisible(False)
        self.banner_action.clicked.connect(self._banner_clicked)
        self._banner_act: Callable[[], None] | None = None
        banner_row = QHBoxLayout()
        banner_row.addWidget(self.banner, 1)
        banner_row.addWidget(self.banner_action, 0, Qt.AlignmentFlag.AlignVCenter)
        self.transport = TransportBar()
        self.arrangement = ArrangementEditor()
        self.transport_ctl = TransportController(
            self.studio, self.transport, self.arrangement, self.session
        )
        # Every stem's waveform with sections, loop, automation and playhead (ui/timeline.py).
        self.timeline = TimelineView()
        self.timeline_feed = TimelineFeed(self.studio, self.timeline, self.session)
        self.timeline.seekRequested.connect(self._timeline_seek)
        self.timeline.loopRequested.connect(self._timeline_loop)
        self.mixer = MixerPanel()  # strips scroll sideways inside it; returns, master pinned
        self.selection = StripSelection(self.mixer, self.mixer.scroll)
        self.submit_button = QPushButton("Submit remix…")
        self.submit_button.setObjectName("primary")
        self.submit_button.setEnabled(False)
        self.submit_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.submit_button.setToolTip("Title, description and AI declaration, then publish")
        # Submit sits in the header and the draft's state in the status bar: at 720 px every
        # pixel of height goes to the strips, whose faders and buttons must not be cut off.
        self.header_buttons.insertWidget(0, self.submit_button)
        self.draft_label = ElidedLabel("")
        self.draft_label.setObjectName("hint")
        self.statusBar().addPermanentWidget(self.draft_label)

        right = QVBoxLayout()
        right.setContentsMargins(14, 6, 14, 4)
        right.setSpacing(6)
        right.addWidget(self.header)
        right.addLayout(banner_row)
        right.addWidget(self.transport)
        right.addWidget(self.arrangement)
        # The timeline over the strips, in a splitter (remembered): at 1280×720 it has its
        # minimum (eight lanes of 8 px); a bigger window gives it room first, then the strips.
        self.timeline_split = timeline_splitter(self.timeline, self.mixer)
        right.addWidget(self.timeline_split, 1)
        # A track the caller may not stream (free tier): what Superfan unlocks, instead of
        # controls that could not play anything.
        self.upgrade = UpgradePanel(client.base_url)
        self.upgrade.covers(
            self.transport, self.arrangement, self.mixer, self.submit_button,
            self.draft_label, self.track_controls, self.header_notes, self.timeline,
            self.timeline_split,
        )  # fmt: skip
        right.insertWidget(2, self.upgrade, 1)
        studio_page = QWidget()
        studio_page.setObjectName("studioPage")
        studio_page.setLayout(right)
        # From 1280×720 up the page fits as it is (tests/test_ui_layout.py); on a smaller
        # screen (720 px less a panel and a title bar) it scrolls rather than squeezing its
        # controls into each other.
        self.page_scroll = QScrollArea()
        self.page_scroll.setObjectName("studioScroll")
        self.page_scroll.setWidgetResizable(True)
        self.page_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.page_scroll.setWidget(studio_page)
        self.page_scroll.viewport().setAutoFillBackground(False)
        studio_page.setAutoFillBackground(False)
        # Catalog · My remixes · Review (artists): the sidebar switch also switches this area.
        self.sections = Sections(
            self.catalog, self.page_scroll, client, tasks, self.session, self.account
        )
        self.sections.listener.changed.connect(self._follow_listening)
        self.session.on_listening_change(self._listening_changed)
        # The sidebar in a splitter: narrower on a laptop, wider on a desk, remembered.
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("central")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setHandleWidth(4)
        self.splitter.addWidget(self.sections.sidebar)
        self.splitter.addWidget(self.sections.pages)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.setCentralWidget(self.splitter)
        self.splitters: dict[str, QSplitter] = {
            "sidebar": self.splitter,
            "timeline": self.timeline_split,
        }
        """Every splitter whose sizes are remembered (a new one just adds itself here)."""
        if self.account:
            self.statusBar().showMessage(
                f"Signed in as {isolate(self.account.username)} · "
                f"{self.account.tier.value.capitalize()} tier · {client.base_url}"
            )

        self.catalog.trackActivated.connect(self.open_track)
        self.catalog.searchChanged.connect(self.refresh_catalog)
        self.transport.playToggled.connect(self.toggle_play)
        self.transport.seekRequested.connect(self.session.seek)  # what is heard
        self.submit_button.clicked.connect(self.open_submit)
        self.mixer.master.gainChanged.connect(self._master_gain)
        self.mixer.returns.reverbChanged.connect(self._reverb_bus)
        self.mixer.returns.delayChanged.connect(self._delay_bus)

        self._poll = QTimer(self, interval=POLL_MS)
        self._poll.timeout.connect(self._tick)
        self._poll.start()
        self._autosave = QTimer(self, singleShot=True)
        self._autosave.timeout.connect(self._save_draft)
        self._saved_at = float("-inf")  # time.monotonic() of the last draft write
        self.studio.on_change(lambda _doc: self._draft_changed())
        if audio_problem:
            self.show_banner(audio_problem)
        # The audio device: settings dialog, and loss/recovery watched once a second.
        self.output, self.settings = output, settings or Settings()
        self._device_banner = output.message if output is not None else None
        self._device_timer = QTimer(self, interval=DEVICE_POLL_MS)
        self._device_timer.timeout.connect(self._watch_device)
        if output is not None:
            self._device_timer.start()
            if output.message and not audio_problem:
                self.show_banner(output.message)
        # QA accounts: live audio, stream, cache and platform figures (ui/diagnostics.py).
        self.diagnostics = (
            install_diagnostics(self) if self.account and self.account.diagnostics else None
        )
        # The menu bar; Space plays/pauses, L loops, Home, M, S, [ and ] work from anywhere in
        # the window but a text box (typed there), through the menus' actions.
        self.menus = StudioMenus(self, self.selection)
        self.play_key = self.menus.keys["play"]
        self.loop_key = self.menus.keys["loop"]
        # Undo/redo of every edit (ui/undo.py, it calls set_undo_stack): emptied when a track
        # opens and at sign-out.
        self.remix_undo = RemixUndo(self)
        # MIDI learn (ui/midilearn.py): right-click a control ▸ Learn MIDI, Mixer ▸ MIDI
        # controllers…; a MIDI move sets the widget as a hand would, so undo and automation see it.
        self.midi = install_midi(self, midi_file, open_inputs=midi_inputs)
        # Other fans' remixes of the open track, beside the studio (ui/trackremixes.py).
        self.track_remixes = install_track_remixes(self)
        self.window_state = WindowState(layout_file)
        self._place_window()
        self.refresh_catalog("")

    def _place_window(self) -> None:
        """Where the window was last time, else the first start's size for this screen."""
        if self.window_state.restore(self, self.splitters):
            return
        screen = self.screen() or QGuiApplication.primaryScreen()
        rect = initial_geometry(screen.availableGeometry(), self.minimumSizeHint())
        self.setGeometry(rect)
        sidebar = SIDEBAR_WIDTH if rect.width() >= WIDE else NARROW_SIDEBAR
        self.splitter.setSizes([sidebar, max(1, rect.width() - sidebar)])

    def set_undo_stack(self, stack: QUndoStack) -> None:
        """The hook for undo: Edit ▸ Undo / Redo become `stack`'s actions (Ctrl+Z, Ctrl+Shift+Z)
        and name the step they undo; until then they say "Nothing to undo"."""
        self.undo_stack = stack
        self.menus.install_undo_stack(stack)

    def _build_header(self) -> QWidget:
        header = QWidget()
        header.setObjectName("trackHeader")
        header.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        # Long titles and artist lines shrink a little, then end in "…" with a tooltip.
        self.track_title = ElidedLabel("Pick a track to remix", min_point_size=14)
        self.track_title.setObjectName("trackTitle")
        self.track_meta = ElidedLabel("Stream its stems, mix them your way, and publish to fans.")
        self.track_meta.setObjectName("trackMeta")
        self.load_progress = QProgressBar()
        self.load_progress.setRange(0, 1000)
        self.load_progress.setTextVisible(False)
        self.load_progress.setVisible(False)
        self.sign_out = QPushButton("Sign out")
        self.sign_out.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.sign_out.clicked.connect(self.sign_out_and_close)
        # Two lines: the title with the buttons, then the meta line with tempo and key; one line
        # needed ~1500 px and overlapped on a 1280 px screen. Under the meta line the artist's
        # tempo/key limits (or the can't-keep-up warning), or the loading bar while the stems
        # load: one line either way, beside the controls, so the header costs no more height.
        self.track_controls = TrackControls(notes_beside=True)  # inside the track's policy
        self.track_controls.tempoChanged.connect(self._tempo_ratio)
        self.track_controls.keyChanged.connect(self._key_shift)
        loading = QWidget()
        bar = QVBoxLayout(loading)
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.load_progress, 0, Qt.AlignmentFlag.AlignVCenter)
        self.header_notes = QStackedWidget()
        self.header_notes.addWidget(self.track_controls.notes)
        self.header_notes.addWidget(loading)
        grid = QGridLayout(header)
        grid.setContentsMargins(18, 6, 18, 6)
        grid.setHorizontalSpacing(16)
        grid.setVerticalSpacing(2)
        buttons = self.header_buttons = QHBoxLayout()
        buttons.setSpacing(8)
        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(self.track_meta)
        text.addWidget(self.header_notes)
        text.addStretch(1)
        grid.addWidget(self.track_title, 0, 0)
        grid.addLayout(buttons, 0, 1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        grid.addLayout(text, 1, 0)
        grid.addWidget(self.track_controls, 1, 1, Qt.AlignmentFlag.AlignRight)
        grid.setColumnStretch(0, 1)
        self.preview_button = QPushButton("Preview as fan")
        self.preview_button.setObjectName("previewButton")  # lit while on (theme.qss)
        self.preview_button.setCheckable(True)
        self.preview_button.setVisible(False)  # only on the artist's own tracks
        self.preview_button.setToolTip(
            "Hear and remix this track exactly as fans get it: stems you keep out of remixes "
            "are locked"
        )
        self.preview_button.toggled.connect(self._preview_toggled)
        buttons.addWidget(self.preview_button)
        self.audio_button = QPushButton("Audio…")
        self.audio_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.audio_button.setToolTip("Output device, block size, latency and dropouts")
        self.audio_button.clicked.connect(self.open_audio_settings)
        buttons.addWidget(self.audio_button)
        buttons.addWidget(self.sign_out)
        return header

    # -- catalog and opening -----------------------------------------------------------------------

    def refresh_catalog(self, query: str) -> None:
        client = self.client
        self.tasks.run(
            lambda: client.tracks(query),
            self._show_tracks,
            lambda exc: self._on_error(exc, lambda: self.refresh_catalog(query)),
        )

    def _show_tracks(self, tracks: list[TrackSummary]) -> None:
        if self._closed:  # a search answered after the window closed (signed out, or deleted)
            return
        self.catalog.set_tracks(tracks)

    @property
    def cache(self) -> EncryptedCache | None:
        return self.session.cache

    @property
    def detail(self) -> TrackDetail | None:
        """The open track's details (the session's)."""
        return self.session.detail

    @property
    def _play_pending(self) -> bool:
        return self.session.play_pending

    def open_track(self, track_id: str) -> None:
        if self.session.loading_id is not None:
            return
        self.hide_banner()
        self.session.open_track(
            track_id,
            as_fan=self.preview_as_fan,
            shown=self._on_detail,
            opened=self._on_opened,
            failed=self._on_open_error,
        )

    def _on_detail(self, detail: TrackDetail) -> bool:
        """The track's details arrived: shown in the header. False when the user may not
        stream it (the upgrade panel says why, and how): the session stops there."""
        self.track_title.setText(detail.title)
        self.track_meta.setText(
            f"{isolate(detail.artist)} · {detail.bpm:g} BPM · {detail.key} · "
            f"{format_time(detail.duration)[:-2]} · {len(detail.stems)} stems"
        )
        self.preview_button.setVisible(detail.owned)
        if not detail.owned:
            self._set_preview(False)
        return not self.upgrade.show_for(detail, self.account)

    def _on_opened(self, opened: OpenedTrack) -> None:
        """The session opened the track (stream started, draft restored): show it."""
        detail, stream, doc, locked = opened.detail, opened.stream, opened.document, opened.locked
        draft = opened.restored_draft
        self._follow_listening()  # opening ends any listening: the mix wakes
        strips = self.mixer.set_stems(
            detail.stems, doc.stems, set(detail.policy.solo_forbidden_stems), locked
        )
        for stem_id in detail.locked_stems(as_fan=True).keys() - locked.keys():
            self.mixer.strips[stem_id].mark_locked_for_fans(detail.LOCKED_MESSAGE)
        self.selection.adopt()  # the Mixer menu's target: the same stem, else the first
        for strip in strips:
            strip.gainChanged.connect(self.studio.set_gain_db)
            strip.panChanged.connect(self.studio.set_pan)
            strip.muteToggled.connect(self.studio.set_mute)
            strip.soloToggled.connect(self.studio.set_solo)
            strip.eqChanged.connect(self.studio.set_eq)
            strip.filtersChanged.connect(self.studio.set_filters)
            strip.sendsChanged.connect(self.studio.set_sends)
        self.mixer.returns.show_settings(doc.reverb, doc.delay)
        self.load_progress.setValue(0)
        self._show_loading(True)
        self.transport.set_duration(stream.n_frames / stream.sample_rate)
        self.transport.set_enabled(True)
        self.track_controls.set_track(
            detail.analysis.bpm if detail.analysis else detail.bpm,
            detail.analysis.key if detail.analysis else detail.key,
            detail.policy,
            doc.tempo_ratio,
            doc.key_shift,
        )
        self.transport_ctl.track_opened()  # arrangement chips, arranged duration, loop
        self.timeline_feed.track_opened()
        self.submit_button.setEnabled(True)
        self.draft_label.setText(
            "Restored your unsaved draft of this remix." if draft else "Draft autosaves as you mix."
        )
        self.trackOpened.emit(detail.id)

    def _preview_toggled(self, on: bool) -> None:
        """Reopen the artist's track as fans get it (or in full): same draft, other stems."""
        self.preview_as_fan = on
        self._label_preview(on)
        if self.detail is not None and self.detail.owned:
            self._save_draft()
            self.open_track(self.detail.id)

    def _set_preview(self, on: bool) -> None:
        blocked = self.preview_button.blockSignals(True)
        self.preview_button.setChecked(on)
        self.preview_button.blockSignals(blocked)
        self.preview_as_fan = on
        self._label_preview(on)

    def _label_preview(self, on: bool) -> None:
        """The button's text says which view is on: its lit state alone was easy to miss."""
        self.preview_button.setText("Previewing as fan" if on else "Preview as fan")

    def _on_open_error(self, exc: BaseException, track_id: str) -> None:
        self._show_loading(False)
        self._on_error(exc, lambda: self.open_track(track_id))

    # -- transport and meters ---------------------------------------------------------------------

    def toggle_play(self) -> None:
        """Play/pause what is heard (the remix being listened to, else the track; a track
        starts on the tick its playhead's chunk is decoded: no skip)."""
        self.session.toggle_play()

    def _tempo_ratio(self, ratio: float) -> None:
        if self.studio.document is not None:
            self.studio.set_tempo_ratio(ratio)

    def _key_shift(self, semitones: int) -> None:
        if self.studio.document is not None:
            self.studio.set_key_shift(semitones)

    def _master_gain(self, db: float) -> None:
        if self.studio.document is not None:
            self.studio.set_master_gain_db(db)

    def _reverb_bus(self, size: float, damping: float, wet: float) -> None:
        if self.studio.document is not None:
            self.studio.set_reverb(size=size, damping=damping, wet=wet)

    def _delay_bus(self, beats: float, feedback: float, wet: float) -> None:
        if self.studio.document is not None:
            self.studio.set_delay(beats=beats, feedback=feedback, wet=wet)

    def _tick(self) -> None:
        render = self.session.render
        if render is not None:  # another remix is heard: the transport shows and drives it
            self.session.tick()
            if self.studio.track is not None:
                self.transport.show_state(render.position_seconds, render.playing, "Listening")
                self.timeline_feed.tick()
                _stems, master_peak = self.engine.meters()  # the master meter: what is heard
                self.mixer.master.meter.push(float(master_peak[0]), float(master_peak[1]))
                for strip in self.mixer.strips.values():  # the waiting stems are silent
                    strip.meter.push(0.0)
            return
        stream = self.studio.track
        if stream is None or self.studio.listening:  # suspended by a caller of Studio.listen
            return
        self._show_streaming(stream)
        self.session.tick()  # a pending play starts; a recording pass ends on stop or jump
        self.track_controls.show_stretch_lag(self.studio.stretch_late_seconds, time.monotonic())
        self._follow_automation()
        stem_peaks, master_peak = self.engine.meters()
        for i, strip in enumerate(self.mixer.strips.values()):
            if i < len(stem_peaks):
                strip.meter.push(float(stem_peaks[i]))
        self.mixer.master.meter.push(float(master_peak[0]), float(master_peak[1]))
        pos = self.engine.position_seconds
        section = self._section_at(self.engine.source_position_seconds)
        tempo = self.studio.document.tempo_ratio if self.studio.document is not None else 1.0
        self.transport.show_state(pos, self.engine.playing, section, tempo)
        self.timeline_feed.tick()
        if self.engine.callback_errors and self.banner.isHidden():
            self.show_banner(
                "The audio engine hit an error and went silent to protect your ears. "
                "Reopen the track; if it happens again, restart Encore."
            )

    def _timeline_seek(self, seconds: float) -> None:
        """A click or drag on the timeline: the position bar's seek, of what is heard (while
        another remix plays, the timeline shows that remix and the click moves in it)."""
        if self.studio.track is not None:
            self.session.seek(seconds)

    def _timeline_loop(self, start: float, end: float) -> None:
        """A loop drawn or moved on the timeline: as the transport's loop controls set it (snapped
        to bars when Snap is on), remembered for L. The loop rests while another remix plays."""
        if self.studio.document is not None and self.studio.listening:
            self.statusBar().showMessage(LISTENING_TIP, 5000)
            return
        if self.studio.document is None:
            return
        try:
            self.transport_ctl.set_loop(start, end)
        except ValueError as exc:  # outside the piece or too short: say why
            self.statusBar().showMessage(str(exc), 5000)

    def _follow_automation(self) -> None:
        """Automated controls move with the music, and their strips are marked."""
        lanes = self.studio.automated()
        for stem_id, strip in self.mixer.strips.items():
            params = {param for stem, param in lanes if stem == stem_id}
            strip.set_automated(params)
            for param in params:
                value = self.studio.automated_value(stem_id, param)
                if value is not None:
                    strip.follow_automation(param, value)

    def _show_streaming(self, stream: TrackStream) -> None:
        for state, strip in zip(stream.states, self.mixer.strips.values(), strict=False):
            strip.show_loading(state.fraction, state.message)
        self.load_progress.setValue(int(stream.progress * 1000))
        self._show_loading(not stream.seekable)
        failure = stream.failure
        if failure:
            if self.banner.text() != failure:
                self.engine.pause()
                self.show_banner(failure)
        elif stream.reconnecting and not self._reconnect_shown:
            self._reconnect_shown = True
            self.show_banner(
                "Lost the connection to the platform. Reconnecting — what has "
                "arrived keeps playing."
            )
        elif self._reconnect_shown and not stream.reconnecting:
            self._reconnect_shown = False
            self.hide_banner()

    def _show_loading(self, on: bool) -> None:
        """The loading bar, in the place of the limits' line under the meta line."""
        self.load_progress.setVisible(on)
        self.header_notes.setCurrentIndex(1 if on else 0)

    def _section_at(self, seconds: float) -> str:
        if self.detail is None:
            return ""
        for section in self.detail.analysis.sections:
            if section.start <= seconds < section.end:
                return section.name.capitalize()
        return ""

    # -- drafts, submission, session --------------------------------------------------------------

    def _draft_changed(self) -> None:
        """An edit (Studio's change listener): schedule the draft write (see AUTOSAVE_MS)."""
        if self._autosave.isActive():
            return  # a write is due: it takes the document as it is then
        wait = self._saved_at + AUTOSAVE_MS / 1000 - time.monotonic()
        self._autosave.start(0 if wait <= 0 else int(wait * 1000) + 1)  # 0: next loop turn

    def _save_draft(self) -> None:
        self._autosave.stop()
        if self.studio.document is not None:
            self.session.save_draft()
            self._saved_at = time.monotonic()

    def open_submit(self) -> SubmitDialog | None:
        if self.studio.document is None:
            return None
        dialog = SubmitDialog(self.studio, self.client, self.tasks, self)
        dialog.finished.connect(lambda _r: self._after_submit(dialog))
        dialog.open()
        return dialog

    def _after_submit(self, dialog: SubmitDialog) -> None:
        if dialog.remix is not None and self.studio.document is not None:
            self._autosave.stop()
            self.session.submitted()
            title = isolate(dialog.remix.title)
            self.draft_label.setText(f"Submitted “{title}”: {dialog.remix.status}.")

    def current_document(self) -> RemixDocument | None:
        return self.studio.document

    def sign_out_and_close(self) -> None:
        """End the session (revoked on the platform, no audio left behind) and hand back to the
        sign-in window (`signedOut`): switching accounts needs no relaunch."""
        self.sign_out.setEnabled(False)
        self._autosave.stop()

        def done() -> None:
            self.signedOut.emit()  # the sign-in window opens before this one closes
            self.close()

        self.session.sign_out(done)  # draft kept, no audio left behind, token revoked

    # -- links, drafts at sign-in, the platform coming back ----------------------------------------

    def open_link(self, link: str) -> None:
        """Show and play the remix an `encore://remix/…` link points to."""
        try:
            remix_id = parse_remix_link(link)
        except LinkError as exc:
            self.show_banner(str(exc))
            return
        client = self.client
        self.tasks.run(
            lambda: client.remix(remix_id),
            self._show_linked_remix,
            lambda exc: self._on_error(exc, lambda: self.open_link(link)),
        )

    def _show_linked_remix(self, remix: RemixInfo) -> None:
        self.sections.show_section("remixes")
        self.sections.remixes.show_remix(remix)
        if remix.status == RemixStatus.PUBLISHED and not self.sections.listener.active(remix.id):
            self.sections.listener.toggle(remix)
        self.raise_()
        self.activateWindow()

    def offer_latest_draft(self) -> None:
        """At sign-in: the account's last unsubmitted draft, offered back in one click."""
        draft = self.drafts.latest()
        if draft is None:
            return
        self.show_banner(
            f"You have an unsubmitted draft: “{isolate(draft.title)}”. "
            "Restore it to carry on mixing.",
            "Restore draft",
            lambda: self.open_track(draft.track_id),
        )

    def platform_restarted(self) -> None:
        """The embedded platform died and was started again (ui/shell.py): say so, carry on."""
        self.show_banner(
            "The local platform stopped unexpectedly and Encore restarted it. You can carry on: "
            "streaming resumes where it was."
        )
        self.refresh_catalog(self.catalog.search.text())

    # -- messages ---------------------------------------------------------------------------------

    def show_banner(
        self, text: str, action: str = "", act: Callable[[], None] | None = None
    ) -> None:
        """Show a message, with one button (`action`) that runs `act` and hides the message."""
        self.banner.setText(text)
        self.banner.setVisible(True)
        self._banner_act = act
        self.banner_action.setText(action)
        self.banner_action.setVisible(act is not None)

    def _banner_clicked(self) -> None:
        act = self._banner_act
        self.hide_banner()
        if act is not None:
            act()

    def _cache_limit_bytes(self) -> int:
        return self.settings.cache_limit_mb * 1024 * 1024

    def _settings_changed(self, settings: Settings) -> None:
        self.settings = settings
        self.session.set_cache_limit(self._cache_limit_bytes())

    def open_audio_settings(self) -> AudioSettingsDialog | None:
        if self.output is None:
            return None
        dialog = AudioSettingsDialog(self.output, self.settings, parent=self)
        dialog.finished.connect(lambda _r: self._settings_changed(dialog.settings))
        dialog.open()
        return dialog

    def _watch_device(self) -> None:
        """Device loss and recovery (audio/output.py), shown in the banner."""
        if self.output is None or not self.output.poll():
            return
        if self.output.message:
            self.show_banner(self.output.message)
        elif self.banner.text() in (*DEVICE_MESSAGES, self._device_banner):
            self.hide_banner()
        self._device_banner = self.output.message

    def hide_banner(self) -> None:
        """Clear the message, but not a missing audio device's: that one stays until the device
        is there (opening a track used to hide it, leaving Play silent without a word)."""
        device_problem = self.output.message if self.output is not None else None
        if device_problem and self.banner.text() != device_problem:
            self.show_banner(device_problem)
            return
        if device_problem:
            self._banner_act = None
            self.banner_action.setVisible(False)
            return
        self.banner.setVisible(False)
        self.banner_action.setVisible(False)
        self._banner_act = None

    def _on_error(self, exc: BaseException, retry: Callable[[], None] | None = None) -> None:
        """Show a failure; one the platform's absence caused offers Retry."""
        if isinstance(exc, PlatformUnavailable) and retry is not None:
            self.show_banner(describe(exc), "Retry", retry)
        else:
            self.show_banner(describe(exc))

    def _follow_listening(self) -> None:
        """While another remix plays in place of the track, the mix's controls rest: an edit
        would change a remix the fan cannot hear. That is the mixer, the arrangement, tempo and
        key, the transport's loop (L) and automation buttons (the menus follow them), undo and
        redo; play, the position bar and the timeline stay, driving the remix that is heard.
        Back to my mix (or the catalog) wakes them."""
        editable = not self.studio.listening
        for controls in (self.mixer, self.arrangement, self.track_controls):
            if controls.isEnabled() != editable:
                controls.setEnabled(editable)
                controls.setToolTip("" if editable else LISTENING_TIP)
        t = self.transport
        for button in (
            t.loop_button,
            t.loop_section_button,
            t.snap_button,
            t.record_button,
            t.clear_automation_button,
        ):
            if not editable and button not in self._rested_tips:
                self._rested_tips[button] = button.toolTip()
                button.setEnabled(False)
                button.setToolTip(LISTENING_TIP)
            elif editable and button in self._rested_tips:
                button.setToolTip(self._rested_tips.pop(button))
                button.setEnabled(self.studio.track is not None)
        # Undo and redo too: a step undone now would change a mix nobody hears.
        stack, menus = self.undo_stack, self.menus
        if stack is not None and not editable:
            menus.undo.setEnabled(False)
            menus.redo.setEnabled(False)
        elif stack is not None and menus.undo_stack is stack:
            menus.undo.setEnabled(stack.canUndo())
            menus.redo.setEnabled(stack.canRedo())

    def _listening_changed(self) -> None:
        """Listening started or ended (the session's word): the transport and the timeline
        show what is heard now (the remix's length and no loop, or the track's again)."""
        self._follow_listening()
        if self.studio.track is None:
            return
        self.transport_ctl.show_heard()
        self.timeline_feed.heard_changed()
        render = self.session.render
        if render is None:  # the mix is back: its position at once, not at the next tick
            tempo = self.studio.document.tempo_ratio if self.studio.document else 1.0
            section = self._section_at(self.engine.source_position_seconds)
            self.transport.show_state(self.studio.resume_at, False, section, tempo)

    def closeEvent(self, event) -> None:
        # A signed-out window stays (hidden) until the process ends: nothing of it keeps
        # running, and the device is watched by the next window only.
        self._closed = True
        self._poll.stop()
        self._device_timer.stop()
        self.midi.close()
        self.window_state.save(self, self.splitters)
        self._save_draft()
        self.session.close()
        super().closeEvent(event)
