"""The client's artist-side and listening calls against a real platform process.

`artist2` owns `undertow` (closed by default); every test that opens it puts its policy back.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from app.client import PlatformClient, PlatformError
from app.listening import RenderDecodeError, decode_render
from core.contract import RemixDocument, RemixStatus, ReviewDecision, RightsPolicy, StemSettings
from tests.platform_helpers import PASSWORD, create_user

TRACK = "undertow"


def signed_in(url: str, username: str, password: str = "encore-demo") -> PlatformClient:
    client = PlatformClient(url)
    client.login(username, password)
    return client


@pytest.fixture(scope="module")
def artist2(platform) -> PlatformClient:
    return signed_in(platform.url, "artist2")


@pytest.fixture(scope="module")
def creator(platform) -> PlatformClient:
    create_user(platform.url, platform.data_dir, "client-fan")
    return signed_in(platform.url, "client-fan", PASSWORD)


@pytest.fixture
def open_with_approval(artist2):
    before = artist2.track(TRACK).policy
    artist2.set_policy(TRACK, RightsPolicy(opted_in=True, requires_approval=True))
    yield artist2.track(TRACK)
    artist2.set_policy(TRACK, before)


def remix_doc(detail, stem: int, gain_db: float, title: str) -> RemixDocument:
    ids = [s.id for s in detail.stems]
    return RemixDocument(
        track_id=detail.id,
        track_version=detail.version,
        title=title,
        stems={ids[stem]: StemSettings(gain_db=gain_db)},
    )


def wait_rendered(client: PlatformClient, remix_id: str, timeout: float = 180.0):
    import time

    deadline = time.monotonic() + timeout
    info = client.remix(remix_id)
    while info.status in (RemixStatus.RECEIVED, RemixStatus.RENDERING):
        assert time.monotonic() < deadline, info
        time.sleep(0.1)
        info = client.remix(remix_id)
    return info


def test_artist_tracks_are_the_artists_own(platform, artist2):
    assert [t.id for t in artist2.artist_tracks()] == [TRACK]
    artist = signed_in(platform.url, "artist")
    mine = artist.artist_tracks()
    assert mine and TRACK not in {t.id for t in mine}
    assert {t.artist for t in mine} == {artist.account.display_name}
    assert signed_in(platform.url, "fan").artist_tracks() == []


def test_review_round_trip_and_in_memory_listening(platform, artist2, creator, open_with_approval):
    detail = creator.track(TRACK)
    first = creator.submit_remix(remix_doc(detail, 0, -8.6, "Client approve"), "client-k1")
    second = creator.submit_remix(remix_doc(detail, 1, -12.4, "Client reject"), "client-k2")
    assert wait_rendered(creator, first.id).status == RemixStatus.PENDING_APPROVAL
    assert wait_rendered(creator, second.id).status == RemixStatus.PENDING_APPROVAL

    queue = artist2.review_queue(TRACK, RemixStatus.PENDING_APPROVAL)
    assert {first.id, second.id} <= {r.id for r in queue}
    assert all(r.status == RemixStatus.PENDING_APPROVAL for r in queue)

    # Pending: the artist (to decide) and the creator may listen; nobody else sees it yet.
    pending_audio = artist2.remix_audio(first.id)
    assert pending_audio[:4] == b"fLaC"
    assert creator.remix_audio(first.id) == pending_audio
    with pytest.raises(PlatformError) as err:
        signed_in(platform.url, "fan").remix_audio(first.id)
    assert err.value.status == 404 and "Check the link" in err.value.message

    # Rejecting needs a reason: the platform's message says so.
    with pytest.raises(PlatformError) as err:
        artist2.review(second.id, ReviewDecision.REJECT, "   ")
    assert err.value.status == 422 and "Say why you are rejecting" in err.value.message

    approved = artist2.review(first.id, ReviewDecision.APPROVE)
    assert approved.status == RemixStatus.PUBLISHED
    rejected = artist2.review(second.id, ReviewDecision.REJECT, "Keep the bass up, please")
    assert rejected.status == RemixStatus.REJECTED
    mine = {r.id: r for r in creator.my_remixes()}
    assert (
        mine[second.id].reason == "The artist did not approve this remix: Keep the bass up, please"
    )
    assert mine[first.id].status == RemixStatus.PUBLISHED
    assert sum(line.basis_points for line in mine[first.id].split.lines) == 10000

    entries = artist2.audit(TRACK)
    actions = [(e.action, e.remix_id, e.reason) for e in entries[:2]]
    assert actions == [
        ("remix_rejected", second.id, "Keep the bass up, please"),
        ("remix_approved", first.id, None),
    ]
    assert entries[0].actor == "artist2"

    # The published render: bytes in memory, decoded from memory to one stereo stem.
    data = creator.remix_audio(first.id)
    assert data == pending_audio
    audio = decode_render(data, 48000)
    info = sf.info(io.BytesIO(data))
    assert audio.shape == (1, 2, info.frames) and audio.dtype == np.float32
    assert abs(info.frames / info.samplerate - detail.duration) < 0.05
    assert 0.05 < float(np.abs(audio).max()) <= 10 ** (-1 / 20) + 1e-3  # normalised, ≤ −1 dBTP


def test_policy_changes_and_refusals(artist2, platform):
    before = artist2.track(TRACK).policy
    try:
        new = before.model_copy(update={"creator_share": 0.35, "tempo_ratio_max": 1.1})
        assert artist2.set_policy(TRACK, new) == new
        assert artist2.track(TRACK).policy == new
        entry = artist2.audit(TRACK)[0]
        assert entry.action == "policy_changed" and entry.after["creator_share"] == 0.35
        with pytest.raises(PlatformError) as err:
            artist2.set_policy(TRACK, new.model_copy(update={"allowed_stems": []}))
        assert err.value.status == 422 and "(allowed_stems is empty)" in err.value.message
        # Another artist's track: refused with the platform's words.
        artist = signed_in(platform.url, "artist")
        theirs = artist.artist_tracks()[0].id
        with pytest.raises(PlatformError) as err:
            artist2.review_queue(theirs)
        assert err.value.status == 403 and "Sign in as that artist" in err.value.message
    finally:
        artist2.set_policy(TRACK, before)


def test_decode_render_shapes_and_resamples():
    t = np.arange(44100) / 44100
    mono = (0.5 * np.sin(2 * np.pi * 441 * t)).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, mono, 44100, format="FLAC", subtype="PCM_24")
    out = decode_render(buf.getvalue(), 48000)
    assert out.shape == (1, 2, 48000)
    np.testing.assert_array_equal(out[0, 0], out[0, 1])  # mono to both sides
    # Same pitch after resampling: 441 Hz -> the spectrum peak stays at 441 Hz.
    spectrum = np.abs(np.fft.rfft(out[0, 0, 2000:46000]))
    peak_hz = np.argmax(spectrum) * 48000 / 44000
    assert abs(peak_hz - 441) < 1.5
    stereo = np.stack([mono, -mono], axis=1)
    buf = io.BytesIO()
    sf.write(buf, stereo, 48000, format="FLAC", subtype="PCM_24")
    out = decode_render(buf.getvalue(), 48000)
    np.testing.assert_allclose(out[0].T, stereo, atol=2.0**-23)  # 24-bit: exact to the LSB
    with pytest.raises(RenderDecodeError, match="Press Listen again"):
        decode_render(b"not audio at all", 48000)
