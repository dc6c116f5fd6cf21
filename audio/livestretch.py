"""Live tempo (key kept) and key shift: the offline stretcher's own stream, in worker threads.

What plays is what is published: each stem runs the very `audio.stretch.StemStream` the offline
render runs (Signalsmith Stretch, the key by exact resampling; same pre-roll, same CHUNK grid,
same seed), so a play from the start of the piece with the tempo/key already set feeds the mix
kernel exactly the samples the render stretches (tests/test_livestretch.py). A seek or a change
while playing starts a fresh stream there (see "Changes while playing"): the same stretcher and
settings, but the stream's history differs from the render's whole-piece one, so those samples
differ in detail, never in tempo, key or timing (docs/remix-format.md, "Tempo and key").

Where it sits: *after* the transport's `Timeline`. The stretcher's input is the stream the
engine would otherwise play (play frames: sections arranged, loop folded, joins crossfaded), so
loops, arrangements and seeks keep their meaning in the original track time, and the engine's
playhead stays in original-tempo frames: at tempo 1.25 it moves 1.25 frames per output frame.
The kernel (strip, buses, limiter) then processes the stretched stream, as in the offline render
(audio/offline.py stretches the arranged stream the same way, before the strip).

Threads (the engine's rules hold: the callback never waits, locks, allocates or does I/O):

* **workers** (one per group of up to `GROUP_STEMS` stems, at most one per core): each runs one
  `StemStream` per stem and ring slot, fed in `CHUNK`-frame pieces read through its own copy of
  the Timeline, writes the stretched frames into its rows of a preallocated ring and keeps
  `LEAD_S` of them ahead of the read index. Every stream of a request makes the same number of
  frames per piece (a function of the ratio and the call count only), so no stem or group can
  drift from another. The callback reads a slot up to the slowest group. The stretcher is called
  through ctypes, which releases the GIL, so the callback is not held up by it, and two workers
  use two cores.
* **callback** (`read`, `advance`, `cut`, `retime`; called by `Engine` only): copies out of the
  ring. A read the worker has not reached plays silence and is counted
  (`Engine.missing_frames`, and `late_frames`, which the UI shows, unless it is the expected
  priming after a cut); the read index then holds (no skip), and the audio fades back in over
  `FADE_S` when it arrives.
* **UI thread**: `set_params`, `close`.

Changes while playing: a new tempo/key starts a new *segment* in the other ring slot, anchored
`SWITCH_LEAD_S` ahead of the read head (the worker primes it meanwhile); when the read head gets
there, and the worker has the crossfade plus the block being read, the callback crossfades
(`XFADE_S`, equal power) from the old segment to the new one; the worker keeps at least that much
ahead, whatever the block size, so a pending switch always comes. Back
to tempo 1 / key 0 crossfades to the direct (unstretched) read, which is then exactly the
engine's plain path: with ratio 1 and shift 0 the output is bit-identical to no stretcher at all.
A cut (seek, load, arrangement change, play from stop) re-anchors at the new playhead at once
and holds the playhead, in silence (counted), until the worker has the first frames; a hold longer
than `LEAD_S` is the worker being behind, and counts as late. A cut at play frame 0 (play from
the start) does not fade in: the stream starts where the render's does. A loop set or cleared
while a segment plays (`retime`) is a change too: the old segment reads the old timeline, so a
segment on the new one takes over, crossfaded, as soon as the read head reaches its anchor.
"""

from __future__ import annotations

import atexit
import os
import threading
import weakref

import numpy as np

from audio.source import BlockSource
from audio.stretch import CHUNK as STRETCH_CHUNK
from audio.transport import Timeline, equal_power

LEAD_S = 0.12
"""Stretched audio the worker keeps ahead of the read index (covers worker scheduling gaps)."""

SWITCH_LEAD_S = 0.06
"""A tempo/key change while playing starts this far ahead of the read head."""

XFADE_S = 0.02
"""Equal-power crossfade between the old and the new segment (or the direct read)."""

FADE_S = 0.005
"""Fade-in after the stretcher had nothing to give (a cut, or an underrun)."""

