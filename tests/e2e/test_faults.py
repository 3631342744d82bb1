"""Faults with real processes on a Redis of the test's own: planted pickles, arq-level failures,
kill -9 (once and past max tries), a Redis restart mid-load, and many SSE readers.

Every test asserts outcomes (which events, how many terminal ones), never how fast they came:
the deadlines below are generous bounds for a loaded machine, not measurements.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import pickle
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings

from app.application.access.job_tokens import JobTokens
from app.domain.events import ProgressEvent
from app.domain.jobs import fold_events
from app.entrypoints.gateway.app import create_app
from app.infrastructure.redis_jobs import serialization
from app.settings import load_settings
from tests.e2e.conftest import ask
from tests.support.asgi_server import RunningServer, serve_in_thread
from tests.support.deadlines import PROCESS_SECONDS
from tests.support.openai_wire import OpenAIWire, openai_env
from tests.support.redis_server import PrivateRedis
from tests.support.services import Deployment, WorkerProcess, worker_process
from tests.support.sse import SSEEvent, sse_events
from tests.support.wire_script import Script

SECRET = b"test-secret-0123456789abcdef0123456789"
TERMINAL = ("done", "error")


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def slow_llm() -> Iterator[tuple[RunningServer, Script]]:
    """An OpenAI-compatible server that answers slowly and streams its answer slowly."""
    script = Script(delay=0.4, chunk_delay=0.15)
    with serve_in_thread(OpenAIWire(script)) as server:
        yield server, script


@pytest.fixture
def deployment(redis_server: PrivateRedis, slow_llm: tuple[RunningServer, Script]) -> Deployment:
    server, _ = slow_llm
    return Deployment(
        redis_url=redis_server.url,
        env={
            **openai_env(server.url),
            "APP_WORKER__LEASE_SECONDS": "3",
            "APP_WORKER__LOST_AFTER": "5",
            "WORKER_CONCURRENCY": "4",
        },
    )


def events_url(job_id: str) -> str:
    return f"/v1/chat/{job_id}/events?token={JobTokens(SECRET).sign(job_id)}"


async def collect(http: httpx.AsyncClient, url: str, limit: float = 90) -> list[SSEEvent]:
    async def read() -> list[SSEEvent]:
        return [event async for event in sse_events(http, url)]

    return await asyncio.wait_for(read(), limit)


def terminal(events: list[SSEEvent]) -> list[SSEEvent]:
    return [e for e in events if e.event in TERMINAL]


def as_progress(events: list[SSEEvent]) -> list[ProgressEvent]:
    return [ProgressEvent.model_validate({**e.data, "id": e.id}) for e in events]


async def arq_pool(redis_server: PrivateRedis, queue: str) -> ArqRedis:
    return await create_pool(
        RedisSettings.from_dsn(redis_server.url),
        job_serializer=serialization.dumps,
        job_deserializer=serialization.loads,
        default_queue_name=queue,
    )


class Exploit:
    """Unpickling this runs a shell command: what an attacker with Redis write access plants."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


async def test_a_planted_pickle_runs_nothing_and_the_chat_ends_with_an_error(
    http: httpx.AsyncClient,
    deployment: Deployment,
    redis_server: PrivateRedis,
    logs: Path,
    tmp_path: Path,
) -> None:
    marker = tmp_path / "owned"
    job_id = uuid.uuid4().hex
    now = int(time.time() * 1000)
    planted = {"t": 1, "f": "chat", "a": [Exploit(marker)], "k": {}, "et": now}
    with redis_server.client() as raw:
        raw.set(f"arq:job:{job_id}", pickle.dumps(planted))
        raw.zadd(deployment.queue, {job_id: now})
        with worker_process(deployment, logs) as worker:
            events = await collect(http, events_url(job_id))
            # One written over a finished job's result: the gateway never unpickles it.
            done = await ask(http, "캔 어떻게 버려요?")
            await collect(http, done["events_url"])
            raw.set(f"arq:result:{done['job_id']}", pickle.dumps(Exploit(marker)))
            status = await http.get(done["result_url"])
            log = worker.text()
    assert not marker.exists(), "a planted pickle ran code"
    assert [e.event for e in events] == ["error"]
    assert events[0].data["data"]["kind"] == "invalid_request"
    assert "deserializing job" in log and status.json()["state"] == "done"


