"""Decoding a FLAC stem from the middle: find a frame, splice the header on, get exact samples."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from app.flac import find_frame, parse_header
from app.flacdec import FlacStreamDecoder


@pytest.fixture(scope="module")
def stem() -> tuple[bytes, np.ndarray]:
    rng = np.random.default_rng(7)
    t = np.arange(48000 * 6) / 48000
    audio = 0.3 * np.stack([np.sin(2 * np.pi * 330 * t), rng.standard_normal(t.size) * 0.2], 1)
    buf = io.BytesIO()
    sf.write(buf, audio, 48000, format="FLAC", subtype="PCM_16")
    data = buf.getvalue()
    reference, _ = sf.read(io.BytesIO(data), dtype="float32")
    return data, reference


def test_header_is_parsed_and_incomplete_headers_wait(stem):
    data, reference = stem
    header = parse_header(data)
    assert header.sample_rate == 48000
    assert header.total_samples == len(reference)
    assert parse_header(data[: header.audio_offset - 1]) is None
    assert parse_header(b"RIFF....") is None


def test_no_frame_in_garbage(stem):
    data, _ = stem
    assert find_frame(bytes(4096), 0, parse_header(data)) is None


@pytest.mark.parametrize("fraction", [0.0, 0.5, 0.87])
def test_stream_decoder_starts_anywhere_and_matches_soundfile(stem, fraction):
    data, reference = stem
    header = parse_header(data)
    start = header.audio_offset + int((len(data) - header.audio_offset) * fraction)
    offset, first = find_frame(data, start, header)
    spliced = data[: header.audio_offset] + data[offset:]
    decoder = FlacStreamDecoder(spliced)
    position = first
    for sample, audio in decoder.frames():
        assert sample == position
        np.testing.assert_array_equal(audio, reference[sample : sample + len(audio)])
        position += len(audio)
    decoder.close()
    assert position == len(reference)


def test_stream_decoder_reports_damage(stem):
    data, _ = stem
    damaged = bytearray(data)
    damaged[len(data) // 2 : len(data) // 2 + 32] = bytes(32)
    with pytest.raises(ValueError, match="damaged"):
        list(FlacStreamDecoder(bytes(damaged)).frames())
