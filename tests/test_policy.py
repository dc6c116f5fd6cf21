"""Every policy rule: a 422 whose message names the rule and the value, exactly.

The rules run against `undertow`, the track demo artist2 owns (closed to remixing by default),
so changing its policy here cannot disturb tests that use the main demo catalog.
"""

from __future__ import annotations

import pytest

from tests.platform_helpers import (
    Api,
    as_demo,
    assert_error,
    create_user,
    doc_for,
    stem_ids,
    wait_for_status,
)

TRACK = "undertow"


@pytest.fixture(scope="module")
def owner(platform) -> Api:
    return as_demo(platform.url, "artist2")


@pytest.fixture(scope="module")
def creator(platform) -> Api:
    return create_user(platform.url, platform.data_dir, "policy-fan")


@pytest.fixture
def set_policy(owner):
    """PUT a policy on undertow (opted in unless said otherwise); closed again afterwards."""

    def put(**fields) -> dict:
        resp = owner("PUT", f"/tracks/{TRACK}/policy", json={"opted_in": True} | fields)
        assert resp.status_code == 200, resp.text
        return owner("GET", f"/tracks/{TRACK}").json()

    yield put
    assert owner("PUT", f"/tracks/{TRACK}/policy", json={"opted_in": False}).status_code == 200


def rejected(creator: Api, doc: dict, code: str) -> str:
    return assert_error(creator.submit(doc), 422, code)


def test_allowed_stems(creator, set_policy):
    ids = stem_ids(set_policy())
    track = set_policy(allowed_stems=ids[:3])
    name = track["stems"][4]["name"]
    doc = doc_for(track, stems={ids[0]: {"gain_db": -6.0}, ids[4]: {"gain_db": -2.0}})
    assert rejected(creator, doc, "stem_not_allowed") == (
        f"The {name} stem is one the artist keeps out of remixes; mute it or reopen the track "
        "(Encore leaves it out)."
    )


def test_a_locked_stem_never_blocks_a_remix(creator, owner, set_policy):
    """The artist unticks one stem: fans neither get it nor are refused for a draft listing it."""
    ids = stem_ids(set_policy())
    track = set_policy(allowed_stems=ids[:-1])
    locked = ids[-1]
    # A fresh remix over the allowed stems (what the studio sends) is accepted...
    fresh = doc_for(track, stems={ids[0]: {"gain_db": -7.3}})  # unlike other tests' remixes
    # ...and so is an older draft that still lists the locked stem, muted (it is not heard).
    older = doc_for(track, stems={ids[0]: {"gain_db": -4.1}, locked: {"mute": True}})
    for doc in (fresh, older):
        resp = creator.submit(doc)
        assert resp.status_code in (201, 202), resp.text
        # Rendered under this policy (a later test's policy must not decide its fate).
        assert wait_for_status(creator, resp.json()["id"])["status"] == "published"
    # The locked stem is never delivered to fans, even by Range, but its artist gets it.
    message = assert_error(
        creator("GET", f"/tracks/{TRACK}/stems/{locked}/audio", headers={"Range": "bytes=0-99"}),
        403,
        "stem_locked",
    )
    assert track["stems"][-1]["name"] in message and locked not in message
    assert owner("GET", f"/tracks/{TRACK}/stems/{locked}/audio").status_code == 200
    assert creator("GET", f"/tracks/{TRACK}/stems/{ids[0]}/audio").status_code == 200
    # The detail says who owns it, so the studio locks the same stems the platform refuses.
    assert creator("GET", f"/tracks/{TRACK}").json()["owned"] is False
    assert owner("GET", f"/tracks/{TRACK}").json()["owned"] is True


def test_solo_forbidden_when_soloed(creator, set_policy):
    ids = stem_ids(set_policy())
    track = set_policy(solo_forbidden_stems=[ids[3]])
    doc = doc_for(track, stems={ids[3]: {"solo": True}, ids[0]: {"solo": True}})
    name = track["stems"][3]["name"]  # people read the stem's name, never its id
    assert rejected(creator, doc, "solo_forbidden") == (
        f"The {name} stem may not be soloed on this track; unsolo it."
    )


