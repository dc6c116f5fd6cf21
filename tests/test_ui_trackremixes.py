"""The studio's Remixes panel (issue 11 item 6) with real widgets, offscreen, on a real platform:
the feed fills (newest, most played, play counts, lineage), Listen plays the published render
through the studio's route (`Studio.listen`, in memory) and counts a play, Back to my mix gives
the track back, Remix this remix makes the fork the open remix (lineage in the document and the
draft, one undo step) and the Submit dialog shows the credit; the panel is legible at 1366×768.

Its own platform for the module, so the feed holds only what this module publishes: `qa`
publishes two remixes of neon-harbor (one with a right-to-left title), `fan` uses the studio.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidget

from app.client import PlatformClient
from app.drafts import DraftStore
from app.embedded import start_platform
from audio.engine import Engine
from core.contract import FeedSort
from tests.platform_helpers import as_demo, doc_for, stem_ids, wait_for_status
from tests.test_ui_e2e import assert_no_audio
from tests.test_ui_legibility import assert_none, legibility_problems
from ui import trackremixes
from ui.mainwindow import MainWindow
from ui.mixer import db_to_slider
from ui.remixes import fill_remix_list
from ui.trackremixes import FeedRow

pytestmark = pytest.mark.ui
TRACK = "neon-harbor"
RTL_TITLE = "שיר הלילה (remix)"  # Hebrew: must not reorder the words around it
SHOTS = Path("/tmp/feed")
LEFT = Qt.MouseButton.LeftButton


@pytest.fixture(scope="module")
def feed_platform(tmp_path_factory, demo_env):
    proc = start_platform(tmp_path_factory.mktemp("ui-feed-platform"), env=demo_env)
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def published(feed_platform) -> dict[str, dict]:
    qa, artist = as_demo(feed_platform.url, "qa"), as_demo(feed_platform.url, "artist")
    track = qa("GET", f"/tracks/{TRACK}").json()
    ids = stem_ids(track)
    out = {}
    for name, doc in (
        ("older", doc_for(track, {ids[0]: {"gain_db": -10.5}}, title="Night drive")),
        ("newer", doc_for(track, {ids[1]: {"mute": True}}, title=RTL_TITLE)),
    ):
        resp = qa.submit(doc)
        assert resp.status_code == 201, resp.text
        out[name] = wait_for_status(qa, resp.json()["id"])
        assert out[name]["status"] == "published", out[name]
    # The artist has played the older one: it leads "most played".
    assert artist("POST", f"/remixes/{out['older']['id']}/plays").json()["counted"]
    return out


def feed_ids(panel) -> list[str]:
    return [panel.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(panel.list.count())]


def row(panel, remix_id: str) -> FeedRow:
    index = feed_ids(panel).index(remix_id)
    widget = panel.list.itemWidget(panel.list.item(index))
    assert isinstance(widget, FeedRow)
    return widget


def isolated(text: str) -> bool:
    return text.startswith("\u2068") and "\u2069" in text


def test_the_remixes_panel_lists_plays_and_forks(
    qtbot, tasks, themed, feed_platform, published, tmp_path, monkeypatch
):
    client = PlatformClient(feed_platform.url)
    client.login("fan", "encore-demo")
    drafts = DraftStore(tmp_path / "drafts")
    window = MainWindow(client, Engine(), tasks, drafts, tmp_path / "cache")
    qtbot.addWidget(window)
    window.resize(1366, 768)
    window.show()
    qtbot.waitExposed(window)
    remixes = window.track_remixes
    panel = remixes.panel
    assert not remixes.button.isVisible() and not remixes.action.isEnabled()  # no track yet

    window.open_track(TRACK)
    qtbot.waitUntil(lambda: window.studio.document is not None, timeout=30000)
    qtbot.waitUntil(lambda: remixes.button.text() == "Remixes · 2", timeout=10000)
    assert remixes.button.isVisible() and not panel.isVisible()
    qtbot.mouseClick(remixes.button, LEFT)  # opens the panel beside the studio
    assert panel.isVisible() and remixes.action.isChecked()
    older, newer = published["older"]["id"], published["newer"]["id"]
    qtbot.waitUntil(lambda: feed_ids(panel) == [newer, older], timeout=10000)
    assert not panel.more.isVisible()

    # A page at a time: Show more fetches the next one.
    monkeypatch.setattr(trackremixes, "PAGE", 1)
    panel.refresh()
    qtbot.waitUntil(lambda: feed_ids(panel) == [newer], timeout=10000)
    assert panel.more.isVisible()
    qtbot.mouseClick(panel.more, LEFT)
    qtbot.waitUntil(lambda: feed_ids(panel) == [newer, older], timeout=10000)
    assert not panel.more.isVisible()
    monkeypatch.undo()

    # Titles and names are shown isolated (a right-to-left title stays in its place).
    rtl = row(panel, newer)
    assert rtl.title.text() == f"\u2068{RTL_TITLE}\u2069"
    assert isolated(rtl.byline.text().removeprefix("by "))
    assert rtl.plays.text() == "No plays yet"
    assert row(panel, older).plays.text() == "1 play"

    # Most played first: the older one, played once.
    qtbot.mouseClick(panel.sort_buttons[FeedSort.MOST_PLAYED], LEFT)
    qtbot.waitUntil(lambda: feed_ids(panel) == [older, newer], timeout=10000)

    # Listen: the published render plays through the studio's route, and counts a play once
    # it has been heard for a while (30 s in the app; 1.5 s here, to keep the test short).
    panel.select(newer)
    assert panel.listen.button.isVisible() and panel.fork.isEnabled()
    assert not panel.back.isVisible()
    listener = panel.listener
    listener.play_after_s = 1.5
    qtbot.mouseClick(panel.listen.button, LEFT)
    qtbot.waitUntil(lambda: listener.active(newer), timeout=30000)
    assert listener.position < 1.0 and row(panel, newer).plays.text() == "No plays yet"
    assert window.studio.listening and window.studio.output_engine.playing
    assert panel.back.isVisible()
    # The mix rests while someone else's remix plays: no edit the fan cannot hear.
    qtbot.waitUntil(lambda: not window.mixer.isEnabled(), timeout=5000)
    assert not window.arrangement.isEnabled() and not window.track_controls.isEnabled()
    # Heard: the device pulls 2 s of the render (no device here: pulled as its callback would).
    out = np.zeros((256, 2), dtype=np.float32)
    for _ in range(20):
        for _ in range(19):  # ~0.1 s
            window.studio.output_engine.process(out)
        qtbot.wait(110)  # the listener looks at the playhead every 100 ms
    qtbot.waitUntil(lambda: row(panel, newer).plays.text() == "1 play", timeout=10000)
    assert client.remix(newer).plays == 1
    assert_no_audio(p for p in (tmp_path / "cache").rglob("*") if p.is_file())
    assert not list(tmp_path.rglob("*.flac")) and not list(tmp_path.rglob("*.wav"))
    # Legible while it plays too (Pause, the time, Back to my mix), at 1366×768; the
    # screenshots are for looking at by hand.
    ids = [s.id for s in window.studio.track.stems]
    assert_none(legibility_problems(qtbot, window, "track-remixes-listening", ids))
    SHOTS.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(SHOTS / "remixes-panel-listening-1366x768.png"))
    qtbot.mouseClick(panel.back, LEFT)  # back to my mix: the track returns, paused
    assert not window.studio.listening and not window.engine.playing
    assert not panel.back.isVisible()
    qtbot.waitUntil(window.mixer.isEnabled, timeout=5000)
    assert window.arrangement.isEnabled() and window.track_controls.isEnabled()

    assert_none(legibility_problems(qtbot, window, "track-remixes", ids))
    window.grab().save(str(SHOTS / "remixes-panel-1366x768.png"))

    # Remix this remix: the fork becomes the open remix, with its lineage.
    panel.select(older)
    before = window.studio.document
    qtbot.mouseClick(panel.fork, LEFT)
    qtbot.waitUntil(lambda: window.studio.document.inspired_by == older, timeout=10000)
    doc = window.studio.document
    assert doc.title == "Night drive (flip)"
    assert doc.stems[ids[0]].gain_db == -10.5
    # The strip shows the fork's level.
    assert window.mixer.strips[ids[0]].fader.value() == db_to_slider(-10.5)
    assert "Night drive" in panel.note.text() and "Undo" in panel.note.text()
    qtbot.waitUntil(
        lambda: (
            json.loads((drafts.directory / f"{TRACK}.remix.json").read_text()).get("inspired_by")
            == older
        ),
        timeout=5000,
    )
    assert window.undo_stack.undoText() == "Remix this remix"

    # Unchanged, the fork is the original's recipe: Submit says so before anything is sent.
    dialog = window.open_submit()
    qtbot.waitUntil(lambda: dialog.check is not None, timeout=30000)
    assert [p.code for p in dialog.check.problems] == ["duplicate_remix"]
    dialog.reject()

    # Once the fan changes the mix, Submit shows the credit as the platform will record it.
    window.mixer.strips[ids[1]].fader.setValue(db_to_slider(-7.5))
    dialog = window.open_submit()
    qtbot.waitUntil(lambda: dialog.check is not None, timeout=30000)
    assert dialog.check.problems == []
    credit = dialog.credit.text()
    assert credit.startswith("Inspired by “\u2068Night drive\u2069” by \u2068QA (diagnostics)")
    assert "5.00 %" in credit and dialog.credit.isVisibleTo(dialog)
    dialog.reject()
    window.undo_stack.undo()  # the fader move: the fork as it came
    assert window.undo_stack.undoText() == "Remix this remix"

    # Undo gives the previous mix back, lineage and title included; redo the fork again.
    window.undo_stack.undo()
    assert window.studio.document.inspired_by is None
    assert window.studio.document.title == before.title
    assert window.studio.document.stems == before.stems
    window.undo_stack.redo()
    assert window.studio.document.inspired_by == older

    # Closing the panel while one of its remixes plays gives the studio's track back.
    panel.select(newer)
    qtbot.mouseClick(panel.listen.button, LEFT)
    qtbot.waitUntil(lambda: listener.active(newer), timeout=30000)
    qtbot.mouseClick(remixes.button, LEFT)
    assert not panel.isVisible() and not window.studio.listening


def test_the_artists_review_queue_shows_each_remixs_plays(qtbot, feed_platform, published):
    """The artist's queue (and My remixes) lists plays with the status, from the platform."""
    artist = PlatformClient(feed_platform.url)
    artist.login("artist", "encore-demo")
    queue = artist.review_queue(TRACK)
    view = QListWidget()
    qtbot.addWidget(view)
    fill_remix_list(view, queue, None)
    shown = {
        view.item(i).data(Qt.ItemDataRole.UserRole): view.itemWidget(view.item(i)).plays.text()
        for i in range(view.count())
    }
    assert shown[published["older"]["id"]] == "1 play"  # the artist's own listen
    assert {r.id: r.plays for r in queue}[published["older"]["id"]] == 1
