"""What the UI thread asks of the audio callback: one frozen record per command, on one queue.

Why typed records: the engine used to send string-tagged tuples unpacked by position
(`cmd[1]`, `cmd[-1]`), so adding a field silently shifted every reader. A record names its
fields, mypy checks them, and the callback dispatches on the class.

Every record carries `seq`, the sender's sequence number: the callback publishes the `seq` of
the last record it applied (audio.shared.Published), which is how the UI knows whether what it
asked for has been heard yet (`Engine.playing`, `Engine.position_seconds`).

The queue (`CommandQueue`) has exactly one producer (the UI thread, through `Engine`) and one
consumer (the audio callback, `Engine.process`, which drains it at the top of every block).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from audio.automation import Automation
from audio.livestretch import StretchedSource
from audio.loaded import LoadedTrack
from audio.transport import Timeline


@dataclass(frozen=True, slots=True)
class Load:
    """Swap in a new track at the next cut (fade out, swap, rewind to 0). Clears the lanes and
    the stretcher: they meant the old stems (later commands bring new ones)."""

    track: LoadedTrack
    seq: int


@dataclass(frozen=True, slots=True)
class Unload:
    """Remove the track at the next cut; the transport stops."""

    seq: int


@dataclass(frozen=True, slots=True)
class Seek:
    """Move the playhead to this play frame (already clamped and loop-adjusted by the UI)."""

    frame: int
    seq: int


@dataclass(frozen=True, slots=True)
class SetLoop:
    """A loop set or cleared: same arrangement, applied at the next block edge with no fade
    (unless the playhead is past the new loop's end: then a cut to the loop start)."""

    timeline: Timeline
    seq: int


@dataclass(frozen=True, slots=True)
class SetArrangement:
    """A new section arrangement: a cut that keeps the playhead on the same source frame."""

    timeline: Timeline
    seq: int


@dataclass(frozen=True, slots=True)
class SetAutomation:
    """Play these lanes back from the next block edge (None: none)."""

    automation: Automation | None
    seq: int


@dataclass(frozen=True, slots=True)
class SetStretch:
    """Engage a live stretcher (its ratio/key are set on it directly, audio.livestretch)."""

    stretcher: StretchedSource
    seq: int


@dataclass(frozen=True, slots=True)
class Play:
    seq: int


@dataclass(frozen=True, slots=True)
class Pause:
    seq: int


@dataclass(frozen=True, slots=True)
class ResetDiagnostics:
    """Zero the callback's counters at a block edge (the callback is their only writer)."""

    seq: int


Command = (
    Load
    | Unload
    | Seek
    | SetLoop
    | SetArrangement
    | SetAutomation
    | SetStretch
    | Play
    | Pause
    | ResetDiagnostics
)
"""Every record the callback understands."""


class CommandQueue:
    """The single-producer/single-consumer queue between the UI thread and the callback.

    A `collections.deque`, argued rather than a preallocated ring of slots because the queue
    must stay unbounded: with no output device the callback never runs (the studio still
    mixes), and a bounded ring would then either refuse the user's seeks or block the UI
    forever. Why a deque is safe and real-time-fit here, under CPython:

    * NB: `append` (producer only) and `popleft` (consumer only) are each one C call made
      while holding the GIL, documented as thread-safe ("Deques support thread-safe ... appends
      and pops from either side"); the record is complete (frozen, built before `append`)
      before it is visible, and the GIL hand-over between the two threads is a full barrier,
      so the consumer never sees a half-built record on any CPU (x86 or arm64).
    * The consumer does not allocate: `popleft` returns an existing object; the deque's block
      list only shrinks on that side (a 64-slot block is *freed* every 64 pops, never
      allocated). `bool(queue)` and the `isinstance` dispatch allocate nothing.
      tests/test_engine.py::test_callback_allocates_no_buffers measures the callback's peak
      with tracemalloc, commands included.
    * All allocation (the record, deque blocks) happens in `put`, on the UI thread.
    """

    __slots__ = ("_items", "_seq")

    def __init__(self) -> None:
        self._items: deque[Command] = deque()
        self._seq = 0  # producer only: the seq of the last record put

    def next_seq(self) -> int:
        """Producer: the seq the next record must carry."""
        self._seq += 1
        return self._seq

    @property
    def last_seq(self) -> int:
        """Producer: the seq of the last record put (0: none yet)."""
        return self._seq

    def put(self, command: Command) -> int:
        """Producer: make `command` visible to the consumer (NB: the publishing step)."""
        self._items.append(command)
        return command.seq

    def get(self) -> Command | None:
        """Consumer: the oldest record not yet taken, or None when empty. Never blocks."""
        items = self._items
        return items.popleft() if items else None
