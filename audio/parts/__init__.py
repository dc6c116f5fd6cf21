"""The engine's callback-side parts, each owning one concern of playback.

* `transport.Transport`: play/pause, the transport fades, the playhead, pending seeks and loads,
  end of track; it drains the command queue and runs the block, asking the others in turn;
* `arrangement.Arrangement`: which timeline (section arrangement + loop) the playhead reads;
* `automation.AutomationPlayback`: lanes played back over the static controls, per sub-block;
* `stretch.LiveStretch`: live tempo/key (audio.livestretch) between the timeline and the mix.

Every part has the same small interface (`Part`): it hears when a track is swapped in or out
(`load`, at the cut where that happens) and when playback (re)starts after silence at a play
frame (`cut`: a seek, a play, a loop jump, a new arrangement). Per block, `Transport` reads
through what they hold (the arrangement's timeline, or the engaged stretcher: called directly,
a Python call fewer on the hot path) and mixes through `AutomationPlayback.mix`. All of them
run in the audio callback only, after construction: no locks, no allocation, no I/O. What the
UI thread sees of them goes through audio.shared.
"""

from __future__ import annotations

from typing import Protocol

from audio.loaded import LoadedTrack
from audio.transport import Timeline


class Part(Protocol):
    """What `Transport` tells every part (audio callback only)."""

    def load(self, track: LoadedTrack | None) -> None:
        """A load (or unload: None) was applied at a cut: forget the old track's state."""

    def cut(self, track: LoadedTrack, timeline: Timeline, v: int) -> None:
        """Playback restarts after silence at play frame `v` of `timeline` (kernel history
        already cleared): drop anything that assumed continuity."""
