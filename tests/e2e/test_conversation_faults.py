"""Faults around a stored conversation's turn, with real worker processes on a Redis of the
test's own: a worker killed mid-turn (before and after the write), Redis going away while the
turn is written, and the conversation store (PostgreSQL behind a proxy the test cuts) going
away at send and at the end of a turn.

What every test checks in the store itself: a turn's messages are there exactly once (one user
message, and one assistant message unless the turn ended `error`), and the terminal event's
`persistence` names those rows. Deadlines are generous bounds, never measurements.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest

from app.application.access.job_tokens import JobTokens
from app.domain.events import ProgressEvent
from app.infrastructure.redis_jobs import keys
from app.infrastructure.redis_jobs.publisher import read_events
from app.settings import ConversationSettings, PostgresSettings
from tests.e2e.conftest import serve_gateway
from tests.support.asgi_server import RunningServer, serve_in_thread
from tests.support.conversation_stores import postgres_reason, postgres_schema
from tests.support.openai_wire import OpenAIWire, openai_env
from tests.support.redis_server import PrivateRedis
from tests.support.services import Deployment, WorkerProcess, worker_process
from tests.support.sse import SSEEvent, sse_events
from tests.support.tcp_proxy import CuttableProxy, cuttable_proxy
from tests.support.wire_script import Script

# Real processes on a 2-core machine that other suites share: a generous bound per test.
pytestmark = pytest.mark.timeout(300)
SECRET = b"test-secret-0123456789abcdef0123456789"
TERMINAL = ("done", "error")
REPLY = "라벨을 떼고 내용물을 비운 뒤 헹궈서 투명 페트병 수거함에 버리세요. " * 3


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def slow_llm() -> Iterator[RunningServer]:
    """An OpenAI-compatible server whose answer streams for several seconds: time enough to
    break something while the turn is running."""
    script = Script(delay=0.2, chunk_delay=0.1, reply_text=REPLY)
    with serve_in_thread(OpenAIWire(script)) as server:
        yield server


def llm_env(server: RunningServer) -> dict[str, str]:
    return {
        **openai_env(server.url),
        "APP_WORKER__LEASE_SECONDS": "3",
        "APP_WORKER__LOST_AFTER": "20",
        "APP_GRAPH__INTENT_CACHE": "false",
    }


@pytest.fixture
def deployment(redis_server: PrivateRedis, slow_llm: RunningServer) -> Deployment:
    return Deployment(redis_url=redis_server.url, env=llm_env(slow_llm))


# --- the client's side ------------------------------------------------------------------------


async def new_chat(http: httpx.AsyncClient) -> str:
    response = await http.post("/api/v1/chat")
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def send(http: httpx.AsyncClient, chat_id: str, message: str) -> str:
    response = await http.post(f"/api/v1/chat/{chat_id}/messages", json={"message": message})
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


async def send_once_back(http: httpx.AsyncClient, chat_id: str, message: str) -> str:
    """`send` as a client does right after an outage: a 503 says when to try again (the store's
    pool reconnects with its own backoff, so the first request after PostgreSQL returns may
    still find no connection)."""
    started = asyncio.get_running_loop().time()
    while True:
        response = await http.post(f"/api/v1/chat/{chat_id}/messages", json={"message": message})
        if response.status_code != 503 or asyncio.get_running_loop().time() - started > 120:
            assert response.status_code == 202, response.text
            return str(response.json()["job_id"])
        await asyncio.sleep(float(response.headers["retry-after"]))


def events_url(job_id: str) -> str:
    """The /v1 view of the job's stream: our own event schema, with `persistence` and the
    attempt of each event (the /api/v1 view is the same stream under the client's names)."""
    return f"/v1/chat/{job_id}/events?token={JobTokens(SECRET).sign(job_id)}"


async def collect(http: httpx.AsyncClient, job_id: str, limit: float = 120) -> list[SSEEvent]:
    async def read() -> list[SSEEvent]:
        return [event async for event in sse_events(http, events_url(job_id))]

    return await asyncio.wait_for(read(), limit)


async def first(http: httpx.AsyncClient, job_id: str, kind: str, limit: float = 60) -> SSEEvent:
    async def read() -> SSEEvent:
        async for event in sse_events(http, events_url(job_id)):
            if event.event == kind:
                return event
        raise AssertionError(f"the stream ended before a {kind} event")

    return await asyncio.wait_for(read(), limit)


def terminal(events: list[SSEEvent]) -> list[SSEEvent]:
    return [e for e in events if e.event in TERMINAL]


async def until(condition: Callable[[], bool], what: str, deadline: float = 90) -> float:
    """Wait for `condition` (polled); returns how long it took."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > deadline:
            raise AssertionError(f"not within {deadline} s: {what}")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


# --- the store's side -------------------------------------------------------------------------


def sqlite_rows(deployment: Deployment, chat_id: str) -> list[tuple[str, str, str]]:
    """(turn key, role, id) of the conversation's messages, read from the store's file."""
    if not deployment.conversations.exists():
        return []
    with sqlite3.connect(deployment.conversations) as conn:
        try:
            rows = conn.execute(
                "SELECT turn_key, role, id FROM eco2_messages WHERE conversation_id = ? "
                "ORDER BY seq",
                (chat_id,),
            ).fetchall()
        except sqlite3.OperationalError:  # not made yet
            return []
    return [(str(k), str(r), str(i)) for k, r, i in rows]


def one_pair(rows: list[tuple[str, str, str]], job_id: str) -> dict[str, str]:
    turn = [row for row in rows if row[0] == job_id]
    roles = sorted(role for _, role, _ in turn)
    assert roles == ["assistant", "user"], f"turn {job_id}: {turn}"
    return {role: message_id for _, role, message_id in turn}


def runner_of(workers: list[WorkerProcess], job_id: str, attempt: int = 1) -> WorkerProcess:
    for worker in workers:
        for line in worker.text().splitlines():
            if job_id in line and '"chat.started"' in line and f'"job_try": {attempt}' in line:
                return worker
    raise AssertionError(f"no worker started attempt {attempt} of {job_id}")


async def running(workers: list[WorkerProcess], job_id: str, attempt: int = 1) -> WorkerProcess:
    def started() -> bool:
        try:
            runner_of(workers, job_id, attempt)
        except AssertionError:
            return False
        return True

    await until(started, f"attempt {attempt} of {job_id} started")
    return runner_of(workers, job_id, attempt)


# --- a. a worker killed mid-turn --------------------------------------------------------------


async def test_a_worker_killed_mid_answer_stores_the_turn_once(
    http: httpx.AsyncClient, deployment: Deployment, logs: Path
) -> None:
    with worker_process(deployment, logs, "a") as a, worker_process(deployment, logs, "b") as b:
        chat_id = await new_chat(http)
        job_id = await send(http, chat_id, "페트병 어떻게 버려요?")
        await first(http, job_id, "delta")  # the answer is being streamed by attempt 1
        victim = await running([a, b], job_id)
        assert sqlite_rows(deployment, chat_id) == []  # nothing is written before the end
        victim.stop(signal.SIGKILL)
        events = await collect(http, job_id)
        detail = (await http.get(f"/api/v1/chat/{chat_id}")).json()
    ends = terminal(events)
    assert [e.event for e in ends] == ["done"]
    assert {e.data["attempt"] for e in events} == {1, 2}  # the second worker took it over
    stored = one_pair(sqlite_rows(deployment, chat_id), job_id)
    persistence = ends[0].data["data"]["persistence"]
    assert persistence["user_message"] == stored["user"]
    assert persistence["assistant_message"] == stored["assistant"]
    assert [m["id"] for m in detail["messages"]] == [stored["user"], stored["assistant"]]


async def test_a_worker_killed_after_the_write_but_before_done_ends_the_turn_once(
    http: httpx.AsyncClient, deployment: Deployment, redis_server: PrivateRedis, logs: Path
) -> None:
    """Redis is paused (SIGSTOP: it keeps its keys) while the answer streams: the turn is
    written to the store, then its worker waits on Redis to publish `answer`. The test kills
    it there, lets Redis go on, and the other worker's re-run finds the turn recorded."""
    with worker_process(deployment, logs, "a") as a, worker_process(deployment, logs, "b") as b:
        chat_id = await new_chat(http)
        job_id = await send(http, chat_id, "페트병 어떻게 버려요?")
        await first(http, job_id, "delta")
        victim = await running([a, b], job_id)
        redis_server.pause()
        try:
            await until(lambda: len(sqlite_rows(deployment, chat_id)) == 2, "the turn written")
            victim.stop(signal.SIGKILL)
        finally:
            redis_server.resume()
        written = one_pair(sqlite_rows(deployment, chat_id), job_id)
        events = await collect(http, job_id)
        rerun = runner_of([a, b], job_id, attempt=2)
    ends = terminal(events)
    assert [e.event for e in ends] == ["done"]
    assert len([e for e in events if e.event == "answer"]) == 1
    persistence = ends[0].data["data"]["persistence"]
    assert persistence["user_message"] == written["user"]
    assert persistence["assistant_message"] == written["assistant"]
    assert one_pair(sqlite_rows(deployment, chat_id), job_id) == written
    assert rerun is not victim and "conversation.turn_recorded_before" in rerun.text()


# --- b. Redis goes away while the turn is written --------------------------------------------


async def test_redis_lost_while_the_turn_is_written_loses_no_message(
    http: httpx.AsyncClient, deployment: Deployment, redis_server: PrivateRedis, logs: Path
) -> None:
    """Redis dies (SIGKILL, no persistence: every key gone) while the answer streams and comes
    back after the turn is in the store. The day's token count is on, so the turn's usage is
    counted in Redis on the way: that must not cost the turn."""
    deployment.env["APP_LIMITS__TOKENS_PER_DAY"] = "1000000"
    with worker_process(deployment, logs) as worker:
        chat_id = await new_chat(http)
        job_id = await send(http, chat_id, "페트병 어떻게 버려요?")
        await first(http, job_id, "delta")
        redis_server.stop()
        await until(lambda: len(sqlite_rows(deployment, chat_id)) == 2, "the turn written")
        redis_server.start()
        with redis_server.client() as raw:
            await until(lambda: bool(raw.hexists(keys.meta_key(job_id), "terminal")), "its end")
        stream = await stream_of(redis_server, job_id)
        detail = (await http.get(f"/api/v1/chat/{chat_id}")).json()
        log = worker.text()
    ends = [e for e in stream if e.type in TERMINAL]
    assert [e.type for e in ends] == ["done"]
    stored = one_pair(sqlite_rows(deployment, chat_id), job_id)
    assert ends[0].data["persistence"]["assistant_message"] == stored["assistant"]
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant"]
    assert (
        detail["messages"][1]["content"]
        == next(e for e in stream if e.type == "answer").data["text"]
    )
    assert "usage.settle_failed" in log  # the count was lost, the turn was not


async def test_an_ending_redis_could_not_take_is_published_from_the_store_once_it_is_back(
    http: httpx.AsyncClient, deployment: Deployment, redis_server: PrivateRedis, logs: Path
) -> None:
    """Redis stays away longer than the worker retries a turn's ending (`answer` and `done`
    are given up): the queue's finish step, once Redis is back, finds the turn recorded and
    ends it `done` from what the store holds, rather than `error` or nothing."""
    deployment.env["APP_WORKER__RETRY_DEADLINE"] = "1"
    with worker_process(deployment, logs) as worker:
        chat_id = await new_chat(http)
        job_id = await send(http, chat_id, "페트병 어떻게 버려요?")
        await first(http, job_id, "delta")
        redis_server.stop()
        await until(lambda: '"chat.completed"' in worker.text(), "the turn over, its end lost")
        redis_server.start()
        with redis_server.client() as raw:
            await until(lambda: bool(raw.hexists(keys.meta_key(job_id), "terminal")), "its end")
        stream = await stream_of(redis_server, job_id)
        detail = (await http.get(f"/api/v1/chat/{chat_id}")).json()
        log = worker.text()
    assert '"progress.publish_failed"' in log  # answer and done (one batch) were given up
    ends = [e for e in stream if e.type in TERMINAL]
    assert [e.type for e in ends] == ["done"]
    stored = one_pair(sqlite_rows(deployment, chat_id), job_id)
    assert ends[0].data["persistence"]["user_message"] == stored["user"]
    assert ends[0].data["persistence"]["assistant_message"] == stored["assistant"]
    answers = [e.data["text"] for e in stream if e.type == "answer"]
    assert answers == [detail["messages"][1]["content"]]
    assert '"chat.ended_by_worker"' in log


async def stream_of(server: PrivateRedis, job_id: str) -> list[ProgressEvent]:
    """The job's events as its Redis Stream holds them (the job's own keys, such as whom it
    belongs to, went with the Redis that died, so no client view can show them)."""
    from redis.asyncio import Redis

    client = Redis.from_url(server.url)
    try:
        return await read_events(client, job_id)
    finally:
        await client.aclose()


# --- c, d. PostgreSQL goes away (a proxy in front of it, cut by the test) ---------------------


@pytest.fixture
def postgres_proxy() -> Iterator[tuple[str, str, CuttableProxy]]:
    """(direct URL, URL through the proxy, the proxy) to a fresh schema with the tables made."""
    reason = postgres_reason()
    if reason is not None:
        pytest.skip(reason)
    with postgres_schema() as direct:
        asyncio.run(_migrate(direct))
        parts = urlsplit(direct)
        with cuttable_proxy(parts.port or 5432) as proxy:
            proxied = parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}").geturl()
            yield direct, proxied, proxy


