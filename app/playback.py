"""What the widgets use of the engine: the one door from `ui/` to `audio/`.

The layers (pyproject.toml, `[tool.importlinter]`) let `ui/` reach the engine only through
`app/`, so that the engine can change its insides without touching a widget. The window builds an
`Engine` and an `AudioOutput` for it, shows the output's state and counters, and warms the mixing
kernel while the fan signs in; these names are all it needs.
"""

from __future__ import annotations

from audio.engine import Engine
from audio.mixer import MixKernel
from audio.output import LOST_MESSAGE, AudioOutput, OutputState

__all__ = ["LOST_MESSAGE", "AudioOutput", "Engine", "OutputState", "warm_up"]


def warm_up() -> None:
    """Compile (or load) the engine's DSP now, so the first track opens without waiting for it."""
    MixKernel(1, 256)
