"""Tempo change with key lock, and key shift: Rubber Band (pylibrb) on each stem, offline.

Why per stem, before the strip: a fan's EQ, filters and sends mean the same frequencies and the
same beats at any tempo/key, and the -1 dBTP limiter sees the final signal (stretching after
the limiter could push peaks back over the ceiling).

Why offline R3 here: the client preview and the platform render both call `stretch_stems`
with the same document, the same library build and single-threaded processing, so they are
identical to the bit (Rubber Band is deterministic for a given input, ratio and options). The
live engine cannot use this path (it must start within a fraction of a second), so what the fan
hears *while playing* with a changed tempo is close to, but not bit-identical with, the render;
see docs/remix-format.md "Tempo and key".

Measured here (2-core VM, pylibrb 0.1.2 / Rubber Band 3): R3 ("finer") stretches one 10 s
stereo stem in ~1.1 s of CPU, R2 ("faster") in ~0.6 s; both are far below the 10x-real-time
target for 8 stems, so stems that cannot be heard (muted, or not soloed) are not stretched at
all, and the identity (tempo 1, key 0) costs nothing.
"""

from __future__ import annotations

import numpy as np

CHUNK = 16384
"""Frames per call into Rubber Band (it warns and reallocates with bigger calls)."""

ENGINE_FINER = True
"""R3 (better transients and pitch) for the offline render; False selects R2 (~2x faster)."""


def is_identity(tempo_ratio: float, key_shift: int) -> bool:
    return float(tempo_ratio) == 1.0 and int(key_shift) == 0


def stretched_length(n_frames: int, tempo_ratio: float) -> int:
    """Frames of a stem of `n_frames` played at `tempo_ratio` (1.25 = 25 % faster)."""
    return max(1, round(n_frames / float(tempo_ratio)))


def pitch_scale(key_shift: int) -> float:
    """Frequency factor of a shift by `key_shift` equal-tempered semitones."""
    return float(2.0 ** (int(key_shift) / 12.0))


def _options() -> int:
    from pylibrb import Option

    engine = Option.ENGINE_FINER if ENGINE_FINER else Option.ENGINE_FASTER
    # NB: THREADING_NEVER keeps the result independent of scheduling: preview == platform.
    return int(
        Option.PROCESS_OFFLINE
        | engine
        | Option.THREADING_NEVER
        | Option.CHANNELS_TOGETHER
        | Option.PitchHighQuality
    )


def stretch_stem(
    stem: np.ndarray, sample_rate: int, tempo_ratio: float, key_shift: int, out: np.ndarray
) -> None:
    """Stretch one (2, N) float32 stem into `out` (2, stretched_length(N)), zero-padded if
    Rubber Band delivers a few frames short."""
    from pylibrb import RubberBandStretcher

    pylibrb_quiet()
    n = stem.shape[1]
    m = out.shape[1]
    rb = RubberBandStretcher(
        int(sample_rate), 2, _options(), 1.0 / float(tempo_ratio), pitch_scale(key_shift)
    )
    rb.set_expected_input_duration(n)
    rb.set_max_process_size(CHUNK)
    for a in range(0, n, CHUNK):
        rb.study(np.ascontiguousarray(stem[:, a : a + CHUNK]), final=a + CHUNK >= n)
    w = 0

    def drain() -> None:
        nonlocal w
        while True:
            avail = rb.available()
            if avail <= 0:
                return
            got = rb.retrieve(avail)
            take = min(got.shape[1], m - w)
            if take > 0:
                out[:, w : w + take] = got[:, :take]
                w += take

    for a in range(0, n, CHUNK):
        rb.process(np.ascontiguousarray(stem[:, a : a + CHUNK]), final=a + CHUNK >= n)
        drain()
    drain()
    if w < m:
        out[:, w:] = 0.0


def stretch_stems(
    stems: np.ndarray,
    sample_rate: int,
    tempo_ratio: float,
    key_shift: int,
    audible: np.ndarray | None = None,
) -> np.ndarray:
    """(S, 2, N) float32 -> (S, 2, round(N / tempo_ratio)) float32 at the new tempo and key.

    Stems with `audible[s]` False come back as silence without being stretched (the mix never
    hears them). Identity (1.0, 0) returns `stems` itself."""
    if is_identity(tempo_ratio, key_shift):
        return stems
    n_stems, _, n = stems.shape
    out = np.zeros((n_stems, 2, stretched_length(n, tempo_ratio)), dtype=np.float32)
    for s in range(n_stems):
        if audible is None or bool(audible[s]):
            stretch_stem(stems[s], sample_rate, tempo_ratio, key_shift, out[s])
    return out


_QUIET = False


def pylibrb_quiet() -> None:
    """Rubber Band logs buffer warnings to stderr by default; keep them out of the app's log."""
    global _QUIET
    if not _QUIET:
        import pylibrb

        pylibrb.set_default_logging_level(0)
        _QUIET = True
