"""The timeline: every stem's waveform in its own lane, with sections, loop, arrangement,
automation and the playhead, above the mixer strips.

What is drawn where:

- a ruler strip on top: the track's sections (or, when the remix is arranged, its slots as
  blocks) with their names, and the loop region;
- one lane per stem in the colour of its mixer strip: the waveform from the peak cache
  (app/peaks.py, filled off the UI thread by the stream's decode worker), hatched as loading
  where the audio has not been decoded yet; the stem's automation curves over it; a lane dims
  with the stem's gain, mute and solo (what is heard at the playhead), so the picture shows the
  mix;
- the playhead, across everything.

Time runs along x in seconds of the arranged piece at the original tempo: the engine's timeline,
in which seeks, loops and automation points are expressed. An arranged slot draws the waveform of
its source range.

Drawing is cheap on purpose (benchmarks/timeline.py): the lanes, section lines and automation
are rendered once per zoom level into a QPixmap (built with numpy, a column per pixel), covering
the view and a view's width either side; a frame that only moves the playhead repaints two thin
strips. The cache is rebuilt when the zoom changes, the view leaves it, the structure changes, or
(at most every REBUILD_MS while loading) new peaks arrive.

Mouse and keys: click or drag in the lanes seeks (the engine follows the pointer); Shift-drag in
the lanes, or a drag in the ruler, sets the loop; drag a loop end in the ruler to move it, or the
loop's middle to move it whole. Ctrl+wheel (or a pinch) zooms around the pointer, the wheel
scrolls, Shift+wheel scrolls the lanes when there are more than fit; with the keyboard focus,
+ and - zoom, 0 fits the whole piece, Left/Right scroll. From anywhere in the window View ▸ Zoom
in / out / to fit (Ctrl++ or Ctrl+=, Ctrl+-, Ctrl+0: ui/menus.py) do the same as + - 0.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QNativeGestureEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPixmap,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QSizePolicy, QSplitter, QWidget

from app.peaks import PeakCache
from app.studio import Studio
from app.studiosession import StudioSession

RULER = 18
"""Height of the ruler strip (section names, loop handles)."""
THIN_RULER = 5
"""The ruler of a squeezed timeline: the sections' colours and the loop, no names."""
LANE_MIN = 8
"""A lane's least height: a waveform still readable as one (loud, quiet, silent). With more stems
than fit at this height the lanes scroll (Shift+wheel) instead of squeezing further."""
LANE_MAX = 56
"""A lane's greatest height: a bigger window gives the rest of its height to the strips."""
MIN_HEIGHT = RULER + 8 * LANE_MIN
"""The least height (82 px): eight stems' lanes and the named ruler. The studio keeps it at
1280×720 (tests/test_ui_layout.py); ~130 px at 1366×768, the lanes in full (LANE_MAX) at 1080p."""
SPLIT_HANDLE = 6
"""The handle between the timeline and the strips (ui/mainwindow.py): drag it to trade the one
for the other; where it is is remembered with the window (ui/windowstate.py)."""
PREFERRED_LANES_HEIGHT = 160
REBUILD_MS = 250
"""While peaks arrive the cached lanes are rebuilt at most this often (a few times a second)."""
ZOOM_STEP = 1.25
"""One wheel notch (Ctrl+wheel) of zoom."""
ZOOM_KEY_STEP = 2.0
"""One press of + or - (or View ▸ Zoom in / out): the visible span halves or doubles."""
MIN_SPAN = 0.5
"""The narrowest view: half a second across the widget."""
EDGE_PX = 5
"""How close to a loop end a press in the ruler grabs that end."""
MIN_LOOP = 0.06
"""Seconds: shorter drags are clicks (the engine refuses loops under 50 ms)."""

BACKGROUND = QColor("#101117")
LANE_BACKGROUND = (QColor("#15161e"), QColor("#181922"))
RULER_BACKGROUND = QColor("#1c1d27")
SECTION_FILL = (QColor("#232434"), QColor("#2a2b3d"))
ARRANGED_FILL = (QColor("#33264a"), QColor("#3d2d58"))
TEXT = QColor("#d8d8e6")
SECTION_LINE = QColor(230, 230, 239, 60)
LOOP_FILL = QColor(124, 156, 255, 45)
LOOP_EDGE = QColor(124, 156, 255, 230)
PLAYHEAD = QColor("#ffffff")
HINT = QColor("#6f7088")
EMPTY_HINT = "Open a track: each of its stems gets a lane here, with its waveform"
DIM_FLOOR = 0.18
"""Brightness of a lane that is not heard (muted, or another stem soloed)."""
AUTOMATION_COLORS = {
    "gain_db": QColor("#ffffff"),
    "pan": QColor("#5cffe0"),
    "mute": QColor("#ff4d6d"),
    "send_reverb": QColor("#9cff5c"),
    "send_delay": QColor("#ffc857"),
}
AUTOMATION_RANGES = {
    "gain_db": (-60.0, 12.0),
    "pan": (-1.0, 1.0),
    "mute": (0.0, 1.0),
    "send_reverb": (0.0, 1.0),
    "send_delay": (0.0, 1.0),
}


