"""Live tempo and key between the timeline and the mix (audio.livestretch.StretchedSource).

None engaged (the default, and after every load) reads the timeline directly: ratio 1 / shift 0
is the plain engine, bit for bit. A stretcher sent while a load is pending waits for that load's
cut (it was built for the new stems).
"""

from __future__ import annotations

from audio.livestretch import StretchedSource
from audio.loaded import LoadedTrack
from audio.transport import Timeline


class LiveStretch:
    """The callback's live stretcher, if engaged."""

    __slots__ = ("current", "pending")

    def __init__(self) -> None:
        self.current: StretchedSource | None = None
        self.pending: StretchedSource | None = None

    def engage(self, stretcher: StretchedSource, load_pending: bool) -> None:
        """A stretcher from the UI: now (its first read crossfades in), or at the pending load."""
        if load_pending:
            self.pending = stretcher
        else:
            self.current = stretcher

    def drop_pending(self) -> None:
        """A new load was queued: a stretcher sent before it meant the old stems."""
        self.pending = None

    # -- Part ----------------------------------------------------------------------------------

    def load(self, track: LoadedTrack | None) -> None:
        self.current, self.pending = self.pending, None

    def cut(self, track: LoadedTrack, timeline: Timeline, v: int) -> None:
        if self.current is not None:
            self.current.cut(v, track.source, timeline)

    # -- per block ----------------------------------------------------------------------------

    def retime(self, track: LoadedTrack, timeline: Timeline, delta: int) -> None:
        """A loop swapped in at a block edge moved play frames by `delta`: follow it."""
        if self.current is not None:
            self.current.retime(track.source, timeline, delta)
