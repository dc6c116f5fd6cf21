"""The block-source seam: ArraySource semantics, and a source that misses frames."""

from __future__ import annotations

import numpy as np

from audio.engine import Engine
from audio.offline import render_mix
from audio.source import ArraySource, BlockSource

SR = 48000


def test_array_source_copies_and_zero_pads():
    stems = np.arange(2 * 2 * 10, dtype=np.float32).reshape(2, 2, 10)
    src = ArraySource(stems)
    assert isinstance(src, BlockSource) and (src.n_stems, src.n_frames) == (2, 10)
    out = np.full((2, 2, 4), np.nan, np.float32)
    assert src.read(3, out) == 0
    np.testing.assert_array_equal(out, stems[:, :, 3:7])
    assert src.read(8, out) == 0
    np.testing.assert_array_equal(out[:, :, :2], stems[:, :, 8:10])
    assert not out[:, :, 2:].any()
    assert src.read(-2, out) == 0
    np.testing.assert_array_equal(out[:, :, 2:], stems[:, :, :2])
    assert not out[:, :, :2].any()
    assert src.read(50, out) == 0 and not out.any()


class HoleySource:
    """Frames [hole_start, hole_end) have 'not arrived': zeros, reported missing."""

    def __init__(self, stems, hole_start, hole_end):
        self.inner = ArraySource(stems)
        self.n_stems, self.n_frames = self.inner.n_stems, self.inner.n_frames
        self.hole = (hole_start, hole_end)

    def read(self, start, out):
        self.inner.read(start, out)
        a = max(start, self.hole[0])
        b = min(start + out.shape[2], self.hole[1])
        if b <= a:
            return 0
        out[:, :, a - start : b - start] = 0.0
        return b - a


def test_missing_frames_play_silence_and_are_counted():
    rng = np.random.default_rng(1)
    stems = (rng.standard_normal((3, 2, 4096)) * 0.1).astype(np.float32)
    engine = Engine(SR, max_block=256, max_stems=4)
    engine.load_source(HoleySource(stems, 1000, 1300), ["a", "b", "c"])
    engine.play()
    out = np.zeros((4096, 2), np.float32)
    for a in range(0, 4096, 256):
        engine.process(out[a : a + 256])
    assert engine.missing_frames == 300 and engine.callback_errors == 0
    assert not out[1000:1300].any()
    full = render_mix(stems, 0.0, 0.0, False, False, 0.0, SR, 256)
    np.testing.assert_array_equal(out[:1000], full[:1000])
    np.testing.assert_array_equal(out[1300:], full[1300:])
    # render_mix takes a source as well.
    holey = render_mix(HoleySource(stems, 1000, 1300), 0.0, 0.0, False, False, 0.0, SR, 64)
    np.testing.assert_array_equal(holey, out)
