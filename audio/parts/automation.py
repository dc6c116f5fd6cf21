"""Automation lanes played back over the static controls (audio.automation), per sub-block.

Each block is cut on the lanes' cell grid (and at a loop wrap, where the timeline jumps); for
every sub-block the effective controls are the UI's controls with every automated value at that
frame (unless the UI records that control live: the bank's `auto_override`), and the kernel mixes
that sub-block with them. No lanes (or lanes for another stem count): one kernel call with the
UI's controls, exactly as without automation.
"""

from __future__ import annotations

import numpy as np

from audio import automation as auto_mod
from audio.automation import Automation
from audio.loaded import LoadedTrack
from audio.transport import Timeline


class AutomationPlayback:
    """The callback's lanes. NB: `override` is the control bank's array (the UI writes it)."""

    __slots__ = ("_peak_acc", "lanes", "override")

    def __init__(self, override: np.ndarray, max_stems: int) -> None:
        self.lanes: Automation | None = None
        self.override = override
        self._peak_acc = np.zeros(max_stems, dtype=np.float32)

    def _active(self, track: LoadedTrack) -> Automation | None:
        auto = self.lanes
        return auto if auto is not None and auto.n_stems == track.n_stems else None

    # -- Part ----------------------------------------------------------------------------------

    def load(self, track: LoadedTrack | None) -> None:
        pass  # lanes are dropped when the load is queued (`lanes = None`): they meant old stems

    def cut(self, track: LoadedTrack, timeline: Timeline, v: int) -> None:
        """Start at the automated values under the playhead (no ramp from the static ones)."""
        auto = self._active(track)
        if auto is not None:
            self._effective(track, auto, timeline.timeline_frame(v))
            track.kernel.reset(*track.effective)

    # -- per block ----------------------------------------------------------------------------

    def _effective(self, track: LoadedTrack, auto: Automation, frame: int) -> None:
        """Effective controls = the UI's controls with every automated value at `frame`."""
        controls, eff = track.controls, track.effective
        np.copyto(eff[0], controls[0])
        np.copyto(eff[1], controls[1])
        np.copyto(eff[2], controls[2])
        np.copyto(eff[5], controls[5])
        auto_mod.apply(
            auto.frames,
            auto.values,
            auto.off,
            auto.stem,
            auto.param,
            frame,
            self.override,
            eff[0],
            eff[1],
            eff[2],
            eff[5],
        )

    def mix(
        self, track: LoadedTrack, timeline: Timeline, block: np.ndarray, out: np.ndarray, v: int
    ) -> None:
        """`kernel.process` of kernel-input play frames [v, v + F), lanes applied."""
        kernel = track.kernel
        auto = self.lanes
        if auto is None or auto.n_stems != kernel.n_stems:
            kernel.process(block, out, *track.controls)
            return
        eff = track.effective
        n = out.shape[0]
        loop = timeline.loop
        peaks = self._peak_acc[: kernel.n_stems]
        peaks.fill(0.0)
        done = 0
        while done < n:
            t = timeline.timeline_frame(v + done)
            m = n - done
            if loop is not None:
                m = min(m, loop[1] - t)  # a wrap jumps the timeline: cut there
            step, frame = auto_mod.span(auto.cells, t, m, auto.step)
            self._effective(track, auto, frame)
            kernel.process(block[:, :, done : done + step], out[done : done + step], *eff)
            np.maximum(peaks, kernel.stem_peaks, out=peaks)
            done += step
        np.copyto(kernel.stem_peaks, peaks)
        kernel.measure(out)
