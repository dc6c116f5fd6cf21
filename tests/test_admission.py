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


# -- the two lanes (server/admission.PrioritySlots), driven on an event loop of the test's own --


def test_a_freed_slot_goes_to_a_light_request_before_older_heavy_ones():
    from server.admission import PrioritySlots

    async def scenario() -> list[str]:
        slots = PrioritySlots(1)
        order: list[str] = []
        assert await slots.acquire(light=False, timeout=1)  # the one slot, taken

        async def request(name: str, light: bool) -> None:
            if await slots.acquire(light, timeout=30):
                order.append(name)
                await asyncio.sleep(0)
                slots.release()

        tasks = [asyncio.create_task(request("heavy1", False))]
        await asyncio.sleep(0)
        tasks.append(asyncio.create_task(request("heavy2", False)))
        await asyncio.sleep(0)
        tasks.append(asyncio.create_task(request("light", True)))
        await asyncio.sleep(0)
        assert slots.waiting() == 3
        slots.release()
        await asyncio.gather(*tasks)
        assert slots.free == 1 and slots.waiting() == 0  # every slot back, none lost
        return order

    assert asyncio.run(scenario()) == ["light", "heavy1", "heavy2"]


def test_a_wait_that_runs_out_or_is_abandoned_loses_no_slot():
    from server.admission import PrioritySlots

    async def scenario() -> None:
        slots = PrioritySlots(1)
        assert await slots.acquire(light=True, timeout=1)
        assert not await slots.acquire(light=True, timeout=0.01)  # busy: turned away
        abandoned = asyncio.create_task(slots.acquire(light=False, timeout=30))
        await asyncio.sleep(0)
        slots.release()  # handed to the waiter ...
        abandoned.cancel()  # ... whose client goes away before it runs
        with contextlib.suppress(asyncio.CancelledError):
            await abandoned
        assert abandoned.cancelled()
        assert slots.waiting() == 0 and slots.free == 1  # the slot was passed on, not lost
        assert await slots.acquire(light=False, timeout=1)

    asyncio.run(scenario())


def test_catalog_detail_and_me_are_the_light_requests():
    from server.admission import is_light

    def scope(method: str, path: str) -> dict:
        return {"type": "http", "method": method, "path": path}

    assert is_light(scope("GET", "/v1/tracks"))
    assert is_light(scope("GET", "/v1/tracks/neon-harbor"))
    assert is_light(scope("GET", "/v1/me"))
    assert not is_light(scope("GET", "/v1/tracks/neon-harbor/stems/a/audio"))
    assert not is_light(scope("POST", "/v1/remixes/check"))
    assert not is_light(scope("PUT", "/v1/tracks/neon-harbor/policy"))
