"""A stem the artist keeps out of remixes, through the real studio window.

The artist unticks one stem; the fan's studio shows it locked with the reason, never asks the
platform for it, and the remix the studio submits is accepted. The artist's "Preview as fan" gets
exactly what fans get. `undertow` (owned by demo artist2, closed by default) keeps the main demo
catalog untouched for the other tests.
"""

from __future__ import annotations

import uuid

import pytest
from PySide6.QtCore import QSize, Qt

from app.drafts import DraftStore
from audio.engine import Engine
from core.contract import RemixDocument, RemixStatus, StemSettings
from tests.platform_helpers import as_demo, stem_ids
from tests.test_ui_e2e import sign_in
from tests.test_ui_layout import clipped_strips, settle, shot
from ui.main import load_theme
from ui.mainwindow import MainWindow

pytestmark = [pytest.mark.ui]

TRACK = "undertow"


@pytest.fixture
def one_stem_locked(platform):
    """undertow opened to fans with its last stem unticked in "Fans may use"."""
    owner = as_demo(platform.url, "artist2")
    ids = stem_ids(owner("GET", f"/tracks/{TRACK}").json())
    resp = owner(
        "PUT", f"/tracks/{TRACK}/policy", json={"opted_in": True, "allowed_stems": ids[:-1]}
    )
    assert resp.status_code == 200, resp.text
    yield ids
    owner("PUT", f"/tracks/{TRACK}/policy", json={"opted_in": False})


def open_window(qtbot, tasks, platform, tmp_path, username: str) -> MainWindow:
    dialog = sign_in(qtbot, tasks, platform.url, username)
    assert dialog.client is not None
    window = MainWindow(
        dialog.client, Engine(), tasks, DraftStore(tmp_path / username), tmp_path / "cache"
    )
    window.setStyleSheet(load_theme())
    qtbot.addWidget(window)
    window.show()
    return window


def open_track(qtbot, window: MainWindow) -> None:
    window.open_track(TRACK)
    qtbot.waitUntil(lambda: window.studio.track is not None, timeout=30000)


def rendered(qtbot, window: MainWindow, remix_id: str) -> RemixStatus:
    """The remix's status once rendered under this test's policy (renders queue on one worker;
    a later test's policy must not decide it)."""
    busy = (RemixStatus.RECEIVED, RemixStatus.RENDERING)
    qtbot.waitUntil(lambda: window.client.remix(remix_id).status not in busy, timeout=180000)
    return window.client.remix(remix_id).status


def test_fan_sees_the_stem_locked_and_the_remix_goes_through(
    qtbot, tasks, platform, tmp_path, one_stem_locked
):
    ids = one_stem_locked
    window = open_window(qtbot, tasks, platform, tmp_path, "fan")
    open_track(qtbot, window)
    track = window.studio.track
    assert track is not None

    # Shown locked, with the reason, and kept out of the engine, the stream and the recipe.
    assert list(window.mixer.locked) == [ids[-1]]
    locked = window.mixer.locked[ids[-1]]
    qtbot.waitUntil(locked.isVisible, timeout=5000)  # a layout shows a new child on its next turn
    assert "keeps this stem out" in locked.reason.text()
    assert track.stem_ids == ids[:-1] == list(window.mixer.strips)
    # The locked strip's wrapped reason does not make the strips taller than the mixer: on a
    # laptop every fader, mute and solo stays whole (a real-use review found them cut off).
    for size in (QSize(1366, 768), QSize(1280, 720)):
        settle(qtbot, window, size)
        shot(window, f"fan-locked-stem-{size.width()}x{size.height()}")
        assert clipped_strips(window) == [], size
    assert window.engine.n_stems == len(ids) - 1
    assert window.studio.document is not None and ids[-1] not in window.studio.document.stems
    qtbot.waitUntil(lambda: track.seekable, timeout=60000)  # every stem it asked for arrived
    assert track.failure is None

    # A remix made in the studio is accepted by the platform.
    strip = window.mixer.strips[ids[0]]
    strip.fader.setValue(strip.fader.value() - 120)  # 12 dB down: a clear rebalance
    info = window.client.submit_remix(window.studio.document, uuid.uuid4().hex)
    assert rendered(qtbot, window, info.id) == RemixStatus.PUBLISHED


def test_an_older_draft_with_the_stem_in_it_is_trimmed(
    qtbot, tasks, platform, tmp_path, one_stem_locked
):
    ids = one_stem_locked
    window = open_window(qtbot, tasks, platform, tmp_path, "fan")
    detail = window.client.track(TRACK)
    # A draft saved before the artist locked the stem: it sets the now-locked stem loud.
    drafts = window.drafts
    drafts.save(
        RemixDocument(
            track_id=TRACK,
            track_version=detail.version,
            title="Older draft",
            stems={i: StemSettings(gain_db=-3.0 if i == ids[-1] else 0.0) for i in ids},
        )
    )
    open_track(qtbot, window)
    doc = window.studio.document
    assert doc is not None and doc.title == "Older draft"
    assert set(doc.stems) == set(ids[:-1])
    strip = window.mixer.strips[ids[1]]
    strip.fader.setValue(strip.fader.value() - 120)
    info = window.client.submit_remix(window.studio.document, uuid.uuid4().hex)
    assert rendered(qtbot, window, info.id) == RemixStatus.PUBLISHED


def test_artist_hears_everything_and_previews_as_fan(
    qtbot, tasks, platform, tmp_path, one_stem_locked
):
    ids = one_stem_locked
    window = open_window(qtbot, tasks, platform, tmp_path, "artist2")
    open_track(qtbot, window)
    # The artist's own track: every stem plays, the one fans can't use is marked.
    assert window.preview_button.isVisible()
    assert list(window.mixer.strips) == ids and not window.mixer.locked
    badge = window.mixer.strips[ids[-1]].kind_label
    settle(qtbot, window, QSize(1366, 768))
    shot(window, "artist-own-track-1366x768")
    assert badge.text() == "NOT FOR FANS"
    assert badge.sizeHint().width() <= badge.width()  # whole, not clipped to "CKED FOR FA"

    # Preview as fan: the track reopens exactly as fans get it.
    first = window.studio.track
    assert window.preview_button.text() == "Preview as fan"
    qtbot.mouseClick(window.preview_button, Qt.MouseButton.LeftButton)
    assert window.preview_button.text() == "Previewing as fan"  # says which view is on
    qtbot.waitUntil(
        lambda: window.studio.track is not None and window.studio.track is not first,
        timeout=30000,
    )
    assert list(window.mixer.locked) == [ids[-1]]
    settle(qtbot, window, QSize(1366, 768))
    shot(window, "artist-previewing-as-fan-1366x768")
    assert window.engine.n_stems == len(ids) - 1
