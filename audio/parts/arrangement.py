"""Which timeline the playhead reads (audio.transport.Timeline: section arrangement + loop).

A loop set/clear applies at a block edge with no fade (same arrangement: only the read position
wraps); an arrangement change, or a loop that starts before the playhead, waits for a cut
(`pending`), where `Transport` fades out, calls `apply_pending` and fades back in.
"""

from __future__ import annotations

from audio.loaded import LoadedTrack
from audio.transport import Timeline


class Arrangement:
    """The callback's current and pending timelines, and the play length they give."""

    __slots__ = ("n_frames", "pending", "timeline")

    def __init__(self) -> None:
        self.timeline: Timeline | None = None
        """What the playhead reads now (None: no track)."""
        self.pending: Timeline | None = None
        """Applied at the next cut (after a pending load)."""
        self.n_frames = 0
        """Play frames to the end of the piece (`timeline.end`)."""

    # -- Part ----------------------------------------------------------------------------------

    def load(self, track: LoadedTrack | None) -> None:
        self.timeline = None if track is None else track.timeline
        self.n_frames = 0 if track is None else track.timeline.end

    def cut(self, track: LoadedTrack, timeline: Timeline, v: int) -> None:
        pass  # a Timeline keeps no state between reads

    # -- at a cut -----------------------------------------------------------------------------

    def apply_pending(self, v: int) -> int:
        """Swap in the pending timeline (while silent); returns the new play frame for `v`,
        kept on the same source frame when the new arrangement plays it."""
        new = self.pending
        if new is None:
            return v
        self.pending = None
        old = self.timeline
        if old is None or new.source_frames != old.source_frames:
            return v  # stale: built for a track that is no longer loaded
        t = old.timeline_frame(v)
        self.timeline = new
        self.n_frames = new.end
        # At the very start stay there (a fresh arranged play starts at its first section);
        # elsewhere keep the music under the playhead.
        here = new.timeline_of_source(old.source_frame(t)) if t > 0 else 0
        return new.play_frame_for_seek(here)
