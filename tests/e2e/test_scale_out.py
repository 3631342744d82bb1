"""Scale-out on one machine as it would be on many: gateway and worker processes that share only
Redis, PostgreSQL and the gateways' secret (issue 23).

- Two gateways and two workers on one Redis and one PostgreSQL: 200 chats of eight browser
  guests submitted round-robin, each followed on the *other* gateway; the rate limit is one
  for both gateways; every chat ends with exactly one terminal event; every conversation holds
  every turn.
- Redis Sentinel (a primary, a replica, three sentinels): the primary is killed while chats
  run; every chat ends with exactly one terminal event, and the gateways answer 503 with
  Retry-After only while the switch lasts.

Each test prints its figures and asserts counts and orders, never durations: the deadlines
are generous bounds for a loaded machine.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from app.infrastructure.redis_jobs.keys import stream_key
from app.infrastructure.redis_jobs.publisher import entry_events
from tests.support.asgi_server import RunningServer, serve_in_thread
from tests.support.conversation_stores import postgres_schema
from tests.support.deadlines import PROCESS_SECONDS
from tests.support.openai_wire import OpenAIWire, openai_env
from tests.support.redis_server import PrivateRedis, free_port, redis_server_reason
from tests.support.sentinel import SentinelGroup, sentinel_group
from tests.support.services import REDIS_PORTS, Deployment, fleet, require_postgres
from tests.support.sse import SSEEvent, sse_until_terminal
from tests.support.wire_script import Script

QUESTIONS = ("페트병 어떻게 버려요?", "캔 어떻게 버려요?", "유리병 어떻게 버려요?", "건전지는요?")
TERMINAL = ("done", "error")
FOLLOW_SECONDS = 900.0  # one chat's stream, on a machine with every core busy
# Both tests start four processes; each may take a minute to import on a busy 2-core host.
pytestmark = pytest.mark.timeout(3 * PROCESS_SECONDS)

# Offline answers (no model), rules morphology (less start-up CPU), no worker metrics server
# (two workers on one host would contend for its port).
QUIET = {"APP_RETRIEVAL__MORPHOLOGY": "rules", "APP_METRICS__ENABLED": "false"}


def ending(events: list[SSEEvent]) -> str:
    """How a followed chat ended: `done`, `error:<kind>`, or `none`."""
    ends = [e for e in events if e.event in TERMINAL]
    if len(ends) != 1:
        return "none" if not ends else f"{len(ends)} terminal events"
    kind = ends[0].data.get("kind") or ends[0].data.get("data", {}).get("kind")
    return "done" if ends[0].event == "done" else f"error:{kind}"


def stored_terminals(client: redis.Redis, job_id: str) -> int:
    """Terminal entries in the chat's stream, as Redis holds it."""
    entries: list[Any] = client.xrange(stream_key(job_id))  # type: ignore[assignment]
    parsed = (event for i, f in entries for event in entry_events(i, f, job_id))
    return sum(1 for event in parsed if event.type in TERMINAL)


async def followed(task: asyncio.Task[list[SSEEvent]]) -> list[SSEEvent]:
    try:
        return await task
    except TimeoutError:
        return []  # no terminal event within FOLLOW_SECONDS: counted, reported


def follow(http: httpx.AsyncClient, url: str) -> asyncio.Task[list[SSEEvent]]:
    """As a browser's EventSource: reconnects with Last-Event-ID until a terminal event."""
    return asyncio.create_task(asyncio.wait_for(sse_until_terminal(http, url), FOLLOW_SECONDS))


# --- two gateways, two workers, one Redis, one PostgreSQL -------------------------------------

GUESTS, CONVERSATIONS, TURNS = 8, 5, 5  # 200 chats
RATE = CONVERSATIONS * TURNS  # requests_per_minute: a guest's 25 messages fit, a 26th does not


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    if reason := redis_server_reason():
        pytest.skip(reason)
    server = PrivateRedis(tmp_path, free_port(REDIS_PORTS))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    require_postgres()
    with postgres_schema() as url:  # a schema of this test's own, dropped after
        yield url


