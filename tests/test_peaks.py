"""The timeline's peak cache (app/peaks.py): a null test against numpy at every resolution, on
synthetic audio and on a real stream from the local platform (its decode worker feeds the cache,
so the waveform comes from exactly the audio that plays)."""

from __future__ import annotations

import numpy as np
import pytest

from app.cache import EncryptedCache
from app.client import PlatformClient
from app.peaks import BASE_BLOCK, PeakCache
from app.streaming import TrackStream
from tests.platform_helpers import wait_for
from tests.test_streaming import reference

CHUNK = 2400  # small chunks: many of them, and a short last one


def expected(audio: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
    """numpy's own min/max of (S, C, N) audio per block of `block` frames, both channels."""
    s, _, n = audio.shape
    blocks = -(-n // block)
    padded = np.full((s, audio.shape[1], blocks * block), np.nan, dtype=np.float32)
    padded[:, :, :n] = audio
    shaped = padded.reshape(s, audio.shape[1], blocks, block)
    return np.nanmin(shaped, axis=(1, 3)), np.nanmax(shaped, axis=(1, 3))


def feed(cache: PeakCache, audio: np.ndarray, order: list[int]) -> None:
    for chunk in order:
        a = chunk * cache.chunk_frames
        for stem in range(audio.shape[0]):
            cache.add(stem, chunk, audio[stem, :, a : a + cache.chunk_frames])


def synthetic(n_stems: int = 3, n_frames: int = 200_017) -> np.ndarray:
    rng = np.random.default_rng(7)
    audio = rng.standard_normal((n_stems, 2, n_frames)).astype(np.float32)
    audio *= np.linspace(0.01, 1.0, n_frames, dtype=np.float32)  # a swell: blocks differ
    return audio


def test_peaks_equal_numpy_min_max_at_every_level_in_any_order():
    audio = synthetic()
    cache = PeakCache(audio.shape[0], audio.shape[2], chunk_frames=CHUNK)
    assert cache.n_levels >= 3
    order = list(range(cache.n_chunks))
    np.random.default_rng(1).shuffle(order)  # chunks arrive in any order (seeks, the playhead)
    feed(cache, audio, order)
    assert cache.complete()
    for k in range(cache.n_levels):
        mins, maxs = cache.level(k)
        want_min, want_max = expected(audio, cache.block_frames(k))
        np.testing.assert_array_equal(mins, want_min)
        np.testing.assert_array_equal(maxs, want_max)


def test_blocks_not_decoded_are_nan_up_every_level():
    audio = synthetic(1, 24 * CHUNK)
    cache = PeakCache(1, audio.shape[2], chunk_frames=CHUNK)
    feed(cache, audio, [0, 1, 2, 5])
    assert cache.missing(0) == 3 and cache.has(0, 5) and not cache.has(0, 4)
    mins, _ = cache.level(0)
    per_chunk = CHUNK // BASE_BLOCK
    assert not np.isnan(mins[0, : 3 * per_chunk]).any()
    assert np.isnan(mins[0, 3 * per_chunk : 5 * per_chunk]).all()
    want_min, _ = expected(audio, cache.block_frames(1))
    coarse, _ = cache.level(1)
    known = ~np.isnan(coarse[0])
    np.testing.assert_array_equal(coarse[0, known], want_min[0, known])
    top = cache.n_levels - 1
    coarsest, _ = cache.level(top)
    assert not np.isnan(coarsest[0, 0])
    assert np.isnan(coarsest[0, int(3.5 * CHUNK) // cache.block_frames(top)])  # a hole stays one


def test_columns_are_the_min_max_of_their_frames():
    audio = synthetic(1, 48_000)
    cache = PeakCache(1, audio.shape[2], chunk_frames=CHUNK)
    feed(cache, audio, list(range(cache.n_chunks)))
    for width in (37, 200, 1000):
        edges = np.linspace(4800, 48_000, width + 1).astype(np.int64)
        fpp = (edges[-1] - edges[0]) / width
        lo, hi = cache.columns(0, edges, fpp)
        assert lo.shape == hi.shape == (width,)
        # A column is its frames snapped to whole blocks of the level drawn (a block finer
        # than a pixel): exactly numpy's min/max of those frames.
        bf = cache.block_frames(cache.level_for(fpp))
        assert bf <= max(fpp, BASE_BLOCK)
        for i in range(width):
            a = edges[i] // bf
            b = max(edges[i + 1] // bf, a + 1)
            frames = audio[0, :, a * bf : b * bf]
            assert lo[i] == frames.min() and hi[i] == frames.max()


@pytest.mark.timeout(120)
def test_a_stream_feeds_peaks_of_exactly_the_decoded_audio(platform, tmp_path):
    client = PlatformClient(platform.url)
    client.login("fan", "encore-demo")
    cache = EncryptedCache(tmp_path / "cache", client.content_key())
    detail = client.track(client.tracks()[0].id)
    # The playhead stays at 0: only the opening seconds are decoded for playback, so the rest
    # of the waveform comes from the idle-time peak decoding.
    stream = TrackStream(client, detail, cache, lambda: 0)
    assert stream.peaks.version == 0 and stream.peaks.missing(0) == 0
    stream.start()
    try:
        assert wait_for(stream.peaks.complete, 60), [
            stream.peaks.fraction(i) for i in range(len(stream.stems))
        ]
        ref = reference(client, detail)
        assert stream.source.nbytes < 0.5 * ref.nbytes  # the pool stayed a window
        for k in (0, 1, stream.peaks.n_levels - 1):
            mins, maxs = stream.peaks.level(k)
            want_min, want_max = expected(ref, stream.peaks.block_frames(k))
            np.testing.assert_array_equal(mins, want_min)
            np.testing.assert_array_equal(maxs, want_max)
    finally:
        stream.stop()
