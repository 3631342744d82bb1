"""SSE followers against hostile clients and a crowd, through the real gateway and worker on a
Redis of the test's own: a bad `Last-Event-ID` is 422 and stalls no one, a resume at or past the
terminal event ends at once, and hundreds of streams opened at once on a few connections all end.

Every test waits on conditions (each follower's first event, each stream's end) with generous
deadlines; none measures how fast anything came.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.entrypoints.gateway.app import create_app
from app.settings import load_settings
from tests.e2e.conftest import ask
from tests.support.asgi_server import RunningServer, serve_in_thread
from tests.support.redis_server import PrivateRedis
from tests.support.services import Deployment, worker_process
from tests.support.sse import SSEEvent, sse_events

TERMINAL = ("done", "error")
OFFLINE = {"LLM_DEFAULT_PROVIDER": "offline", "WORKER_CONCURRENCY": "4"}


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def deployment(redis_server: PrivateRedis) -> Deployment:
    return Deployment(redis_url=redis_server.url, env=OFFLINE)


def gateway(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, **redis: Any
) -> AbstractContextManager[RunningServer]:
    """The gateway with the deployment's settings; chats queue with no worker running yet."""
    for name, value in deployment.settings_env().items():
        monkeypatch.setenv(name, value)
    overrides = deployment.settings_overrides()
    overrides["redis"] |= redis
    overrides["gateway"] |= {"require_worker": False}
    return serve_in_thread(create_app(load_settings(**overrides)))


async def follow(
    http: httpx.AsyncClient,
    url: str,
    first: asyncio.Event | None = None,
    last_event_id: str | None = None,
) -> list[SSEEvent]:
    events = []
    async for event in sse_events(http, url, last_event_id=last_event_id):
        events.append(event)
        if first is not None:
            first.set()
    return events


def kinds(events: list[SSEEvent]) -> list[str]:
    return [e.event for e in events if e.event in TERMINAL]


async def test_a_hostile_last_event_id_is_422_and_20_followers_on_the_gateway_all_end(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, logs: Path
) -> None:
    with gateway(deployment, monkeypatch) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            jobs = [await ask(http, f"캔 어떻게 버려요? {i}") for i in range(21)]
            followed, spare = jobs[:20], jobs[20]
            firsts = [asyncio.Event() for _ in followed]
            followers = [
                asyncio.create_task(follow(http, j["events_url"], first))
                for j, first in zip(followed, firsts, strict=True)
            ]
            # No worker yet: every follower has its `queued` event and waits on the live read.
            await asyncio.wait_for(asyncio.gather(*(f.wait() for f in firsts)), 120)
            hostile = [
                await http.get(job["events_url"], headers={"Last-Event-ID": last})
                for job in (followed[0], spare)
                for last in ("18446744073709551616-0", "18446744073709551615-0")
            ]
            with worker_process(deployment, logs):
                results = await asyncio.wait_for(asyncio.gather(*followers), 180)
    assert [r.status_code for r in hostile] == [422] * 4, [r.text for r in hostile]
    assert all(r.json()["error"] == "invalid_request" for r in hostile)
    assert [kinds(events) for events in results] == [["done"]] * 20


async def test_a_resume_at_or_past_the_terminal_event_ends_at_once(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, logs: Path
) -> None:
    with gateway(deployment, monkeypatch) as server, worker_process(deployment, logs):
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            job = await ask(http, "페트병 어떻게 버려요?")
            events = await asyncio.wait_for(follow(http, job["events_url"]), 120)
            done = events[-1]
            # An id is "<ms>-<seq>" or, for an event batched into one entry, "<ms>-<seq>.<k>".
            entry, _, k = done.id.partition(".")
            ms, seq = (int(p) for p in entry.split("-"))
            past = [done.id, f"{ms}-{seq + 1}", f"{ms + 3_600_000}-0"]
            if k:
                past.append(f"{entry}.{int(k) + 1}")
            resumed = {
                last: await asyncio.wait_for(follow(http, job["events_url"], None, last), 60)
                for last in [*past, events[-2].id]
            }
    assert done.event == "done"
    assert [[e.event for e in got] for got in resumed.values()] == [[]] * len(past) + [["done"]]


async def test_300_streams_opened_at_once_on_6_redis_connections_all_end(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, logs: Path, redis_server: PrivateRedis
) -> None:
    readers, pool = 300, 6
    # A short pool timeout stands in for a crowd on a busy machine: before openings took
    # turns, readers queued on the pool together and the late ones failed with "No
    # connection available" (503, or a stream broken after its 200).
    limits = httpx.Limits(max_connections=readers + 20, max_keepalive_connections=readers + 20)
    with gateway(deployment, monkeypatch, max_connections=pool, pool_timeout=0.2) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=300, limits=limits) as http:
            jobs = [await ask(http, f"캔 어떻게 버려요? {i}") for i in range(readers)]
            followers = [asyncio.create_task(follow(http, j["events_url"])) for j in jobs]
            with worker_process(deployment, logs, env={"APP_REDIS__CLIENT_NAME": "eco2-worker"}):
                results = await asyncio.wait_for(
                    asyncio.gather(*followers, return_exceptions=True), 280
                )
            with redis_server.client() as raw:
                held = [c for c in raw.client_list() if c.get("name") == "eco2-chat"]
    errors = [repr(r) for r in results if isinstance(r, BaseException)]
    assert errors == []
    assert [kinds(events) for events in results] == [["done"]] * readers  # type: ignore[arg-type]
    assert 1 <= len(held) <= pool
