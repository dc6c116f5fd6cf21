"""Isolation judged on what is heard (server/isolation.py, docs/policy.md "Heard alone").

A solo-forbidden stem may not end up alone in a remix, whatever makes it so: mute, solo, static
gain, EQ and filters, automation, with or without an arrangement or a tempo change. Each route
an attacker tried is asked of the real platform (the dry-run check the studio uses, and a real
submission), and ordinary remixes that keep the band audible pass.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from server.isolation import ALONE_MARGIN_DB, BLOCK_S, band_profile
from tests.platform_helpers import Api, as_demo, assert_error, create_user, doc_for, stem_ids

TRACK = "undertow"
LEAD = 3  # the stem the artist forbids alone (index into the track's stems)


@pytest.fixture(scope="module")
def owner(platform) -> Api:
    return as_demo(platform.url, "artist2")


@pytest.fixture(scope="module")
def fan(platform) -> Api:
    return create_user(platform.url, platform.data_dir, "isolation-fan")


@pytest.fixture(scope="module")
def track(owner) -> dict:
    """Undertow open to remixes with its lead forbidden alone; closed again afterwards."""
    ids = stem_ids(owner("GET", f"/tracks/{TRACK}").json())
    policy = {"opted_in": True, "solo_forbidden_stems": [ids[LEAD]]}
    assert owner("PUT", f"/tracks/{TRACK}/policy", json=policy).status_code == 200
    yield owner("GET", f"/tracks/{TRACK}").json()
    assert owner("PUT", f"/tracks/{TRACK}/policy", json={"opted_in": False}).status_code == 200


def check(fan: Api, doc: dict) -> list[dict]:
    resp = fan("POST", "/remixes/check", json=doc)
    assert resp.status_code == 200, resp.text
    return resp.json()["problems"]


def others(track: dict, **settings) -> dict:
    ids = stem_ids(track)
    return {s: dict(settings) for i, s in enumerate(ids) if i != LEAD}


def lane(stem: str, param: str, points: list[tuple[float, float]]) -> dict:
    return {"stem": stem, "param": param, "points": [list(p) for p in points]}


def the_refusal(problems: list[dict], track: dict) -> str:
    assert [p["code"] for p in problems] == ["solo_forbidden"], problems
    message = problems[0]["message"]
    assert f"the {track['stems'][LEAD]['name']} stem is heard on its own" in message
    assert track["stems"][LEAD]["id"] not in message  # people read names, not ids
    return message


@pytest.mark.parametrize(
    "route",
    [
        pytest.param({"gain_db": -96.0}, id="static gain at the minimum"),
        pytest.param({"gain_db": -60.0}, id="static gain far down"),
        pytest.param({"lp_hz": 20.0, "eq_mid_db": -24.0, "eq_high_db": -24.0}, id="filters"),
        pytest.param({"hp_hz": 20000.0, "eq_low_db": -24.0, "gain_db": -30.0}, id="filters+gain"),
    ],
)
def test_static_settings_that_leave_the_lead_alone_are_refused(fan, track, route):
    doc = doc_for(track, stems=others(track, **route))
    # The lead comes in at 5.8 s (the band plays alone before: nothing of it is exposed).
    assert the_refusal(check(fan, doc), track).startswith("From 0:05.")


def test_automation_that_leaves_the_lead_alone_is_refused_at_its_moment(fan, track):
    ids = stem_ids(track)
    down = [lane(s, "gain_db", [(0.0, 0.0), (6.0, -90.0)]) for i, s in enumerate(ids) if i != LEAD]
    message = the_refusal(check(fan, doc_for(track, automation=down)), track)
    assert message.startswith("From 0:06 the")
    # The same at tempo 1.25: the moment is in the remix's own time (6 s / 1.25).
    faster = doc_for(track, automation=down, tempo_ratio=1.25)
    assert the_refusal(check(fan, faster), track).startswith("From 0:04.8 the")
    # Muting by automation is the same route.
    muted = [lane(s, "mute", [(0.0, 0.0), (8.0, 1.0)]) for i, s in enumerate(ids) if i != LEAD]
    assert the_refusal(check(fan, doc_for(track, automation=muted)), track).startswith(
        "From 0:08 the"
    )


def test_slivers_too_short_for_one_block_still_add_up(fan, track):
    """Mute the band for 40 ms out of every 100 ms: the block's quietest moment counts."""
    ids = stem_ids(track)
    points = []
    for k in range(200):
        points += [(k * 0.1 + 0.0, 0.0), (k * 0.1 + 0.06, 1.0)]
    muted = [lane(s, "mute", points) for i, s in enumerate(ids) if i != LEAD]
    the_refusal(check(fan, doc_for(track, automation=muted)), track)


def test_an_arrangement_moves_the_moment_with_it(fan, track):
    """Sections 0-4 s then 20-30 s; the band drops out 1 s into the second section."""
    ids = stem_ids(track)
    arrangement = [{"name": "Intro", "start": 0.0, "end": 4.0}, {"start": 20.0, "end": 30.0}]
    down = [lane(s, "gain_db", [(0.0, 0.0), (5.0, -96.0)]) for i, s in enumerate(ids) if i != LEAD]
    doc = doc_for(track, arrangement=arrangement, automation=down)
    assert the_refusal(check(fan, doc), track).startswith("From 0:05 the")


