"""Loop region and section arrangement: right frames, no clicks, bit-exact offline renders."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from audio.engine import Engine
from audio.offline import render_mix
from audio.source import ArraySource
from audio.transport import JOIN_CROSSFADE_S, LOOP_CROSSFADE_S, Timeline, snap_to_bar

SR = 48000
X_JOIN = round(JOIN_CROSSFADE_S * SR)  # 720 frames
X_LOOP = round(LOOP_CROSSFADE_S * SR)  # 480 frames


def index_stem(n_frames: int) -> np.ndarray:
    """Left channel = frame index (exact in float32 below 2**24), right = 0: a read of frame f
    returns f, so the output names the source frame it came from."""
    stems = np.zeros((1, 2, n_frames), dtype=np.float32)
    stems[0, 0] = np.arange(n_frames, dtype=np.float32)
    return stems


def sine_stems(n_frames: int, hz: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(n_frames) / SR
    s = (amp * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    return np.stack([np.stack([s, s])])


def max_step(x: np.ndarray) -> float:
    return float(np.abs(np.diff(x.astype(np.float64))).max())


def curves(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The equal-power pair, written independently of audio.transport."""
    theta = (np.arange(n) + 0.5) * (np.pi / 2 / n)
    return np.cos(theta).astype(np.float32), np.sin(theta).astype(np.float32)


def reference_arrangement(stems: np.ndarray, segments: list[tuple[int, int]]) -> np.ndarray:
    """Concatenate the slices; over the last X frames before each join, fade the outgoing tail
    out and the incoming section's X frames of pre-roll in (float32, same operation order)."""
    fo, fi = curves(X_JOIN)
    parts = [stems[:, :, a:b].copy() for a, b in segments]
    for i in range(len(parts) - 1):
        nxt = segments[i + 1][0]
        pre = np.zeros((stems.shape[0], 2, X_JOIN), dtype=np.float32)
        lo = max(nxt - X_JOIN, 0)
        pre[:, :, X_JOIN - (nxt - lo) :] = stems[:, :, lo:nxt]
        tail = parts[i][:, :, -X_JOIN:]
        tail[:] = tail * fo + pre * fi
    return np.concatenate(parts, axis=2)


# -- Timeline (pure mapping) ---------------------------------------------------------------------


def test_timeline_reads_the_arranged_frames():
    stems = index_stem(10_000)
    segs = [(6000, 9000), (1000, 4000), (6000, 9000)]
    tl = Timeline(1, 4096, 10_000, SR, segs)
    assert tl.length == 9000
    out = np.zeros((1, 2, 9000), dtype=np.float32)
    for a in range(0, 9000, 700):  # odd block size: crosses joins mid-block
        n = min(700, 9000 - a)
        tl.read(ArraySource(stems), a, out[:, :, a : a + n])
    np.testing.assert_array_equal(out, reference_arrangement(stems, segs))
    # Outside the crossfades every output frame is exactly its source frame.
    assert out[0, 0, 0] == 6000 and out[0, 0, 3000] == 1000 and out[0, 0, 6000] == 6000
    assert out[0, 0, 3000 - X_JOIN - 1] == 9000 - X_JOIN - 1
    assert tl.source_frame(3500) == 1500 and tl.timeline_of_source(1500) == 3500


def test_timeline_rejects_bad_ranges_with_a_message():
    with pytest.raises(ValueError, match="outside the track"):
        Timeline(1, 64, 1000, SR, [(0, 2000)])
    with pytest.raises(ValueError, match="shorter than 50 ms"):
        Timeline(1, 64, 100_000, SR, [(0, 100)])
    with pytest.raises(ValueError, match="at least one section"):
        Timeline(1, 64, 1000, SR, [])
    with pytest.raises(ValueError, match="widen it"):
        Timeline(1, 64, 100_000, SR, None, (1000, 1100))


