"""The timeline (issue 11 item 1): real widgets, offscreen, on the real platform where the studio
is involved. Lanes show loading until their audio is decoded and the waveform after (widget state
and painted pixels); a click seeks the engine there; a Shift-drag loops; the wheel, Ctrl+wheel
and the keys scroll and zoom; a muted stem's lane is dimmer; automation draws on its lane."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QImage, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from app.client import PlatformClient
from app.peaks import PeakCache
from core.contract import AutomationLane, RemixDocument, StemSettings
from tests.test_ui_transport_details import open_studio
from ui.mainwindow import MainWindow
from ui.timeline import (
    AUTOMATION_COLORS,
    BACKGROUND,
    LANE_BACKGROUND,
    Block,
    Structure,
    TimelineView,
)

pytestmark = pytest.mark.ui

RATE = 48000
CHUNK = 24000


# -- pixels ------------------------------------------------------------------------------------


def pixels(widget) -> np.ndarray:
    """The widget as painted: (H, W, 3) uint8 RGB."""
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    w, h = image.width(), image.height()
    data = np.frombuffer(image.constBits(), dtype=np.uint8, count=image.bytesPerLine() * h)
    return data.reshape(h, image.bytesPerLine())[:, : w * 3].reshape(h, w, 3).copy()


def region(img: np.ndarray, view: TimelineView, lane: int, x0: float, x1: float) -> np.ndarray:
    rect = view.lane_rect(lane)
    dpr = img.shape[1] / view.width()
    return img[
        round((rect.top() + 2) * dpr) : round((rect.bottom() - 1) * dpr),
        round(x0 * dpr) : round(x1 * dpr),
    ]


def share_of(area: np.ndarray, color: QColor, tolerance: int = 12) -> float:
    """The fraction of `area`'s pixels within `tolerance` of `color`."""
    want = np.array([color.red(), color.green(), color.blue()])
    return float((np.abs(area.astype(int) - want).max(axis=2) <= tolerance).mean())


def not_background(area: np.ndarray, lane: int) -> float:
    """The fraction of pixels that are neither the window's nor the lane's background."""
    return 1.0 - share_of(area, BACKGROUND, 3) - share_of(area, LANE_BACKGROUND[lane % 2], 3)


# -- a timeline on its own, fed by hand ----------------------------------------------------------


