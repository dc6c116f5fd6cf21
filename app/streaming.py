"""Progressive stem streaming: download into the encrypted cache, decode ahead of the playhead.

Opening a track must feel instant and cost little memory. Each stem downloads on its own thread in
`Range` requests into the encrypted cache, most urgent first: the stream header and opening
seconds, then the window around the playhead (so after a seek, the bytes around the seek target
come next), then the rest. A dropped connection or a restarted platform resumes from the records
already in, with backoff. One decode thread keeps the chunks around the playhead decoded into the
engine's `ChunkedSource`, starting libFLAC at the nearest frame of whatever bytes are in
(`app.flac`, `core.flacdec`). A chunk not decoded yet plays as silence and is counted; nothing
here ever blocks the audio callback.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from app.cache import CacheWriter, EncryptedCache
from app.client import AuthError, PlatformClient, PlatformError, PlatformUnavailable
from app.flac import StreamHeader, find_frame, parse_header
from app.peaks import PeakCache
from audio.chunks import CHUNK_FRAMES, ChunkedSource
from core.contract import StemInfo, TrackDetail
from core.flacdec import FlacStreamDecoder
from core.sealed import CHUNK, CacheCorrupt, file_id_for, record_slot

FIRST_RECORDS = 2  # 128 KiB: the stream header and the first seconds, for every stem, first
REQUEST_RECORDS = 16  # 1 MiB a request: small enough that a seek redirects the download soon
DECODE_WINDOW_SECONDS = 8.0
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
        upcoming: Callable[[int], Sequence[tuple[int, int]]] | None = None,
        ahead_seconds: float = AHEAD_SECONDS,
        behind_seconds: float = BEHIND_SECONDS,
        locked: Collection[str] = (),
    ) -> None:
        # Locked stems (TrackDetail.locked_stems) are never requested: the platform refuses them.
        stems = [s for s in detail.stems if s.id not in locked]
        if not stems:
            raise PlatformError("This track has no stems to remix.", code="no_stems")
        self.client, self.detail, self.cache, self.playhead = client, detail, cache, playhead
        # Source ranges playback reads next (a loop wraps, an arrangement jumps); None: the
        # track straight on from the playhead.
        self.upcoming = upcoming
        self.stems = stems
        self.sample_rate = self.stems[0].sample_rate
        self.n_frames = max(round(s.duration * s.sample_rate) for s in self.stems)
        per_chunk = CHUNK_FRAMES / self.sample_rate
        self._ahead = int(ahead_seconds / per_chunk) + 1
        self._behind = int(behind_seconds / per_chunk) + 1
        self.source = ChunkedSource(len(self.stems), self.n_frames, self._ahead + self._behind + 2)
        self.states = [StemState(info) for info in self.stems]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # NB: each `_present[i]` is the writer's own bytearray, shared with the decode thread.
        self._present = [bytearray(-(-s.size // CHUNK)) for s in self.stems]
        self._decoders = [_StemDecoder(self, i) for i in range(len(self.stems))]
        self._stale = [False] * len(self.stems)
        self._rekey_lock = threading.Lock()
        self._stage = np.zeros((len(self.stems), 2, CHUNK_FRAMES), dtype=np.float32)
        # The timeline's waveforms (app/peaks.py, memory only): every chunk decoded for playback
        # feeds them, and when nothing is urgent the decode thread decodes the rest of each stem
        # for peaks alone (its own decoders and buffer; the playback pool is left alone).
        self.peaks = PeakCache(len(self.stems), self.n_frames)
        self._peak_decoders = [_StemDecoder(self, i) for i in range(len(self.stems))]
        self._peak_stage = np.zeros((2, CHUNK_FRAMES), dtype=np.float32)
        # Per stem, (chunk, bytes received) of the last failed peak decode and how often it
        # failed: twice with no new bytes, and the stem waits for more.
        self._peak_fails: list[tuple[int, int, int]] = [(-1, -1, 0)] * len(self.stems)

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

    def cache_name(self, info: StemInfo) -> str:
        """One entry per stem and content: two identical stems never share a file (each has its
        own download thread), and the disk listing does not name tracks or stems."""
        return hashlib.sha256(f"{self.detail.id}/{info.id}/{info.sha256}".encode()).hexdigest()

    def _download(self, index: int) -> None:
        state = self.states[index]
        info = state.info
        name = self.cache_name(info)
        for attempt in range(2):
            if self.cache.complete(name, self.cache.file_id(info.sha256)):
                self._present[index] = bytearray(b"\x01" * len(self._present[index]))
            elif not self._fetch(index, name):
                return  # stopped, or failed for good (the state says why)
            if self._verified(name, info.sha256):
                state.received = info.size
                state.status = StemStatus.COMPLETE
                # Keep the cache under its size limit, never evicting this track's stems.
                self.cache.evict(keep={self.cache_name(s) for s in self.stems})
                return
            # Damaged in transit or at rest: forget what was decoded from it and fetch again.
            self.cache.remove(name)
            self._present[index] = bytearray(len(self._present[index]))
            self._stale[index] = True  # NB: the decode thread resets its own decoder
            state.received = 0
            if attempt == 1:
                self._fail(
                    state,
                    f"The stem '{info.name}' arrived damaged twice. Try again "
                    "later; if it keeps happening, tell the platform's support.",
                )

    def _fetch(self, index: int, name: str) -> bool:
        """Download what the cache lacks of a stem; False if stopped or failed for good."""
        state = self.states[index]
        info = state.info
        writer = self.cache.writer(name, info.size, self.cache.file_id(info.sha256))
        self._present[index] = writer.present
        backoff = BACKOFF_FIRST
        try:
            while (span := self._next_span(index, writer)) is not None:
                if self._stop.is_set():
                    return False
                first, last = span
                try:
                    state.status = StemStatus.DOWNLOADING
                    self._receive(index, writer, first, last)
                    backoff = BACKOFF_FIRST
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
                    elif exc.code == "damaged_record" and self._key_rotated(writer.file_id, info):
                        writer.close()  # sealed under the device's new key: start this stem over
                        self._stale[index] = True
                        return self._fetch(index, name)
                    elif exc.code == "damaged_record":
                        self._fail(state, exc.message)
                    else:
                        self._fail(state, f"{info.name}: {exc.message}")
                    return False
        finally:
            writer.close()
        return not self._stop.is_set()

    def _receive(self, index: int, writer: CacheWriter, first: int, last: int) -> None:
        """One Range request for records [first, last), as the platform sealed them for this
        device: each is checked and stored as it came (no plaintext touches the disk)."""
        state = self.states[index]
        start = record_slot(first)
        end = start + sum(writer.sealed_length(i) for i in range(first, last)) - 1
        pending = bytearray()
        record = first
        for chunk in self.client.stem_range(self.detail.id, state.info.id, start, end):
            pending += chunk
            if len(pending) > end - start + 1:
                raise ValueError("more bytes than asked for")
            try:
                used = writer.write_sealed(record, bytes(pending))
            except CacheCorrupt:
                raise PlatformError(
                    f"Part of the stem '{state.info.name}' arrived damaged. Open the track "
                    "again; if it keeps happening, sign out and in again.",
                    code="damaged_record",
                    status=502,
                ) from None
            del pending[:used]
            while used > 0:
                used -= writer.sealed_length(record)
                record += 1
            state.received = min(state.info.size, writer.present.count(1) * CHUNK)
            if self._stop.is_set():
                return
        if record < last:  # a clean answer, but short: the platform's copy is truncated
            raise PlatformError("short range", code="short_range", status=416)

    def _key_rotated(self, file_id: bytes, info: StemInfo) -> bool:
        """Whether records fail because the platform rotated this device's key (every 30 days):
        then the cache takes the new key (entries under the old one are fetched again)."""
        with self._rekey_lock:
            if self.cache.file_id(info.sha256) != file_id:
                return True  # another stem's thread has taken the new key already
            try:
                key = self.client.content_key()
            except PlatformError:
                return False
            if self.cache.file_id(info.sha256) == file_id_for(key, info.sha256):
                return False  # the same key: the records really are damaged
            self.cache.rekey(key)
            return True

    def _next_span(self, index: int, writer: CacheWriter) -> tuple[int, int] | None:
        """The most urgent missing records: the header, then around the playhead, then the rest."""
        first_missing = writer.first_missing()
        if first_missing is None:
            return None
        n = writer.n_records
        if first_missing < FIRST_RECORDS:
            return first_missing, self._run_end(writer, first_missing, FIRST_RECORDS)
        info = self.states[index].info
        rate = info.size / max(self.n_frames, 1)  # bytes per frame, near enough for a window
        here = max(0, int(self.playhead() * rate) // CHUNK - 1)
        ahead = here + int(self._ahead * CHUNK_FRAMES * rate) // CHUNK + 1
        near = writer.first_missing(here)
        start = near if near is not None and near < min(ahead, n) else first_missing
        return start, self._run_end(writer, start, start + REQUEST_RECORDS)

    @staticmethod
    def _run_end(writer: CacheWriter, start: int, limit: int) -> int:
        end = start
        while end < min(limit, writer.n_records) and not writer.present[end]:
            end += 1
        return end

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
            if not self._decode_next() and not self._decode_peaks():
                self._stop.wait(DECODE_IDLE)

    def _wanted(self) -> tuple[list[int], set[int], int]:
        """(chunks to decode, most urgent first; chunks to keep; the playhead's chunk): the
        next `_ahead` chunks in play order (round a loop, across arrangement jumps), then the
        `_behind` chunks before the playhead (a short seek back plays at once)."""
        first = self.source.chunk_at(self.playhead())
        order: list[int] = []
        if self.upcoming is None:
            order = list(range(first, min(first + self._ahead, self.source.n_chunks)))
        else:
            for a, b in self.upcoming(self._ahead * CHUNK_FRAMES):
                for chunk in range(self.source.chunk_at(a), self.source.chunk_at(b - 1) + 1):
                    if chunk not in order and len(order) < self._ahead:
                        order.append(chunk)
        order += [c for c in range(first - 1, max(0, first - self._behind) - 1, -1)]
        return order, set(order), first

    def _decode_next(self) -> bool:
        """Decode the most urgent missing chunk; False when there is nothing to do right now."""
        for i, stale in enumerate(self._stale):
            if stale:
                self._stale[i] = False
                self._decoders[i] = _StemDecoder(self, i)
                self._peak_decoders[i] = _StemDecoder(self, i)
                self._peak_fails[i] = (-1, -1, 0)
        order, keep, here = self._wanted()
        for chunk in order:
            if self.source.has(chunk):
                continue
            start, end = self.source.chunk_range(chunk)
            for i, decoder in enumerate(self._decoders):
                if not decoder.decode(start, end, self._stage[i, :, : end - start]):
                    return False  # the most urgent chunk waits for bytes: don't skip ahead
            buf = self.source.claim(chunk, keep, here)
            if buf is None:
                return False
            np.copyto(buf[:, :, : end - start], self._stage[:, :, : end - start])
            buf[:, :, end - start :].fill(0.0)
            self.source.publish(chunk)
            for i in range(len(self._decoders)):
                if not self.peaks.has(i, chunk):
                    self.peaks.add(i, chunk, self._stage[i, :, : end - start])
            return True
        return False

    def _decode_peaks(self) -> bool:
        """Idle time: decode one chunk the waveform lacks, for its peaks only: the stem that is
        furthest behind, from its first missing chunk (so the lanes fill in together, left to
        right). A stem whose next bytes are not in waits until more arrive (a decode that fails
        once may just have reached the end of its window: it is tried again first); False when
        there is nothing to do now."""
        best: tuple[int, int] | None = None
        for i in range(len(self._peak_decoders)):
            chunk = self.peaks.missing(i)
            failed, at, times = self._peak_fails[i]
            if times >= 2 and (failed, at) == (chunk, self.states[i].received):
                continue
            if chunk is not None and (best is None or chunk < best[1]):
                best = (i, chunk)
        if best is None:
            return False
        i, chunk = best
        received = self.states[i].received
        start, end = self.source.chunk_range(chunk)
        out = self._peak_stage[:, : end - start]
        if self._peak_decoders[i].decode(start, end, out):
            self.peaks.add(i, chunk, out)
        else:
            failed, at, times = self._peak_fails[i]
            same = (failed, at) == (chunk, received)
            self._peak_fails[i] = (chunk, received, times + 1 if same else 1)
        return True


class _StemDecoder:
    """Decodes one stem's chunks from whatever records are in, starting at the nearest frame.

    It keeps a libFLAC decoder running over a window of records, so consecutive chunks cost one
    decode each; a seek, a hole or the end of the window starts a new one at the right frame.
    """

    def __init__(self, stream: TrackStream, index: int) -> None:
        self.stream, self.index = stream, index
        self.info = stream.stems[index]
        self._header: tuple[StreamHeader, bytes] | None = None
        seconds = self.info.duration or 1.0
        self._window = int(self.info.size / seconds * DECODE_WINDOW_SECONDS) // CHUNK + 2
        self.reset()

    def reset(self) -> None:
        self._frames: Iterator[tuple[int, np.ndarray]] | None = None
        self._carry: tuple[int, np.ndarray] | None = None
        self._next = -1  # the first sample the running decoder yields next
        self._window_end = 0  # the record after its window

    def decode(self, start: int, end: int, out: np.ndarray) -> bool:
        """Fill out (2, end-start) with the stem's frames [start, end); False if not in yet."""
        try:
            return self._decode(start, end, out)
        except (CacheCorrupt, ValueError, RuntimeError):
            self.reset()  # damaged bytes: play nothing from them; verification refetches
            return False

    def _decode(self, start: int, end: int, out: np.ndarray) -> bool:
        header = self._stream_header()
        if header is None:
            return False
        total = header[0].total_samples
        # Keep the running decoder for the next chunk; for a jump, start again near the target.
        running = self._frames is not None and self._next <= start < self._next + CHUNK_FRAMES
        if not running and not self._reposition(start):
            return False
        filled, progressed = 0, False
        while filled < end - start:
            at = start + filled
            if at >= total:  # a stem shorter than the track: silence after its end
                out[:, filled:].fill(0.0)
                return True
            assert self._frames is not None  # running, or repositioned just now
            frame = self._carry or next(self._frames, None)
            self._carry = None
            if frame is None:  # the window ran out: carry on from its last record
                resume = self._window_end - 1
                self.reset()
                if not progressed or not self._reposition(at, record=resume):
                    return False
                progressed = False
                continue
            first, audio = frame
            self._next = first + len(audio)
            progressed = True
            if first + len(audio) <= at:
                continue
            if first > at:
                self.reset()
                return False
            a = at - first
            take = min(len(audio) - a, end - start - filled)
            out[:, filled : filled + take] = audio[a : a + take, : out.shape[0]].T
            if audio.shape[1] == 1:
                out[1, filled : filled + take] = out[0, filled : filled + take]
            filled += take
            if a + take < len(audio):
                self._carry = frame
                self._next = first
        return True

    def _stream_header(self) -> tuple[StreamHeader, bytes] | None:
        if self._header is None:
            present = self.stream._present[self.index]
            records = 1
            while records <= len(present) and all(present[:records]):
                data = self.stream.cache.read_records(self._name(), 0, records)
                header = parse_header(data)
                if header is not None:
                    self._header = (header, data[: header.audio_offset])
                    break
                records += 1
        return self._header

    def _name(self) -> str:
        return self.stream.cache_name(self.info)

    def _reposition(self, sample: int, record: int | None = None) -> bool:
        """Start a decoder at the last frame at or before `sample`, if its bytes are in.

        Without `record`, the search starts where the bytes of `sample` would be if the stem's
        bitrate were constant, and steps back when it lands late (quiet passages compress to
        almost nothing, so the guess can be far off)."""
        assert self._header is not None
        header, header_bytes = self._header
        present = self.stream._present[self.index]
        size, base = self.info.size, header.audio_offset
        target = min(sample, header.total_samples - 1)
        if record is None:
            record = max(0, (base + (size - base) * target // header.total_samples) // CHUNK - 1)
        for _ in range(8):
            if not present[record]:
                return False
            last = record
            while last < min(len(present), record + self._window) and present[last]:
                last += 1
            data = self.stream.cache.read_records(self._name(), record, last)
            found = find_frame(data, max(base - record * CHUNK, 0), header)
            if found is None:
                return False
            offset, first = found
            if first > target:  # the estimate landed late: step back in proportion
                back = (first - target) * (size - base) // header.total_samples // CHUNK + 2
                if record == 0:
                    return False
                record = max(0, record - back)
                continue
            decoder = FlacStreamDecoder(header_bytes + data[offset:])
            self._frames = decoder.frames()
            self._carry = None
            self._next = first
            self._window_end = last
            return True
        return False
