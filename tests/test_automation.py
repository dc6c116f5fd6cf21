"""Automation: the document's lanes, recording through Studio while the engine plays, playback
by numbers, and the offline render equal to the live engine and across block sizes."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from audio import dsp
from audio.automation import AUTOMATION_STEP
from audio.engine import Engine
from audio.offline import render_mix
from core.contract import RemixDocument
from core.remix import audible_stems, automation_lanes, document_arrays
from tests.test_transport import _FakeStream

SR = 48000
BLOCK = 256
LEVEL = 0.25  # DC level of the test stem: its post-fader peak is LEVEL * gain exactly


def doc_with(automation, **extra) -> RemixDocument:
    return RemixDocument.model_validate(
        {"track_id": "t", "track_version": 1, "title": "x", "automation": automation, **extra}
    )


# -- the document ---------------------------------------------------------------------------------


def test_old_documents_stay_valid_and_lanes_validate():
    assert RemixDocument(track_id="t", track_version=1, title="x").automation == []
    lane = {"stem": "s", "param": "gain_db", "points": [[0, 0], [1.5, -6]]}
    assert doc_with([lane]).automation[0].points == [(0.0, 0.0), (1.5, -6.0)]
    bad = {
        "unsorted": ({**lane, "points": [[1, 0], [0.5, -6]]}, "goes back in time"),
        "range": ({**lane, "points": [[0, 20]]}, "reaches 20, outside -96 to 12"),
        "param": ({**lane, "param": "eq_low_db"}, "Input should be 'gain_db'"),
        "mute": (
            {**lane, "param": "mute", "points": [[0, 0.5]]},
            r"only 0 \(sounding\) or 1 \(muted\)",
        ),
        "many": ({**lane, "points": [[i * 0.01, 0] for i in range(10_001)]}, "at most 10000"),
    }
    for name, (bad_lane, words) in bad.items():
        with pytest.raises(ValidationError, match=words):
            doc_with([bad_lane])
        assert name
    with pytest.raises(ValidationError, match="level automation of stem 's' appears twice"):
        doc_with([lane, lane])


def test_mute_automation_counts_stems_heard_at_some_moment():
    lanes = [
        {"stem": "a", "param": "mute", "points": [[0, 0], [2, 1]]},
        {"stem": "b", "param": "mute", "points": [[0, 1]]},
    ]
    doc = doc_with(lanes, stems={"c": {"mute": True}})
    assert audible_stems(doc, ["a", "b", "c"]) == ["a"]
    unmute_c = {"stem": "c", "param": "mute", "points": [[0, 1], [1, 0]]}
    doc = doc_with([*lanes, unmute_c], stems={"c": {"mute": True}})
    assert audible_stems(doc, ["a", "b", "c"]) == ["a", "c"]
    # Whether one of them is then heard alone is judged on the sound: tests/test_isolation.py.


# -- recording and playback through Studio --------------------------------------------------------


def dc_stream(n_frames: int) -> _FakeStream:
    return _FakeStream(np.full((1, 2, n_frames), LEVEL, dtype=np.float32), [("all", 0, 8)])


def play_and_meter(engine: Engine, n_blocks: int, studio=None, edits=None) -> list[float]:
    """Run n_blocks through Engine.process (no device); the stem's post-fader peak per block.
    `edits` maps a block index to a function called before that block (the UI's moves);
    `studio.poll_automation` runs after every block, as the UI timer does."""
    out = np.zeros((BLOCK, 2), dtype=np.float32)
    peaks = []
    for b in range(n_blocks):
        if edits and b in edits:
            edits[b]()
        engine.process(out)
        peaks.append(float(engine.meters()[0][0]))
        if studio is not None:
            studio.poll_automation()
    return peaks


def test_a_recorded_fader_ride_plays_back_by_numbers():
    from app.studio import Studio

    engine = Engine(SR, max_block=1024, max_stems=4)
    studio = Studio(engine)
    docs = []
    studio.on_change(docs.append)
    studio.open(dc_stream(8 * SR))  # type: ignore[arg-type]
    studio.arm_automation(True)
    engine.play()
    # The user rides the fader: -6 dB after 40 blocks, -20 dB after 80, stops after 120.
    edits = {40: lambda: studio.set_gain_db("s", -6.0), 80: lambda: studio.set_gain_db("s", -20.0)}
    heard = play_and_meter(engine, 120, studio, edits)
    # While recording, the moves are heard at once (the control drives, not an old lane).
    assert heard[60] == pytest.approx(LEVEL * 10 ** (-6 / 20), abs=1e-7)
    engine.pause()
    play_and_meter(engine, 2, studio)  # the fade-out; the poll sees the stop and writes
    t1, t2, stop = 40 * BLOCK / SR, 80 * BLOCK / SR, 121 * BLOCK / SR
    (lane,) = studio.document.automation
    assert (lane.stem, lane.param) == ("s", "gain_db")
    # Latch: the last value holds until the stop, then the value before the touch resumes.
    assert lane.points == [(0.0, 0.0), (t1, -6.0), (t2, -20.0), (pytest.approx(stop), 0.0)]
    assert docs[-1] is studio.document and studio.automated() == {("s", "gain_db")}
    studio.arm_automation(False)

    # Playback: the fader now stands at -20 dB, but the lane drives the stem.
    engine.seek(0.0)
    engine.play()
    peaks = play_and_meter(engine, 130)
    stop_frame = round(lane.points[-1][0] * SR)
    for b, peak in enumerate(peaks):
        first, last = b * BLOCK, (b + 1) * BLOCK - 1
        moving = [f for f in (40 * BLOCK, 80 * BLOCK, stop_frame) if first - 64 <= f <= last + 64]
        value = 0.0 if last < 40 * BLOCK else -6.0 if last < 80 * BLOCK else -20.0
        value = 0.0 if first > stop_frame else value
        if not moving:
            assert peak == pytest.approx(LEVEL * 10 ** (value / 20), abs=1e-7), b
    assert studio.automated_value("s", "gain_db") == 0.0


def test_a_second_pass_overwrites_only_the_range_it_covers():
    from app.studio import Studio

    engine = Engine(SR, max_block=1024, max_stems=4)
    studio = Studio(engine)
    studio.open(dc_stream(8 * SR))  # type: ignore[arg-type]
    studio.arm_automation(True)
    engine.play()
    play_and_meter(engine, 100, studio, {10: lambda: studio.set_pan("s", -1.0)})
    engine.pause()
    play_and_meter(engine, 2, studio)
    (first,) = studio.document.automation
    assert [v for _, v in first.points] == [0.0, -1.0, 0.0]
    engine.seek(30 * BLOCK / SR)
    engine.play()
    play_and_meter(engine, 21, studio, {10: lambda: studio.set_pan("s", 0.5)})
    studio.arm_automation(False)
    (lane,) = studio.document.automation
    t_touch = 40 * BLOCK / SR
    assert lane.points[:3] == [first.points[0], first.points[1], (t_touch, 0.5)]
    # The old lane resumes after the pass: -1 until its old end, then 0.
    assert [v for _, v in lane.points[3:]] == [-1.0, 0.0]
    assert lane.points[-1] == first.points[-1]
    studio.clear_automation()
    assert studio.document.automation == [] and engine.automation is None


# -- the render: live equals offline, and block sizes agree ----------------------------------------


def noise_stems(n_stems: int, n_frames: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    return (rng.standard_normal((n_stems, 2, n_frames)) * 0.1).astype(np.float32)


LANES = [
    {"stem": "s0", "param": "gain_db", "points": [[0, 0], [0.4, -12], [0.9, -96], [1.3, 3]]},
    {"stem": "s1", "param": "mute", "points": [[0, 0], [0.7, 1], [1.1, 0]]},
    {"stem": "s1", "param": "pan", "points": [[0, -1], [0.2, 0.6]]},
    {"stem": "s2", "param": "send_reverb", "points": [[0, 0], [0.3, 0.9], [1.0, 0.2]]},
    {"stem": "s2", "param": "send_delay", "points": [[0.5, 0.5], [1.2, 0]]},
]


def test_offline_render_equals_the_live_engine_and_is_block_size_independent():
    from app.studio import Studio

    n = 2 * SR
    stems = noise_stems(3, n)
    stream = _FakeStream(stems[:1], [("all", 0, 2)])
    ids = ["s0", "s1", "s2"]
    stream.stem_ids = ids
    stream.stems = [stream.stems[0].model_copy(update={"id": i, "name": i}) for i in ids]
    stream.source = __import__("audio.source", fromlist=["ArraySource"]).ArraySource(stems)
    doc = doc_with(LANES, track_id="t", stems={"s0": {"gain_db": -3.0}}, master_gain_db=-2.0)
    engine = Engine(SR, max_block=BLOCK, max_stems=4)
    studio = Studio(engine)
    studio.open(stream, doc)  # type: ignore[arg-type]
    engine.play()
    live = np.zeros((n, 2), dtype=np.float32)
    for a in range(0, n, BLOCK):
        engine.process(live[a : a + BLOCK])

    arrays = document_arrays(doc, ids, bpm=120.0)
    assert len(arrays.automation) == len(automation_lanes(doc, ids)) == 5

    def render(block: int) -> np.ndarray:
        return render_mix(
            stems,
            arrays.gain_db,
            arrays.pan,
            arrays.mute,
            arrays.solo,
            arrays.master_gain_db,
            SR,
            block,
            strip=arrays.strip,
            bus=arrays.bus,
            automation=arrays.automation,
        )

    offline = render(BLOCK)
    assert np.array_equal(offline, live)  # the platform renders what the fan heard
    for block in (AUTOMATION_STEP, 128, 4096):
        assert np.array_equal(render(block), offline), block
    # Outside the documented limit (not a multiple of 64) only ramp shapes move, inaudibly.
    np.testing.assert_allclose(render(1000), offline, atol=2e-3, rtol=0)
    # And the automation is really there: without it the mix differs.
    plain = render_mix(stems, arrays.gain_db, arrays.pan, arrays.mute, arrays.solo, -2.0, SR)
    assert np.abs(plain - offline).max() > 0.05


def test_mute_automation_is_click_free():
    t = np.arange(SR)
    sine = (0.5 * np.sin(2 * np.pi * 440.0 * t / SR)).astype(np.float32)
    stems = np.stack([np.stack([sine, sine])])
    lanes = [(0, "mute", [0.0, 0.5], [0.0, 1.0])]
    out = render_mix(stems, 0.0, 0.0, False, False, -6.0, SR, 256, automation=lanes)
    step = np.abs(np.diff(out[:, 0].astype(np.float64))).max()
    max_sine_step = 0.5 * 10 ** (-6 / 20) * 2 * np.pi * 440.0 / SR
    assert step <= max_sine_step * 1.05  # no step beyond the sine's own slope
    assert np.all(out[round(0.5 * SR) + AUTOMATION_STEP :] == 0.0)
    assert np.abs(out[: round(0.5 * SR) - AUTOMATION_STEP]).max() > 0.24


def test_send_automation_feeds_the_reverb_bus_only_while_open():
    stems = noise_stems(1, SR)
    strip = np.tile(dsp.STRIP_DEFAULTS, (1, 1))
    lanes = [(0, "send_reverb", [0.0, 0.25, 0.5], [0.0, 1.0, 0.0])]
    wet = render_mix(stems, -96.0, 0.0, False, False, 0.0, SR, 512, strip, automation=lanes)
    # The dry stem is silent (-96 dB fader), so only a post-fader send... is silent too.
    assert np.all(wet == 0.0)
    dry = render_mix(stems, 0.0, 0.0, False, False, 0.0, SR, 512, strip)
    withsend = render_mix(stems, 0.0, 0.0, False, False, 0.0, SR, 512, strip, automation=lanes)
    q = round(0.25 * SR)
    assert np.array_equal(withsend[: q - AUTOMATION_STEP], dry[: q - AUTOMATION_STEP])
    assert np.abs(withsend[q + 2000 : 2 * q] - dry[q + 2000 : 2 * q]).max() > 0.01


# -- the platform ---------------------------------------------------------------------------------


def test_platform_publishes_automation_and_refuses_a_malformed_lane(platform):
    import io

    import soundfile as sf

    from tests.platform_helpers import as_demo, assert_error, doc_for, stem_ids, wait_for_status

    fan = as_demo(platform.url, "qa")
    track = fan("GET", "/tracks/paper-lanterns").json()
    ids = stem_ids(track)
    # Every stem at unity (alone not a derivative), all muted from 2 s to 4 s by automation.
    lanes = [{"stem": s, "param": "mute", "points": [[0, 0], [2, 1], [4, 0]]} for s in ids]
    doc = doc_for(track, stems={}, title="Breakdown", automation=lanes)
    resp = fan.submit(doc)
    assert resp.status_code == 201, resp.text
    info = wait_for_status(fan, resp.json()["id"])
    assert info["status"] == "published", info
    audio, rate = sf.read(io.BytesIO(fan("GET", f"/remixes/{info['id']}/audio").content))
    gap = np.abs(audio[round(2.01 * rate) : round(3.99 * rate)]).max()
    around = np.abs(audio[round(1.0 * rate) : round(1.99 * rate)]).max()
    assert gap < 1e-4 < 0.05 < around  # the render honours the recorded mutes
    summary = info["disclosure"]["other_transformations"]["automation"]
    assert summary[0] == {"stem": ids[0], "param": "mute", "points": 3, "min": 0.0, "max": 1.0}

    bad = doc_for(track, automation=[{"stem": ids[0], "param": "pan", "points": [[1, 0], [0, 1]]}])
    message = assert_error(fan.submit(bad), 422, "invalid_request")
    assert "automation" in message and "goes back in time" in message
    assert message.endswith("record the move again.")
    ghost = doc_for(track, automation=[{"stem": "ghost", "param": "gain_db", "points": [[0, -6]]}])
    message = assert_error(fan.submit(ghost), 422, "unknown_stem")
    assert message.startswith("The level automation is for stem 'ghost', which is not a stem of")
