"""Fetch and decode a track's stems into the engine's layout, in memory only.

Runs on a worker thread: downloads go in parallel (the platform is I/O bound, decoding is ~1500x
real time), and the bytes never touch the disk, so no plaintext audio ever exists outside RAM.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from app.client import PlatformClient, PlatformError
from app.contract import StemInfo, TrackDetail

# (stem index, fraction 0..1) — called from download threads.
StemProgress = Callable[[int, float], None]


@dataclass(frozen=True)
class LoadedTrack:
    detail: TrackDetail
    stems: list[StemInfo]  # the stems in engine order
    audio: np.ndarray  # float32 (S, 2, N)
    sample_rate: int

    @property
    def stem_ids(self) -> list[str]:
        return [s.id for s in self.stems]


def decode_stem(data: bytes, info: StemInfo) -> np.ndarray:
    """(2, N) float32. A mono stem is spread to both channels; a bad file is a clear error."""
    try:
        audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise PlatformError(
            f"The stem '{info.name}' could not be decoded. Open the track again; if it keeps "
            "happening, tell the platform's support.",
            code="decode_failed",
        ) from exc
    if rate != info.sample_rate:
        raise PlatformError(
            f"The stem '{info.name}' has sample rate {rate} Hz, not the {info.sample_rate} Hz "
            "the platform announced. Tell the platform's support.",
            code="bad_stem",
        )
    if audio.shape[1] == 1:
        audio = np.repeat(audio, 2, axis=1)
    return np.ascontiguousarray(audio[:, :2].T)


def load_track(
    client: PlatformClient,
    detail: TrackDetail,
    *,
    progress: StemProgress | None = None,
    workers: int = 4,
) -> LoadedTrack:
    stems = list(detail.stems)
    if not stems:
        raise PlatformError("This track has no stems to remix.", code="no_stems")

    def fetch(index: int) -> np.ndarray:
        info = stems[index]

        def report(done: int, total: int) -> None:
            if progress and total:
                progress(index, 0.95 * done / total)

        data = client.stem_audio(detail.id, info.id, expected_sha256=info.sha256, progress=report)
        decoded = decode_stem(data, info)
        if progress:
            progress(index, 1.0)
        return decoded

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stem") as pool:
        decoded = list(pool.map(fetch, range(len(stems))))

    frames = max(d.shape[1] for d in decoded)
    audio = np.zeros((len(stems), 2, frames), dtype=np.float32)
    for i, d in enumerate(decoded):
        audio[i, :, : d.shape[1]] = d
    return LoadedTrack(detail=detail, stems=stems, audio=audio, sample_rate=stems[0].sample_rate)
