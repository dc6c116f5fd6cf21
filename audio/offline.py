"""Offline (faster than real time) rendering of a mix: exports, server-side previews, tests.

`render_mix` drives a real `Engine` through `Engine.process` block by block, so an export is
the very code path the user heard, not a re-implementation that could drift from it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from audio.engine import Engine


def _per_stem(value: Any, n_stems: int, dtype: type) -> np.ndarray:
    """Scalar or length-S sequence -> length-S array (the Engine setters validate values)."""
    return np.broadcast_to(np.asarray(value, dtype=dtype), (n_stems,))


def render_mix(
    stems: np.ndarray,
    gain_db: Any,
    pan: Any,
    mute: Any,
    solo: Any,
    master_gain_db: float,
    sample_rate: int = 48000,
    block: int = 1024,
) -> np.ndarray:
    """Render the whole mix of `stems` (S, 2, N) with constant controls -> (N, 2) float32.

    gain_db/pan/mute/solo are scalars or length-S sequences. The controls are in place before
    the first block (no ramp at the start), and the result is bit-identical for any block size
    and to `Engine.process` live with the same constant controls (see audio.mixer for why).
    """
    stems = np.ascontiguousarray(stems, dtype=np.float32)
    if stems.ndim != 3 or stems.shape[1] != 2:
        raise ValueError(f"stems must be shaped (S, 2, N), got {stems.shape}")
    if block < 1:
        raise ValueError("block must be >= 1")
    n_stems, _, n_frames = stems.shape
    gains = _per_stem(gain_db, n_stems, float)
    pans = _per_stem(pan, n_stems, float)
    mutes = _per_stem(mute, n_stems, bool)
    solos = _per_stem(solo, n_stems, bool)

    engine = Engine(sample_rate=sample_rate, max_block=block, max_stems=max(1, n_stems))
    engine.load(stems, [f"stem{i}" for i in range(n_stems)])
    for i in range(n_stems):
        engine.set_gain_db(i, float(gains[i]))
        engine.set_pan(i, float(pans[i]))
        engine.set_mute(i, bool(mutes[i]))
        engine.set_solo(i, bool(solos[i]))
    engine.set_master_gain_db(master_gain_db)
    engine.play()

    out = np.empty((n_frames, 2), dtype=np.float32)
    for start in range(0, n_frames, block):
        engine.process(out[start : start + block])
    if engine.callback_errors:
        raise RuntimeError(f"offline render failed: {engine.last_error}")
    return out
