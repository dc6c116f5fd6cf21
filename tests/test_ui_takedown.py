"""The artist takes a published remix down from the Review tab, and the fan reads why; the
Review tab's track list counts what waits for review. Real widgets on a real platform.

`artist2` owns `undertow`; the test opens it and puts the original policy back afterwards.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from core.contract import RemixStatus, RightsPolicy
from core.text import isolate
from tests.platform_helpers import PASSWORD, create_user
from tests.test_ui_remixes import client_for, row_ids, select, submit, window_for

pytestmark = pytest.mark.ui
TRACK = "undertow"
LEFT = Qt.MouseButton.LeftButton
REASON = "It leans on the vocal hook, which I have not cleared for remixes."


def wait_status(qtbot, client, remix_id: str, status: RemixStatus) -> None:
    qtbot.waitUntil(lambda: client.remix(remix_id).status == status, timeout=180000)


def test_artist_takes_a_remix_down_and_the_fan_reads_why(qtbot, tasks, platform, tmp_path):
    artist = client_for(platform.url, "artist2")
    original = artist.track(TRACK).policy
    create_user(platform.url, platform.data_dir, "ui-takedown-fan")
    fan = client_for(platform.url, "ui-takedown-fan", PASSWORD)
    try:
        artist.set_policy(TRACK, RightsPolicy(opted_in=True, requires_approval=False))
        published = submit(fan, TRACK, 2, -6.8, "UI takedown")
        wait_status(qtbot, fan, published.id, RemixStatus.PUBLISHED)
        artist.set_policy(TRACK, RightsPolicy(opted_in=True, requires_approval=True))
        waiting = submit(fan, TRACK, 4, -8.2, "UI waiting")
        wait_status(qtbot, fan, waiting.id, RemixStatus.PENDING_APPROVAL)
        pending = len(artist.review_queue(TRACK, RemixStatus.PENDING_APPROVAL))
        assert pending >= 1

        studio = window_for(qtbot, artist, tasks, tmp_path / "artist")
        studio.sections.show_section("review")
        view = studio.sections.artist
        qtbot.waitUntil(lambda: view.track_list.count() == 1, timeout=10000)
        # The sidebar counts the remixes waiting for review.
        row = view.track_list.item(0)
        assert row.text().split("\n") == [
            isolate("Undertow"),  # user text is shown isolated (tests/test_bidi_display.py)
            "5 stems · open to remixes",
            f"{pending} waiting for review",
        ]

        view.track_list.setCurrentRow(0)
        qtbot.waitUntil(lambda: view.policy_button.isEnabled(), timeout=10000)
        view.filter.setCurrentIndex(view.filter.findData(""))  # All remixes
        qtbot.waitUntil(lambda: published.id in row_ids(view.queue_list), timeout=10000)
        select(view.queue_list, waiting.id)
        assert not view.takedown_bar.isVisibleTo(view.page)  # pending: approve or reject
        select(view.queue_list, published.id)
        assert view.remix_detail.chip.text() == "Published"
        assert view.takedown_bar.isVisibleTo(view.page)
        assert not view.decision.isVisibleTo(view.page)

        qtbot.mouseClick(view.takedown_button, LEFT)
        dialog = view.takedown_dialog
        assert dialog is not None and dialog.isVisible()
        qtbot.mouseClick(dialog.confirm, LEFT)  # no reason: refused before anything is sent
        assert dialog.error.text() == (
            "Write why you are taking this remix down first: its creator sees your reason."
        )
        assert fan.remix(published.id).status == RemixStatus.PUBLISHED
        qtbot.keyClicks(dialog.reason, REASON)
        qtbot.mouseClick(dialog.confirm, LEFT)
        qtbot.waitUntil(lambda: view.remix_detail.chip.text() == "Taken down", timeout=10000)
        assert not dialog.isVisible()
        assert not view.takedown_bar.isVisibleTo(view.page)
        assert view.remix_detail.reason.text() == f"The artist took this remix down: {REASON}"
        assert view.remix_detail.listen.button.isVisibleTo(view.page)  # the artist still can

        view.tabs.setCurrentIndex(1)
        qtbot.waitUntil(
            lambda: bool(view.audit_entries) and view.audit_entries[0].remix_id == published.id,
            timeout=10000,
        )
        top = [view.audit_view.topLevelItem(0).text(c) for c in range(1, 4)]
        assert top == [
            "artist2",
            "Took down a remix",
            f"“{isolate('UI takedown')}” — {isolate(REASON)}",
        ]

        # Approving the waiting remix brings the count down.
        view.tabs.setCurrentIndex(0)
        select(view.queue_list, waiting.id)
        qtbot.mouseClick(view.approve, LEFT)
        expected = f"{pending - 1} waiting for review" if pending > 1 else None
        qtbot.waitUntil(
            lambda: view.track_list.item(0).text().split("\n")[2:] == ([expected] * bool(expected)),
            timeout=10000,
        )

        # The fan's side: the status and the artist's reason, in words; nothing to play.
        mine = window_for(qtbot, fan, tasks, tmp_path / "fan")
        mine.sections.show_section("remixes")
        remixes = mine.sections.remixes
        qtbot.waitUntil(lambda: published.id in row_ids(remixes.list), timeout=10000)
        select(remixes.list, published.id)
        detail = remixes.detail
        assert detail.chip.text() == "Taken down"
        assert detail.reason.isVisibleTo(remixes.page)
        assert detail.reason.text() == f"The artist took this remix down: {REASON}"
        assert not detail.listen.button.isVisibleTo(remixes.page)
        assert detail.listen.message.text() == (
            "The artist took this remix down, so it is no longer played in Encore."
        )
        assert detail.link.text() == "" and not detail.copy.isEnabled()
    finally:
        artist.set_policy(TRACK, original)