def migrate(deployment: Deployment) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app", "migrate"],
        env={**os.environ, **deployment.settings_env()},
        capture_output=True,
        text=True,
        timeout=PROCESS_SECONDS,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@dataclass
class Guest:
    """One browser: its cookie is its identity on either gateway."""

    http: httpx.AsyncClient
    conversations: list[str] = field(default_factory=list)
    sent: dict[str, list[str]] = field(default_factory=dict)  # conversation -> messages
    refused: httpx.Response | None = None


@dataclass
class RoundRobin:
    """Each request to the next gateway in turn; its stream is followed on the other one."""

    urls: list[str]
    turn: itertools.count[int] = field(default_factory=itertools.count)

    def next(self) -> tuple[str, str]:
        i = next(self.turn) % len(self.urls)
        return self.urls[i], self.urls[(i + 1) % len(self.urls)]


async def guest_chats(
    guest: Guest, number: int, gateways: RoundRobin, followers: dict[str, asyncio.Task[Any]]
) -> None:
    """The guest's conversations, then its turns one after the other (a conversation's turns
    queue behind each other), then one message over its rate: refused on either gateway."""
    for _ in range(CONVERSATIONS):
        here, _ = gateways.next()
        created = await guest.http.post(f"{here}/api/v1/chat")
        assert created.status_code == 201, created.text
        guest.conversations.append(created.json()["id"])
        guest.sent[created.json()["id"]] = []
    for turn, conversation in itertools.product(range(TURNS), guest.conversations):
        message = f"[{number}.{len(followers)}] {QUESTIONS[turn % len(QUESTIONS)]}"
        here, other = gateways.next()
        sent = await guest.http.post(
            f"{here}/api/v1/chat/{conversation}/messages", json={"message": message}
        )
        assert sent.status_code == 202, sent.text
        guest.sent[conversation].append(message)
        followers[sent.json()["job_id"]] = follow(guest.http, other + sent.json()["stream_url"])
    here, _ = gateways.next()
    over = await guest.http.post(
        f"{here}/api/v1/chat/{guest.conversations[0]}/messages", json={"message": "하나 더"}
    )
    guest.refused = over


async def conversation_complete(guest: Guest, url: str, conversation: str) -> bool:
    detail = await guest.http.get(f"{url}/api/v1/chat/{conversation}", params={"limit": 100})
    messages = detail.json()["messages"]
    roles = [m["role"] for m in messages]
    asked = [m["content"] for m in messages if m["role"] == "user"]
    answered = [m for m in messages if m["role"] == "assistant" and m["content"].strip()]
    return (
        roles == ["user", "assistant"] * TURNS
        and asked == guest.sent[conversation]
        and len(answered) == TURNS
    )


def ran_by(worker_logs: list[str], jobs: list[str]) -> list[int]:
    """Chats each worker ran (arq's `←` line names the job it finished)."""
    return [sum(1 for job in jobs if f"← {job}:" in log) for log in worker_logs]