def test_a_real_submission_is_refused_and_nothing_is_published(fan, track):
    """The route that published the isolated lead (correlation 1.0): others at −96 dB."""
    doc = doc_for(track, stems=others(track, gain_db=-96.0), title="Isolated lead")
    message = assert_error(fan.submit(doc), 422, "solo_forbidden")
    assert "is heard on its own" in message
    mine = fan("GET", "/remixes?mine=1").json()["remixes"]
    assert all(r["title"] != "Isolated lead" for r in mine)


@pytest.mark.parametrize(
    ("stems", "extra"),
    [
        pytest.param("band down", {}, id="the band 12 dB under the lead"),
        pytest.param("band filtered", {}, id="the band low-passed at 800 Hz"),
        pytest.param("lead muted", {}, id="the lead muted"),
        pytest.param("none", {"tempo_ratio": 1.2, "key_shift": 2}, id="tempo and key"),
    ],
)
def test_ordinary_remixes_pass(fan, track, stems, extra):
    ids = stem_ids(track)
    settings = {
        "band down": others(track, gain_db=-12.0),
        "band filtered": others(track, lp_hz=800.0),
        "lead muted": {ids[LEAD]: {"mute": True}, ids[0]: {"gain_db": -5.0}},
        "none": {},
    }[stems]
    assert check(fan, doc_for(track, stems=settings, **extra)) == []


def test_the_check_names_every_problem_without_submitting(fan, track):
    doc = doc_for(track, tempo_ratio=3.0, stems=others(track, gain_db=-96.0))
    codes = [p["code"] for p in check(fan, doc)]
    assert "tempo_out_of_range" in codes
    assert fan("GET", "/remixes?mine=1").json()["remixes"] == []  # nothing was submitted


def test_band_profiles_share_out_each_blocks_power(tmp_path):
    """A 1 kHz tone then a 100 Hz tone: the power lands in the right band, and sums to the
    block's mean power."""
    rate = 48000
    t = np.arange(rate) / rate
    tone = np.concatenate([0.5 * np.sin(2 * np.pi * 1000 * t), 0.1 * np.sin(2 * np.pi * 100 * t)])
    path = tmp_path / "tones.flac"
    sf.write(path, np.stack([tone, tone], axis=1), rate, subtype="PCM_24")
    profile = band_profile(path)
    assert profile.shape[0] == round(2.0 / BLOCK_S)
    first, second = profile[2], profile[15]
    assert first.sum() == pytest.approx(0.125, rel=0.01)  # mean power of a 0.5 sine
    assert second.sum() == pytest.approx(0.005, rel=0.01)
    assert 10 * np.log10(first.max() / np.delete(first, first.argmax()).max()) > ALONE_MARGIN_DB


@pytest.mark.ui
def test_the_studio_says_so_before_the_fan_submits(qtbot, qapp, platform, fan, track, tmp_path):
    """A fan turns the band right down in the real studio and opens Submit: the platform's
    refusal is shown before anything is sent, and Submit waits for a changed mix."""
    from app.client import PlatformClient
    from app.drafts import DraftStore
    from audio.engine import Engine
    from tests.platform_helpers import PASSWORD
    from ui.mainwindow import MainWindow
    from ui.tasks import TaskRunner

    client = PlatformClient(platform.url)
    client.login("isolation-fan", PASSWORD)
    tasks = TaskRunner()
    window = MainWindow(
        client, Engine(), tasks, DraftStore(tmp_path / "drafts"), tmp_path / "cache"
    )
    qtbot.addWidget(window)
    window.show()
    window.open_track(TRACK)
    qtbot.waitUntil(lambda: window.studio.document is not None, timeout=30000)
    for i, stem_id in enumerate(stem_ids(track)):
        if i != LEAD:
            window.studio.set_gain_db(stem_id, -96.0)
    dialog = window.open_submit()
    qtbot.waitUntil(lambda: dialog.problems is not None, timeout=30000)
    assert "Hum Melody stem is heard on its own" in dialog.status.text()
    assert not dialog.submit_button.isEnabled()
    assert client.my_remixes() == []  # nothing was sent
    dialog.reject()

    for i, stem_id in enumerate(stem_ids(track)):
        if i != LEAD:
            window.studio.set_gain_db(stem_id, -9.0)
    dialog = window.open_submit()
    qtbot.waitUntil(lambda: dialog.problems is not None, timeout=30000)
    assert dialog.problems == [] and dialog.submit_button.isEnabled()
    # A title that would display as something else is refused in the text rule's own words.
    dialog.title.setText("My remix \u202eximer laiciffo")
    dialog.submit_button.click()
    assert "hidden direction-changing character (U+202E)" in dialog.status.text()
    assert client.my_remixes() == []
    dialog.reject()
    window.close()
    tasks.wait(10000)
