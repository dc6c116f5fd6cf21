"""What one render may cost, judged before it is queued: its length and its memory.

A worker renders one remix at a time; without bounds one document (an artist's policy at the
schema maximum: an hour-long arrangement at half tempo) held a worker for minutes and 2.2 GB.
Such a submission is refused instead, with a 422 that names the bound and the figure, so
nothing the platform accepted can exhaust a worker. The bounds are the platform's
(`ENCORE_MAX_RENDER_SECONDS`, `ENCORE_MAX_RENDER_MB`; docs/rendering.md), on top of the
artist's own `max_length_s`.

The memory bound is on the render's own memory, above what an idle worker holds (the
interpreter, the engine and its kernels: 0.3-0.5 GB, the same for every render). The estimate
follows how the renderer holds data (server/pipeline.render_document, audio.offline):

* the mix itself, (frames, 2) float32, and the loudness pass over it;
* with tempo or key changed, the arranged stems whole, (S, 2, N) float32 with N the arranged
  length at the original tempo, and their stretched copy (S, 2, N / tempo);
* without, a window of each stem (server.stemsource) and nothing whole but the mix.

`benchmarks/render_throughput.py --memory` measures the peak over an idle worker against this
estimate (recorded in benchmarks/README.md); the coefficients are those figures rounded up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.contract import RemixDocument, RightsPolicy
from core.remix import arranged_seconds
from server.config import (
    DEFAULT_MAX_RENDER_MB,
    DEFAULT_MAX_RENDER_SECONDS,
    MAX_RENDER_MB_ENV,
    MAX_RENDER_SECONDS_ENV,
    env_float,
)
from server.db import Track

MIX_BYTES_PER_FRAME = 2 * 4 * 1.25
"""The (frames, 2) float32 mix, and a margin for the loudness pass's chunks."""
STEM_WINDOW_MB = 2.0
"""A stem's decoding window and its engine buffers when nothing is stretched."""
STRETCH_BYTES_PER_FRAME = 2 * 4 * 1.1
"""Per stem and frame: the arranged copy, and the stretched copy, each."""


@dataclass(frozen=True)
class RenderLimits:
    """The platform's bounds on one render, set through the environment
    (`ENCORE_MAX_RENDER_SECONDS`, `ENCORE_MAX_RENDER_MB`) so that the API processes, which
    refuse, and the workers, which render, agree without being told twice."""

    max_seconds: float = field(
        default_factory=lambda: env_float(MAX_RENDER_SECONDS_ENV, DEFAULT_MAX_RENDER_SECONDS)
    )
    max_mb: float = field(
        default_factory=lambda: env_float(MAX_RENDER_MB_ENV, DEFAULT_MAX_RENDER_MB)
    )


@dataclass(frozen=True)
class RenderCost:
    seconds: float  # the rendered remix's length
    megabytes: float  # estimated peak memory of the render, above an idle worker


def estimate(doc: RemixDocument, track_seconds: float, n_stems: int, rate: int) -> RenderCost:
    """The cost of rendering `doc` over `n_stems` stems of a track `track_seconds` long."""
    seconds = arranged_seconds(doc, track_seconds) / doc.tempo_ratio
    mix = seconds * rate * MIX_BYTES_PER_FRAME
    if doc.tempo_ratio != 1.0 or doc.key_shift != 0:
        frames = arranged_seconds(doc, track_seconds) * rate  # the arranged stream is stretched
        stems = n_stems * frames * STRETCH_BYTES_PER_FRAME * (1.0 + 1.0 / doc.tempo_ratio)
    else:
        stems = n_stems * STEM_WINDOW_MB * 1e6
    return RenderCost(seconds, (mix + stems) / 1e6)


def track_cost(doc: RemixDocument, track: Track, policy: RightsPolicy) -> RenderCost:
    """The estimate for `doc` over the stems of `track` that `policy` lets fans use."""
    seconds = max((s.duration for s in track.stems), default=0.0)
    rate = track.stems[0].sample_rate if track.stems else 48000
    n_stems = sum(1 for s in track.stems if policy.allows(s.id))
    return estimate(doc, seconds, n_stems, rate)


def cost_problem(
    doc: RemixDocument, track: Track, policy: RightsPolicy, limits: RenderLimits
) -> tuple[str, str] | None:
    """(code, message) when rendering `doc` would exceed `limits`, else None."""
    cost = track_cost(doc, track, policy)
    if cost.seconds > limits.max_seconds:
        return (
            "render_too_long",
            f"the remix would last {cost.seconds:.0f} s, and this platform renders remixes of "
            f"at most {limits.max_seconds:.0f} s ({limits.max_seconds / 60:g} minutes). Shorten "
            "the arrangement or raise the tempo",
        )
    if cost.megabytes > limits.max_mb:
        return (
            "render_too_large",
            f"rendering the remix would need about {cost.megabytes:.0f} MB of memory, above "
            f"this platform's {limits.max_mb:.0f} MB per render (changing tempo or key holds "
            "every stem of the whole track in memory). Shorten the arrangement, or keep the "
            "original tempo and key",
        )
    return None
