"""The open remix: one place where an edit changes both what you hear and what you submit.

The UI calls `Studio` for every edit; `Studio` writes the remix document and the engine's controls
together, so the recipe that is submitted is always exactly the mix that was heard.
"""

from __future__ import annotations

from collections.abc import Callable

from app.contract import RemixDocument, StemSettings, TrackDetail
from app.streaming import TrackStream
from audio.engine import Engine

DocumentListener = Callable[[RemixDocument], None]


class Studio:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.track: TrackStream | None = None
        self.document: RemixDocument | None = None
        self._listeners: list[DocumentListener] = []

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