def tone(seconds: float, n_stems: int = 3) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    wave = (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    return np.stack([np.stack([wave, wave]) for _ in range(n_stems)])


@pytest.fixture
def view(qtbot):
    audio = tone(20.0)
    peaks = PeakCache(audio.shape[0], audio.shape[2], chunk_frames=CHUNK)
    view = TimelineView()
    view.resize(800, 200)
    view.set_track(peaks, ["Drums", "Bass", "Keys"], ["#ff8a5c", "#5cc8ff", "#b08cff"])
    view.set_structure(
        Structure(
            duration=20.0,
            rate=RATE,
            segments=[(0, audio.shape[2])],
            blocks=[Block("intro", 0.0, 8.0), Block("chorus", 8.0, 20.0)],
        )
    )
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    view.audio = audio  # what the "decoder" feeds, below
    return view


def feed(view: TimelineView, chunks: range) -> None:
    for chunk in chunks:
        for stem in range(view.peaks.n_stems):
            a = chunk * CHUNK
            view.peaks.add(stem, chunk, view.audio[stem, :, a : a + CHUNK])


def redrawn(qtbot, view: TimelineView) -> None:
    """Tick until the view has taken in every peak fed so far (it redraws a few times a second
    while peaks arrive, as the window's 30 Hz poll calls it)."""

    def caught_up() -> bool:
        view.poll()
        return view._peak_version == view.peaks.version

    qtbot.waitUntil(caught_up, timeout=3000)


def test_lanes_show_loading_then_the_waveform_as_audio_is_decoded(qtbot, view):
    assert [view.lane_state(i) for i in range(3)] == ["loading"] * 3
    img = pixels(view)
    for lane in range(3):
        area = region(img, view, lane, 0, view.width())
        # The loading pattern: the lane's colour faintly, in stripes over the lane background.
        assert 0.1 < not_background(area, lane) < 0.6, lane
        assert share_of(area, view.colors[lane], 12) < 0.01  # no waveform yet

    feed(view, range(0, 16))  # the first 8 s arrive
    redrawn(qtbot, view)
    assert view.lane_state(0) == "partial"
    img = pixels(view)
    x8 = view.x_of(8.0)
    for lane in range(3):
        decoded = region(img, view, lane, 4, x8 - 4)
        waiting = region(img, view, lane, x8 + 4, view.width() - 4)
        # Where audio is, the waveform (a 0.5 sine fills ~70 % of the lane on the sqrt scale).
        assert share_of(decoded, view.colors[lane], 12) > 0.5, lane
        assert share_of(waiting, view.colors[lane], 12) < 0.01
        assert 0.1 < not_background(waiting, lane) < 0.6  # still loading there

    feed(view, range(16, view.peaks.n_chunks))
    redrawn(qtbot, view)
    assert view.lane_state(2) == "ready"
    img = pixels(view)
    for lane in range(3):
        assert share_of(region(img, view, lane, 4, view.width() - 8), view.colors[lane]) > 0.5


def test_zoom_and_scroll_change_the_visible_span(qtbot, view):
    assert view.start == 0.0 and view.span == pytest.approx(20.0)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Plus)
    zoomed = view.span
    assert zoomed < 20.0
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert view.start > 0.0
    qtbot.keyClick(view, Qt.Key.Key_Minus)
    assert view.span > zoomed
    qtbot.keyClick(view, Qt.Key.Key_0)
    assert (view.start, view.span) == (0.0, pytest.approx(20.0))

    def wheel(modifiers: Qt.KeyboardModifier, dy: int, x: float = 400.0) -> None:
        at = QPointF(x, 100.0)
        event = QWheelEvent(
            at,
            QPointF(view.mapToGlobal(at.toPoint())),
            QPoint(),
            QPoint(0, dy),
            Qt.MouseButton.NoButton,
            modifiers,
            Qt.ScrollPhase.NoScrollPhase,
            False,
        )
        QApplication.sendEvent(view, event)

    under = view.seconds_at(600)
    wheel(Qt.KeyboardModifier.ControlModifier, 240, 600.0)  # two notches in, at x = 600
    assert view.span < 20.0
    assert view.seconds_at(600) == pytest.approx(under, abs=view.span / view.width())
    start = view.start
    wheel(Qt.KeyboardModifier.NoModifier, -120)  # the wheel scrolls later in time
    assert view.start > start
    wheel(Qt.KeyboardModifier.ControlModifier, -2400)  # far out: never beyond the whole piece
    assert (view.start, view.span) == (0.0, pytest.approx(20.0))


def test_automation_draws_on_its_stems_lane(qtbot, view):
    feed(view, range(view.peaks.n_chunks))
    redrawn(qtbot, view)
    # Bass (lane 1): a fade from -60 dB up to +12 dB at 10 s (the top of the lane).
    color = AUTOMATION_COLORS["gain_db"]
    before = [share_of(region(pixels(view), view, i, 0, view.width()), color, 40) for i in range(3)]
    view.set_automation([(1, "gain_db", [(0.0, -60.0), (10.0, 12.0)])])
    after = pixels(view)
    shares = [share_of(region(after, view, i, 0, view.width()), color, 40) for i in range(3)]
    assert shares[1] > before[1] + 0.005  # the curve is on the Bass lane
    assert shares[0] == pytest.approx(before[0], abs=1e-3)
    assert shares[2] == pytest.approx(before[2], abs=1e-3)
    # Before 10 s it runs along the bottom of the lane (-60 dB), after it along the top.
    rect = view.lane_rect(1)
    x_early, x_late = round(view.x_of(5.0)), round(view.x_of(15.0))
    lane = after[rect.top() : rect.bottom() + 1]

    def curve_rows(x: int) -> np.ndarray:
        return np.flatnonzero((np.abs(lane[:, x].astype(int) - [255, 255, 255]) < 40).all(axis=1))

    assert curve_rows(x_early).size and curve_rows(x_early).mean() > rect.height() * 0.6
    assert curve_rows(x_late).size and curve_rows(x_late).mean() < rect.height() * 0.4


