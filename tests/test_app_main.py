"""`encore` itself: the embedded default platform, sign-in, the studio window, a clean exit."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app.session import NO_KEYRING_MESSAGE
from ui import main as encore
from ui.login import LoginDialog
from ui.mainwindow import MainWindow

pytestmark = pytest.mark.ui


def top_level(kind):
    """The visible window of this kind (earlier tests' closed windows may linger unshown)."""
    windows = QApplication.topLevelWidgets()
    return next((w for w in windows if isinstance(w, kind) and w.isVisible()), None)


def test_encore_starts_on_the_embedded_platform_and_signs_in(qapp, tmp_path, demo_env, monkeypatch):
    for name, value in demo_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    seen: dict[str, object] = {}

    def drive() -> None:
        dialog = top_level(LoginDialog)
        window = top_level(MainWindow)
        if window is not None and window.isVisible():
            if window.catalog.list.count() >= 2:
                seen["tracks"] = window.catalog.list.count()
                seen["status"] = window.statusBar().currentMessage()
                seen["audio"] = (window.output.state, window.output.message)
                window.close()
                return
        elif dialog is not None and dialog.sign_in.isEnabled() and "hint" not in seen:
            seen["hint"] = dialog.demo_hint.text()
            seen["platform"] = dialog.platform_label.text()
            dialog.username.setText("fan")
            dialog.password.setText("encore-demo")
            dialog.sign_in.click()
        QTimer.singleShot(50, drive)

    QTimer.singleShot(50, drive)
    code = encore.main(["--data-dir", str(tmp_path / "data"), "--device", "no-such-device"])
    assert code == 0
    assert "fan" in seen["hint"] and "encore-demo" in seen["hint"]
    assert "local platform" in seen["platform"]
    assert NO_KEYRING_MESSAGE in seen["platform"]  # this machine has no keyring: it says so
    assert seen["tracks"] >= 2
    assert "Superfan" in seen["status"]
    # The device asked for is not there: no sound, and the window's output keeps looking for it.
    state, message = seen["audio"]
    assert state == "no_device" and message.startswith("The audio device “no-such-device” is not")
    assert (tmp_path / "data" / "platform" / "platform.sqlite3").exists()
