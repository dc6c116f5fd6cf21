"""The stem cache: encoded audio, encrypted at rest, readable only through this module.

The walled garden forbids plaintext audio on disk, yet re-downloading every stem on every open
wastes the fan's time. So stems are cached as AES-GCM records (the `cryptography` package) under a
per-user content key that lives in memory only, and soundfile reads them through `DecryptingFile`,
a seekable file-like object, so no plaintext temp file ever exists.

File layout (`<name>.enc`): the sealed-stem format of `core/sealed.py` (header, then AES-GCM
records of 64 KiB, each bound to its file and place). Records are written where they belong as
their bytes arrive, in any order; the file starts sparse and a later session finds which records
are in by their (non-zero) nonces.

The platform delivers stems already sealed in this very layout (`core.sealed.Sealer`), under the
key of the signed-in device, so the bytes that cross the network are the bytes the cache keeps:
the client checks each record's tag and stores it as it came (`CacheWriter.write_sealed`), and
only ever holds plaintext in memory.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.sealed import (
    CHUNK,
    HEADER,
    MAGIC,
    NONCE,
    RECORD,
    TAG,
    CacheCorrupt,
    file_id_for,
    open_record,
    read_header,
    record_aad,
    record_count,
    record_slot,
    sealed_size,
)

SUFFIX = ".enc"


def new_content_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


class EncryptedCache:
    def __init__(self, directory: Path, key: bytes, limit_bytes: int = 2 * 1024**3) -> None:
        if len(key) != 32:
            raise ValueError("The content key must be 32 bytes (AES-256).")
        self.directory = directory
        self.limit_bytes = limit_bytes
        self._key = key
        self._aead = AESGCM(key)

    def rekey(self, key: bytes) -> None:
        """Take the device's new key (the platform rotated it): entries sealed under the old one
        no longer open and are fetched again."""
        if len(key) != 32:
            raise ValueError("The content key must be 32 bytes (AES-256).")
        self._key, self._aead = key, AESGCM(key)

    def file_id(self, content_sha256: str) -> bytes:
        """The file id the platform seals this content under for this cache's (device) key."""
        return file_id_for(self._key, content_sha256)

    def path(self, name: str) -> Path:
        if not name or any(c in name for c in "/\\\0") or name.startswith("."):
            raise ValueError(f"Not a cache entry name: {name!r}")
        return self.directory / f"{name}{SUFFIX}"

    # -- writing ---------------------------------------------------------------------------------

    def writer(self, name: str, total_size: int, file_id: bytes | None = None) -> CacheWriter:
        """Write records in any order; resumes an earlier partial entry of the same size (and
        file id, when given: records the platform sealed for this device)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        return CacheWriter(self, self.path(name), total_size, file_id)

    def put(self, name: str, data: bytes) -> None:
        with self.writer(name, len(data)) as w:
            w.write_at(0, data)

    # -- reading ---------------------------------------------------------------------------------

    def complete(self, name: str, file_id: bytes | None = None) -> bool:
        """Every record is in (and, given `file_id`, sealed for it: an entry sealed under an
        earlier device key does not count)."""
        try:
            with self.path(name).open("rb") as f:
                found, total = read_header(f)
                if file_id is not None and found != file_id:
                    return False
                return all(_scan_present(f, record_count(total)))
        except (OSError, CacheCorrupt):
            return False

    def read_records(self, name: str, first: int, last: int) -> bytes:
        """Plaintext of records [first, last) (the caller knows they are present)."""
        with self.path(name).open("rb") as f:
            file_id, total = read_header(f)
            f.seek(HEADER.size + first * RECORD)
            out = bytearray()
            for index in range(first, min(last, record_count(total))):
                size = min(CHUNK, total - index * CHUNK)
                out += self._open(file_id, index, f.read(NONCE + size + TAG))
            return bytes(out)

    def open(self, name: str) -> DecryptingFile:
        """A seekable plaintext reader of a complete entry."""
        path = self.path(name)
        os.utime(path)  # LRU: most recently opened is evicted last
        return DecryptingFile(self, path)

    def remove(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)

    def read_all(self, name: str) -> bytes:
        with self.open(name) as f:
            return f.read()

    # -- housekeeping ----------------------------------------------------------------------------

    def _entries(self) -> list[tuple[Path, os.stat_result]]:
        """Each entry with its stat; one another stem's thread removes meanwhile is skipped."""
        found = []
        for path in self.directory.glob(f"*{SUFFIX}"):
            try:
                found.append((path, path.stat()))
            except FileNotFoundError:
                continue
        return found

    def usage(self) -> int:
        return sum(st.st_size for _path, st in self._entries())

    def evict(self, keep: set[str] | None = None) -> list[str]:
        """Delete least recently used entries until the cache fits its limit."""
        keep_paths = {self.path(n) for n in keep or set()}
        entries = sorted(self._entries(), key=lambda entry: entry[1].st_mtime)
        removed, total = [], sum(st.st_size for _path, st in entries)
        for path, st in entries:
            if total <= self.limit_bytes:
                break
            if path in keep_paths:
                continue
            total -= st.st_size
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
        """A record written here (not by the platform): a random nonce, never reused."""
        nonce = os.urandom(NONCE)
        return nonce + self._aead.encrypt(nonce, plain, record_aad(file_id, index))

    def _open(self, file_id: bytes, index: int, record: bytes) -> bytes:
        return open_record(self._aead, file_id, index, record)


