"""Drafts hold edits a fan has not submitted, and nothing else: a track only opened leaves none,
and a submitted remix does not come back as "an unsubmitted draft" after signing out (a fan who
restored it would submit a duplicate)."""

from __future__ import annotations

import random

import pytest
from PySide6.QtCore import Qt

from app.client import PlatformClient
from app.drafts import DraftStore
from audio.engine import Engine
from ui.mainwindow import MainWindow
from ui.tasks import TaskRunner

pytestmark = pytest.mark.ui


def test_drafts_keep_unsubmitted_edits_only(qtbot, platform, tmp_path):
    client = PlatformClient(platform.url)
    client.login("fan", "encore-demo")
    store = DraftStore(tmp_path / "drafts")
    window = MainWindow(client, Engine(), TaskRunner(), store, tmp_path / "cache")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.catalog.list.count() > 0, timeout=20000)
    track_id = window.catalog.list.item(0).data(Qt.ItemDataRole.UserRole)
    window.open_track(track_id)
    qtbot.waitUntil(lambda: window.studio.track is not None, timeout=30000)

    window.session.save_draft()  # what closing the window or signing out does
    assert store.load(track_id) is None  # opened, never edited: no draft

    stem = window.studio.track.stem_ids[0]
    gain = -round(random.uniform(3.0, 30.0), 1)  # a recipe no other test submits
    window.mixer.strips[stem].fader.setValue(int(gain * 10))
    qtbot.waitUntil(lambda: store.load(track_id) is not None, timeout=10000)  # autosaved
    assert store.load(track_id).stems[stem].gain_db == pytest.approx(gain)

    submit = window.open_submit()
    assert submit is not None
    submit.title.setText("Draft check")
    qtbot.mouseClick(submit.submit_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: submit.remix is not None, timeout=60000)
    submit.accept()
    assert store.load(track_id) is None  # submitted: no longer a draft

    window.sign_out_and_close()  # with the submitted remix still open
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10000)
    assert store.load(track_id) is None
