"""The stem cache: encoded audio, encrypted at rest, readable only through this module.

The walled garden forbids plaintext audio on disk, yet re-downloading every stem on every open
wastes the fan's time. So stems are cached as AES-GCM records (the `cryptography` package) under a
per-user content key that lives in memory only, and soundfile reads them through `DecryptingFile`,
a seekable file-like object, so no plaintext temp file ever exists.

File layout (`<name>.enc`): header = MAGIC, 16-byte file id, total plaintext size (u64); then one
record per CHUNK bytes of plaintext: 12-byte nonce + ciphertext + 16-byte tag. The file id and the
record index are the associated data, so records cannot be swapped between files or reordered.
Records are appended as bytes arrive; a partial file resumes from its last complete record.
"""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"ENCORE-STEM-1\n"
CHUNK = 64 * 1024
NONCE = 12
TAG = 16
RECORD = NONCE + CHUNK + TAG
_HEADER = struct.Struct(f"<{len(MAGIC)}s16sQ")
SUFFIX = ".enc"


class CacheCorrupt(Exception):
    """A cached file failed authentication: it was damaged or tampered with. Re-download it."""


def new_content_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


class EncryptedCache:
    def __init__(self, directory: Path, key: bytes, limit_bytes: int = 2 * 1024**3) -> None:
        if len(key) != 32:
            raise ValueError("The content key must be 32 bytes (AES-256).")
        self.directory = directory
        self.limit_bytes = limit_bytes
        self._aead = AESGCM(key)

    def path(self, name: str) -> Path:
        if not name or any(c in name for c in "/\\\0") or name.startswith("."):
            raise ValueError(f"Not a cache entry name: {name!r}")
        return self.directory / f"{name}{SUFFIX}"

    # -- writing ---------------------------------------------------------------------------------

    def writer(self, name: str, total_size: int) -> CacheWriter:
        """Append plaintext; resumes an earlier partial file for the same name and size."""
        self.directory.mkdir(parents=True, exist_ok=True)
        return CacheWriter(self, self.path(name), total_size)

    def put(self, name: str, data: bytes) -> None:
        w = self.writer(name, len(data))
        w.write(data[w.size :])
        w.close()

    # -- reading ---------------------------------------------------------------------------------

    def complete(self, name: str) -> bool:
        path = self.path(name)
        try:
            with path.open("rb") as f:
                header = _read_header(f)
        except (OSError, CacheCorrupt):
            return False
        return path.stat().st_size == _file_size(header[1])

    def open(self, name: str, *, partial: bool = False) -> DecryptingFile:
        """A reader of the entry; with `partial`, of the sealed prefix written so far."""
        path = self.path(name)
        os.utime(path)  # LRU: most recently opened is evicted last
        return DecryptingFile(self, path, partial=partial)

    def remove(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)

    def read_all(self, name: str) -> bytes:
        with self.open(name) as f:
            return f.read()

    # -- housekeeping ----------------------------------------------------------------------------

    def usage(self) -> int:
        return sum(p.stat().st_size for p in self.directory.glob(f"*{SUFFIX}"))

    def evict(self, keep: set[str] | None = None) -> list[str]:
        """Delete least recently used entries until the cache fits its limit."""
        keep_paths = {self.path(n) for n in keep or set()}
        entries = sorted(self.directory.glob(f"*{SUFFIX}"), key=lambda p: p.stat().st_mtime)
        removed, total = [], self.usage() if self.directory.exists() else 0
        for path in entries:
            if total <= self.limit_bytes:
                break
            if path in keep_paths:
                continue
            total -= path.stat().st_size
            path.unlink(missing_ok=True)
            removed.append(path.name[: -len(SUFFIX)])
        return removed

    def purge(self) -> None:
        """Logout: nothing of the session's audio stays on disk, even encrypted."""
        if self.directory.exists():
            for path in self.directory.glob(f"*{SUFFIX}"):
                path.unlink(missing_ok=True)

    # -- crypto ----------------------------------------------------------------------------------

    def _seal(self, file_id: bytes, index: int, plain: bytes) -> bytes:
        nonce = os.urandom(NONCE)
        return nonce + self._aead.encrypt(nonce, plain, file_id + struct.pack("<Q", index))

    def _open(self, file_id: bytes, index: int, record: bytes) -> bytes:
        try:
            return self._aead.decrypt(
                record[:NONCE], record[NONCE:], file_id + struct.pack("<Q", index)
            )
        except InvalidTag as exc:
            raise CacheCorrupt(f"Cached record {index} failed authentication.") from exc


