"""Offline (faster than real time) rendering of a mix: exports, server-side previews, tests.

`render` drives a real `Engine` through `Engine.process` block by block, so an export is
the very code path the user heard, not a re-implementation that could drift from it; the
settings reach that engine through `MixSettings.apply`, as they reach the live studio's.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from audio import stretch
from audio.automation import AUTOMATION_STEP, LaneSpec
from audio.engine import Engine
from audio.mixer import _StripWorker, offline_worker
from audio.mixsettings import MixSettings
from audio.source import ArraySource, BlockSource
from audio.transport import Timeline

OFFLINE_BLOCK = 16384
"""The smallest block `render` processes with (bit-identical to any other, see below)."""
OFFLINE_BLOCK_QUANTUM = AUTOMATION_STEP
"""With automation, blocks that are multiples of this render identically
(audio.automation.AUTOMATION_STEP); OFFLINE_BLOCK is one."""


def _whole(source: BlockSource) -> np.ndarray:
    """Every frame of `source` as one (S, 2, N) float32 array (the stretcher needs it all)."""
    if isinstance(source, ArraySource):
        return source.stems
    stems = np.zeros((int(source.n_stems), 2, int(source.n_frames)), dtype=np.float32)
    source.read(0, stems)
    return stems


def _arranged(
    source: BlockSource, arrangement: list[tuple[int, int]], sample_rate: int
) -> np.ndarray:
    """The arranged piece (sections in order, joins crossfaded: audio.transport) as one
    (S, 2, N) float32 array: what the live stretcher stretches (audio.livestretch), so the
    render stretches the very same stream."""
    block = OFFLINE_BLOCK
    timeline = Timeline(
        int(source.n_stems), block, int(source.n_frames), sample_rate, list(arrangement)
    )
    out = np.zeros((int(source.n_stems), 2, timeline.length), dtype=np.float32)
    for v in range(0, timeline.length, block):
        timeline.read(source, v, out[:, :, v : v + block])
    return out


class _ThreadChooser:
    """Uses the helper thread for the blocks where it pays: on a shared or busy machine the second
    core may not be free, and then the hand-off only costs time. Both paths give the same bits,
    so the choice may change at any block: the first blocks try each way (the first of each is
    a warm-up), then the faster one per frame runs, and the other is re-tried every PROBE
    blocks (load changes)."""

    PROBE = 12

    def __init__(self, worker: _StripWorker) -> None:
        self._worker = worker
        self._cost: dict[bool, float] = {}
        self._i = 0
        self._mode = False
        self._t0 = 0.0

    def begin(self) -> None:
        i = self._i
        if i < 4:
            mode = i >= 2
        else:
            best = min(self._cost, key=self._cost.__getitem__) if self._cost else True
            mode = (not best) if i % self.PROBE == 0 else best
        self._mode = mode
        self._worker.enabled = mode
        self._t0 = time.perf_counter()

    def end(self, frames: int) -> None:
        dt = (time.perf_counter() - self._t0) / max(frames, 1)
        if self._i not in (0, 2):  # not the warm-up blocks
            old = self._cost.get(self._mode)
            self._cost[self._mode] = dt if old is None else 0.5 * (old + dt)
        self._i += 1


def render_mix(
    stems: np.ndarray | BlockSource,
    gain_db: Any,
    pan: Any,
    mute: Any,
    solo: Any,
    master_gain_db: float,
    sample_rate: int = 48000,
    block: int = 1024,
    strip: np.ndarray | None = None,
    bus: np.ndarray | None = None,
    arrangement: list[tuple[int, int]] | None = None,
    tempo_ratio: float = 1.0,
    key_shift: int = 0,
    automation: Sequence[LaneSpec] | None = None,
    threads: bool = True,
) -> np.ndarray:
    """`render` with the settings given one by one (gain_db/pan/mute/solo scalars or length-S
    sequences): tests, benchmarks and the worker's warm-up. See `render` and MixSettings."""
    source = stems if isinstance(stems, BlockSource) else ArraySource(stems)
    settings = MixSettings.of(
        int(source.n_stems),
        gain_db,
        pan,
        mute,
        solo,
        master_gain_db,
        strip=strip,
        bus=bus,
        tempo_ratio=tempo_ratio,
        key_shift=key_shift,
        automation=automation,
        arrangement=arrangement,
    )
    return render(source, settings, sample_rate, block, threads=threads)


