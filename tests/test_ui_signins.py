"""File ▸ Signed-in devices…: the fan sees where they are signed in and signs a lost laptop out
from here, in the real studio window against the real platform."""

from __future__ import annotations

import pytest
import requests

from app.client import USER_AGENT, PlatformClient
from app.drafts import DraftStore
from audio.engine import Engine
from tests.platform_helpers import PASSWORD, create_user
from tests.plugins.platform import login
from tests.test_ui_legibility import assert_none, legibility_problems
from ui.mainwindow import MainWindow
from ui.tasks import TaskRunner

pytestmark = pytest.mark.ui


@pytest.mark.usefixtures("themed")  # the theme as `encore` applies it
def test_the_fan_signs_a_lost_device_out(qtbot, platform, tmp_path):
    create_user(platform.url, platform.data_dir, "devices-fan")
    lost = login(platform.url, "devices-fan", PASSWORD)  # the laptop left on a train
    headers = {"Authorization": f"Bearer {lost['access_token']}", "User-Agent": "Old laptop"}
    assert requests.get(f"{platform.url}/v1/me/device-key", headers=headers, timeout=10).ok

    client = PlatformClient(platform.url)
    client.login("devices-fan", PASSWORD)
    client.content_key()  # this studio is a device too
    tasks = TaskRunner()
    window = MainWindow(
        client, Engine(), tasks, DraftStore(tmp_path / "drafts"), tmp_path / "cache"
    )
    qtbot.addWidget(window)
    window.show()
    window.menus.devices.trigger()
    dialog = window.menus.dialog
    qtbot.waitUntil(lambda: dialog.devices is not None, timeout=10000)
    names = {d.name: d for d in dialog.devices}
    assert set(names) == {"Old laptop", USER_AGENT}  # "Encore/0.1 (hostname, Linux)"
    assert names[USER_AGENT].current and not names["Old laptop"].current
    assert list(dialog.sign_out_buttons) == [names["Old laptop"].id]  # not this device
    qtbot.waitExposed(dialog)
    assert_none(legibility_problems(qtbot, dialog, "signed-in-devices"))

    dialog.sign_out_buttons[names["Old laptop"].id].click()
    qtbot.waitUntil(lambda: len(dialog.devices or []) == 1, timeout=10000)
    assert dialog.devices[0].current
    assert "Only this device" in dialog.status.text()
    gone = requests.get(f"{platform.url}/v1/me/device-key", headers=headers, timeout=10)
    assert gone.status_code == 401  # its key is never handed out again
    dialog.accept()
    window.close()
    tasks.wait(10000)
