"""Split statements: how a remix's revenue divides, in exact integer basis points.

10000 bp = 100 %. The creator gets the policy's `creator_share`, the platform its configured
share, and the rest goes to the rightsholders of the stems the remix actually uses (audible
stems), in equal parts per stem, each part divided by that stem's rightsholders' shares. A remix
forked from another fan's published remix (`inspired_by`) gives that remix's creator a part of
the creator share (core/lineage.py). Every division uses the largest-remainder method, so the
lines always sum to exactly 10000 bp.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from core.contract import SplitLine, SplitRole, SplitStatement
from core.lineage import ORIGINAL_REMIXER_PART

TOTAL_BP = 10_000


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split the integer `total` in proportion to `weights` so the parts sum to `total` exactly
    (largest remainder; ties go to the earlier weight, so the result is deterministic)."""
    if total < 0 or any(w < 0 for w in weights):
        raise ValueError("total and weights must be non-negative")
    weight_sum = sum(weights)
    if not weights or weight_sum == 0:
        raise ValueError("at least one positive weight is needed")
    floors = [total * w // weight_sum for w in weights]
    remainders = [(total * w % weight_sum, -i) for i, w in enumerate(weights)]
    for _, neg_i in sorted(remainders, reverse=True)[: total - sum(floors)]:
        floors[-neg_i] += 1
    return floors


def share_of(bp: int) -> Decimal:
    return (Decimal(bp) / Decimal(TOTAL_BP)).quantize(Decimal("0.0001"))


def to_bp(fraction: float) -> int:
    return int((Decimal(str(fraction)) * TOTAL_BP).to_integral_value())


def split_statement(
    *,
    creator: str,
    creator_share: float,
    platform: str,
    platform_bp: int,
    used_stems: Sequence[str],
    rightsholders: Mapping[str, Sequence[tuple[str, int]]],
    default_rightsholder: str,
    original_remixer: tuple[str, str] | None = None,
) -> SplitStatement:
    """`rightsholders` maps stem id -> [(party, share_bp)] (shares of that stem, any scale);
    stems without rows belong wholly to `default_rightsholder` (the track's artist).
    `original_remixer` is (party, remix id) of the remix this one was forked from, when its
    creator is someone else: they get their part of the creator share."""
    creator_bp = to_bp(creator_share)
    rights_bp = TOTAL_BP - creator_bp - platform_bp
    if rights_bp < 0:
        raise ValueError("creator and platform shares exceed 100 %")
    if not used_stems:
        raise ValueError("a split needs at least one used stem")
    lines = [
        SplitLine(
            party=platform,
            role=SplitRole.PLATFORM,
            share=share_of(platform_bp),
            basis_points=platform_bp,
        ),
    ]
    own_bp, original_bp = (
        allocate(creator_bp, ORIGINAL_REMIXER_PART)
        if original_remixer is not None and creator_bp > 0
        else (creator_bp, 0)
    )
    lines.append(
        SplitLine(
            party=creator, role=SplitRole.CREATOR, share=share_of(own_bp), basis_points=own_bp
        )
    )
    if original_remixer is not None:
        party, remix_id = original_remixer
        lines.append(
            SplitLine(
                party=party,
                role=SplitRole.ORIGINAL_REMIXER,
                remix_id=remix_id,
                share=share_of(original_bp),
                basis_points=original_bp,
            )
        )
    per_stem = allocate(rights_bp, [1] * len(used_stems))
    for stem_id, stem_bp in zip(used_stems, per_stem, strict=True):
        holders = list(rightsholders.get(stem_id) or [(default_rightsholder, TOTAL_BP)])
        parts = allocate(stem_bp, [share for _, share in holders])
        for (party, _), bp in zip(holders, parts, strict=True):
            lines.append(
                SplitLine(
                    party=party,
                    role=SplitRole.RIGHTSHOLDER,
                    stem_id=stem_id,
                    share=share_of(bp),
                    basis_points=bp,
                )
            )
    assert sum(line.basis_points for line in lines) == TOTAL_BP
    return SplitStatement(lines=lines, total=sum((ln.share for ln in lines), Decimal(0)))
