"""The compiled loudness and true-peak measures (audio.loudness) against independent references:
pyloudnorm's BS.1770-4 meter and scipy's resample_poly; and the platform's normalisation and
FLAC writer (server.loudness, server.pipeline.write_flac) against the plain way of doing it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from audio.loudness import integrated_loudness, true_peak, true_peak_dbtp
from server.loudness import MAX_TRUE_PEAK_DBTP, TARGET_LUFS, measure, normalise
from server.pipeline import WRITE_CHUNK, write_flac

SR = 48000


def _music_like(seconds: float, rate: int = SR, seed: int = 0) -> np.ndarray:
    """Stereo noise and tones whose level moves by 40 dB, with silences: the gates matter."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    left = 0.3 * rng.standard_normal(n) + 0.2 * np.sin(2 * np.pi * 220 * t)
    right = 0.2 * rng.standard_normal(n) + 0.3 * np.sin(2 * np.pi * 3300 * t + 1.0)
    envelope = 10 ** (-40 * (0.5 + 0.5 * np.sin(2 * np.pi * t / 7.0)) / 20)
    x = np.stack([left, right], axis=1) * envelope[:, None]
    x[int(0.3 * n) : int(0.4 * n)] = 0.0  # a gap: below the absolute gate
    x[int(0.7 * n) : int(0.75 * n)] *= 1e-3  # a quiet passage: below the relative gate
    return x


def _reference_lufs(x: np.ndarray, rate: int) -> float:
    return float(pyloudnorm.Meter(rate).integrated_loudness(np.asarray(x, dtype=np.float64)))


@pytest.mark.parametrize(
    ("seconds", "rate", "seed"),
    [
        (20.0, 48000, 0),
        (9.35, 44100, 1),
        (3.0, 48000, 2),
        (0.61, 48000, 3),
        (0.66, 48000, 5),  # pyloudnorm's count rounds up: a last block past the end
        (33.3, 96000, 4),
    ],
)
def test_integrated_loudness_agrees_with_pyloudnorm(seconds, rate, seed):
    x = _music_like(seconds, rate, seed)
    want = _reference_lufs(x, rate)
    assert integrated_loudness(x, rate) == pytest.approx(want, abs=0.01)
    # float32 input (the render's own dtype) measures the same, without a float64 copy
    assert integrated_loudness(x.astype(np.float32), rate) == pytest.approx(want, abs=0.01)


def test_integrated_loudness_mono_shapes_and_edges():
    x = _music_like(6.0)[:, 0]
    want = _reference_lufs(x, SR)
    assert integrated_loudness(x, SR) == pytest.approx(want, abs=0.01)
    assert integrated_loudness(x[:, None], SR) == pytest.approx(want, abs=0.01)
    assert integrated_loudness(np.zeros((SR, 2)), SR) == float("-inf")
    assert integrated_loudness(x[: int(0.39 * SR)], SR) == float("-inf")  # shorter than a block
    assert integrated_loudness(np.full((SR, 2), 1e-6), SR) == float("-inf")  # below -70 LUFS
    # BS.1770-4 calibration: a 0 dBFS 997 Hz sine in one channel reads -3.01 LKFS
    t = np.arange(5 * SR) / SR
    sine = np.sin(2 * np.pi * 997 * t)
    assert integrated_loudness(np.stack([sine, 0 * sine], axis=1), SR) == pytest.approx(
        -3.01, abs=0.05
    )


def _reference_true_peak(x: np.ndarray) -> float:
    up = resample_poly(np.asarray(x, dtype=np.float64), 4, 1, axis=0)
    return max(float(np.abs(up).max()), float(np.abs(x).max()))