async def test_arq_level_failures_each_end_with_one_error_event(
    http: httpx.AsyncClient, deployment: Deployment, redis_server: PrivateRedis, logs: Path
) -> None:
    pool = await arq_pool(redis_server, deployment.queue)
    request = {"message": "캔 어떻게 버려요?", "thread_id": "t-arq"}
    unknown, extra_args, garbage = (uuid.uuid4().hex for _ in range(3))
    try:
        with worker_process(deployment, logs):
            await pool.enqueue_job("no_such_function", request, _job_id=unknown)
            await pool.enqueue_job("chat", request, "surplus", _job_id=extra_args)
            await pool.set(f"arq:job:{garbage}", b"\x00not json at all")
            await pool.zadd(deployment.queue, {garbage: int(time.time() * 1000)})
            results = [
                await collect(http, events_url(job)) for job in (unknown, extra_args, garbage)
            ]
    finally:
        await pool.aclose()
    for events in results:
        ends = terminal(events)
        assert len(ends) == 1 and ends[0].event == "error", [e.event for e in events]
    kinds = [terminal(events)[0].data["data"]["kind"] for events in results]
    assert kinds == ["failed", "failed", "invalid_request"]


def _runner(workers: list[WorkerProcess], job_id: str, attempt: int, deadline: float = 60) -> int:
    """Which worker started this attempt of the job (from their logs)."""
    started = time.monotonic()
    while time.monotonic() - started < deadline:
        for index, worker in enumerate(workers):
            for line in worker.text().splitlines():
                if job_id in line and '"chat.started"' in line and f'"job_try": {attempt}' in line:
                    return index
        time.sleep(0.05)
    raise AssertionError(f"no worker started attempt {attempt} of {job_id}")


async def _first(http: httpx.AsyncClient, url: str, kind: str) -> SSEEvent:
    async for event in sse_events(http, url):
        if event.event == kind:
            return event
    raise AssertionError(f"the stream ended before a {kind} event")


async def test_a_killed_worker_s_chat_runs_again_within_the_lease_and_its_text_is_void(
    http: httpx.AsyncClient, deployment: Deployment, logs: Path
) -> None:
    # The default job timeout (300 s) would keep arq's own claim for 310 s.
    with worker_process(deployment, logs, "a") as a, worker_process(deployment, logs, "b") as b:
        job = await ask(http, "우산 어떻게 버려요?")
        await asyncio.wait_for(_first(http, job["events_url"], "delta"), 60)
        workers = [a, b]
        victim = _runner(workers, job["job_id"], attempt=1)
        workers[victim].stop(signal.SIGKILL)
        killed = time.monotonic()
        events = await collect(http, job["events_url"])
        rerun_after = time.monotonic() - killed
        status = (await http.get(job["result_url"])).json()
    ends = terminal(events)
    assert [e.event for e in ends] == ["done"] and len(
        [e for e in events if e.event == "answer"]
    ) == 1
    attempts = {e.data["attempt"] for e in events}
    assert attempts == {1, 2}
    folded = fold_events(job["job_id"], as_progress(events))
    second = "".join(
        e.data["data"]["text"] for e in events if e.event == "delta" and e.data["attempt"] == 2
    )
    answer = next(e for e in events if e.event == "answer").data["data"]["text"]
    assert folded.answer == answer == second == status["answer"]
    assert rerun_after < 120, f"re-run took {rerun_after:.0f} s"  # not the 310 s claim


# Four workers start in turn, each up to a minute on a busy machine.
@pytest.mark.timeout(4 * PROCESS_SECONDS)
async def test_a_chat_past_its_max_tries_ends_with_an_error(
    http: httpx.AsyncClient, deployment: Deployment, logs: Path
) -> None:
    job: dict[str, Any] | None = None
    for attempt in (1, 2, 3):  # max_tries is 3: each run dies with its worker
        with worker_process(deployment, logs, f"victim-{attempt}") as victim:
            if job is None:
                job = await ask(http, "페트병 어떻게 버려요?")
            _runner([victim], job["job_id"], attempt)
            victim.stop(signal.SIGKILL)
    assert job is not None
    with worker_process(deployment, logs, "last"):
        events = await collect(http, job["events_url"])
    ends = terminal(events)
    assert [e.event for e in ends] == ["error"] and ends[0].data["data"]["kind"] == "failed"


