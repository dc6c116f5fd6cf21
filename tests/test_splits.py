"""Split statements (exact arithmetic) and disclosure records."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from server.splits import allocate, split_statement
from tests.platform_helpers import Api, as_demo, create_user, doc_for, stem_ids

TRACK = "undertow"


@pytest.mark.parametrize(
    ("total", "weights"),
    [(6500, [1, 1, 1]), (10000, [3, 3, 3]), (1, [1, 1]), (8500, [6000, 4000]), (7, [1, 2, 4, 8])],
)
def test_allocate_sums_exactly_and_is_proportional(total, weights):
    parts = allocate(total, weights)
    assert sum(parts) == total
    for part, weight in zip(parts, weights, strict=True):
        assert abs(part - total * weight / sum(weights)) < 1


def test_split_always_sums_to_exactly_one():
    holders = {"a": [("X", 1), ("Y", 2)], "b": [("Z", 3333), ("W", 6667)]}
    for creator_share, platform_bp, n in itertools.product(
        [0, 0.2, 0.333, 0.5], [0, 1500, 1], [1, 2, 3, 7]
    ):
        stems = ["a", "b", "c", "d", "e", "f", "g"][:n]
        statement = split_statement(
            creator="C",
            creator_share=creator_share,
            platform="P",
            platform_bp=platform_bp,
            used_stems=stems,
            rightsholders=holders,
            default_rightsholder="Artist",
        )
        assert sum(line.basis_points for line in statement.lines) == 10000
        assert sum(line.share for line in statement.lines) == Decimal(1)
        assert statement.total == Decimal(1)


@pytest.fixture(scope="module")
def opened(platform):
    owner = as_demo(platform.url, "artist2")
    assert (
        owner(
            "PUT", f"/tracks/{TRACK}/policy", json={"opted_in": True, "creator_share": 0.2}
        ).status_code
        == 200
    )
    yield owner("GET", f"/tracks/{TRACK}").json()
    assert owner("PUT", f"/tracks/{TRACK}/policy", json={"opted_in": False}).status_code == 200


@pytest.fixture(scope="module")
def creator(platform) -> Api:
    return create_user(platform.url, platform.data_dir, "split-fan")


def test_split_statement_of_a_remix(creator, opened):
    ids = stem_ids(opened)
    fx = next(s for s in ids if s.endswith("-fx"))
    lead = next(s for s in ids if s.endswith("-lead"))
    resp = creator.submit(doc_for(opened, stems={fx: {"mute": True}}, title="Split check"))
    assert resp.status_code == 201, resp.text
    split = resp.json()["split"]
    lines = [
        (ln["party"], ln["role"], ln["stem_id"], ln["share"], ln["basis_points"])
        for ln in split["lines"]
    ]
    used = [s for s in ids if s != fx]
    expected = [
        ("Encore (platform)", "platform", None, "0.1500", 1500),
        ("split-fan", "creator", None, "0.2000", 2000),
    ]
    for stem in used:  # 6500 bp over four used stems: 1625 each; the lead is co-written 60/40
        if stem == lead:
            expected += [
                ("Jonah Reed", "rightsholder", stem, "0.0975", 975),
                ("Ivo Marsh (co-writer)", "rightsholder", stem, "0.0650", 650),
            ]
        else:
            expected.append(("Jonah Reed", "rightsholder", stem, "0.1625", 1625))
    assert lines == expected
    assert sum(Decimal(ln["share"]) for ln in split["lines"]) == Decimal(1)
    assert Decimal(split["total"]) == Decimal(1)
    assert fx not in {ln["stem_id"] for ln in split["lines"]}  # unused stems earn nothing
    # The same statement comes back on every read.
    assert creator("GET", f"/remixes/{resp.json()['id']}").json()["split"] == split


def test_disclosure_record(creator, opened):
    ids = stem_ids(opened)
    doc = doc_for(
        opened,
        stems={ids[0]: {"gain_db": -4.5, "pan": -0.25}, ids[4]: {"mute": True}},
        tempo_ratio=1.05,
        key_shift=-1,
        master_gain_db=-2.0,
        ai={"vocals": True, "post_production": True},
        title="Disclosure check",
    )
    resp = creator.submit(doc)
    assert resp.status_code == 201, resp.text
    disclosure = resp.json()["disclosure"]
    assert disclosure["source_track_id"] == TRACK
    assert disclosure["source_track_title"] == "Undertow"
    assert disclosure["source_artist"] == "Jonah Reed"
    assert disclosure["source_track_version"] == opened["version"]
    assert disclosure["stems_used"] == ids[:4]
    by_id = {s["stem_id"]: s for s in disclosure["stems"]}
    assert by_id[ids[0]] | {"settings": {}} == {
        "stem_id": ids[0],
        "name": opened["stems"][0]["name"],
        "gain_db": -4.5,
        "pan": -0.25,
        "muted": False,
        "soloed": False,
        "audible": True,
        "settings": {},
    }
    assert by_id[ids[4]]["muted"] is True and by_id[ids[4]]["audible"] is False
    assert (disclosure["tempo_ratio"], disclosure["key_shift"]) == (1.05, -1)
    assert disclosure["master_gain_db"] == -2.0
    assert disclosure["ai"] == {
        "vocals": True,
        "instrumentation": False,
        "composition": False,
        "post_production": True,
        "lyrics": False,
    }
    assert disclosure["ai_categories"] == ["vocals", "post_production"]
    assert disclosure["tools"][0].startswith("Encore ")
    assert any("render" in tool for tool in disclosure["tools"])
