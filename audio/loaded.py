"""A loaded track: everything the callback needs to render one, built together on the UI thread.

Why one object: the engine used to keep the source, kernel, control views and scratch as six
Optional attributes that `_apply_cut` set together and every reader re-checked with asserts.
A `LoadedTrack` is either there, whole, or not (`None`): one check, and mypy sees the fields.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audio.mixer import MixKernel
from audio.source import BlockSource
from audio.transport import Timeline

Controls = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""`MixKernel.process`'s control arguments: gain dB, pan, mute, solo, master dB, strip, bus."""


@dataclass(frozen=True, slots=True, eq=False)
class LoadedTrack:
    """One track as the callback renders it. Built (and allocated) by `Engine.load_source`."""

    source: BlockSource
    kernel: MixKernel
    controls: Controls
    """Views of the control bank (audio.shared.ControlBank) for this stem count."""
    effective: Controls
    """The same with the automated parameters replaced by the lanes' values (per sub-block)."""
    scratch: np.ndarray
    """(S, 2, max_block) float32: the block the source is read into."""
    timeline: Timeline
    """The track as delivered (no arrangement, no loop): where playback starts."""

    @property
    def n_stems(self) -> int:
        return self.kernel.n_stems


@dataclass(frozen=True, slots=True, eq=False)
class TrackView:
    """The UI thread's view of the loaded track: its stem names and the timeline (arrangement +
    loop) it last asked for. Replaced whole on every change; `Engine._ui` is None with no track,
    so names, length and timeline are there together or not at all."""

    names: tuple[str, ...]
    timeline: Timeline
