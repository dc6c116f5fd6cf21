"""The authorisation matrix: every endpoint × every kind of caller, expected status per cell.

The rows are checked against `/openapi.json`, so an endpoint added without a row here fails
`test_every_endpoint_has_a_row`. A platform of its own (module scope) with this state:

* `neon-harbor` (artist's, opted in, approval required) with `pending`: the creator's remix
  awaiting the artist, and `published`: the creator's remix published before approval was on;
* `paper-lanterns` (artist's) closed to remixing: only its artist sees it (`hidden`).

Callers: anonymous, free (`casual`), premium, a superfan who is not the creator (`qa`), the
creator of the remixes (`fan`, superfan), the owning artist (`artist`) and another artist
(`artist2`, who owns no track involved).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from app.embedded import PlatformProcess, start_platform
from tests.platform_helpers import Api, doc_for, stem_ids, wait_for_status
from tests.plugins.platform import DEMO_PASSWORD, login

ROLES = ("anon", "free", "premium", "superfan", "creator", "owner", "other_artist")
USERNAMES = {
    "free": "casual",
    "premium": "premium",
    "superfan": "qa",
    "creator": "fan",
    "owner": "artist",
    "other_artist": "artist2",
}
OPEN, HIDDEN = "neon-harbor", "paper-lanterns"


@dataclass
class World:
    platform: PlatformProcess
    apis: dict[str, Api]
    ids: dict[str, str]  # placeholder -> value for path templates
    tracks: dict[str, dict]
    policies: dict[str, dict]
    _variant: Iterator[int] = field(default_factory=itertools.count)

    def fresh_doc(self, track_id: str) -> dict:
        """A new recipe each call, so no submission is refused as a duplicate."""
        track = self.tracks[track_id]
        gain = -3.0 - 1.5 * next(self._variant)  # near duplicates are < 1 dB apart
        return doc_for(track, stems={stem_ids(track)[0]: {"gain_db": gain}})


@pytest.fixture(scope="module")
def world(tmp_path_factory, demo_env) -> Iterator[World]:
    proc = start_platform(tmp_path_factory.mktemp("authz"), env=demo_env)
    try:
        apis = {"anon": Api(proc.url)} | {
            role: Api(proc.url, login(proc.url, user)["access_token"])
            for role, user in USERNAMES.items()
        }
        owner, creator = apis["owner"], apis["creator"]
        tracks = {t: owner("GET", f"/tracks/{t}").json() for t in (OPEN, HIDDEN)}
        w = World(proc, apis, {}, tracks, {})
        published = creator.submit(w.fresh_doc(OPEN))
        assert published.status_code == 201, published.text
        assert wait_for_status(creator, published.json()["id"])["status"] == "published"
        policy = tracks[OPEN]["policy"] | {"requires_approval": True}
        assert owner("PUT", f"/tracks/{OPEN}/policy", json=policy).status_code == 200
        pending = creator.submit(w.fresh_doc(OPEN))
        assert pending.status_code == 201, pending.text
        assert wait_for_status(creator, pending.json()["id"])["status"] == "pending_approval"
        hidden_policy = tracks[HIDDEN]["policy"] | {"opted_in": False}
        assert owner("PUT", f"/tracks/{HIDDEN}/policy", json=hidden_policy).status_code == 200
        w.policies = {OPEN: policy, HIDDEN: hidden_policy}
        w.ids = {
            "open": OPEN,
            "hidden": HIDDEN,
            "open_stem": stem_ids(tracks[OPEN])[0],
            "hidden_stem": stem_ids(tracks[HIDDEN])[0],
            "pending": pending.json()["id"],
            "published": published.json()["id"],
        }
        yield w
    finally:
        proc.kill()


Body = Callable[[World, str], dict[str, Any]]  # (world, role) -> requests keyword arguments


@dataclass(frozen=True)
class Row:
    method: str
    route: str  # as in /openapi.json
    path: str  # `route` with its parameters replaced by World.ids placeholders
    expected: dict[str, int]
    request: Body = lambda _w, _r: {}
    authenticated: bool = True  # send the role's bearer token

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


def row(method: str, route: str, path: str, *statuses: int, **kwargs: Any) -> Row:
    assert len(statuses) == len(ROLES)
    return Row(method, route, path, dict(zip(ROLES, statuses, strict=True)), **kwargs)


def _credentials(_w: World, role: str) -> dict[str, Any]:
    user, password = USERNAMES.get(role, "nobody"), DEMO_PASSWORD if role != "anon" else "wrong"
    return {"data": {"username": user, "password": password}}


def _refresh(w: World, role: str) -> dict[str, Any]:
    if role == "anon":
        return {"json": {"refresh_token": "ea_not-a-real-refresh-token"}}
    return {"json": {"refresh_token": login(w.platform.url, USERNAMES[role])["refresh_token"]}}


def _own_session(w: World, role: str) -> dict[str, Any]:
    """Logout revokes a session, so each caller signs out of a session of its own."""
    if role == "anon":
        return {}
    token = login(w.platform.url, USERNAMES[role])["access_token"]
    return {"headers": {"Authorization": f"Bearer {token}"}}


def _submit(track: str) -> Body:
    def body(w: World, _role: str) -> dict[str, Any]:
        return {"json": w.fresh_doc(track), "headers": {"Idempotency-Key": uuid.uuid4().hex}}

    return body


def _policy(track: str) -> Body:
    return lambda w, _role: {"json": w.policies[track]}  # unchanged: the cell changes nothing


# A rejection without a reason is refused *after* the caller is known to be the track's artist
# (422), and approving a published remix is refused as not pending (409): no cell changes state.
_REJECT_NO_REASON: Body = lambda _w, _r: {"json": {"decision": "reject"}}  # noqa: E731
_APPROVE: Body = lambda _w, _r: {"json": {"decision": "approve"}}  # noqa: E731
# Likewise a takedown without a reason (422 for the owner) and of a pending remix (409).
_TAKEDOWN_NO_REASON: Body = lambda _w, _r: {"json": {"reason": " "}}  # noqa: E731
_TAKEDOWN: Body = lambda _w, _r: {"json": {"reason": "Not cleared for remixes."}}  # noqa: E731

#           anon  free prem  sfan  creat owner other
MATRIX = [
    row("GET", "/v1/health", "/v1/health", 200, 200, 200, 200, 200, 200, 200),
    row("GET", "/v1/ready", "/v1/ready", 200, 200, 200, 200, 200, 200, 200),
    row("POST", "/v1/auth/token", "/v1/auth/token", 401, 200, 200, 200, 200, 200, 200,
        request=_credentials, authenticated=False),
    row("POST", "/v1/auth/refresh", "/v1/auth/refresh", 401, 200, 200, 200, 200, 200, 200,
        request=_refresh, authenticated=False),
    row("POST", "/v1/auth/logout", "/v1/auth/logout", 401, 204, 204, 204, 204, 204, 204,
        request=_own_session, authenticated=False),
    row("GET", "/v1/me", "/v1/me", 401, 200, 200, 200, 200, 200, 200),
    row("GET", "/v1/me/device-key", "/v1/me/device-key", 401, 200, 200, 200, 200, 200, 200),
    row("GET", "/v1/me/devices", "/v1/me/devices", 401, 200, 200, 200, 200, 200, 200),
    # Nobody's device: a 404 for everyone signed in (another account's device is the same).
    row("DELETE", "/v1/me/devices/{device_id}", "/v1/me/devices/0123456789abcdef",
        401, 404, 404, 404, 404, 404, 404),
    row("GET", "/v1/tracks", "/v1/tracks", 401, 200, 200, 200, 200, 200, 200),
    row("GET", "/v1/tracks/{track_id}", "/v1/tracks/{open}",
        401, 200, 200, 200, 200, 200, 200),
    row("GET", "/v1/tracks/{track_id}", "/v1/tracks/{hidden}",
        401, 404, 404, 404, 404, 200, 404),
    row("GET", "/v1/tracks/{track_id}/stems/{stem_id}/audio",
        "/v1/tracks/{open}/stems/{open_stem}/audio",
        401, 403, 403, 200, 200, 200, 403),
    row("GET", "/v1/tracks/{track_id}/stems/{stem_id}/audio",
        "/v1/tracks/{hidden}/stems/{hidden_stem}/audio",
        401, 404, 404, 404, 404, 200, 404),
    row("POST", "/v1/remixes", "/v1/remixes", 401, 403, 403, 201, 201, 201, 403,
        request=_submit(OPEN)),
    row("POST", "/v1/remixes", "/v1/remixes", 401, 422, 422, 422, 422, 201, 422,
        request=_submit(HIDDEN)),
    # The dry-run check answers what a submission would (a hidden track: a problem, not a 422).
    row("POST", "/v1/remixes/check", "/v1/remixes/check", 401, 403, 403, 200, 200, 200, 403,
        request=_submit(OPEN)),
    row("POST", "/v1/remixes/check", "/v1/remixes/check", 401, 200, 200, 200, 200, 200, 200,
        request=_submit(HIDDEN)),
    row("GET", "/v1/remixes", "/v1/remixes", 401, 200, 200, 200, 200, 200, 200),
    row("GET", "/v1/remixes/{remix_id}", "/v1/remixes/{published}",
        200, 200, 200, 200, 200, 200, 200),
    row("GET", "/v1/remixes/{remix_id}", "/v1/remixes/{pending}",
        404, 404, 404, 404, 200, 200, 404),
    row("GET", "/v1/remixes/{remix_id}/audio", "/v1/remixes/{published}/audio",
        401, 403, 403, 200, 200, 200, 403),
    row("GET", "/v1/remixes/{remix_id}/audio", "/v1/remixes/{pending}/audio",
        401, 404, 404, 404, 200, 200, 404),
    row("PUT", "/v1/tracks/{track_id}/policy", "/v1/tracks/{open}/policy",
        401, 403, 403, 403, 403, 200, 403, request=_policy(OPEN)),
    row("PUT", "/v1/tracks/{track_id}/policy", "/v1/tracks/{hidden}/policy",
        401, 404, 404, 404, 404, 200, 404, request=_policy(HIDDEN)),
    row("GET", "/v1/tracks/{track_id}/remixes", "/v1/tracks/{open}/remixes",
        401, 403, 403, 403, 403, 200, 403),
    row("GET", "/v1/tracks/{track_id}/remixes", "/v1/tracks/{hidden}/remixes",
        401, 404, 404, 404, 404, 200, 404),
    row("POST", "/v1/remixes/{remix_id}/review", "/v1/remixes/{pending}/review",
        401, 404, 404, 404, 403, 422, 404, request=_REJECT_NO_REASON),
    row("POST", "/v1/remixes/{remix_id}/review", "/v1/remixes/{published}/review",
        401, 403, 403, 403, 403, 409, 403, request=_APPROVE),
    row("POST", "/v1/remixes/{remix_id}/takedown", "/v1/remixes/{published}/takedown",
        401, 403, 403, 403, 403, 422, 403, request=_TAKEDOWN_NO_REASON),
    row("POST", "/v1/remixes/{remix_id}/takedown", "/v1/remixes/{pending}/takedown",
        401, 404, 404, 404, 403, 409, 404, request=_TAKEDOWN),
    # Remixes of a track (the feed, plays, "Remix this remix"): listeners entitled to the track.
    row("GET", "/v1/tracks/{track_id}/remixes/published", "/v1/tracks/{open}/remixes/published",
        401, 403, 403, 200, 200, 200, 403),
    row("GET", "/v1/tracks/{track_id}/remixes/published",
        "/v1/tracks/{hidden}/remixes/published", 401, 404, 404, 404, 404, 200, 404),
    row("POST", "/v1/remixes/{remix_id}/plays", "/v1/remixes/{published}/plays",
        401, 403, 403, 200, 200, 200, 403),
    row("POST", "/v1/remixes/{remix_id}/plays", "/v1/remixes/{pending}/plays",
        401, 404, 404, 404, 409, 409, 404),
    row("POST", "/v1/remixes/{remix_id}/fork", "/v1/remixes/{published}/fork",
        401, 403, 403, 200, 200, 200, 403),
    row("POST", "/v1/remixes/{remix_id}/fork", "/v1/remixes/{pending}/fork",
        401, 404, 404, 404, 409, 409, 404),
    row("GET", "/v1/me/tracks", "/v1/me/tracks", 401, 200, 200, 200, 200, 200, 200),
    row("GET", "/v1/tracks/{track_id}/audit", "/v1/tracks/{open}/audit",
        401, 403, 403, 403, 403, 200, 403),
    row("GET", "/v1/tracks/{track_id}/audit", "/v1/tracks/{hidden}/audit",
        401, 404, 404, 404, 404, 200, 404),
]  # fmt: skip


def test_every_endpoint_has_a_row(world):
    spec = requests.get(f"{world.platform.url}/openapi.json", timeout=10).json()
    served = {
        (method.upper(), route)
        for route, ops in spec["paths"].items()
        for method in ops
        if method in ("get", "put", "post", "patch", "delete")
    }
    covered = {(r.method, r.route) for r in MATRIX}
    assert served - covered == set(), "endpoints without an authorisation row"
    assert covered - served == set(), "rows for endpoints the platform does not serve"


def _call(world: World, r: Row, role: str) -> requests.Response:
    kwargs = r.request(world, role)
    headers = dict(kwargs.pop("headers", {}))
    api = world.apis[role]
    if r.authenticated and api.token:
        headers["Authorization"] = f"Bearer {api.token}"
    url = world.platform.url + r.path.format(**world.ids)
    return requests.request(r.method, url, headers=headers, timeout=30, **kwargs)


@pytest.fixture(scope="module")
def spec(world) -> dict:
    return requests.get(f"{world.platform.url}/openapi.json", timeout=10).json()


@pytest.mark.parametrize("r", MATRIX, ids=[r.name for r in MATRIX])
def test_authorisation_row(world, spec, r):
    got, bad_errors = {}, []
    for role in ROLES:
        resp = _call(world, r, role)
        got[role] = resp.status_code
        if resp.status_code >= 400:
            body = resp.json()
            if set(body) != {"error"} or len(body["error"].get("message", "")) < 10:
                bad_errors.append((role, resp.text[:200]))
    assert got == r.expected
    assert bad_errors == [], "every refusal is the JSON error shape with a message"
    declared = spec["paths"][r.route][r.method.lower()]["responses"]
    undeclared = sorted({code for code in got.values() if str(code) not in declared})
    assert undeclared == [], f"statuses missing from /openapi.json for {r.method} {r.route}"
