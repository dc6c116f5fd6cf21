"""MixSettings: the one mapping from a remix document to an Engine, live and offline alike."""

from __future__ import annotations

import numpy as np
import pytest

from audio import dsp
from audio.engine import Engine
from audio.mixsettings import MixSettings
from audio.offline import render, render_mix
from core.contract import RemixDocument
from core.remix import document_arrays, mix_settings

SR = 48000
IDS = ["a", "b", "c"]


def stems(seconds: float = 2.0) -> np.ndarray:
    rng = np.random.default_rng(11)
    return (rng.standard_normal((3, 2, int(SR * seconds))) * 0.2).astype(np.float32)


def document(**changes: object) -> RemixDocument:
    data: dict = {
        "track_id": "t",
        "track_version": 1,
        "title": "x",
        "master_gain_db": -2.0,
        "stems": {
            "a": {"gain_db": 3.0, "pan": -0.5, "eq_low_db": 4.0, "send_reverb": 0.4},
            "b": {"gain_db": -6.0, "hp_hz": 150.0, "send_delay": 0.3},
            "c": {"mute": True},
        },
        "delay": {"beats": 0.5, "feedback": 0.4, "wet": 0.7},
    }
    data.update(changes)
    return RemixDocument.model_validate(data)


def test_a_document_maps_to_the_engine_columns_and_frames():
    doc = document(arrangement=[{"start": 0.5, "end": 1.5}], tempo_ratio=1.2, key_shift=-1)
    s = mix_settings(doc, IDS, SR, bpm=100.0)
    assert list(s.gain_db) == [3.0, -6.0, 0.0] and list(s.mute) == [False, False, True]
    assert s.strip is not None and s.strip[0, dsp.P_EQ_LOW] == 4.0
    assert s.strip[1, dsp.P_HP] == 150.0 and s.strip[1, dsp.P_SEND_DELAY] == 0.3
    assert s.bus is not None and s.bus[dsp.B_BPM] == pytest.approx(120.0)  # bpm x tempo
    assert s.arrangement == ((24000, 72000),)
    assert (s.tempo_ratio, s.key_shift, s.master_gain_db) == (1.2, -1, -2.0)


def test_render_of_settings_is_render_mix_of_the_same_values_bit_for_bit():
    """The platform renders with `render(source, mix_settings(...))`; tests and the worker's
    warm-up still call `render_mix` with the values one by one: the same bits."""
    doc = document(automation=[{"stem": "b", "param": "pan", "points": [[0, 0], [1.0, 1.0]]}])
    x = stems()
    a = document_arrays(doc, IDS, bpm=120.0)
    by_values = render_mix(
        x, a.gain_db, a.pan, a.mute, a.solo, a.master_gain_db, SR, 1024, a.strip, a.bus,
        automation=a.automation,
    )  # fmt: skip
    assert np.array_equal(render(x, mix_settings(doc, IDS, SR, bpm=120.0), SR), by_values)


def test_settings_for_other_stems_are_refused_with_the_counts():
    with pytest.raises(ValueError, match="2 stems, the source has 3"):
        render(stems(0.1), MixSettings.of(2), SR)


def test_live_engine_with_the_settings_plays_what_the_render_gives():
    """The studio applies the same object to its engine: with constant controls the live
    output is the render's, bit for bit (the engine compensates the limiter's latency)."""
    x = stems(1.0)
    settings = mix_settings(document(), IDS, SR, bpm=120.0)
    offline = render(x, settings, SR)
    engine = Engine(SR, max_block=256, max_stems=3)
    engine.load(x, IDS)
    settings.apply(engine)
    engine.play()
    live = np.zeros((x.shape[2], 2), np.float32)
    for start in range(0, live.shape[0], 256):
        engine.process(live[start : start + 256])
    assert np.array_equal(live, offline)


def test_an_unchanged_arrangement_is_not_resent_so_the_loop_stays():
    """Undo (Studio.apply_document) re-applies a whole document; re-sending an arrangement is a
    cut that clears the loop, so it is sent only when it changed."""
    engine = Engine(SR, max_block=256, max_stems=3)
    engine.load(stems(), IDS)
    first = mix_settings(document(arrangement=[{"start": 0.0, "end": 1.5}]), IDS, SR)
    first.apply(engine)
    engine.set_loop(0.25, 0.75)
    louder = mix_settings(
        document(arrangement=[{"start": 0.0, "end": 1.5}], master_gain_db=1.0), IDS, SR
    )
    louder.apply(engine, since=first)
    assert engine.loop_seconds == (0.25, 0.75)
    cut = mix_settings(document(arrangement=[{"start": 0.5, "end": 1.5}]), IDS, SR)
    cut.apply(engine, since=louder)
    assert engine.loop_seconds is None
    assert engine.timeline is not None and engine.timeline.length == SR
