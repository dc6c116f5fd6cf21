"""When listening to a published remix becomes a play.

A play counts once the listener has heard 30 s of it (or nearly all of a shorter one), as
streaming services count: a click on Listen followed by Back is a sample, not a play, and the
"Most played" order should not reward remixes that people leave at once. Heard time is the
playhead moving while it plays, in small steps: a seek ahead is not listening.
"""

from __future__ import annotations

PLAY_AFTER_S = 30.0
SHORT_REMIX_FRACTION = 0.9  # a remix shorter than PLAY_AFTER_S counts when this much is heard
MAX_STEP_S = 1.0  # a larger jump between two looks at the playhead is a seek, not listening


class PlayTally:
    """Fed the playhead now and then; says True once, when the listen has become a play."""

    def __init__(self, duration_s: float, after_s: float = PLAY_AFTER_S) -> None:
        self.needed = min(after_s, SHORT_REMIX_FRACTION * duration_s)
        self.heard = 0.0
        self.counted = False
        self._last: float | None = None

    def update(self, position_s: float, playing: bool) -> bool:
        if self.counted:
            return False
        if playing and self._last is not None:
            step = position_s - self._last
            if 0.0 < step <= MAX_STEP_S:
                self.heard += step
        self._last = position_s
        if self.heard >= self.needed:
            self.counted = True
            return True
        return False
