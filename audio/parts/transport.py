"""The transport: play/pause, fades, the playhead, seeks, loads and the end of the track; it
drains the command queue at the top of every block and runs the block through the other parts.

Policy (Engine's docstring says it for the UI): every discontinuity while sound is coming out
(seek, pause, load, unload, arrangement change, loop jump) first fades the output to silence
over `fade_step`'s length, then applies the cut (`_apply_cut`: load, pending timeline, seek),
primes the kernel from the new playhead and fades back in. Starting at frame 0 does not fade in
(the track's own start; an offline render starts there unfaded, so live and offline stay
bit-identical). At the end of the track: pause and rewind to 0.

Play frames (`pos`) are audio.transport's `v`: they only move forward while playing; the
arrangement maps them to timeline and source frames.
"""

from __future__ import annotations

import numpy as np

from audio.commands import (
    CommandQueue,
    Load,
    Pause,
    Play,
    ResetDiagnostics,
    Seek,
    SetArrangement,
    SetAutomation,
    SetLoop,
    SetStretch,
    Unload,
)
from audio.loaded import LoadedTrack
from audio.parts.arrangement import Arrangement
from audio.parts.automation import AutomationPlayback
from audio.parts.stretch import LiveStretch
from audio.shared import ControlBank, Published
from audio.transport import Timeline


