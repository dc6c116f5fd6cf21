"""Open the studio on the local platform, play a demo track, and save a screenshot of the window."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication

from app.client import PlatformClient
from app.drafts import DraftStore
from app.embedded import start_platform
from audio.engine import Engine
from audio.output import AudioOutput
from ui.main import apply_theme
from ui.mainwindow import MainWindow
from ui.tasks import TaskRunner


def pump(seconds: float, until=lambda: False) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end and not until():
        QCoreApplication.processEvents()
        time.sleep(0.01)


def main(out: str) -> None:
    app = QApplication(sys.argv[:1])
    apply_theme(app)  # the style sheet and its palette, as `encore` applies them
    tmp = Path(tempfile.mkdtemp(prefix="encore-shot-"))
    platform = start_platform(tmp / "platform")
    try:
        client = PlatformClient(platform.url)
        client.login("fan", "encore-demo")
        engine = Engine()
        output = AudioOutput(engine)
        output.open(None, 256)  # no device: the window shows why (and keeps looking)
        tasks = TaskRunner(app)
        window = MainWindow(
            client, engine, tasks, DraftStore(tmp / "drafts"), tmp / "cache", output=output
        )
        window.resize(1320, 800)
        window.show()
        pump(10, lambda: window.catalog.list.count() > 0)
        window.catalog.list.setCurrentRow(0)
        window.catalog.trackActivated.emit(window.catalog.list.item(0).data(256))
        pump(30, lambda: window.studio.track is not None and window.studio.track.seekable)
        strips = list(window.mixer.strips.values())
        strips[1].fader.setValue(-45)
        strips[2].pan.setValue(-30)
        strips[-1].solo.setChecked(False)
        engine.seek(16.0)
        engine.play()
        pump(2.5)
        window.grab().save(out)
        output.close()
    finally:
        platform.stop()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshot.png")
