"""Submission processing: validate a remix document against its track, and render it.

Validation runs in the request (so the fan hears at once what to change), including the bounds
on what a render may cost (server/render_limits.py). Rendering is CPU-bound and runs off the
request: a job on the render queue (server/queue.py), done by a worker (server/worker.py) in
the API process itself on the embedded platform or in worker processes on any machines.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import math
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from core.contract import RemixDocument, RemixStatus, RightsPolicy, StemSettings
from core.remix import (
    arranged_seconds,
    arrangement_problem,
    audible_stems,
    mix_settings,
)
from core.wording import format_seconds, param_label
from server.db import Track
from server.isolation import ALONE_MARGIN_DB, PROFILES, Exposure, exposure
from server.loudness import Loudness, measure
from server.render_limits import RenderLimits, cost_problem
from server.storage import Storage

log = logging.getLogger("encore.platform.pipeline")

UNFINISHED = (RemixStatus.RECEIVED.value, RemixStatus.RENDERING.value)


def document_hash(doc: RemixDocument) -> str:
    """sha256 of canonical JSON, so the same recipe hashes the same however it was spelled."""
    dumped = doc.model_dump(mode="json")
    if not dumped.get("automation"):
        dumped.pop("automation", None)  # documents from before automation hash as they did
    canonical = json.dumps(dumped, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def canonical_hash(doc: RemixDocument, stem_ids: list[str]) -> str:
    """The recipe's identity for duplicate detection: what is *heard*, not what it is called.

    Defaults are filled in for every stem of the track (so omitting a stem equals stating its
    defaults), keys are sorted, and title, description and the AI declaration are left out.
    """
    dumped = doc.model_dump(mode="json", exclude={"title", "description", "ai"})
    stems = dumped.get("stems", {})
    default = StemSettings().model_dump(mode="json")
    dumped["stems"] = {stem_id: stems.get(stem_id, default) for stem_id in stem_ids}
    if not dumped.get("automation"):
        dumped.pop("automation", None)  # documents from before automation hash as they did
    canonical = json.dumps(dumped, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Violation:
    """One broken rule: `code` for clients to branch on, `message` naming the rule and value."""

    code: str
    message: str


def _fmt(x: float) -> str:
    return f"{x:g}"


def _stem_name(track: Track, stem_id: str) -> str:
    """The stem's name as people read it (messages never show internal ids)."""
    return next((s.name for s in track.stems if s.id == stem_id), stem_id)