def test_snap_to_bar():
    # 120 bpm, 4/4: bars every 2 s from the first downbeat at 0.25 s.
    assert snap_to_bar(3.1, 120.0, 0.25, 4) == pytest.approx(2.25)
    assert snap_to_bar(3.4, 120.0, 0.25, 4) == pytest.approx(4.25)
    assert snap_to_bar(0.1, 120.0, 0.25, 4) == pytest.approx(0.25)


# -- loop in the engine --------------------------------------------------------------------------


def play_blocks(engine: Engine, n_blocks: int, block: int) -> np.ndarray:
    out = np.full((n_blocks * block, 2), np.nan, dtype=np.float32)
    for b in range(n_blocks):
        engine.process(out[b * block : (b + 1) * block])
    return out


def loop_engine(stems: np.ndarray) -> Engine:
    engine = Engine(SR, max_block=1024, max_stems=4)
    engine.load(stems, ["s"])
    return engine


def test_loop_plays_the_loop_frames_and_the_position_stays_inside():
    n = 4 * SR
    engine = loop_engine(index_stem(n) / np.float32(n))  # scaled under the limiter's ceiling
    ls, le = 12_000, 30_000
    engine.set_loop(ls / SR, le / SR)
    assert engine.loop_seconds == (ls / SR, le / SR)
    engine.play()
    block = 256
    positions = []
    out = np.empty((0, 2), dtype=np.float32)
    for _ in range(400):  # ~2.1 s: five loop passes
        chunk = play_blocks(engine, 1, block)
        out = np.concatenate([out, chunk])
        positions.append(engine.position_seconds * SR)
    assert engine.playing
    played = np.rint(out[:, 0].astype(np.float64) * n).astype(np.int64)
    # Expected source frame of every output frame (outside the wrap crossfades).
    v = np.arange(len(out))
    expect = np.where(v < le, v, ls + (v - le) % (le - ls))
    in_fade = (expect >= le - X_LOOP) & (expect < le)
    assert np.array_equal(played[~in_fade], expect[~in_fade])
    assert all(0 <= p < le for p in positions) and max(positions) >= ls
    assert sum(1 for a, b in itertools.pairwise(positions) if b < a) >= 4


def test_loop_wrap_does_not_click_on_a_steady_sine():
    stems = sine_stems(2 * SR, hz=441.0)
    engine = loop_engine(stems)
    # A loop whose length is not a whole number of periods: a hard wrap would jump.
    ls, le = 4_000, 4_000 + 10_037
    engine.set_loop(ls / SR, le / SR)
    engine.play()
    out = play_blocks(engine, 200, 128)
    steady = max_step(engine_free_sine(2 * SR, 441.0))
    # Equal power sums correlated material up to sqrt(2) (+3 dB) mid-fade; a click is a jump.
    assert max_step(out[:, 0]) <= np.sqrt(2) * steady
    # Without the crossfade the same wrap jumps far more than a sine step:
    hard = np.concatenate([stems[0, 0, ls:le], stems[0, 0, ls:le]])
    assert max_step(hard) > 4 * steady


def engine_free_sine(n: int, hz: float) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * hz * np.arange(n) / SR)).astype(np.float32)


def test_loop_set_while_playing_after_its_end_jumps_to_its_start_and_clear_plays_on():
    n = 4 * SR
    engine = loop_engine(index_stem(n) / np.float32(n))
    engine.play()
    play_blocks(engine, 200, 256)  # 51 200 frames in
    engine.set_loop(0.1, 0.5)
    assert engine.position_seconds == 0.1  # the UI sees the target at once
    play_blocks(engine, 10, 256)
    assert 0.1 <= engine.position_seconds < 0.5
    engine.clear_loop()
    assert engine.loop_seconds is None
    play_blocks(engine, 200, 256)
    assert engine.position_seconds > 0.5


def test_loop_needs_a_track_and_a_sane_range():
    engine = Engine(SR, max_block=256, max_stems=2)
    with pytest.raises(RuntimeError, match="open a track first"):
        engine.set_loop(0.0, 1.0)
    engine.load(index_stem(SR), ["s"])
    with pytest.raises(ValueError, match="outside the piece"):
        engine.set_loop(0.5, 2.0)


