"""An arranged remix on the real platform: its length rule measures the arranged length, a
section outside the track is refused with a message, and the published render lasts the
arranged length (the platform renders the arrangement, not the original order)."""

from __future__ import annotations

import io

import soundfile as sf

from tests.platform_helpers import as_demo, assert_error, doc_for, wait_for_status

TRACK = "paper-lanterns"


def sections(track: dict) -> list[dict]:
    return [
        {"name": s["name"], "start": s["start"], "end": s["end"]}
        for s in track["analysis"]["sections"]
    ]


def test_arranged_remix_publishes_with_the_arranged_length(platform):
    fan = as_demo(platform.url, "qa")
    track = fan("GET", f"/tracks/{TRACK}").json()
    secs = sections(track)
    arrangement = [secs[0], secs[-1]]
    doc = doc_for(track, title="Short cut", arrangement=arrangement)
    resp = fan.submit(doc)
    assert resp.status_code == 201, resp.text
    info = wait_for_status(fan, resp.json()["id"])
    assert info["status"] == "published", info
    audio, rate = sf.read(io.BytesIO(fan("GET", f"/remixes/{info['id']}/audio").content))
    expect = sum(round(s["end"] * rate) - round(s["start"] * rate) for s in arrangement)
    assert len(audio) == expect
    assert info["disclosure"]["other_transformations"]["arrangement"] == [
        {"name": s["name"], "start": s["start"], "end": s["end"]} for s in arrangement
    ]


def test_section_after_the_end_of_the_track_is_refused(platform):
    fan = as_demo(platform.url, "qa")
    track = fan("GET", f"/tracks/{TRACK}").json()
    end = track["duration"] + 10
    doc = doc_for(track, arrangement=[{"name": "ghost", "start": 1.0, "end": end}])
    message = assert_error(fan.submit(doc), 422, "arrangement_outside_track")
    assert message.startswith(f"Arrangement section 'ghost' 1-{end:g} s ends after the track (")
    assert message.endswith("rebuild the arrangement from this track's sections.")


def test_too_long_measures_the_arranged_length(platform):
    fan = as_demo(platform.url, "qa")
    track = fan("GET", f"/tracks/{TRACK}").json()
    whole = {"name": "all", "start": 0.0, "end": track["duration"]}
    repeats = int(600 // track["duration"]) + 1  # the default policy allows 600 s
    doc = doc_for(track, arrangement=[whole] * repeats)
    length = track["duration"] * repeats
    assert assert_error(fan.submit(doc), 422, "too_long") == (
        f"The remix would last {length:.0f} s, above this track's maximum 600 s."
    )
