"""Demo remixes: other fans' published remixes of the demo tracks, so a new user's Remixes panel
has something to listen to, count and fork ("Remix this remix") on the very first start.

Two extra demo fans (`mika`, `jo`, Superfans with the demo password) submit a few remixes of
"Neon Harbor" and "Paper Lanterns", one of them a fork of another (its lineage and credit), and
listen to each other's (play counts, so "Most played" is not "Newest").

Nothing is written behind the platform's back. Each remix goes through the submission route's
own function: the Idempotency-Key, quota, validation against the track and its policy, the
isolation check, duplicates, lineage, split and disclosure; the render queue then renders it
like any fan's, so the published audio exists and Listen streams it. A fork starts from the fork
route's document, as the studio's "Remix this remix" does. Plays are counted, once a remix is
published, by what the play route counts them with (`server.plays.record_play`), from listeners
the route would let play it (Superfans and the track's artist).

Why in a thread after start: renders take seconds each and the platform must answer at once. The
thread submits, then waits for the originals of forks to publish before forking them and for
every remix to publish before its plays are counted; the feed fills as they publish.

Idempotent across restarts: each remix's Idempotency-Key names it and the track's version, so a
second start gets the stored remix back (never a second copy), and plays are dated on the day
the remix was submitted, so the one-play-per-listener-per-day rule refuses them again. A new
track version (the demo music changed) gets new remixes; the old ones stay as they were.

Off with `ENCORE_DEMO_REMIXES=0` (Settings.demo_remixes): the test suite's platforms start
empty, so tests that count remixes or read a feed see only their own, and no seeded render
competes with theirs for the CPU.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import Response
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from starlette.requests import Request

from core.contract import (
    ArrangementSlot,
    DelaySettings,
    RemixDocument,
    RemixStatus,
    ReverbSettings,
    Role,
    StemSettings,
    Tier,
)
from server.db import Remix, Track, User
from server.demo import DEMO_PASSWORD, ensure_user
from server.errors import ApiError
from server.pipeline import UNFINISHED
from server.security import hash_password

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("encore.platform.demo.remixes")
# The platform logs warnings only; how far the demo's remixes are is worth its one line (when they
# are all published, and how long that took), so operators and tests can see it.
log.setLevel(logging.INFO)

# username -> display name: the fans whose remixes fill the demo's Remixes panels.
DEMO_REMIXERS: dict[str, str] = {"mika": "Mika Sato", "jo": "Jo Okafor"}

KEY_PREFIX = "encore-demo-remix"
WAIT_S = 900.0
"""How long the thread waits for the renders before leaving forks and plays to the next start."""
POLL_S = 0.5


@dataclass(frozen=True)
class DemoRemix:
    """One seeded remix. Stems are named by the catalog's suffix (`drums`, `lead`...); a fork
    (`fork_of`) starts from the original's published recipe and only states what it changes."""

    slug: str
    by: str
    track_id: str
    title: str
    description: str = ""
    stems: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    tempo_ratio: float | None = None
    key_shift: int | None = None
    master_gain_db: float | None = None
    reverb: Mapping[str, float] | None = None
    delay: Mapping[str, float] | None = None
    sections: tuple[int, ...] | None = None  # the track's sections by index, in play order
    fork_of: str | None = None  # the slug of the remix this one remixes
    heard_by: tuple[str, ...] = ()  # listeners whose play is counted