@pytest.mark.parametrize("n", [1, 7, 100, 2047, 2048, 2049, 50_000])
def test_true_peak_equals_resample_poly_over_the_whole_signal(n):
    rng = np.random.default_rng(n)
    x = rng.uniform(-0.9, 0.9, (n, 2))
    x[n // 2 :, 1] *= 0.1
    want = _reference_true_peak(x)
    assert true_peak(x) == pytest.approx(want, rel=1e-6)
    assert true_peak(x.astype(np.float32)) == pytest.approx(want, rel=1e-6)
    assert true_peak(x[:, 0]) == pytest.approx(_reference_true_peak(x[:, 0]), rel=1e-6)
    with ThreadPoolExecutor(2) as pool:
        assert true_peak(x, executor=pool, parts=3) == pytest.approx(want, rel=1e-6)


def test_true_peak_finds_peaks_between_samples():
    # fs/4 at 45 degrees: every sample is at 0.707 of the sine's crest
    t = np.arange(SR)
    x = np.sin(2 * np.pi * t / 4 + np.pi / 4)[:, None] * [1.0, 0.5]
    assert np.abs(x).max() == pytest.approx(np.sqrt(0.5), abs=1e-9)
    assert true_peak(x) == pytest.approx(_reference_true_peak(x), rel=1e-6)
    assert true_peak_dbtp(x) == pytest.approx(0.0, abs=0.15)  # the interpolator's ripple
    assert true_peak(np.zeros((10, 2))) == 0.0
    assert true_peak_dbtp(np.zeros((10, 2))) == float("-inf")


def test_normalise_hits_the_target_and_holds_the_ceiling():
    loud = _music_like(12.0).astype(np.float32)
    out, info = normalise(loud, SR)
    assert info.measured_lufs == pytest.approx(_reference_lufs(loud, SR), abs=0.01)
    assert _reference_lufs(out, SR) == pytest.approx(TARGET_LUFS, abs=0.01)
    assert 20 * np.log10(_reference_true_peak(out)) <= MAX_TRUE_PEAK_DBTP + 1e-4

    # Quiet but peaky (clicks on a quiet bed): the true-peak cap, not the target, sets the gain.
    peaky = (0.01 * np.random.default_rng(5).standard_normal((SR * 5, 2))).astype(np.float32)
    peaky[::SR] = 0.9
    out, info = normalise(peaky, SR)
    assert info.gain_db == pytest.approx(MAX_TRUE_PEAK_DBTP - info.true_peak_dbtp)
    assert info.output_lufs < TARGET_LUFS
    assert 20 * np.log10(_reference_true_peak(out)) == pytest.approx(MAX_TRUE_PEAK_DBTP, abs=1e-3)

    _, info = normalise(np.zeros((SR, 2), dtype=np.float32), SR)
    assert info.gain_db == 0.0 and info.measured_lufs == float("-inf")


def test_write_flac_applies_the_gain_like_normalise_then_clip(tmp_path):
    mix = (_music_like(3.0) * 6.0).astype(np.float32)  # hot: the clip matters
    mix = np.concatenate([mix, mix[: WRITE_CHUNK + 17]])  # chunks and a ragged end
    info = measure(mix, SR)
    gained, _ = normalise(mix, SR)
    plain = tmp_path / "plain.flac"
    sf.write(plain, np.clip(gained, -1.0, 1.0), SR, format="FLAC", subtype="PCM_24")
    chunked = tmp_path / "out" / "chunked.flac"
    write_flac(chunked, mix, SR, info.gain)
    again = tmp_path / "again.flac"
    write_flac(again, mix, SR, info.gain)
    want, _ = sf.read(plain, dtype="int32")
    got, rate = sf.read(chunked, dtype="int32")
    assert rate == SR and sf.info(str(chunked)).subtype == "PCM_24"
    assert np.array_equal(got, want)
    assert chunked.read_bytes() == again.read_bytes()  # deterministic
    assert not list(tmp_path.rglob("*.tmp.flac"))

    unscaled = tmp_path / "unscaled.flac"
    write_flac(unscaled, mix[:1000], SR)
    sf.write(plain, np.clip(mix[:1000], -1.0, 1.0), SR, format="FLAC", subtype="PCM_24")
    assert np.array_equal(sf.read(unscaled, dtype="int32")[0], sf.read(plain, dtype="int32")[0])