def brightness(gain_db: float, muted: bool, heard: bool = True) -> float:
    """How bright a stem's lane is drawn: DIM_FLOOR when it is not heard, else rising with the
    fader from DIM_FLOOR (-60 dB) to 1 (+6 dB), so a pulled-down stem looks pulled down."""
    if muted or not heard:
        return DIM_FLOOR
    x = min(max((gain_db + 60.0) / 66.0, 0.0), 1.0)
    return DIM_FLOOR + (1.0 - DIM_FLOOR) * x**0.7


@dataclass
class Block:
    """A named span of the piece in the ruler: a section, or an arranged slot."""

    name: str
    start: float
    end: float


@dataclass
class Structure:
    """What the piece is made of, in the engine's time: its length, the source frame ranges
    played in order (`segments`; the whole track once when not arranged) and the ruler blocks."""

    duration: float
    rate: int
    segments: list[tuple[int, int]]
    blocks: list[Block] = field(default_factory=list)
    arranged: bool = False


class TimelineView(QWidget):
    seekRequested = Signal(float)
    """Seconds of the piece (the engine's time): the user clicked or dragged the lanes."""
    loopRequested = Signal(float, float)
    """Seconds of the piece: the user drew or moved the loop."""
    viewChanged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("timeline")
        self.setAccessibleName("Timeline")
        self.setAccessibleDescription(
            "Waveform of every stem. Click to jump there, Shift-drag or drag the ruler to loop, "
            "Ctrl+wheel or + and - to zoom, 0 to show the whole piece"
        )
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMinimumHeight(MIN_HEIGHT)
        self.peaks: PeakCache | None = None
        self.names: list[str] = []
        self.colors: list[QColor] = []
        self.structure: Structure | None = None
        self.loop: tuple[float, float] | None = None
        self.position = 0.0
        self.levels: list[float] = []
        self.automation: list[tuple[int, str, list[tuple[float, float]]]] = []
        self.start = 0.0  # seconds at the left edge
        self.span = 1.0  # seconds across the widget
        self._lane_scroll = 0
        self._cache: dict[float, tuple[float, QPixmap]] = {}
        self._peak_version = -1
        self._built_at = 0.0
        self._drag: tuple[str, float, tuple[float, float] | None] | None = None
        self._preview: tuple[float, float] | None = None
        self._was_in_view = True
        self.paint_seconds = 0.0
        """UI thread CPU time spent in paintEvent (time.thread_time), for the benchmark."""
        self.paints = 0
        self._playhead_x = -1

    # -- what is shown (set by the window) -------------------------------------------------------

    def sizeHint(self) -> QSize:
        size = super().sizeHint()
        size.setHeight(min(RULER + PREFERRED_LANES_HEIGHT, self.maximumHeight()))
        return size

    def set_track(self, peaks: PeakCache | None, names: Sequence[str], colors: Sequence[str]):
        """A new track (or none): its stems' peak cache, names and strip colours."""
        self.peaks = peaks
        self.names = list(names)
        self.colors = [QColor(c) for c in colors]
        self.levels = [1.0] * len(self.names)
        # Never under the minimum (a track of one stem, or none); none before the first track,
        # so the height remembered with the window (ui/windowstate.py) is restored whole.
        self.setMaximumHeight(max(MIN_HEIGHT, RULER + LANE_MAX * len(self.names)))
        self.automation = []
        self.loop = None
        self.structure = None  # the next set_structure fits the new piece
        self._lane_scroll = 0
        self._peak_version = -1
        self.invalidate()

    def set_structure(self, structure: Structure | None) -> None:
        """The piece's length, arrangement and sections; the view fits the whole piece."""
        old = self.structure
        if structure == old:
            return  # an edit that left the piece as it was (a fader move): keep the cache
        self.structure = structure
        if old is None or structure is None or abs(old.duration - structure.duration) > 1e-6:
            self.zoom_fit()
        self.invalidate()

    def set_loop(self, loop: tuple[float, float] | None) -> None:
        if loop != self.loop:
            self.loop = loop
            self.update()

    def set_levels(self, levels: Sequence[float]) -> None:
        """Each lane's brightness (0..1, see `brightness`); repaints only when one changed."""
        levels = [round(x, 3) for x in levels]
        if levels != self.levels:
            self.levels = levels
            self.update()

    def set_automation(self, lanes: Sequence[tuple[int, str, list[tuple[float, float]]]]) -> None:
        """(lane index, parameter, points [(seconds, value)]) of every automation lane."""
        lanes = [(i, p, list(points)) for i, p, points in lanes]
        if lanes != self.automation:
            self.automation = lanes
            self.invalidate()

    def set_position(self, seconds: float, playing: bool = False) -> None:
        """Move the playhead (every UI tick). While playing, a playhead that runs out of the
        view turns the page; one the user scrolled away from is left alone."""
        self.position = seconds
        inside = self.start <= seconds <= self.start + self.span
        if playing and not inside and self._was_in_view and self._drag is None:
            self._scroll_to(seconds - 0.05 * self.span)
            inside = True
        self._was_in_view = inside
        x = round(self._x(seconds))
        if x != self._playhead_x:
            h = self.height()
            # The head on the ruler is 9 px wide: repaint all of it, or it leaves a trail.
            if self._playhead_x >= 0:
                self.update(QRect(self._playhead_x - 4, 0, 9, h))
            self.update(QRect(x - 4, 0, 9, h))
            self._playhead_x = x

    def poll(self) -> None:
        """Every UI tick: redraw the lanes when new peaks came in (at most every REBUILD_MS)."""
        peaks = self.peaks
        if peaks is None or peaks.version == self._peak_version:
            return
        now = time.monotonic()
        if now - self._built_at < REBUILD_MS / 1000 and not peaks.complete():
            return
        self._peak_version = peaks.version
        self.invalidate()

    def invalidate(self) -> None:
        """Forget the cached lanes (the content changed) and repaint."""
        self._cache.clear()
        self.update()

    # -- state tests and tools read --------------------------------------------------------------

    def lane_state(self, index: int) -> str:
        """'loading' (nothing decoded), 'partial' or 'ready' (the whole stem is drawn)."""
        if self.peaks is None:
            return "loading"
        fraction = self.peaks.fraction(index)
        return "ready" if fraction >= 1.0 else "partial" if fraction > 0 else "loading"

    def lane_rect(self, index: int) -> QRect:
        """Where lane `index` is drawn (widget pixels; may be scrolled out of view)."""
        h = self._lane_height()
        return QRect(0, self._ruler() + index * h - self._lane_scroll, self.width(), h)

    def x_of(self, seconds: float) -> float:
        return self._x(seconds)

    def seconds_at(self, x: float) -> float:
        return self.start + x * self.span / max(self.width(), 1)

    @property
    def duration(self) -> float:
        return self.structure.duration if self.structure is not None else 0.0

    # -- zoom and scroll -------------------------------------------------------------------------

    def zoom_fit(self) -> None:
        self.start, self.span = 0.0, max(self.duration, MIN_SPAN)
        self._view_changed()

    def zoom_in(self) -> None:
        """Halve the visible span (+, View ▸ Zoom in), around the playhead when it is in view so
        what plays stays in sight, else around the view's middle."""
        self.zoom(ZOOM_KEY_STEP, self.position if self._in_view() else None)

    def zoom_out(self) -> None:
        """Double the visible span (-, View ▸ Zoom out), never beyond the whole piece."""
        self.zoom(1 / ZOOM_KEY_STEP, self.position if self._in_view() else None)

    def zoom(self, factor: float, around: float | None = None) -> None:
        """Zoom in (factor > 1) or out around `around` seconds (the view's middle if None)."""
        if self.duration <= 0:
            return
        at = self.start + self.span / 2 if around is None else around
        frac = (at - self.start) / self.span
        span = min(max(self.span / factor, MIN_SPAN), max(self.duration, MIN_SPAN))
        self.span = span
        self._scroll_to(at - frac * span)

    def scroll_by(self, seconds: float) -> None:
        self._scroll_to(self.start + seconds)

    def _scroll_to(self, start: float) -> None:
        self.start = min(max(start, 0.0), max(self.duration - self.span, 0.0))
        self._view_changed()

    def _view_changed(self) -> None:
        self._playhead_x = -1
        self.update()
        self.viewChanged.emit()

    # -- geometry --------------------------------------------------------------------------------

    def _x(self, seconds: float) -> float:
        return (seconds - self.start) * self.width() / self.span

    def _ruler(self) -> int:
        """The ruler's height: full with names when the lanes get at least a few pixels each."""
        n = max(len(self.names), 1)
        return RULER if self.height() >= RULER + 4 * min(n, 4) else THIN_RULER

    def _lane_height(self) -> int:
        n = max(len(self.names), 1)
        fair = (self.height() - self._ruler()) // n
        if fair >= LANE_MIN or self.height() < self._ruler() + 4 * LANE_MIN:
            return max(fair, 1)  # all lanes fit, or too little room to scroll: an overview
        return LANE_MIN

    def _max_lane_scroll(self) -> int:
        return max(0, self._ruler() + self._lane_height() * len(self.names) - self.height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._lane_scroll = min(self._lane_scroll, self._max_lane_scroll())
        self._cache.clear()
        self._playhead_x = -1
        super().resizeEvent(event)

    # -- rendering the cached lanes --------------------------------------------------------------

    def _cached(self) -> tuple[float, QPixmap] | None:
        """(start seconds, pixmap) of the cached lanes at this zoom covering the view."""
        if self.structure is None or self.width() <= 0 or self.height() <= 0:
            return None
        spp = self.span / self.width()
        key = round(spp, 12)
        hit = self._cache.get(key)
        if hit is not None:
            c0, pixmap = hit
            c1 = c0 + pixmap.width() * spp
            if c0 <= self.start + 1e-9 and self.start + self.span <= c1 + spp:
                return hit
        # A view's width either side (within the piece), so scrolling blits from the cache.
        c0 = max(0.0, self.start - self.span)
        c1 = min(max(self.duration, self.start + self.span), self.start + 2 * self.span)
        width = max(self.width(), round((c1 - c0) / spp))
        # Pixels on a whole-column grid of the view: the cache blits without resampling.
        c0 = self.start - round((self.start - c0) / spp) * spp
        pixmap = self._render(c0, spp, width)
        if len(self._cache) >= 3:
            self._cache.pop(next(iter(self._cache)))
        self._cache[key] = (c0, pixmap)
        self._built_at = time.monotonic()
        return c0, pixmap

    def _render(self, c0: float, spp: float, width: int) -> QPixmap:
        """Lanes, section lines and automation for columns starting at c0 seconds."""
        height = self.height()
        image = np.empty((height, width), dtype=np.uint32)
        image[:] = BACKGROUND.rgba()
        lane_h = self._lane_height()
        ruler = self._ruler()
        columns = self._column_peaks(c0, spp, width)
        xs = np.arange(width)
        for i in range(len(self.names)):
            top = ruler + i * lane_h - self._lane_scroll
            lo_y, hi_y = max(top, ruler), min(top + lane_h, height)
            if hi_y <= lo_y:
                continue
            lane = image[lo_y:hi_y]
            lane[:] = LANE_BACKGROUND[i % 2].rgba()
            rows = np.arange(lo_y, hi_y)[:, None]
            mid = top + lane_h / 2
            amp = max(lane_h / 2 - (2 if lane_h > 8 else 0), 0.5)
            lo, hi = columns[i]
            known = ~np.isnan(lo)
            inside = np.zeros(width, dtype=bool)
            inside[: len(lo)] = True
            color = self.colors[i] if i < len(self.colors) else QColor("#9a9bb0")
            # Loading: a diagonal hatch in the lane's colour, faint.
            loading = inside.copy()
            loading[: len(lo)] &= ~known
            if loading.any():
                hatch = ((rows + xs[None, :]) // 3) % 4 == 0
                faint = QColor(color)
                faint.setAlpha(255)
                mixed = _mix(faint, LANE_BACKGROUND[i % 2], 0.35).rgba()
                np.copyto(lane, np.uint32(mixed), where=hatch & loading[None, :])
            if known.any():
                top_y = np.full(width, np.inf)
                bot_y = np.full(width, -np.inf)
                k = np.flatnonzero(known)
                hi_k = _display(hi[k])
                lo_k = _display(lo[k])
                top_y[k] = np.floor(np.minimum(mid - hi_k * amp, mid))
                bot_y[k] = np.ceil(np.maximum(mid - lo_k * amp, mid))
                wave = (rows >= top_y[None, :]) & (rows <= bot_y[None, :])
                np.copyto(lane, np.uint32(color.rgba()), where=wave)
        image_q = QImage(image.data, width, height, width * 4, QImage.Format.Format_ARGB32)
        pixmap = QPixmap.fromImage(image_q)  # a copy: `image` may go
        painter = QPainter(pixmap)
        self._paint_structure(painter, c0, spp, width)
        self._paint_automation(painter, c0, spp, lane_h)
        painter.end()
        return pixmap

    def _column_peaks(
        self, c0: float, spp: float, width: int
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per lane, (mins, maxs) of each column from c0 (NaN: not decoded; arrays stop at the
        piece's end), through the arrangement's segments."""
        s = self.structure
        assert s is not None
        n = len(self.names)
        end = min(width, max(0, int(np.ceil((s.duration - c0) / spp))))
        out = [
            (np.full(end, np.nan, dtype=np.float32), np.full(end, np.nan, dtype=np.float32))
            for _ in range(n)
        ]
        if self.peaks is None or end <= 0:
            return out
        edges = (c0 + np.arange(end + 1) * spp) * s.rate  # timeline frames
        fpp = spp * s.rate
        t0 = 0
        for a, b in s.segments:
            t1 = t0 + (b - a)
            cols = np.flatnonzero((edges[:-1] >= t0) & (edges[:-1] < t1))
            if cols.size:
                first, last = int(cols[0]), int(cols[-1]) + 1
                src = np.clip(edges[first : last + 1] - t0 + a, a, b).astype(np.int64)
                for i in range(min(n, self.peaks.n_stems)):
                    lo, hi = self.peaks.columns(i, src, fpp)
                    out[i][0][first:last] = lo
                    out[i][1][first:last] = hi
            t0 = t1
        return out

    def _paint_structure(self, painter: QPainter, c0: float, spp: float, width: int) -> None:
        """The ruler's blocks with their names, and a line through the lanes at each boundary."""
        s = self.structure
        assert s is not None
        h = self.height()
        ruler = self._ruler()
        painter.fillRect(QRect(0, 0, width, ruler), RULER_BACKGROUND)
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        painter.setFont(font)
        fills = ARRANGED_FILL if s.arranged else SECTION_FILL
        for j, block in enumerate(s.blocks):
            x0 = (block.start - c0) / spp
            x1 = (block.end - c0) / spp
            if x1 < 0 or x0 > width:
                continue
            rect = QRectF(x0, 1, max(x1 - x0 - 1, 1), ruler - 2)
            painter.fillRect(rect, fills[j % 2])
            painter.setPen(QPen(SECTION_LINE, 1))
            painter.drawLine(QPointF(x0, ruler), QPointF(x0, h))
            if rect.width() > 24 and ruler == RULER:
                painter.setPen(TEXT)
                text = painter.fontMetrics().elidedText(
                    block.name.capitalize(), Qt.TextElideMode.ElideRight, int(rect.width() - 8)
                )
                painter.drawText(
                    rect.adjusted(4, 0, -4, 0),
                    int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft),
                    text,
                )
        # The piece's end.
        x_end = (s.duration - c0) / spp
        if 0 <= x_end <= width:
            painter.setPen(QPen(SECTION_LINE, 1))
            painter.drawLine(QPointF(x_end, 0), QPointF(x_end, h))

    def _paint_automation(self, painter: QPainter, c0: float, spp: float, lane_h: int) -> None:
        """Each automation lane as a step curve over its stem's lane (its value's range top to
        bottom), with a dot at each point."""
        if not self.automation:
            return
        right = c0 + painter.device().width() * spp
        for index, param, points in self.automation:
            if not points:
                continue
            pad = 2 if lane_h > 8 else 0
            top = self._ruler() + index * lane_h - self._lane_scroll + pad
            usable = max(lane_h - 2 * pad, 1)
            lo, hi = AUTOMATION_RANGES.get(param, (0.0, 1.0))

            def y(value: float, top: float = top, usable: float = usable, lo=lo, hi=hi) -> float:
                v = min(max(value, lo), hi)
                return top + (1.0 - (v - lo) / (hi - lo)) * usable

            path = QPainterPath()
            path.moveTo(max(-1.0, (0.0 - c0) / spp), y(points[0][1]))
            for t, value in points:
                x = (t - c0) / spp
                path.lineTo(x, path.currentPosition().y())  # the value holds until the point
                path.lineTo(x, y(value))
            path.lineTo((max(self.duration, right) - c0) / spp, path.currentPosition().y())
            color = AUTOMATION_COLORS.get(param, QColor("#ffffff"))
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)  # steps: crisp
            painter.setPen(QPen(color, 2 if lane_h > 8 else 1))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(path)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(color)
            for t, value in points:
                x = (t - c0) / spp
                if -3 <= x <= painter.device().width() + 3:
                    painter.drawEllipse(QPointF(x, y(value)), 2.5, 2.5)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)

    # -- painting each frame ---------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        started = time.thread_time()
        painter = QPainter(self)
        clip = event.rect()
        painter.fillRect(clip, BACKGROUND)
        cached = self._cached()
        if cached is not None:
            c0, pixmap = cached
            spp = self.span / self.width()
            offset = round((self.start - c0) / spp)
            painter.drawPixmap(clip, pixmap, clip.translated(offset, 0))
            self._paint_levels(painter, clip)
            self._paint_names(painter, clip)
            self._paint_loop(painter, clip)
            x = round(self._x(self.position))
            if clip.left() - 4 <= x <= clip.right() + 4:
                painter.fillRect(QRect(x - 1, 0, 2, self.height()), PLAYHEAD)
                painter.fillRect(QRect(x - 4, 0, 9, 3), PLAYHEAD)
        elif self.structure is None:
            painter.setPen(HINT)
            painter.drawText(self.rect(), int(Qt.AlignmentFlag.AlignCenter), EMPTY_HINT)
        if self.hasFocus():
            painter.setPen(QPen(LOOP_EDGE, 1))
            painter.drawRect(self.rect().adjusted(0, 0, -1, -1))
        painter.end()
        self.paint_seconds += time.thread_time() - started
        self.paints += 1

    def _paint_levels(self, painter: QPainter, clip: QRect) -> None:
        """Dim each lane by how little of it is heard (a veil of the background colour)."""
        for i, level in enumerate(self.levels):
            if level >= 0.999:
                continue
            veil = QColor(BACKGROUND)
            veil.setAlphaF(min(max(1.0 - level, 0.0), 1.0))
            rect = (
                self.lane_rect(i)
                .intersected(clip)
                .intersected(QRect(0, self._ruler(), self.width(), self.height()))
            )
            if not rect.isEmpty():
                painter.fillRect(rect, veil)

    def _paint_names(self, painter: QPainter, clip: QRect) -> None:
        """Each lane's stem name at its left edge, small, on a backing so the waveform under it
        does not garble it (kept in place while the lanes scroll)."""
        lane_h = self._lane_height()
        if lane_h < 15 or clip.left() > 160:
            return
        font = QFont(self.font())
        font.setPointSizeF(max(6.5, font.pointSizeF() * 0.8))
        painter.setFont(font)
        metrics = painter.fontMetrics()
        backing = QColor(BACKGROUND)
        backing.setAlpha(200)
        for i, name in enumerate(self.names):
            rect = self.lane_rect(i)
            if rect.bottom() < self._ruler() or not rect.intersects(clip):
                continue
            box = QRect(3, rect.top() + 1, metrics.horizontalAdvance(name) + 6, metrics.height())
            painter.fillRect(box, backing)
            painter.setPen(TEXT)
            painter.drawText(box, int(Qt.AlignmentFlag.AlignCenter), name)

    def _paint_loop(self, painter: QPainter, clip: QRect) -> None:
        loop = self._preview or self.loop
        if loop is None:
            return
        x0, x1 = self._x(loop[0]), self._x(loop[1])
        rect = QRectF(x0, 0, max(x1 - x0, 1.0), self.height())
        if not rect.intersects(QRectF(clip)):
            return
        painter.fillRect(rect, LOOP_FILL)
        painter.fillRect(QRectF(x0, 0, max(x1 - x0, 1.0), 4), LOOP_EDGE)
        painter.fillRect(QRectF(x0 - 1, 0, 2, self.height()), LOOP_EDGE)
        painter.fillRect(QRectF(x1 - 1, 0, 2, self.height()), LOOP_EDGE)

    # -- mouse -----------------------------------------------------------------------------------

    def _clamp(self, seconds: float) -> float:
        return min(max(seconds, 0.0), self.duration)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self.structure is None:
            super().mousePressEvent(event)
            return
        x = event.position().x()
        t = self._clamp(self.seconds_at(x))
        in_ruler = event.position().y() < self._ruler()
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if in_ruler and self.loop is not None:
            x0, x1 = self._x(self.loop[0]), self._x(self.loop[1])
            if abs(x - x0) <= EDGE_PX:
                self._drag = ("start", t, self.loop)
            elif abs(x - x1) <= EDGE_PX:
                self._drag = ("end", t, self.loop)
            elif x0 < x < x1:
                self._drag = ("move", t, self.loop)
            else:
                self._drag = ("draw", t, None)
        elif in_ruler or shift:
            self._drag = ("draw", t, None)
        else:
            self._drag = ("seek", t, None)
            self.seekRequested.emit(t)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        x = event.position().x()
        if self._drag is None:
            self._hover_cursor(event)
            return
        kind, anchor, loop = self._drag
        t = self._clamp(self.seconds_at(x))
        if kind == "seek":
            self.seekRequested.emit(t)
            return
        if kind == "draw":
            self._preview = (min(anchor, t), max(anchor, t))
        elif kind == "move" and loop is not None:
            length = loop[1] - loop[0]
            a = min(max(loop[0] + t - anchor, 0.0), self.duration - length)
            self._preview = (a, a + length)
        elif kind == "start" and loop is not None:
            self._preview = (min(t, loop[1]), max(t, loop[1]))
        elif kind == "end" and loop is not None:
            self._preview = (min(loop[0], t), max(loop[0], t))
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._drag is None:
            super().mouseReleaseEvent(event)
            return
        kind, anchor, _loop = self._drag
        preview, self._preview, self._drag = self._preview, None, None
        if kind == "seek":
            return
        if preview is not None and preview[1] - preview[0] >= MIN_LOOP:
            self.loopRequested.emit(*preview)
        elif kind == "draw":
            self.seekRequested.emit(anchor)  # a click in the ruler: jump there
        self.update()

    def _hover_cursor(self, event: QMouseEvent) -> None:
        shape = Qt.CursorShape.ArrowCursor
        if event.position().y() < self._ruler() and self.loop is not None:
            x = event.position().x()
            x0, x1 = self._x(self.loop[0]), self._x(self.loop[1])
            if min(abs(x - x0), abs(x - x1)) <= EDGE_PX:
                shape = Qt.CursorShape.SizeHorCursor
            elif x0 < x < x1:
                shape = Qt.CursorShape.OpenHandCursor
        if self.cursor().shape() != shape:
            self.setCursor(shape)

    # -- wheel, pinch, keys ----------------------------------------------------------------------

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta()
        mods = event.modifiers()
        if mods & Qt.KeyboardModifier.ControlModifier:
            steps = delta.y() / 120
            self.zoom(ZOOM_STEP**steps, self.seconds_at(event.position().x()))
        elif mods & Qt.KeyboardModifier.ShiftModifier and self._max_lane_scroll() > 0:
            self._lane_scroll = min(
                max(self._lane_scroll - delta.y() // 4, 0), self._max_lane_scroll()
            )
            self.invalidate()
        else:
            steps = (delta.x() or delta.y()) / 120
            self.scroll_by(-steps * 0.1 * self.span)
        event.accept()

    def event(self, event: QEvent) -> bool:
        if (
            isinstance(event, QNativeGestureEvent)
            and event.gestureType() == Qt.NativeGestureType.ZoomNativeGesture
        ):
            self.zoom(1.0 + event.value(), self.seconds_at(event.position().x()))
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_in()
        elif key in (Qt.Key.Key_Minus, Qt.Key.Key_Underscore):
            self.zoom_out()
        elif key == Qt.Key.Key_0:
            self.zoom_fit()
        elif key == Qt.Key.Key_Left:
            self.scroll_by(-0.25 * self.span)
        elif key == Qt.Key.Key_Right:
            self.scroll_by(0.25 * self.span)
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def _in_view(self) -> bool:
        return self.start <= self.position <= self.start + self.span

    def focusInEvent(self, event) -> None:
        self.update()
        super().focusInEvent(event)

    def focusOutEvent(self, event) -> None:
        self.update()
        super().focusOutEvent(event)


def _display(values: np.ndarray) -> np.ndarray:
    """Sample values to lane heights (-1..1) on a square-root scale: stems sit well below full
    scale (a mix's headroom), and a linear scale draws a quiet stem as a flat line."""
    v = np.clip(values, -1.0, 1.0)
    return np.sign(v) * np.sqrt(np.abs(v))


def _mix(a: QColor, b: QColor, amount: float) -> QColor:
    """`amount` of a over b (opaque)."""
    return QColor(
        round(a.red() * amount + b.red() * (1 - amount)),
        round(a.green() * amount + b.green() * (1 - amount)),
        round(a.blue() * amount + b.blue() * (1 - amount)),
    )


def timeline_splitter(timeline: TimelineView, below: QWidget) -> QSplitter:
    """The timeline over `below` (the mixer's strips) in a vertical splitter. Neither collapses
    (each keeps its minimum: the strips whole, the timeline's eight lanes); a growing window
    gives the timeline its room first, up to LANE_MAX a lane, then the strips (longer faders),
    until the user drags the handle, after which both keep their share."""
    splitter = QSplitter(Qt.Orientation.Vertical)
    splitter.setObjectName("timelineSplit")
    splitter.setChildrenCollapsible(False)
    splitter.setHandleWidth(SPLIT_HANDLE)
    splitter.addWidget(timeline)
    splitter.addWidget(below)
    splitter.setStretchFactor(0, 1)
    splitter.setStretchFactor(1, 0)
    splitter.handle(1).setToolTip("Drag to give the timeline or the strips more height")
    return splitter


class TimelineFeed:
    """Keeps a `TimelineView` in step with the `Studio`: the open track's peaks and strip
    colours, the arrangement and sections, automation, each lane's brightness, the loop and the
    playhead. Kept out of ui/mainwindow.py so the window only creates it and calls `tick`.

    It reads the studio; every edit the view asks for (seek, loop) goes back through the
    window's own paths (the session's seek, `Studio.set_loop`), as the position bar's do.

    While another remix is heard (the session's listening route) it shows that remix instead:
    one lane of its waveform, its length and its playhead, so a click seeks what is heard."""

    RENDER_COLOR = "#8a8f98"

    def __init__(
        self, studio: Studio, view: TimelineView, session: StudioSession | None = None
    ) -> None:
        self.studio, self.view, self.session = studio, view, session
        self._track: object | None = None
        self._render: object | None = None  # the render shown in place of the track
        studio.on_change(lambda _doc: self.document_changed())

    def heard_changed(self) -> None:
        """Listening began (the render's lane) or ended (the track's lanes again)."""
        render = self.session.render if self.session is not None else None
        if render is None:
            if self._render is not None:
                self._render = None
                self.track_opened()
            return
        if render is self._render:
            return
        self._render = render
        keep = self.view.maximumHeight()  # the window's layout stays as it was
        self.view.set_track(render.peaks(), [render.name], [self.RENDER_COLOR])
        self.view.setMaximumHeight(keep)
        duration = render.duration_seconds
        self.view.set_structure(
            Structure(
                duration=duration,
                rate=render.engine.sample_rate,
                segments=[(0, render.n_frames)],
                blocks=[],
            )
        )
        self.view.set_levels([1.0])

    def track_opened(self) -> None:
        """A track opened (or closed): its lanes, in its strips' colours."""
        from ui.mixer import KIND_COLORS

        self._render = None
        track = self.studio.track
        self._track = track
        if track is None:
            self.view.set_track(None, [], [])
            self.view.set_structure(None)
            return
        self.view.set_track(
            track.peaks,
            [s.name for s in track.stems],
            [KIND_COLORS.get(s.kind.value, KIND_COLORS["other"]) for s in track.stems],
        )
        self.document_changed()

    def document_changed(self) -> None:
        """An edit: the arrangement, automation and brightness may have changed."""
        track, doc = self.studio.track, self.studio.document
        if track is None or doc is None or track is not self._track or self.studio.listening:
            return
        self.view.set_structure(self._structure())
        ids = track.stem_ids
        self.view.set_automation(
            [
                (ids.index(lane.stem), lane.param, list(lane.points))
                for lane in doc.automation
                if lane.stem in ids
            ]
        )
        self._levels()

    def tick(self) -> None:
        """Every UI tick (~30 Hz): playhead, loop, brightness, and new peaks."""
        render = self.session.render if self.session is not None else None
        if render is not None:
            if render is not self._render:
                self.heard_changed()
            self.view.set_loop(None)
            self.view.poll()
            self.view.set_position(render.position_seconds, render.playing)
            return
        if self.studio.track is None or self.studio.track is not self._track:
            return
        if self.studio.listening:
            return
        engine = self.studio.engine
        structure = self._structure()
        if structure != self.view.structure:  # e.g. the arrangement changed the piece's length
            self.view.set_structure(structure)
        self.view.set_loop(engine.loop_seconds)
        self._levels()
        self.view.poll()
        self.view.set_position(engine.position_seconds, engine.playing)

    def _levels(self) -> None:
        track, doc = self.studio.track, self.studio.document
        if track is None or doc is None:
            return
        settings = [self.studio.stem(i) for i in track.stem_ids]
        soloed = any(s.solo for s in settings)
        levels = []
        for stem_id, s in zip(track.stem_ids, settings, strict=True):
            gain = self.studio.automated_value(stem_id, "gain_db")
            mute = self.studio.automated_value(stem_id, "mute")
            levels.append(
                brightness(
                    s.gain_db if gain is None else gain,
                    s.mute if mute is None else mute >= 0.5,
                    heard=s.solo or not soloed,
                )
            )
        self.view.set_levels(levels)

    def _structure(self) -> Structure | None:
        track, engine = self.studio.track, self.studio.engine
        timeline = engine.timeline
        if track is None or timeline is None:
            return None
        rate = engine.sample_rate
        doc = self.studio.document
        if timeline.arranged and doc is not None and doc.arrangement:
            blocks = []
            for i, slot in enumerate(doc.arrangement[: len(timeline.segments)]):
                a, b = timeline.slot_range(i)
                blocks.append(Block(slot.name, a / rate, b / rate))
        else:
            end = timeline.length / rate
            blocks = [
                Block(s.name, s.start, min(s.end, end))
                for s in self.studio.sections()
                if s.start < end
            ]
        return Structure(
            duration=timeline.length / rate,
            rate=rate,
            segments=list(timeline.segments),
            blocks=blocks,
            arranged=timeline.arranged,
        )