# In submission order (the feed's "Newest" is the reverse). Titles as fans write them in a feed
# that is already the track's: short, the part that tells them apart first. A changed recipe
# needs a new slug (its old key would answer 409 for the changed document). Policies are the
# demo default (tempo 0.75-1.25, key -3..+3, every stem). Plays: Night Drive 2, Club Pressure 1,
# the Sunrise flip 0; Rooftop Bounce 2, Rainy Window 1: "Most played" is not "Newest" on either
# track. One changes tempo and key: a stretched render costs 5-10 times a plain one (17-25 s
# against 1-3 s at load 10), and renders compete with the studio's audio for the CPU (its
# output underflows several times as often while they run), so the demo keeps them few and cheap.
DEMO_REMIXES: tuple[DemoRemix, ...] = (
    DemoRemix(
        slug="night-drive",
        by="mika",
        track_id="neon-harbor",
        title="Night Drive Edit",
        description="For the motorway at 2 am: pads up and wide, drums tucked under a low-pass, "
        "the vocal synth drenched in reverb.",
        stems={
            "drums": {"gain_db": -4.0, "lp_hz": 7000.0, "eq_high_db": -3.0},
            "bass": {"gain_db": 1.0, "eq_low_db": 3.0},
            "keys": {"gain_db": 3.0, "send_reverb": 0.35, "pan": -0.1},
            "lead": {"gain_db": -1.0, "send_reverb": 0.5, "eq_high_db": 2.0},
            "fx": {"gain_db": -2.0, "send_reverb": 0.3},
        },
        reverb={"size": 0.8, "damping": 0.4, "wet": 0.8},
        heard_by=("jo", "artist"),
    ),
    DemoRemix(
        slug="club-pressure",
        by="jo",
        track_id="neon-harbor",
        title="Club Pressure Mix",
        description="Straight into the verse, the chorus twice at the end; kick and bass "
        "pushed, pads thinned out, no risers.",
        sections=(1, 2, 3, 4, 2, 5),  # verse, chorus, breakdown, chorus, chorus, outro
        stems={
            "drums": {"gain_db": 3.0, "eq_low_db": 2.0},
            "bass": {"gain_db": 2.0, "eq_low_db": 4.0, "hp_hz": 35.0},
            "keys": {"gain_db": -4.0, "hp_hz": 300.0, "send_delay": 0.2},
            "lead": {"gain_db": -2.0, "send_delay": 0.25},
            "fx": {"mute": True},
        },
        delay={"beats": 0.75, "feedback": 0.3, "wet": 0.8},
        heard_by=("mika",),
    ),
    DemoRemix(
        slug="rooftop-bounce",
        by="mika",
        track_id="paper-lanterns",
        title="Rooftop Bounce",
        description="Faster and a tone up for a sunny afternoon; the vinyl crackle off.",
        tempo_ratio=1.12,
        key_shift=2,
        stems={
            "drums": {"gain_db": 2.0, "hp_hz": 40.0, "eq_high_db": 2.0},
            "bass": {"gain_db": 1.0, "eq_low_db": 3.0},
            "keys": {"eq_high_db": 2.0, "send_delay": 0.15},
            "lead": {"gain_db": 1.0, "pan": -0.2},
            "fx": {"mute": True},
        },
        delay={"beats": 0.5, "feedback": 0.25, "wet": 0.6},
        heard_by=("jo", "artist"),
    ),
    DemoRemix(
        slug="rainy-window-version",
        by="jo",
        track_id="paper-lanterns",
        title="Rainy Window Version",
        description="Even sleepier: the crackle up front, the piano in a big room, drums on a "
        "blanket.",
        stems={
            "drums": {"gain_db": -5.0, "lp_hz": 4500.0},
            "bass": {"gain_db": -1.0, "eq_low_db": 2.0},
            "keys": {"gain_db": 2.0, "send_reverb": 0.4, "eq_high_db": -2.0},
            "lead": {"gain_db": -3.0, "send_reverb": 0.3, "pan": 0.15},
            "fx": {"gain_db": 4.0},
        },
        reverb={"size": 0.6, "damping": 0.6, "wet": 0.7},
        heard_by=("mika",),
    ),
    DemoRemix(
        slug="sunrise-flip",
        by="jo",
        track_id="neon-harbor",
        title="Sunrise Flip",
        description="Mika's night drive with the drums back in the light and the vocal synth "
        "up front on a dotted-eighth delay: the same road at dawn.",
        fork_of="night-drive",
        stems={
            "drums": {"gain_db": 0.0, "lp_hz": 20000.0, "eq_high_db": 1.0},
            "lead": {"gain_db": 3.0, "send_reverb": 0.25, "send_delay": 0.3},
            "fx": {"gain_db": -6.0},
        },
        delay={"beats": 0.75, "feedback": 0.35, "wet": 0.7},
    ),
)


