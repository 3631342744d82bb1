"""Brief outages of Redis (stopped and restarted with its data) and of PostgreSQL (the
checkpointer, behind a proxy the test cuts) while chats run in a real worker process: every
chat waits the outage out and ends `done`, with exactly one terminal event, none re-run.

The model is held at a gate, so each outage begins while every chat is in flight and the
chats reach the steps that touch the store (settling usage, publishing the answer and the
ending, writing the checkpoint, the queue's finish step) during it: the conditions are
waited on, never timed. Each test states its figures (sent, done, one terminal, lost).
The full-size versions (40 chats, 3 s, 30 s and 20 s outages) are in bench/faults.py.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.infrastructure.redis_jobs.keys import arq_in_progress_key
from app.settings import load_settings
from tests.e2e.conftest import ask
from tests.support.asgi_server import RunningServer, serve_in_thread
from tests.support.conversation_stores import postgres_reason
from tests.support.openai_wire import OpenAIWire, openai_env
from tests.support.redis_server import PrivateRedis
from tests.support.services import POSTGRES_URL, Deployment, WorkerProcess, worker_process
from tests.support.sse import SSEEvent, sse_until_terminal
from tests.support.tcp_proxy import CuttableProxy, cuttable_proxy
from tests.support.wire_script import Script

CHATS = 6  # a size a 2-core CI machine under load runs in seconds
LEASE = 3  # seconds: an outage longer than this lets the running jobs' claims lapse


@dataclass
class Figures:
    """What an outage test states: chats sent, finished `done`, ending with exactly one
    terminal event, lost (no terminal event), and re-run (an attempt after the first)."""

    sent: int
    done: int
    one_terminal: int
    lost: int
    rerun: int

    @classmethod
    def of(cls, streams: list[list[SSEEvent]]) -> Figures:
        ends = [[e for e in events if e.event in ("done", "error")] for events in streams]
        return cls(
            sent=len(streams),
            done=sum(1 for e in ends if [x.event for x in e] == ["done"]),
            one_terminal=sum(1 for e in ends if len(e) == 1),
            lost=sum(1 for e in ends if not e),
            rerun=sum(1 for s in streams if any(e.data.get("attempt", 1) > 1 for e in s)),
        )

    def every_chat_done(self) -> bool:
        return self.done == self.one_terminal == self.sent and self.lost == self.rerun == 0


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def gated_llm() -> Iterator[tuple[RunningServer, threading.Event, Script]]:
    """An OpenAI-compatible server whose answers wait for the test to open the gate."""
    gate = threading.Event()
    script = Script(gate=gate)
    try:
        with serve_in_thread(OpenAIWire(script)) as server:
            yield server, gate, script
    finally:
        gate.set()


@pytest.fixture
def deployment(
    redis_server: PrivateRedis, gated_llm: tuple[RunningServer, threading.Event, Script]
) -> Deployment:
    server, _, _ = gated_llm
    return Deployment(
        redis_url=redis_server.url,
        env={
            **openai_env(server.url),
            "APP_LOGGING__LEVEL": "INFO",
            "APP_WORKER__LEASE_SECONDS": str(LEASE),
            "WORKER_CONCURRENCY": str(CHATS + 2),  # free slots: a lapsed claim could be re-run
            # The usage limiter is on: settling a chat's usage is a Redis step of its own.
            "APP_LIMITS__TOKENS_PER_DAY": "100000000",
        },
    )


async def until(condition: Callable[[], bool], what: str, deadline: float = 120) -> None:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > deadline:
            raise AssertionError(f"not within {deadline:.0f} s: {what}")
        await asyncio.sleep(0.1)


def met_the_outage(worker: WorkerProcess, jobs: list[dict[str, Any]], step: str = "") -> bool:
    """Every chat has met the outage at `step` (the retry policy says so once per step and
    chat), or ended (arq's ← or ! line: without the policy, the outage ends chats)."""
    met = set()
    for line in worker.text().splitlines():
        if '"outage.retrying"' in line and step in line:
            met.add(json.loads(line).get("job_id"))
        elif " ← " in line or " ! " in line:
            met.update(job["job_id"] for job in jobs if job["job_id"] in line)
    return all(job["job_id"] in met for job in jobs)


async def start_chats(
    http: httpx.AsyncClient, script: Script, prefix: str
) -> tuple[list[dict[str, Any]], list[asyncio.Task[list[SSEEvent]]]]:
    """CHATS chats, each held at the gate in its first model call (all in flight)."""
    jobs = [await ask(http, f"{prefix} {i}") for i in range(CHATS)]
    followers = [
        asyncio.create_task(asyncio.wait_for(sse_until_terminal(http, j["events_url"]), 240))
        for j in jobs
    ]
    await until(lambda: len(script.requests) >= CHATS, f"{CHATS} chats at the model")
    return jobs, followers


@pytest.mark.timeout(300)
async def test_a_redis_outage_with_the_data_kept_ends_every_chat_done(
    http: httpx.AsyncClient,
    deployment: Deployment,
    redis_server: PrivateRedis,
    gated_llm: tuple[RunningServer, threading.Event, Script],
    logs: Path,
) -> None:
    _, gate, script = gated_llm
    with worker_process(deployment, logs) as worker:
        jobs, followers = await start_chats(http, script, "유리병 어떻게 버려요?")
        redis_server.stop(keep_data=True)
        gate.set()  # the chats run on, and reach their Redis steps with Redis away
        await until(lambda: met_the_outage(worker, jobs), "every chat meeting the outage")
        redis_server.start()
        figures = Figures.of(await asyncio.gather(*followers))
        alive = worker.process.poll() is None
    assert figures.every_chat_done(), figures
    assert alive


@pytest.mark.timeout(300)
async def test_a_redis_outage_longer_than_the_lease_runs_no_chat_twice(
    http: httpx.AsyncClient,
    deployment: Deployment,
    redis_server: PrivateRedis,
    gated_llm: tuple[RunningServer, threading.Event, Script],
    logs: Path,
) -> None:
    _, gate, script = gated_llm
    with worker_process(deployment, logs) as worker:
        jobs, followers = await start_chats(http, script, "캔 어떻게 버려요?")
        redis_server.stop(keep_data=True)
        await asyncio.sleep(LEASE + 1)  # the outage: every claim lapses meanwhile
        redis_server.start()
        # The worker is back (it polls again) while every chat is still held at the gate.
        await until(lambda: '"worker.redis_back"' in worker.text(), "the worker back")
        with redis_server.client() as raw:
            held = [j for j in jobs if raw.exists(arq_in_progress_key(j["job_id"]))]
        gate.set()
        figures = Figures.of(await asyncio.gather(*followers))
        alive = worker.process.poll() is None
    assert alive  # a connection lost during arq's WATCH ended the worker once
    assert len(held) == CHATS  # claimed again by the worker that runs them
    assert figures.every_chat_done(), figures  # figures.rerun == 0: no attempt 2 anywhere


@pytest.fixture
def checkpoint_proxy() -> Iterator[CuttableProxy]:
    reason = postgres_reason()
    if reason is not None:
        pytest.skip(reason)
    upstream = int(POSTGRES_URL.rsplit(":", 1)[1].split("/", 1)[0])
    with cuttable_proxy(upstream) as proxy:
        yield proxy


async def _histories(threads: list[str]) -> dict[str, list[Any]]:
    """The threads' checkpointed memory, read straight from PostgreSQL."""
    from app.containers import CliContainer
    from app.containers_core import resolve, running

    settings = load_settings(
        checkpoint={"backend": "postgres"},
        postgres={"url": POSTGRES_URL},
        llm={"provider": "offline"},
    )
    histories = {}
    async with running(CliContainer(settings=settings)) as container:
        graph = await resolve(container.chat.graph)
        for thread in threads:
            state = await graph.aget_state({"configurable": {"thread_id": thread}})
            histories[thread] = list(state.values.get("history", []))
    return histories


def _role(message: Any) -> str:
    role = message.get("role") if isinstance(message, dict) else getattr(message, "role", "")
    return str(getattr(role, "value", role))


@pytest.mark.timeout(300)
async def test_a_postgres_outage_under_the_checkpointer_ends_every_chat_done(
    http: httpx.AsyncClient,
    deployment: Deployment,
    gated_llm: tuple[RunningServer, threading.Event, Script],
    checkpoint_proxy: CuttableProxy,
    logs: Path,
) -> None:
    _, gate, script = gated_llm
    env = {
        "APP_CHECKPOINT__BACKEND": "postgres",
        "POSTGRES_URL": checkpoint_proxy.url_for(POSTGRES_URL),
    }
    with worker_process(deployment, logs, env=env) as worker:
        jobs, followers = await start_chats(http, script, "페트병 어떻게 버려요?")
        checkpoint_proxy.cut()  # every pooled connection reset, connects refused
        gate.set()  # the chats end, and write their checkpoints with PostgreSQL away
        await until(
            lambda: met_the_outage(worker, jobs, "checkpoint.write"),
            "every chat meeting the outage as it writes its checkpoint",
        )
        checkpoint_proxy.restore()
        figures = Figures.of(await asyncio.gather(*followers))
        alive = worker.process.poll() is None
    assert figures.every_chat_done(), figures
    assert alive
    # Each thread's memory holds the turn once: written whole, once, after the outage.
    histories = await _histories([job["thread_id"] for job in jobs])
    for history in histories.values():
        assert [_role(m) for m in history].count("user") == 1, history
