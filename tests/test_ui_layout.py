"""The studio from 1280×720 to 4K (issue 11 item 4), on real themed widgets, offscreen.

At each size the window is grabbed (ENCORE_SCREENSHOTS=dir saves it) and walked: no two visible
sibling widgets may overlap, no widget may stick out of its parent (except inside a scroll
area, which is what scrolling is), every label and button must show its whole text (the fit
check of tests/test_ui_legibility.py), and the studio page must fit without scrolling. At
1280×720 the timeline still has room for eight stems' waveforms (8 px a lane under its named
ruler). Sixteen stems scroll sideways with Returns and Master still in view (and their lanes
scroll). The window's size, place and splitters come back on the next start; the first start
fits the screen.
"""

from __future__ import annotations

import os
import time
from itertools import combinations
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QRect, QSettings, QSize
from PySide6.QtWidgets import QAbstractScrollArea, QWidget

from app.client import PlatformClient
from app.drafts import DraftStore
from audio.engine import Engine
from core.contract import StemInfo, StemKind, StemSettings
from tests.test_ui_legibility import assert_none, fit_problems, visible_widgets
from ui.mainwindow import MainWindow
from ui.mixer import KIND_COLORS
from ui.timeline import LANE_MIN, MIN_HEIGHT, RULER, TimelineView
from ui.windowstate import TITLE_BAR, initial_geometry

pytestmark = pytest.mark.ui

TRACK = "paper-lanterns"  # the demo's longest stem name ("Electric Piano")
SIZES = [QSize(1280, 720), QSize(1366, 768), QSize(1920, 1080), QSize(3840, 2160)]


# -- what the walk finds ------------------------------------------------------------------------


def _is_viewport(widget: QWidget) -> bool:
    parent = widget.parentWidget()
    return isinstance(parent, QAbstractScrollArea) and parent.viewport() is widget


def _shown_children(parent: QWidget) -> list[QWidget]:
    return [
        c
        for c in parent.children()
        if isinstance(c, QWidget)
        and not c.isWindow()
        and c.isVisible()
        and c.width() > 0
        and c.height() > 0
    ]


def _name(widget: QWidget) -> str:
    text = widget.text() if hasattr(widget, "text") else ""
    label = widget.objectName() or widget.accessibleName()
    return f"{type(widget).__name__}({label!r}, {str(text)[:30]!r})"


def overlap_problems(root: QWidget) -> list[str]:
    """Visible siblings that intersect, and children that stick out of their parent (a scroll
    area's content excepted: it is meant to be larger than its viewport)."""
    problems = []
    for parent in visible_widgets(root):
        kids = _shown_children(parent)
        for a, b in combinations(kids, 2):
            if a.geometry().intersects(b.geometry()):
                shared = a.geometry().intersected(b.geometry())
                problems.append(
                    f"{_name(a)} and {_name(b)} overlap by {shared.width()}×{shared.height()} "
                    f"in {_name(parent)}"
                )
        if _is_viewport(parent):
            continue
        for kid in kids:
            if not parent.rect().contains(kid.geometry()):
                problems.append(
                    f"{_name(kid)} at {kid.geometry().getRect()} sticks out of {_name(parent)} "
                    f"({parent.width()}×{parent.height()})"
                )
    return problems


def clipped_strips(window: MainWindow) -> list[str]:
    """Strips cut at the top or bottom (a side cut is the horizontal scroll, which is fine)."""
    problems = []
    for strip in [*window.mixer.strips.values(), window.mixer.returns, window.mixer.master]:
        seen = strip.visibleRegion().boundingRect()
        if not seen.isEmpty() and seen.height() < strip.height():
            problems.append(f"{_name(strip)}: {seen.height()} of {strip.height()}px tall shown")
        if strip.height() < strip.minimumSizeHint().height():
            problems.append(f"{_name(strip)} squeezed below its minimum height")
    return problems


def layout_problems(window: MainWindow, name: str) -> list[str]:
    shot(window, name)
    page = window.page_scroll
    problems = overlap_problems(window) + fit_problems(window) + clipped_strips(window)
    if page.verticalScrollBar().maximum() > 0 or page.horizontalScrollBar().maximum() > 0:
        problems.append(
            f"the studio page does not fit: {page.widget().minimumSizeHint()} in "
            f"{page.viewport().size()}"
        )
    for part in (window.header, window.transport, window.mixer):
        if not window.rect().contains(
            QRect(part.mapTo(window, part.rect().topLeft()), part.size())
        ):
            problems.append(f"{_name(part)} is not wholly inside the window")
    return [f"{name}: {p}" for p in problems]


