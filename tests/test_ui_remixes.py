"""My remixes, in-app listening and artist mode, through real widgets on a real platform.

`artist2` owns `undertow`; the review test opens it with approval through the policy editor and
puts the original policy back afterwards. Fans are fresh accounts (own quota, no earlier remixes).
"""

from __future__ import annotations

import io
import tempfile
from decimal import Decimal

import pytest
import soundfile as sf
from PySide6.QtCore import Qt

from app.client import PlatformClient
from app.drafts import DraftStore
from audio.engine import Engine
from core.contract import RemixDocument, RemixStatus, StemSettings
from core.text import isolate
from tests.platform_helpers import PASSWORD, create_user
from tests.plugins.jack import start_stream
from tests.test_ui_e2e import assert_no_audio
from ui.main import load_theme
from ui.mainwindow import MainWindow

pytestmark = pytest.mark.ui
TRACK = "undertow"
LEFT = Qt.MouseButton.LeftButton


def client_for(url: str, username: str, password: str = "encore-demo") -> PlatformClient:
    client = PlatformClient(url)
    client.login(username, password)
    return client


def window_for(qtbot, client, tasks, tmp_path, engine: Engine | None = None) -> MainWindow:
    window = MainWindow(
        client, engine or Engine(), tasks, DraftStore(tmp_path / "drafts"), tmp_path / "cache"
    )
    window.setStyleSheet(load_theme())
    qtbot.addWidget(window)
    window.show()
    return window


def submit(client: PlatformClient, track_id: str, stem: int, gain_db: float, title: str):
    detail = client.track(track_id)
    ids = [s.id for s in detail.stems]
    doc = RemixDocument(
        track_id=detail.id,
        track_version=detail.version,
        title=title,
        stems={ids[stem]: StemSettings(gain_db=gain_db)},
    )
    return client.submit_remix(doc, f"{title}-key")


def row_ids(view) -> list[str]:
    return [view.item(i).data(Qt.ItemDataRole.UserRole) for i in range(view.count())]


def select(view, remix_id: str) -> None:
    view.setCurrentRow(row_ids(view).index(remix_id))