async def _migrate(url: str) -> None:
    from contextlib import asynccontextmanager

    from pydantic import SecretStr

    from app.infrastructure.conversations.postgres_store import postgres_conversation_store

    settings = ConversationSettings(backend="postgres")
    opened = asynccontextmanager(postgres_conversation_store)
    async with opened(settings, PostgresSettings(url=SecretStr(url))) as store:
        await store.migrate()


def pg_messages(direct: str) -> list[tuple[str, str]]:
    with psycopg.connect(direct) as conn:
        rows = conn.execute("SELECT turn_key, role FROM eco2_messages ORDER BY seq").fetchall()
    return [(str(k), str(r)) for k, r in rows]


@pytest.fixture
async def pg_http(
    deployment: Deployment,
    postgres_proxy: tuple[str, str, CuttableProxy],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway whose conversation store is PostgreSQL through the proxy (workers too)."""
    _, proxied, _ = postgres_proxy
    deployment.env |= {
        "APP_CONVERSATIONS__BACKEND": "postgres",
        "POSTGRES_URL": proxied,
        "APP_CONVERSATIONS__TIMEOUT": "1",
    }
    with serve_gateway(deployment, monkeypatch, conversations={"backend": "postgres"}) as gateway:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
            yield client


async def test_postgres_down_at_send_is_a_503_and_nothing_is_queued_or_written(
    pg_http: httpx.AsyncClient,
    deployment: Deployment,
    postgres_proxy: tuple[str, str, CuttableProxy],
    redis_server: PrivateRedis,
    logs: Path,
) -> None:
    direct, _, proxy = postgres_proxy
    http = pg_http
    with worker_process(deployment, logs):
        chat_id = await new_chat(http)
        proxy.cut()
        try:
            sent = await http.post(
                f"/api/v1/chat/{chat_id}/messages", json={"message": "페트병 어떻게 버려요?"}
            )
            listed = await http.get("/api/v1/chat")
            detail = await http.get(f"/api/v1/chat/{chat_id}")
            with redis_server.client() as raw:
                queued = raw.zcard(deployment.queue)
                streams = raw.keys(keys.stream_key("*"))
        finally:
            proxy.restore()
        written_while_down = pg_messages(direct)
        job_id = await send_once_back(http, chat_id, "페트병 어떻게 버려요?")
        events = await collect(http, job_id)
        after = await http.get(f"/api/v1/chat/{chat_id}")
        listed_after = await http.get("/api/v1/chat")
    for response in (sent, listed, detail):
        assert response.status_code == 503, response.text
        assert response.json()["error"] == "store_down"
        assert float(response.headers["retry-after"]) > 0
    assert queued == 0 and streams == [] and written_while_down == []
    assert [e.event for e in terminal(events)] == ["done"]
    assert [m["role"] for m in after.json()["messages"]] == ["user", "assistant"]
    assert [c["id"] for c in listed_after.json()["chats"]] == [chat_id]
    assert sorted(pg_messages(direct)) == [(job_id, "assistant"), (job_id, "user")]


async def test_postgres_down_at_the_end_of_a_turn_ends_it_with_store_unavailable(
    pg_http: httpx.AsyncClient,
    deployment: Deployment,
    postgres_proxy: tuple[str, str, CuttableProxy],
    logs: Path,
) -> None:
    """The worker retries the write for `worker.retry_deadline` (the chat's retry policy), then
    ends the turn `error` (`store_unavailable`): no answer the history would not show, nothing
    half-written."""
    direct, _, proxy = postgres_proxy
    http = pg_http
    deployment.env["APP_WORKER__RETRY_DEADLINE"] = "3"
    with worker_process(deployment, logs) as worker:
        chat_id = await new_chat(http)
        job_id = await send(http, chat_id, "페트병 어떻게 버려요?")
        await first(http, job_id, "delta")
        proxy.cut()
        try:
            cut = time.monotonic()
            events = await collect(http, job_id)
            ended_after = time.monotonic() - cut
            written_while_down = pg_messages(direct)
        finally:
            proxy.restore()
        log = worker.text()
        gave_up = [line for line in log.splitlines() if '"outage.gave_up"' in line]
        again = await send_once_back(http, chat_id, "캔은요?")
        again_events = await collect(http, again)
    ends = terminal(events)
    assert [e.event for e in ends] == ["error"]
    assert ends[0].data["data"]["kind"] == "store_unavailable"
    assert not [e for e in events if e.event == "answer"]  # never told an answer
    assert written_while_down == []
    assert len(gave_up) == 1 and '"conversation.record"' in gave_up[0]
    assert [e.event for e in terminal(again_events)] == ["done"]
    assert sorted(pg_messages(direct)) == [(again, "assistant"), (again, "user")]
    print(f"store down at the end of a turn: error after {ended_after:.1f} s")


# --- e. the queue ends the turn itself --------------------------------------------------------


async def test_a_turn_the_queue_ends_after_its_tries_keeps_the_user_message(
    http: httpx.AsyncClient, deployment: Deployment, logs: Path
) -> None:
    deployment.env["APP_WORKER__MAX_TRIES"] = "1"
    with worker_process(deployment, logs, "a") as a, worker_process(deployment, logs, "b") as b:
        chat_id = await new_chat(http)
        job_id = await send(http, chat_id, "페트병 어떻게 버려요?")
        await first(http, job_id, "delta")
        (await running([a, b], job_id)).stop(signal.SIGKILL)
        events = await collect(http, job_id)
        detail = (await http.get(f"/api/v1/chat/{chat_id}")).json()
    _assert_user_message_only(deployment, chat_id, job_id, events, detail, "failed")


async def test_a_turn_that_times_out_keeps_the_user_message(
    http: httpx.AsyncClient, deployment: Deployment, logs: Path
) -> None:
    deployment.env["APP_WORKER__JOB_TIMEOUT"] = "2"  # the answer streams for longer
    with worker_process(deployment, logs):
        chat_id = await new_chat(http)
        job_id = await send(http, chat_id, "페트병 어떻게 버려요?")
        events = await collect(http, job_id)
        detail = (await http.get(f"/api/v1/chat/{chat_id}")).json()
    _assert_user_message_only(deployment, chat_id, job_id, events, detail, "timeout")


def _assert_user_message_only(
    deployment: Deployment,
    chat_id: str,
    job_id: str,
    events: list[SSEEvent],
    detail: dict[str, Any],
    kind: str,
) -> None:
    ends = terminal(events)
    assert [e.event for e in ends] == ["error"] and ends[0].data["data"]["kind"] == kind
    rows = sqlite_rows(deployment, chat_id)
    assert [(k, r) for k, r, _ in rows] == [(job_id, "user")]
    persistence = ends[0].data["data"]["persistence"]
    assert persistence["user_message"] == rows[0][2]
    assert persistence["assistant_message"] is None
    assert [m["role"] for m in detail["messages"]] == ["user"]
