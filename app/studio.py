"""The open remix: one place where an edit changes both what you hear and what you submit.

The UI calls `Studio` for every edit; `Studio` writes the remix document and the engine's controls
together, so the recipe that is submitted is always exactly the mix that was heard.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from app.contract import ArrangementSlot, RemixDocument, Section, StemSettings, TrackDetail
from app.streaming import TrackStream
from audio.engine import Engine

DocumentListener = Callable[[RemixDocument], None]


class Studio:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.track: TrackStream | None = None
        self.document: RemixDocument | None = None
        self._listeners: list[DocumentListener] = []
        self._suspended: Engine | None = None  # the real engine while a render is heard
        self._resume_at = 0.0  # seconds: where the suspended track resumes

    @property
    def detail(self) -> TrackDetail | None:
        return self.track.detail if self.track else None

    def on_change(self, listener: DocumentListener) -> None:
        """Called after every edit (drafts autosave from here)."""
        self._listeners.append(listener)

    def open(self, track: TrackStream, document: RemixDocument | None = None) -> RemixDocument:
        """Play a streaming track, with a fresh recipe or a restored draft.

        The stream starts here and the engine plays from its source at once: chunks that have not
        arrived yet play as silence, so opening never waits for the download."""
        self.close()
        self.engine.load_source(track.source, [s.name for s in track.stems])
        track.start()
        self.track = track
        self.document = document or RemixDocument(
            track_id=track.detail.id,
            track_version=track.detail.version,
            title=f"{track.detail.title} (remix)",
            stems={s.id: StemSettings() for s in track.stems},
        )
        self._push_all()
        return self.document

    def close(self) -> None:
        self.stop_listening(restore=False)
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
        self._edit(stem_id, gain_db=db)
        self.engine.set_gain_db(self._index(stem_id), db)

    def set_pan(self, stem_id: str, pan: float) -> None:
        self._edit(stem_id, pan=pan)
        self.engine.set_pan(self._index(stem_id), pan)

    def set_mute(self, stem_id: str, muted: bool) -> None:
        self._edit(stem_id, mute=muted)
        self.engine.set_mute(self._index(stem_id), muted)

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

    def _push_all(self) -> None:
        assert self.track is not None and self.document is not None
        for i, stem_id in enumerate(self.track.stem_ids):
            s = self.stem(stem_id)
            self.engine.set_gain_db(i, s.gain_db)
            self.engine.set_pan(i, s.pan)
            self.engine.set_mute(i, s.mute)
            self.engine.set_solo(i, s.solo)
        self.engine.set_master_gain_db(self.document.master_gain_db)
        self._push_effects()
        self._push_arrangement()
        self._notify()

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
        self._edit(stem_id, send_reverb=reverb, send_delay=delay)
        self.engine.set_sends(self._index(stem_id), reverb, delay)

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
        from app.remix import document_arrays  # app.remix imports audio.dsp (numba)

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

    def listen(self, audio: np.ndarray, name: str) -> None:
        """Play a render (1, 2, N) through the device's engine in place of the open track.

        The track is suspended, not closed: its stream and document stay, and edits made meanwhile
        still land in the document and in a detached stand-in engine (so stem indices stay valid
        and nothing writes to the render's controls). `stop_listening` puts the track back as it
        was: the recipe pushed again and the playhead where it stood."""
        from audio import dsp  # as in _push_effects: keep numba out of plain app imports

        if self._suspended is None:
            real = self.engine
            self._resume_at = real.position_seconds
            real.pause()
            stand_in = Engine(real.sample_rate, real.max_block, real.max_stems)
            if self.track is not None:
                stand_in.load_source(self.track.source, [s.name for s in self.track.stems])
            self._suspended, self.engine = real, stand_in
        real = self._suspended
        real.pause()
        real.load(audio, [name])  # resets the per-stem controls
        real.set_master_gain_db(0.0)  # the render is mastered: the remix's own master gain is in
        real.set_bus(dsp.BUS_DEFAULTS)
        real.play()

    def stop_listening(self, *, restore: bool = True) -> None:
        """End listening: the open track goes back into the device's engine (paused, at the
        position it had), or the engine is emptied when no track is open or `restore` is off."""
        real = self._suspended
        if real is None:
            return
        self._suspended, self.engine = None, real
        real.pause()
        if restore and self.track is not None:
            real.load_source(self.track.source, [s.name for s in self.track.stems])
            real.seek(self._resume_at)
            self._push_all()
        else:
            real.unload()

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
        from app.remix import arrangement_frames

        assert self.track is not None and self.document is not None
        frames = arrangement_frames(self.document, self.track.sample_rate)
        if frames is not None or (
            self.engine.timeline is not None and self.engine.timeline.arranged
        ):
            self.engine.set_arrangement(frames)

    # -- tempo and key (issue 3, stretch) ---------------------------------------------------------

    def set_tempo_ratio(self, ratio: float) -> None:
        """Tempo with key lock (1.25 = 25 % faster), within the track's rights policy.

        NB: the offline render (preview and platform) applies it; live playback does not stretch
        yet, only the tempo-synced delay follows at once."""
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
        self._notify()
