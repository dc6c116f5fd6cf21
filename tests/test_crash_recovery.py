"""Kill the studio 0.3 s after an edit (SIGKILL, no chance to save), start again: the draft comes
back with that edit in it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.client import PlatformClient
from app.drafts import DraftStore
from audio.engine import Engine
from tests.platform_helpers import wait_for
from ui.mainwindow import MainWindow
from ui.tasks import TaskRunner

pytestmark = pytest.mark.ui
ROOT = Path(__file__).resolve().parent.parent


def test_draft_survives_a_killed_app(qtbot, platform, tmp_path):
    drafts, cache = tmp_path / "drafts", tmp_path / "cache"
    child = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tests" / "crash_child.py"),
            platform.url,
            str(drafts),
            str(cache),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)},
    )
    try:
        line = ""
        for line in child.stdout:
            if line.startswith("EDITED"):
                break
        assert line.startswith("EDITED"), line
        _, track_id, stem_id = line.split()
        # Autosave writes an edit within AUTOSAVE_MS (ui/mainwindow.py) of a running app; a busy
        # machine may run the app later than that, so the kill waits for the write to be on disk.
        assert wait_for(lambda: edited_draft_saved(drafts, track_id, stem_id), 20.0)
    finally:
        child.kill()  # SIGKILL: no closeEvent, no last save
        child.wait(10)

    client = PlatformClient(platform.url)
    client.login("fan", "encore-demo")
    tasks = TaskRunner()
    window = MainWindow(client, Engine(), tasks, DraftStore(drafts), cache)
    qtbot.addWidget(window)
    window.open_track(track_id)
    qtbot.waitUntil(lambda: window.studio.track is not None, timeout=20000)
    assert "Restored" in window.draft_label.text()
    strip = window.mixer.strips[stem_id]
    assert strip.fader.value() == -120
    assert strip.mute.isChecked()
    assert window.studio.document.stems[stem_id].gain_db == pytest.approx(-12.0)
    window.close()
    tasks.wait(5000)


def edited_draft_saved(drafts: Path, track_id: str, stem_id: str) -> bool:
    draft = DraftStore(drafts).load(track_id)
    if draft is None or stem_id not in draft.stems:
        return False
    stem = draft.stems[stem_id]
    return stem.mute and abs(stem.gain_db + 12.0) < 1e-6
