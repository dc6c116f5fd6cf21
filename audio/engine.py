"""The real-time engine's public API: one playhead, stems, transport; `Engine.process` is the
callback body.

`Engine` is a thin API over named parts; what crosses threads crosses in exactly three places:

* audio.commands: typed command records (Load, Seek, SetLoop, SetArrangement, SetAutomation,
  SetStretch, Play, Pause...) on ONE single-producer/single-consumer queue, UI thread to
  callback, drained at the top of every block;
* audio.shared.ControlBank: every parameter the UI sets (faders, pans, strips, bus, automation
  overrides), one element per store, read by the callback once per block;
* audio.shared.Published: what the callback tells the UI (playhead group under a sequence lock,
  meters, diagnostics counters).

The callback side is audio.parts: `Transport` (play state, fades, playhead, seeks, loads, end of
track; it drains the queue) runs each block through `Arrangement` (timeline: arrangement + loop),
`LiveStretch` (tempo/key) and `AutomationPlayback` (lanes over the controls), which share one
small interface (`load` a track, hear about a `cut`). Everything else here is the UI thread's
view (names, length, the timeline it last asked for, queued seeks) and argument checking.

The callback takes no locks, allocates no buffers, does no I/O and never raises: a fault renders
silence, bumps `callback_errors` and records `last_error` for the UI to poll.

Transport policy (documented because the UI relies on it):

* Every discontinuity while sound is coming out (seek, pause, load, unload) first fades the output
  to silence over `FADE_SECONDS`, then jumps. Starting playback mid-track fades in; starting at
  frame 0 does not (the track's own start is not a discontinuity, and an offline export starts
  there unfaded, so live and offline stay bit-identical).
* `load` rewinds the playhead to 0 and keeps the play state (playing stays playing). It also
  resets the per-stem controls to 0 dB / centre / unmuted / unsoloed; set them after `load`.
* At the end of the track the engine pauses and rewinds to 0.
* Where the playhead reads is an `audio.transport.Timeline` (section arrangement + loop region).
  Positions the UI sees (`position_seconds`, `duration_frames`, `seek`) are *timeline* time: the
  arranged piece. A loop change applies at the next block edge with no fade (the read position
  wraps, the output stays continuous); an arrangement change is a cut (fade out, swap, fade in)
  that keeps the playhead on the same source frame when the new arrangement plays it. While a
  loop is on, a seek after the loop end lands on the loop start.
* Tempo and key (`set_stretch`, audio.livestretch) stretch the timeline's output in a worker
  ahead of the playhead; positions stay in the track's own time (at tempo 1.25 the playhead
  moves 1.25 frames per output frame). Ratio 1 / shift 0 reads exactly as without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, TypeVar, cast, overload

import numpy as np

from audio import automation as auto_mod
from audio import dsp
from audio.automation import Automation, LaneSpec
from audio.commands import (
    Command,
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
from audio.livestretch import StretchedSource
from audio.loaded import LoadedTrack, TrackView
from audio.mixer import MixKernel
from audio.parts.transport import Transport
from audio.shared import ControlBank, Published
from audio.source import ArraySource, BlockSource
from audio.transport import Timeline

FADE_SECONDS = 0.005
"""Transport fade length: long enough to avoid a click, short enough to feel instant."""


T = TypeVar("T")


class _published(Generic[T]):
    """An Engine attribute that lives in its published block (`Engine._pub`)."""

    def __init__(self, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, engine: None, owner: type | None = None) -> _published[T]: ...
    @overload
    def __get__(self, engine: Engine, owner: type | None = None) -> T: ...
    def __get__(self, engine: Engine | None, owner: type | None = None) -> T | _published[T]:
        return self if engine is None else cast(T, getattr(engine._pub, self.name))

    def __set__(self, engine: Engine, value: T) -> None:
        setattr(engine._pub, self.name, value)


class Engine:
    """The engine's public API (UI thread), over the shared memory, the command queue and the
    callback's parts; `process(out)` is the audio callback body."""

    def __init__(self, sample_rate: int = 48000, max_block: int = 8192, max_stems: int = 32):
        if sample_rate <= 0 or max_block <= 0 or max_stems <= 0:
            raise ValueError("sample_rate, max_block and max_stems must be positive")
        self.sample_rate = int(sample_rate)
        self.max_block = int(max_block)
        self.max_stems = int(max_stems)
        self._fade_step = 1.0 / max(1, round(FADE_SECONDS * self.sample_rate))

        # -- the shared memory (audio.shared): controls the UI writes, state the callback
        # publishes; and the one command queue between them (audio.commands). ---------------
        self._bank = ControlBank(max_stems)
        self._pub = Published(max_stems)
        self._commands = CommandQueue()
        # Short names for the bank's arrays (the setters, and tests that read a control back).
        self._gain_db = self._bank.gain_db
        self._pan = self._bank.pan
        self._mute = self._bank.mute
        self._solo = self._bank.solo
        self._master_db = self._bank.master_db
        self._strip = self._bank.strip
        self._bus = self._bank.bus
        self._auto_override = self._bank.auto_override

        # -- UI-side view of what was requested (UI thread only). -----------------------------
        self._ui: TrackView | None = None  # the loaded track as the UI last asked for it
        self._ui_playing = False
        self._ui_seek_seq = -1
        self._ui_seek_frame = 0

        # -- the callback's side: the transport and its parts (audio.parts), which only
        # `process` touches after construction.
        self._transport = Transport(
            self._commands, self._bank, self._pub, self.max_block, max_stems, self._fade_step
        )
        # -- UI-side state of the parts (UI thread only).
        self._ui_automation: Automation | None = None
        self._ui_stretch: StretchedSource | None = None  # closed on load/unload

    # -- diagnostics: the published block's counters (audio.shared.Published). Attributes as
    # before (readable and, for audio.device and tests that stand in for a device, writable).
    callback_count: _published[int] = _published("callback_count")
    frames_rendered: _published[int] = _published("frames_rendered")
    underflows: _published[int] = _published("underflows")
    """Device underflows; added by audio.device on the thread that runs `process`."""
    callback_errors: _published[int] = _published("callback_errors")
    last_error: _published[str | None] = _published("last_error")
    output_peak: _published[float] = _published("output_peak")
    missing_frames: _published[int] = _published("missing_frames")
    """Frames the source could not deliver in time (played as silence, never waited for)."""

    # ---------------------------------------------------------------------------- UI thread

    def _next_seq(self) -> int:
        """The seq for the next command; first snapshot the effective play state so `playing`
        stays truthful while it is queued."""
        self._ui_playing = self.playing
        return self._commands.next_seq()

    def _send(self, command: Command) -> int:
        return self._commands.put(command)  # NB: crosses to the callback thread

    def load(self, stems: np.ndarray, names: list[str]) -> None:
        """Queue new stems (S, 2, N) float32: `load_source(ArraySource(stems), names)`."""
        self.load_source(ArraySource(stems), names)

    def load_source(self, source: BlockSource, names: list[str]) -> None:
        """Queue a new block source; safe while playing (fades, swaps, rewinds to 0).

        The kernel and the (S, 2, max_block) read scratch for the new stem count are built here,
        in the UI thread, so the callback never allocates. Resets per-stem controls to defaults.
        The callback reads every block through `source.read`; frames it reports missing play as
        silence and add to `missing_frames`.
        """
        n_stems = int(source.n_stems)
        if n_stems < 1 or int(source.n_frames) < 1:
            raise ValueError(
                f"a source needs >= 1 stem and >= 1 frame, got {n_stems} x {source.n_frames}"
            )
        if n_stems > self.max_stems:
            raise ValueError(f"{n_stems} stems exceeds max_stems={self.max_stems}")
        if len(names) != n_stems:
            raise ValueError(f"{len(names)} names for {n_stems} stems")
        self._bank.reset_stems()
        kernel = MixKernel(n_stems, self.max_block, self.sample_rate)
        controls = self._bank.controls(n_stems)
        kernel.reset(*controls)
        eff = self._transport.automation.effective_controls(n_stems)
        self._auto_override.fill(False)
        self._ui_automation = None
        scratch = np.zeros((n_stems, 2, self.max_block), dtype=np.float32)
        timeline = Timeline(n_stems, self.max_block, int(source.n_frames), self.sample_rate)
        self._close_stretch()  # tempo/key is reset like the other controls: set it after load
        self._ui = TrackView(tuple(names), timeline)
        track = LoadedTrack(source, kernel, controls, eff, scratch, timeline)
        self._ui_seek_seq = self._send(Load(track, self._next_seq()))
        self._ui_seek_frame = 0

    def unload(self) -> None:
        """Queue removal of the stems (fades out first if playing); the transport stops."""
        self._close_stretch()
        self._ui = None
        self._ui_automation = None
        self._ui_seek_seq = self._send(Unload(self._next_seq()))
        self._ui_seek_frame = 0
        self._ui_playing = False

    @property
    def n_stems(self) -> int:
        """Stem count of the last `load` (the UI's view; the callback may swap a block later)."""
        return len(self._ui_names)

    @property
    def duration_frames(self) -> int:
        return self._ui_frames

    @property
    def names(self) -> list[str]:
        return list(self._ui_names)

    def _check_index(self, index: int) -> None:
        if not 0 <= index < len(self._ui_names):
            raise IndexError(f"stem index {index} out of range (0..{len(self._ui_names) - 1})")

    @staticmethod
    def _finite(value: float, what: str) -> float:
        value = float(value)
        if value != value or value == float("inf"):
            raise ValueError(f"{what} must be finite or -inf, got {value}")
        return value

    def set_gain_db(self, index: int, db: float) -> None:
        """Stem fader in dB; <= -96 dB (or -inf) is silence. Ramped over the next block."""
        self._check_index(index)
        self._gain_db[index] = max(self._finite(db, "gain_db"), -1000.0)  # NB: read by callback

    def set_pan(self, index: int, pan: float) -> None:
        """Stereo balance in [-1, 1] (clipped), equal power, unity at centre."""
        self._check_index(index)
        self._pan[index] = min(1.0, max(-1.0, self._finite(pan, "pan")))  # NB: read by callback

    def set_mute(self, index: int, muted: bool) -> None:
        self._check_index(index)
        self._mute[index] = bool(muted)  # NB: read by callback

    def set_solo(self, index: int, soloed: bool) -> None:
        """Solo-in-place: when any stem is soloed only soloed (and unmuted) stems sound."""
        self._check_index(index)
        self._solo[index] = bool(soloed)  # NB: read by callback

    def set_master_gain_db(self, db: float) -> None:
        self._master_db[0] = max(self._finite(db, "master gain"), -1000.0)  # NB: read by callback

    @staticmethod
    def _ranged(value: float, lo: float, hi: float, what: str) -> float:
        value = float(value)
        if not lo <= value <= hi:  # also rejects NaN
            raise ValueError(f"{what} must be in [{lo}, {hi}], got {value}")
        return value

    def set_eq(self, index: int, low_db: float, mid_db: float, high_db: float) -> None:
        """3-band EQ in dB (low shelf 120 Hz, peak 1 kHz, high shelf 6 kHz), each -24..+24.

        Coefficients are recomputed once in the next block and ramped across it."""
        self._check_index(index)
        row = self._strip[index]
        lo = self._ranged(low_db, -24.0, 24.0, "EQ low")
        mid = self._ranged(mid_db, -24.0, 24.0, "EQ mid")
        hi = self._ranged(high_db, -24.0, 24.0, "EQ high")
        row[dsp.P_EQ_LOW], row[dsp.P_EQ_MID], row[dsp.P_EQ_HIGH] = lo, mid, hi  # NB: callback

    def set_filters(self, index: int, hp_hz: float, lp_hz: float) -> None:
        """12 dB/oct Butterworth high-pass / low-pass cutoffs; HP <= 20 Hz and LP >= 20 kHz
        are off."""
        self._check_index(index)
        row = self._strip[index]
        row[dsp.P_HP] = self._ranged(hp_hz, 20.0, 20000.0, "high-pass")  # NB: read by callback
        row[dsp.P_LP] = self._ranged(lp_hz, 20.0, 20000.0, "low-pass")

    def set_sends(self, index: int, reverb: float, delay: float) -> None:
        """Post-fader send levels (linear 0..1) to the reverb and the delay bus."""
        self._check_index(index)
        row = self._strip[index]
        row[dsp.P_SEND_REVERB] = self._ranged(reverb, 0.0, 1.0, "reverb send")  # NB: callback
        row[dsp.P_SEND_DELAY] = self._ranged(delay, 0.0, 1.0, "delay send")

    def set_reverb(self, size: float, damping: float, wet: float) -> None:
        """Reverb bus: room size, damping and return level, each 0..1."""
        bus = self._bus
        bus[dsp.B_REV_SIZE] = self._ranged(size, 0.0, 1.0, "reverb size")  # NB: callback
        bus[dsp.B_REV_DAMP] = self._ranged(damping, 0.0, 1.0, "reverb damping")
        bus[dsp.B_REV_WET] = self._ranged(wet, 0.0, 1.0, "reverb return")

    def set_delay(self, beats: float, feedback: float, wet: float) -> None:
        """Delay bus: time in beats of the track tempo (1/16 .. 4), feedback 0..0.95, return
        0..1. A time change crossfades the taps over one block."""
        bus = self._bus
        bus[dsp.B_DLY_BEATS] = self._ranged(beats, 0.0625, 4.0, "delay beats")  # NB: callback
        bus[dsp.B_DLY_FEEDBACK] = self._ranged(feedback, 0.0, 0.95, "delay feedback")
        bus[dsp.B_DLY_WET] = self._ranged(wet, 0.0, 1.0, "delay return")

    def set_bpm(self, bpm: float) -> None:
        """The track tempo the delay syncs to (60..240 bpm)."""
        self._bus[dsp.B_BPM] = self._ranged(bpm, 60.0, 240.0, "bpm")  # NB: read by callback

    def set_strip(self, strip: np.ndarray) -> None:
        """All stems' strip controls at once: (S, audio.dsp.N_STRIP), validated by the setters."""
        for i, row in enumerate(np.asarray(strip, dtype=np.float64).reshape(-1, dsp.N_STRIP)):
            self.set_eq(i, row[dsp.P_EQ_LOW], row[dsp.P_EQ_MID], row[dsp.P_EQ_HIGH])
            self.set_filters(i, row[dsp.P_HP], row[dsp.P_LP])
            self.set_sends(i, row[dsp.P_SEND_REVERB], row[dsp.P_SEND_DELAY])

    def set_bus(self, bus: np.ndarray) -> None:
        """Reverb, delay and tempo at once: (audio.dsp.N_BUS,) in audio.dsp.B_* order."""
        b = np.asarray(bus, dtype=np.float64)
        self.set_reverb(b[dsp.B_REV_SIZE], b[dsp.B_REV_DAMP], b[dsp.B_REV_WET])
        self.set_delay(b[dsp.B_DLY_BEATS], b[dsp.B_DLY_FEEDBACK], b[dsp.B_DLY_WET])
        self.set_bpm(b[dsp.B_BPM])

    @property
    def latency_frames(self) -> int:
        """Processing latency the engine compensates (the source is read this far ahead)."""
        track = self._transport.track  # NB: one reference read (the callback swaps it)
        return 0 if track is None else track.kernel.latency

    def play(self) -> None:
        self._send(Play(self._next_seq()))
        self._ui_playing = True

    def pause(self) -> None:
        self._send(Pause(self._next_seq()))
        self._ui_playing = False

    def seek(self, seconds: float) -> None:
        """Move the playhead (clamped to the track); fades out/in around the jump if playing."""
        frame = round(self._finite(seconds, "seek position") * self.sample_rate)
        frame = min(max(frame, 0), max(self._ui_frames - 1, 0))
        if self._ui_timeline is not None:
            frame = self._ui_timeline.play_frame_for_seek(frame)
        self._ui_seek_seq = self._send(Seek(frame, self._next_seq()))
        self._ui_seek_frame = frame

    # -- arrangement and loop (audio.transport) --------------------------------------------------

    def _loaded(self) -> TrackView:
        """The loaded track as the UI last set it; RuntimeError with no track."""
        if self._ui is None:
            raise RuntimeError("no track is loaded; open a track first")
        return self._ui

    def _loaded_timeline(self) -> Timeline:
        return self._loaded().timeline

    # The UI's view, read by the methods below (no track: no names, no timeline, 0 frames).
    @property
    def _ui_names(self) -> tuple[str, ...]:
        return () if self._ui is None else self._ui.names

    @property
    def _ui_timeline(self) -> Timeline | None:
        return None if self._ui is None else self._ui.timeline

    @property
    def _ui_frames(self) -> int:
        return 0 if self._ui is None else self._ui.timeline.length

    def _timeline_for(
        self, segments: list[tuple[int, int]] | None, loop: tuple[int, int] | None
    ) -> Timeline:
        tl = self._loaded_timeline()
        return Timeline(
            len(self._ui_names), self.max_block, tl.source_frames, self.sample_rate, segments, loop
        )

    def upcoming_source_ranges(self, frames: int) -> list[tuple[int, int]]:
        """Source frame ranges the next `frames` of playback read, in order (loop and
        arrangement followed). Any thread: it reads the UI's immutable Timeline and the
        published playhead, so a stem decoder can prepare what comes after a loop wrap."""
        tl = self._ui_timeline
        if tl is None:
            return []
        return tl.source_ranges(round(self.position_seconds * self.sample_rate), int(frames))

    @property
    def timeline(self) -> Timeline | None:
        """The arrangement/loop the UI last asked for (UI thread's view; immutable)."""
        return self._ui_timeline

    def set_arrangement(self, segments: list[tuple[int, int]] | None) -> None:
        """Play these source frame ranges in order, crossfaded (None: the track as delivered).

        A cut (fade out, swap, fade in) keeping the playhead on the same source frame when the
        new arrangement plays it (else at the start). Clears the loop: its times meant the old
        arrangement. Raises ValueError for ranges outside the track or shorter than 50 ms."""
        timeline = self._timeline_for(segments, None)
        old = self._loaded_timeline()
        t = round(self.position_seconds * self.sample_rate)
        here = timeline.timeline_of_source(old.source_frame(t)) if t > 0 else 0
        self._ui = TrackView(self._loaded().names, timeline)
        self._ui_seek_seq = self._send(SetArrangement(timeline, self._next_seq()))
        self._ui_seek_frame = timeline.play_frame_for_seek(here)

    def set_loop(self, start_s: float, end_s: float) -> None:
        """Loop timeline seconds [start, end), applied at the next block edge; the wrap is a
        10 ms equal-power crossfade. Raises ValueError when the loop is outside the piece or
        shorter than 50 ms."""
        a = round(self._finite(start_s, "loop start") * self.sample_rate)
        b = round(self._finite(end_s, "loop end") * self.sample_rate)
        timeline = self._timeline_for(self._segments(), (a, b))
        pos = round(self.position_seconds * self.sample_rate)
        self._ui = TrackView(self._loaded().names, timeline)
        seq = self._send(SetLoop(timeline, self._next_seq()))
        if pos >= b:
            self._ui_seek_seq, self._ui_seek_frame = seq, a

    def clear_loop(self) -> None:
        """Play on past the loop end (from the next block edge)."""
        if self._ui_timeline is None or self._ui_timeline.loop is None:
            return
        timeline = self._timeline_for(self._segments(), None)
        self._ui = TrackView(self._loaded().names, timeline)
        self._send(SetLoop(timeline, self._next_seq()))

    @property
    def loop_seconds(self) -> tuple[float, float] | None:
        tl = self._ui_timeline
        if tl is None or tl.loop is None:
            return None
        return tl.loop[0] / self.sample_rate, tl.loop[1] / self.sample_rate

    def _segments(self) -> list[tuple[int, int]] | None:
        tl = self._ui_timeline
        return None if tl is None or not tl.arranged else list(tl.segments)

    @property
    def source_position_seconds(self) -> float:
        """The source (stem) time under the playhead: what a streaming reader must fetch."""
        tl = self._ui_timeline
        pub = self._pub.snapshot()  # NB: one consistent read of the published group
        if pub.applied_seq < self._ui_seek_seq and tl is not None:
            return tl.source_frame(self._ui_seek_frame) / self.sample_rate
        return pub.source_playhead / self.sample_rate

    def reset_diagnostics(self) -> None:
        """Zero the counters, last_error and output_peak (done by the callback, at a block edge)."""
        self._send(ResetDiagnostics(self._next_seq()))

    @property
    def playing(self) -> bool:
        """The requested state while a command is queued, otherwise the callback's state
        (which turns False by itself at the end of the track)."""
        pub = self._pub.snapshot()  # NB: applied seq and play state from the same block
        if pub.applied_seq != self._commands.last_seq:
            return self._ui_playing
        return pub.playing

    @property
    def position_seconds(self) -> float:
        """Playhead in seconds; a queued seek/load reports its target at once."""
        pub = self._pub.snapshot()  # NB: applied seq and playhead from the same block
        if pub.applied_seq < self._ui_seek_seq:
            return self._ui_seek_frame / self.sample_rate
        return pub.playhead / self.sample_rate

    def meters(self) -> tuple[np.ndarray, np.ndarray]:
        """(stem post-fader peaks (S,), master peak (2,)) of the latest block, as copies."""
        return self._pub.stem_peaks[: self.n_stems].copy(), self._pub.master_peak.copy()

    def master_rms(self) -> np.ndarray:
        """Master RMS (2,) of the latest block, as a copy."""
        return self._pub.master_rms.copy()

    # ----------------------------------------------------------------------- audio callback

    def process(self, out: np.ndarray) -> None:
        """The callback body: fill `out` (F, 2) float32 in place. Never raises.

        Drains the command queue, runs the block through the transport and its parts
        (audio.parts) and publishes the playhead (audio.shared.Published)."""
        pub = self._pub
        pub.callback_count += 1
        transport = self._transport
        try:
            transport.process(out)
        except Exception as exc:  # any fault -> silence + flag; never into PortAudio
            try:
                out.fill(0.0)
                transport.fade = 0.0  # fade back in once the fault clears: no click
                pub.silence_meters()
                transport.publish()  # the commands drained before the fault count as applied
            except Exception:
                pass
            pub.callback_errors += 1
            pub.last_error = f"{type(exc).__name__}: {exc}"
        pub.frames_rendered += len(out)

    # -------------------------------------------------------------- automation (UI thread)

    def automation_for(self, lanes: Sequence[LaneSpec], tempo_ratio: float = 1.0) -> Automation:
        """Pack lanes (stem index, parameter, times in seconds at the original tempo, values)
        for this engine's loaded stems; raises ValueError naming a bad lane."""
        if not self._ui_names:
            raise RuntimeError("no track is loaded; open a track first")
        return Automation(
            lanes,
            len(self._ui_names),
            self.sample_rate,
            dsp.limiter_latency(self.sample_rate),
            tempo_ratio,
        )

    def set_automation(self, automation: Automation | None) -> None:
        """Play these lanes back from the next block edge (None: no automation). The lanes
        override the static controls of the parameters they automate. A `load` clears them."""
        if automation is not None:
            if automation.n_stems != len(self._ui_names):
                raise ValueError(
                    f"automation built for {automation.n_stems} stems, {self.n_stems} loaded"
                )
            auto_mod.warm_up()  # compile here, never in the callback
        self._ui_automation = automation
        self._send(SetAutomation(automation, self._next_seq()))

    @property
    def automation(self) -> Automation | None:
        """The lanes the UI last set (UI thread's view)."""
        return self._ui_automation

    def set_automation_override(self, index: int, param: str, on: bool) -> None:
        """While on, the live control drives (stem, param) instead of its lane: a control being
        recorded is heard as the user moves it."""
        self._check_index(index)
        self._auto_override[index, auto_mod.PARAMS.index(param)] = bool(on)  # NB: callback

    def clear_automation_overrides(self) -> None:
        self._auto_override.fill(False)  # NB: read by the callback

    # -- live tempo and key (audio.livestretch; UI thread) ---------------------------------------

    def set_stretch(self, tempo_ratio: float, key_shift: int) -> None:
        """Tempo (1.25 = 25 % faster, key kept) and key shift in semitones, while playing.

        A worker stretches ahead of the playhead (audio.livestretch: the render's stretcher and
        settings, audio.stretch); the change is heard within ~0.1 s, crossfaded. Positions stay
        in the track's own time (the playhead moves `tempo_ratio` frames per output frame).
        Ratio 1 and shift 0 is the plain engine, bit for bit. `load`/`unload` reset it to 1 / 0."""
        ratio = self._ranged(tempo_ratio, 0.25, 4.0, "tempo ratio")
        key = int(key_shift)
        if key != key_shift or not -12 <= key <= 12:
            raise ValueError(
                f"key shift must be a whole number of semitones in -12..12, got {key_shift}"
            )
        st = self._ui_stretch
        if st is None:
            if (ratio, key) == (1.0, 0) or not self._ui_names:
                return
            st = StretchedSource(len(self._ui_names), self.sample_rate, self.max_block)
            st.set_params(ratio, key)
            self._ui_stretch = st
            self._send(SetStretch(st, self._next_seq()))
        else:
            st.set_params(ratio, key)

    @property
    def stretch(self) -> tuple[float, int]:
        """(tempo ratio, key shift) last set (UI thread's view)."""
        st = self._ui_stretch
        return (1.0, 0) if st is None else st.params

    @property
    def stretcher(self) -> StretchedSource | None:
        """The live stretcher (diagnostics: worker time, frames), None when never engaged."""
        return self._ui_stretch

    def _close_stretch(self) -> None:
        st, self._ui_stretch = self._ui_stretch, None
        if st is not None:
            st.close()  # the callback may read its ring until the load applies: silence