def check_document(
    doc: RemixDocument,
    track: Track,
    policy: RightsPolicy,
    storage: Storage,
    limits: RenderLimits | None = None,
) -> list[Violation]:
    """Every way `doc` breaks the track's facts, the artist's policy or the platform's render
    bounds (empty when it is fine).

    `storage` holds the stems: whether a solo-forbidden stem is heard alone is judged on their
    sound (server.isolation), once the document's other facts are in order. `limits` bound the
    render's length and memory (the platform's defaults when None), so a remix that would cost
    too much is refused at submission, never queued."""
    problems: list[Violation] = []
    if doc.track_version != track.version:
        problems.append(
            Violation(
                "track_version_mismatch",
                f"track version {doc.track_version} is not the current version "
                f"{track.version} of '{track.title}'. Reload the track and resubmit.",
            )
        )
    stem_ids = [s.id for s in track.stems]
    allowed = stem_ids if policy.allowed_stems is None else policy.allowed_stems
    for stem_id in doc.stems:
        if stem_id not in stem_ids:
            problems.append(
                Violation(
                    "unknown_stem",
                    f"stem '{stem_id}' is not a stem of this track; reopen the track and submit "
                    "again",
                )
            )
        elif stem_id not in allowed and not doc.stems[stem_id].mute:
            # A locked stem that is muted is not heard (nor rendered): only a sounding one is
            # refused, so an older draft that still lists it never blocks a remix.
            problems.append(
                Violation(
                    "stem_not_allowed",
                    f"the {_stem_name(track, stem_id)} stem is one the artist keeps out of "
                    "remixes; mute it or reopen the track (Encore leaves it out)",
                )
            )
    for lane in doc.automation:
        if lane.stem not in stem_ids:
            problems.append(
                Violation(
                    "unknown_stem",
                    f"the {param_label(lane.param)} automation is for stem '{lane.stem}', which "
                    "is not a stem of this track; clear that automation",
                )
            )
        elif lane.stem not in allowed:
            problems.append(
                Violation(
                    "stem_not_allowed",
                    f"the {param_label(lane.param)} automation of the "
                    f"{_stem_name(track, lane.stem)} stem moves a stem the artist keeps out of "
                    "remixes; clear that automation",
                )
            )
    if doc.tempo_ratio > policy.tempo_ratio_max:
        problems.append(
            Violation(
                "tempo_out_of_range",
                f"tempo ratio {_fmt(doc.tempo_ratio)} is above this track's maximum "
                f"{_fmt(policy.tempo_ratio_max)}",
            )
        )
    if doc.tempo_ratio < policy.tempo_ratio_min:
        problems.append(
            Violation(
                "tempo_out_of_range",
                f"tempo ratio {_fmt(doc.tempo_ratio)} is below this track's minimum "
                f"{_fmt(policy.tempo_ratio_min)}",
            )
        )
    if not policy.key_shift_min <= doc.key_shift <= policy.key_shift_max:
        problems.append(
            Violation(
                "key_shift_out_of_range",
                f"key shift {doc.key_shift:+d} semitones is outside this track's range "
                f"{policy.key_shift_min:+d} to {policy.key_shift_max:+d}",
            )
        )
    for stem_id, settings in doc.stems.items():
        if settings.solo and stem_id in policy.solo_forbidden_stems:
            problems.append(
                Violation(
                    "solo_forbidden",
                    f"the {_stem_name(track, stem_id)} stem may not be soloed on this track; "
                    "unsolo it",
                )
            )
    usable = [s for s in stem_ids if s in allowed]
    audible = audible_stems(doc, usable)
    if not audible:
        problems.append(
            Violation(
                "nothing_audible",
                "the remix has no audible stem: unmute at least one (or solo one that is allowed)",
            )
        )
    elif len(audible) == 1 and audible[0] in policy.solo_forbidden_stems:
        problems.append(
            Violation(
                "solo_forbidden",
                f"the {_stem_name(track, audible[0])} stem would be heard on its own, which "
                "this track does not allow; unmute another stem",
            )
        )
    elif not problems:
        exposed = heard_alone(doc, track, storage, usable, policy.solo_forbidden_stems)
        if exposed is not None:
            problems.append(
                Violation(
                    "solo_forbidden",
                    f"from {format_seconds(exposed.first)} the "
                    f"{_stem_name(track, exposed.stem_id)} stem is heard on its own (everything "
                    f"else is more than {ALONE_MARGIN_DB:g} dB quieter, for "
                    f"{exposed.seconds:.1f} s in all), which this track does not allow; keep "
                    "another stem clearly audible there",
                )
            )
    track_seconds = max((s.duration for s in track.stems), default=0.0)
    arrangement = arrangement_problem(doc, track_seconds)
    if arrangement is not None:
        problems.append(Violation("arrangement_outside_track", arrangement))
    length = arranged_seconds(doc, track_seconds) / doc.tempo_ratio
    if length > policy.max_length_s:
        problems.append(
            Violation(
                "too_long",
                f"the remix would last {length:.0f} s, above this track's maximum "
                f"{policy.max_length_s:.0f} s",
            )
        )
    if audible and not problems:
        problem = transformation_problem(doc, usable, audible, policy)
        if problem is not None:
            problems.append(problem)
    if arrangement is None:
        costly = cost_problem(doc, track, policy, limits or RenderLimits())
        if costly is not None:
            problems.append(Violation(*costly))
    return problems