async def test_a_redis_restart_mid_load_ends_every_chat_and_the_worker_carries_on(
    http: httpx.AsyncClient, deployment: Deployment, redis_server: PrivateRedis, logs: Path
) -> None:
    with worker_process(deployment, logs) as worker:
        jobs = [await ask(http, f"유리병 어떻게 버려요? {i}") for i in range(8)]
        followers = [asyncio.create_task(collect(http, j["events_url"], 120)) for j in jobs]
        await asyncio.wait_for(_first(http, jobs[0]["events_url"], "delta"), 60)
        redis_server.stop()
        refused = await http.post("/v1/chat", json={"message": "캔 어떻게 버려요?"})
        status_down = await http.get(jobs[0]["result_url"])
        await asyncio.sleep(3)  # the outage (bench/faults.py holds it for 30 s)
        redis_server.start()
        results = await asyncio.gather(*followers)
        ready = await _ready(http)
        after = await ask(http, "캔 어떻게 버려요?")
        after_events = await collect(http, after["events_url"])
        alive = worker.process.poll() is None
    assert refused.status_code == 503 and refused.headers["retry-after"]
    assert refused.json()["error"] == "queue_down"
    assert status_down.status_code == 503
    for events in results:
        assert len(terminal(events)) == 1, [e.event for e in events]
    kinds = {terminal(events)[0].event for events in results}
    assert kinds <= {"done", "error"}
    assert alive and ready and terminal(after_events)[0].event == "done"


async def _ready(http: httpx.AsyncClient, deadline: float = 60) -> bool:
    started = time.monotonic()
    while time.monotonic() - started < deadline:
        if (await http.get("/readyz")).status_code == 200:
            return True
        await asyncio.sleep(0.2)
    return False