def shot(window: QWidget, name: str) -> None:
    folder = os.environ.get("ENCORE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        window.grab().save(str(Path(folder) / f"{name}.png"))


# -- the window ---------------------------------------------------------------------------------


def studio(qtbot, platform, tasks, tmp_path, layout_file: Path | None = None) -> MainWindow:
    client = PlatformClient(platform.url)
    client.login("fan", "encore-demo")
    window = MainWindow(
        client,
        Engine(),
        tasks,
        DraftStore(tmp_path / "drafts"),
        tmp_path / "cache",
        layout_file=layout_file,
    )
    qtbot.addWidget(window)
    # The catalog request it starts must land before the test ends and deletes the window.
    qtbot.waitUntil(lambda: window.catalog.list.count() >= 2, timeout=10000)
    return window


def open_track(qtbot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: window.catalog.list.count() >= 2, timeout=10000)
    window.open_track(TRACK)
    qtbot.waitUntil(lambda: window.studio.track is not None, timeout=30000)
    qtbot.waitUntil(lambda: window.studio.track.seekable, timeout=30000)  # loading bars gone


def settle(qtbot, window: MainWindow, size: QSize) -> None:
    window.resize(size)
    qtbot.waitUntil(lambda: window.size() == size, timeout=5000)
    qtbot.wait(150)  # layouts settle (lists lay out again after a resize)


def test_nothing_overlaps_or_is_clipped_from_1280x720_to_4k(
    qtbot, themed, platform, tasks, tmp_path
):
    window = studio(qtbot, platform, tasks, tmp_path)
    window.show()
    qtbot.waitExposed(window)
    open_track(qtbot, window)
    problems = []
    for size in SIZES:
        settle(qtbot, window, size)
        assert window.size() == size  # the window may be this small: nothing holds it wider
        problems += layout_problems(window, f"studio-{size.width()}x{size.height()}")
    # The tempo/key warning, the longest header text, wraps instead of widening the header.
    window._poll.stop()  # the 30 Hz poll would report no lag and hide it again
    window.track_controls.show_stretch_lag(1.0, time.monotonic())
    settle(qtbot, window, SIZES[0])
    assert window.track_controls.lag.isVisible()
    problems += layout_problems(window, "studio-1280x720-stretch-warning")
    assert_none(problems)
    # The timeline at 1280×720: its named ruler and eight lanes of at least 8 px, all in view.
    timeline = window.timeline
    assert timeline.height() >= MIN_HEIGHT >= 80
    assert timeline.visibleRegion().boundingRect().height() == timeline.height()
    eight = [f"Layer {i + 1}" for i in range(8)]
    piece = timeline.structure
    timeline.set_track(None, eight, list(KIND_COLORS.values())[:8])  # lanes, no audio
    timeline.set_structure(piece)
    assert_none(lane_problems(timeline, 8))
    shot(window, "studio-1280x720-eight-lanes")


def lane_problems(timeline: TimelineView, shown: int) -> list[str]:
    """The first `shown` lanes are whole, at least LANE_MIN tall, under the named ruler."""
    problems = []
    if timeline._ruler() != RULER:
        problems.append(f"the ruler is squeezed to {timeline._ruler()} px (no section names)")
    for i in range(shown):
        lane = timeline.lane_rect(i)
        if lane.height() < LANE_MIN or lane.top() < RULER or lane.bottom() >= timeline.height():
            problems.append(f"lane {i} at {lane.getRect()} in a {timeline.height()} px timeline")
    return problems


def sixteen_stems() -> list[StemInfo]:
    kinds = list(StemKind)
    return [
        StemInfo(
            id=f"stem-{i}",
            name=f"Layer {i + 1}",
            kind=kinds[i % len(kinds)],
            duration=60.0,
            format="flac",
            sample_rate=48000,
            channels=2,
            size=1,
            sha256="0" * 64,
        )
        for i in range(16)
    ]


def test_sixteen_stems_scroll_sideways_at_1280x720(qtbot, themed, platform, tasks, tmp_path):
    window = studio(qtbot, platform, tasks, tmp_path)
    window.show()
    qtbot.waitExposed(window)
    stems = sixteen_stems()
    window.mixer.set_stems(stems, {s.id: StemSettings() for s in stems}, set())
    window.selection.adopt()
    colors = [KIND_COLORS.get(s.kind.value, KIND_COLORS["other"]) for s in stems]
    window.timeline.set_track(None, [s.name for s in stems], colors)
    settle(qtbot, window, SIZES[0])
    # The lanes keep their least height and scroll (Shift+wheel) rather than squeeze further.
    shown = (window.timeline.height() - RULER) // LANE_MIN
    assert 8 <= shown < 16
    assert_none(lane_problems(window.timeline, shown))
    assert window.timeline._max_lane_scroll() > 0
    scroll = window.mixer.scroll
    assert len(window.mixer.strips) == 16
    assert scroll.horizontalScrollBar().isVisible()
    assert scroll.horizontalScrollBar().maximum() > 0
    # Returns and Master stay whole and in view whatever is scrolled.
    for pinned in (window.mixer.returns, window.mixer.master):
        assert pinned.visibleRegion().boundingRect().size() == pinned.size()
    last = window.mixer.strips["stem-15"]
    window.selection.select("stem-15")  # selecting a strip scrolls it into view
    qtbot.waitUntil(lambda: last.visibleRegion().boundingRect().size() == last.size())
    assert_none(layout_problems(window, "studio-16-stems"))


# -- remembered, and fitted to the screen ---------------------------------------------------------


def test_geometry_and_splitter_are_remembered(qtbot, themed, platform, tasks, tmp_path):
    state = tmp_path / "data" / "window.ini"
    first = studio(qtbot, platform, tasks, tmp_path, layout_file=state)
    first.show()
    qtbot.waitExposed(first)
    available = first.screen().availableGeometry()  # offscreen: 800×600
    saved = QRect(available.topLeft() + QPoint(10, 20), available.size() - QSize(40, 60))
    first.setGeometry(saved)
    qtbot.waitUntil(lambda: first.geometry() == saved, timeout=5000)
    first.splitter.setSizes([250, saved.width() - 250])
    sidebar = first.splitter.sizes()[0]
    assert sidebar == 250
    # The timeline's split from the strips too (at this small screen both are at their least
    # height, so only that it is kept is checked here, not a dragged size).
    assert first.splitters["timeline"] is first.timeline_split
    first.close()
    assert state.exists()
    assert QSettings(str(state), QSettings.Format.IniFormat).value("splitters/timeline")

    second = studio(qtbot, platform, tasks, tmp_path, layout_file=state)
    second.show()
    qtbot.waitExposed(second)
    assert second.size() == saved.size()
    # The place too (within a window frame's width: restoreGeometry works in frame terms).
    assert (second.pos() - saved.topLeft()).manhattanLength() <= 10
    assert second.splitter.sizes()[0] == sidebar
    # A size remembered from a bigger screen (the 4K monitor is unplugged) shrinks to this one.
    second.setGeometry(QRect(available.topLeft(), available.size() + QSize(700, 500)))
    second.close()

    third = studio(qtbot, platform, tasks, tmp_path, layout_file=state)
    third.show()
    qtbot.waitExposed(third)
    assert third.width() <= available.width() and third.height() <= available.height()
    assert third.splitter.sizes()[0] == sidebar
    third.close()

    # Nothing remembered (tests, scripts): nothing written anywhere.
    fourth = studio(qtbot, platform, tasks, tmp_path / "other")
    fourth.close()
    assert [p for p in tmp_path.rglob("*.ini") if p != state] == []


@pytest.mark.parametrize(
    ("available", "expected"),
    [
        (QRect(0, 0, 1280, 720), QSize(1280, 720 - TITLE_BAR)),
        (QRect(0, 28, 1366, 740), QSize(1366, 740 - TITLE_BAR)),
        (QRect(0, 0, 1920, 1050), QSize(1440, 900)),
        (QRect(1920, 0, 3840, 2110), QSize(1440, 900)),
    ],
)
def test_the_first_window_fits_the_screen(available, expected):
    rect = initial_geometry(available, QSize(600, 400))
    assert rect.size() == expected
    assert available.contains(rect)
    assert rect.top() >= available.top() + min(TITLE_BAR, available.height() - rect.height())


def test_a_new_window_opens_inside_its_screen(qtbot, themed, platform, tasks, tmp_path):
    window = studio(qtbot, platform, tasks, tmp_path)
    available = window.screen().availableGeometry()
    assert window.minimumSizeHint().width() <= 1280
    assert window.minimumSizeHint().height() <= 720
    if available.width() >= 1280 and available.height() >= 720:
        assert available.contains(window.geometry())
    else:  # the offscreen screen is small: the window is as small as it may be, no smaller
        assert window.width() <= max(available.width(), window.minimumSizeHint().width())
        assert window.height() <= max(available.height(), window.minimumSizeHint().height())
