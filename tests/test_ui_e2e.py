"""The whole path through real widgets: sign in, open a track, play, mix, submit.

Real parts only: the platform is a server process on 127.0.0.1 with a SQLite file, audio goes to
the clocked JACK dummy device, widgets are real Qt widgets on the offscreen platform.
"""

from __future__ import annotations

import json
import re
import tempfile

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QAbstractButton, QAbstractItemView

from app.client import PlatformClient
from app.drafts import DraftStore
from audio.engine import Engine
from core.contract import RemixStatus
from tests.plugins.jack import start_stream
from ui.login import LoginDialog
from ui.main import load_theme
from ui.mainwindow import MainWindow
from ui.tasks import TaskRunner

pytestmark = [pytest.mark.ui, pytest.mark.device]


def sign_in(qtbot, tasks: TaskRunner, url: str, username: str) -> LoginDialog:
    dialog = LoginDialog(tasks, demo=True)
    qtbot.addWidget(dialog)
    dialog.platform_ready(PlatformClient(url), "Connected to the test platform")
    dialog.username.setText(username)
    qtbot.keyClicks(dialog.password, "encore-demo")
    qtbot.mouseClick(dialog.sign_in, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.account is not None or dialog.error.text() != "", timeout=10000)
    return dialog


def mean_stem_peak(qtbot, engine: Engine, index: int, polls: int = 12) -> float:
    """A stem's post-fader level over ~0.3 s, measured after the last change's ramp block."""
    qtbot.wait(60)
    values = []
    for _ in range(polls):
        qtbot.wait(25)
        values.append(float(engine.meters()[0][index]))
    return float(np.mean(values))


def test_wrong_password_says_so(qtbot, tasks, platform):
    dialog = LoginDialog(tasks, demo=True)
    qtbot.addWidget(dialog)
    dialog.platform_ready(PlatformClient(platform.url), "test")
    dialog.username.setText("fan")
    qtbot.keyClicks(dialog.password, "not-the-password")
    qtbot.mouseClick(dialog.sign_in, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.error.text() != "", timeout=10000)
    assert dialog.account is None
    assert "password" in dialog.error.text().lower()
    assert "encore-demo" in dialog.demo_hint.text()  # the dialog says which demo accounts exist


def test_the_sign_in_window_forgets_a_platform_failure_once_it_is_back(qtbot, tasks, platform):
    """The embedded platform died and was restarted while nobody was signed in (ui/shell.py):
    the window said so, then must not keep saying it next to "Connected"."""
    dialog = LoginDialog(tasks, demo=True)
    qtbot.addWidget(dialog)
    dialog.platform_failed("The local platform stopped unexpectedly (exit code -9). Restarting…")
    assert "stopped" in dialog.error.text()
    dialog.platform_ready(PlatformClient(platform.url), "Connected to the local platform")
    assert dialog.error.text() == ""
    assert dialog.sign_in.isEnabled()


def test_free_tier_sees_why_it_cannot_remix(qtbot, tasks, platform, tmp_path):
    dialog = sign_in(qtbot, tasks, platform.url, "casual")
    engine = Engine()
    window = MainWindow(
        dialog.client, engine, tasks, DraftStore(tmp_path / "drafts"), tmp_path / "cache"
    )
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.catalog.list.count() >= 2, timeout=10000)
    window.catalog.list.setCurrentRow(0)
    window.open_track(window.catalog.list.item(0).data(Qt.ItemDataRole.UserRole))
    qtbot.waitUntil(lambda: not window.upgrade.isHidden(), timeout=10000)
    assert "Superfan" in window.upgrade.message.text()  # tests/test_ui_free_tier.py: the rest
    assert window.studio.track is None
    assert not window.submit_button.isEnabled()


