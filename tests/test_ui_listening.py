"""Listening to another remix has its own route (issue 13 item 4): the studio session
(app/studiosession.py) hands the device's engine to the render and back, and everything a
transport shows or drives follows what is heard.

On the shared real platform (a remix published by `qa` at another tempo, so the render is
shorter than the track), with the real engine (no device: the engine's own UI-side state, as
tests/test_ui_timeline.py uses it) and, for the window, real Qt widgets offscreen. The session is
tested alone with a synchronous `TaskRunner` (every callback before `run` returns).

The window's bugs fixed here were found by reading: while a remix was heard, (a) the position
bar kept the track's length and loop, (b) a timeline click was ignored, (c) Play checked the
track's stream at the render's position, (d) L and automation still edited the waiting mix.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QMouseEvent

from app.cache import SUFFIX
from app.client import PlatformClient
from app.drafts import DraftStore
from app.listening import decode_render
from app.studiosession import OpenedTrack, StudioSession, TrackRoute
from audio.engine import Engine
from tests.platform_helpers import as_demo, doc_for, unique_mix, wait_for_status
from tests.test_ui_timeline import mouse
from ui.mainwindow import LISTENING_TIP, MainWindow
from ui.tasks import TaskRunner
from ui.transport import MS, format_time

pytestmark = pytest.mark.ui
TRACK = "neon-harbor"
LEFT = Qt.MouseButton.LeftButton


@pytest.fixture(scope="module")
def faster_remix(platform) -> dict:
    """A remix of TRACK published at a faster tempo: its render is shorter than the track."""
    qa = as_demo(platform.url, "qa")
    track = qa("GET", f"/tracks/{TRACK}").json()
    tempo = min(1.1, track["policy"]["tempo_ratio_max"])
    assert tempo > 1.0, "the demo track must allow a faster tempo"
    doc = doc_for(track, unique_mix(track), title="Faster, please", tempo_ratio=tempo)
    resp = qa.submit(doc)
    assert resp.status_code == 201, resp.text
    info = wait_for_status(qa, resp.json()["id"])
    assert info["status"] == "published", info
    return info


def fan(platform) -> PlatformClient:
    client = PlatformClient(platform.url)
    client.login("fan", "encore-demo")
    return client


def pump(qtbot, predicate, timeout: int = 30000) -> None:
    qtbot.waitUntil(predicate, timeout=timeout)


# -- the session alone, synchronous -------------------------------------------------------------


def test_the_session_opens_plays_when_ready_listens_and_signs_out(
    qtbot, qapp, platform, faster_remix, tmp_path
):
    client = fan(platform)
    engine = Engine()
    tasks = TaskRunner(synchronous=True)
    session = StudioSession(
        client, engine, tasks, DraftStore(tmp_path / "drafts"), tmp_path / "cache",
        cache_limit_bytes=lambda: 256 * 1024 * 1024,
    )  # fmt: skip
    opened: list[OpenedTrack] = []
    shown: list[str] = []
    failures: list[BaseException] = []

    def show(detail) -> bool:
        shown.append(detail.id)
        return True

    assert session.open_track(
        TRACK, shown=show, opened=opened.append, failed=lambda e, _id: failures.append(e)
    )
    # Synchronous: details, cache and stream are done when open_track returns.
    assert failures == [] and shown == [TRACK] and len(opened) == 1
    track = opened[0]
    assert session.studio.track is track.stream and session.studio.document is track.document
    assert not track.restored_draft and session.loading_id is None
    assert isinstance(session.heard, TrackRoute)

    # Play when ready: pressed before the first chunk, it starts once the stream has it.
    session.toggle_play()
    assert session.play_pending or engine.playing
    pump(qtbot, lambda: (session.tick(), engine.playing)[1])
    assert not session.play_pending
    engine.seek(20.0)
    session.studio.set_loop(10.0, 30.0)

    # A fader move being recorded when the fan presses Listen is written where it stood.
    studio, stem = session.studio, track.stream.stem_ids[0]
    studio.arm_automation(True)
    studio.set_gain_db(stem, -3.0)
    out = np.zeros((256, 2), dtype=np.float32)
    for _ in range(40):  # ~0.2 s, as the device callback would (no device here)
        engine.process(out)
    studio.set_gain_db(stem, -6.0)
    assert studio.document.automation == []  # a pass is open, not written yet

    # Listening: the render takes the device's engine; the mix waits where it was.
    rate = engine.sample_rate
    audio = decode_render(client.remix_audio(faster_remix["id"]), rate)
    render = session.listen(audio, remix_id=faster_remix["id"], name="Faster, please")
    assert session.listening and session.heard is render and render.engine is engine
    assert session.studio.engine is not engine  # the mix's edits go to a stand-in
    (lane,) = studio.document.automation
    assert lane.stem == stem and lane.param == "gain_db" and lane.points[-2][1] == -6.0
    studio.set_gain_db(stem, -9.0)  # (the mixer rests in the window) no pass while listening
    assert studio.document.automation == [lane]
    studio.arm_automation(False)
    assert engine.playing and engine.n_stems == 1
    track_seconds = track.stream.n_frames / track.stream.sample_rate
    assert render.duration_seconds == pytest.approx(audio.shape[2] / rate)
    assert render.duration_seconds < track_seconds - 3  # faster: shorter than the track
    assert render.loop_seconds is None  # the track's loop is not the render's
    # Play/pause and seek act on the render, wherever the track's stream is ready or not.
    session.toggle_play()
    assert not engine.playing
    session.seek(render.duration_seconds - 2.0)
    assert render.position_seconds == pytest.approx(render.duration_seconds - 2.0, abs=0.01)
    session.toggle_play()
    assert engine.playing and not session.play_pending
    session.tick()
    assert session.studio.track is track.stream  # the track waits, open

    # Back to my mix: the track, paused at its place, with its loop.
    render_from = session.studio.resume_at  # where the pass above left the playhead
    assert 20.0 < render_from < 21.0
    session.back_to_mix()
    assert not session.listening and isinstance(session.heard, TrackRoute)
    assert session.studio.engine is engine and not engine.playing
    assert engine.n_stems == len(track.stream.stems)
    assert engine.position_seconds == pytest.approx(render_from, abs=0.01)
    assert engine.loop_seconds == pytest.approx((10.0, 30.0))
    assert session.heard.duration_seconds == pytest.approx(track_seconds, abs=0.01)

    # Sign out while a remix is heard: draft kept, nothing playing or loaded, no audio left
    # behind, then done.
    session.studio.set_gain_db(track.stream.stem_ids[0], -4.0)
    session.listen(audio, remix_id=faster_remix["id"], name="Faster, please")
    done: list[bool] = []
    session.sign_out(lambda: done.append(True))
    assert done == [True]
    assert session.studio.track is None and session.heard is None and not session.listening
    assert not engine.playing and engine.n_stems == 0
    assert session.drafts.load(TRACK) is not None
    assert not list((tmp_path / "cache").rglob(f"*{SUFFIX}"))


# -- the window: what is heard is what the transport shows and drives ---------------------------


def test_while_a_remix_is_heard_the_transport_and_timeline_follow_it(
    qtbot, platform, faster_remix, tmp_path
):
    tasks = TaskRunner()
    window = MainWindow(fan(platform), Engine(), tasks, DraftStore(tmp_path / "d"), tmp_path / "c")
    qtbot.addWidget(window)
    window.resize(1366, 768)
    window.show()
    qtbot.waitExposed(window)
    try:
        window.open_track(TRACK)
        pump(qtbot, lambda: window.studio.document is not None)
        t, view, engine = window.transport, window.timeline, window.engine
        track_seconds = engine.duration_frames / engine.sample_rate
        t.snap_button.setChecked(False)
        window.transport_ctl.set_loop(10.0, 20.0)
        engine.seek(15.0)
        assert t.loop_button.isChecked() and t.position.maximum() == int(track_seconds * MS)
        lanes = list(view.names)
        steps = window.remix_undo.stack.count()

        listener = window.sections.listener
        listener.toggle(window.client.remix(faster_remix["id"]))
        pump(qtbot, lambda: listener.active(faster_remix["id"]))
        render = window.session.render
        assert render is not None and engine.playing

        # (a) The position bar shows the remix heard: its length, no loop, its time.
        assert t.position.maximum() == int(render.duration_seconds * MS)
        assert not t.loop_button.isChecked() and t.position._loop is None
        engine.seek(30.0)
        pump(qtbot, lambda: abs(t.position.value() - 30 * MS) < 200)
        assert t.clock.text().endswith(f"/ {format_time(render.duration_seconds)}")
        assert "Listening" in t.section.text()

        # (b) The timeline shows the remix (one lane, its length) and a click seeks it.
        assert view.names == [render.name] and view.duration == pytest.approx(
            render.duration_seconds
        )
        x, y = round(view.width() * 0.8), view.lane_rect(0).center().y()
        qtbot.mouseClick(view, LEFT, pos=QPoint(x, y))
        pixel = view.span / view.width()
        assert render.position_seconds == pytest.approx(view.seconds_at(x), abs=pixel)
        assert render.position_seconds > 0.5 * render.duration_seconds

        # (c) Play/pause drives the remix heard, with no wait on the track's stream.
        qtbot.mouseClick(t.play_button, LEFT)
        assert not engine.playing
        engine.seek(render.duration_seconds - 3.0)  # far from where the track's stream waits
        qtbot.mouseClick(t.play_button, LEFT)
        assert engine.playing and not window._play_pending
        window.menus.to_start.trigger()  # Home and the 5 s jumps move in the remix too
        assert render.position_seconds == pytest.approx(0.0, abs=0.01)
        window.menus.back.trigger()
        assert render.position_seconds == pytest.approx(0.0, abs=0.01)
        engine.seek(render.duration_seconds - 1.0)
        window.menus.forward.trigger()
        assert render.position_seconds >= render.duration_seconds - 0.01

        # (d) L, Loop section, Snap, Auto and Clear auto rest like the mixer, saying why; a
        # loop drawn on the timeline is refused with the same words; the mix is untouched.
        for button in (
            t.loop_button,
            t.loop_section_button,
            t.snap_button,
            t.record_button,
            t.clear_automation_button,
        ):
            assert not button.isEnabled() and button.toolTip() == LISTENING_TIP
        window.menus.refresh()
        assert not window.menus.loop.isEnabled() and not window.menus.record.isEnabled()
        window.activateWindow()
        qtbot.keyClick(window, Qt.Key.Key_L)
        assert not t.loop_button.isChecked()
        shift = Qt.KeyboardModifier.ShiftModifier
        mouse(view, QMouseEvent.Type.MouseButtonPress, 100, y, LEFT, shift)
        mouse(view, QMouseEvent.Type.MouseMove, 300, y, LEFT, shift)
        mouse(view, QMouseEvent.Type.MouseButtonRelease, 300, y, Qt.MouseButton.NoButton, shift)
        assert window.statusBar().currentMessage() == LISTENING_TIP
        assert window.studio.document.automation == []
        assert window.remix_undo.stack.canUndo()  # the loop set above
        assert not window.menus.undo.isEnabled()  # yet Ctrl+Z rests: the mix is not heard
        qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        assert window.remix_undo.stack.count() == steps and window.remix_undo.stack.index() == steps

        # Back to my mix: the track's length, loop, place, lanes and controls come back.
        listener.stop()
        assert window.session.render is None and not engine.playing
        assert t.position.maximum() == int(track_seconds * MS)
        assert t.loop_button.isChecked() and engine.loop_seconds == pytest.approx((10.0, 20.0))
        assert engine.position_seconds == pytest.approx(15.0, abs=0.05)
        assert view.names == lanes and view.duration == pytest.approx(track_seconds)
        assert t.loop_button.isEnabled() and t.loop_button.toolTip() == "Loop on/off (L)"
        assert t.record_button.isEnabled() and t.record_button.toolTip() != LISTENING_TIP
        assert window.remix_undo.stack.count() == steps  # listening and coming back: no edit
        assert window.menus.undo.isEnabled()

        # Opening a track while a remix is heard ends listening: the track is what is heard.
        listener.toggle(window.client.remix(faster_remix["id"]))
        pump(qtbot, lambda: listener.active(faster_remix["id"]))
        window.open_track(TRACK)
        pump(qtbot, lambda: window.session.render is None and window.mixer.isEnabled())
        assert listener.remix_id is None and not window.studio.listening
        assert t.position.maximum() == int(track_seconds * MS) and view.names == lanes
    finally:
        window.close()
        tasks.wait(10000)