def test_artist_reviews_and_the_fan_sees_the_outcome(qtbot, tasks, platform, tmp_path):
    artist = client_for(platform.url, "artist2")
    original = artist.track(TRACK).policy
    create_user(platform.url, platform.data_dir, "ui-review-fan")
    fan = client_for(platform.url, "ui-review-fan", PASSWORD)
    try:
        studio = window_for(qtbot, artist, tasks, tmp_path / "artist")
        assert studio.sections.names == ["catalog", "remixes", "review"]
        studio.sections.show_section("review")
        view = studio.sections.artist
        qtbot.waitUntil(lambda: view.track_list.count() == 1, timeout=10000)
        view.track_list.setCurrentRow(0)
        qtbot.waitUntil(lambda: view.policy_button.isEnabled(), timeout=10000)

        # The policy editor: open the track with approval; the platform stores what was set.
        dialog = view.edit_policy()
        dialog.opted_in.setChecked(True)
        dialog.requires_approval.setChecked(True)
        dialog.creator_share.setValue(30.0)
        qtbot.mouseClick(dialog.save, LEFT)
        qtbot.waitUntil(lambda: dialog.saved is not None, timeout=10000)
        policy = artist.track(TRACK).policy
        assert policy.opted_in and policy.requires_approval and policy.creator_share == 0.3
        qtbot.waitUntil(lambda: "you approve each remix" in view.policy_line.text(), timeout=10000)

        # An invalid policy comes back as the platform's 422 message, in the dialog.
        dialog = view.edit_policy()
        for box in dialog.allowed.values():
            box.setChecked(False)
        qtbot.mouseClick(dialog.save, LEFT)
        qtbot.waitUntil(lambda: dialog.error.text() != "", timeout=10000)
        assert dialog.error.text().startswith("No stem is ticked under “Fans may use”")
        assert dialog.saved is None and dialog.isVisible()
        dialog.tempo_min.setValue(1.2)
        dialog.tempo_max.setValue(1.1)
        for box in dialog.allowed.values():
            box.setChecked(True)
        qtbot.mouseClick(dialog.save, LEFT)
        assert dialog.error.text() == (
            "The slowest tempo (×1.2) is faster than the fastest tempo (×1.1). Fix the range and "
            "save again."
        )
        dialog.reject()

        # A fan submits two remixes; both wait for the artist.
        keep = submit(fan, TRACK, 0, -15.3, "UI keep")
        drop = submit(fan, TRACK, 2, -19.1, "UI drop")
        for remix in (keep, drop):
            qtbot.waitUntil(
                lambda r=remix: fan.remix(r.id).status == RemixStatus.PENDING_APPROVAL,
                timeout=180000,
            )
        view.refresh_queue()
        qtbot.waitUntil(lambda: {keep.id, drop.id} <= set(row_ids(view.queue_list)), timeout=180000)
        assert all(r.status == RemixStatus.PENDING_APPROVAL for r in view.queue.values())

        select(view.queue_list, keep.id)
        assert view.remix_detail.chip.text() == "Pending approval"
        assert view.decision.isVisibleTo(view.page)
        assert view.remix_detail.listen.button.isVisibleTo(view.page)  # listen before deciding
        qtbot.mouseClick(view.remix_detail.listen.button, LEFT)
        qtbot.waitUntil(lambda: view.listener.active(keep.id), timeout=60000)
        qtbot.mouseClick(view.approve, LEFT)
        qtbot.waitUntil(lambda: view.remix_detail.chip.text() == "Published", timeout=10000)
        assert not view.decision.isVisibleTo(view.page)

        # Approved, it leaves the queue (other modules' remixes may wait there too).
        qtbot.waitUntil(
            lambda: keep.id not in row_ids(view.queue_list) and drop.id in row_ids(view.queue_list),
            timeout=10000,
        )
        # Approved while heard: it stays shown, with the control that stops it.
        assert view.remix_detail.isVisibleTo(view.page)
        assert view.remix_detail.listen.button.isVisibleTo(view.page)
        if not view.listener.engine.playing:
            qtbot.mouseClick(view.remix_detail.listen.button, LEFT)  # (it had not started)
        qtbot.mouseClick(view.remix_detail.listen.button, LEFT)
        assert not view.listener.engine.playing
        select(view.queue_list, drop.id)
        qtbot.mouseClick(view.reject, LEFT)  # no reason yet: refused before anything is sent
        assert view.decision_error.text() == (
            "Write why you are rejecting this remix first: the creator sees your reason."
        )
        assert fan.remix(drop.id).status == RemixStatus.PENDING_APPROVAL
        qtbot.keyClicks(view.reason, "Too close to the original mix")
        qtbot.mouseClick(view.reject, LEFT)
        qtbot.waitUntil(lambda: view.remix_detail.chip.text() == "Rejected", timeout=10000)

        # The audit log: who did what, with remix titles and the reason.
        view.tabs.setCurrentIndex(1)
        qtbot.waitUntil(
            lambda: [e.remix_id for e in view.audit_entries[:2]] == [drop.id, keep.id],
            timeout=10000,
        )
        rows = [[view.audit_view.topLevelItem(i).text(c) for c in range(1, 4)] for i in range(3)]
        assert rows[0] == [
            "artist2",
            "Rejected a remix",
            f"“{isolate('UI drop')}” — {isolate('Too close to the original mix')}",
        ]
        assert rows[1] == ["artist2", "Approved a remix", f"“{isolate('UI keep')}”"]
        assert rows[2][:2] == ["artist2", "Changed the policy"]
        assert "creator's share: 20 % → 30 %" in rows[2][2]

        # The fan's side: statuses, the split that sums to 100 %, the disclosure, the reason.
        mine = window_for(qtbot, fan, tasks, tmp_path / "fan")
        assert mine.sections.names == ["catalog", "remixes"]  # no Review tab for a fan
        mine.sections.show_section("remixes")
        remixes = mine.sections.remixes
        qtbot.waitUntil(lambda: set(row_ids(remixes.list)) == {keep.id, drop.id}, timeout=10000)
        select(remixes.list, keep.id)
        detail = remixes.detail
        assert detail.chip.text() == "Published"
        assert detail.link.text() == f"encore://remix/{keep.id}"
        assert detail.copy.isEnabled()
        shares = [Decimal(p.removesuffix(" %")) for _, p in detail.split.rows]
        assert sum(shares) == Decimal("100.00")
        assert detail.split.total.text() == "Total  100.00 %"
        parties = dict(detail.split.rows)
        assert parties["Encore (platform)"] == "15.00 %"
        creator_line = [p for p, _ in detail.split.rows if p == fan.account.display_name]
        assert creator_line and parties[creator_line[0]] == "30.00 %"
        assert detail.disclosure.fields["Source"] == (
            f"{isolate('Undertow')} — {isolate('Jonah Reed')} (version 1)"
        )
        assert "-15.3 dB" in detail.disclosure.fields["Mix"]
        assert detail.disclosure.fields["AI involvement"] == "None declared by the creator"

        select(remixes.list, drop.id)
        assert detail.chip.text() == "Rejected"
        assert detail.reason.isVisibleTo(remixes.page)
        assert detail.reason.text() == (
            "The artist did not approve this remix: Too close to the original mix"
        )
        assert detail.link.text() == "" and not detail.copy.isEnabled()
        assert not detail.listen.button.isVisibleTo(remixes.page)
        assert detail.listen.message.text().startswith("Rejected remixes are not published")
    finally:
        artist.set_policy(TRACK, original)


