"""A studio process for the crash test: opens a track, edits it, reports at once, then waits to be
killed.

Run as `python tests/crash_child.py URL DRAFTS_DIR CACHE_DIR`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication

from app.client import PlatformClient
from app.drafts import DraftStore
from audio.engine import Engine
from ui.mainwindow import MainWindow
from ui.tasks import TaskRunner


def pump_until(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        QCoreApplication.processEvents()
        time.sleep(0.01)


def main(url: str, drafts_dir: str, cache_dir: str) -> None:
    app = QApplication(sys.argv[:1])
    client = PlatformClient(url)
    client.login("fan", "encore-demo")
    drafts = DraftStore(Path(drafts_dir))
    window = MainWindow(client, Engine(), TaskRunner(app), drafts, Path(cache_dir))
    window.show()
    pump_until(lambda: window.catalog.list.count() > 0)
    track_id = window.catalog.list.item(0).data(256)
    window.open_track(track_id)
    pump_until(lambda: window.studio.track is not None)
    first = window.studio.track.stems[0].id
    assert drafts.load(track_id) is None  # opening a track alone leaves no draft
    window.mixer.strips[first].fader.setValue(-120)  # -12 dB
    window.mixer.strips[first].mute.click()
    print(f"EDITED {track_id} {first}", flush=True)  # not waiting for the draft: the test kills
    while True:  # mid-session: the test kills this process here
        QCoreApplication.processEvents()
        time.sleep(0.01)


if __name__ == "__main__":
    main(*sys.argv[1:4])
