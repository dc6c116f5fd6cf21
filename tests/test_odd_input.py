"""Odd input gets a 4xx with a message a person can act on, on SQLite and on PostgreSQL.

Issue 10, item 3: a Range header with a superscript digit or 5 000 digits, a NUL byte or another
control character in any field, path or query parameter, and titles that hide what they say
(direction overrides, only invisible characters, only spaces, line breaks). Every request goes to
a real platform process; the pure parts (the Range parser, the text rule) are also tested
directly.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
import requests
from pydantic import ValidationError

from app.embedded import PlatformProcess, start_platform
from core.contract import RemixDocument
from core.sealed import sealed_size
from core.text import display_text_problem
from server.ranges import MAX_DIGITS, RangeNotSatisfiable, parse_range
from tests.platform_helpers import PASSWORD, Api, as_demo, assert_error, doc_for, stem_ids
from tests.plugins.platform import REPO, login
from tests.plugins.postgres import create_database

TRACK = "neon-harbor"
_DATABASE_URLS: dict[str, str] = {}  # platform URL -> its PostgreSQL database (for the CLI)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db_platform(request, tmp_path_factory, demo_env) -> Iterator[PlatformProcess]:
    """The session's SQLite platform, or a platform of its own on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield request.getfixturevalue("platform")
        return
    url = create_database(request.getfixturevalue("postgres_url"))
    proc = start_platform(
        tmp_path_factory.mktemp("odd-pg"), env=demo_env, extra_args=["--database-url", url]
    )
    _DATABASE_URLS[proc.url] = url
    try:
        yield proc
    finally:
        proc.kill()


@pytest.fixture(scope="module")
def fan(db_platform) -> Api:
    return as_demo(db_platform.url, "fan")


@pytest.fixture(scope="module")
def track(fan) -> dict:
    return fan("GET", f"/tracks/{TRACK}").json()


# -- Range ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=²-", None),  # str.isdigit() says yes, int() says no: ignored (the whole file)
        ("bytes=-²", None),
        ("bytes=٣-", None),  # an Arabic-Indic digit
        ("bytes=1-²", None),
        ("bytes=0x10-", None),
        ("bytes=+5-", None),
        ("bytes= 5 - 9 ", (5, 9)),
        ("bytes=0000000000000000000000000000000005-9", (5, 9)),  # leading zeros are not length
        ("bytes=5-" + "9" * 5000, (5, 999)),  # past the end: clamped
        ("bytes=-" + "9" * 5000, (0, 999)),  # a suffix longer than the file: all of it
        ("bytes=9-5", None),  # last before first: an invalid range-spec, ignored
        ("bytes=0-1,5-9", None),  # multi-range: ignored
        ("items=0-9", None),
    ],
)
def test_range_parser_accepts_ascii_digits_only(header, expected):
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize(
    "header", ["bytes=" + "9" * 5000 + "-", "bytes=" + "1" * (MAX_DIGITS + 1) + "-", "bytes=-0"]
)
def test_range_parser_huge_or_empty_ranges_are_unsatisfiable(header):
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 1000)


@pytest.mark.parametrize(
    ("header", "status"),
    [
        ("bytes=²-", 200),
        ("bytes=-²", 200),
        ("bytes=" + "9" * 5000 + "-", 416),
        ("bytes=" + "9" * 5000 + "-" + "9" * 5000, 416),
        ("bytes=0-" + "9" * 5000, 206),
        ("bytes=-" + "9" * 5000, 206),
    ],
)
def test_odd_range_headers_get_the_file_or_a_416(fan, track, header, status):
    stem = track["stems"][0]
    resp = fan("GET", f"/tracks/{TRACK}/stems/{stem['id']}/audio", headers={"Range": header})
    assert resp.status_code == status, resp.text[:300]
    if status == 416:
        assert_error(resp, 416, "range_not_satisfiable")
        assert resp.headers["content-range"] == f"bytes */{sealed_size(stem['size'])}"
    else:
        assert len(resp.content) == sealed_size(stem["size"])  # stems travel sealed


# -- control characters in parameters and fields --------------------------------------------------


def _refused(resp: requests.Response, field: str) -> str:
    message = assert_error(resp, 422, "invalid_text")
    assert field in message, message
    return message


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x7f", "\x85"])
def test_sign_in_with_a_control_character_is_422_naming_the_field(db_platform, char):
    for field in ("username", "password"):
        form = {"username": "fan", "password": "encore-demo"} | {field: f"fa{char}n"}
        resp = requests.post(f"{db_platform.url}/v1/auth/token", data=form, timeout=30)
        _refused(resp, f"The {field} contains")


def test_nul_in_path_and_query_parameters_is_422_naming_them(db_platform, fan):
    anonymous = Api(db_platform.url)
    message = _refused(anonymous("GET", "/remixes/ab%00cd"), "path parameter 'remix_id'")
    assert "NUL" in message and "U+0000" in message
    _refused(fan("GET", "/tracks/neon%00harbor"), "path parameter 'track_id'")
    _refused(fan("GET", f"/tracks/{TRACK}/stems/dr%01ums/audio"), "path parameter 'stem_id'")
    _refused(fan("GET", "/tracks", params={"q": "neon\x00"}), "query parameter 'q'")
    _refused(fan("GET", "/tracks/neon%00/remixes"), "path parameter 'track_id'")