@pytest.mark.slow
async def test_two_gateways_and_two_workers_share_one_redis_and_one_postgres(
    redis_server: PrivateRedis, postgres_url: str, tmp_path: Path
) -> None:
    deployment = Deployment(
        redis_url=redis_server.url,
        env={
            **QUIET,
            "POSTGRES_URL": postgres_url,
            "APP_CONVERSATIONS__BACKEND": "postgres",
            "APP_CHECKPOINT__BACKEND": "postgres",  # a conversation's turns run on either worker
            "APP_LIMITS__REQUESTS_PER_MINUTE": str(RATE),
        },
    )
    migrate(deployment)
    followers: dict[str, asyncio.Task[list[SSEEvent]]] = {}
    with fleet(deployment, tmp_path, gateways=2, workers=2) as running:
        urls = [g.url for g in running.gateways]
        gateways = RoundRobin(urls)
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        guests = [Guest(httpx.AsyncClient(timeout=60, limits=limits)) for _ in range(GUESTS)]
        try:
            started = time.monotonic()
            for number, guest in enumerate(guests):
                await guest_chats(guest, number, gateways, followers)
            streams = {job: await followed(task) for job, task in followers.items()}
            elapsed = time.monotonic() - started
            complete = [
                await conversation_complete(guest, urls[i % 2], conversation)
                for guest in guests
                for i, conversation in enumerate(guest.conversations)
            ]
        finally:
            for guest in guests:
                await guest.http.aclose()
        alive = running.alive()
        runs = ran_by([w.text() for w in running.workers], list(followers))
    with redis_server.client() as raw:
        stored = [stored_terminals(raw, job) for job in followers]
    endings = Counter(ending(events) for events in streams.values())
    refused = [g.refused for g in guests if g.refused is not None]
    over_limit = [
        r
        for r in refused
        if r.status_code == 429 and r.json().get("limit") == "requests_per_minute"
    ]
    figures = (
        f"{len(followers)} chats over {len(urls)} gateways round-robin, each followed on the "
        f"other; workers ran {runs}; endings {dict(endings)}; exactly one terminal event in "
        f"the stream: {stored.count(1)}/{len(stored)}; lost (no ending): {endings['none']}; "
        f"over-limit messages refused 429: {len(over_limit)}/{GUESTS}; conversations complete: "
        f"{sum(complete)}/{len(complete)}; {elapsed:.0f} s from the first message to the last "
        "ending"
    )
    print(f"\nscale-out: {figures}")
    assert len(followers) == GUESTS * CONVERSATIONS * TURNS, figures
    assert endings == {"done": len(followers)}, figures
    assert stored == [1] * len(followers), figures
    assert len(over_limit) == GUESTS and all(r.headers["retry-after"] for r in over_limit), figures
    assert all(complete), figures
    assert sum(runs) == len(followers) and all(runs), figures  # both workers took chats
    assert alive, figures


# --- Redis Sentinel: the primary dies under load -----------------------------------------------

PACE = 0.05  # seconds between submissions: a steady trickle, the switch lands among them
IN_FLIGHT = 20  # chats at the model when the primary is killed: every slot of both workers
AFTER = 25  # chats each gateway accepts after the switch before the load stops


@dataclass
class Attempt:
    gateway: int
    started: float
    ended: float
    status: int
    retry_after: str | None
    kind: str | None
    job: dict[str, Any] | None


@dataclass
class Load:
    """Chats submitted round-robin until stopped, each followed on the other gateway."""

    http: httpx.AsyncClient
    urls: list[str]
    attempts: list[Attempt] = field(default_factory=list)
    followers: dict[str, asyncio.Task[list[SSEEvent]]] = field(default_factory=dict)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        for i in itertools.count():
            if self.stop.is_set():
                return
            gateway = i % len(self.urls)
            began = time.monotonic()
            try:
                sent = await self.http.post(
                    f"{self.urls[gateway]}/v1/chat",
                    json={"message": QUESTIONS[i % len(QUESTIONS)]},
                )
            except httpx.HTTPError as exc:  # never expected: counted as status 0, reported
                self.attempts.append(
                    Attempt(gateway, began, time.monotonic(), 0, None, repr(exc), None)
                )
                continue
            body = sent.json()
            job = body if sent.status_code == 202 else None
            self.attempts.append(
                Attempt(gateway, began, time.monotonic(), sent.status_code,
                        sent.headers.get("retry-after"), body.get("error"), job)
            )  # fmt: skip
            if job is not None:
                other = self.urls[(gateway + 1) % len(self.urls)]
                self.followers[job["job_id"]] = follow(self.http, other + job["events_url"])
            await asyncio.sleep(PACE)

    def accepted_since(self, moment: float, gateway: int) -> int:
        """Chats this gateway accepted after `moment`, since its last refusal."""
        mine = [a for a in self.attempts if a.gateway == gateway and a.started >= moment]
        tail = list(itertools.takewhile(lambda a: a.status == 202, reversed(mine)))
        return len(tail)


def one_refusal_run(statuses: list[int]) -> bool:
    """202s, then 503s, then 202s: refused only while the switch lasted, never on and off."""
    runs = [status for status, _ in itertools.groupby(statuses)]
    return runs in ([202], [202, 503, 202], [503, 202])