def _read_header(f: io.BufferedIOBase) -> tuple[bytes, int]:
    raw = f.read(_HEADER.size)
    if len(raw) != _HEADER.size:
        raise CacheCorrupt("Cache file header is truncated.")
    magic, file_id, total = _HEADER.unpack(raw)
    if magic != MAGIC:
        raise CacheCorrupt("Not an Encore cache file.")
    return file_id, total


def _records(total: int) -> int:
    return -(-total // CHUNK)


def _file_size(total: int) -> int:
    return _HEADER.size + _records(total) * (NONCE + TAG) + total


class CacheWriter:
    """Appends plaintext in CHUNK-sized sealed records. `size` is where a download resumes."""

    def __init__(self, cache: EncryptedCache, path: Path, total: int) -> None:
        self.cache, self.path, self.total = cache, path, total
        self._pending = bytearray()
        self.file_id, done_records = self._resume_or_create()
        self.size = done_records * CHUNK
        self._index = done_records
        self._f = path.open("r+b")
        self._f.seek(_HEADER.size + done_records * RECORD)
        self._f.truncate()

    def _resume_or_create(self) -> tuple[bytes, int]:
        if self.path.exists():
            try:
                with self.path.open("rb") as f:
                    file_id, total = _read_header(f)
                if total == self.total:
                    body = self.path.stat().st_size - _HEADER.size
                    return file_id, min(body // RECORD, self.total // CHUNK)
            except CacheCorrupt:
                pass
        file_id = os.urandom(16)
        with self.path.open("wb") as f:
            f.write(_HEADER.pack(MAGIC, file_id, self.total))
        return file_id, 0

    def write(self, data: bytes) -> None:
        if self.size + len(self._pending) + len(data) > self.total:
            raise ValueError("More bytes than the entry's announced size.")
        self._pending += data
        while len(self._pending) >= CHUNK:
            self._flush_record(bytes(self._pending[:CHUNK]))
            del self._pending[:CHUNK]
        if self.size + len(self._pending) == self.total and self._pending:
            self._flush_record(bytes(self._pending))
            self._pending.clear()

    def _flush_record(self, plain: bytes) -> None:
        self._f.write(self.cache._seal(self.file_id, self._index, plain))
        self._f.flush()  # NB: a decoder on another thread reads the sealed prefix as it grows
        self._index += 1
        self.size += len(plain)

    @property
    def position(self) -> int:
        """Bytes received so far, including those waiting to fill a record: where to continue."""
        return self.size + len(self._pending)

    @property
    def complete(self) -> bool:
        return self.size == self.total

    def close(self) -> None:
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()

    def __enter__(self) -> CacheWriter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class DecryptingFile(io.RawIOBase):
    """Seekable plaintext view of a cache entry, decrypting one record at a time.

    `size` is the plaintext length it exposes: the whole entry, or with `partial` the whole records
    written so far (a decoder sees a shorter file, which is what a download in progress is)."""

    def __init__(self, cache: EncryptedCache, path: Path, *, partial: bool = False) -> None:
        super().__init__()
        self._cache = cache
        self._f = path.open("rb")
        self._file_id, self._total = _read_header(self._f)
        size = path.stat().st_size
        if partial and size != _file_size(self._total):
            self._total = min(self._total, (size - _HEADER.size) // RECORD * CHUNK)
        elif size != _file_size(self._total):
            self._f.close()
            raise CacheCorrupt("Cache entry is incomplete.")
        self._pos = 0
        self._record_index = -1
        self._record = b""

    @property
    def size(self) -> int:
        return self._total

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._total}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _load(self, index: int) -> bytes:
        if index != self._record_index:
            plain_len = min(CHUNK, self._total - index * CHUNK)
            self._f.seek(_HEADER.size + index * RECORD)
            self._record = self._cache._open(
                self._file_id, index, self._f.read(NONCE + plain_len + TAG)
            )
            self._record_index = index
        return self._record

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        n = 0
        while n < len(view) and self._pos < self._total:
            index, offset = divmod(self._pos, CHUNK)
            record = self._load(index)
            take = min(len(view) - n, len(record) - offset)
            view[n : n + take] = record[offset : offset + take]
            n += take
            self._pos += take
        return n

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self._total - self._pos
        buf = bytearray(max(0, min(size, self._total - self._pos)))
        n = self.readinto(buf)
        return bytes(buf[:n])

    def close(self) -> None:
        self._f.close()
        self._record = b""
        super().close()