def test_nul_in_json_fields_is_422_naming_them(db_platform, fan, track):
    anonymous = Api(db_platform.url)
    resp = anonymous("POST", "/auth/refresh", json={"refresh_token": "er_\x00"})
    _refused(resp, "The refresh_token contains")
    doc = doc_for(track)
    cases = {
        "The track_id": doc | {"track_id": TRACK + "\x00"},
        "The description": doc | {"description": "fine\x00"},
        "field 'stems.": doc | {"stems": {stem_ids(track)[0] + "\x00": {"gain_db": -6.0}}},
        "field 'arrangement.0.name'": doc
        | {"arrangement": [{"name": "a\x00", "start": 0, "end": 4}]},
    }
    for field, body in cases.items():
        _refused(fan.submit(body), field)


def test_a_title_with_nul_is_not_published(fan, track):
    resp = fan.submit(doc_for(track, title="Night\x00drive"))
    message = _refused(resp, "The title contains a NUL byte (U+0000)")
    assert "\x00" not in message  # named by code point, never echoed raw


def test_a_body_that_is_not_utf8_is_a_documented_400(db_platform):
    resp = requests.post(
        f"{db_platform.url}/v1/auth/refresh",
        data=b'{"refresh_token": "\xff"}',
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    message = assert_error(resp, 400, "unreadable_body")
    assert "UTF-8" in message
    spec = requests.get(f"{db_platform.url}/openapi.json", timeout=30).json()
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            if "requestBody" in op:
                assert {"400", "413", "422"} <= set(op["responses"]), (method, path)
    assert "HTTPValidationError" not in str(spec)  # the 422 documented is the one sent


# -- titles and descriptions people read ----------------------------------------------------------

HIDDEN_TITLES = {
    "official remix by \u202eNitsuJ": "hidden direction-changing character (U+202E)",
    "\u2067a title\u2069": "hidden direction-changing character (U+2067)",
    "\u200b\u200b\u200b": "only invisible characters",
    "\u3164\ufeff": "only invisible characters",
    "    ": "is empty",
    "": "is empty",
    "Night\r\nDrive": "line break",
    "Night\u2028Drive": "line break",
    "Night\tDrive": "control character (U+0009)",
    "Night\x07Drive": "control character (U+0007)",
}


@pytest.mark.parametrize("title", list(HIDDEN_TITLES))
def test_titles_that_hide_what_they_say_are_refused_saying_what_to_change(fan, track, title):
    message = assert_error(fan.submit(doc_for(track, title=title)), 422, "invalid_text")
    assert HIDDEN_TITLES[title] in message, message
    assert message.startswith("The title ")
    assert "again" in message  # says what to do next


@pytest.mark.parametrize("title", list(HIDDEN_TITLES))
def test_the_contract_refuses_the_same_titles_on_the_client(title):
    with pytest.raises(ValidationError) as caught:
        RemixDocument(track_id=TRACK, track_version=1, title=title)
    assert HIDDEN_TITLES[title] in str(caught.value)


def test_descriptions_may_have_lines_but_not_hidden_characters():
    doc = RemixDocument(track_id=TRACK, track_version=1, title="T", description="one\ntwo\r\n")
    assert doc.description == "one\ntwo\r\n"
    assert RemixDocument(track_id=TRACK, track_version=1, title="T", description="  ").description
    for description, why in [("a\u202eb", r"U\+202E"), ("\u200b", "invisible"), ("a\x00", "NUL")]:
        with pytest.raises(ValidationError, match=why):
            RemixDocument(track_id=TRACK, track_version=1, title="T", description=description)


def test_readable_titles_in_any_script_pass_the_rule():
    for title in ["Nachtfahrt (Remix)", "ليلة \u200fremix", "夜のドライブ", "שיר 2 \u200e(remix)"]:
        assert display_text_problem(title, "title") is None, title


def new_user(proc: PlatformProcess) -> Api:
    """A fresh superfan on either database (create_user knows only the data dir's SQLite)."""
    username = f"odd-{uuid.uuid4().hex[:8]}"
    cmd = [sys.executable, "-m", "server.cli", "create-user", username, "--tier", "superfan"]
    cmd += ["--password", PASSWORD, "--data-dir", str(proc.data_dir)]
    if proc.url in _DATABASE_URLS:
        cmd += ["--database-url", _DATABASE_URLS[proc.url]]
    subprocess.run(cmd, check=True, cwd=REPO, capture_output=True, timeout=60)
    return Api(proc.url, login(proc.url, username, PASSWORD)["access_token"])


def test_a_right_to_left_title_is_published_as_sent(db_platform, track):
    creator = new_user(db_platform)
    title = "ليلة \u200fremix"
    # A recipe of its own (a duplicate of another test's would be refused as one).
    stems = {stem_ids(track)[1]: {"gain_db": -4.25, "pan": 0.31}}
    resp = creator.submit(doc_for(track, title=title, stems=stems))
    assert resp.status_code == 201, resp.text[:500]
    assert resp.json()["title"] == title
