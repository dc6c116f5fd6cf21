"""Progressive stem streaming: download into the encrypted cache, decode ahead of the playhead.

Opening a track must feel instant and cost little memory. Each stem downloads on its own thread in
growing `Range` requests into the encrypted cache (resuming from the last good byte, with backoff,
when the connection drops or the platform restarts). One decode thread keeps the chunks around
the playhead decoded into the engine's `ChunkedSource`, reading the sealed prefix as it grows, so
playback starts once the first half-second of every stem is in. A chunk not decoded yet plays as
silence and is counted; nothing here ever blocks the audio callback.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import soundfile as sf

from app.cache import CacheCorrupt, DecryptingFile, EncryptedCache
from app.client import AuthError, PlatformClient, PlatformError, PlatformUnavailable
from app.contract import StemInfo, TrackDetail
from audio.chunks import CHUNK_FRAMES, ChunkedSource

FIRST_REQUEST = 128 * 1024  # small first: the first seconds of every stem arrive quickly
REQUEST = 4 * 1024 * 1024
BACKOFF_FIRST, BACKOFF_MAX = 0.2, 5.0
AHEAD_SECONDS, BEHIND_SECONDS = 20.0, 4.0
DECODE_IDLE = 0.01


class StemStatus(StrEnum):
    WAITING = "waiting"
    DOWNLOADING = "downloading"
    RECONNECTING = "reconnecting"
    COMPLETE = "complete"
    FAILED = "failed"


@dataclass
class StemState:
    info: StemInfo
    received: int = 0
    status: StemStatus = StemStatus.WAITING
    message: str | None = None

    @property
    def fraction(self) -> float:
        return self.received / self.info.size if self.info.size else 1.0


class TrackStream:
    """One open track: its stem downloads, its decoder, and the source the engine plays from."""

    def __init__(
        self,
        client: PlatformClient,
        detail: TrackDetail,
        cache: EncryptedCache,
        playhead: Callable[[], int],
        *,
        ahead_seconds: float = AHEAD_SECONDS,
        behind_seconds: float = BEHIND_SECONDS,
    ) -> None:
        if not detail.stems:
            raise PlatformError("This track has no stems to remix.", code="no_stems")
        self.client, self.detail, self.cache, self.playhead = client, detail, cache, playhead
        self.stems = list(detail.stems)
        self.sample_rate = self.stems[0].sample_rate
        self.n_frames = max(round(s.duration * s.sample_rate) for s in self.stems)
        per_chunk = CHUNK_FRAMES / self.sample_rate
        self._ahead = int(ahead_seconds / per_chunk) + 1
        self._behind = int(behind_seconds / per_chunk) + 1
        self.source = ChunkedSource(len(self.stems), self.n_frames, self._ahead + self._behind + 2)
        self.states = [StemState(info) for info in self.stems]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._readers: list[_StemReader | None] = [None] * len(self.stems)
        self._scratch = np.zeros((CHUNK_FRAMES, 2), dtype=np.float32)

    @property
    def stem_ids(self) -> list[str]:
        return [s.id for s in self.stems]

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        for i in range(len(self.stems)):
            self._spawn(f"stem-dl-{i}", self._download, i)
        self._spawn("stem-decode", self._decode_loop)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(5)
        for reader in self._readers:
            if reader:
                reader.close()

    def _spawn(self, name: str, fn: Callable, *args: object) -> None:
        t = threading.Thread(target=fn, args=args, name=name, daemon=True)
        self._threads.append(t)
        t.start()

    # -- state the UI shows ----------------------------------------------------------------------

    @property
    def progress(self) -> float:
        total = sum(s.info.size for s in self.states)
        return sum(s.received for s in self.states) / total if total else 1.0

    @property
    def seekable(self) -> bool:
        """Every stem is in the cache and verified: any position can be decoded at once."""
        return all(s.status == StemStatus.COMPLETE for s in self.states)

    @property
    def failure(self) -> str | None:
        return next((s.message for s in self.states if s.status == StemStatus.FAILED), None)

    @property
    def reconnecting(self) -> bool:
        return any(s.status == StemStatus.RECONNECTING for s in self.states)

    def ready_at(self, frame: int) -> bool:
        return self.source.has(self.source.chunk_at(frame))

    # -- downloading -----------------------------------------------------------------------------

    def _download(self, index: int) -> None:
        state = self.states[index]
        info = state.info
        name = self.cache_name(info)
        for attempt in range(2):
            if self.cache.complete(name) or self._fetch(state, name):
                if self._verified(name, info.sha256):
                    state.received = info.size
                    state.status = StemStatus.COMPLETE
                    # Keep the cache under its size limit, never evicting this track's stems.
                    self.cache.evict(keep={self.cache_name(s) for s in self.stems})
                    return
                self.cache.remove(name)  # damaged in transit or at rest: fetch once more
                self._reset_reader(index)
                state.received = 0
                if attempt == 1:
                    self._fail(
                        state,
                        f"The stem '{info.name}' arrived damaged twice. Try again "
                        "later; if it keeps happening, tell the platform's support.",
                    )
            elif state.status == StemStatus.FAILED or self._stop.is_set():
                return

    def _fetch(self, state: StemState, name: str) -> bool:
        """Download the rest of a stem into the cache; False if stopped or failed for good."""
        info = state.info
        writer = self.cache.writer(name, info.size)
        backoff = BACKOFF_FIRST
        first = True
        try:
            while writer.position < info.size:
                if self._stop.is_set():
                    return False
                start = writer.position
                end = min(info.size, start + (FIRST_REQUEST if first else REQUEST)) - 1
                try:
                    state.status = StemStatus.DOWNLOADING
                    for chunk in self.client.stem_range(self.detail.id, info.id, start, end):
                        writer.write(chunk)
                        state.received = writer.position
                        if self._stop.is_set():
                            return False
                    first, backoff = False, BACKOFF_FIRST
                    state.message = None
                except PlatformUnavailable as exc:
                    state.status = StemStatus.RECONNECTING
                    state.message = f"{exc.message} Retrying in {backoff:.1f} s."
                    if self._stop.wait(backoff):
                        return False
                    backoff = min(backoff * 2, BACKOFF_MAX)
                except ValueError:  # more bytes than announced: the platform's file changed
                    self._fail(
                        state,
                        f"The stem '{info.name}' is not the size the platform "
                        "announced. Open the track again.",
                    )
                    return False
                except (AuthError, PlatformError) as exc:
                    if exc.status == 416:  # the platform's file is shorter than it announced
                        self._fail(
                            state,
                            f"The stem '{info.name}' is incomplete on the platform. "
                            "Try again later; if it keeps happening, tell its support.",
                        )
                    else:
                        self._fail(state, f"{info.name}: {exc.message}")
                    return False
        finally:
            writer.close()
        return True

    def cache_name(self, info: StemInfo) -> str:
        """One entry per stem and content: two identical stems never share a file (each has its
        own download thread), and the disk listing does not name tracks or stems."""
        return hashlib.sha256(f"{self.detail.id}/{info.id}/{info.sha256}".encode()).hexdigest()

    def _verified(self, name: str, sha256: str) -> bool:
        digest = hashlib.sha256()
        try:
            with self.cache.open(name) as f:
                while block := f.read(1 << 20):
                    digest.update(block)
        except CacheCorrupt:
            return False
        return digest.hexdigest() == sha256

    def _fail(self, state: StemState, message: str) -> None:
        state.status = StemStatus.FAILED
        state.message = message

    # -- decoding --------------------------------------------------------------------------------

    def _decode_loop(self) -> None:
        while not self._stop.is_set():
            if self.failure:
                self.source.drop_all()  # never play what was decoded from a damaged stem
                return
            if not self._decode_next():
                self._stop.wait(DECODE_IDLE)

    def _wanted(self) -> tuple[list[int], range]:
        first = self.source.chunk_at(self.playhead())
        last = min(first + self._ahead, self.source.n_chunks)
        behind = max(0, first - self._behind)
        order = list(range(first, last)) + list(range(first - 1, behind - 1, -1))
        return order, range(behind, last)

    def _decode_next(self) -> bool:
        """Decode the most urgent missing chunk; False when there is nothing to do right now."""
        order, keep = self._wanted()
        for chunk in order:
            if self.source.has(chunk):
                continue
            start, end = self.source.chunk_range(chunk)
            if not all(self._can_read(i, end) for i in range(len(self.stems))):
                return False  # the most urgent chunk waits for bytes: don't skip ahead
            buf = self.source.claim(chunk, keep)
            if buf is None:
                return False
            for i in range(len(self.stems)):
                if not self._decode_into(i, start, end, buf[i]):
                    return False
            self.source.publish(chunk)
            return True
        return False

    def _can_read(self, index: int, end_frame: int) -> bool:
        reader = self._reader(index)
        return reader is not None and (reader.complete or reader.frames_available() >= end_frame)

    def _reader(self, index: int) -> _StemReader | None:
        state = self.states[index]
        reader = self._readers[index]
        complete = state.status == StemStatus.COMPLETE
        if reader is not None and (
            reader.complete or (not complete and reader.bytes_seen == state.received)
        ):
            return reader
        if state.received < FIRST_REQUEST and not complete:
            return None
        if reader is not None:
            reader.close()
        try:
            reader = _StemReader(self.cache, self.cache_name(state.info), state, complete=complete)
        except (sf.LibsndfileError, CacheCorrupt, OSError, RuntimeError):
            reader = None
        self._readers[index] = reader
        return reader

    def _reset_reader(self, index: int) -> None:
        reader = self._readers[index]
        self._readers[index] = None
        if reader:
            reader.close()

    def _decode_into(self, index: int, start: int, end: int, out: np.ndarray) -> bool:
        reader = self._reader(index)
        n = end - start
        if reader is None:
            return False
        got = reader.read(start, self._scratch[:n])
        if got < n and not reader.complete:
            return False
        np.copyto(out[:, :got], self._scratch[:got].T)
        out[:, got:].fill(0.0)
        return True


class _StemReader:
    """A decoder over what the cache holds of one stem (all of it, or the prefix so far)."""

    def __init__(
        self, cache: EncryptedCache, name: str, state: StemState, *, complete: bool
    ) -> None:
        self.complete = complete
        self.bytes_seen = state.received
        self._file: DecryptingFile = cache.open(name, partial=not complete)
        try:
            self._sf = sf.SoundFile(self._file)
        except Exception:
            self._file.close()
            raise
        self.channels = self._sf.channels
        self._total_bytes = state.info.size

    def frames_available(self) -> int:
        """A conservative guess of how far the prefix decodes (FLAC bytes ~ time, minus margin)."""
        if self.complete:
            return self._sf.frames
        share = self._file.size / self._total_bytes
        return int(self._sf.frames * share) - 2 * CHUNK_FRAMES

    def read(self, start: int, out: np.ndarray) -> int:
        try:
            self._sf.seek(start)
            if self.channels == 2:
                return len(self._sf.read(out=out, dtype="float32"))
            mono = self._sf.read(len(out), dtype="float32", always_2d=True)
            out[: len(mono)] = mono[:, :1]
            return len(mono)
        except (sf.LibsndfileError, RuntimeError, CacheCorrupt):
            return 0

    def close(self) -> None:
        self._sf.close()
        self._file.close()