CHUNK = STRETCH_CHUNK
"""Input frames per stretcher call: the offline render's grid (audio.stretch.CHUNK)."""

RING_FRAMES = 1 << 15
"""Output frames per ring slot (0.68 s at 48 kHz): far more than LEAD_S plus a burst."""

POLL_S = 0.003
"""Worker poll period while it feeds a slot (the callback never signals it: that takes a lock)."""

IDLE_POLL_S = 0.01
"""Worker poll period with nothing to feed: a request waits at most this long to start."""

GROUP_STEMS = 8
"""Stems one worker stretches. Measured here (benchmarks/engine.py --tempo 1.25 2): one R2
worker needs ~0.56 of a core for 8 stereo stems with a key shift and ~0.9 for 16, which does not
keep up next to the callback and the decoder on 2 cores; so more stems are split into groups,
one worker thread each, up to one per core."""


_LIVE: weakref.WeakSet[StretchedSource] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """Stop workers before the interpreter tears down (their stretchers are C++ objects)."""
    for st in list(_LIVE):
        st.close()


def is_identity(tempo_ratio: float, key_shift: int) -> bool:
    return float(tempo_ratio) == 1.0 and int(key_shift) == 0


def worker_groups(n_stems: int, cores: int | None = None) -> list[tuple[int, int]]:
    """Stem ranges [lo, hi), one per worker: as few as GROUP_STEMS allows, at most one per core,
    sizes as even as possible."""
    cores = max(1, int(cores if cores is not None else (os.cpu_count() or 1)))
    n = max(1, min(-(-int(n_stems) // GROUP_STEMS), cores))
    edges = [round(i * n_stems / n) for i in range(n + 1)]
    return [(edges[i], edges[i + 1]) for i in range(n)]


class StretchedSource:
    """Stretches the engine's play stream ahead of the playhead; see the module docstring.

    Made by `Engine.set_stretch` in the UI thread (all buffers allocated here), then handed to
    the callback through the engine's command queue."""

    def __init__(
        self, n_stems: int, sample_rate: int, max_block: int, cores: int | None = None
    ) -> None:
        from audio.stretch import require_library

        require_library()  # a missing build fails here, in the UI thread, saying what to do
        s, sr = int(n_stems), int(sample_rate)
        self.n_stems = s
        self.sample_rate = sr
        self.max_block = int(max_block)
        self.lead = round(LEAD_S * sr)
        self.switch_lead = round(SWITCH_LEAD_S * sr)
        self.xfade = max(1, round(XFADE_S * sr))
        self.fade = max(1, round(FADE_S * sr))
        self._ring = np.zeros((2, s, 2, RING_FRAMES), dtype=np.float32)

        # NB: UI thread -> callback: one immutable (ratio, key) tuple, rebound atomically.
        self._want: tuple[float, int] = (1.0, 0)

        # NB: callback -> worker (the callback writes the request fields, then bumps `_req_gen`).
        self._req_gen = np.zeros(2, dtype=np.int64)
        self._req_anchor = np.zeros(2, dtype=np.int64)  # play frame of the segment's frame 0
        self._req_ratio = np.ones(2)
        self._req_key = np.zeros(2, dtype=np.int64)
        self._req_tl: list[Timeline | None] = [None, None]
        self._req_src: list[BlockSource | None] = [None, None]
        self._active = np.zeros(2, dtype=bool)  # slots the worker should keep filled
        self._rd = np.zeros(2, dtype=np.int64)  # frames the callback has consumed per slot
        # NB: callback -> worker: the largest block read, so the lead covers a switch's needs.
        self._block = np.zeros(1, dtype=np.int64)
        self.groups = worker_groups(s, cores)
        g = len(self.groups)
        # NB: worker -> callback, one row per worker (group of stems).
        self._built = np.zeros((g, 2), dtype=np.int64)  # generation the slot's ring holds
        self._written = np.zeros((g, 2), dtype=np.int64)  # frames of that generation in it
        # NB: diagnostics, one entry per worker, written by it, read by anyone.
        self._cpu = np.zeros(g)  # worker thread CPU time spent producing audio
        self._frames = np.zeros(g, dtype=np.int64)  # output frames produced
        self._src_missing = np.zeros(g, dtype=np.int64)  # frames read before the source had them
        self.worker_error: str | None = None
        # NB: callback -> UI: frames the ring did not have in time (the workers fell behind), as
        # opposed to the expected priming after a cut (see `late_frames`).
        self._late = np.zeros(1, dtype=np.int64)

        # -- callback-owned state -------------------------------------------------------------
        self._have: tuple[float, int] | None = (1.0, 0)
        self._cur = -1  # slot being played, -1 = direct read
        self._pend = -1  # slot requested, not yet switched to
        self._j = 0  # read index in the current slot
        self._head = 0.0  # play frame of the next frame the engine reads (kernel input)
        self._adv = 0  # play frames the last read moved
        self._hold = False  # after a cut: silence until the worker has frames
        self._grace = 0  # frames of that silence still expected (priming); then it is late
        self._fade_left = 0
        self._fade_in = True  # fade in when a hold ends (not after a cut at frame 0)
        self._xf_from = -2  # crossfade source: -2 none, -1 direct, 0/1 slot
        self._xf_pos = 0
        self._xf_j = 0
        self._xf_v = 0
        self._anchor = np.zeros(2)  # callback's copy of each slot's anchor (shifted by retime)
        self._xo, self._xi = equal_power(self.xfade)
        self._ramp = ((np.arange(self.fade) + 0.5) / self.fade).astype(np.float32)
        self._scratch = np.zeros((s, 2, self.max_block), dtype=np.float32)

        self._stop = False
        self._wake = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(i,), name=f"encore-stretch-{i}", daemon=True)
            for i in range(g)
        ]
        for t in self._threads:
            t.start()
        _LIVE.add(self)

    # ------------------------------------------------------------------------------ UI thread

    def set_params(self, tempo_ratio: float, key_shift: int) -> None:
        self._want = (float(tempo_ratio), int(key_shift))  # NB: read by the callback
        self._wake.set()

    @property
    def params(self) -> tuple[float, int]:
        return self._want

    @property
    def worker_cpu_seconds(self) -> float:
        """CPU time all workers spent producing audio (benchmarks: cores needed)."""
        return float(self._cpu.sum())

    @property
    def worker_frames(self) -> int:
        """Stretched frames produced (every group produces the same count; the first is read)."""
        return int(self._frames[0])

    @property
    def source_missing(self) -> int:
        """Frames the workers read before the source had them (streaming still under way)."""
        return int(self._src_missing.sum())

    @property
    def late_frames(self) -> int:
        """Frames played as silence because the workers fell behind or were reset and not back
        in time (a ring underrun, a segment running dry in a crossfade, a cut's hold longer than
        its expected priming of LEAD_S): the UI says tempo/key cannot keep up when this grows."""
        return int(self._late[0])

    def close(self) -> None:
        """Stop the workers (the callback may still read the ring: it then plays silence)."""
        self._stop = True
        self._wake.set()
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(timeout=2.0)

    def settled(self) -> bool:
        """Every slot in use holds at least half the lead (tests and benchmarks pace on it)."""
        for k in (0, 1):
            if self._active[k] and (
                not self._ready(k) or self._avail(k) - self._rd[k] < self.lead // 2
            ):
                return self.worker_error is not None or self._stop
        return True

    @property
    def engaged(self) -> bool:
        """True while anything but the plain direct read is in effect (UI polling)."""
        return self._cur >= 0 or self._pend >= 0 or self._xf_from != -2

    # -------------------------------------------------------------------------- audio callback

    def cut(self, v: int, source: BlockSource, timeline: Timeline) -> None:
        """The engine jumped (or starts) at play frame v: drop everything, re-anchor there."""
        self._xf_from = -2
        self._pend = -1
        self._active[:] = False
        self._head = float(v)
        self._have = self._want
        ratio, key = self._have
        if is_identity(ratio, key):
            self._cur = -1
            self._hold = False
            return
        self._request(0, v, ratio, key, source, timeline)
        self._cur = 0
        self._j = 0
        self._hold = True
        self._grace = self.lead
        # At the start of the piece the stream starts from silence, as the render's does.
        self._fade_in = v != 0

    def retime(self, source: BlockSource, timeline: Timeline, delta: int) -> None:
        """A loop set/clear at a block edge changed play-frame coordinates by `delta` (and the
        stream past the loop end): shift the anchors and re-anchor on the new timeline."""
        self._head += delta
        self._anchor += delta
        self._xf_v += delta
        if self._hold:  # nothing heard yet: restart the segment on the new timeline
            assert self._have is not None  # a cut set it (to what is wanted) and held
            ratio, key = self._have
            self._request(self._cur, int(self._anchor[self._cur]), ratio, key, source, timeline)
        elif self._cur >= 0 or self._pend >= 0:
            self._have = None  # the next read requests a segment on the new timeline

    def advance(self) -> int:
        """Play frames the last `read` moved the playhead (the engine adds them to its own)."""
        return self._adv

    def read(self, source: BlockSource, timeline: Timeline, v: int, out: np.ndarray) -> int:
        """Fill out (S, 2, F) with the stream at play frame v (the engine's read head); returns
        frames missing. Bypassed (the engine's plain `timeline.read`) at ratio 1 / shift 0."""
        n = out.shape[2]
        if n > self._block[0]:
            self._block[0] = n  # NB: read by the worker (its lead)
        if (
            self._cur < 0
            and self._pend < 0
            and self._xf_from == -2
            and (self._want is self._have or is_identity(*self._want))
        ):
            self._have = self._want
            self._head = float(v + n)
            self._adv = n
            return timeline.read(source, v, out)
        if self._xf_from == -2 and not self._hold and self._want is not self._have:
            self._change(source, timeline, v)
        if self._pend >= 0:
            self._try_switch(v, n)
        if self._xf_from == -2:
            if self._cur < 0:
                self._head = float(v + n)
                self._adv = n
                return timeline.read(source, v, out)
            return self._ring_read(out)
        return self._crossfade(source, timeline, v, out)

    # -- callback internals --------------------------------------------------------------------

    def _request(
        self, k: int, anchor: int, ratio: float, key: int, source: BlockSource, tl: Timeline
    ) -> None:
        self._req_anchor[k] = anchor
        self._req_ratio[k] = ratio
        self._req_key[k] = key
        self._req_tl[k] = tl
        self._req_src[k] = source
        self._rd[k] = 0
        self._anchor[k] = anchor
        self._active[k] = True
        self._req_gen[k] += 1  # NB: published last: the worker restarts the slot on it
        # (No Event.set here: it takes a lock. The worker polls; see POLL_S.)

    def _ready(self, k: int) -> bool:
        """Every worker has started slot k's current request."""
        return bool((self._built[:, k] == self._req_gen[k]).all())

    def _avail(self, k: int) -> int:
        """Frames of slot k every worker has written (the slowest group's count)."""
        return int(self._written[:, k].min())

    def _rate(self) -> float:
        return float(self._req_ratio[self._cur]) if self._cur >= 0 else 1.0

    def _change(self, source: BlockSource, timeline: Timeline, v: int) -> None:
        self._have = self._want
        ratio, key = self._have
        if is_identity(ratio, key):
            if self._pend >= 0:
                self._active[self._pend] = False
                self._pend = -1
            if self._cur >= 0:  # crossfade from the ring back to the direct read
                self._xf_from, self._xf_j, self._xf_pos = self._cur, self._j, 0
                self._cur = -1
            return
        k = 1 - self._cur if self._cur >= 0 else (self._pend if self._pend >= 0 else 0)
        head = self._head if self._cur >= 0 else float(v)
        anchor = round(head + self.switch_lead * self._rate())
        self._request(k, anchor, ratio, key, source, timeline)
        self._pend = k

    def _lead(self) -> int:
        """Frames the worker keeps ahead of the read index: LEAD_S, and never less than a switch
        needs (the crossfade plus the largest block read), or a pending switch would never come."""
        return max(self.lead, self.xfade + int(self._block[0]))

    def _try_switch(self, v: int, n: int) -> None:
        k = self._pend
        if not self._ready(k):
            return
        head = self._head if self._cur >= 0 else float(v)
        ratio = float(self._req_ratio[k])
        off = (head - float(self._anchor[k])) / ratio
        if off < 0.0:
            return
        j = int(off)
        # NB: read by the worker: it keeps its lead ahead of where the switch will now land (a
        # late worker is caught up with, never waited for).
        self._rd[k] = j
        # The crossfade and the block being read (not max_block: the engine's is 8192 in the app,
        # more than the worker keeps ahead, and the switch then never came: issue 14).
        if self._avail(k) < j + self.xfade + n:
            return
        if self._cur >= 0:
            self._xf_from, self._xf_j = self._cur, self._j
        else:
            self._xf_from, self._xf_v = -1, v
        self._xf_pos = 0
        self._cur, self._pend, self._j = k, -1, j
        self._rd[k] = j
        self._head = float(self._anchor[k]) + j * ratio

    def _copy_ring(self, k: int, j: int, dst: np.ndarray) -> int:
        """Copy up to dst's length of slot k from index j; returns the frames copied."""
        n = dst.shape[2]
        if not self._ready(k):
            return 0
        m = min(n, self._avail(k) - j)
        if m <= 0:
            return 0
        a = j % RING_FRAMES
        first = min(m, RING_FRAMES - a)
        np.copyto(dst[:, :, :first], self._ring[k, :, :, a : a + first])
        if first < m:
            np.copyto(dst[:, :, first:m], self._ring[k, :, :, : m - first])
        return m

    def _ring_read(self, out: np.ndarray) -> int:
        """The current slot's next frames; a shortfall plays silence and holds the index."""
        n = out.shape[2]
        k = self._cur
        self._adv = 0
        if self._hold:
            if not self._ready(k) or self._avail(k) < self._j + n:
                out.fill(0.0)
                # The priming after a cut is expected; silence past it is the worker behind.
                self._late[0] += max(0, n - self._grace)
                self._grace = max(0, self._grace - n)
                return n
            self._hold = False
            self._fade_left = self.fade if self._fade_in else 0
            self._fade_in = True
        m = self._copy_ring(k, self._j, out)
        if self._fade_left > 0 and m > 0:
            q = min(m, self._fade_left)
            a = self.fade - self._fade_left
            np.multiply(out[:, :, :q], self._ramp[a : a + q], out=out[:, :, :q])
            self._fade_left -= q
        if m < n:
            out[:, :, m:].fill(0.0)
            self._fade_left = self.fade  # fade back in when the frames arrive
            self._late[0] += n - m
        before = self._head
        self._j += m
        self._rd[k] = self._j  # NB: read by the worker (ring space)
        self._head = float(self._anchor[k]) + self._j * float(self._req_ratio[k])
        self._adv = round(self._head) - round(before)
        return n - m

    def _crossfade(self, source: BlockSource, timeline: Timeline, v: int, out: np.ndarray) -> int:
        n = out.shape[2]
        src = self._xf_from
        if self._cur >= 0:
            missing = self._ring_read(out)
        else:
            missing = timeline.read(source, v, out)
            self._head = float(v + n)
            self._adv = n
        q = min(n, self.xfade - self._xf_pos)
        old = self._scratch[:, :, :q]
        if src < 0:
            missing += timeline.read(source, self._xf_v, old)
            self._xf_v += q
        else:
            m = self._copy_ring(src, self._xf_j, old)
            if m < q:
                old[:, :, m:].fill(0.0)
                self._late[0] += q - m  # the old segment ran dry: a gap in its fade-out
            self._xf_j += m
            self._rd[src] = self._xf_j
        a = self._xf_pos
        np.multiply(out[:, :, :q], self._xi[a : a + q], out=out[:, :, :q])
        np.multiply(old, self._xo[a : a + q], out=old)
        np.add(out[:, :, :q], old, out=out[:, :, :q])
        self._xf_pos += q
        if self._xf_pos >= self.xfade:
            if src >= 0:
                self._active[src] = False
            self._xf_from = -2
        return missing

    # ----------------------------------------------------------------------------------- worker

    def _run(self, group: int) -> None:
        """Worker `group`: keeps its stems [lo, hi) of every active slot LEAD_S ahead."""
        from time import thread_time

        from audio.stretch import StemStream

        lo, hi = self.groups[group]
        s = self.n_stems
        streams: list[list[StemStream]] = [[], []]  # per slot, one per stem of the group
        gens = [0, 0]
        in_pos = [0, 0]
        tls: list[Timeline | None] = [None, None]
        srcs: list[BlockSource | None] = [None, None]
        # Per slot: the Timeline requested and the worker's copy of it (own scratch, CHUNK
        # frames). Matched by identity, never by id(): a freed timeline's id is reused by the
        # next one, whose loop would then be read through the old one's copy.
        origs: list[Timeline | None] = [None, None]
        buf = np.zeros((s, 2, CHUNK), dtype=np.float32)
        pre: np.ndarray | None = None
        written = self._written[group]
        try:
            while not self._stop:
                busy = False
                for k in (0, 1):
                    if not self._active[k]:
                        continue
                    g = int(self._req_gen[k])
                    if g != gens[k]:
                        ratio, key = float(self._req_ratio[k]), int(self._req_key[k])
                        anchor = int(self._req_anchor[k])
                        tl, src = self._req_tl[k], self._req_src[k]
                        if tl is None or src is None:
                            continue
                        t0 = thread_time()
                        if not streams[k]:
                            streams[k] = [StemStream(self.sample_rate) for _ in range(lo, hi)]
                        # This timeline's clone, if either stream already has one.
                        known = (
                            tls[k] if origs[k] is tl else tls[1 - k] if origs[1 - k] is tl else None
                        )
                        if known is not None:
                            clone = known
                        else:
                            clone = Timeline(
                                s,
                                CHUNK,
                                tl.source_frames,
                                tl.sample_rate,
                                list(tl.segments) if tl.arranged else None,
                                tl.loop,
                            )
                        origs[k], tls[k], srcs[k] = tl, clone, src
                        # The same stream as the offline render (audio.stretch): pre-roll before
                        # the first input frame, then CHUNK frames at a time.
                        lead_stream = streams[k][0]
                        n_pre = lead_stream.preroll
                        if pre is None:
                            pre = np.zeros((s, 2, n_pre), dtype=np.float32)
                        start = lead_stream.input_start(anchor)
                        for i in range(0, n_pre, CHUNK):
                            self._src_missing[group] += clone.read(
                                src, start - n_pre + i, pre[:, :, i : i + CHUNK]
                            )
                        for j, stream in enumerate(streams[k]):
                            stream.start(ratio, key, pre[lo + j])
                        in_pos[k] = start
                        self._cpu[group] += thread_time() - t0
                        written[k] = 0
                        gens[k] = g
                        self._built[group, k] = g  # NB: after `written` is reset
                    ahead = int(written[k]) - int(self._rd[k])
                    if ahead >= self._lead() or RING_FRAMES - ahead < 8 * CHUNK:
                        continue
                    busy = True
                    tl, src = tls[k], srcs[k]
                    assert tl is not None and src is not None  # set when this request was built
                    t0 = thread_time()
                    self._src_missing[group] += tl.read(src, in_pos[k], buf)
                    in_pos[k] += CHUNK
                    m = -1
                    w = int(written[k])
                    a = w % RING_FRAMES
                    for j, stream in enumerate(streams[k]):
                        got = stream.feed(buf[lo + j])
                        m = got.shape[1]  # the same for every stem: a function of the call only
                        if m == 0:
                            continue
                        part = min(m, RING_FRAMES - a)
                        self._ring[k, lo + j, :, a : a + part] = got[:, :part]
                        if part < m:
                            self._ring[k, lo + j, :, : m - part] = got[:, part:]
                    self._cpu[group] += thread_time() - t0
                    if m <= 0 or int(self._req_gen[k]) != g:
                        continue
                    written[k] = w + m  # NB: published after the frames are in
                    self._frames[group] += m
                if not busy:
                    self._wake.wait(POLL_S if self._active.any() else IDLE_POLL_S)
                    self._wake.clear()
        except Exception as exc:  # a worker fault: the callback plays silence (counted)
            self.worker_error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            for slot in streams:
                for stream in slot:
                    stream.close()