def idempotency_key(recipe: DemoRemix, track_version: int) -> str:
    """The submission's key: the same remix of the same track version on every start."""
    return f"{KEY_PREFIX}:{recipe.slug}:v{track_version}"


def _stem_id(track: Track, suffix: str) -> str:
    return f"{track.id}-{suffix}"


def _arrangement(track: Track, sections: tuple[int, ...] | None) -> list[ArrangementSlot] | None:
    """Slots of the track's sections by index; None (as delivered) if the catalog changed."""
    if sections is None:
        return None
    have = track.sections or []
    if any(i >= len(have) for i in sections):
        return None
    return [
        ArrangementSlot(name=have[i]["name"], start=have[i]["start"], end=have[i]["end"])
        for i in sections
    ]


def _changes(recipe: DemoRemix, track: Track) -> dict[str, Any]:
    """The document fields this recipe sets (a fork keeps every field it does not name)."""
    update: dict[str, Any] = {"title": recipe.title, "description": recipe.description}
    for name in ("tempo_ratio", "key_shift", "master_gain_db"):
        if getattr(recipe, name) is not None:
            update[name] = getattr(recipe, name)
    if recipe.reverb is not None:
        update["reverb"] = ReverbSettings(**recipe.reverb)
    if recipe.delay is not None:
        update["delay"] = DelaySettings(**recipe.delay)
    if recipe.sections is not None:
        update["arrangement"] = _arrangement(track, recipe.sections)
    return update


def build_document(recipe: DemoRemix, track: Track, base: RemixDocument | None) -> RemixDocument:
    """The recipe as a document of the track's current version; `base` is a fork's start."""
    doc = base or RemixDocument(track_id=track.id, track_version=track.version, title=recipe.title)
    stems = dict(doc.stems)
    for suffix, settings in recipe.stems.items():
        stem_id = _stem_id(track, suffix)
        stems[stem_id] = stems.get(stem_id, StemSettings()).model_copy(update=dict(settings))
    # Validated again: a recipe out of the contract's ranges fails here, naming the field.
    return RemixDocument.model_validate(
        doc.model_copy(update={**_changes(recipe, track), "stems": stems}).model_dump()
    )


def ensure_remixers(db: Session) -> dict[str, User]:
    """The demo fans who made the remixes (Superfans, the demo password; an existing account
    keeps its password and is only brought in line)."""
    demo_hash = functools.cache(lambda: hash_password(DEMO_PASSWORD))  # argon2 once, not twice
    users = {}
    for username, display_name in DEMO_REMIXERS.items():
        users[username] = ensure_user(
            db,
            username,
            DEMO_PASSWORD,
            display_name=display_name,
            tier=Tier.SUPERFAN,
            roles=[Role.FAN],
            password_hash=demo_hash,
        )
    db.commit()
    return users