def test_whole_path(qtbot, tasks, platform, jackd, tmp_path, monkeypatch):
    # Everything the client writes lands under tmp_path: drafts, cache, and temporary files.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    dialog = sign_in(qtbot, tasks, platform.url, "fan")
    assert dialog.account is not None and dialog.account.tier == "superfan"
    client = dialog.client

    engine = Engine()
    stream = start_stream(engine, jackd, 256)
    try:
        drafts = DraftStore(tmp_path / "drafts")
        window = MainWindow(client, engine, tasks, drafts, tmp_path / "cache")
        window.setStyleSheet(load_theme())
        qtbot.addWidget(window)
        window.show()
        qtbot.waitUntil(lambda: window.catalog.list.count() >= 2, timeout=10000)

        # Open the first track from the catalog, as a click would.
        item = window.catalog.list.item(0)
        rect = window.catalog.list.visualItemRect(item)
        qtbot.mouseClick(
            window.catalog.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center()
        )
        qtbot.waitUntil(lambda: window.studio.track is not None, timeout=30000)
        track = window.studio.track
        qtbot.waitUntil(lambda: track.ready_at(0), timeout=10000)
        assert len(window.mixer.strips) == len(track.stems) >= 4

        # Space plays: the device callback runs and real audio goes out; whether the machine
        # keeps up without a dropout is benchmarks/engine.py --soak's question, not a test's.
        engine.reset_diagnostics()
        window.activateWindow()
        qtbot.waitUntil(window.isActiveWindow, timeout=2000)
        qtbot.keyClick(window, Qt.Key.Key_Space)
        qtbot.waitUntil(lambda: engine.position_seconds > 0.5, timeout=5000)
        assert engine.playing
        assert engine.output_peak > 0.01
        # Every dropout since the reset came from the device or the ring (test_device.py checks
        # the books exactly; here the counters ran before the reset too).
        assert engine.underflows <= stream.ring_underflows + stream.portaudio_underflows

        # A fader move is heard at once: that stem's post-fader level drops by ~20 dB.
        loudest = int(
            np.argmax([mean_stem_peak(qtbot, engine, i, 4) for i in range(len(track.stems))])
        )
        stem_id = track.stems[loudest].id
        before = mean_stem_peak(qtbot, engine, loudest)
        window.mixer.strips[stem_id].fader.setValue(-200)  # -20.0 dB
        after = mean_stem_peak(qtbot, engine, loudest)
        assert after < before * 0.2, (before, after)
        assert window.studio.document.stems[stem_id].gain_db == pytest.approx(-20.0)

        # Mute silences a stem; solo of another silences everything else.
        other = track.stems[(loudest + 1) % len(track.stems)].id
        qtbot.mouseClick(window.mixer.strips[other].mute, Qt.MouseButton.LeftButton)
        assert mean_stem_peak(qtbot, engine, track.stem_ids.index(other)) == 0.0
        qtbot.mouseClick(window.mixer.strips[other].mute, Qt.MouseButton.LeftButton)
        qtbot.mouseClick(window.mixer.strips[other].solo, Qt.MouseButton.LeftButton)
        assert mean_stem_peak(qtbot, engine, loudest) == 0.0
        qtbot.mouseClick(window.mixer.strips[other].solo, Qt.MouseButton.LeftButton)

        # The draft autosaves: a recipe, not audio.
        store = DraftStore(tmp_path / "drafts")

        def draft_gain() -> float | None:
            draft = store.load(track.detail.id)
            return draft.stems[stem_id].gain_db if draft else None

        qtbot.waitUntil(lambda: draft_gain() == pytest.approx(-20.0), timeout=5000)
        saved = json.loads(next((tmp_path / "drafts").glob("*.remix.json")).read_text())
        assert saved["format"] == "encore.remix/1"

        # Submit, and follow the status until the platform publishes it.
        submit = window.open_submit()
        submit.title.setText("Harbor lights (fan flip)")
        qtbot.mouseClick(submit.submit_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(
            lambda: submit.remix is not None and submit.remix.status == RemixStatus.PUBLISHED,
            timeout=180000,
        )
        assert submit.link.text().startswith("encore://remix/")
        mine = {r.id: r for r in client.my_remixes()}
        assert mine[submit.remix.id].title == "Harbor lights (fan flip)"

        submit.accept()
        window.activateWindow()
        qtbot.waitUntil(window.isActiveWindow, timeout=2000)
        qtbot.keyClick(window, Qt.Key.Key_Space)
        qtbot.waitUntil(lambda: not engine.playing, timeout=2000)

        # A second track: open, seek into it, play, change a setting.
        second = window.catalog.list.item(1).data(Qt.ItemDataRole.UserRole)
        window.open_track(second)
        qtbot.waitUntil(
            lambda: window.detail is not None and window.detail.id == second, timeout=20000
        )
        window.transport.seekRequested.emit(40.0)
        qtbot.keyClick(window, Qt.Key.Key_Space)
        qtbot.waitUntil(lambda: engine.position_seconds > 40.3, timeout=5000)
        window.mixer.strips[window.studio.track.stem_ids[0]].pan.setValue(-40)

        # While signed in, the cache holds stems, but only as ciphertext.
        cached = list((tmp_path / "cache").glob("*"))
        assert cached
        assert_no_audio(cached)

        window.sign_out_and_close()
        qtbot.waitUntil(lambda: not window.isVisible(), timeout=10000)
        assert not client.signed_in
    finally:
        stream.close()
    # After the session: nothing anywhere the app may write opens as audio, and the cache is empty.
    assert not list((tmp_path / "cache").glob("*.enc"))
    assert_no_audio([p for p in tmp_path.rglob("*") if p.is_file()])


AUDIO_MAGIC = (b"fLaC", b"RIFF", b"OggS", b"ID3", b"FORM", b"caff")


def assert_no_audio(paths) -> None:
    for path in paths:
        with open(path, "rb") as f:
            head = f.read(64)
        assert not head.startswith(AUDIO_MAGIC), path
        with pytest.raises(sf.LibsndfileError):
            sf.info(str(path))


EXPORT_WORDS = re.compile(r"export|download|bounce|save (as|audio|mix)|render to|copy audio", re.I)


def test_no_widget_offers_audio_out(qtbot, tasks, platform, tmp_path):
    """The walled garden in the UI: no action, button, menu or drag source hands out audio."""
    dialog = sign_in(qtbot, tasks, platform.url, "fan")
    window = MainWindow(dialog.client, Engine(), tasks, DraftStore(tmp_path / "d"), tmp_path / "c")
    qtbot.addWidget(window)
    window.open_track(dialog.client.tracks()[0].id)
    qtbot.waitUntil(lambda: window.studio.track is not None, timeout=20000)
    submit = window.open_submit()
    labels = [w.text() for w in window.findChildren(QAbstractButton)]
    labels += [a.text() for a in window.findChildren(QAction)]
    labels += [w.text() for w in submit.findChildren(QAbstractButton)]
    assert labels and not [t for t in labels if EXPORT_WORDS.search(t)]
    menus = [a.menu() for a in window.menuBar().actions() if a.menu() is not None]
    labels = [a.text() for menu in menus for a in menu.actions()]  # the menu bar's too
    assert labels and not [t for t in labels if EXPORT_WORDS.search(t)]
    views = window.findChildren(QAbstractItemView)
    # Reordering inside a view (the arrangement lane) moves no data out; dragging out would.
    inside = QAbstractItemView.DragDropMode.InternalMove
    assert views and not [v for v in views if v.dragEnabled() and v.dragDropMode() != inside]
    submit.reject()
    window.close()