# Settings the minimum-transformation rule measures itself; any *other* non-default setting
# (EQ, filters, sends, effects, arrangement... as the document grows) counts as a transformation.
_MEASURED_STEM_FIELDS = {"gain_db", "pan", "mute", "solo"}
_NOT_TRANSFORMATIONS = {
    "format",
    "track_id",
    "track_version",
    "title",
    "description",
    "stems",
    "master_gain_db",
    "tempo_ratio",
    "key_shift",
    "ai",
}
MIN_TEMPO_CHANGE = 0.01  # a tempo ratio within 1 % of 1 is not a change anyone hears


def heard_alone(
    doc: RemixDocument,
    track: Track,
    storage: Storage,
    usable: list[str],
    forbidden: list[str],
) -> Exposure | None:
    if not any(s in usable for s in forbidden):
        return None
    profiles = {s.id: PROFILES.get(storage.path(s.path), s.sha256) for s in track.stems}
    rate = track.stems[0].sample_rate
    return exposure(doc, profiles, usable, forbidden, rate)


def other_transformations(doc: RemixDocument) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(document-level, per-stem) settings beyond gain/pan/mute/solo/tempo/key that differ from
    their defaults, as JSON values."""
    dumped = doc.model_dump(mode="json")
    defaults = type(doc).model_fields
    doc_level = {
        name: dumped[name]
        for name, field in defaults.items()
        if name not in _NOT_TRANSFORMATIONS
        and name in dumped
        and dumped[name] != _json_default(field)
    }
    if "automation" in doc_level:  # a summary: lanes may hold thousands of points
        doc_level["automation"] = [
            {
                "stem": lane.stem,
                "param": lane.param,
                "points": len(lane.points),
                "min": min(v for _, v in lane.points),
                "max": max(v for _, v in lane.points),
            }
            for lane in doc.automation
        ]
    stem_default = StemSettings().model_dump(mode="json")
    per_stem = {}
    for stem_id, settings in dumped.get("stems", {}).items():
        changed = {
            k: v
            for k, v in settings.items()
            if k not in _MEASURED_STEM_FIELDS and stem_default.get(k) != v
        }
        if changed:
            per_stem[stem_id] = changed
    return doc_level, per_stem


def _json_default(field: Any) -> Any:
    value = field.get_default(call_default_factory=True)
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


def transformation_problem(
    doc: RemixDocument, usable: list[str], audible: list[str], policy: RightsPolicy
) -> Violation | None:
    """The minimum-transformation rule (docs/policy.md). A document is a derivative when at
    least one of these holds:

    * a usable stem is silenced (muted, or left out because another stem is soloed);
    * the audible stems' gains span at least `policy.min_balance_change_db` (a uniform gain
      change is only volume, and loudness normalisation undoes it);
    * the tempo ratio differs from 1 by at least 1 %, or the key is shifted;
    * any other setting (EQ, effects, arrangement...) differs from its default;
    * an automation lane of a usable stem moves (holds two or more values).
    Pan alone does not count.
    """
    if len(audible) < len(usable):
        return None
    if abs(doc.tempo_ratio - 1.0) >= MIN_TEMPO_CHANGE or doc.key_shift != 0:
        return None
    doc_level, per_stem = other_transformations(doc)
    if any(k != "automation" for k in doc_level) or any(s in per_stem for s in audible):
        return None
    if any(lane.stem in usable and len({v for _, v in lane.points}) > 1 for lane in doc.automation):
        return None  # recorded moves: the mix changes over time
    gains = [doc.stems.get(stem_id, StemSettings()).gain_db for stem_id in audible]
    spread = max(gains) - min(gains)
    if spread >= policy.min_balance_change_db:
        return None
    return Violation(
        "not_a_derivative",
        f"the remix is too close to the original to be a derivative: its audible stems' gains "
        f"differ by only {spread:g} dB (this track needs at least "
        f"{policy.min_balance_change_db:g} dB between the loudest and quietest stem), no stem "
        "is muted and tempo and key are unchanged. Rebalance, mute a stem, or change tempo or key",
    )


def render_document(doc: RemixDocument, track: Track, storage: Storage) -> tuple[np.ndarray, int]:
    """(N, 2) float32 render of `doc` over the track's allowed stems, and its sample rate.

    The stems are decoded from their FLAC files a window at a time (server.stemsource), so a
    render holds the output and a few MB of stems, however long the track or many its stems.
    """
    # Imported late so the server starts (and reports a clear rejection) without the renderer.
    from audio.offline import render
    from server.stemsource import DecodingSource

    policy = RightsPolicy.model_validate(track.policy or {})
    stems = [s for s in track.stems if policy.allows(s.id)]
    with DecodingSource([storage.path(s.path) for s in stems]) as source:
        # The same mapping the studio applies live (core.remix.mix_settings, audio.mixsettings).
        settings = mix_settings(doc, [s.id for s in stems], source.sample_rate, bpm=track.bpm)
        mix = render(source, settings, sample_rate=source.sample_rate)
        rate = source.sample_rate
    return np.asarray(mix, dtype=np.float32), rate


def render_to_file(
    doc: RemixDocument, track: Track, storage: Storage, target: Path, normalised: bool = True
) -> Loudness:
    """Render, loudness-normalise and write a 24-bit FLAC atomically (the publish path and the
    operators' `encore-platform render` both use this).

    The gain is applied while writing, a chunk at a time, so the render is never copied whole;
    the samples are those of `normalise` followed by a clip to [-1, 1]."""
    mix, rate = render_document(doc, track, storage)
    if normalised:
        loudness = measure(mix, rate)
    else:
        lufs = -math.inf
        loudness = Loudness(lufs, lufs, 0.0, lufs, lufs)
    write_flac(target, mix, rate, gain=loudness.gain if loudness.gain_db != 0.0 else None)
    return loudness


WRITE_CHUNK = 1 << 16  # frames gained, clipped and handed to the encoder at a time
FLAC_COMPRESSION = 0.0  # libsndfile's scale (0..1 = FLAC levels 0..8): level 0, see below
"""Published renders are encoded at FLAC level 0: about 20 % less encoding time than the
default level 5 on the platform's render path for files ~5 % larger (measured on a 4-minute
mix: 48.3 MB instead of 45.8 MB). Decoded, every level gives the same samples."""


_HAS_LEVEL = "compression_level" in inspect.signature(sf.SoundFile).parameters


def write_flac(
    target: Path,
    mix: np.ndarray,
    rate: int,
    gain: float | np.floating | None = None,
    compression_level: float = FLAC_COMPRESSION,
) -> None:
    """`mix` times `gain` (float32 arithmetic), clipped to [-1, 1], as a 24-bit FLAC at
    `target`: written under a temp name and renamed into place.

    A chunk at a time, so the render is never copied whole: this thread gains and clips the
    next chunk while a helper thread encodes the last one (libsndfile runs without the GIL)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # Named for this process and thread: two workers that render the same remix (one presumed
    # dead, still running) never write into each other's file.
    tmp = target.with_name(f"{target.stem}.{os.getpid()}-{threading.get_ident()}.tmp.flac")
    data = mix[:, None] if mix.ndim == 1 else mix
    n_frames, channels = data.shape
    scale = None if gain is None else np.float32(gain)
    bufs = [np.empty((min(WRITE_CHUNK, n_frames), channels), dtype=np.float32) for _ in range(2)]
    level = {"compression_level": compression_level} if _HAS_LEVEL else {}  # soundfile >= 0.13
    try:
        with (
            sf.SoundFile(tmp, "w", rate, channels, subtype="PCM_24", format="FLAC", **level) as out,
            ThreadPoolExecutor(1, thread_name_prefix="flac-write") as encoder,
        ):  # fmt: skip
            pending: Future[Any] | None = None
            for k, start in enumerate(range(0, n_frames, WRITE_CHUNK)):
                part = data[start : start + WRITE_CHUNK]
                chunk = bufs[k % 2][: part.shape[0]]  # its last write finished (waited below)
                if scale is None:
                    np.copyto(chunk, part, casting="same_kind")
                else:
                    np.multiply(part, scale, out=chunk, casting="same_kind")
                np.clip(chunk, -1.0, 1.0, out=chunk)
                if pending is not None:
                    pending.result()
                pending = encoder.submit(out.write, chunk)
            if pending is not None:
                pending.result()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, target)