def render(
    stems: np.ndarray | BlockSource,
    settings: MixSettings,
    sample_rate: int = 48000,
    block: int = 1024,
    *,
    threads: bool = True,
) -> np.ndarray:
    """Render the whole mix of `stems` (S, 2, N) with `settings` -> (N, 2) float32.

    `stems` may also be any `BlockSource` (read block by block, like the live engine does).
    `settings` (audio.mixsettings, the same object the live studio applies) carries faders,
    pans, mutes, solos, master, EQ, filters, sends, reverb/delay/tempo, the arrangement, tempo
    and key, and automation. An arrangement (source frame ranges played in order with
    crossfaded joins, audio.transport) makes the result last the arranged length. The output
    passes the -1 dBTP limiter; its latency is compensated (output frame i is the mix of stem
    frame i).

    The controls are in place before the first block (no ramp at the start), and the result is
    bit-identical for any block size and to `Engine.process` live with the same constant
    controls (see audio.mixer for why).

    `tempo_ratio` (1.25 = 25 % faster, key kept) and `key_shift` (semitones) stretch every
    audible stem before the mix (audio.stretch, the live preview's stretcher and settings): the
    result then has round(N / tempo_ratio) frames, N the arranged length (with an arrangement,
    the arranged stream is stretched, as live). The stretch is deterministic, so a client
    preview and the platform's render of the same document are identical; it does not depend on
    `block`.

    Automation lanes are played back exactly as the live engine does (audio.automation); with
    automation the result is bit-identical for block sizes that are multiples of
    audio.automation.AUTOMATION_STEP (64 frames).

    `threads` (default True): on a multi-core machine, split each block's channel strips and
    the reverb's two channels across this thread and a helper thread
    (audio.mixer.offline_worker), for the blocks where that is measured to be faster;
    bit-identical to threads=False.
    """
    source = stems if isinstance(stems, BlockSource) else ArraySource(stems)
    if block < 1:
        raise ValueError("block must be >= 1")
    n_stems = int(source.n_stems)
    if settings.n_stems != n_stems:
        raise ValueError(f"mix settings for {settings.n_stems} stems, the source has {n_stems}")
    if not stretch.is_identity(settings.tempo_ratio, settings.key_shift):
        arrangement = None if settings.arrangement is None else list(settings.arrangement)
        played = (
            _whole(source) if arrangement is None else _arranged(source, arrangement, sample_rate)
        )
        source = ArraySource(
            stretch.stretch_stems(
                played, sample_rate, settings.tempo_ratio, settings.key_shift, settings.audible()
            )
        )
        settings = replace(settings, arrangement=None)  # already arranged, as live
    n_frames = int(source.n_frames)
    # Offline the block size is free where it provably cannot change a bit: with constant
    # controls the result is the same for any block size, and with automation for any multiple
    # of the automation step (see the docstring). Bigger blocks cut the per-block Python
    # overhead, which at 1024 frames is about a third of the render time.
    if not settings.automation or block % OFFLINE_BLOCK_QUANTUM == 0:
        block = max(block, OFFLINE_BLOCK)

    engine = Engine(sample_rate=sample_rate, max_block=block, max_stems=max(1, n_stems))
    engine.load_source(source, [f"stem{i}" for i in range(n_stems)])
    settings.apply(engine, prestretched=True)
    if settings.arrangement is not None:
        n_frames = engine.duration_frames
    engine.play()

    out = np.empty((n_frames, 2), dtype=np.float32)
    with offline_worker(threads) as worker:
        pick = _ThreadChooser(worker) if worker is not None else None
        for start in range(0, n_frames, block):
            if pick is None:
                engine.process(out[start : start + block])
            else:
                pick.begin()
                engine.process(out[start : start + block])
                pick.end(min(block, n_frames - start))
    if engine.callback_errors:
        raise RuntimeError(f"offline render failed: {engine.last_error}")
    return out