@pytest.fixture
def group(tmp_path: Path) -> Iterator[SentinelGroup]:
    with sentinel_group(tmp_path, REDIS_PORTS) as started:
        yield started


@pytest.fixture
def slow_llm() -> Iterator[tuple[RunningServer, Script]]:
    """A model that answers slowly, so chats are in flight when the primary dies."""
    script = Script(delay=0.5, chunk_delay=0.1)
    with serve_in_thread(OpenAIWire(script)) as server:
        yield server, script


async def until(condition: Any, what: str, deadline: float = PROCESS_SECONDS) -> None:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > deadline:
            raise AssertionError(f"not within {deadline:.0f} s: {what}")
        await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_a_sentinel_failover_under_load_ends_every_chat_once(
    group: SentinelGroup, slow_llm: tuple[RunningServer, Script], tmp_path: Path
) -> None:
    server, script = slow_llm
    deployment = Deployment(
        redis_url=group.primary().url,  # the test's own look at the workers' start
        env={
            **QUIET,
            **openai_env(server.url),
            # Nothing may connect where the URL says: only the sentinels know the primary.
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "REDIS_SENTINELS": ",".join(group.addresses),
            # Workers' health keys outlive the switch (3 beats): "no worker" is not the test.
            "APP_WORKER__HEALTH_CHECK_INTERVAL": "10",
        },
    )
    with fleet(deployment, tmp_path, gateways=2, workers=2) as running:
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=400)) as http:
            load = Load(http, [g.url for g in running.gateways])
            producing = asyncio.create_task(load.run())
            try:
                await until(lambda: len(script.requests) >= IN_FLIGHT, "chats at the model")
                killing = time.monotonic()
                old = await asyncio.to_thread(group.kill_primary)
                killed = time.monotonic()
                promoted = await asyncio.to_thread(group.wait_promoted, old)
                await until(
                    lambda: all(load.accepted_since(killed, g) >= AFTER for g in (0, 1)),
                    "both gateways accepting chats again",
                )
            finally:
                load.stop.set()
                await producing
            streams = {job: await followed(task) for job, task in load.followers.items()}
        alive = running.alive()
    with group.primary().client() as raw:
        stored = [stored_terminals(raw, job) for job in load.followers]
    refused = [a for a in load.attempts if a.status != 202]
    endings = Counter(ending(events) for events in streams.values())
    figures = figures_of(load, endings, stored, killing, promoted)
    print(f"\nsentinel failover: {figures}")
    assert {a.status for a in refused} <= {503}, figures
    assert all(a.retry_after and int(a.retry_after) > 0 for a in refused), figures
    assert all(a.ended >= killing for a in refused), figures  # none before the primary died
    for gateway in (0, 1):
        assert one_refusal_run([a.status for a in load.attempts if a.gateway == gateway]), figures
    assert stored == [1] * len(load.followers), figures
    assert set(endings) <= {"done", "error:lost"}, figures
    assert alive, figures


def figures_of(
    load: Load, endings: Counter[str], stored: list[int], killed: float, promoted: float
) -> str:
    """The test's figures; times are from the moment the primary was killed."""
    refused = [a for a in load.attempts if a.status != 202]
    first = min((a.started for a in refused), default=killed) - killed
    last = max((a.ended for a in refused), default=killed) - killed
    return (
        f"{len(load.attempts)} submissions round-robin over 2 gateways, "
        f"{len(load.followers)} chats accepted, {len(refused)} refused "
        f"{dict(Counter((a.status, a.kind) for a in refused))}, per gateway "
        f"{dict(Counter(a.gateway for a in refused))}; endings {dict(endings)}; exactly one "
        f"terminal event in the stream: {stored.count(1)}/{len(stored)}; lost (no ending): "
        f"{endings['none']}; every sentinel named the replica {promoted - killed:.1f} s after "
        f"the kill; 503s from {first:+.1f} s to {last:+.1f} s after it"
    )
