"""The app's own preferences (audio device, block size, cache limit): a small JSON file.

Why JSON in `user_config_dir('encore')`: one human-readable file a person can delete to get the
defaults back. Written atomically (temporary file in the same folder, fsync, `os.replace`), so a
crash mid-write leaves the old settings, never half a file. A missing, unreadable or invalid file
gives the defaults: preferences must never stop the studio from starting.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

BLOCK_SIZES = (64, 128, 256, 512, 1024)
DEFAULT_BLOCKSIZE = 256


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore")  # a newer version's keys do not break an older one

    output_device: str | None = Field(
        None,
        description="Output device by name (indices change when devices come and go); "
        "None = the system default.",
    )
    blocksize: int = Field(DEFAULT_BLOCKSIZE, description="Frames per audio callback.")
    cache_limit_mb: int = Field(
        2048, ge=64, le=1_000_000, description="Encrypted stem cache size limit."
    )

    @field_validator("blocksize")
    @classmethod
    def _known_blocksize(cls, value: int) -> int:
        if value not in BLOCK_SIZES:
            raise ValueError(f"blocksize must be one of {BLOCK_SIZES}, got {value}")
        return value


def default_path() -> Path:
    return Path(platformdirs.user_config_dir("encore")) / "settings.json"


def load_settings(path: Path | None = None) -> Settings:
    path = path or default_path()
    try:
        return Settings.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError):
        return Settings()


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    path = path or default_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(settings.model_dump_json(indent=2) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
