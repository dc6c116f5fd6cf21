"""Decode a published render for in-app listening, in memory only.

The platform streams a remix's render (FLAC) to entitled listeners; the walled garden means the
client never writes it anywhere. `soundfile` decodes straight from a `BytesIO`, and the result is
shaped for `Engine.load` as one stereo "stem" at the engine's sample rate.
"""

from __future__ import annotations

import io
from math import gcd

import numpy as np
import soundfile as sf


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