class Transport:
    """Callback-owned playback state; `process(out)` is the callback body (no fault handling:
    audio.engine.Engine.process wraps it). Only the callback touches it after construction."""

    def __init__(
        self,
        commands: CommandQueue,
        bank: ControlBank,
        published: Published,
        max_block: int,
        max_stems: int,
        fade_step: float,
    ) -> None:
        self._commands = commands
        self._pub = published
        self.max_block = max_block
        self.fade_step = fade_step
        self.arrangement = Arrangement()
        self.stretch = LiveStretch()
        self.automation = AutomationPlayback(bank, max_stems)
        self._parts = (self.arrangement, self.stretch, self.automation)
        self.track: LoadedTrack | None = None
        self.applied = 0  # seq of the last command applied; published with the playhead
        self.pos = 0  # play frame under the playhead
        self.playing = False  # audible: the track is being rendered (possibly fading)
        self.want_play = False
        self.fade = 1.0
        self._pend_load: Load | Unload | None = None
        self._pend_seek = -1
        self._prime_out = np.zeros((max_block, 2), dtype=np.float32)
        self._env = np.zeros(max_block, dtype=np.float32)
        self._env64 = np.zeros(max_block)
        self._idx = np.arange(1, max_block + 1, dtype=np.float64)

    # -- commands ------------------------------------------------------------------------------

    def drain(self) -> None:
        """Apply every queued command (audio.commands); never blocks, never allocates."""
        get = self._commands.get
        arrangement = self.arrangement
        cmd = get()
        while cmd is not None:
            if isinstance(cmd, Load | Unload):
                self._pend_load = cmd
                self._pend_seek = -1
                self.automation.lanes = None  # they meant the old stems; a later command sets new
                self.stretch.drop_pending()  # likewise the stretcher (set_stretch sends a new one)
                if isinstance(cmd, Unload):
                    self.want_play = False
            elif isinstance(cmd, Seek):
                self._pend_seek = cmd.frame
            elif isinstance(cmd, SetAutomation):
                self.automation.lanes = cmd.automation
            elif isinstance(cmd, SetStretch):
                self.stretch.engage(cmd.stretcher, self._pend_load is not None)
            elif isinstance(cmd, SetArrangement):
                arrangement.pending = cmd.timeline  # applied at the cut, after a pending load
            elif isinstance(cmd, SetLoop):
                if self._pend_load is not None or arrangement.pending is not None:
                    arrangement.pending = cmd.timeline  # applied at the cut, after the load
                else:
                    self._swap_loop(cmd.timeline)
            elif isinstance(cmd, Play):
                self.want_play = self.track is not None or isinstance(self._pend_load, Load)
            elif isinstance(cmd, Pause):
                self.want_play = False
            elif isinstance(cmd, ResetDiagnostics):
                self._pub.reset_diagnostics()
            self.applied = cmd.seq
            cmd = get()

    def _swap_loop(self, new: Timeline) -> None:
        """A loop set/clear at a block edge: same arrangement, so the timeline position carries
        over; only a playhead after the new loop's end needs a (faded) jump to its start."""
        arrangement, track = self.arrangement, self.track
        old = arrangement.timeline
        if old is None or track is None or new.source_frames != old.source_frames:
            return  # stale: built for a track that is no longer loaded
        t = old.timeline_frame(self.pos)
        if new.loop is not None and t >= new.loop[1]:
            # Past the new loop: keep reading the old way while fading out, then jump.
            arrangement.pending = new
            self._pend_seek = new.loop[0]
            return
        arrangement.timeline = new
        arrangement.n_frames = new.end
        self.stretch.retime(track, new, t - self.pos)
        self.pos = t

    def _apply_cut(self) -> None:
        """Apply the pending load, timeline and seek, in that order, while silent."""
        load = self._pend_load
        if load is not None:
            self._pend_load = None
            track = load.track if isinstance(load, Load) else None
            self.track = track
            for part in self._parts:
                part.load(track)
            self.pos = 0
            self._pub.output_peak = 0.0
            if track is not None:
                track.kernel.reset(*track.controls)
        self.pos = self.arrangement.apply_pending(self.pos)
        if self._pend_seek >= 0:
            self.pos = min(self._pend_seek, max(self.arrangement.n_frames - 1, 0))
            self._pend_seek = -1

    # -- the block ---------------------------------------------------------------------------

    def process(self, out: np.ndarray) -> None:
        """Fill `out` (F, 2) float32: drain, fade out to a pending cut, or play on, or start."""
        self.drain()
        cut_pending = (
            self._pend_load is not None
            or self._pend_seek >= 0
            or self.arrangement.pending is not None
            or not self.want_play
        )
        if self.playing and cut_pending:
            self._render(out, -self.fade_step)
            if self.fade <= 0.0 or not self.playing:
                self.playing = False
                self._apply_cut()
        elif self.playing:
            self._render(out, self.fade_step)
        else:
            self._apply_cut()
            track = self.track
            if self.want_play and track is not None:
                self.playing = True
                self.fade = 0.0 if self.pos > 0 else 1.0
                self._prime(track)
                self._render(out, self.fade_step)
            else:
                self.want_play = False
                if track is not None:
                    # Track the controls while silent so play starts at them with no ramp.
                    track.kernel.reset(*track.controls)
                out.fill(0.0)
                self._pub.silence_meters()
        self.publish()

    def publish(self) -> None:
        """Publish the transport group (audio.shared.Published; NB: read by the UI thread)."""
        timeline = self.arrangement.timeline
        if self._pend_seek >= 0:
            head = self._pend_seek
        elif timeline is not None:
            head = timeline.timeline_frame(self.pos)
        else:
            head = self.pos
        src = head if timeline is None else timeline.source_frame(head)
        self._pub.publish(head, src, self.want_play, self.applied)

    def _read(self, track: LoadedTrack, start: int, n: int) -> np.ndarray:
        """Play frames [start, start + n) into the track's scratch (zeros past the end)."""
        block = track.scratch[:, :, :n]
        avail = min(n, self.arrangement.n_frames - start)
        if avail <= 0:
            block.fill(0.0)
            return block
        timeline = self.arrangement.timeline
        assert timeline is not None  # set with the track
        stretcher = self.stretch.current
        if stretcher is None:
            missing = timeline.read(track.source, start, block[:, :, :avail])
        else:
            missing = stretcher.read(track.source, timeline, start, block[:, :, :avail])
        if missing:
            self._pub.missing_frames += missing
        if avail < n:
            block[:, :, avail:].fill(0.0)
        return block

    def _prime(self, track: LoadedTrack) -> None:
        """At a cut: clear the signal history, tell the parts, and run the first `latency`
        frames from the playhead through the kernel, so the next output frame is the
        playhead's frame."""
        timeline = self.arrangement.timeline
        assert timeline is not None  # set with the track
        kernel = track.kernel
        kernel.reset_state()
        for part in self._parts:
            part.cut(track, timeline, self.pos)
        latency = kernel.latency
        for a in range(0, latency, self.max_block):
            n = min(self.max_block, latency - a)
            block = self._read(track, self.pos + a, n)
            self.automation.mix(track, timeline, block, self._prime_out[:n], self.pos + a)

    def _render(self, out: np.ndarray, fade_step: float) -> None:
        """Mix from the playhead into `out`, fading by `fade_step` per frame unless at 0 or 1."""
        track, timeline = self.track, self.arrangement.timeline
        assert track is not None and timeline is not None  # only while playing a track
        kernel = track.kernel
        pub = self._pub
        n_out = out.shape[0]
        pos = self.pos
        n = min(n_out, self.arrangement.n_frames - pos)
        # The kernel's output lags its input by kernel.latency frames: read that far ahead.
        block = self._read(track, pos + kernel.latency, n)
        self.automation.mix(track, timeline, block, out[:n], pos + kernel.latency)
        if n < n_out:
            out[n:].fill(0.0)
        fade = self.fade
        if (fade_step < 0.0 and fade > 0.0) or (fade_step > 0.0 and fade < 1.0):
            env = self._env64[:n_out]
            np.multiply(self._idx[:n_out], fade_step, out=env)
            np.add(env, fade, out=env)
            np.clip(env, 0.0, 1.0, out=env)
            self.fade = float(env[-1])
            env32 = self._env[:n_out]
            np.copyto(env32, env, casting="same_kind")
            np.multiply(out, env32[:, None], out=out)
            kernel.measure(out)
        elif fade_step < 0.0:
            out.fill(0.0)
            kernel.measure(out)
        np.copyto(pub.stem_peaks[: kernel.n_stems], kernel.stem_peaks)
        np.copyto(pub.master_peak, kernel.master_peak)
        np.copyto(pub.master_rms, kernel.master_rms)
        peak = float(pub.master_peak.max())
        if peak > pub.output_peak:
            pub.output_peak = peak
        stretcher = self.stretch.current
        self.pos = pos + (n if stretcher is None else stretcher.advance())
        if self.pos >= self.arrangement.n_frames:
            # End of track: pause and rewind. A pending seek/load still applies afterwards.
            self.playing = False
            self.want_play = False
            self.pos = 0
            self.fade = 1.0
            self._apply_cut()
