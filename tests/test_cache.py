"""The encrypted stem cache: round trips, resumes, refuses tampering, and never holds plaintext."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
import soundfile as sf

from app.cache import EncryptedCache, new_content_key
from core.sealed import CHUNK, CacheCorrupt


def flac_bytes(seconds: float = 3.0) -> bytes:
    t = np.arange(int(48000 * seconds)) / 48000
    audio = np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)], axis=1) * 0.3
    buf = io.BytesIO()
    sf.write(buf, audio, 48000, format="FLAC")
    return buf.getvalue()


@pytest.fixture
def cache(tmp_path) -> EncryptedCache:
    return EncryptedCache(tmp_path / "stems", new_content_key(), limit_bytes=10 * 1024**2)


def test_round_trip_and_soundfile_reads_through_it(cache):
    data = flac_bytes()
    cache.put("stem-a", data)
    assert cache.complete("stem-a")
    assert cache.read_all("stem-a") == data
    with cache.open("stem-a") as f:
        audio, rate = sf.read(f, dtype="float32")
    reference, _ = sf.read(io.BytesIO(data), dtype="float32")
    assert rate == 48000
    np.testing.assert_array_equal(audio, reference)


def test_no_plaintext_on_disk(cache):
    data = flac_bytes()
    cache.put("stem-a", data)
    raw = cache.path("stem-a").read_bytes()
    assert b"fLaC" not in raw
    assert data[1000:1064] not in raw
    with pytest.raises(sf.LibsndfileError):
        sf.info(str(cache.path("stem-a")))


def test_random_access_reads(cache):
    data = os.urandom(CHUNK * 3 + 123)
    cache.put("blob", data)
    with cache.open("blob") as f:
        f.seek(CHUNK - 10)
        assert f.read(20) == data[CHUNK - 10 : CHUNK + 10]
        f.seek(-5, io.SEEK_END)
        assert f.read() == data[-5:]


def test_records_arrive_in_any_order_and_a_later_session_resumes(cache):
    data = os.urandom(CHUNK * 4 + 999)
    w = cache.writer("s", len(data))
    assert w.write_at(CHUNK * 3, data[CHUNK * 3 :]) == CHUNK + 999  # a seek: the tail first
    assert w.write_at(0, data[: CHUNK + 500]) == CHUNK  # a dropped connection mid-record
    w.close()
    assert not cache.complete("s")
    with pytest.raises(CacheCorrupt), cache.open("s") as f:
        f.seek(CHUNK)
        f.read(10)  # a record not written yet is never returned as zeros
    w = cache.writer("s", len(data))  # the next session sees exactly what is in
    assert list(w.present) == [1, 0, 0, 1, 1]
    assert w.first_missing() == 1
    w.write_at(CHUNK, data[CHUNK : CHUNK * 3])
    assert w.complete
    w.close()
    assert cache.complete("s")
    assert cache.read_all("s") == data
    assert cache.read_records("s", 3, 5) == data[CHUNK * 3 :]


def test_tampering_and_wrong_key_are_detected(cache, tmp_path):
    data = os.urandom(CHUNK + 10)
    cache.put("s", data)
    other = EncryptedCache(cache.directory, new_content_key())
    with pytest.raises(CacheCorrupt), other.open("s") as f:
        f.read()
    raw = bytearray(cache.path("s").read_bytes())
    raw[-20] ^= 0xFF
    cache.path("s").write_bytes(bytes(raw))
    with pytest.raises(CacheCorrupt), cache.open("s") as f:
        f.seek(CHUNK)
        f.read()


def test_purge_and_eviction(tmp_path):
    cache = EncryptedCache(tmp_path, new_content_key(), limit_bytes=CHUNK * 3)
    for name in ("a", "b", "c"):
        cache.put(name, os.urandom(CHUNK))
        os.utime(cache.path(name), (1000 + ord(name), 1000 + ord(name)))
    assert cache.evict(keep={"a"}) == ["b"]  # oldest not kept goes first
    assert cache.usage() <= CHUNK * 3
    cache.purge()
    assert not list(tmp_path.glob("*.enc"))


def test_names_cannot_escape_the_directory(cache):
    for bad in ("../x", "a/b", ".hidden", ""):
        with pytest.raises(ValueError):
            cache.path(bad)
