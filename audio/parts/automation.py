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
from audio import dsp
from audio.automation import Automation
from audio.loaded import Controls, LoadedTrack
from audio.shared import ControlBank
from audio.transport import Timeline


class AutomationPlayback:
    """The callback's lanes. NB: reads the control bank's `auto_override` (the UI writes it)."""

    __slots__ = ("_bank", "_eff_gain", "_eff_mute", "_eff_pan", "_eff_strip", "_peak_acc", "lanes")

    def __init__(self, bank: ControlBank, max_stems: int) -> None:
        self.lanes: Automation | None = None
        self._bank = bank
        # The effective controls (the UI's, automated values replaced), per sub-block.
        self._eff_gain = np.zeros(max_stems)
        self._eff_pan = np.zeros(max_stems)
        self._eff_mute = np.zeros(max_stems, dtype=bool)
        self._eff_strip = np.tile(dsp.STRIP_DEFAULTS, (max_stems, 1))
        self._peak_acc = np.zeros(max_stems, dtype=np.float32)

    def effective_controls(self, n_stems: int) -> Controls:
        """UI thread, at a load: views of the effective arrays for `n_stems` stems (solo,
        master and bus are never automated: the bank's own)."""
        bank = self._bank
        return (
            self._eff_gain[:n_stems],
            self._eff_pan[:n_stems],
            self._eff_mute[:n_stems],
            bank.solo[:n_stems],
            bank.master_db,
            self._eff_strip[:n_stems],
            bank.bus,
        )

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
            self._bank.auto_override,
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
