"""The wire contract between the Encore client and the platform.

One module, imported by both `app` (the client) and `server` (the reference platform), so the two
cannot drift apart: a field renamed here is renamed on both sides of the wire at once.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from core.text import display_text_problem
from core.wording import format_tempo, param_label

REMIX_FORMAT: Final = "encore.remix/1"
_REMIX_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
API_PREFIX = "/v1"


class Tier(StrEnum):
    FREE = "free"
    PREMIUM = "premium"
    SUPERFAN = "superfan"


class Role(StrEnum):
    FAN = "fan"
    ARTIST = "artist"


class StemKind(StrEnum):
    DRUMS = "drums"
    BASS = "bass"
    KEYS = "keys"
    LEAD = "lead"
    VOCALS = "vocals"
    FX = "fx"
    OTHER = "other"


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    """Every 4xx/5xx body. `message` is written for a person and says what to do."""

    error: ErrorDetail


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")


class RefreshRequest(BaseModel):
    refresh_token: str


class Account(BaseModel):
    id: int
    username: str
    display_name: str
    tier: Tier
    roles: list[Role]
    diagnostics: bool = False


class DeviceKey(BaseModel):
    """The key stems are sealed under for this signed-in device (core.sealed's layout): held in
    memory only, never handed out again after sign-out or revocation."""

    key_id: str
    key: str = Field(description="base64 of 32 bytes.")
    rotates_at: datetime = Field(description="After this, a new key (the cache refills).")


class DeviceInfo(BaseModel):
    id: str
    name: str = Field(description="What the device called itself at sign-in.")
    signed_in_at: datetime
    last_seen_at: datetime
    current: bool = Field(description="The device asking.")


class DeviceList(BaseModel):
    devices: list[DeviceInfo]


class StemInfo(BaseModel):
    id: str
    name: str
    kind: StemKind
    duration: float = Field(description="Seconds.")
    format: str = Field(description="Container/codec of the stored audio, e.g. 'flac'.")
    sample_rate: int
    channels: int
    size: int = Field(description="Bytes of the encoded audio.")
    sha256: str = Field(description="Hex digest of the encoded audio bytes.")


class Section(BaseModel):
    name: str
    start: float = Field(description="Seconds from the start of the track.")
    end: float


class Analysis(BaseModel):
    bpm: float
    key: str = Field(description="e.g. 'A minor'.")
    beats_per_bar: int = 4
    first_beat: float = Field(
        0.0, description="Seconds to the first downbeat; the grid is regular."
    )
    sections: list[Section] = []


class RightsPolicy(BaseModel):
    """What the artist allows fans to do with a track. Ranges are inclusive."""

    model_config = ConfigDict(extra="forbid")

    opted_in: bool = True
    allowed_stems: list[str] | None = Field(
        None, description="Stem ids fans may use; null means every stem."
    )
    solo_forbidden_stems: list[str] = Field(
        default_factory=list, description="Stems that may not be heard isolated."
    )
    tempo_ratio_min: float = Field(0.75, gt=0.25, lt=4.0)
    tempo_ratio_max: float = Field(1.25, gt=0.25, lt=4.0)
    key_shift_min: int = Field(-3, ge=-12, le=12)
    key_shift_max: int = Field(3, ge=-12, le=12)
    max_length_s: float = Field(600.0, gt=0.0, le=3600.0)
    requires_approval: bool = False
    creator_share: float = Field(0.2, ge=0.0, le=0.5)
    min_balance_change_db: float = Field(
        3.0,
        ge=0.0,
        le=24.0,
        description="Minimum transformation: unless a stem is silenced (muted, or left out by a "
        "solo) or tempo/key change, the loudest and quietest audible stems must differ by at "
        "least this many dB. A uniform gain change is only volume, not a derivative.",
    )

    def allows(self, stem_id: str) -> bool:
        """Whether fans may use (stream, hear, remix) this stem. The one rule both sides apply."""
        return self.allowed_stems is None or stem_id in self.allowed_stems

    @model_validator(mode="after")
    def _ranges_are_ordered(self) -> RightsPolicy:
        if self.tempo_ratio_min > self.tempo_ratio_max:
            raise ValueError(
                f"the slowest tempo ({format_tempo(self.tempo_ratio_min)}) is faster than the "
                f"fastest tempo ({format_tempo(self.tempo_ratio_max)})"
            )
        if self.key_shift_min > self.key_shift_max:
            raise ValueError(
                f"the lowest key shift ({self.key_shift_min:+d} semitones) is above the highest "
                f"({self.key_shift_max:+d} semitones)"
            )
        return self


class TrackSummary(BaseModel):
    id: str
    version: int
    title: str
    artist: str
    duration: float
    bpm: float
    key: str
    opted_in: bool
    stem_count: int


class TrackDetail(TrackSummary):
    stems: list[StemInfo]
    analysis: Analysis
    policy: RightsPolicy
    entitled: bool = Field(description="Whether the caller may stream this track's stems.")
    entitlement_message: str | None = Field(
        None, description="Why not, in words a person can act on, when `entitled` is false."
    )
    owned: bool = Field(
        False, description="Whether the caller is the track's artist (streams every stem)."
    )

    LOCKED_MESSAGE: ClassVar[str] = "The artist keeps this stem out of fan remixes."

    def locked_stems(self, *, as_fan: bool = False) -> dict[str, str]:
        """Stem id -> why it is locked, for this caller (or as a fan would get the track).

        Locked stems are not streamed, heard or put into a remix; the platform refuses to deliver
        them to fans (only their artist gets them), so the studio and the platform agree."""
        if self.owned and not as_fan:
            return {}
        return {s.id: self.LOCKED_MESSAGE for s in self.stems if not self.policy.allows(s.id)}


class StemSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gain_db: float = Field(0.0, ge=-96.0, le=12.0)
    pan: float = Field(0.0, ge=-1.0, le=1.0)
    mute: bool = False
    solo: bool = False
    eq_low_db: float = Field(0.0, ge=-24.0, le=24.0, description="Low shelf, 120 Hz.")
    eq_mid_db: float = Field(0.0, ge=-24.0, le=24.0, description="Peak, 1 kHz, Q 0.7.")
    eq_high_db: float = Field(0.0, ge=-24.0, le=24.0, description="High shelf, 6 kHz.")
    hp_hz: float = Field(20.0, ge=20.0, le=20000.0, description="High-pass cutoff; 20 = off.")
    lp_hz: float = Field(20000.0, ge=20.0, le=20000.0, description="Low-pass; 20000 = off.")
    send_reverb: float = Field(0.0, ge=0.0, le=1.0, description="Post-fader send level.")
    send_delay: float = Field(0.0, ge=0.0, le=1.0, description="Post-fader send level.")


class ReverbSettings(BaseModel):
    """The shared reverb bus (fed by the stems' `send_reverb`)."""

    model_config = ConfigDict(extra="forbid")

    size: float = Field(0.5, ge=0.0, le=1.0)
    damping: float = Field(0.5, ge=0.0, le=1.0)
    wet: float = Field(1.0, ge=0.0, le=1.0, description="Return level.")


class DelaySettings(BaseModel):
    """The shared tempo-synced delay bus (fed by the stems' `send_delay`)."""

    model_config = ConfigDict(extra="forbid")

    beats: float = Field(0.75, ge=0.0625, le=4.0, description="Delay time in beats of the track.")
    feedback: float = Field(0.35, ge=0.0, le=0.95)
    wet: float = Field(1.0, ge=0.0, le=1.0, description="Return level.")


class AIInvolvement(BaseModel):
    """Declared by the creator, in the DDEX ERN 4.3.2 categories."""

    model_config = ConfigDict(extra="forbid")

    vocals: bool = False
    instrumentation: bool = False
    composition: bool = False
    post_production: bool = False
    lyrics: bool = False


class ArrangementSlot(BaseModel):
    """One section of an arranged remix: source seconds [start, end) of the track, played whole.

    Slots are times, not names, because section names repeat ("chorus" twice) and a document must
    mean the same thing to every renderer; `name` is the label the fan saw."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("", max_length=60, description="The section's name (a label only).")
    start: float = Field(..., ge=0.0, le=3600.0, description="Seconds into the source track.")
    end: float = Field(..., gt=0.0, le=3600.0)

    @model_validator(mode="after")
    def _long_enough(self) -> ArrangementSlot:
        if self.end - self.start < 0.05:
            raise ValueError(
                f"arrangement section {self.start:g}-{self.end:g} s is shorter than 50 ms; "
                "pick a longer section"
            )
        return self


AutomationParam = Literal["gain_db", "pan", "mute", "send_reverb", "send_delay"]

MAX_AUTOMATION_POINTS = 10_000
"""Points per lane (a recorded pass keeps at most one point per 20 ms: minutes of moves)."""
MAX_AUTOMATION_LANES = 320
"""Lanes per document: 5 automatable parameters x 64 stems."""


class AutomationLane(BaseModel):
    """Recorded moves of one stem parameter (docs/remix-format.md, "Automation").

    `points` are `[t, value]`: t in seconds of the arranged piece at the original tempo (the
    engine divides by `tempo_ratio`), strictly increasing from 0. The value holds from each
    point to the next; before the first point the first value holds. Values use the
    `StemSettings` range of the parameter; `mute` is 0 (sounding) or 1 (muted)."""

    model_config = ConfigDict(extra="forbid")

    stem: str = Field(..., min_length=1, max_length=200)
    param: AutomationParam
    points: list[tuple[float, float]] = Field(..., min_length=1, max_length=MAX_AUTOMATION_POINTS)

    @model_validator(mode="after")
    def _valid_points(self) -> AutomationLane:
        lo, hi = _AUTOMATION_RANGES[self.param]
        prev = -1.0
        for t, value in self.points:
            if not 0.0 <= t <= 3600.0 or t <= prev:
                raise ValueError(
                    f"the {param_label(self.param)} automation of stem {self.stem!r} goes back "
                    f"in time ({t:g} s after {prev:g} s); clear it and record the move again"
                )
            if not lo <= value <= hi:
                raise ValueError(
                    f"the {param_label(self.param)} automation of stem {self.stem!r} reaches "
                    f"{value:g}, outside {lo:g} to {hi:g}; clear it and record the move again"
                )
            if self.param == "mute" and value not in (0.0, 1.0):
                raise ValueError(
                    f"the mute automation of stem {self.stem!r} holds {value:g}, where only 0 "
                    "(sounding) or 1 (muted) mean something; clear it and record the move again"
                )
            prev = t
        return self


_AUTOMATION_RANGES: dict[str, tuple[float, float]] = {
    "gain_db": (-96.0, 12.0),
    "pan": (-1.0, 1.0),
    "mute": (0.0, 1.0),
    "send_reverb": (0.0, 1.0),
    "send_delay": (0.0, 1.0),
}


class RemixDocument(BaseModel):
    """A remix is a recipe over licensed stems, never audio. Drafts are these documents too."""

    # The schema shows every field in responses too (the serializer below would hide them).
    model_config = ConfigDict(extra="forbid", json_schema_mode_override="validation")

    format: Literal["encore.remix/1"] = REMIX_FORMAT
    track_id: str
    track_version: int
    title: str = Field(..., min_length=1, max_length=120)
    description: str = Field("", max_length=2000)
    stems: dict[str, StemSettings] = Field(default_factory=dict)
    master_gain_db: float = Field(0.0, ge=-24.0, le=12.0)
    tempo_ratio: float = Field(1.0, gt=0.25, lt=4.0)
    key_shift: int = Field(0, ge=-12, le=12)
    reverb: ReverbSettings = Field(default_factory=ReverbSettings)
    delay: DelaySettings = Field(default_factory=DelaySettings)
    ai: AIInvolvement = Field(default_factory=AIInvolvement)
    arrangement: list[ArrangementSlot] | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="Sections played in this order, joined by 15 ms equal-power crossfades; "
        "null plays the track as delivered.",
    )
    automation: list[AutomationLane] = Field(
        default_factory=list,
        max_length=MAX_AUTOMATION_LANES,
        description="Recorded parameter moves, at most one lane per stem and parameter; while "
        "a lane exists it drives its parameter (the stem's static value is not heard).",
    )
    inspired_by: str | None = Field(
        None,
        max_length=64,
        description='The published remix of the same track this one was forked from ("Remix '
        'this remix"); its remixer is credited in the disclosure and the split. Absent (null): '
        "made from the track itself.",
    )

    @field_validator("inspired_by")
    @classmethod
    def _remix_id(cls, value: str | None) -> str | None:
        if value is not None and not _REMIX_ID.fullmatch(value):
            raise PydanticCustomError(
                "remix_id",
                "inspired_by must be a remix id (letters, digits, - and _, as at the end of the "
                "remix's link encore://remix/…); fork the remix again from the track's Remixes "
                "panel, or leave inspired_by out",
            )
        return value

    @model_serializer(mode="wrap")
    def _lineage_only_when_set(self, handler: SerializerFunctionWrapHandler):
        """A document without lineage is written exactly as before the field existed, so its
        hashes (idempotency, duplicate detection) and drafts stay what they were. (No return
        annotation: with one, the response schema would become a bare object.)"""
        data = handler(self)
        if isinstance(data, dict) and "inspired_by" in data and data["inspired_by"] is None:
            del data["inspired_by"]
        return data

    def recipe(self) -> RemixDocument:
        """What is heard, without the credit: the lineage names who to thank, it changes no
        sound, so the rules (derivative, duplicates) judge the document without it."""
        return self.model_copy(update={"inspired_by": None}) if self.inspired_by else self

    @field_validator("title", "description", mode="before")
    @classmethod
    def _readable_by_fans(cls, value: object, info: ValidationInfo) -> object:
        """Other fans read these: core/text.py's rule (the platform applies the same one).

        Before the length checks, so an empty title gets the rule's plain-words message.
        """
        if isinstance(value, str) and info.field_name is not None:
            title = info.field_name == "title"
            problem = display_text_problem(
                value, info.field_name, multiline=not title, required=title
            )
            if problem is not None:
                raise PydanticCustomError("text_rule", "{reason}", {"reason": problem})
        return value

    @model_validator(mode="after")
    def _one_lane_per_parameter(self) -> RemixDocument:
        seen: set[tuple[str, str]] = set()
        for lane in self.automation:
            key = (lane.stem, lane.param)
            if key in seen:
                raise ValueError(
                    f"the {param_label(lane.param)} automation of stem {lane.stem!r} appears "
                    "twice; clear the automation and record it again"
                )
            seen.add(key)
        return self


class RemixCredit(BaseModel):
    """The published remix another one was forked from ("Inspired by <title> by <remixer>")."""

    remix_id: str
    title: str
    remixer: str = Field(description="The original remix's creator, by display name.")
    link: str = Field(description="In-app link to the original remix.")


class RemixCheck(BaseModel):
    """What the platform would refuse in a document, without submitting it (the studio asks
    before the fan presses Submit). Empty `problems`: it would be accepted."""

    problems: list[ErrorDetail]
    inspired_by: RemixCredit | None = Field(
        None, description="Who the remix would credit as its inspiration (`inspired_by`)."
    )
    split: SplitStatement | None = Field(
        None, description="The split it would get if accepted (absent while it has problems)."
    )


class RemixStatus(StrEnum):
    RECEIVED = "received"
    RENDERING = "rendering"
    PENDING_APPROVAL = "pending_approval"
    PUBLISHED = "published"
    REJECTED = "rejected"
    TAKEN_DOWN = "taken_down"  # was published; the track's artist withdrew it (with a reason)


class SplitRole(StrEnum):
    RIGHTSHOLDER = "rightsholder"
    CREATOR = "creator"
    PLATFORM = "platform"
    ORIGINAL_REMIXER = "original_remixer"  # the remix this one was forked from (`inspired_by`)


class SplitLine(BaseModel):
    party: str
    role: SplitRole
    stem_id: str | None = Field(None, description="The stem this rightsholder line is for.")
    remix_id: str | None = Field(
        None, description="The original remix an original remixer's line is for."
    )
    share: Decimal = Field(description="Fraction of the remix's revenue, e.g. 0.1500.")
    basis_points: int = Field(description="The same share in 1/10000ths (exact integers).")


class SplitStatement(BaseModel):
    """How a remix's revenue divides; the lines' shares sum to exactly 1 (10000 bp)."""

    lines: list[SplitLine]
    total: Decimal = Field(Decimal(1), description="Always exactly 1.")


class StemDisclosure(BaseModel):
    stem_id: str
    name: str
    gain_db: float
    pan: float
    muted: bool
    soloed: bool
    audible: bool
    settings: dict[str, object] = Field(
        default_factory=dict, description="Every setting that differs from the default."
    )


class Disclosure(BaseModel):
    """How a remix was made: source, stems, transformations, tools and declared AI use."""

    source_track_id: str
    source_track_title: str
    source_artist: str
    source_track_version: int
    stems_used: list[str] = Field(description="Stem ids audible in the remix.")
    stems: list[StemDisclosure]
    tempo_ratio: float
    key_shift: int
    master_gain_db: float
    other_transformations: dict[str, object] = Field(
        default_factory=dict,
        description="Document-level settings beyond tempo/key/gain (effects, arrangement...).",
    )
    tools: list[str]
    ai: AIInvolvement = Field(description="Declared by the creator (DDEX ERN 4.3.2 categories).")
    ai_categories: list[str] = Field(description="The declared categories, by name.")
    inspired_by: RemixCredit | None = Field(
        None, description="The published remix this one was forked from, credited."
    )


class RemixInfo(BaseModel):
    id: str
    track_id: str
    title: str
    creator: str
    status: RemixStatus
    reason: str | None = Field(
        None, description="Why it was rejected or taken down, when it was (shown to the creator)."
    )
    created_at: datetime
    link: str = Field(
        description="In-app link to the published remix: the one thing a fan may copy."
    )
    split: SplitStatement | None = None
    disclosure: Disclosure | None = None
    plays: int = Field(
        0,
        description="Listeners who played the published remix, each counted at most once per "
        "UTC day (its creator's own plays are not counted).",
    )


class FeedSort(StrEnum):
    NEWEST = "newest"
    MOST_PLAYED = "most_played"


class RemixFeed(BaseModel):
    """One page of a track's published remixes (`GET /v1/tracks/{id}/remixes/published`)."""

    remixes: list[RemixInfo]
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` for the next page; null on the last page."
    )


class PlayCount(BaseModel):
    """The answer to a play event (`POST /v1/remixes/{id}/plays`): same for a repeat."""

    remix_id: str
    plays: int = Field(description="The remix's play count now.")
    counted: bool = Field(
        description="Whether this event added a play (false: already counted for this listener "
        "today, or the creator's own play)."
    )


class ReviewDecision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class ReviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: ReviewDecision
    reason: str | None = Field(
        None, max_length=1000, description="Required when rejecting; shown to the creator."
    )


class TakedownRequest(BaseModel):
    """The artist withdraws a published remix of their track; the creator sees the reason."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        ..., max_length=1000, description="Required (not blank); shown to the creator."
    )


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str = Field(
        description="'policy_changed', 'remix_approved', 'remix_rejected' or 'remix_taken_down'."
    )
    track_id: str
    remix_id: str | None = None
    before: dict[str, object] | None = None
    after: dict[str, object] | None = None
    reason: str | None = None


class AuditLog(BaseModel):
    entries: list[AuditEntry]


class RemixList(BaseModel):
    remixes: list[RemixInfo]


class TrackList(BaseModel):
    tracks: list[TrackSummary]


class ArtistTrack(TrackSummary):
    """One of the caller's own tracks, with what waits for them."""

    awaiting_review: int = Field(
        0, description="Remixes of this track pending the artist's approval."
    )


class ArtistTrackList(BaseModel):
    tracks: list[ArtistTrack]


class Health(BaseModel):
    status: str = "ok"
    version: str = Field(description="The platform software's version, e.g. '0.1.0'.")
