"""The platform's own secret: generated once, kept in the data dir (mode 0600), stable across
restarts. Device keys are derived from it (server/sealing.py), so no key is stored."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

SECRET_FILE = "platform-secret.key"
SECRET_BYTES = 32


def load_or_create_secret(data_dir: Path) -> bytes:
    """Read the secret, creating it atomically (O_EXCL, 0600) the first time."""
    path = data_dir / SECRET_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_bytes()
        if len(secret) != SECRET_BYTES:
            raise RuntimeError(
                f"{path} is {len(secret)} bytes, not {SECRET_BYTES}: it is damaged. Restore it "
                "from a backup (deleting it makes every device's cached stems undecryptable)."
            ) from None
        return secret
    secret = secrets.token_bytes(SECRET_BYTES)
    try:
        os.write(fd, secret)
        os.fsync(fd)
    finally:
        os.close(fd)
    return secret