# -- in the studio, on the real platform ---------------------------------------------------------


@pytest.fixture
def window(qtbot, platform, tmp_path):
    win, tasks = open_studio(qtbot, platform, tmp_path)
    win.resize(1600, 1000)  # lanes with their names (at 1280×720 eight lanes of 8 px fit)
    qtbot.waitUntil(lambda: win.timeline.height() > 150, timeout=5000)
    qtbot.waitUntil(lambda: win.studio.track.peaks.complete(), timeout=30000)
    qtbot.waitUntil(lambda: win.timeline.lane_state(0) == "ready", timeout=5000)
    # The window's poll has redrawn the lanes from the last peaks (not only been told of them).
    qtbot.waitUntil(
        lambda: win.timeline._peak_version == win.studio.track.peaks.version, timeout=5000
    )
    yield win
    win.close()
    tasks.wait(5000)


def mouse(widget, kind, x: float, y: float, buttons, modifiers=Qt.KeyboardModifier.NoModifier):
    at = QPointF(x, y)
    button = Qt.MouseButton.LeftButton if kind != QMouseEvent.Type.MouseMove else buttons
    event = QMouseEvent(
        kind,
        at,
        QPointF(widget.mapToGlobal(at.toPoint())),
        Qt.MouseButton.NoButton if kind == QMouseEvent.Type.MouseMove else button,
        buttons,
        modifiers,
    )
    QApplication.sendEvent(widget, event)


def test_every_stem_has_a_lane_with_its_waveform_in_the_studio(window: MainWindow):
    view = window.timeline
    stems = window.studio.track.stems
    assert view.names == [s.name for s in stems]
    assert view.duration == pytest.approx(window.engine.duration_frames / RATE)
    img = pixels(view)
    for lane in range(len(stems)):
        assert view.lane_state(lane) == "ready"
        assert share_of(region(img, view, lane, 0, view.width()), view.colors[lane], 20) > 0.02


def test_a_click_seeks_the_engine_to_the_clicked_time(qtbot, window: MainWindow):
    view = window.timeline
    x, y = round(view.width() * 0.6), view.lane_rect(1).center().y()
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(x, y))
    pixel = view.span / view.width()
    assert window.engine.position_seconds == pytest.approx(view.seconds_at(x), abs=pixel)
    # A drag carries the playhead with the pointer.
    mouse(view, QMouseEvent.Type.MouseButtonPress, 100, y, Qt.MouseButton.LeftButton)
    mouse(view, QMouseEvent.Type.MouseMove, 300, y, Qt.MouseButton.LeftButton)
    assert window.engine.position_seconds == pytest.approx(view.seconds_at(300), abs=pixel)
    mouse(view, QMouseEvent.Type.MouseButtonRelease, 300, y, Qt.MouseButton.NoButton)
    assert window.engine.loop_seconds is None  # seeking never loops


