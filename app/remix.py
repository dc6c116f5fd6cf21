"""The remix document as the engine sees it.

Client preview and platform render both turn a `RemixDocument` into per-stem arrays here, so the
two renders cannot disagree about what a document means.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.contract import RemixDocument, StemSettings


@dataclass(frozen=True)
class MixArrays:
    """Per-stem controls in the order of `stem_ids`."""

    gain_db: np.ndarray  # float64 (S,)
    pan: np.ndarray  # float64 (S,)
    mute: np.ndarray  # bool (S,)
    solo: np.ndarray  # bool (S,)
    master_gain_db: float


def document_arrays(doc: RemixDocument, stem_ids: list[str]) -> MixArrays:
    """Stems the document does not mention play at their defaults (unity, centre)."""
    settings = [doc.stems.get(stem_id, StemSettings()) for stem_id in stem_ids]
    return MixArrays(
        gain_db=np.array([s.gain_db for s in settings], dtype=np.float64),
        pan=np.array([s.pan for s in settings], dtype=np.float64),
        mute=np.array([s.mute for s in settings], dtype=bool),
        solo=np.array([s.solo for s in settings], dtype=bool),
        master_gain_db=doc.master_gain_db,
    )


def audible_stems(doc: RemixDocument, stem_ids: list[str]) -> list[str]:
    """Stems that reach the mix: not muted, and soloed when anything is soloed."""
    arrays = document_arrays(doc, stem_ids)
    any_solo = bool(arrays.solo.any())
    return [
        stem_id
        for stem_id, mute, solo in zip(stem_ids, arrays.mute, arrays.solo, strict=True)
        if not mute and (solo or not any_solo)
    ]
