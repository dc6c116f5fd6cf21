"""Decode a published render for in-app listening, in memory only.

The platform streams a remix's render (FLAC) to entitled listeners; the walled garden means the
client never writes it anywhere. `soundfile` decodes straight from a `BytesIO`, and the result is
shaped for `Engine.load` as one stereo "stem" at the engine's sample rate. `RenderRoute` plays it
through the device's engine while the studio's mix waits.
"""

from __future__ import annotations

import io
from math import gcd
from typing import TYPE_CHECKING

import numpy as np
import soundfile as sf

from app.peaks import PeakCache

if TYPE_CHECKING:
    from audio.engine import Engine


class RenderDecodeError(ValueError):
    """The bytes are not a render this app can play. The message says what to do."""


def decode_render(data: bytes, sample_rate: int) -> np.ndarray:
    """FLAC (or any libsndfile format) bytes -> float32 (1, 2, N) at `sample_rate`.

    Mono is duplicated to both sides; more than two channels keep the first two; a render at
    another rate is resampled (polyphase) so it plays at the right pitch and speed."""
    try:
        audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise RenderDecodeError(
            "The remix's audio could not be decoded. Press Listen again; if it keeps happening, "
            "tell the platform's support."
        ) from exc
    if audio.shape[0] == 0:
        raise RenderDecodeError("The remix's audio is empty. Tell the platform's support.")
    if audio.shape[1] == 1:
        audio = np.repeat(audio, 2, axis=1)
    audio = audio[:, :2]
    if rate != sample_rate:
        from scipy.signal import resample_poly

        g = gcd(int(rate), int(sample_rate))
        audio = resample_poly(audio, sample_rate // g, rate // g, axis=0).astype(np.float32)
    out = np.empty((1, 2, audio.shape[0]), dtype=np.float32)
    out[0] = audio.T
    return out


class RenderRoute:
    """A published render heard through the device's engine, the route of in-app listening.

    It holds the engine only while the studio's mix is suspended (`Studio.suspend` hands it over,
    `Studio.resume` takes it back): one owner at a time. What a position bar, a timeline or a play
    button needs of what is heard (length, playhead, loop, seek, readiness) it answers about the
    render, never about the waiting track. The audio stays in memory (the walled garden)."""

    def __init__(self, engine: Engine, audio: np.ndarray, *, remix_id: str, name: str) -> None:
        from audio import dsp  # numba: keep it out of plain app imports

        self.engine, self.remix_id, self.name = engine, remix_id, name
        self.n_frames = int(audio.shape[2])
        self._audio = audio
        self._peaks: PeakCache | None = None
        engine.pause()
        engine.load(audio, [name])  # resets the per-stem controls
        engine.set_master_gain_db(0.0)  # the render is mastered: the remix's master gain is in
        engine.set_bus(dsp.BUS_DEFAULTS)

    @property
    def duration_seconds(self) -> float:
        return self.n_frames / self.engine.sample_rate

    @property
    def position_seconds(self) -> float:
        return self.engine.position_seconds

    @property
    def playing(self) -> bool:
        return self.engine.playing

    @property
    def loop_seconds(self) -> tuple[float, float] | None:
        return None  # the loop is a practice aid of the fan's own mix

    def ready(self) -> bool:
        """Always: the whole render is in memory before it plays."""
        return True

    def play(self) -> None:
        self.engine.play()

    def pause(self) -> None:
        self.engine.pause()

    def seek(self, seconds: float) -> None:
        self.engine.seek(min(max(0.0, seconds), self.duration_seconds))

    def peaks(self) -> PeakCache:
        """The render's waveform for the timeline (one lane), made once, in memory only."""
        if self._peaks is None:
            peaks = PeakCache(1, self.n_frames)
            step = peaks.chunk_frames
            for chunk in range(peaks.n_chunks):
                peaks.add(0, chunk, self._audio[0, :, chunk * step : (chunk + 1) * step])
            self._peaks = peaks
        return self._peaks
