"""The studio session: what happens between sign-in and sign-out, without a widget.

One `StudioSession` per signed-in window owns the device's engine and decides who is heard
through it: the open track's mix (`Studio`, through `TrackRoute`) or another fan's remix
(`app.listening.RenderRoute`), one at a time, handed over explicitly (`Studio.suspend` /
`Studio.resume`). It opens a track (details, the encrypted cache under the user's content key,
the stream, the draft), plays when the stream is ready at the playhead, listens to a render and
comes back to the mix, and signs out leaving no audio behind.

Widgets render its state and forward the user's acts to it (ui/mainwindow.py); anything a
position bar, a timeline or a play button needs of what is heard comes from `heard`, so while a
render plays they show and seek the render, never the waiting track. Blocking work (network,
key fetch) runs through the `Runner` given (ui.tasks.TaskRunner in the app, synchronous in tests);
this module imports no Qt (the layers contract: app imports no Qt).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from app.cache import EncryptedCache
from app.client import PlatformClient
from app.drafts import DraftStore
from app.listening import RenderRoute
from app.session import TokenVault
from app.streaming import TrackStream
from app.studio import Studio
from core.contract import RemixDocument, TrackDetail

if TYPE_CHECKING:
    import numpy as np

    from audio.engine import Engine

Done = Callable[[Any], None]
Failed = Callable[[BaseException], None]
Listener = Callable[[], None]


class Runner(Protocol):
    """Runs `fn` off the UI thread and calls back on it (ui.tasks.TaskRunner)."""

    def run(
        self, fn: Callable[[], Any], on_done: Done | None = None, on_error: Failed | None = None
    ) -> None: ...


class Heard(Protocol):
    """What is playing through the device now, as a transport shows and drives it."""

    @property
    def duration_seconds(self) -> float: ...
    @property
    def position_seconds(self) -> float: ...
    @property
    def playing(self) -> bool: ...
    @property
    def loop_seconds(self) -> tuple[float, float] | None: ...
    def ready(self) -> bool: ...
    def play(self) -> None: ...
    def pause(self) -> None: ...
    def seek(self, seconds: float) -> None: ...


class TrackRoute:
    """The open track's mix through the studio's engine (the device's, while it is heard)."""

    def __init__(self, studio: Studio, stream: TrackStream) -> None:
        self.studio, self.stream = studio, stream

    @property
    def duration_seconds(self) -> float:
        engine = self.studio.engine
        return engine.duration_frames / engine.sample_rate  # arranged length

    @property
    def position_seconds(self) -> float:
        return self.studio.engine.position_seconds

    @property
    def playing(self) -> bool:
        return self.studio.engine.playing

    @property
    def loop_seconds(self) -> tuple[float, float] | None:
        return self.studio.engine.loop_seconds

    def ready(self) -> bool:
        """The stream has the chunk under the playhead: playing now starts without a gap."""
        engine, stream = self.studio.engine, self.stream
        return stream.ready_at(int(engine.source_position_seconds * stream.sample_rate))

    def play(self) -> None:
        self.studio.engine.play()

    def pause(self) -> None:
        self.studio.engine.pause()

    def seek(self, seconds: float) -> None:
        self.studio.engine.seek(seconds)


@dataclass
class OpenedTrack:
    """A track the session opened: what the window shows of it."""

    detail: TrackDetail
    stream: TrackStream
    document: RemixDocument
    restored_draft: bool
    locked: dict[str, str]
    """Stem id -> why it is locked (left out of this stream)."""


class StudioSession:
    """Open, play when ready, listen through the render's own route, back to my mix, sign out."""

    def __init__(
        self,
        client: PlatformClient,
        engine: Engine,
        tasks: Runner,
        drafts: DraftStore,
        cache_dir: Path,
        *,
        vault: TokenVault | None = None,
        cache_limit_bytes: Callable[[], int] = lambda: 0,
    ) -> None:
        """`engine`: the one wired to the audio device; `cache_limit_bytes`: the settings'
        current cache limit (read when the cache is made)."""
        self.client, self.engine, self.tasks, self.drafts = client, engine, tasks, drafts
        self.cache_dir, self.vault = cache_dir, vault
        self.cache_limit_bytes = cache_limit_bytes
        self.cache: EncryptedCache | None = None
        self.studio = Studio(engine)
        self._unsaved = False
        """Edits the draft store lacks: a track only opened, or a remix just submitted, leaves
        no draft behind (one would come back as "unsubmitted" at the next sign-in)."""
        self.studio.on_change(self._edited)
        self.detail: TrackDetail | None = None
        self.loading_id: str | None = None
        self.play_pending = False
        """Play was pressed before the stream had the playhead's chunk: it starts on the first
        `tick` that has it (no skip)."""
        self.render: RenderRoute | None = None
        self._track_route: TrackRoute | None = None
        self._held_frame = 0  # the track's source frame while a render is heard
        self._listening_listeners: list[Listener] = []

    # -- what is heard ----------------------------------------------------------------------------

    @property
    def listening(self) -> bool:
        """Another remix is heard in place of the open track's mix."""
        return self.render is not None

    @property
    def heard(self) -> Heard | None:
        """The route the device plays now: the render while listening, else the open track's
        mix (None when neither)."""
        if self.render is not None:
            return self.render
        route = self._track_route
        return route if route is not None and route.stream is self.studio.track else None

    def on_listening_change(self, listener: Listener) -> None:
        """Called after listening starts or ends (the window rests or wakes its mix controls)."""
        self._listening_listeners.append(listener)

    def toggle_play(self) -> None:
        """Play or pause what is heard; a track whose playhead's chunk has not arrived starts
        when it has (`tick`)."""
        heard = self.heard
        if heard is None:
            return
        if heard.playing or self.play_pending:
            self.play_pending = False
            heard.pause()
        elif heard.ready():
            heard.play()
        else:
            self.play_pending = True

    def seek(self, seconds: float) -> None:
        """Move the playhead of what is heard (the render's while listening)."""
        heard = self.heard
        if heard is not None:
            heard.seek(seconds)

    def tick(self) -> None:
        """Call ~30 times a second: a pending play starts once ready; a recording pass ends
        when playback stops or jumps."""
        heard = self.heard
        if self.play_pending and heard is not None and heard.ready():
            self.play_pending = False
            heard.play()
        if not self.listening:
            self.studio.poll_automation()

    # -- listening to another remix ----------------------------------------------------------------

    def listen(self, audio: np.ndarray, *, remix_id: str, name: str) -> RenderRoute:
        """Play a decoded render (1, 2, N) through the device in place of the open track's mix,
        which waits, paused where it was (its stream keeps that place ready)."""
        self.play_pending = False
        track = self.studio.track
        if self.render is None and track is not None:  # where the track's stream stays ready
            self._held_frame = int(self.engine.source_position_seconds * track.sample_rate)
        device = self.studio.suspend()
        self.render = RenderRoute(device, audio, remix_id=remix_id, name=name)
        self.render.play()
        self._listening_changed()
        return self.render

    def back_to_mix(self, *, restore: bool = True) -> None:
        """Stop listening: the open track's mix comes back, paused where it was."""
        if self.render is None and not self.studio.listening:
            return
        self.render = None
        self.play_pending = False
        self.studio.resume(restore=restore)
        self._listening_changed()

    def _listening_changed(self) -> None:
        for listener in self._listening_listeners:
            listener()

    # -- opening a track ---------------------------------------------------------------------------

    def open_track(
        self,
        track_id: str,
        *,
        as_fan: bool = False,
        shown: Callable[[TrackDetail], bool],
        opened: Callable[[OpenedTrack], None],
        failed: Callable[[BaseException, str], None],
    ) -> bool:
        """Fetch the track's details (`shown` is told; it answers False when the user may not
        stream it, which ends the opening), the cache, then start the stream with the draft:
        `opened`. False when another track is still opening (the request is dropped)."""
        if self.loading_id is not None:
            return False
        self.loading_id = track_id
        client = self.client

        def fail(exc: BaseException, which: str) -> None:
            self.loading_id = None
            failed(exc, which)

        def got_detail(detail: TrackDetail) -> None:
            if not shown(detail):
                self.loading_id = None
                return
            self.tasks.run(
                self.ensure_cache,
                lambda _cache: opened(self.start_stream(detail, as_fan=as_fan)),
                lambda exc: fail(exc, detail.id),
            )

        self.tasks.run(lambda: client.track(track_id), got_detail, lambda e: fail(e, track_id))
        return True

    def ensure_cache(self) -> EncryptedCache:
        """The encrypted stem cache, under this user's content key (fetched once, kept in RAM).
        Blocking (network): run it off the UI thread."""
        if self.cache is None:
            self.cache = EncryptedCache(
                self.cache_dir, self.client.content_key(), self.cache_limit_bytes()
            )
        return self.cache

    def start_stream(self, detail: TrackDetail, *, as_fan: bool = False) -> OpenedTrack:
        """Stream `detail` (stems locked for this listener left out; `as_fan`: an artist hears
        their own track as fans get it) and open it in the studio, with its draft when one of
        this version was kept. Ends any listening: the new track is what is heard."""
        assert self.cache is not None, "ensure_cache first"
        self.loading_id = None
        self.play_pending = False
        if self.render is not None:
            self.back_to_mix(restore=False)
        engine, rate = self.engine, detail.stems[0].sample_rate if detail.stems else 48000
        locked = detail.locked_stems(as_fan=as_fan)
        stream = TrackStream(
            self.client,
            detail,
            self.cache,
            playhead=lambda: (
                self._held_frame if self.listening else int(engine.source_position_seconds * rate)
            ),
            upcoming=lambda frames: (
                [(self._held_frame, self._held_frame + frames)]
                if self.listening
                else engine.upcoming_source_ranges(frames)
            ),
            locked=locked,
        )
        draft = self.drafts.load(detail.id)
        if draft is not None and draft.track_version != detail.version:
            draft = None
        doc = self.studio.open(stream, draft)
        self._unsaved = False  # what was opened is the draft, or the track as it is
        self.detail = detail
        self._track_route = TrackRoute(self.studio, stream)
        return OpenedTrack(detail, stream, doc, draft is not None, locked)

    def set_cache_limit(self, limit_bytes: int) -> None:
        """A new cache limit from the settings: applied now, the open track's stems kept."""
        if self.cache is None:
            return
        self.cache.limit_bytes = limit_bytes
        track = self.studio.track
        keep = {track.cache_name(s) for s in track.stems} if track else set()
        self.cache.evict(keep=keep)

    # -- drafts, closing and signing out -----------------------------------------------------------

    def _edited(self, _doc: RemixDocument) -> None:
        self._unsaved = True

    def save_draft(self) -> None:
        """Write the draft, if there are edits it lacks."""
        if self.studio.document is not None and self._unsaved:
            self.drafts.save(self.studio.document)
            self._unsaved = False

    def submitted(self) -> None:
        """The open remix was submitted: its draft is gone, and nothing is left to save until
        the next edit."""
        if self.studio.document is not None:
            self.drafts.discard(self.studio.document.track_id)
        self._unsaved = False

    def close(self) -> None:
        """Stop everything heard and close the track (the window is closing)."""
        self.play_pending = False
        if self.render is not None:
            self.back_to_mix(restore=False)
        self.studio.close()
        self._track_route = None

    def sign_out(self, done: Callable[[], None]) -> None:
        """End the session: the draft kept, nothing playing, no audio left behind (not even
        encrypted), the token forgotten here and revoked on the platform; then `done` (called
        whether or not the platform answered)."""
        self.engine.pause()
        self.save_draft()
        self.close()
        if self.cache is not None:
            self.cache.purge()
        if self.vault is not None:
            self.vault.clear()
        client = self.client
        self.tasks.run(client.logout, lambda _r: done(), lambda _exc: done())