def test_a_shift_drag_sets_the_loop_in_the_studio(qtbot, window: MainWindow):
    window.transport.snap_button.setChecked(False)  # the exact ends (Snap would move them)
    view = window.timeline
    y = view.lane_rect(2).center().y()
    shift = Qt.KeyboardModifier.ShiftModifier
    mouse(view, QMouseEvent.Type.MouseButtonPress, 200, y, Qt.MouseButton.LeftButton, shift)
    mouse(view, QMouseEvent.Type.MouseMove, 320, y, Qt.MouseButton.LeftButton, shift)
    mouse(view, QMouseEvent.Type.MouseMove, 500, y, Qt.MouseButton.LeftButton, shift)
    mouse(view, QMouseEvent.Type.MouseButtonRelease, 500, y, Qt.MouseButton.NoButton, shift)
    pixel = view.span / view.width()
    loop = window.engine.loop_seconds
    assert loop is not None
    assert loop[0] == pytest.approx(view.seconds_at(200), abs=pixel)
    assert loop[1] == pytest.approx(view.seconds_at(500), abs=pixel)
    assert window.transport.loop_button.isChecked()  # the transport shows it too
    qtbot.waitUntil(lambda: view.loop == loop, timeout=2000)
    # Drag the loop's middle along the ruler: it moves whole.
    x0, x1 = view.x_of(loop[0]), view.x_of(loop[1])
    mid = (x0 + x1) / 2
    mouse(view, QMouseEvent.Type.MouseButtonPress, mid, 8, Qt.MouseButton.LeftButton)
    mouse(view, QMouseEvent.Type.MouseMove, mid + 100, 8, Qt.MouseButton.LeftButton)
    mouse(view, QMouseEvent.Type.MouseButtonRelease, mid + 100, 8, Qt.MouseButton.NoButton)
    moved = window.engine.loop_seconds
    shift_s = view.seconds_at(100) - view.seconds_at(0)
    assert moved[0] == pytest.approx(loop[0] + shift_s, abs=2 * pixel)
    assert moved[1] - moved[0] == pytest.approx(loop[1] - loop[0], abs=2 * pixel)
    # L turns it off and on again: the loop drawn on the timeline is the one remembered.
    window.transport.loop_button.click()
    assert window.engine.loop_seconds is None
    window.transport.loop_button.click()
    assert window.engine.loop_seconds == pytest.approx(moved)


def test_a_loop_the_engine_refuses_is_said_and_not_remembered(qtbot, window: MainWindow):
    window.transport.snap_button.setChecked(False)
    view, ctl = window.timeline, window.transport_ctl
    view.loopRequested.emit(10.0, 20.0)  # as a Shift-drag does
    assert window.engine.loop_seconds == pytest.approx((10.0, 20.0))
    with pytest.raises(ValueError):
        ctl.set_loop(30.0, 30.01)  # under the engine's 50 ms
    view.loopRequested.emit(30.0, 30.01)  # from the timeline: said in the status bar
    assert window.statusBar().currentMessage()
    assert window.engine.loop_seconds == pytest.approx((10.0, 20.0))
    window.transport.loop_button.click()  # off, and on again: still the loop that was set
    window.transport.loop_button.click()
    assert window.engine.loop_seconds == pytest.approx((10.0, 20.0))


def test_a_muted_stems_lane_is_dimmer(qtbot, window: MainWindow):
    view = window.timeline
    strip = list(window.mixer.strips.values())[1]

    def area() -> float:
        return float(region(pixels(view), view, 1, 0, view.width()).mean())

    bright = area()
    strip.mute.click()  # the strip's own button: Studio, engine, and the lane
    qtbot.waitUntil(lambda: view.levels[1] < 0.5, timeout=2000)
    dim = area()
    assert dim < 0.7 * bright
    strip.mute.click()
    qtbot.waitUntil(lambda: view.levels[1] > 0.5, timeout=2000)
    assert area() == pytest.approx(bright, rel=0.05)


def test_the_documents_automation_is_on_its_lane(qtbot, platform, tmp_path):
    client = PlatformClient(platform.url)
    client.login("fan", "encore-demo")
    track = client.track(client.tracks()[0].id)
    stem = track.stems[1].id
    draft = RemixDocument(
        track_id=track.id,
        track_version=track.version,
        title="Automated",
        stems={s.id: StemSettings() for s in track.stems},
        automation=[AutomationLane(stem=stem, param="pan", points=[(0.0, -1.0), (30.0, 1.0)])],
    )
    win, tasks = open_studio(qtbot, platform, tmp_path, draft)
    try:
        qtbot.waitUntil(lambda: bool(win.timeline.automation), timeout=5000)
        assert win.timeline.automation == [(1, "pan", [(0.0, -1.0), (30.0, 1.0)])]
    finally:
        win.close()
        tasks.wait(5000)
