"""The sealed-stem format: how a stem is laid out and encrypted, shared by platform and studio.

The platform delivers stems sealed (`server/sealing.py`), the studio's cache keeps them as they
came (`app/cache.py`), so both sides must agree on every byte: that agreement lives here.

Layout: header = MAGIC, 16-byte file id, total plaintext size (u64); then one record per CHUNK
bytes of plaintext: 12-byte nonce + AES-256-GCM ciphertext + 16-byte tag. The file id and the
record index are the associated data, so records cannot be swapped between files or reordered.
The file id is derived from the device key and the stem's digest (`file_id_for`), and each
record's nonce from the key, the file id and the record's index (`Sealer`): the same record is
always sealed the same way, so any byte range of a stem can be served on its own, and a nonce
never meets a second plaintext.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"ENCORE-STEM-1\n"
CHUNK = 64 * 1024
NONCE = 12
TAG = 16
RECORD = NONCE + CHUNK + TAG
HEADER = struct.Struct(f"<{len(MAGIC)}s16sQ")


class CacheCorrupt(Exception):
    """A sealed stem failed authentication: it was damaged or tampered with. Re-download it."""


def record_count(total: int) -> int:
    """Records of a stem of `total` plaintext bytes (the last one may be short)."""
    return -(-total // CHUNK)


def sealed_size(total: int) -> int:
    """Bytes of a sealed stem (header and every record) of `total` plaintext bytes."""
    return HEADER.size + record_count(total) * (NONCE + TAG) + total


def record_slot(index: int) -> int:
    """Where record `index` starts in a sealed stem."""
    return HEADER.size + index * RECORD


def sealed_header(file_id: bytes, total: int) -> bytes:
    return HEADER.pack(MAGIC, file_id, total)


def read_header(f: io.BufferedIOBase) -> tuple[bytes, int]:
    """The file id and plaintext size of the sealed stem `f` is at the start of."""
    raw = f.read(HEADER.size)
    if len(raw) != HEADER.size:
        raise CacheCorrupt("Cache file header is truncated.")
    magic, file_id, total = HEADER.unpack(raw)
    if magic != MAGIC:
        raise CacheCorrupt("Not an Encore cache file.")
    return file_id, total


def record_aad(file_id: bytes, index: int) -> bytes:
    """A record's associated data: it belongs to this file, at this place."""
    return file_id + struct.pack("<Q", index)


def open_record(aead: AESGCM, file_id: bytes, index: int, record: bytes) -> bytes:
    """The plaintext of one record (nonce, ciphertext, tag); CacheCorrupt if it fails."""
    try:
        return aead.decrypt(record[:NONCE], record[NONCE:], record_aad(file_id, index))
    except InvalidTag as exc:
        raise CacheCorrupt(f"Cached record {index} failed authentication.") from exc


def file_id_for(key: bytes, content_sha256: str) -> bytes:
    """The file id of a stem sealed under `key`: one per device key and stem content."""
    return hmac.new(key, b"encore-file:" + content_sha256.encode(), hashlib.sha256).digest()[:16]


def open_sealed(key: bytes, sealed: bytes) -> bytes:
    """The plaintext of a whole sealed stem, in memory; CacheCorrupt if any record fails."""
    aead = AESGCM(key)
    if len(sealed) < HEADER.size:
        raise CacheCorrupt("The sealed stem is truncated.")
    magic, file_id, total = HEADER.unpack(sealed[: HEADER.size])
    if magic != MAGIC or len(sealed) != sealed_size(total):
        raise CacheCorrupt("Not a whole sealed stem.")
    out = bytearray()
    for index in range(record_count(total)):
        start, size = record_slot(index), min(CHUNK, total - index * CHUNK)
        record = sealed[start : start + NONCE + size + TAG]
        try:
            out += aead.decrypt(record[:NONCE], record[NONCE:], record_aad(file_id, index))
        except InvalidTag as exc:
            raise CacheCorrupt(f"Sealed record {index} failed authentication.") from exc
    return bytes(out)


class Sealer:
    """Seals records deterministically (see the module docstring): the platform's side."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._aead = AESGCM(key)

    def record(self, file_id: bytes, index: int, plain: bytes) -> bytes:
        aad = record_aad(file_id, index)
        nonce = hmac.new(self._key, b"encore-nonce:" + aad, hashlib.sha256).digest()[:NONCE]
        return nonce + self._aead.encrypt(nonce, plain, aad)
