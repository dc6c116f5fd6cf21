"""The demo's seeded remixes (server/demo_remixes.py): on a platform started with them on (the
test suite's platforms start without them, tests/plugins/platform.py), the demo fans `mika` and
`jo` publish remixes of "Neon Harbor" and "Paper Lanterns" through the real pipeline, one a fork
of another, with plays; the feed lists them, Listen's audio route serves them, and a restart on
the same data adds nothing.

One platform for the module: five real renders are the cost, every test reads them. The
platform is restarted by the last test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from app.embedded import PlatformProcess, start_platform
from server.demo_remixes import DEMO_REMIXERS, DEMO_REMIXES
from tests.platform_helpers import Api, as_demo, wait_for
from tests.plugins.platform import DEMO_PASSWORD, DEMO_REMIXES_ENV

NEON, LANTERNS = "neon-harbor", "paper-lanterns"
SEEDED = {NEON: 3, LANTERNS: 2}
DONE = "Demo remixes: 5 of 5 published"  # the seeder's last line (server/demo_remixes.py)
RENDERS_TIMEOUT = 600.0  # five renders behind one worker on a machine kept busy: a hang only


def _start(data_dir: Path, demo_env: dict[str, str]) -> PlatformProcess:
    return start_platform(data_dir, env={**demo_env, DEMO_REMIXES_ENV: "1"})


def _seeded(proc: PlatformProcess) -> bool:
    return any(DONE in line for line in proc.log)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, demo_env) -> dict:
    """{"proc": the platform (replaced by the restart test), "dir": its data, "env"}."""
    state = {"dir": tmp_path_factory.mktemp("demo-remixes"), "env": demo_env}
    state["proc"] = _start(state["dir"], demo_env)
    try:
        assert wait_for(lambda: _seeded(state["proc"]), RENDERS_TIMEOUT), state["proc"].log[-20:]
        yield state
    finally:
        state["proc"].stop()


@pytest.fixture(scope="module")
def fan(seeded) -> Api:
    return as_demo(seeded["proc"].url, "fan")


def feed(api: Api, track: str, sort: str = "newest") -> list[dict]:
    resp = api("GET", f"/tracks/{track}/remixes/published", params={"sort": sort})
    assert resp.status_code == 200, resp.text
    return resp.json()["remixes"]


def test_the_demo_recipes_name_demo_fans_and_tracks():
    assert {r.by for r in DEMO_REMIXES} == set(DEMO_REMIXERS)
    assert {r.track_id for r in DEMO_REMIXES} == set(SEEDED)
    slugs = [r.slug for r in DEMO_REMIXES]
    assert len(set(slugs)) == len(slugs)
    for recipe in DEMO_REMIXES:  # a fork comes after its original (the seeder submits in order)
        if recipe.fork_of is not None:
            assert slugs.index(recipe.fork_of) < slugs.index(recipe.slug)


def test_the_feed_lists_the_demo_fans_remixes(fan):
    for track, count in SEEDED.items():
        remixes = feed(fan, track)
        assert len(remixes) == count
        assert {r["creator"] for r in remixes} <= set(DEMO_REMIXERS.values())
        assert all(r["status"] == "published" for r in remixes)
    titles = {r["title"] for r in feed(fan, NEON)}
    assert "Night Drive Edit" in titles


def test_the_demo_fans_sign_in_with_the_demo_password(seeded):
    for username, display_name in DEMO_REMIXERS.items():
        api = as_demo(seeded["proc"].url, username)  # DEMO_PASSWORD, as the README says
        me = api("GET", "/me").json()
        assert (me["display_name"], me["tier"]) == (display_name, "superfan")
        mine = api("GET", "/remixes").json()["remixes"]
        assert len(mine) == sum(r.by == username for r in DEMO_REMIXES)
    assert DEMO_PASSWORD == "encore-demo"


def test_a_seeded_fork_credits_its_original(fan):
    by_title = {r["title"]: r for r in feed(fan, NEON)}
    original = by_title["Night Drive Edit"]
    fork = by_title["Sunrise Flip"]
    credit = fork["disclosure"]["inspired_by"]
    assert credit["remix_id"] == original["id"]
    assert (credit["title"], credit["remixer"]) == (original["title"], original["creator"])
    assert fork["creator"] != original["creator"]
    lines = {(ln["role"], ln["party"]): ln for ln in fork["split"]["lines"]}
    paid = lines[("original_remixer", original["creator"])]
    assert paid["remix_id"] == original["id"] and paid["basis_points"] > 0
    # A remix of its own: the original's mix with the vocal synth brought up.
    gains = {
        remix["id"]: {s["stem_id"]: s["gain_db"] for s in remix["disclosure"]["stems"]}
        for remix in (original, fork)
    }
    lead = f"{NEON}-lead"
    assert gains[fork["id"]][lead] == gains[original["id"]][lead] + 4.0


def test_most_played_is_not_newest(fan):
    for track in SEEDED:
        newest = feed(fan, track)
        played = feed(fan, track, "most_played")
        assert [r["id"] for r in played] != [r["id"] for r in newest]
        plays = [r["plays"] for r in played]
        assert plays == sorted(plays, reverse=True) and plays[0] > 0


def test_listen_streams_a_seeded_remix_and_counts_the_play(fan):
    remix = feed(fan, LANTERNS)[0]
    audio = fan("GET", f"/remixes/{remix['id']}/audio")
    assert audio.status_code == 200, audio.text[:300]
    assert audio.headers["content-type"].startswith("audio/flac")
    assert audio.content[:4] == b"fLaC" and len(audio.content) > 100_000
    part = fan("GET", f"/remixes/{remix['id']}/audio", headers={"Range": "bytes=0-3"})
    assert part.status_code == 206 and part.content == b"fLaC"
    played = fan("POST", f"/remixes/{remix['id']}/plays").json()
    assert played == {"remix_id": remix["id"], "plays": remix["plays"] + 1, "counted": True}


def test_a_seeded_remix_can_be_remixed(fan):
    original = feed(fan, NEON, "most_played")[0]
    resp = fan("POST", f"/remixes/{original['id']}/fork")
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    assert doc["inspired_by"] == original["id"] and doc["track_id"] == NEON
    # Unchanged it would be the original's recipe again (a duplicate); the fan changes the tempo.
    tempo = 1.1 if doc.get("tempo_ratio", 1.0) != 1.1 else 1.0
    own = doc | {"title": "Fan's own flip", "tempo_ratio": tempo}
    check = fan("POST", "/remixes/check", json=own).json()
    assert check["problems"] == []
    assert check["inspired_by"]["remix_id"] == original["id"]
    assert check["inspired_by"]["remixer"] == original["creator"]


def test_a_restart_adds_no_remix_and_no_play(seeded, fan):
    """The last test of the seeded platform: it replaces it with a restarted one."""
    before = {t: {r["id"]: r["plays"] for r in feed(fan, t)} for t in SEEDED}
    seeded["proc"].stop()
    seeded["proc"] = _start(seeded["dir"], seeded["env"])
    assert wait_for(lambda: _seeded(seeded["proc"]), RENDERS_TIMEOUT), seeded["proc"].log[-20:]
    again = as_demo(seeded["proc"].url, "fan")
    after = {t: {r["id"]: r["plays"] for r in feed(again, t)} for t in SEEDED}
    assert after == before


def test_the_suites_platforms_start_without_them(platform):
    """tests/plugins/platform.py turns them off, so other tests' feeds and counts hold only their
    own remixes: the demo fans (the seeder's first step) do not even exist there."""
    resp = requests.post(
        f"{platform.url}/v1/auth/token",
        data={"grant_type": "password", "username": "mika", "password": DEMO_PASSWORD},
        timeout=30,
    )
    assert resp.status_code in (400, 401), resp.text
