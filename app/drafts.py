"""Drafts: unsubmitted remix documents, autosaved so a crash loses nothing.

A draft is a recipe (JSON), never audio. One draft per track; written atomically (temp file and
rename) so a crash mid-write leaves the previous draft intact.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

from pydantic import ValidationError

from core.contract import RemixDocument

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


class DraftStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def for_account(cls, root: Path, platform: str, username: str) -> DraftStore:
        """The drafts of one account on one platform: another account never sees or edits them
        (two people on one computer, or one person with a fan and an artist account)."""
        return cls(root / _SAFE.sub("_", platform) / _SAFE.sub("_", username))

    def latest(self) -> RemixDocument | None:
        """The most recently edited draft that reads (to offer it back at sign-in), or None."""
        paths = sorted(
            self.directory.glob("*.remix.json"), key=lambda p: p.stat().st_mtime, reverse=True
        )
        for path in paths:
            doc = self.load(path.name.removesuffix(".remix.json"))
            if doc is not None:
                return doc
        return None

    def _path(self, track_id: str) -> Path:
        return self.directory / f"{_SAFE.sub('_', track_id)}.remix.json"

    def save(self, doc: RemixDocument) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(doc.track_id)
        fd, tmp = tempfile.mkstemp(prefix=".draft-", dir=self.directory)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(doc.model_dump_json(indent=2))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return path

    def load(self, track_id: str) -> RemixDocument | None:
        """The saved draft, or None. A damaged draft is set aside (renamed), not deleted."""
        path = self._path(track_id)
        if not path.exists():
            return None
        try:
            return RemixDocument.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, ValidationError):
            path.replace(path.with_suffix(".damaged"))
            return None

    def discard(self, track_id: str) -> None:
        self._path(track_id).unlink(missing_ok=True)