# -- arrangement ---------------------------------------------------------------------------------


def test_arranged_render_nulls_against_concatenated_sections():
    rng = np.random.default_rng(7)
    n = 3 * SR
    stems = (rng.standard_normal((3, 2, n)) * 0.05).astype(np.float32)
    segs = [(0, 24_000), (48_000, 96_000), (48_000, 96_000), (120_000, n)]
    gains, pans = [-3.0, 0.0, 2.0], [0.0, -0.4, 0.6]
    ref_stems = reference_arrangement(stems, segs)
    ref = render_mix(ref_stems, gains, pans, False, False, -1.0, block=1024)
    for block in (64, 1024, 4096):
        got = render_mix(stems, gains, pans, False, False, -1.0, block=block, arrangement=segs)
        assert got.shape == (24_000 + 48_000 * 2 + (n - 120_000), 2)
        np.testing.assert_array_equal(got, ref)


def test_arrangement_joins_do_not_click():
    # Two sections of sines at different frequencies and phases: a hard cut would jump.
    n = 2 * SR
    t = np.arange(n) / SR
    a = 0.4 * np.sin(2 * np.pi * 220 * t)
    b = 0.4 * np.sin(2 * np.pi * 330 * t + 1.3)
    sig = np.where(t < 1.0, a, b).astype(np.float32)
    stems = np.stack([np.stack([sig, sig])])
    segs = [(0, 30_011), (60_000, 90_000), (17_003, 40_000)]
    out = render_mix(stems, 0.0, 0.0, False, False, 0.0, block=512, arrangement=segs)
    steady = 0.4 * 2 * np.pi * 330 / SR  # the largest step of the faster sine
    assert max_step(out[:, 0]) <= np.sqrt(2) * steady
    hard = np.concatenate([stems[0, 0, s:e] for s, e in segs])
    assert max_step(hard) > 5 * steady


def test_arrangement_change_while_playing_keeps_the_music_under_the_playhead():
    n = 4 * SR
    engine = loop_engine(index_stem(n) / np.float32(n))
    engine.play()
    play_blocks(engine, 100, 256)  # source frame 25 600
    engine.set_arrangement([(96_000, 144_000), (0, 48_000)])
    assert engine.duration_frames == 96_000
    # Source frame 25 600 is played by the second section at timeline frame 48 000 + 25 600.
    assert engine.position_seconds == (48_000 + 25_600) / SR
    play_blocks(engine, 4, 256)
    assert engine.position_seconds * SR > 48_000 + 25_600
    assert engine.source_position_seconds * SR == engine.position_seconds * SR - 48_000
    engine.set_arrangement(None)
    assert engine.duration_frames == n


def test_arrangement_plays_to_its_end_and_stops():
    n = SR
    engine = loop_engine(index_stem(n) / np.float32(n))
    engine.set_arrangement([(24_000, 36_000)])
    engine.play()
    out = play_blocks(engine, 50, 256)
    played = np.rint(out[:12_000, 0].astype(np.float64) * n)
    assert played[0] == 24_000 and played[-1] == 35_999
    assert not engine.playing and np.all(out[12_000:] == 0.0)


# -- Studio: document and engine change together -------------------------------------------------