class CacheWriter:
    """Seals plaintext into records at their fixed places, in any order (a seek downloads the
    middle of a stem first). `present` says which records are in; it is shared with the decoder
    thread, which only reads records marked present (NB: the mark is set after the flush)."""

    def __init__(
        self, cache: EncryptedCache, path: Path, total: int, file_id: bytes | None = None
    ) -> None:
        self.cache, self.path, self.total = cache, path, total
        self.n_records = record_count(total)
        self.file_id, self.present = self._resume_or_create(file_id)
        self._f = path.open("r+b")

    def _resume_or_create(self, wanted: bytes | None) -> tuple[bytes, bytearray]:
        if self.path.exists():
            try:
                with self.path.open("rb") as f:
                    file_id, total = read_header(f)
                    if total == self.total and wanted in (None, file_id):
                        return file_id, _scan_present(f, self.n_records)
            except CacheCorrupt:
                pass
        file_id = wanted or os.urandom(16)
        with self.path.open("wb") as f:
            f.write(HEADER.pack(MAGIC, file_id, self.total))
            f.truncate(sealed_size(self.total))  # sparse: holes read as zeros = "not yet"
        return file_id, bytearray(self.n_records)

    def record_size(self, index: int) -> int:
        return min(CHUNK, self.total - index * CHUNK)

    def write_record(self, index: int, plain: bytes) -> None:
        if len(plain) != self.record_size(index):
            raise ValueError("A record must be whole: CHUNK bytes, or the stem's tail.")
        self._f.seek(HEADER.size + index * RECORD)
        self._f.write(self.cache._seal(self.file_id, index, plain))
        self._f.flush()
        self.present[index] = 1

    def write_at(self, offset: int, data: bytes) -> int:
        """Seal the whole records in `data` (which starts at record-aligned `offset`); returns
        how many bytes were used. A trailing part record waits for the caller's next bytes."""
        if offset % CHUNK:
            raise ValueError("Writes start on a record boundary.")
        if offset + len(data) > self.total:
            raise ValueError("More bytes than the entry's announced size.")
        used = 0
        index = offset // CHUNK
        while index < self.n_records and len(data) - used >= self.record_size(index):
            size = self.record_size(index)
            self.write_record(index, data[used : used + size])
            used += size
            index += 1
        return used

    def sealed_length(self, index: int) -> int:
        return NONCE + self.record_size(index) + TAG

    def write_sealed(self, index: int, data: bytes) -> int:
        """Store records the platform sealed (`data` starts at record `index`'s slot) as they
        came, each checked first (a damaged or foreign record raises CacheCorrupt); returns how
        many bytes were used. A trailing part record waits for the caller's next bytes."""
        used = 0
        while index < self.n_records and len(data) - used >= self.sealed_length(index):
            record = data[used : used + self.sealed_length(index)]
            self.cache._open(self.file_id, index, record)  # its tag, before it counts as in
            self._f.seek(record_slot(index))
            self._f.write(record)
            self._f.flush()
            self.present[index] = 1
            used += len(record)
            index += 1
        return used

    def first_missing(self, start: int = 0) -> int | None:
        index = self.present.find(0, start)
        return None if index < 0 else index

    @property
    def complete(self) -> bool:
        return self.present.find(0) < 0

    def close(self) -> None:
        if self._f.closed:
            return
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()

    def __enter__(self) -> CacheWriter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _scan_present(f: io.BufferedIOBase, n_records: int) -> bytearray:
    """Which records an earlier session wrote: a hole (never written) has an all-zero nonce."""
    present = bytearray(n_records)
    for i in range(n_records):
        f.seek(HEADER.size + i * RECORD)
        nonce = f.read(NONCE)
        present[i] = len(nonce) == NONCE and any(nonce)
    return present


class DecryptingFile(io.RawIOBase):
    """Seekable plaintext view of a cache entry, decrypting one record at a time. A record not
    written yet fails authentication like a damaged one (CacheCorrupt)."""

    def __init__(self, cache: EncryptedCache, path: Path) -> None:
        super().__init__()
        self._cache = cache
        self._f = path.open("rb")
        self._file_id, self._total = read_header(self._f)
        if path.stat().st_size != sealed_size(self._total):
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
            self._f.seek(HEADER.size + index * RECORD)
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
