"""Stems leave the platform sealed for one signed-in device, never in the clear.

Each device (a sign-in session) has a key id; its key is HMAC(platform secret, key id), so the
database holds no key material and a revoked or rotated key id is simply never derived again.
A stem is served as its sealed form (`core.sealed`'s layout: header, then AES-GCM records of
64 KiB), generated on the fly for the byte range asked: the studio stores those bytes as they
came and decrypts in memory. Anyone who copies a fan's cache gets records under a key that the
platform hands out only to that device's live session; after sign-out or revocation, never.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from pathlib import Path

from fastapi import Request
from fastapi.responses import StreamingResponse

from core.sealed import (
    CHUNK,
    Sealer,
    file_id_for,
    record_slot,
    sealed_header,
    sealed_size,
)
from server.ranges import requested_range

SEALED_MEDIA_TYPE = "application/vnd.encore.sealed-stem"


def device_key(secret: bytes, key_id: str) -> bytes:
    return hmac.new(secret, f"device-key:{key_id}".encode(), hashlib.sha256).digest()


BATCH_BYTES = 512 * 1024  # 8 records of 64 KiB


def _sealed_bytes(
    path: Path, key: bytes, file_id: bytes, total: int, first: int, last: int
) -> Iterator[bytes]:
    """Bytes [first, last] of the sealed stem, sealing only the records they touch, in pieces
    of about BATCH_BYTES: each piece is one trip to a request thread (server/threads.py), where it
    waits its turn behind other requests, so a read of a few records is one trip, not one per
    record."""
    batch: list[bytes] = []
    size = 0
    for piece in _sealed_pieces(path, key, file_id, total, first, last):
        batch.append(piece)
        size += len(piece)
        if size >= BATCH_BYTES:
            yield b"".join(batch)
            batch, size = [], 0
    if batch:
        yield b"".join(batch)


def _sealed_pieces(
    path: Path, key: bytes, file_id: bytes, total: int, first: int, last: int
) -> Iterator[bytes]:
    header = sealed_header(file_id, total)
    if first < len(header):
        yield header[first : min(last + 1, len(header))]
    sealer = Sealer(key)
    index = max(0, (first - len(header)) // (record_slot(1) - record_slot(0)))
    with path.open("rb") as f:
        while index * CHUNK < total:
            start = record_slot(index)
            if start > last:
                return
            f.seek(index * CHUNK)
            record = sealer.record(file_id, index, f.read(min(CHUNK, total - index * CHUNK)))
            lo, hi = max(first, start), min(last, start + len(record) - 1)
            if lo <= hi:
                yield record[lo - start : hi - start + 1]
            index += 1


def sealed_response(
    request: Request, path: Path, key_id: str, key: bytes, content_sha256: str
) -> StreamingResponse:
    """The stem sealed for this device, honouring a single Range over the sealed bytes."""
    total = path.stat().st_size
    size = sealed_size(total)
    file_id = file_id_for(key, content_sha256)
    headers = {"Accept-Ranges": "bytes", "X-Encore-Key-Id": key_id}
    byte_range = requested_range(request.headers.get("range"), size, "the sealed stem", headers)
    first, last = byte_range if byte_range is not None else (0, size - 1)
    headers["Content-Length"] = str(last - first + 1)
    status = 200
    if byte_range is not None:
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        status = 206
    return StreamingResponse(
        _sealed_bytes(path, key, file_id, total, first, last),
        status_code=status,
        media_type=SEALED_MEDIA_TYPE,
        headers=headers,
    )