def test_status_chips_follow_a_remix_while_it_renders(qtbot, tasks, platform, tmp_path):
    create_user(platform.url, platform.data_dir, "ui-chip-fan")
    fan = client_for(platform.url, "ui-chip-fan", PASSWORD)
    window = window_for(qtbot, fan, tasks, tmp_path)
    window.sections.show_section("remixes")
    remixes = window.sections.remixes
    qtbot.waitUntil(lambda: "No remixes yet" in remixes.empty.text(), timeout=10000)
    track = fan.tracks()[0].id
    remix = submit(fan, track, 1, -21.7, "UI chips")
    remixes.refresh()  # the tab refreshes itself when shown; a submit elsewhere needs a nudge
    qtbot.waitUntil(lambda: row_ids(remixes.list) == [remix.id], timeout=10000)
    select(remixes.list, remix.id)
    # No further nudge: the view polls while the remix is received or rendering.
    qtbot.waitUntil(lambda: remixes.detail.chip.text() == "Published", timeout=180000)
    assert not remixes._timer.isActive()
    assert remixes.empty.text() == ""


@pytest.mark.device
def test_listen_plays_the_render_in_memory_and_gives_the_track_back(
    qtbot, tasks, platform, jackd, tmp_path, monkeypatch
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    create_user(platform.url, platform.data_dir, "ui-listen-fan")
    fan = client_for(platform.url, "ui-listen-fan", PASSWORD)
    track_id = fan.tracks()[0].id
    remix = submit(fan, track_id, 0, -17.2, "UI listen")
    engine = Engine()
    stream = start_stream(engine, jackd, 256)
    try:
        window = window_for(qtbot, fan, tasks, tmp_path, engine)
        qtbot.waitUntil(lambda: window.catalog.list.count() >= 1, timeout=10000)
        window.open_track(track_id)
        qtbot.waitUntil(lambda: window.studio.track is not None, timeout=30000)
        track = window.studio.track
        qtbot.waitUntil(lambda: track.seekable, timeout=30000)
        names = [s.name for s in track.stems]
        first = track.stem_ids[0]
        window.studio.set_gain_db(first, -10.0)
        engine.seek(20.0)
        qtbot.waitUntil(lambda: abs(engine.position_seconds - 20.0) < 1e-6, timeout=2000)

        window.sections.show_section("remixes")
        remixes = window.sections.remixes
        qtbot.waitUntil(lambda: row_ids(remixes.list) == [remix.id], timeout=10000)
        qtbot.waitUntil(
            lambda: remixes.remixes[remix.id].status == RemixStatus.PUBLISHED, timeout=180000
        )
        select(remixes.list, remix.id)
        bar = remixes.detail.listen
        engine.reset_diagnostics()
        qtbot.mouseClick(bar.button, LEFT)
        qtbot.waitUntil(lambda: window.studio.listening, timeout=20000)
        # The engine plays the render: one stereo "stem" of exactly the render's length.
        frames = sf.info(io.BytesIO(fan.remix_audio(remix.id))).frames
        assert engine.names == ["UI listen"] and engine.duration_frames == frames
        qtbot.waitUntil(lambda: engine.position_seconds > 0.5, timeout=5000)
        assert engine.playing and engine.output_peak > 0.05
        qtbot.waitUntil(lambda: bar.button.text() == "❚❚  Pause", timeout=2000)
        assert bar.time.text().startswith("0:0")

        # Edits while listening still land in the recipe (not on the render's controls).
        window.studio.set_gain_db(first, -3.0)
        assert window.studio.document.stems[first].gain_db == -3.0
        assert engine.names == ["UI listen"]

        qtbot.mouseClick(bar.button, LEFT)  # pause
        qtbot.waitUntil(lambda: not engine.playing, timeout=2000)
        assert bar.button.text() == "▶  Listen"

        # Back to the studio: the track returns paused where it was, with its mix.
        window.sections.show_section("catalog")
        assert not window.studio.listening
        assert engine.names == names and engine.duration_frames == track.n_frames
        # The seek reaches the audio thread on its next period (a busy machine: a while later).
        qtbot.waitUntil(lambda: abs(engine.position_seconds - 20.0) < 1e-6, timeout=5000)
        assert not engine.playing
        # As Space would: play once the chunk under the playhead is decoded again.
        qtbot.waitUntil(lambda: track.ready_at(int(20.0 * track.sample_rate)), timeout=10000)
        engine.play()
        qtbot.waitUntil(lambda: engine.position_seconds > 20.4, timeout=5000)
        qtbot.waitUntil(lambda: float(engine.meters()[0].max()) > 0.0, timeout=2000)
        assert engine.callback_errors == 0
        engine.pause()
        window.close()
    finally:
        stream.close()
    # The render was only ever in memory: nothing the app wrote opens as audio.
    assert_no_audio([p for p in tmp_path.rglob("*") if p.is_file()])
