"""The platform client: every request the app makes goes through here.

It owns the session's tokens (in memory), refreshes an expired access token once and retries, and
turns every failure into a `PlatformError` whose message a person can act on.
"""

from __future__ import annotations

import base64
import hashlib
import platform
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import requests
from pydantic import BaseModel

from core.contract import (
    API_PREFIX,
    Account,
    ArtistTrack,
    ArtistTrackList,
    AuditEntry,
    AuditLog,
    DeviceInfo,
    DeviceKey,
    DeviceList,
    ErrorDetail,
    FeedSort,
    Health,
    PlayCount,
    RemixCheck,
    RemixDocument,
    RemixFeed,
    RemixInfo,
    RemixList,
    RemixStatus,
    ReviewDecision,
    ReviewRequest,
    RightsPolicy,
    TakedownRequest,
    TokenPair,
    TrackDetail,
    TrackList,
    TrackSummary,
)
from core.sealed import CacheCorrupt, open_sealed

Model = TypeVar("Model", bound=BaseModel)
ProgressFn = Callable[[int, int], None]

USER_AGENT = f"Encore/0.1 ({socket.gethostname()}, {platform.system()})"
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
CHUNK = 256 * 1024


class PlatformError(Exception):
    """A failure the user may see. `message` says what happened and what to do."""

    def __init__(self, message: str, *, code: str = "error", status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


class PlatformUnavailable(PlatformError):
    pass


class AuthError(PlatformError):
    """The session is gone (bad credentials, expired or revoked): sign in again."""


class PlatformClient:
    def __init__(self, base_url: str, *, timeout: tuple[float, float] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout or (CONNECT_TIMEOUT, READ_TIMEOUT)
        self._http = requests.Session()
        # Also the device's name in "Signed-in devices" (which computer is which).
        self._http.headers["User-Agent"] = USER_AGENT
        # NB: workers share the client; the lock keeps a refresh from racing another refresh.
        self._token_lock = threading.Lock()
        self._tokens: TokenPair | None = None
        self.account: Account | None = None
        # Called with (username, refresh token) whenever the platform issues new tokens, so the
        # session store always holds the current refresh token (they rotate on every refresh).
        self.on_tokens: Callable[[str, str], None] | None = None

    # -- session -------------------------------------------------------------------------------

    @property
    def signed_in(self) -> bool:
        return self._tokens is not None

    def login(self, username: str, password: str) -> Account:
        resp = self._send(
            "POST",
            "/auth/token",
            data={"grant_type": "password", "username": username, "password": password},
            auth=False,
        )
        self._tokens = TokenPair.model_validate(resp.json())
        self.account = self._get_model("/me", Account)
        self._tokens_changed()
        return self.account

    def resume(self, refresh_token: str) -> Account:
        """Sign in again from a stored refresh token (no password)."""
        resp = self._send(
            "POST", "/auth/refresh", json={"refresh_token": refresh_token}, auth=False
        )
        self._tokens = TokenPair.model_validate(resp.json())
        self.account = self._get_model("/me", Account)
        self._tokens_changed()
        return self.account

    def _tokens_changed(self) -> None:
        if self.on_tokens and self._tokens and self.account:
            self.on_tokens(self.account.username, self._tokens.refresh_token)

    def logout(self) -> None:
        """Revoke on the platform when it can be reached; forget the tokens either way."""
        try:
            if self._tokens is not None:
                self._send("POST", "/auth/logout")
        except PlatformError:
            pass
        finally:
            self._tokens = None
            self.account = None

    def _replaced_meanwhile(self, access: str) -> bool:
        with self._token_lock:  # NB: waits for a refresh under way, then sees its result
            tokens = self._tokens
        return tokens is not None and tokens.access_token != access

    def _refresh(self, stale_access: str) -> None:
        with self._token_lock:
            tokens = self._tokens
            if tokens is None:
                raise AuthError("You are signed out. Sign in again.", code="signed_out")
            if tokens.access_token != stale_access:
                return  # another thread already refreshed
            resp = self._send(
                "POST",
                "/auth/refresh",
                json={"refresh_token": tokens.refresh_token},
                auth=False,
                retry_auth=False,
            )
            self._tokens = TokenPair.model_validate(resp.json())
        self._tokens_changed()

    # -- catalog ---------------------------------------------------------------------------------

    def tracks(self, query: str = "") -> list[TrackSummary]:
        params = {"q": query} if query else None
        return self._get_model("/tracks", TrackList, params=params).tracks

    def track(self, track_id: str) -> TrackDetail:
        return self._get_model(f"/tracks/{track_id}", TrackDetail)

    def stem_audio(
        self,
        track_id: str,
        stem_id: str,
        *,
        expected_sha256: str | None = None,
        progress: ProgressFn | None = None,
    ) -> bytes:
        """The stem's encoded bytes, held in memory only (the walled garden: never on disk):
        fetched sealed for this device and opened here."""
        sealed = self._fetch_bytes(
            f"/tracks/{track_id}/stems/{stem_id}/audio",
            progress,
            "The connection dropped while downloading a stem. Check your connection and open "
            "the track again.",
        )
        try:
            buf = open_sealed(self.content_key(), bytes(sealed))
        except CacheCorrupt:
            raise PlatformError(
                "A stem arrived damaged (it failed its integrity check). Open the track again; "
                "if it keeps happening, tell the platform's support.",
                code="checksum_mismatch",
            ) from None
        if expected_sha256 and hashlib.sha256(buf).hexdigest() != expected_sha256:
            raise PlatformError(
                "A stem arrived damaged (its checksum does not match). Open the track again; "
                "if it keeps happening, tell the platform's support.",
                code="checksum_mismatch",
            )
        return bytes(buf)

    def stem_range(self, track_id: str, stem_id: str, start: int, end: int) -> Iterator[bytes]:
        """Bytes [start, end] of a stem (inclusive, as HTTP ranges are), as they arrive."""
        resp = self._send(
            "GET",
            f"/tracks/{track_id}/stems/{stem_id}/audio",
            headers={"Range": f"bytes={start}-{end}"},
            stream=True,
        )
        if resp.status_code != 206 or not resp.headers.get("Content-Range", "").startswith(
            f"bytes {start}-"
        ):
            resp.close()
            raise PlatformError(
                "The platform did not send the part of the stem that was asked for. Try again; "
                "if it keeps happening, tell the platform's support.",
                code="bad_range",
            )
        try:
            yield from resp.iter_content(CHUNK)
        except requests.RequestException as exc:
            raise PlatformUnavailable(
                "The connection dropped while streaming. Encore will reconnect.",
                code="connection_lost",
            ) from exc
        finally:
            resp.close()

    def devices(self) -> list[DeviceInfo]:
        """Where this account is signed in (this device has `current`)."""
        return self._get_model("/me/devices", DeviceList).devices

    def sign_out_device(self, device_id: str) -> None:
        """Sign another device (or this one) out: its cached stems become undecryptable."""
        self._send("DELETE", f"/me/devices/{device_id}")

    def content_key(self) -> bytes:
        """This signed-in device's key: the platform seals stems under it (core/sealed.py) and
        the cache keeps them so. Held in memory only; after sign-out or revocation the platform
        never hands it out again, so a copied cache stays undecryptable."""
        key = base64.b64decode(self._get_model("/me/device-key", DeviceKey).key)
        if len(key) != 32:
            raise PlatformError("The platform sent a malformed device key.", code="bad_key")
        return key

    # -- remixes ---------------------------------------------------------------------------------

    def submit_remix(self, doc: RemixDocument, idempotency_key: str) -> RemixInfo:
        resp = self._send(
            "POST",
            "/remixes",
            json=doc.model_dump(mode="json"),
            headers={"Idempotency-Key": idempotency_key},
        )
        return RemixInfo.model_validate(resp.json())

    def check_remix(self, doc: RemixDocument) -> list[ErrorDetail]:
        """What the platform would refuse in `doc` (empty: it would be accepted); nothing is
        submitted and no quota is used."""
        return self.preflight(doc).problems

    def preflight(self, doc: RemixDocument) -> RemixCheck:
        """The platform's check of `doc` before submitting: what it would refuse, and with no
        problems the split it would get and who it credits (`inspired_by`)."""
        resp = self._send("POST", "/remixes/check", json=doc.model_dump(mode="json"))
        return RemixCheck.model_validate(resp.json())

    def published_remixes(
        self,
        track_id: str,
        sort: FeedSort = FeedSort.NEWEST,
        *,
        cursor: str | None = None,
        limit: int = 20,
    ) -> RemixFeed:
        """A page of the track's published remixes (newest or most played first, with play
        counts); pass the page's `next_cursor` for the next one."""
        params: dict[str, str | int] = {"sort": sort.value, "limit": limit}
        if cursor:
            params["cursor"] = cursor
        return self._get_model(f"/tracks/{track_id}/remixes/published", RemixFeed, params=params)

    def record_play(self, remix_id: str) -> PlayCount:
        """Tell the platform this listener played a published remix (it counts one play per
        listener per remix per UTC day, so repeating this is harmless)."""
        resp = self._send("POST", f"/remixes/{remix_id}/plays")
        return PlayCount.model_validate(resp.json())

    def fork_remix(self, remix_id: str) -> RemixDocument:
        """Remix this remix: a published remix's recipe as a new draft whose `inspired_by`
        names it (nothing is stored on the platform until it is submitted)."""
        resp = self._send("POST", f"/remixes/{remix_id}/fork")
        return RemixDocument.model_validate(resp.json())

    def remix(self, remix_id: str) -> RemixInfo:
        return self._get_model(f"/remixes/{remix_id}", RemixInfo)

    def my_remixes(self) -> list[RemixInfo]:
        return self._get_model("/remixes", RemixList, params={"mine": 1}).remixes

    def remix_audio(self, remix_id: str, *, progress: ProgressFn | None = None) -> bytes:
        """The published render's encoded bytes (FLAC), held in memory only: listening happens
        in-app and the walled garden means no audio file ever exists on the client."""
        return self._fetch_bytes(
            f"/remixes/{remix_id}/audio",
            progress,
            "The connection dropped while fetching the remix. Check your connection and press "
            "Listen again.",
        )

    def _fetch_bytes(self, path: str, progress: ProgressFn | None, dropped: str) -> bytes:
        """A whole response body into memory, with progress; `dropped` is the message for a
        connection lost midway."""
        resp = self._send("GET", path, stream=True)
        total = int(resp.headers.get("Content-Length", 0))
        buf = bytearray()
        try:
            for chunk in resp.iter_content(CHUNK):
                buf += chunk
                if progress:
                    progress(len(buf), total)
        except requests.RequestException as exc:
            raise PlatformUnavailable(dropped, code="connection_lost") from exc
        finally:
            resp.close()
        return bytes(buf)

    # -- artist side -----------------------------------------------------------------------------

    def artist_tracks(self) -> list[ArtistTrack]:
        """The signed-in artist's own tracks (opted in or not), each with how many remixes wait
        for review; the platform picks them by account, so two artists' names cannot clash."""
        if self.account is None or "artist" not in self.account.roles:
            return []
        return self._get_model("/me/tracks", ArtistTrackList).tracks

    def review_queue(self, track_id: str, status: RemixStatus | None = None) -> list[RemixInfo]:
        """Remixes of the artist's track, newest first (`status` filters, e.g. pending)."""
        params = {"status": status.value} if status is not None else None
        return self._get_model(f"/tracks/{track_id}/remixes", RemixList, params=params).remixes

    def review(self, remix_id: str, decision: ReviewDecision, reason: str = "") -> RemixInfo:
        """Approve (publish) or reject a pending remix; the platform requires a reason to
        reject, and the creator sees it."""
        body = ReviewRequest(decision=decision, reason=reason.strip() or None)
        resp = self._send("POST", f"/remixes/{remix_id}/review", json=body.model_dump(mode="json"))
        return RemixInfo.model_validate(resp.json())

    def take_down(self, remix_id: str, reason: str) -> RemixInfo:
        """Withdraw a published remix of the artist's track; the platform requires a reason,
        and the creator sees it."""
        body = TakedownRequest(reason=reason.strip())
        resp = self._send("POST", f"/remixes/{remix_id}/takedown", json=body.model_dump())
        return RemixInfo.model_validate(resp.json())

    def set_policy(self, track_id: str, policy: RightsPolicy) -> RightsPolicy:
        """Replace the track's whole rights policy; the platform's 422 names a bad field."""
        resp = self._send("PUT", f"/tracks/{track_id}/policy", json=policy.model_dump(mode="json"))
        return RightsPolicy.model_validate(resp.json())

    def audit(self, track_id: str) -> list[AuditEntry]:
        """Policy changes, reviews and takedowns of the artist's track, newest first."""
        return self._get_model(f"/tracks/{track_id}/audit", AuditLog).entries

    def health(self) -> Health:
        """The platform's liveness and software version (no sign-in needed)."""
        return self._get_model("/health", Health, auth=False)

    # -- transport -------------------------------------------------------------------------------

    def _get_model(self, path: str, model: type[Model], **kwargs: Any) -> Model:
        return model.model_validate(self._send("GET", path, **kwargs).json())

    def _send(
        self,
        method: str,
        path: str,
        *,
        auth: bool = True,
        retry_auth: bool = True,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        hdrs = dict(headers or {})
        access = None
        if auth:
            if self._tokens is None:
                raise AuthError("You are signed out. Sign in again.", code="signed_out")
            access = self._tokens.access_token
            hdrs["Authorization"] = f"Bearer {access}"
        url = f"{self.base_url}{API_PREFIX}{path}"
        try:
            resp = self._http.request(method, url, headers=hdrs, timeout=self.timeout, **kwargs)
        except requests.Timeout as exc:
            raise PlatformUnavailable(
                f"The platform at {self.base_url} is not answering. Try again in a moment.",
                code="timeout",
            ) from exc
        except requests.ConnectionError as exc:
            raise PlatformUnavailable(
                f"Can't reach the platform at {self.base_url}. Check your connection, or that "
                "the platform is running, and try again.",
                code="unreachable",
            ) from exc
        if resp.status_code == 401 and retry_auth and access is not None:
            if self._replaced_meanwhile(access):
                # Another thread refreshed while this request was on its way: the refresh
                # revoked the pair it carried ("signed out or replaced"). Once more with the
                # new one, as if it had been sent a moment later.
                return self._send(
                    method, path, auth=auth, retry_auth=False, headers=headers, **kwargs
                )
            if _error_code(resp) == "token_expired":
                self._refresh(access)
                return self._send(
                    method, path, auth=auth, retry_auth=False, headers=headers, **kwargs
                )
        if resp.status_code >= 400:
            raise _error_from(resp)
        return resp


def _error_code(resp: requests.Response) -> str:
    try:
        return str(resp.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return ""


def _error_from(resp: requests.Response) -> PlatformError:
    try:
        err = resp.json()["error"]
        code, message = str(err["code"]), str(err["message"])
    except (ValueError, KeyError, TypeError):
        code = f"http_{resp.status_code}"
        message = f"The platform answered {resp.status_code} {resp.reason}. Try again later."
    cls = {401: AuthError, 503: PlatformUnavailable}.get(resp.status_code, PlatformError)
    # 503: the platform is shedding load for a moment (with Retry-After); a stem download
    # retries with backoff (app/streaming.py) instead of failing the stem for good.
    return cls(message, code=code, status=resp.status_code)
