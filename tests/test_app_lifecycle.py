"""`encore` over a whole session: sign out and in again in place, drafts per account, one instance
per data folder, links from outside, and the embedded platform dying under the user.

Everything runs `ui.main.main` itself (the embedded platform is a real child process on
127.0.0.1, widgets are real Qt widgets offscreen), driven by a timer as a user would click.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from core.contract import RemixStatus
from tests.platform_helpers import as_demo, doc_for, wait_for_status
from ui import main as encore
from ui.instance import SingleInstance
from ui.login import LoginDialog
from ui.mainwindow import MainWindow
from ui.shell import Shell

pytestmark = pytest.mark.ui
REPO = Path(__file__).resolve().parent.parent


def visible(kind):
    return next(
        (w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()), None
    )


@pytest.fixture
def encore_env(qapp, demo_env, tmp_path, monkeypatch):
    for name, value in demo_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    return tmp_path / "data"


def run_encore(args: list[str], steps: list[Callable[[], bool]], timeout: float = 120.0) -> int:
    """Run `encore` with `steps`: each is polled every 50 ms until it returns True, in order.
    The app is quit if the steps have not all passed within `timeout` (the test then fails)."""
    done: list[int] = []
    deadline = time.monotonic() + timeout

    def drive() -> None:
        if len(done) < len(steps) and steps[len(done)]():
            done.append(1)
        if len(done) == len(steps):
            return
        if time.monotonic() > deadline:
            QApplication.instance().quit()
            return
        QTimer.singleShot(50, drive)

    QTimer.singleShot(50, drive)
    code = encore.main(args)
    assert len(done) == len(steps), f"stuck at step {len(done)}"
    return code


def sign_in_as(username: str) -> Callable[[], bool]:
    def step() -> bool:
        dialog = visible(LoginDialog)
        if dialog is None or not dialog.sign_in.isEnabled():
            return False
        dialog.username.setText(username)
        dialog.password.setText("encore-demo")
        dialog.sign_in.click()
        return True

    return step


def window_of(username: str) -> MainWindow | None:
    window = visible(MainWindow)
    if window is None or window.account is None or window.account.username != username:
        return None
    return window if window.catalog.list.count() >= 2 else None


def test_sign_out_returns_to_sign_in_and_drafts_belong_to_their_account(encore_env):
    seen: dict[str, object] = {}
    first_track: list[str] = []

    def fan_edits() -> bool:
        window = window_of("fan")
        if window is None:
            return False
        if not first_track:
            first_track.append(window.catalog.list.item(0).data(256))
            seen["fan_window"] = window
            window.open_track(first_track[0])
            return False
        if window.studio.document is None:
            return False
        strip = next(iter(window.mixer.strips.values()))
        strip.fader.setValue(strip.fader.value() - 60)
        window._save_draft()  # as the autosave timer would
        return True

    def fan_signs_out() -> bool:
        window = seen["fan_window"]
        assert isinstance(window, MainWindow)
        window.sign_out.click()
        return True

    def artist_window() -> bool:
        window = window_of("artist")
        if window is None:
            return False
        seen["artist_banner"] = window.banner.text() if window.banner.isVisible() else ""
        seen["artist_draft"] = window.drafts.load(first_track[0])
        seen["fan_window_gone"] = not seen["fan_window"].isVisible()
        window.sign_out.click()
        return True

    def fan_again() -> bool:
        window = window_of("fan")
        if window is None or not window.banner.isVisible():
            return False
        seen["fan_banner"] = window.banner.text()
        seen["fan_action"] = window.banner_action.text()
        window.close()
        return True

    code = run_encore(
        ["--data-dir", str(encore_env), "--device", "no-such-device"],
        [
            sign_in_as("fan"),
            fan_edits,
            fan_signs_out,
            sign_in_as("artist"),
            artist_window,
            sign_in_as("fan"),
            fan_again,
        ],
    )
    assert code == 0
    assert seen["fan_window_gone"]
    # The artist sees neither the fan's draft nor an offer to restore it...
    assert seen["artist_draft"] is None and "draft" not in str(seen["artist_banner"]).lower()
    # ...and the fan, back in the same process, is offered theirs at sign-in.
    assert "Restore your draft" not in seen["fan_banner"]  # the banner names the draft instead
    assert "unsubmitted draft" in seen["fan_banner"] and seen["fan_action"] == "Restore draft"
    drafts = list((encore_env / "drafts").rglob("*.remix.json"))
    assert len(drafts) == 1 and drafts[0].parent.name == "fan"


def test_the_embedded_platform_is_restarted_when_it_dies(encore_env):
    seen: dict[str, object] = {}

    def kill_platform() -> bool:
        window = window_of("fan")
        if window is None:
            return False
        shell = QApplication.instance().findChild(Shell)
        assert shell is not None and shell.embedded is not None
        seen["pid"] = shell.embedded.process.pid
        seen["window"] = window
        os.kill(shell.embedded.process.pid, signal.SIGKILL)  # a crash, no warning
        return True

    def restarted() -> bool:
        window = seen["window"]
        assert isinstance(window, MainWindow)
        text = window.banner.text()
        if "restarted" not in text:
            return False
        seen["banner"] = text
        # The session carries on against the new platform: the catalog answers again.
        seen["tracks"] = window.client.tracks("")
        seen["zombie"] = Path(f"/proc/{seen['pid']}").exists()
        window.close()
        return True

    code = run_encore(
        ["--data-dir", str(encore_env), "--device", "no-such-device"],
        [sign_in_as("fan"), kill_platform, restarted],
    )
    assert code == 0
    assert "Encore restarted it" in seen["banner"]
    assert len(seen["tracks"]) >= 2
    assert not seen["zombie"], "the dead platform was left a zombie"


def test_a_second_launch_hands_its_link_to_the_first(qtbot, tmp_path):
    first = SingleInstance(tmp_path)
    assert first.acquire()
    received: list[str] = []
    first.messageReceived.connect(received.append)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO)}
    # `python -m ui.launch` is the `encore` command: it spawns the embedded platform before it
    # can know another Encore holds the folder; that platform must not outlive the hand-over.
    cmd = [sys.executable, "-m", "ui.launch", "--data-dir", str(tmp_path), "encore://remix/abc123"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    qtbot.waitUntil(lambda: proc.poll() is not None, timeout=60000)
    assert proc.returncode == 0
    assert "already running" in proc.stdout.read()
    assert not platforms_serving(tmp_path), "the second launch left its platform running"
    qtbot.waitUntil(lambda: bool(received), timeout=5000)
    assert received == ["open encore://remix/abc123"]
    first.release()
    # Once the first has quit, the folder is free again.
    again = SingleInstance(tmp_path)
    assert again.acquire()
    again.release()


def test_a_link_that_is_not_encores_is_refused_clearly(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-m", "ui.launch", "--data-dir", str(tmp_path), "https://example.com/x"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "is not an Encore link" in out.stderr and "encore://remix/" in out.stderr
    assert not platforms_serving(tmp_path)


def platforms_serving(data_dir: Path) -> list[str]:
    """Command lines of live platform processes on this data dir (zombies do not count)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if "server.cli serve" in cmdline and str(data_dir) in cmdline and state != "Z":
            found.append(cmdline)
    return found


