"""Disclosure records: how a remix was made, from its document and the track it uses."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from core.contract import (
    AIInvolvement,
    Disclosure,
    RemixCredit,
    RemixDocument,
    StemDisclosure,
    StemSettings,
)
from server.db import Track
from server.pipeline import other_transformations

RENDER_ENGINE = "Encore offline renderer (the studio's own engine, bit-exact)"
LOUDNESS_STEP = "loudness normalisation (ITU-R BS.1770 integrated, true-peak capped)"


def encore_version() -> str:
    try:
        return version("encore")
    except PackageNotFoundError:  # running from a checkout that was never pip-installed
        return "0.0.0+checkout"


def ai_categories(ai: AIInvolvement) -> list[str]:
    """The declared DDEX ERN 4.3.2 AI categories, by name."""
    return [name for name, declared in ai.model_dump().items() if declared]


def build_disclosure(
    doc: RemixDocument,
    track: Track,
    usable: list[str],
    audible: list[str],
    inspired_by: RemixCredit | None = None,
) -> Disclosure:
    """`inspired_by`: the published remix `doc` was forked from (server/lineage.py resolved
    `doc.inspired_by`), credited to its remixer."""
    doc_level, per_stem = other_transformations(doc.recipe())  # the credit is no transformation
    names = {s.id: s.name for s in track.stems}
    stems = []
    for stem_id in usable:
        settings = doc.stems.get(stem_id, StemSettings())
        stems.append(
            StemDisclosure(
                stem_id=stem_id,
                name=names.get(stem_id, stem_id),
                gain_db=settings.gain_db,
                pan=settings.pan,
                muted=settings.mute,
                soloed=settings.solo,
                audible=stem_id in audible,
                settings=per_stem.get(stem_id, {}),
            )
        )
    return Disclosure(
        source_track_id=track.id,
        source_track_title=track.title,
        source_artist=track.artist.display_name,
        source_track_version=doc.track_version,
        stems_used=list(audible),
        stems=stems,
        tempo_ratio=doc.tempo_ratio,
        key_shift=doc.key_shift,
        master_gain_db=doc.master_gain_db,
        other_transformations=doc_level,
        tools=[f"Encore {encore_version()}", RENDER_ENGINE, LOUDNESS_STEP],
        ai=doc.ai,
        ai_categories=ai_categories(doc.ai),
        inspired_by=inspired_by,
    )
