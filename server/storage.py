"""Where audio lives under the data dir, and serving it with HTTP Range support.

Paths are built only from ids the platform itself assigned (at seeding or submission) and stored
in the database; request handlers look files up by database row, never from user-supplied text.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from fastapi import Request
from fastapi.responses import StreamingResponse

from server.ranges import requested_range

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$")
CHUNK = 64 * 1024


def make_private_dir(path: Path) -> Path:
    """Create `path` (and parents) and make it this user's only (0700).

    The data dir holds the database, the platform secret, every stem and every render: other
    users of the machine must not read them. A 0700 directory protects whatever is created in it
    later, whatever its own mode; an existing dir from an older version is tightened too.
    """
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def _safe(name: str) -> str:
    if not _SAFE_NAME.fullmatch(name) or ".." in name:
        raise ValueError(f"unsafe file name component: {name!r}")
    return name


class Storage:
    """Where the platform keeps audio: the one interface every API and worker process reads
    stems and writes renders through. Layout: `stems/<track_id>/<stem_id>.flac` and
    `renders/<remix_id>.flac`, plus the platform secret.

    This backend is a directory: the data dir of a one-process platform, or a directory every
    process of a scaled-out platform mounts at its own path (NFS, CephFS...; `--storage-dir`).
    What a shared backend must give, and this one relies on: a file renamed into place
    (`os.replace`) appears whole to every reader, never half-written.
    """

    def __init__(self, data_dir: Path) -> None:
        self.root = make_private_dir(data_dir).resolve()

    def stem_relpath(self, track_id: str, stem_id: str) -> str:
        return f"stems/{_safe(track_id)}/{_safe(stem_id)}.flac"

    def render_relpath(self, remix_id: str) -> str:
        return f"renders/{_safe(remix_id)}.flac"

    def path(self, relpath: str) -> Path:
        """The absolute path of a stored file; refuses anything that escapes the data dir."""
        full = (self.root / relpath).resolve()
        if not full.is_relative_to(self.root):
            raise ValueError(f"stored path escapes the data dir: {relpath!r}")
        return full

    def import_file(self, source: Path, relpath: str) -> Path:
        """Bring an external file in: a hard link when possible (the demo cache is large)."""
        target = self.path(relpath)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.unlink(missing_ok=True)
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
        os.replace(tmp, target)
        return target


def _read(path: Path, first: int, length: int) -> Iterator[bytes]:
    with path.open("rb") as f:
        f.seek(first)
        while length > 0:
            chunk = f.read(min(CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk


def file_response(request: Request, path: Path, media_type: str) -> StreamingResponse:
    """Serve a stored file, honouring a single Range; errors use the platform's JSON shape.

    Starlette's FileResponse does handle ranges, but answers bad ones in plain text; this keeps
    416s in the JSON error shape and the behaviour easy to read.
    """
    size = path.stat().st_size
    headers = {"Accept-Ranges": "bytes"}
    byte_range = requested_range(request.headers.get("range"), size, "the file", headers)
    if byte_range is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(_read(path, 0, size), media_type=media_type, headers=headers)
    first, last = byte_range
    length = last - first + 1
    headers["Content-Length"] = str(length)
    headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    return StreamingResponse(
        _read(path, first, length), status_code=206, media_type=media_type, headers=headers
    )
