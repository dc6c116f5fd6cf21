"""Decoding a FLAC stem from the middle: find a frame, splice the header on, get exact samples."""

from __future__ import annotations

import ctypes
import io
import sys
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from app.flac import find_frame, parse_header
from core.flacdec import FlacStreamDecoder


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


def test_damage_in_the_last_bytes_read_still_stops_the_decode(stem):
    """A CRC mismatch is damage even once all the bytes are read (libFLAC would deliver the
    frame as silence): the frames before it come out exact, then the error, never the frame."""
    data, reference = stem
    header = parse_header(data)
    last, _ = find_frame(data, len(data) - 3000, header)
    damaged = bytearray(data)
    damaged[last + 200] ^= 0x10  # inside the last frame's residual: its CRC-16 fails
    decoder = FlacStreamDecoder(bytes(damaged))
    position = 0
    with pytest.raises(ValueError, match="damaged"):
        for sample, audio in decoder.frames():
            np.testing.assert_array_equal(audio, reference[sample : sample + len(audio)])
            position = sample + len(audio)
    assert 0 < position < len(reference)


@pytest.mark.parametrize("batch", [1, 5000, 1 << 20])
def test_any_batch_size_gives_the_same_frames(stem, batch):
    data, reference = stem
    position = 0
    for sample, audio in FlacStreamDecoder(data, batch=batch).frames():
        assert sample == position
        np.testing.assert_array_equal(audio, reference[sample : sample + len(audio)])
        position += len(audio)
    assert position == len(reference)


@pytest.mark.skipif(sys.platform == "win32", reason="holds the GIL through libc's usleep")
def test_decoding_from_bytes_does_not_need_the_gil():
    """While this thread holds the GIL, a decode running in another thread keeps going. With
    Python callbacks (libFLAC's read/write/error) it would stop at its next callback."""
    noise = np.random.default_rng(3).integers(-20000, 20000, (48000 * 60, 2), dtype=np.int16)
    buf = io.BytesIO()
    sf.write(buf, noise, 48000, format="FLAC", subtype="PCM_16")
    data = buf.getvalue()
    decoder = FlacStreamDecoder(data, batch=len(noise))  # one call into libFLAC decodes all
    done: list[int] = []
    worker = threading.Thread(target=lambda: done.append(sum(1 for _ in decoder.frames())))
    interval = sys.getswitchinterval()
    sys.setswitchinterval(30.0)  # no forced hand-over between the two readings below
    try:
        worker.start()
        while decoder.bytes_read == 0 and worker.is_alive():
            time.sleep(0.0002)  # (sleeping hands the GIL over)
        before = decoder.bytes_read
        ctypes.PyDLL(None).usleep(300_000)  # a foreign call through PyDLL keeps the GIL held
        during = decoder.bytes_read - before
    finally:
        sys.setswitchinterval(interval)
        worker.join()
    assert done
    assert during >= min(1 << 20, len(data) - before), (before, during, len(data))
    assert during > 0 or before == len(data)