def test_opening_a_link_shows_and_plays_the_remix(encore_env):
    """A published remix, opened by its link (as a second launch hands it over)."""
    # The app runs its own embedded platform: the remix is submitted there once signed in.
    seen: dict[str, object] = {}

    def submit_and_open() -> bool:
        window = window_of("fan")
        if window is None:
            return False
        api = as_demo(window.client.base_url, "fan")
        track = api("GET", "/tracks/" + window.catalog.list.item(1).data(256)).json()
        resp = api.submit(doc_for(track, title="Linked remix"))
        assert resp.status_code in (201, 202), resp.text
        info = wait_for_status(api, resp.json()["id"])
        assert info["status"] == RemixStatus.PUBLISHED, info
        seen["window"] = window
        QApplication.instance().findChild(Shell).handle_message(f"open {info['link']}")
        seen["id"] = info["id"]
        return True

    def playing() -> bool:
        window = seen["window"]
        assert isinstance(window, MainWindow)
        listener = window.sections.listener
        if not listener.is_playing(str(seen["id"])):
            return False
        seen["section"] = window.sections.current
        seen["title"] = window.sections.remixes.detail.title.text()
        window.close()
        return True

    code = run_encore(
        ["--data-dir", str(encore_env), "--device", "no-such-device"],
        [sign_in_as("fan"), submit_and_open, playing],
        timeout=240,
    )
    assert code == 0
    assert seen["section"] == "remixes" and seen["title"] == "Linked remix"