def test_solo_forbidden_when_heard_alone_by_muting_the_rest(creator, set_policy):
    ids = stem_ids(set_policy())
    track = set_policy(solo_forbidden_stems=[ids[3]])
    doc = doc_for(track, stems={s: {"mute": True} for s in ids if s != ids[3]})
    name = track["stems"][3]["name"]
    assert rejected(creator, doc, "solo_forbidden") == (
        f"The {name} stem would be heard on its own, which this track does not allow; unmute "
        "another stem."
    )


def test_tempo_ratio_above_maximum(creator, set_policy):
    track = set_policy(tempo_ratio_max=1.1)
    assert rejected(creator, doc_for(track, tempo_ratio=1.2), "tempo_out_of_range") == (
        "Tempo ratio 1.2 is above this track's maximum 1.1."
    )


def test_tempo_ratio_below_minimum(creator, set_policy):
    track = set_policy(tempo_ratio_min=0.9)
    assert rejected(creator, doc_for(track, tempo_ratio=0.8), "tempo_out_of_range") == (
        "Tempo ratio 0.8 is below this track's minimum 0.9."
    )


def test_key_shift_range(creator, set_policy):
    track = set_policy(key_shift_min=-1, key_shift_max=2)
    assert rejected(creator, doc_for(track, key_shift=-2), "key_shift_out_of_range") == (
        "Key shift -2 semitones is outside this track's range -1 to +2."
    )


def test_max_derivative_length(creator, set_policy):
    track = set_policy(max_length_s=60)
    length = track["duration"] / 0.8
    assert rejected(creator, doc_for(track, tempo_ratio=0.8), "too_long") == (
        f"The remix would last {length:.0f} s, above this track's maximum 60 s."
    )


NOT_A_DERIVATIVE = (
    "The remix is too close to the original to be a derivative: its audible stems' gains differ "
    "by only {spread} dB (this track needs at least {need} dB between the loudest and quietest "
    "stem), no stem is muted and tempo and key are unchanged. Rebalance, mute a stem, or change "
    "tempo or key."
)


def test_minimum_transformation_refuses_the_original(creator, set_policy):
    track = set_policy()
    assert rejected(creator, doc_for(track, stems={}), "not_a_derivative") == (
        NOT_A_DERIVATIVE.format(spread=0, need=3)
    )


def test_minimum_transformation_ignores_uniform_gain_and_pan(creator, set_policy):
    track = set_policy(min_balance_change_db=4)
    ids = stem_ids(track)
    stems = {s: {"gain_db": -6.0, "pan": 0.5} for s in ids}
    stems[ids[0]] = {"gain_db": -3.5}
    assert rejected(creator, doc_for(track, stems=stems), "not_a_derivative") == (
        NOT_A_DERIVATIVE.format(spread=2.5, need=4)
    )


@pytest.mark.parametrize(
    "change",
    [
        {"stems": {"-bass": {"mute": True}}},
        {"stems": {"-bass": {"gain_db": -3.0}}},
        {"tempo_ratio": 1.05},
        {"key_shift": 1},
    ],
    ids=["mute", "3 dB rebalance", "tempo", "key"],
)
def test_minimum_transformation_accepts_a_real_change(creator, set_policy, change):
    track = set_policy()
    stems = {f"{TRACK}{k}": v for k, v in change.pop("stems", {}).items()}
    doc = doc_for(track, stems=stems, **change)
    resp = creator.submit(doc)
    assert resp.status_code == 201, resp.text


def test_track_version(creator, set_policy):
    track = set_policy()
    assert rejected(creator, doc_for(track, track_version=7), "track_version_mismatch") == (
        f"Track version 7 is not the current version {track['version']} of 'Undertow'. "
        "Reload the track and resubmit."
    )


def test_unknown_stem(creator, set_policy):
    track = set_policy()
    doc = doc_for(track, stems={"kazoo": {"gain_db": -6.0}})
    assert rejected(creator, doc, "unknown_stem") == (
        "Stem 'kazoo' is not a stem of this track; reopen the track and submit again."
    )


def test_closed_track_is_not_in_the_catalog_for_fans(creator, owner):
    # The fixture leaves undertow closed; fans cannot submit to it, its owner still previews it.
    doc = doc_for(owner("GET", f"/tracks/{TRACK}").json())
    message = assert_error(creator.submit(doc), 422, "unknown_track")
    assert message == f"track_id '{TRACK}' is not a track in the catalog. Check the id."
