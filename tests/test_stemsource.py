"""Bounded-memory platform renders: stems decoded from FLAC in windows equal whole-file decoding,
sample for sample, and the render through them is identical while holding far less memory."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audio.offline import render_mix
from audio.source import ArraySource, BlockSource
from core.contract import RemixDocument
from core.flacdec import libflac
from core.remix import document_arrays
from server.demo_music import write_demo_catalog
from server.stemsource import DecodingSource


def _whole(paths: list[Path]) -> np.ndarray:
    """The old platform path: every stem decoded whole into one (S, 2, N) array."""
    loaded = []
    for p in paths:
        data, _ = sf.read(str(p), dtype="float32", always_2d=True)
        loaded.append(np.repeat(data, 2, axis=1) if data.shape[1] == 1 else data[:, :2])
    frames = max(a.shape[0] for a in loaded)
    block = np.zeros((len(loaded), 2, frames), dtype=np.float32)
    for i, a in enumerate(loaded):
        block[i, :, : a.shape[0]] = a.T
    return block


@pytest.fixture
def small_stems(tmp_path) -> list[Path]:
    rng = np.random.default_rng(7)
    stereo = tmp_path / "a.flac"
    mono = tmp_path / "b.flac"
    sf.write(stereo, rng.uniform(-0.9, 0.9, (10_000, 2)), 48000, subtype="PCM_24")
    sf.write(mono, rng.uniform(-0.9, 0.9, 7_000), 48000, subtype="PCM_24")  # shorter, mono
    return [stereo, mono]


@pytest.fixture
def mixed_stems(small_stems, tmp_path) -> list[Path]:
    """Also a 16-bit FLAC with small blocks and a WAV (which libsndfile always decodes)."""
    rng = np.random.default_rng(8)
    sixteen = tmp_path / "c.flac"
    wav = tmp_path / "d.wav"
    with sf.SoundFile(sixteen, "w", 48000, 2, subtype="PCM_16", format="FLAC") as f:
        for _ in range(9):  # written in small pieces: the encoder's blocks still hold 4096
            f.write(rng.uniform(-0.9, 0.9, (1000, 2)))
    sf.write(wav, rng.uniform(-0.9, 0.9, (9_500, 2)), 48000, subtype="PCM_16")
    return [*small_stems, sixteen, wav]


# Forward, across window edges, backwards (arrangements jump), before 0, past the end.
READS = [(0, 700), (700, 700), (1000, 100), (5000, 3000), (300, 50), (-100, 300), (6990, 20)]
READS += [(9990, 64), (12_000, 16), (0, 10_000)]


def test_windowed_reads_equal_whole_file_decoding(small_stems):
    reference = ArraySource(_whole(small_stems))
    with DecodingSource(small_stems, window=1024) as source:
        assert isinstance(source, BlockSource)
        assert (source.n_stems, source.n_frames) == (2, 10_000)
        for start, size in READS:
            want = np.full((2, 2, size), np.nan, dtype=np.float32)
            got = np.full((2, 2, size), np.nan, dtype=np.float32)
            assert reference.read(start, want) == 0
            assert source.read(start, got) == 0
            assert np.array_equal(got, want), (start, size)


@pytest.mark.parametrize(("prefetch", "fast_flac"), [(True, True), (False, True), (True, False)])
@pytest.mark.parametrize("window", [1024, 4096, 20_000])
def test_every_decoder_gives_the_whole_file_frames(mixed_stems, prefetch, fast_flac, window):
    """libFLAC (the fast path) and libsndfile, with and without the prefetching thread, at
    windows smaller and larger than a FLAC block: the frames a whole-file read gives."""
    reference = ArraySource(_whole(mixed_stems))
    with DecodingSource(mixed_stems, window, prefetch=prefetch, fast_flac=fast_flac) as source:
        assert (source.n_stems, source.n_frames) == (4, 10_000)
        by_libflac = [stem is not None for stem in source._flac]
        assert by_libflac == [fast_flac and libflac() is not None] * 3 + [False]
        for start, size in [*READS, (0, 10_000), (8191, 4099), (4096, 1), (0, 3)]:
            want = np.full((4, 2, size), np.nan, dtype=np.float32)
            got = np.full((4, 2, size), np.nan, dtype=np.float32)
            assert reference.read(start, want) == 0
            assert source.read(start, got) == 0
            assert np.array_equal(got, want), (start, size)


def test_without_libflac_libsndfile_decodes_every_stem(mixed_stems, monkeypatch):
    monkeypatch.setattr("server.stemsource.libflac", lambda: None)
    reference = ArraySource(_whole(mixed_stems))
    with DecodingSource(mixed_stems, window=4096) as source:
        assert source._flac == [None] * 4
        want = np.zeros((4, 2, 10_000), dtype=np.float32)
        got = np.full((4, 2, 10_000), np.nan, dtype=np.float32)
        assert reference.read(0, want) == source.read(0, got) == 0
        assert np.array_equal(got, want)


def test_stems_with_different_rates_are_refused(small_stems, tmp_path):
    other = tmp_path / "c.flac"
    sf.write(other, np.zeros(100), 44100)
    with pytest.raises(ValueError, match=r"different sample rates \[44100, 48000\]"):
        DecodingSource([*small_stems, other])


@pytest.fixture(scope="module")
def demo_track(demo_cache) -> tuple[dict, list[Path]]:
    track = write_demo_catalog(demo_cache)[0]
    return track, [demo_cache / Path(s["file"]).name for s in track["stems"]]


def _render(source_or_array, doc: RemixDocument, stem_ids: list[str], rate: int) -> np.ndarray:
    arrays = document_arrays(doc, stem_ids, bpm=120.0)
    return render_mix(
        source_or_array,
        arrays.gain_db,
        arrays.pan,
        arrays.mute,
        arrays.solo,
        arrays.master_gain_db,
        sample_rate=rate,
        strip=arrays.strip,
        bus=arrays.bus,
    )


def test_a_render_through_windows_is_identical_and_holds_far_less(demo_track):
    track, paths = demo_track
    ids = [s["id"] for s in track["stems"]]
    doc = RemixDocument(
        track_id=track["id"],
        track_version=1,
        title="t",
        stems={
            ids[0]: {"gain_db": -6.0, "pan": 0.3, "eq_low_db": 4.0},
            ids[1]: {"mute": True},
            ids[2]: {"send_reverb": 0.4, "send_delay": 0.2, "lp_hz": 5000.0},
        },
    )
    rate = sf.info(str(paths[0])).samplerate

    tracemalloc.start()
    whole = _whole(paths)
    stems_bytes = whole.nbytes
    expected = _render(whole, doc, ids, rate)
    _, whole_peak = tracemalloc.get_traced_memory()
    del whole
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    with DecodingSource(paths) as source:
        got = _render(source, doc, ids, rate)
        windows = source.decoded_windows
    _, windowed_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert np.array_equal(got, expected)
    assert windows == -(-expected.shape[0] // (1 << 16))  # read straight through, no re-seeks
    out_bytes = expected.nbytes
    held = windowed_peak - base
    print(f"stems {stems_bytes / 2**20:.1f} MiB, output {out_bytes / 2**20:.1f} MiB, peak whole "
          f"{whole_peak / 2**20:.1f} MiB, peak windowed {held / 2**20:.1f} MiB")  # fmt: skip
    # The windowed render holds the output and a few MB, never the decoded stems.
    assert held < out_bytes + 16 * 2**20
    assert held < stems_bytes / 2


@pytest.mark.skipif(libflac() is None, reason="no system libFLAC: libsndfile decodes")
def test_a_corrupt_stem_fails_the_render_instead_of_playing_wrong_frames(tmp_path):
    path = tmp_path / "bad.flac"
    noise = np.random.default_rng(9).uniform(-0.5, 0.5, (48_000, 2))
    sf.write(path, noise, 48000, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)  # a damaged frame: CRC mismatch / lost sync
    path.write_bytes(bytes(data))
    out = np.zeros((1, 2, 48_000), dtype=np.float32)
    with DecodingSource([path], window=4096) as source, pytest.raises(OSError, match="libFLAC"):
        source.read(0, out)
