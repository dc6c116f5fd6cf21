"""The free tier opening a track: what Superfan unlocks and how to upgrade, in place of a
transport and mixer that could not play. Real widgets on a real platform."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from core.contract import Tier
from tests.test_ui_remixes import client_for, window_for
from ui.upgrade import UNLOCKS

pytestmark = pytest.mark.ui
LEFT = Qt.MouseButton.LeftButton


def controls(window) -> list:
    return [
        window.transport.play_button,
        window.transport,
        window.arrangement,
        window.mixer,
        window.mixer.master,
        window.submit_button,
        window.track_controls,
    ]


def test_free_tier_sees_what_superfan_unlocks_instead_of_dead_controls(
    qtbot, tasks, platform, tmp_path
):
    casual = client_for(platform.url, "casual")
    window = window_for(qtbot, casual, tasks, tmp_path / "casual")
    qtbot.waitUntil(lambda: window.catalog.list.count() >= 2, timeout=10000)
    track_id = window.catalog.list.item(0).data(Qt.ItemDataRole.UserRole)
    window.open_track(track_id)
    panel = window.upgrade
    qtbot.waitUntil(lambda: panel.isVisible(), timeout=10000)

    assert window.track_title.text() == casual.track(track_id).title  # the track, described
    assert panel.heading.text() == "Remixing is a Superfan feature"
    assert panel.message.text() == (
        "Stems are part of the Superfan tier. Upgrade to Superfan to remix this track."
    )
    assert (
        panel.unlock_titles == [t for t, _ in UNLOCKS] == ["Stream the stems", "Remix", "Publish"]
    )
    assert panel.unlocks.isVisible() and panel.upgrade_button.isVisible()
    assert panel.upgrade_button.text() == "Upgrade to Superfan…"
    # Nothing that looks playable is left: transport, mixer, tempo/key and Submit are gone.
    assert [w for w in controls(window) if w.isVisible()] == []
    assert window.banner.isHidden()  # the panel says why; no second copy in the banner
    assert window.studio.track is None

    qtbot.mouseClick(panel.upgrade_button, LEFT)
    dialog = panel.dialog
    assert dialog is not None and dialog.isVisible()
    text = dialog.text.text()
    assert text.startswith("Superfan is a membership of your account on the platform")
    assert platform.url in text
    assert "local demo platform" in text and "takes no payments" in text and "“fan”" in text
    qtbot.mouseClick(dialog.close_button, LEFT)
    assert not dialog.isVisible()
    # Nothing was faked: the account is still on the free tier, on the platform too.
    assert casual.account.tier == Tier.FREE
    assert client_for(platform.url, "casual").account.tier == Tier.FREE
    window.grab().save(str(tmp_path / "free-tier.png"))


def test_a_superfan_gets_the_studio_not_the_upgrade_panel(qtbot, tasks, platform, tmp_path):
    fan = client_for(platform.url, "fan")
    window = window_for(qtbot, fan, tasks, tmp_path / "fan")
    qtbot.waitUntil(lambda: window.catalog.list.count() >= 2, timeout=10000)
    window.open_track(window.catalog.list.item(0).data(Qt.ItemDataRole.UserRole))
    qtbot.waitUntil(lambda: window.studio.track is not None, timeout=30000)
    assert not window.upgrade.isVisible()
    assert all(w.isVisible() for w in controls(window))
    assert window.transport.play_button.isEnabled()
    window.close()
