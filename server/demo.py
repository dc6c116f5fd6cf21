"""Demo seeding: accounts for every tier and the composed demo catalog, owned by `artist`.

Idempotent so `serve --demo` can run it on every start: existing users keep their passwords,
tracks are only re-versioned when their audio actually changed.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.contract import RightsPolicy, Role, Tier
from server.db import Stem, StemRightsholder, Track, User
from server.security import hash_password
from server.storage import Storage

log = logging.getLogger("encore.platform.demo")

DEMO_PASSWORD = "encore-demo"
DEFAULT_ARTIST_NAME = "The Encore Demo Band"

# username -> (display name, tier, roles, diagnostics); the artist's name comes from the catalog.
DEMO_USERS: dict[str, tuple[str, Tier, list[Role], bool]] = {
    "fan": ("Fan (Superfan)", Tier.SUPERFAN, [Role.FAN], False),
    "casual": ("Casual Listener", Tier.FREE, [Role.FAN], False),
    "premium": ("Premium Listener", Tier.PREMIUM, [Role.FAN], False),
    "artist": (DEFAULT_ARTIST_NAME, Tier.PREMIUM, [Role.FAN, Role.ARTIST], False),
    "qa": ("QA (diagnostics)", Tier.SUPERFAN, [Role.FAN], True),
    "artist2": ("Jonah Reed", Tier.PREMIUM, [Role.FAN, Role.ARTIST], False),
}

# artist2's one track: the demo catalog's last track's audio under another artist, so tests can
# show that one artist can never read or change another's policy or reviews.
ARTIST2_TRACK = {"id": "undertow", "title": "Undertow"}
# The demo's one co-written stem (stem id suffix -> [(party, basis points)]); every other stem
# belongs wholly to the track's artist.
CO_WRITTEN = {"lead": [(None, 6000), ("Ivo Marsh (co-writer)", 4000)]}


def ensure_user(
    db: Session,
    username: str,
    password: str,
    *,
    display_name: str,
    tier: Tier,
    roles: list[Role],
    diagnostics: bool = False,
    reset_password: bool = False,
    password_hash: Callable[[], str] | None = None,
) -> User:
    """Create the user, or bring an existing one's profile in line.

    An existing user's password is kept unless `reset_password`: demo seeding runs on every start
    and must not undo a password someone changed, but an explicit create-user should set it.
    `password_hash` gives a new user's hash of `password` instead of hashing it here (demo
    seeding hashes the shared demo password once, not once per account).
    """
    user = db.scalar(select(User).where(User.username == username))
    if user is None:
        hashed = password_hash() if password_hash is not None else hash_password(password)
        user = User(username=username, password_hash=hashed)
        db.add(user)
    elif reset_password:
        user.password_hash = hash_password(password)
    user.display_name = display_name
    user.tier = tier.value
    user.roles = ",".join(r.value for r in roles)
    user.diagnostics = diagnostics
    db.flush()
    return user


def _stem_source(directory: Path, stem: dict[str, Any]) -> Path:
    file = Path(stem.get("file") or f"{stem['id']}.flac")
    return file if file.is_absolute() else directory / file


def _sync_stems(
    db: Session, storage: Storage, track: Track, directory: Path, stems: list[dict[str, Any]]
) -> bool:
    """Make the track's stems match the catalog; True when anything audible changed."""
    current = {s.id: s for s in track.stems}
    changed = set(current) != {s["id"] for s in stems}
    keep: list[Stem] = []
    for position, info in enumerate(stems):
        relpath = storage.stem_relpath(track.id, info["id"])
        row = current.get(info["id"]) or Stem(id=info["id"], track_id=track.id)
        stored = storage.path(relpath)
        if row.sha256 != info["sha256"] or not stored.exists():
            changed |= row.sha256 != info["sha256"]
            storage.import_file(_stem_source(directory, info), relpath)
        row.name = info["name"]
        row.kind = info["kind"]
        row.path = relpath
        row.frames = int(info["frames"])
        row.sample_rate = int(info["sample_rate"])
        row.channels = int(info["channels"])
        row.duration = float(info["duration"])
        row.size = int(info["size"])
        row.sha256 = info["sha256"]
        row.position = position
        keep.append(row)
    track.stems = keep
    return changed