class _FakeStream:
    """Stand-in for app.streaming.TrackStream (a real one needs the platform; the arrangement
    logic only needs detail, stem ids, the source and the rate). A mock, said so."""

    def __init__(self, stems: np.ndarray, sections: list[tuple[str, float, float]]) -> None:
        from core.contract import Analysis, RightsPolicy, Section, StemInfo, TrackDetail

        n = stems.shape[2]
        self.source = ArraySource(stems)
        self.sample_rate = SR
        self.n_frames = n
        self.stems = [
            StemInfo(
                id="s",
                name="S",
                kind="other",
                duration=n / SR,
                format="flac",
                sample_rate=SR,
                channels=2,
                size=1,
                sha256="0",
            )
        ]
        self.stem_ids = ["s"]
        self.detail = TrackDetail(
            id="t",
            version=1,
            title="T",
            artist="A",
            duration=n / SR,
            bpm=120.0,
            key="A minor",
            opted_in=True,
            stem_count=1,
            stems=self.stems,
            analysis=Analysis(
                bpm=120.0,
                key="A minor",
                first_beat=0.0,
                sections=[Section(name=a, start=b, end=c) for a, b, c in sections],
            ),
            policy=RightsPolicy(),
            entitled=True,
        )

    def start(self) -> None: ...
    def stop(self) -> None: ...


def test_studio_arrangement_updates_document_and_engine_and_loop_snaps_to_bars():
    from app.studio import Studio
    from core.remix import arrangement_frames

    n = 8 * SR
    stream = _FakeStream(index_stem(n) / np.float32(n), [("a", 0, 2), ("b", 2, 6), ("c", 6, 8)])
    engine = Engine(SR, max_block=1024, max_stems=4)
    studio = Studio(engine)
    docs = []
    studio.on_change(docs.append)
    studio.open(stream)  # type: ignore[arg-type]
    studio.set_arrangement([2, 0, 0])
    doc = studio.document
    assert [s.name for s in doc.arrangement] == ["c", "a", "a"] and docs[-1] is doc
    assert arrangement_frames(doc, SR) == [(6 * SR, 8 * SR), (0, 2 * SR), (0, 2 * SR)]
    assert engine.duration_frames == 6 * SR and studio.arrangement_indices() == [2, 0, 0]
    # 120 bpm 4/4: bars every 2 s; loop ends snap to them (in the arranged slot's grid).
    assert studio.set_loop(2.3, 3.7, snap=True) == (2.0, 4.0)
    engine.play()
    engine.seek(2.5)
    play_blocks(engine, 1, 256)
    assert studio.loop_current_section() == (2.0, 4.0)
    studio.set_arrangement(None)
    assert studio.document.arrangement is None and engine.duration_frames == n
    assert engine.loop_seconds is None


def _ranges_by_frame(tl: Timeline, t: int, n: int) -> list[tuple[int, int]]:
    """The reference: each of the next n play frames mapped on its own, runs merged."""
    out: list[tuple[int, int]] = []
    for k in range(n):
        if tl.loop is None and t + k >= tl.length:
            break
        s = tl.source_frame(tl.timeline_frame(t + k))
        if out and out[-1][1] == s:
            out[-1] = (out[-1][0], s + 1)
        else:
            out.append((s, s + 1))
    return out


@pytest.mark.parametrize(
    ("segments", "loop", "t", "n"),
    [
        (None, None, 0, 50_000),  # straight on
        (None, None, 90_000, 50_000),  # runs off the end
        (None, (20_000, 60_000), 50_000, 90_000),  # round the loop twice
        ([(60_000, 80_000), (10_000, 30_000), (60_000, 70_000)], None, 15_000, 40_000),  # jumps
        ([(60_000, 80_000), (10_000, 30_000), (60_000, 70_000)], (10_000, 45_000), 40_000, 70_000),
    ],
)
def test_source_ranges_follow_the_loop_and_the_arrangement(segments, loop, t, n):
    tl = Timeline(1, 64, 100_000, SR, segments, loop)
    assert tl.source_ranges(t, n) == _ranges_by_frame(tl, t, n)


def test_engine_tells_the_decoder_what_plays_after_the_loop_wrap():
    engine = Engine(SR, 256, 1)
    engine.load(sine_stems(4 * SR), ["tone"])
    engine.set_loop(1.0, 2.0)
    engine.seek(1.75)
    assert engine.upcoming_source_ranges(SR // 2) == [
        (round(1.75 * SR), 2 * SR),
        (SR, SR + SR // 4),
    ]