class DemoRemixSeeder:
    """The thread that submits the demo remixes and, as they publish, forks and plays them."""

    def __init__(self, app: FastAPI, recipes: tuple[DemoRemix, ...] = DEMO_REMIXES) -> None:
        self.app = app
        self.recipes = recipes
        self.sessions = app.state.sessions
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.remix_ids: dict[str, str] = {}  # slug -> remix id, once submitted

    def start(self) -> DemoRemixSeeder:
        self._thread = threading.Thread(target=self._run, name="demo-remixes", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        started = time.monotonic()
        try:
            self._seed(started)
        except Exception:
            log.exception("Demo remixes: seeding stopped (the next start carries on)")

    def _seed(self, started: float) -> None:
        with self.sessions() as db:
            ensure_remixers(db)
        pending = list(self.recipes)
        played: set[str] = set()
        while not self._stop.is_set():
            for recipe in list(pending):
                ready = self._ready(recipe, pending)
                if ready is None:
                    log.warning(
                        "Demo remix '%s' skipped: its original is not published", recipe.title
                    )
                    pending.remove(recipe)
                elif ready:
                    pending.remove(recipe)
                    self._submit(recipe)
            # Unfinished first: a remix publishing between the two looks-ups is still waited
            # for, so none is left unplayed.
            waiting = self._unfinished(set(self.remix_ids.values()))
            published = self._published(set(self.remix_ids.values()))
            for slug, remix_id in self.remix_ids.items():
                if slug not in played and remix_id in published:
                    self._play(next(r for r in self.recipes if r.slug == slug), remix_id)
                    played.add(slug)
            if not pending and not waiting:
                break
            if time.monotonic() - started > WAIT_S:
                log.warning(
                    "Demo remixes: still rendering after %.0f s; the next start finishes them",
                    WAIT_S,
                )
                return
            self._stop.wait(POLL_S)
        if not self._stop.is_set():
            log.info(
                "Demo remixes: %d of %d published, %.1f s after start",
                len(self._published(set(self.remix_ids.values()))),
                len(self.recipes),
                time.monotonic() - started,
            )

    def _ready(self, recipe: DemoRemix, pending: list[DemoRemix]) -> bool | None:
        """Whether `recipe` can be submitted now (True), later (False: its original is still
        to be submitted or rendered) or never (None: the original was not seeded, or ended
        unpublished, e.g. the artist now approves remixes first)."""
        if recipe.fork_of is None:
            return True
        original = self.remix_ids.get(recipe.fork_of)
        if original is None:
            return False if any(r.slug == recipe.fork_of for r in pending) else None
        if original in self._published({original}):
            return True
        return False if self._unfinished({original}) else None

    def _published(self, ids: set[str]) -> set[str]:
        if not ids:
            return set()
        with self.sessions() as db:
            rows = db.scalars(
                select(Remix.id).where(
                    Remix.id.in_(ids), Remix.status == RemixStatus.PUBLISHED.value
                )
            )
            return set(rows)

    def _unfinished(self, ids: set[str]) -> set[str]:
        if not ids:
            return set()
        with self.sessions() as db:
            return set(
                db.scalars(select(Remix.id).where(Remix.id.in_(ids), Remix.status.in_(UNFINISHED)))
            )

    def _submit(self, recipe: DemoRemix) -> None:
        """Submit `recipe` as its fan, through the submission route's function."""
        from server.routes.feed import fork_remix
        from server.routes.remixes import submit_remix

        app = self.app
        with self.sessions() as db:
            user = db.scalar(select(User).where(User.username == recipe.by))
            track = db.scalar(
                select(Track).where(Track.id == recipe.track_id).options(selectinload(Track.stems))
            )
            if user is None or track is None:
                log.warning("Demo remix '%s' skipped: no %s", recipe.title, recipe.track_id)
                return
            key = idempotency_key(recipe, track.version)
            try:
                base = None
                if recipe.fork_of is not None:
                    base = fork_remix(remix_id=self.remix_ids[recipe.fork_of], db=db, user=user)
                doc = build_document(recipe, track, base)
                info = submit_remix(
                    doc=doc,
                    request=Request({"type": "http", "app": app, "headers": []}),
                    response=Response(),
                    db=db,
                    user=user,
                    settings=app.state.settings,
                    storage=app.state.storage,
                    clock=app.state.clock,
                    idempotency_key=key,
                )
            except ApiError as err:
                db.rollback()
                log.warning("Demo remix '%s' not submitted: %s", recipe.title, err.message)
                return
        self.remix_ids[recipe.slug] = info.id

    def _play(self, recipe: DemoRemix, remix_id: str) -> None:
        """Its listeners' plays, dated the day it was submitted (a restart adds none)."""
        from server.plays import record_play

        with self.sessions() as db:
            for username in recipe.heard_by:
                listener = db.scalar(select(User).where(User.username == username))
                remix = db.get(Remix, remix_id)
                if listener is None or remix is None:
                    continue
                record_play(db, remix, listener, now=remix.created_at)
