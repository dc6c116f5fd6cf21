"""The open remix: one place where an edit changes both what you hear and what you submit.

The UI calls `Studio` for every edit; `Studio` writes the remix document and the engine's controls
together, so the recipe that is submitted is always exactly the mix that was heard.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import get_args

import numpy as np

from app.streaming import TrackStream
from audio.engine import Engine
from audio.mixsettings import MixSettings
from core.contract import ArrangementSlot, RemixDocument, Section, StemSettings, TrackDetail

DocumentListener = Callable[[RemixDocument], None]
LoopListener = Callable[[], None]


class Studio:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.track: TrackStream | None = None
        self.document: RemixDocument | None = None
        self._listeners: list[DocumentListener] = []
        self._loop_listeners: list[LoopListener] = []
        self._suspended: Engine | None = None  # the real engine while a render is heard
        self._resume_at = 0.0  # seconds: where the suspended track resumes
        self._resume_loop: tuple[float, float] | None = None  # and the loop it had
        # Automation recording (UI thread only): armed flag, the open latch passes per
        # (stem id, parameter) -> ([(t, value)], value before the touch), and the latest
        # playhead seen while they were open.
        self._auto_armed = False
        self._passes: dict[tuple[str, str], tuple[list[tuple[float, float]], float]] = {}
        self._pass_end = 0.0

    @property
    def detail(self) -> TrackDetail | None:
        return self.track.detail if self.track else None

    def on_change(self, listener: DocumentListener) -> None:
        """Called after every edit (drafts autosave from here)."""
        self._listeners.append(listener)

    def on_loop_change(self, listener: LoopListener) -> None:
        """Called after the loop is set or cleared. The loop is a practice aid outside the
        document (so drafts ignore it), yet a person undoes it like any edit (ui/undo.py)."""
        self._loop_listeners.append(listener)

    def open(self, track: TrackStream, document: RemixDocument | None = None) -> RemixDocument:
        """Play a streaming track, with a fresh recipe or a restored draft.

        The stream starts here and the engine plays from its source at once: chunks that have not
        arrived yet play as silence, so opening never waits for the download."""
        self.close()
        self.engine.load_source(track.source, [s.name for s in track.stems])
        track.start()
        self.track = track
        self.document = (
            _without_locked(document, track.stem_ids)
            if document is not None
            else RemixDocument(
                track_id=track.detail.id,
                track_version=track.detail.version,
                title=f"{track.detail.title} (remix)",
                stems={s.id: StemSettings() for s in track.stems},
            )
        )
        self._push_all()
        return self.document

    def close(self) -> None:
        self.arm_automation(False)
        self.resume(restore=False)
        if self.track is not None:
            self.engine.pause()
            self.engine.unload()
            self.track.stop()
        self.track = None
        self.document = None

    # -- edits -----------------------------------------------------------------------------------

    def stem(self, stem_id: str) -> StemSettings:
        assert self.document is not None
        return self.document.stems.setdefault(stem_id, StemSettings())

    def set_gain_db(self, stem_id: str, db: float) -> None:
        before = self.stem(stem_id).gain_db
        self._edit(stem_id, gain_db=db)
        self.engine.set_gain_db(self._index(stem_id), db)
        self._record(stem_id, "gain_db", db, before)

    def set_pan(self, stem_id: str, pan: float) -> None:
        before = self.stem(stem_id).pan
        self._edit(stem_id, pan=pan)
        self.engine.set_pan(self._index(stem_id), pan)
        self._record(stem_id, "pan", pan, before)

    def set_mute(self, stem_id: str, muted: bool) -> None:
        before = self.stem(stem_id).mute
        self._edit(stem_id, mute=muted)
        self.engine.set_mute(self._index(stem_id), muted)
        self._record(stem_id, "mute", float(muted), float(before))

    def set_solo(self, stem_id: str, soloed: bool) -> None:
        self._edit(stem_id, solo=soloed)
        self.engine.set_solo(self._index(stem_id), soloed)

    def set_master_gain_db(self, db: float) -> None:
        assert self.document is not None
        self.document = self.document.model_copy(update={"master_gain_db": db})
        self.engine.set_master_gain_db(db)
        self._notify()

    def set_metadata(self, *, title: str, description: str) -> RemixDocument:
        assert self.document is not None
        self.document = RemixDocument.model_validate(
            {**self.document.model_dump(), "title": title, "description": description}
        )
        self._notify()
        return self.document

    def apply_document(self, document: RemixDocument) -> None:
        """Make `document` the whole remix, in the engine too, and tell the listeners (drafts).

        Why: undo and redo (ui/undo.py) put back a remix as it was, whatever kind of edit made
        the difference, through this one path. Only what differs is re-sent where re-sending is
        heard (the arrangement is a cut that clears the loop, the stretcher restarts). A pass
        being recorded is dropped, not written: undoing records nothing."""
        assert self.track is not None and self.document is not None
        old = self.document
        self._passes.clear()
        self._pass_end = 0.0
        self.engine.clear_automation_overrides()
        self.document = _without_locked(document.model_copy(deep=True), self.track.stem_ids)
        # The one mapping from a document to the engine, the renders' too (audio.mixsettings).
        self._mix_settings().apply(self.engine, since=self._mix_settings(old))
        self._notify()

    # -- internals -------------------------------------------------------------------------------

    def _index(self, stem_id: str) -> int:
        assert self.track is not None
        return self.track.stem_ids.index(stem_id)

    def _edit(self, stem_id: str, **changes: float | bool) -> None:
        assert self.document is not None
        current = self.stem(stem_id)
        # Validate through the model so an out-of-range value fails here, not at submission.
        self.document.stems[stem_id] = StemSettings.model_validate(
            {**current.model_dump(), **changes}
        )
        self._notify()

    def _push_all(self, *, notify: bool = True) -> None:
        """The whole document into a freshly loaded engine."""
        self._mix_settings().apply(self.engine)
        if notify:
            self._notify()

    def _mix_settings(self, document: RemixDocument | None = None) -> MixSettings:
        """`document` (default: the open one) as the engine takes it: core.remix.mix_settings,
        the mapping every render uses too. Every stem gets its explicit settings in the open
        document (as the per-stem setters always did)."""
        from core.remix import mix_settings  # core.remix imports audio.dsp (numba)

        assert self.track is not None and self.document is not None
        for stem_id in self.track.stem_ids:
            self.stem(stem_id)
        bpm = self.track.detail.analysis.bpm if self.track.detail.analysis else 120.0
        doc = self.document if document is None else document
        return mix_settings(doc, list(self.track.stem_ids), self.track.sample_rate, bpm=bpm)

    def _notify(self) -> None:
        if self.document is not None:
            for listener in self._listeners:
                listener(self.document)

    # -- channel strip effects and buses (issue 3) -----------------------------------------------

    def set_eq(self, stem_id: str, low_db: float, mid_db: float, high_db: float) -> None:
        self._edit(stem_id, eq_low_db=low_db, eq_mid_db=mid_db, eq_high_db=high_db)
        self.engine.set_eq(self._index(stem_id), low_db, mid_db, high_db)

    def set_filters(self, stem_id: str, hp_hz: float, lp_hz: float) -> None:
        self._edit(stem_id, hp_hz=hp_hz, lp_hz=lp_hz)
        self.engine.set_filters(self._index(stem_id), hp_hz, lp_hz)

    def set_sends(self, stem_id: str, reverb: float, delay: float) -> None:
        before = self.stem(stem_id)
        self._edit(stem_id, send_reverb=reverb, send_delay=delay)
        self.engine.set_sends(self._index(stem_id), reverb, delay)
        if reverb != before.send_reverb or ("send_reverb" in self._open_params(stem_id)):
            self._record(stem_id, "send_reverb", reverb, before.send_reverb)
        if delay != before.send_delay or ("send_delay" in self._open_params(stem_id)):
            self._record(stem_id, "send_delay", delay, before.send_delay)

    def set_reverb(self, *, size: float, damping: float, wet: float) -> None:
        self._set_bus("reverb", size=size, damping=damping, wet=wet)

    def set_delay(self, *, beats: float, feedback: float, wet: float) -> None:
        self._set_bus("delay", beats=beats, feedback=feedback, wet=wet)

    def _set_bus(self, which: str, **values: float) -> None:
        assert self.document is not None
        data = self.document.model_dump()
        data[which] = {**data[which], **values}
        self.document = RemixDocument.model_validate(data)  # validates the ranges
        self._push_effects()
        self._notify()

    def _push_effects(self) -> None:
        """Document -> engine for EQ, filters, sends, reverb, delay and the delay's tempo."""
        from core.remix import document_arrays  # core.remix imports audio.dsp (numba)

        assert self.track is not None and self.document is not None
        bpm = self.track.detail.analysis.bpm if self.track.detail.analysis else 120.0
        arrays = document_arrays(self.document, list(self.track.stem_ids), bpm=bpm)
        self.engine.set_strip(arrays.strip)
        self.engine.set_bus(arrays.bus)

    # -- in-app listening to a published render (issue 4) ----------------------------------------

    @property
    def listening(self) -> bool:
        return self._suspended is not None

    @property
    def output_engine(self) -> Engine:
        """The engine wired to the audio device (while listening, `engine` is a stand-in)."""
        return self._suspended if self._suspended is not None else self.engine

    def suspend(self) -> Engine:
        """Hand the device's engine over (to a listening route, app/listening.py): the mix stops
        being heard until `resume`.

        The track is suspended, not closed: its stream and document stay, and an edit made
        meanwhile still lands in the document and in a detached stand-in engine (stem indices stay
        valid and nothing writes to what the device plays). A pass being recorded ends here, where
        the playhead stood. Returns the device's engine (paused); suspending twice returns it
        again."""
        if self._suspended is not None:
            return self._suspended
        real = self.engine
        if self._passes:
            self._finish_passes(self._pass_end)
        self._resume_at = real.position_seconds
        self._resume_loop = real.loop_seconds
        real.pause()
        stand_in = Engine(real.sample_rate, real.max_block, real.max_stems)
        if self.track is not None:
            stand_in.load_source(self.track.source, [s.name for s in self.track.stems])
        self._suspended, self.engine = real, stand_in
        return real

    def resume(self, *, restore: bool = True) -> None:
        """Take the device's engine back: the open track goes back into it (paused, at the
        position and the loop it had), or the engine is emptied when no track is open or
        `restore` is off."""
        real = self._suspended
        if real is None:
            return
        self._suspended, self.engine = None, real
        real.pause()
        if restore and self.track is not None:
            real.load_source(self.track.source, [s.name for s in self.track.stems])
            self._push_all(notify=False)  # the arrangement first: a cut that clears the loop
            loop, self._resume_loop = self._resume_loop, None
            if loop is not None:
                real.set_loop(*loop)
            real.seek(self._resume_at)
            self._notify()  # listeners (drafts, undo) see the mix as it was, loop and all
        else:
            real.unload()

    @property
    def resume_at(self) -> float:
        """Seconds where the suspended track resumes (its playhead when it was suspended)."""
        return self._resume_at

    def listen(self, audio: np.ndarray, name: str) -> None:
        """Play a render (1, 2, N) through the device's engine in place of the open track
        (kept for callers of the first API: the studio session routes listening through
        app.listening.RenderRoute, which does exactly this)."""
        from app.listening import RenderRoute

        RenderRoute(self.suspend(), audio, remix_id="", name=name).play()

    def stop_listening(self, *, restore: bool = True) -> None:
        """End listening: `resume` (kept name)."""
        self.resume(restore=restore)

    # -- transport: arrangement and loop (issue 3) -----------------------------------------------

    def sections(self) -> list[Section]:
        """The open track's analysed sections (empty when it has none)."""
        detail = self.detail
        return list(detail.analysis.sections) if detail is not None else []

    def set_arrangement(self, sections: list[int] | None) -> None:
        """Play these sections (indices into `sections()`) in this order, crossfaded; None or
        [] plays the track as delivered. Document and engine change together."""
        assert self.document is not None
        all_sections = self.sections()
        slots = None
        if sections:
            slots = [
                ArrangementSlot(
                    name=all_sections[i].name,
                    start=all_sections[i].start,
                    end=min(all_sections[i].end, self._track_seconds()),
                )
                for i in sections
            ]
        self.document = self.document.model_copy(update={"arrangement": slots})
        self._push_arrangement()
        self._notify()

    def arrangement_indices(self) -> list[int]:
        """The document's arrangement as section indices (slots that match no section of this
        track are left out: the UI shows sections)."""
        if self.document is None or self.document.arrangement is None:
            return []
        out = []
        for slot in self.document.arrangement:
            for i, sec in enumerate(self.sections()):
                if abs(sec.start - slot.start) < 1e-3:
                    out.append(i)
                    break
        return out

    def set_loop(self, start: float, end: float, *, snap: bool = False) -> tuple[float, float]:
        """Loop [start, end) in seconds of the (arranged) piece; `snap` moves both ends to the
        nearest bar line of the track's beat grid. A practice aid: not part of the document."""
        if snap:
            start, end = self._snap(start), self._snap(end)
            if end <= start:
                end = start + self._bar_seconds()
        self.engine.set_loop(start, end)
        loop = self.engine.loop_seconds
        assert loop is not None
        self._loop_changed()
        return loop

    def loop_current_section(self) -> tuple[float, float] | None:
        """Loop the section under the playhead (the arranged slot when arranged)."""
        timeline = self.engine.timeline
        if timeline is None:
            return None
        rate = self.engine.sample_rate
        t = round(self.engine.position_seconds * rate)
        if timeline.arranged:
            a, b = timeline.slot_range(timeline.slot_of(t))
            return self.set_loop(a / rate, b / rate)
        for sec in self.sections():
            if sec.start <= t / rate < sec.end:
                return self.set_loop(sec.start, min(sec.end, timeline.length / rate))
        return None

    def clear_loop(self) -> None:
        self.engine.clear_loop()
        self._loop_changed()

    def _loop_changed(self) -> None:
        for listener in self._loop_listeners:
            listener()

    def _track_seconds(self) -> float:
        assert self.track is not None
        return self.track.n_frames / self.track.sample_rate

    def _bar_seconds(self) -> float:
        analysis = self.detail.analysis if self.detail is not None else None
        if analysis is None:
            return 2.0
        return 60.0 / analysis.bpm * max(1, analysis.beats_per_bar)

    def _snap(self, seconds: float) -> float:
        """Snap timeline seconds to a bar line: in the source grid, through the arrangement."""
        from audio.transport import snap_to_bar

        analysis = self.detail.analysis if self.detail is not None else None
        timeline = self.engine.timeline
        if analysis is None or timeline is None:
            return seconds
        rate = self.engine.sample_rate
        t = round(seconds * rate)
        slot = timeline.slot_of(t)
        t0, t1 = timeline.slot_range(slot)
        src0 = timeline.segments[slot][0]
        src = snap_to_bar(
            (src0 + t - t0) / rate, analysis.bpm, analysis.first_beat, analysis.beats_per_bar
        )
        snapped = t0 + round(src * rate) - src0
        return min(max(snapped, t0), t1) / rate

    def _push_arrangement(self) -> None:
        """Document -> engine for the arrangement (after a load the engine plays as delivered)."""
        from core.remix import arrangement_frames

        assert self.track is not None and self.document is not None
        frames = arrangement_frames(self.document, self.track.sample_rate)
        if frames is not None or (
            self.engine.timeline is not None and self.engine.timeline.arranged
        ):
            self.engine.set_arrangement(frames)

    # -- tempo and key (issue 3, stretch) ---------------------------------------------------------

    def set_tempo_ratio(self, ratio: float) -> None:
        """Tempo with key lock (1.25 = 25 % faster), within the track's rights policy.

        Heard live at once (audio.livestretch, ahead of the playhead); the submitted render
        applies it with the same stretcher and settings (audio.stretch). The tempo-synced delay
        follows."""
        assert self.document is not None and self.track is not None
        policy = self.track.detail.policy
        if not policy.tempo_ratio_min <= ratio <= policy.tempo_ratio_max:
            raise ValueError(
                f"tempo {ratio:g}x is outside this track's range {policy.tempo_ratio_min:g}x to "
                f"{policy.tempo_ratio_max:g}x; choose a tempo inside it"
            )
        self._set_document(tempo_ratio=float(ratio))

    def set_key_shift(self, semitones: int) -> None:
        """Key shift in semitones, within the track's rights policy (see set_tempo_ratio)."""
        assert self.document is not None and self.track is not None
        policy = self.track.detail.policy
        if not policy.key_shift_min <= semitones <= policy.key_shift_max:
            raise ValueError(
                f"key shift {semitones:+d} is outside this track's range {policy.key_shift_min:+d} "
                f"to {policy.key_shift_max:+d} semitones; choose a shift inside it"
            )
        self._set_document(key_shift=int(semitones))

    def _set_document(self, **changes: float | int) -> None:
        assert self.document is not None
        data = {**self.document.model_dump(), **changes}
        self.document = RemixDocument.model_validate(data)  # validates the ranges
        self._push_effects()
        self._push_stretch()
        self._notify()

    # -- automation (issue 3) ---------------------------------------------------------------------
    #
    # Latch recording: while armed and playing, the first edit of a parameter starts a pass; the
    # control is then heard live (its lane is overridden) and every edit adds a point at the
    # playhead (at most one per AUTOMATION_MIN_INTERVAL s; a faster edit updates the last point).
    # The pass writes its last value until playback stops, jumps back (seek, loop wrap) or the
    # arm is released; it then replaces the lane over [first point, that moment], the old
    # automation (or, on a fresh lane, the value from before the touch) resumes after it, and the
    # lane is simplified and written into the document (drafts autosave).

    AUTOMATION_MIN_INTERVAL = 0.02
    AUTOMATION_MAX_GAP = 0.5
    """A playhead more than this far ahead of the last one seen (polls come at >= 30 Hz) has
    jumped (a seek): the pass ends where it was."""

    @property
    def automation_armed(self) -> bool:
        return self._auto_armed

    def arm_automation(self, on: bool) -> None:
        """Arm (or disarm) automation recording; disarming writes any open pass."""
        if not on and self._passes:
            t = self._automation_time()
            moved_on = self._pass_end <= t <= self._pass_end + self.AUTOMATION_MAX_GAP
            self._finish_passes(t if moved_on else self._pass_end)
        self._auto_armed = bool(on) and self.document is not None

    def poll_automation(self) -> None:
        """Call from the UI timer: ends the open pass when playback stopped or jumped back."""
        if not self._passes:
            return
        t = self._automation_time()
        moved_on = self._pass_end <= t <= self._pass_end + self.AUTOMATION_MAX_GAP
        if not self.engine.playing:  # paused (the playhead stays) or ended (it rewound)
            self._finish_passes(t if moved_on else self._pass_end)
        elif moved_on:
            self._pass_end = t
        else:
            self._finish_passes(self._pass_end)

    @property
    def has_automation(self) -> bool:
        """Anything `clear_automation` would delete: a lane, or a pass being recorded."""
        return bool(self._passes) or bool(self.document is not None and self.document.automation)

    def automated(self) -> set[tuple[str, str]]:
        """(stem id, parameter) of every lane in the document."""
        if self.document is None:
            return set()
        return {(lane.stem, lane.param) for lane in self.document.automation}

    def automated_value(self, stem_id: str, param: str) -> float | None:
        """The automated value of (stem, parameter) under the playhead (None: not automated or
        being recorded, so the control itself is what is heard)."""
        auto = self.engine.automation
        if auto is None or self.track is None or (stem_id, param) in self._passes:
            return None
        frame = round(self.engine.position_seconds * self.engine.sample_rate)
        return auto.value(self._index(stem_id), param, frame)

    def clear_automation(self, stem_id: str | None = None) -> None:
        """Delete the automation lanes (of one stem, or all); the controls' own values play."""
        assert self.document is not None
        self._passes.clear()
        self.engine.clear_automation_overrides()
        lanes = [x for x in self.document.automation if stem_id is not None and x.stem != stem_id]
        self.document = self.document.model_copy(update={"automation": lanes})
        self._push_automation()
        self._notify()

    def _automation_time(self) -> float:
        """Seconds of the arranged piece at the original tempo under the playhead (the lanes'
        time base). NB: live playback plays at the original tempo; a live stretch must scale
        this by the tempo ratio."""
        return self.engine.position_seconds

    def _open_params(self, stem_id: str) -> set[str]:
        return {param for s, param in self._passes if s == stem_id}

    def _record(self, stem_id: str, param: str, value: float, before: float) -> None:
        if not self._auto_armed or not self.engine.playing or self.listening:
            return
        t = self._automation_time()
        if self._passes and not self._pass_end <= t <= self._pass_end + self.AUTOMATION_MAX_GAP:
            self._finish_passes(self._pass_end)  # the playhead jumped: a new pass
        key = (stem_id, param)
        if key not in self._passes:
            self._passes[key] = ([(t, float(value))], float(before))
            self.engine.set_automation_override(self._index(stem_id), param, True)
        else:
            points = self._passes[key][0]
            if t - points[-1][0] < self.AUTOMATION_MIN_INTERVAL:
                points[-1] = (points[-1][0], float(value))
            else:
                points.append((t, float(value)))
        self._pass_end = max(self._pass_end, t)

    def _finish_passes(self, end: float) -> None:
        """Write the open passes into their lanes, up to `end` seconds (latch)."""
        from core.contract import MAX_AUTOMATION_POINTS, AutomationLane, AutomationParam

        passes, self._passes = self._passes, {}
        self._pass_end = 0.0
        self.engine.clear_automation_overrides()
        if self.document is None or not passes:
            return
        lanes: dict[tuple[str, str], list[tuple[float, float]]] = {
            (x.stem, x.param): list(x.points) for x in self.document.automation
        }
        for key, (points, before) in passes.items():
            old = lanes.get(key)
            t0, t_last = points[0][0], points[-1][0]
            stop = max(end, t_last + 1e-3)
            if old is None:
                resume = before
                head = [(0.0, before)] if t0 > 0.0 else []
                tail: list[tuple[float, float]] = []
            else:
                resume = _held(old, stop)
                head = [p for p in old if p[0] < t0]
                tail = [p for p in old if p[0] > stop]
            merged = [*head, *points, (stop, resume), *tail]
            lanes[key] = _simplify(merged, MAX_AUTOMATION_POINTS)
        order = {p: i for i, p in enumerate(get_args(AutomationParam))}
        ids = list(self.track.stem_ids) if self.track is not None else []
        self.document = RemixDocument.model_validate(
            {
                **self.document.model_dump(),
                "automation": [
                    AutomationLane(stem=stem, param=param, points=points).model_dump()
                    for (stem, param), points in sorted(
                        lanes.items(),
                        key=lambda kv: (
                            ids.index(kv[0][0]) if kv[0][0] in ids else len(ids),
                            order[kv[0][1]],
                        ),
                    )
                ],
            }
        )
        self._push_automation()
        self._notify()

    def _push_automation(self) -> None:
        """Document -> engine for the automation lanes."""
        from core.remix import automation_lanes

        assert self.track is not None and self.document is not None
        lanes = automation_lanes(self.document, list(self.track.stem_ids))
        self.engine.set_automation(self.engine.automation_for(lanes) if lanes else None)

    # -- live tempo and key (issue 3, S2) --------------------------------------------------------

    @property
    def stretch_late_seconds(self) -> float:
        """Audio the live stretcher dropped because it fell behind (0 when not stretching)."""
        st = self.engine.stretcher
        return 0.0 if st is None else st.late_frames / self.engine.sample_rate

    def _push_stretch(self) -> None:
        """Document -> engine for tempo and key (live stretch; 1 / 0 is the plain engine)."""
        assert self.document is not None
        self.engine.set_stretch(self.document.tempo_ratio, self.document.key_shift)


def _without_locked(doc: RemixDocument, playable: list[str]) -> RemixDocument:
    """A restored draft over the stems this track plays now: a stem the artist has locked since
    the draft was saved is left out (settings and automation), so it never blocks a submission."""
    stems = {k: v for k, v in doc.stems.items() if k in playable}
    lanes = [lane for lane in doc.automation if lane.stem in playable]
    if len(stems) == len(doc.stems) and len(lanes) == len(doc.automation):
        return doc
    return doc.model_copy(update={"stems": stems, "automation": lanes})


def _held(points: list[tuple[float, float]], t: float) -> float:
    """The value a lane holds at time t (its first value before its first point)."""
    value = points[0][1]
    for pt, pv in points:
        if pt > t:
            break
        value = pv
    return value


def _simplify(points: list[tuple[float, float]], limit: int) -> list[tuple[float, float]]:
    """Drop points that repeat the value before them (the lane sounds the same), then, if the
    lane is still over `limit`, every other interior point until it fits."""
    out = [points[0]]
    for p in points[1:]:
        if p[1] != out[-1][1]:
            out.append(p)
    while len(out) > limit:
        out = [out[0], *out[1:-1:2], out[-1]]
    return out