@pytest.mark.timeout(300)
async def test_hundreds_of_sse_readers_share_a_few_redis_connections(
    deployment: Deployment,
    redis_server: PrivateRedis,
    logs: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    readers, pool = 300, 8
    for name, value in deployment.settings_env().items():
        monkeypatch.setenv(name, value)
    overrides = deployment.settings_overrides()
    overrides["redis"] |= {"max_connections": pool}
    settings = load_settings(**overrides)
    limits = httpx.Limits(max_connections=readers + 50, max_keepalive_connections=readers + 50)
    with (
        serve_in_thread(create_app(settings)) as gateway,
        worker_process(
            deployment,
            logs,
            # offline answers: 300 chats one at a time in seconds, not minutes
            env={
                "WORKER_CONCURRENCY": "1",
                "LLM_DEFAULT_PROVIDER": "offline",
                "APP_REDIS__CLIENT_NAME": "eco2-worker",
            },
        ),
    ):
        async with httpx.AsyncClient(base_url=gateway.url, timeout=120, limits=limits) as client:
            # One busy worker: most chats wait, each reader holding an SSE stream meanwhile.
            jobs = [await ask(client, f"캔 어떻게 버려요? {i}") for i in range(readers)]
            followers = [asyncio.create_task(collect(client, j["events_url"], 300)) for j in jobs]
            await asyncio.sleep(2)
            with redis_server.client() as raw:
                gateway_side = [c for c in raw.client_list() if c.get("name") == "eco2-chat"]
            results = await asyncio.gather(*followers, return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    assert all(terminal(events)[0].event == "done" for events in results)  # type: ignore[arg-type]
    assert 1 <= len(gateway_side) <= pool  # 300 readers, at most `pool` connections


def _role(message: Any) -> str:
    role = message.get("role") if isinstance(message, dict) else getattr(message, "role", "")
    return str(getattr(role, "value", role))


async def _thread_history(sqlite: Path, thread: str) -> list[Any]:
    from app.containers import CliContainer
    from app.containers_core import resolve, running

    settings = load_settings(checkpoint={"backend": "sqlite", "sqlite_path": str(sqlite)})
    async with running(CliContainer(settings=settings)) as container:
        graph = await resolve(container.chat.graph)
        state = await graph.aget_state({"configurable": {"thread_id": thread}})
    return list(state.values.get("history", []))


async def test_turns_on_one_thread_run_one_at_a_time_in_order_and_none_is_lost(
    http: httpx.AsyncClient, deployment: Deployment, logs: Path, tmp_path: Path
) -> None:
    sqlite = tmp_path / "threads.sqlite"
    env = {"APP_CHECKPOINT__BACKEND": "sqlite", "APP_CHECKPOINT__SQLITE_PATH": str(sqlite)}
    with worker_process(deployment, logs, env=env):
        first = await ask(http, "페트병 어떻게 버려요?")  # the server issues the thread
        thread = first["thread_id"]
        rest = await asyncio.gather(
            *(ask(http, q, thread_id=thread) for q in ("캔은요?", "병은요?"))
        )
        jobs = [first, *rest]
        results = await asyncio.gather(*(collect(http, j["events_url"]) for j in jobs))
    turns = sorted(results, key=lambda events: events[0].data["data"]["ahead"])
    assert [t[0].data["data"]["ahead"] for t in turns] == [0, 1, 2]
    for earlier, later in itertools.pairwise(turns):
        ended = terminal(earlier)[0].data["ts"]
        began = next(e for e in later if e.event == "stage").data["ts"]
        assert began >= ended, "a turn started before the one ahead of it ended"
    assert all(terminal(t)[0].event == "done" for t in turns)
    history = await _thread_history(sqlite, thread)
    assert [_role(m) for m in history].count("user") == 3


async def test_reject_refuses_and_interrupt_replaces_a_running_turn(
    http: httpx.AsyncClient, deployment: Deployment, logs: Path
) -> None:
    with worker_process(deployment, logs):
        first = await ask(http, "소파 어떻게 버려요?")
        thread = first["thread_id"]
        refused = await http.post(
            "/v1/chat", json={"message": "냉장고는요?", "thread_id": thread, "if_busy": "reject"}
        )
        second = await ask(http, "냉장고는요?", thread_id=thread, if_busy="interrupt")
        first_events = await collect(http, first["events_url"])
        second_events = await collect(http, second["events_url"])
    assert refused.status_code == 409 and refused.json()["error"] == "thread_busy"
    assert refused.json()["running_job_id"] == first["job_id"]
    ended = terminal(first_events)
    assert [e.event for e in ended] == ["error"] and ended[0].data["data"]["kind"] == "interrupted"
    assert [e.event for e in terminal(second_events)] == ["done"]


# Planted junk (issue 20): data anything with write access to Redis can leave behind must not
# turn into a 5xx, block a thread, retry without end or read as the queue being down.


async def test_a_malformed_entry_in_a_chat_s_stream_is_skipped(
    http: httpx.AsyncClient, deployment: Deployment, redis_server: PrivateRedis, logs: Path
) -> None:
    with worker_process(deployment, logs), redis_server.client() as raw:
        job = await ask(http, "캔 어떻게 버려요?")
        stream = f"chat:{job['job_id']}:events"
        raw.xadd(stream, {"junk": "x"})  # while it is followed: the hub steps past it
        raw.xadd(stream, {"seq": "2", "job_id": "another", "type": "done", "ts": "1"})
        events = await collect(http, job["events_url"])
        raw.xadd(stream, {"seq": "nan", "type": "done"})
        status = await http.get(job["result_url"])
        again = await collect(http, job["events_url"])
    assert status.status_code == 200 and status.json()["state"] == "done"
    assert [e.event for e in terminal(events)] == ["done"]
    assert [e.event for e in terminal(again)] == ["done"] and len(again) == len(events)


async def test_keys_of_the_wrong_type_are_corrupt_data_not_an_outage(
    http: httpx.AsyncClient, deployment: Deployment, redis_server: PrivateRedis, logs: Path
) -> None:
    with worker_process(deployment, logs), redis_server.client() as raw:
        first = await ask(http, "캔 어떻게 버려요?")
        await collect(http, first["events_url"])
        thread = first["thread_id"]
        raw.delete(f"chat:{first['job_id']}:meta")
        raw.set(f"chat:{first['job_id']}:meta", "not a hash")
        status = await http.get(first["result_url"])
        raw.set(f"chat:thread:{thread}:turns", "not a list")
        second = await ask(http, "병은요?", thread_id=thread)
        second_events = await collect(http, second["events_url"])
        other = await ask(http, "종이는요?")
        raw.delete(f"chat:thread:{other['thread_id']}:owner")
        raw.hset(f"chat:thread:{other['thread_id']}:owner", "not", "a string")
        refused = await http.post(
            "/v1/chat", json={"message": "또요?", "thread_id": other["thread_id"]}
        )
    assert status.status_code == 200 and status.json()["state"] == "done"
    assert [e.event for e in terminal(second_events)] == ["done"]
    # Nobody owns a thread whose owner is unreadable: not found, not "the queue is down".
    assert refused.status_code == 404 and refused.json()["error"] == "thread_not_found"


async def test_unknown_job_ids_in_a_thread_s_turns_do_not_block_it(
    http: httpx.AsyncClient, deployment: Deployment, redis_server: PrivateRedis, logs: Path
) -> None:
    ghosts = [uuid.uuid4().hex for _ in range(3)]
    with worker_process(deployment, logs), redis_server.client() as raw:
        first = await ask(http, "캔 어떻게 버려요?")
        await collect(http, first["events_url"])
        raw.rpush(f"chat:thread:{first['thread_id']}:turns", *ghosts)
        blocked = await ask(http, "병은요?", thread_id=first["thread_id"])
        events = await collect(http, blocked["events_url"])
        ghost = await http.get(f"/v1/chat/{ghosts[0]}?token={JobTokens(SECRET).sign(ghosts[0])}")
    assert events[0].data["data"]["ahead"] == 3
    assert [e.event for e in terminal(events)] == ["done"]
    assert ghost.json()["state"] == "failed" and ghost.json()["error"]["kind"] == "lost"


async def test_a_job_whose_enqueue_time_is_not_a_number_ends_at_once(
    http: httpx.AsyncClient, deployment: Deployment, redis_server: PrivateRedis, logs: Path
) -> None:
    job_id = uuid.uuid4().hex
    planted = {"t": 1, "f": "chat", "a": [{"message": "캔?"}], "k": {}, "et": "soon"}
    with worker_process(deployment, logs), redis_server.client() as raw:
        raw.set(f"arq:job:{job_id}", serialization.dumps(planted))
        raw.zadd(deployment.queue, {job_id: int(time.time() * 1000)})
        events = await collect(http, events_url(job_id))
        left = raw.exists(f"arq:job:{job_id}", f"arq:in-progress:{job_id}", f"arq:retry:{job_id}")
        queued = raw.zscore(deployment.queue, job_id)
    assert [e.event for e in events] == ["error"]
    assert events[0].data["data"]["kind"] == "invalid_request"
    assert left == 0 and queued is None  # nothing left to run again


@pytest.mark.timeout(600)
async def test_a_redis_restart_that_loses_its_data_ends_every_follower_once(
    http: httpx.AsyncClient, deployment: Deployment, redis_server: PrivateRedis, logs: Path
) -> None:
    """Redis restarted empty under 40 chats (issue 20, finding 2). Half the followers stay
    connected; the other half had read their `queued` event, went away, and come back with
    Last-Event-ID after the restart (as a browser's EventSource does). Every one gets exactly
    one terminal event: `done` for the chats a worker was running (it carries on into a new
    stream), `lost` for the queued ones Redis forgot; none gets 404."""
    chats = 40
    with worker_process(deployment, logs):
        jobs = [await ask(http, f"유리병 어떻게 버려요? {i}") for i in range(chats)]
        staying, leaving = jobs[: chats // 2], jobs[chats // 2 :]
        followers = [asyncio.create_task(collect(http, j["events_url"], 300)) for j in staying]
        last_ids = [(await _first(http, j["events_url"], "queued")).id for j in leaving]
        await asyncio.wait_for(_first(http, jobs[0]["events_url"], "delta"), 60)
        redis_server.stop()
        redis_server.start()  # empty: no persistence
        statuses = [await http.get(j["result_url"]) for j in leaving]
        returning = [
            asyncio.create_task(_resume(http, j["events_url"], last))
            for j, last in zip(leaving, last_ids, strict=True)
        ]
        results = await asyncio.gather(*followers, *returning)
    assert [s.status_code for s in statuses] == [200] * len(leaving)
    ends = [terminal(events) for events in results]
    assert [len(e) for e in ends] == [1] * chats, [[x.event for x in e] for e in ends]
    kinds = [e[0].data["data"].get("kind", "done") if e[0].event == "error" else "done"
             for e in ends]  # fmt: skip
    assert set(kinds) <= {"done", "lost"} and kinds.count("lost") >= chats // 2
    print(f"\n40-chat restart: {kinds.count('done')} done, {kinds.count('lost')} lost")


async def _resume(http: httpx.AsyncClient, url: str, last: str | None) -> list[SSEEvent]:
    async def read() -> list[SSEEvent]:
        return [event async for event in sse_events(http, url, last_event_id=last)]

    return await asyncio.wait_for(read(), 300)


@pytest.mark.timeout(2 * PROCESS_SECONDS)
async def test_sigterm_while_redis_is_down_ends_the_worker(
    deployment: Deployment, redis_server: PrivateRedis, logs: Path
) -> None:
    """arq's close deleted its health key before the shutdown: with Redis down that raised,
    nothing was closed, and the checkpointer's SQLite thread kept the process alive for good
    (seen: 29 minutes, until killed). Every pool closes now, Redis or not."""
    with worker_process(deployment, logs) as worker:
        redis_server.stop()
        await asyncio.sleep(1)  # the worker meets the outage (or not: either way it must end)
        code = await asyncio.to_thread(worker.stop, signal.SIGTERM, PROCESS_SECONDS)
    assert code == 0, worker.text()[-2000:]
    assert "worker.stopped" in worker.text()
