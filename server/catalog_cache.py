"""Serialized catalog and track-detail responses, cached per catalog revision and caller class.

Why: under a popular drop every fan opens the catalog and the same track's detail; building them
took three ORM queries and two pydantic passes per request, which made them the bulk of the
platform's work (benchmarks/load.py). The bodies are identical for every caller of one class, so
they are built once per catalog revision:

* the **revision** (`server.db.catalog_revision`, one primary-key read per request) rises in the
  same transaction as any change to a track, its policy, a stem or an artist's name, in whatever
  API process or CLI made it; a response is only ever served under the revision it was built at;
* the **caller class** is everything a body depends on about the caller: for the catalog, whether
  they own a track (an artist also sees their own tracks not opted in: keyed by their id) and the
  search text; for a track's detail, whether they own it, else whether they are a Superfan (the
  `entitled` flag and message). So one caller's entitlement never reaches another class.

Each body carries a strong ETag (a hash of the body): a client that sends it back in
`If-None-Match` gets 304 with no body. `Cache-Control: private, no-cache` keeps shared caches from
storing a body that depends on the caller, and makes clients revalidate every time.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from fastapi import Request, Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.contract import Tier
from server.db import Track, User, catalog_revision

MAX_ENTRIES = 1024  # bodies kept (LRU); a catalog body is a few kB


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def json_response(request: Request, body: bytes, etag: str | None = None) -> Response:
    """`body` with its ETag, or 304 when the caller already holds it (If-None-Match)."""
    etag = etag or etag_of(body)
    headers = {"ETag": etag, "Cache-Control": "private, no-cache", "Vary": "Authorization"}
    sent = request.headers.get("if-none-match", "")
    if sent and (sent.strip() == "*" or etag in (t.strip() for t in sent.split(","))):
        return Response(status_code=304, headers=headers)
    return Response(content=body, media_type="application/json", headers=headers)


class CatalogCache:
    """Bodies of one catalog revision (thread-safe; one per API process, in `app.state`)."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._lock = threading.Lock()
        self._max = max_entries
        self._revision: int | None = None
        self._owners: dict[str, int] | None = None  # track id -> its artist, at `_revision`
        self._bodies: OrderedDict[Hashable, tuple[bytes, str]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def _owners_at(self, db: Session, revision: int) -> dict[str, int]:
        with self._lock:
            if self._revision != revision:
                self._revision, self._owners = revision, None
                self._bodies.clear()
            if self._owners is not None:
                return self._owners
        owners = {tid: uid for tid, uid in db.execute(select(Track.id, Track.artist_user_id))}
        with self._lock:
            if self._revision == revision:
                self._owners = owners
        return owners

    def list_key(self, db: Session, user: User, q: str | None) -> Hashable | None:
        """The catalog's key for `user` searching `q`; None: do not cache."""
        revision = catalog_revision(db)
        if revision is None:
            return None
        owns = user.id in self._owners_at(db, revision).values()
        return ("list", revision, user.id if owns else 0, (q or "").strip())

    def detail_key(self, db: Session, user: User, track_id: str) -> Hashable | None:
        """A track detail's key for `user`; None for an unknown track (its 404 is not cached)."""
        revision = catalog_revision(db)
        if revision is None:
            return None
        owner = self._owners_at(db, revision).get(track_id)
        if owner is None:
            return None
        if owner == user.id:
            kind = "owner"
        else:
            kind = "superfan" if user.tier == Tier.SUPERFAN else "not-superfan"
        return ("detail", revision, track_id, kind)

    def respond(
        self, request: Request, key: Hashable | None, build: Callable[[], BaseModel]
    ) -> Response:
        """The cached body for `key`, or `build()`'s, serialized once and kept under `key`."""
        if key is not None:
            with self._lock:
                entry = self._bodies.get(key)
                if entry is not None:
                    self._bodies.move_to_end(key)
                    self.hits += 1
        else:
            entry = None
        if entry is None:
            body = build().model_dump_json(by_alias=True).encode()
            entry = (body, etag_of(body))
            if key is not None:
                with self._lock:
                    self.misses += 1
                    if key[1] == self._revision:  # type: ignore[index]
                        self._bodies[key] = entry
                        while len(self._bodies) > self._max:
                            self._bodies.popitem(last=False)
        return json_response(request, *entry)
