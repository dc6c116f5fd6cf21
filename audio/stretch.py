"""Tempo change with key lock, and key shift: Rubber Band (pylibrb) on each stem, offline.

Why per stem, before the strip: a fan's EQ, filters and sends mean the same frequencies and the
same beats at any tempo/key, and the -1 dBTP limiter sees the final signal (stretching after
the limiter could push peaks back over the ceiling).

Why offline R3 here: the client preview and the platform render both call `stretch_stems`
with the same document, the same library build and single-threaded processing per stretcher,
so they are identical to the bit (Rubber Band is deterministic for a given input, ratio and
options). The live engine cannot use this path (it must start within a fraction of a second),
so what the fan hears *while playing* with a changed tempo is close to, but not bit-identical
with, the render; see docs/remix-format.md "Tempo and key".

Speed (benchmarks/stretch.py; 2-core VM, pylibrb 0.1.2 / Rubber Band 3). Nearly all the time is
inside Rubber Band's R3 process() (phase advance, bin classifier, atan2/sincos); the Python
chunking, copies and the study pass are < 1 %. What makes it faster, none of which depends on
scheduling or on the machine's core count:

* `Option.WINDOW_SHORT`: R3 with a single short window instead of its multi-resolution scheme,
  ~2.3-2.7x less CPU. Costs some transient definition (tests/test_stretch.py, 1 ms clicks at
  tempo 1.25 / key +2: 92 % of a click's energy within +-1 ms of its peak and pre-echo -24.5 dB,
  versus 99.9 % / -38 dB with the standard window and 88 % / -12 dB with R2; at 0.9 / 0: 98.5 %
  / -36 dB). A steady 1 kHz tone comes out at least as clean as with the standard window.
* Digital silence is not stretched: each stem is cut at runs of exact zeros of at least
  `SILENCE_GAP_S`, each sounding region (with `SILENCE_PAD_BEFORE_S` / `SILENCE_PAD_AFTER_S` of
  its zeros around it, for the stretcher's lead-in and tails) is stretched on its own and placed
  at round(start / tempo_ratio); the gaps stay exact zeros. A silent stem costs nothing. An
  onset right after a gap may land up to ~2 ms off where a whole-stem run would put it (R3's
  own placement already varies by +-1 ms from one transient to the next).
* A region whose two channels are identical (dual mono: bass, kick, many vocals) is stretched
  as one channel and copied to both.
* The regions are independent jobs run on a thread pool (pylibrb releases the GIL in process):
  each job's samples are a function of its input only, so the result is the same for any
  number of workers (tests/test_stretch.py checks 1 vs 2 vs 3).

All of this is a deterministic function of the stems, the ratio and the key, so preview ==
platform still holds; it does change the rendered samples relative to the previous
multi-window, whole-stem stretch.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

CHUNK = 16384
"""Frames per call into Rubber Band (it warns and reallocates with bigger calls; the chunk size
does not change the cost measurably, 1024 to whole-stem)."""


@dataclass(frozen=True)
class Settings:
    """How stems are stretched. `DEFAULT` is what the app and the platform use; the other
    combinations exist for benchmarks/stretch.py (and give other samples)."""

    engine_finer: bool = True  # R3; False selects R2
    window_short: bool = True  # R3 single short window (~2.5x faster)
    channels_together: bool = True
    pitch_high_quality: bool = True  # else PitchHighSpeed (no measurable gain in offline R3)
    skip_silence: bool = True
    mono_when_identical: bool = True
    chunk: int = CHUNK


DEFAULT = Settings()

SILENCE_GAP_S = 1.0
"""Shortest run of exact-zero frames (both channels) that is not stretched."""
SILENCE_PAD_BEFORE_S = 0.05
"""Zeros kept before a sounding region (the stretcher's lead-in)."""
SILENCE_PAD_AFTER_S = 0.2
"""Zeros kept after a sounding region (window and resampler tails ring into them)."""

WORKERS: int | None = None
"""Threads for `stretch_stems` (None: one per core). Does not change the result."""


def is_identity(tempo_ratio: float, key_shift: int) -> bool:
    return float(tempo_ratio) == 1.0 and int(key_shift) == 0


def stretched_length(n_frames: int, tempo_ratio: float) -> int:
    """Frames of a stem of `n_frames` played at `tempo_ratio` (1.25 = 25 % faster)."""
    return max(1, round(n_frames / float(tempo_ratio)))


def pitch_scale(key_shift: int) -> float:
    """Frequency factor of a shift by `key_shift` equal-tempered semitones."""
    return float(2.0 ** (int(key_shift) / 12.0))


def _options(settings: Settings = DEFAULT) -> int:
    from pylibrb import Option

    engine = Option.ENGINE_FINER if settings.engine_finer else Option.ENGINE_FASTER
    # NB: THREADING_NEVER keeps the result independent of scheduling: preview == platform.
    opts = (
        Option.PROCESS_OFFLINE
        | engine
        | Option.THREADING_NEVER
        | (Option.CHANNELS_TOGETHER if settings.channels_together else Option.CHANNELS_APART)
        | (Option.PitchHighQuality if settings.pitch_high_quality else Option.PitchHighSpeed)
    )
    if settings.window_short:
        opts |= Option.WINDOW_SHORT
    return int(opts)


def sounding_ranges(
    stem: np.ndarray, sample_rate: int, settings: Settings = DEFAULT
) -> list[tuple[int, int]]:
    """Input frame ranges [a, b) of a (2, N) stem to stretch: everything but runs of exact
    zeros of at least SILENCE_GAP_S, each range padded with some of its zeros. [] if silent."""
    n = stem.shape[1]
    if not settings.skip_silence:
        return [(0, n)]
    loud = np.flatnonzero((stem != 0).any(axis=0))
    if loud.size == 0:
        return []
    gap = max(1, round(SILENCE_GAP_S * sample_rate))
    before = round(SILENCE_PAD_BEFORE_S * sample_rate)
    after = round(SILENCE_PAD_AFTER_S * sample_rate)
    # Sounding runs: split where the distance between two non-zero frames exceeds `gap`.
    cut = np.flatnonzero(np.diff(loud) > gap)
    starts = np.concatenate(([loud[0]], loud[cut + 1]))
    ends = np.concatenate((loud[cut], [loud[-1]])) + 1
    return [
        (max(0, int(s) - before), min(n, int(e) + after)) for s, e in zip(starts, ends, strict=True)
    ]


def _stretch_range(
    stem: np.ndarray,
    a: int,
    b: int,
    sample_rate: int,
    tempo_ratio: float,
    key_shift: int,
    out: np.ndarray,
    settings: Settings,
) -> None:
    """Stretch stem[:, a:b] into out[:, round(a / tempo) : round(b / tempo)] (the end of the
    stem maps to out's end), zero-padded if Rubber Band delivers a few frames short."""
    from pylibrb import RubberBandStretcher

    pylibrb_quiet()
    tempo = float(tempo_ratio)
    oa = round(a / tempo)
    ob = out.shape[1] if b >= stem.shape[1] else min(out.shape[1], round(b / tempo))
    dst = out[:, oa:ob]
    m = dst.shape[1]
    mono = settings.mono_when_identical and np.array_equal(stem[0, a:b], stem[1, a:b])
    src = stem[:1, a:b] if mono else stem[:, a:b]
    n = src.shape[1]
    chunk = settings.chunk
    rb = RubberBandStretcher(
        int(sample_rate), src.shape[0], _options(settings), 1.0 / tempo, pitch_scale(key_shift)
    )
    rb.set_expected_input_duration(n)
    rb.set_max_process_size(chunk)
    for i in range(0, n, chunk):
        rb.study(np.ascontiguousarray(src[:, i : i + chunk]), final=i + chunk >= n)
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
                dst[:, w : w + take] = got[:, :take]  # (1, k) broadcasts to both channels
                w += take

    for i in range(0, n, chunk):
        rb.process(np.ascontiguousarray(src[:, i : i + chunk]), final=i + chunk >= n)
        drain()
    drain()
    if w < m:
        dst[:, w:] = 0.0


def stretch_stem(
    stem: np.ndarray,
    sample_rate: int,
    tempo_ratio: float,
    key_shift: int,
    out: np.ndarray,
    settings: Settings = DEFAULT,
) -> None:
    """Stretch one (2, N) float32 stem into `out` (2, stretched_length(N)); `out` must be zero
    where nothing is written (silent gaps are skipped)."""
    for a, b in sounding_ranges(stem, sample_rate, settings):
        _stretch_range(stem, a, b, sample_rate, tempo_ratio, key_shift, out, settings)


def stretch_stems(
    stems: np.ndarray,
    sample_rate: int,
    tempo_ratio: float,
    key_shift: int,
    audible: np.ndarray | None = None,
    *,
    workers: int | None = None,
    settings: Settings = DEFAULT,
) -> np.ndarray:
    """(S, 2, N) float32 -> (S, 2, round(N / tempo_ratio)) float32 at the new tempo and key.

    Stems with `audible[s]` False come back as silence without being stretched (the mix never
    hears them). Identity (1.0, 0) returns `stems` itself. The sounding ranges of all stems run
    on `workers` threads (None: WORKERS, else one per core); the result does not depend on it."""
    if is_identity(tempo_ratio, key_shift):
        return stems
    n_stems, _, n = stems.shape
    out = np.zeros((n_stems, 2, stretched_length(n, tempo_ratio)), dtype=np.float32)
    jobs = [
        (s, a, b)
        for s in range(n_stems)
        if audible is None or bool(audible[s])
        for a, b in sounding_ranges(stems[s], sample_rate, settings)
    ]
    jobs.sort(key=lambda j: j[1] - j[2])  # longest first: better balance, same samples

    def run(job: tuple[int, int, int]) -> None:
        s, a, b = job
        _stretch_range(stems[s], a, b, sample_rate, tempo_ratio, key_shift, out[s], settings)

    n_workers = min(len(jobs), workers or WORKERS or os.cpu_count() or 1)
    if n_workers <= 1:
        for job in jobs:
            run(job)
    else:
        pylibrb_quiet()  # once, before the threads
        with ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="stretch") as pool:
            for f in [pool.submit(run, job) for job in jobs]:
                f.result()
    return out


_QUIET = False


def pylibrb_quiet() -> None:
    """Rubber Band logs buffer warnings to stderr by default; keep them out of the app's log."""
    global _QUIET
    if not _QUIET:
        import pylibrb

        pylibrb.set_default_logging_level(0)
        _QUIET = True
