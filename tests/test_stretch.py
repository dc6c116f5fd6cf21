"""Tempo with key lock and key shift (Rubber Band via pylibrb) in the offline renderer: the
pitch and the length are measured on the rendered samples (FFT peak, frame count)."""

from __future__ import annotations

import numpy as np
import pytest

from app.contract import RemixDocument
from app.remix import document_arrays
from audio import dsp
from audio.offline import render_mix

SR = 48000


def tone(hz: float, seconds: float, n_stems: int = 1) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    x = (0.25 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    return np.broadcast_to(x, (n_stems, 2, x.size)).copy()


def peak_hz(x: np.ndarray) -> float:
    """Frequency of the strongest FFT bin of the middle of a mono signal (0.5 Hz bins)."""
    mid = x[x.size // 2 - SR : x.size // 2 + SR].astype(np.float64)
    spec = np.abs(np.fft.rfft(mid * np.hanning(mid.size)))
    return float(np.argmax(spec) * SR / mid.size)


def test_key_shift_up_an_octave_doubles_the_frequency():
    out = render_mix(tone(1000.0, 3.0), 0.0, 0.0, False, False, 0.0, SR, key_shift=12)
    assert out.shape == (3 * SR, 2)
    assert peak_hz(out[:, 0]) == pytest.approx(2000.0, abs=1.0)
    assert peak_hz(out[:, 1]) == pytest.approx(2000.0, abs=1.0)


def test_key_shift_down_three_semitones():
    out = render_mix(tone(1000.0, 3.0), 0.0, 0.0, False, False, 0.0, SR, key_shift=-3)
    assert peak_hz(out[:, 0]) == pytest.approx(1000.0 * 2 ** (-3 / 12), abs=1.0)  # 840.9 Hz


def test_tempo_1_25_is_0_8_times_as_long_at_the_same_pitch():
    src = tone(1000.0, 4.0)
    out = render_mix(src, 0.0, 0.0, False, False, 0.0, SR, tempo_ratio=1.25)
    assert out.shape[0] == round(src.shape[2] / 1.25) == int(0.8 * 4 * SR)
    assert peak_hz(out[:, 0]) == pytest.approx(1000.0, abs=1.0)
    # Same level: the stretcher neither drops nor doubles the tone.
    mid = out[SR : 2 * SR, 0]
    assert np.sqrt(np.mean(mid**2)) == pytest.approx(0.25 / np.sqrt(2), rel=0.03)


def test_stretched_render_is_deterministic_and_block_size_independent():
    """Preview and platform render call the same code: same samples, any block size."""
    rng = np.random.default_rng(7)
    stems = (rng.standard_normal((3, 2, 2 * SR)) * 0.1).astype(np.float32)
    strip = np.tile(dsp.STRIP_DEFAULTS, (3, 1))
    strip[:, dsp.P_SEND_REVERB] = 0.3
    args = ([0.0, -3.0, 2.0], 0.0, [False, False, True], False, 0.0, SR)
    a = render_mix(stems, *args, 64, strip, tempo_ratio=0.9, key_shift=2)
    b = render_mix(stems, *args, 4096, strip, tempo_ratio=0.9, key_shift=2)
    assert a.shape == (round(2 * SR / 0.9), 2)
    np.testing.assert_array_equal(a, b)


def test_a_muted_stem_is_not_heard_after_stretching():
    stems = np.concatenate([tone(1000.0, 2.0), tone(3000.0, 2.0)])
    out = render_mix(stems, 0.0, 0.0, [False, True], False, 0.0, SR, tempo_ratio=1.1)
    spec = np.abs(np.fft.rfft(out[SR // 2 : SR // 2 + SR, 0] * np.hanning(SR)))
    assert spec[3000] < 1e-4 * spec[1000]  # 1 Hz bins


def test_the_document_carries_tempo_and_key_to_the_renderer():
    doc = RemixDocument(track_id="t", track_version=1, title="x", tempo_ratio=1.2, key_shift=-2)
    arrays = document_arrays(doc, ["a", "b"], bpm=100.0)
    assert (arrays.tempo_ratio, arrays.key_shift) == (1.2, -2)
    assert arrays.bus[dsp.B_BPM] == pytest.approx(120.0)  # the delay follows the new tempo
