"""The wire contract between the Encore client and the platform.

One module, imported by both `app` (the client) and `server` (the reference platform), so the two
cannot drift apart: a field renamed here is renamed on both sides of the wire at once.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

REMIX_FORMAT = "encore.remix/1"
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
    tempo_ratio_min: float = 0.75
    tempo_ratio_max: float = 1.25
    key_shift_min: int = -3
    key_shift_max: int = 3
    max_length_s: float = 600.0
    requires_approval: bool = False
    creator_share: float = Field(0.2, ge=0.0, le=0.5)


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


class StemSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gain_db: float = Field(0.0, ge=-96.0, le=12.0)
    pan: float = Field(0.0, ge=-1.0, le=1.0)
    mute: bool = False
    solo: bool = False


class AIInvolvement(BaseModel):
    """Declared by the creator, in the DDEX ERN 4.3.2 categories."""

    model_config = ConfigDict(extra="forbid")

    vocals: bool = False
    instrumentation: bool = False
    composition: bool = False
    post_production: bool = False
    lyrics: bool = False


class RemixDocument(BaseModel):
    """A remix is a recipe over licensed stems, never audio. Drafts are these documents too."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["encore.remix/1"] = REMIX_FORMAT
    track_id: str
    track_version: int
    title: str = Field(..., min_length=1, max_length=120)
    description: str = Field("", max_length=2000)
    stems: dict[str, StemSettings] = Field(default_factory=dict)
    master_gain_db: float = Field(0.0, ge=-24.0, le=12.0)
    tempo_ratio: float = Field(1.0, gt=0.25, lt=4.0)
    key_shift: int = Field(0, ge=-12, le=12)
    ai: AIInvolvement = Field(default_factory=AIInvolvement)


class RemixStatus(StrEnum):
    RECEIVED = "received"
    RENDERING = "rendering"
    PENDING_APPROVAL = "pending_approval"
    PUBLISHED = "published"
    REJECTED = "rejected"


class RemixInfo(BaseModel):
    id: str
    track_id: str
    title: str
    creator: str
    status: RemixStatus
    reason: str | None = Field(None, description="Why it was rejected, when it was.")
    created_at: datetime
    link: str = Field(
        description="In-app link to the published remix: the one thing a fan may copy."
    )


class RemixList(BaseModel):
    remixes: list[RemixInfo]


class TrackList(BaseModel):
    tracks: list[TrackSummary]
