"""The composed demo catalog: shape, levels, arrangement, musical content, determinism, files.

Music is checked by numbers: spectra for register and key, onset autocorrelation for tempo,
RMS per section for the arrangement. Composition runs once per module (a few seconds).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re

import numpy as np
import pytest
import soundfile as sf

from server import demo_music as dm

SR = dm.SAMPLE_RATE
REQUIRED_KINDS = {"drums", "bass", "keys", "lead"}
ALLOWED_KINDS = {"drums", "bass", "keys", "lead", "vocals", "fx", "other"}


def _db(x: float) -> float:
    return 20 * np.log10(max(x, 1e-12))


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def _spec(track_id: str) -> dm.TrackSpec:
    return next(s for s in dm.TRACK_SPECS if s.id == track_id)


def _stem(track: dm.DemoTrack, kind: str) -> dm.DemoStem:
    return next(s for s in track.stems if s.kind == kind)


def _mono(stem: dm.DemoStem) -> np.ndarray:
    return stem.audio.astype(np.float64).mean(axis=1)


@pytest.fixture(scope="module")
def tracks() -> list[dm.DemoTrack]:
    return dm.compose_demo_tracks()


def test_catalog_shape(tracks):
    assert len(tracks) >= 2
    assert len({t.id for t in tracks}) == len(tracks)
    stem_ids = [s.id for t in tracks for s in t.stems]
    assert len(set(stem_ids)) == len(stem_ids)
    assert len({t.artist for t in tracks}) == 1, "one demo artist owns every track"
    assert len({t.bpm for t in tracks}) == len(tracks), "tracks differ in tempo"
    assert len({t.key for t in tracks}) == len(tracks), "tracks differ in key"
    for track in tracks:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", track.id)
        assert track.title and track.artist and track.beats_per_bar == 4
        kinds = [s.kind for s in track.stems]
        assert len(track.stems) >= 4
        assert REQUIRED_KINDS <= set(kinds) <= ALLOWED_KINDS
        frames = {s.audio.shape[0] for s in track.stems}
        assert len(frames) == 1, "all stems of a track have the same length"
        (n,) = frames
        assert 60.0 <= n / SR <= 90.0
        for stem in track.stems:
            assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", stem.id)
            assert stem.id.startswith(track.id + "-")
            assert stem.audio.dtype == np.float32 and stem.audio.shape == (n, 2)
            assert stem.audio.flags.c_contiguous


def test_sections_are_contiguous_bar_aligned_and_cover_the_track(tracks):
    for track in tracks:
        n = track.stems[0].audio.shape[0]
        bar_s = 60.0 / track.bpm * track.beats_per_bar
        sections = track.sections
        assert len(sections) >= 4
        assert {"intro", "verse", "chorus", "outro"} <= {name for name, _, _ in sections}
        assert sections[0][1] == 0.0
        assert sections[-1][2] == pytest.approx(n / SR, abs=1e-9)
        for (_, _, end), (_, start, _) in itertools.pairwise(sections):
            assert start == pytest.approx(end, abs=1e-9)
        for name, start, end in sections:
            assert end > start, name
            bars = (start - track.first_beat) / bar_s
            assert start == 0.0 or bars == pytest.approx(round(bars), abs=1e-6), name


def test_levels_headroom_dc_and_no_nan(tracks):
    for track in tracks:
        mix = sum(s.audio.astype(np.float64) for s in track.stems)
        assert _db(float(np.max(np.abs(mix)))) <= -1.0, f"{track.id}: unity mix clips"
        for stem in track.stems:
            audio = stem.audio.astype(np.float64)
            assert np.isfinite(audio).all(), stem.id
            assert _db(float(np.max(np.abs(audio)))) <= -6.0 + 1e-6, stem.id
            assert _db(_rms(audio)) > -40.0, f"{stem.id} is (nearly) silent"
            assert np.max(np.abs(audio.mean(axis=0))) < 1e-4, f"{stem.id} has DC offset"


def test_arrangement_rests_and_plays_where_the_spec_says(tracks):
    """Stems fall silent in the sections where the arrangement rests them (after allowing
    1.5 s for release/reverb tails) and are audible where they play."""
    for track in tracks:
        spec = _spec(track.id)
        rested = 0
        for section, (name, start, end) in zip(spec.sections, track.sections, strict=True):
            assert section.name == name
            for stem in track.stems:
                a, b = round(start * SR), round(end * SR)
                if stem.kind in section.parts:
                    level = _db(_rms(stem.audio[a:b]))
                    assert level > -50.0, f"{stem.id} should play in {name}@{start:.1f}s"
                else:
                    rested += 1
                    quiet = stem.audio[round((start + 1.5) * SR) : b]
                    assert _db(_rms(quiet)) < -65.0, f"{stem.id} should rest in {name}@{start:.1f}"
        assert rested >= 5, "not every stem plays everywhere: it is arranged, not a loop"
        # Every required instrument rests somewhere (a section-level arrangement, not a loop).
        for kind in ("drums", "bass", "lead"):
            assert any(kind not in s.parts for s in spec.sections), (track.id, kind)


def test_bass_energy_is_low(tracks):
    for track in tracks:
        spectrum = np.abs(np.fft.rfft(_mono(_stem(track, "bass")))) ** 2
        freqs = np.fft.rfftfreq(track.stems[0].audio.shape[0], 1 / SR)
        share = spectrum[freqs < 300].sum() / spectrum.sum()
        assert share > 0.8, f"{track.id}: only {share:.0%} of bass energy below 300 Hz"


def _onset_envelope(x: np.ndarray, hop: int) -> np.ndarray:
    frames = len(x) // hop
    energy = np.square(x[: frames * hop]).reshape(frames, hop).sum(axis=1)
    flux = np.maximum(np.diff(np.log(energy + 1e-10)), 0.0)
    return flux - flux.mean()


def test_drum_onsets_follow_the_tempo(tracks):
    hop = 256
    for track in tracks:
        env = _onset_envelope(_mono(_stem(track, "drums")), hop)
        spectrum = np.fft.rfft(env, 2 * len(env))
        acf = np.fft.irfft(np.abs(spectrum) ** 2)[: len(env)]
        lags = np.arange(len(acf)) * hop / SR
        window = (lags >= 0.3) & (lags <= 0.9)
        best = lags[window][np.argmax(acf[window])]
        beat = 60.0 / track.bpm
        assert best == pytest.approx(beat, rel=0.03), f"{track.id}: period {best:.3f}s"


def _chroma(x: np.ndarray) -> np.ndarray:
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    band = (freqs > 60) & (freqs < 2000)
    pcs = np.round(69 + 12 * np.log2(freqs[band] / 440.0)).astype(int) % 12
    chroma = np.bincount(pcs, weights=power[band], minlength=12)
    return chroma / chroma.sum()


def test_keys_and_lead_stay_in_the_declared_key(tracks):
    for track in tracks:
        tonic, mode = track.key.split()
        scale = dm.scale_pitch_classes(tonic, mode)
        for kind in ("keys", "lead"):
            chroma = _chroma(_mono(_stem(track, kind)))
            top = set(np.argsort(chroma)[::-1][:5].tolist())
            assert top <= scale, f"{track.id} {kind}: top pitch classes {top} not in {scale}"
            in_key = sum(chroma[pc] for pc in scale)
            assert in_key > 0.85, f"{track.id} {kind}: only {in_key:.0%} in key"


def test_stereo_is_wide_but_mono_compatible(tracks):
    for track in tracks:
        widths = []
        for stem in track.stems:
            left, right = stem.audio[:, 0].astype(np.float64), stem.audio[:, 1].astype(np.float64)
            side, mid = _rms(left - right), _rms(left + right)
            widths.append(side / mid)
            # Folding to mono loses at most 3 dB compared with the stereo power.
            assert _db(mid / 2) > _db(np.sqrt((_rms(left) ** 2 + _rms(right) ** 2) / 2)) - 3.0
        assert max(widths) > 0.1, f"{track.id} has no stereo width"


def test_no_clicks_on_tonal_stems(tracks):
    """Note on/off ramps: sustained instruments never jump by more than a smooth waveform."""
    for track in tracks:
        for kind in ("bass", "keys", "lead"):
            audio = _stem(track, kind).audio.astype(np.float64)
            jump = np.max(np.abs(np.diff(audio, axis=0)))
            assert jump < 0.1, f"{track.id} {kind}: sample jump {jump:.3f}"


def test_phrases_fit_their_bars():
    for spec in dm.TRACK_SPECS:
        for section in spec.sections:
            if "lead" in section.parts:
                bars = dm.parse_phrase(section.melody, spec.beats_per_bar)
                assert len(bars) in (section.bars, section.bars // 2)
    with pytest.raises(ValueError):
        dm.parse_phrase("A4:1 B4:1 | C5:4", 4)


def test_composition_is_deterministic(tracks):
    again = dm.compose_track(dm.TRACK_SPECS[0])
    first = next(t for t in tracks if t.id == again.id)
    assert again.sections == first.sections
    for a, b in zip(first.stems, again.stems, strict=True):
        assert a.id == b.id and np.array_equal(a.audio, b.audio), a.id


def test_write_demo_catalog_encodes_and_caches(tracks, tmp_path, monkeypatch):
    calls = []

    def fake_compose():
        calls.append(1)
        return tracks if len(calls) == 1 else tracks[:1]  # re-encoding one track is enough

    monkeypatch.setattr(dm, "compose_demo_tracks", fake_compose)
    catalog = dm.write_demo_catalog(tmp_path)
    assert len(calls) == 1
    assert json.loads((tmp_path / "catalog.json").read_text()) == catalog
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*"))
    by_id = {s.id: s for t in tracks for s in t.stems}
    for info, track in zip(catalog, tracks, strict=True):
        assert {k: info[k] for k in ("id", "title", "artist", "bpm", "key")} == {
            "id": track.id,
            "title": track.title,
            "artist": track.artist,
            "bpm": track.bpm,
            "key": track.key,
        }
        assert info["beats_per_bar"] == 4 and info["first_beat"] == track.first_beat
        assert [(s["name"], s["start"], s["end"]) for s in info["sections"]] == track.sections
        assert [s["id"] for s in info["stems"]] == [s.id for s in track.stems]
        for stem in info["stems"]:
            path = tmp_path / stem["file"]
            data = path.read_bytes()
            assert stem["size"] == len(data)
            assert stem["sha256"] == hashlib.sha256(data).hexdigest()
            meta = sf.info(path)
            assert (meta.format, meta.subtype) == ("FLAC", "PCM_16")
            assert meta.frames == stem["frames"] == by_id[stem["id"]].audio.shape[0]
            assert meta.samplerate == stem["sample_rate"] == SR
            assert meta.channels == stem["channels"] == 2
            assert stem["duration"] == pytest.approx(stem["frames"] / SR)
    # The FLAC holds the composed audio to 16-bit precision.
    first = catalog[0]["stems"][0]
    decoded, _ = sf.read(tmp_path / first["file"], dtype="float32")
    assert np.max(np.abs(decoded - by_id[first["id"]].audio)) < 2.0 / 32768

    mtimes = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    assert dm.write_demo_catalog(tmp_path) == catalog
    assert len(calls) == 1, "cache hit must not recompose"
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == mtimes

    # A damaged file or a new generator version invalidates the cache.
    victim = tmp_path / first["file"]
    victim.write_bytes(victim.read_bytes()[:1000])
    assert dm.write_demo_catalog(tmp_path) == catalog[:1]
    assert len(calls) == 2 and victim.stat().st_size == first["size"]
    # Files of tracks that left the catalog are cleaned up.
    assert not (tmp_path / catalog[-1]["stems"][0]["file"]).exists()
    monkeypatch.setattr(dm, "GENERATOR_VERSION", dm.GENERATOR_VERSION + 1)
    rebuilt = dm.write_demo_catalog(tmp_path)
    assert len(calls) == 3 and rebuilt[0]["generator_version"] == dm.GENERATOR_VERSION
