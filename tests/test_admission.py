"""Many clients at once (issue 9): no 500s, a saturated platform says "busy" at once with
Retry-After, and liveness never waits. Asserts statuses only, never durations; the figures are
benchmarks/load.py's job."""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor

import requests

from app.embedded import start_platform
from tests.plugins.platform import login


def test_a_crowd_gets_answers_not_500s(platform):
    """80 clients at once used to exhaust the connection pool: 40 × 500 after 30 s."""
    token = login(platform.url, "fan")["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    def call(i: int) -> int:
        path = ("/v1/me", "/v1/tracks", "/v1/health")[i % 3]
        return requests.get(f"{platform.url}{path}", headers=headers, timeout=120).status_code

    with ThreadPoolExecutor(120) as pool:
        statuses = list(pool.map(call, range(360)))
    assert set(statuses) <= {200, 503}, sorted(set(statuses))
    assert statuses.count(200) > len(statuses) // 2


def test_a_saturated_platform_turns_requests_away_with_retry_after(tmp_path, demo_env):
    """Two slots and a 0.2 s wait: a burst of sign-ins (each hashes a password) fills them;
    the rest are told to come back, liveness answers throughout, readiness afterwards."""
    env = {**demo_env, "ENCORE_MAX_IN_FLIGHT": "2", "ENCORE_ADMISSION_WAIT": "0.2"}
    proc = start_platform(tmp_path, env=env)
    try:
        form = {"grant_type": "password", "username": "fan", "password": "encore-demo"}

        def sign_in(_i: int) -> requests.Response:
            return requests.post(f"{proc.url}/v1/auth/token", data=form, timeout=120)

        with ThreadPoolExecutor(24) as pool:
            busy = pool.map(sign_in, range(24))
            health = [requests.get(f"{proc.url}/v1/health", timeout=30) for _ in range(5)]
            answers = list(busy)
        statuses = [r.status_code for r in answers]
        assert 500 not in statuses and 200 in statuses
        turned_away = [r for r in answers if r.status_code == 503]
        assert turned_away, statuses
        for r in turned_away:
            assert r.headers["Retry-After"].isdigit()
            assert r.json()["error"]["code"] == "busy"
            assert "try again" in r.json()["error"]["message"].lower()
        assert all(h.status_code == 200 for h in health)
        assert requests.get(f"{proc.url}/v1/ready", timeout=30).status_code == 200
    finally:
        proc.stop()


def test_sign_ins_hash_on_their_own_threads_while_reads_go_on(tmp_path, demo_env):
    """One request thread (server/threads.py) and ten sign-ins at once, each hashing a password
    for a good fraction of a second. On the request thread every catalog read would queue behind
    a sign-in's hash (one read per hash at best); on their own threads the reads go on."""
    env = {
        **demo_env,
        "ENCORE_REQUEST_THREADS": "1",
        "ENCORE_WORK_IN_FLIGHT": "12",  # every sign-in gets in: the gate is what they wait for
        "ENCORE_DEMO_REMIXES": "0",
    }
    proc = start_platform(tmp_path, env=env)
    try:
        token = login(proc.url, "fan")["access_token"]
        form = {"grant_type": "password", "username": "fan", "password": "encore-demo"}
        reads = requests.Session()
        reads.headers["Authorization"] = f"Bearer {token}"
        with ThreadPoolExecutor(10) as pool:
            signing = [
                pool.submit(requests.post, f"{proc.url}/v1/auth/token", data=form, timeout=120)
                for _ in range(10)
            ]
            answered = 0
            while not all(f.done() for f in signing):
                assert reads.get(f"{proc.url}/v1/tracks", timeout=120).status_code == 200
                answered += 1
            statuses = [f.result().status_code for f in signing]
        assert set(statuses) <= {200, 503} and statuses.count(200) >= 2, statuses
        assert answered > 2 * statuses.count(200), (answered, statuses)
    finally:
        proc.stop()


# -- the admission pools (server/admission.Slots), driven on an event loop of the test's own ------


def test_slots_are_taken_in_arrival_order_and_all_come_back():
    from server.admission import Slots

    async def scenario() -> list[str]:
        slots = Slots(1)
        order: list[str] = []
        assert await slots.acquire(timeout=1)  # the one slot, taken

        async def request(name: str) -> None:
            if await slots.acquire(timeout=30):
                order.append(name)
                await asyncio.sleep(0)
                slots.release()

        tasks = []
        for name in ("first", "second", "third"):
            tasks.append(asyncio.create_task(request(name)))
            await asyncio.sleep(0)
        assert slots.waiting() == 3
        slots.release()
        await asyncio.gather(*tasks)
        assert slots.free == 1 and slots.waiting() == 0  # every slot back, none lost
        return order

    assert asyncio.run(scenario()) == ["first", "second", "third"]


def test_a_wait_that_runs_out_or_is_abandoned_loses_no_slot():
    from server.admission import Slots

    async def scenario() -> None:
        slots = Slots(1)
        assert await slots.acquire(timeout=1)
        assert not await slots.acquire(timeout=0.01)  # busy: turned away
        abandoned = asyncio.create_task(slots.acquire(timeout=30))
        await asyncio.sleep(0)
        slots.release()  # handed to the waiter ...
        abandoned.cancel()  # ... whose client goes away before it runs
        with contextlib.suppress(asyncio.CancelledError):
            await abandoned
        assert abandoned.cancelled()
        assert slots.waiting() == 0 and slots.free == 1  # the slot was passed on, not lost
        assert await slots.acquire(timeout=1)

    asyncio.run(scenario())


def test_work_never_takes_the_catalogs_or_the_streams_slots():
    """A crowd of remix checks fills the work pool and its queue; the catalog and a stem read
    still get in at once, and the check past the queue is answered 503 without waiting."""
    from server.admission import WORK_QUEUE_PER_SLOT, Admission

    async def scenario() -> None:
        release = asyncio.Event()

        app = held_app(release, lambda scope: scope["method"] == "POST")
        admission = Admission(app, slots=6, wait_s=30, work_slots=2)
        crowd = [
            asyncio.create_task(call(admission, "POST", "/v1/remixes/check"))
            for _ in range(2 + 2 * WORK_QUEUE_PER_SLOT)
        ]
        await asyncio.sleep(0.01)
        assert await call(admission, "GET", "/v1/tracks") == 200  # not behind the crowd
        assert await call(admission, "GET", "/v1/tracks/x/stems/y/audio") == 200
        assert await call(admission, "POST", "/v1/remixes") == 503  # at once
        release.set()
        assert await asyncio.gather(*crowd) == [200] * len(crowd)

    asyncio.run(scenario())


def test_requests_are_sorted_into_their_pools():
    from server.admission import LIGHT, STREAM, WORK, pool_of

    def scope(method: str, path: str) -> dict:
        return {"type": "http", "method": method, "path": path}

    assert pool_of(scope("GET", "/v1/tracks")) == LIGHT
    assert pool_of(scope("GET", "/v1/tracks/neon-harbor")) == LIGHT
    assert pool_of(scope("GET", "/v1/me")) == LIGHT
    assert pool_of(scope("GET", "/v1/tracks/neon-harbor/stems/a/audio")) == STREAM
    assert pool_of(scope("POST", "/v1/remixes/check")) == WORK
    assert pool_of(scope("POST", "/v1/auth/token")) == WORK
    assert pool_of(scope("PUT", "/v1/tracks/neon-harbor/policy")) == WORK


def test_a_light_read_is_turned_away_soon_while_work_may_wait_longer():
    """A catalog read is served in milliseconds once in, so it does not queue for the whole
    wait: with its pool full it is told to come back (503) while the holder is still busy, where
    a remix check in the same position waits and gets in."""
    from server.admission import Admission

    async def scenario() -> None:
        release = asyncio.Event()

        app = held_app(release, lambda scope: scope["path"].endswith("/held"))
        admission = Admission(app, slots=3, wait_s=30, work_slots=1)
        assert admission.sizes["light"] == 1 and admission.sizes["work"] == 1
        holders = [
            asyncio.create_task(call(admission, "GET", "/v1/tracks/held")),
            asyncio.create_task(call(admission, "POST", "/v1/remixes/held")),
        ]
        await asyncio.sleep(0.01)
        asyncio.get_running_loop().call_later(5.0, release.set)  # busy for a while
        work = asyncio.create_task(call(admission, "POST", "/v1/remixes/check"))
        assert await call(admission, "GET", "/v1/tracks") == 503
        assert not release.is_set()  # told before the holder finished
        assert await work == 200  # waited its turn
        assert await asyncio.gather(*holders) == [200, 200]

    asyncio.run(scenario())


def held_app(release: asyncio.Event, held):
    """An ASGI app that answers 200, once `release` is set for the requests `held(scope)` picks."""

    async def app(scope, receive, send) -> None:
        if held(scope):
            await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return app


async def call(admission, method: str, path: str) -> int:
    """One request through `admission`: the status it was answered with."""
    status: list[int] = []

    async def send(message) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    scope = {"type": "http", "method": method, "path": path, "headers": []}
    await admission(scope, lambda: None, send)
    return status[0]