def seed_tracks(
    db: Session,
    storage: Storage,
    artist: User,
    directory: Path,
    tracks: list[dict[str, Any]],
    initial_policy: RightsPolicy | None = None,
) -> None:
    """Create or update `tracks`; a new track starts with `initial_policy` (default: opted in
    with the default rules); an existing track keeps whatever policy its artist set."""
    for info in tracks:
        track = db.get(Track, info["id"])
        is_new = track is None
        if track is None:
            policy = initial_policy or RightsPolicy()
            track = Track(id=info["id"], version=1, policy=policy.model_dump(mode="json"))
            db.add(track)
        track.title = info["title"]
        track.artist_user_id = artist.id
        track.bpm = float(info["bpm"])
        track.key = info["key"]
        track.beats_per_bar = int(info.get("beats_per_bar", 4))
        track.first_beat = float(info.get("first_beat", 0.0))
        track.sections = list(info.get("sections", []))
        if _sync_stems(db, storage, track, directory, info["stems"]) and not is_new:
            # Old remix documents name the old version, so they are refused rather than
            # silently rendered against different audio.
            track.version += 1
        db.flush()


def _artist2_track(source: dict[str, Any]) -> dict[str, Any]:
    prefix = source["id"] + "-"
    stems = []
    for stem in source["stems"]:
        suffix = stem["id"].removeprefix(prefix)
        stems.append(
            stem
            | {
                "id": f"{ARTIST2_TRACK['id']}-{suffix}",
                "file": stem.get("file") or f"{stem['id']}.flac",
            }
        )
    return source | {"id": ARTIST2_TRACK["id"], "title": ARTIST2_TRACK["title"], "stems": stems}


def seed_rightsholders(db: Session, track: Track) -> None:
    """Give each stem without rightsholders its demo owners (the artist; one co-writer)."""
    have = {
        row.stem_id
        for row in db.scalars(select(StemRightsholder).where(StemRightsholder.track_id == track.id))
    }
    for stem in track.stems:
        if stem.id in have:
            continue
        holders = CO_WRITTEN.get(stem.id.rsplit("-", 1)[-1], [(None, 10000)])
        for party, share_bp in holders:
            db.add(
                StemRightsholder(
                    track_id=track.id,
                    stem_id=stem.id,
                    party=party or track.artist.display_name,
                    share_bp=share_bp,
                )
            )
    db.flush()


def seed_demo(db: Session, storage: Storage, catalog_dir: Path) -> None:
    """Compose (or reuse) the demo catalog and load it with the demo accounts."""
    from server.demo_music import write_demo_catalog  # colleague's module; composes the music

    catalog_dir.mkdir(parents=True, exist_ok=True)
    tracks = write_demo_catalog(catalog_dir)
    artist_name = tracks[0]["artist"] if tracks else DEFAULT_ARTIST_NAME
    users = {}
    # argon2 takes ~0.3 s a hash: a fresh data dir's demo accounts share one hash of the demo
    # password (a second of the first start saved; they are demo accounts with one password).
    demo_hash = functools.cache(lambda: hash_password(DEMO_PASSWORD))
    for username, (display_name, tier, roles, diagnostics) in DEMO_USERS.items():
        users[username] = ensure_user(
            db,
            username,
            DEMO_PASSWORD,
            display_name=artist_name if username == "artist" else display_name,
            tier=tier,
            roles=roles,
            diagnostics=diagnostics,
            password_hash=demo_hash,
        )
    seed_tracks(db, storage, users["artist"], catalog_dir, tracks)
    if tracks:
        # Not opted in: it shows the owner's preview, and keeps the public catalog as it was.
        seed_tracks(
            db,
            storage,
            users["artist2"],
            catalog_dir,
            [_artist2_track(tracks[-1])],
            initial_policy=RightsPolicy(opted_in=False),
        )
    for track in db.scalars(select(Track)).all():
        seed_rightsholders(db, track)
    db.commit()
    log.info("Demo catalog ready: %d tracks", len(tracks))
