"""Cancel, timeout, a worker killed mid-job, and SIGTERM, with a slow LLM on loopback."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ask
from tests.support.asgi_server import RunningServer, serve_in_thread
from tests.support.openai_wire import OpenAIWire, openai_env
from tests.support.services import Deployment, worker_process
from tests.support.sse import SSEEvent, sse_events
from tests.support.wire_script import Script


@pytest.fixture
def slow_llm() -> Iterator[tuple[RunningServer, Script]]:
    """An OpenAI-compatible server that takes its time over every call."""
    script = Script(delay=1.5)
    with serve_in_thread(OpenAIWire(script)) as server:
        yield server, script


@pytest.fixture
def deployment(slow_llm: tuple[RunningServer, Script]) -> Deployment:
    server, _ = slow_llm
    return Deployment(
        env={
            **openai_env(server.url),
            "APP_WORKER__JOB_TIMEOUT": "8",
        }
    )


async def until_terminal(http: httpx.AsyncClient, url: str, limit: float = 60) -> list[SSEEvent]:
    async def read() -> list[SSEEvent]:
        return [event async for event in sse_events(http, url)]

    return await asyncio.wait_for(read(), limit)


async def first_event(http: httpx.AsyncClient, url: str) -> SSEEvent:
    """The first event a worker wrote (`queued` is the gateway's own)."""
    async for event in sse_events(http, url):
        if event.event != "queued":
            return event
    raise AssertionError("stream ended without events")


async def test_cancel_ends_the_stream_with_one_terminal_event(
    http: httpx.AsyncClient, deployment: Deployment, logs: Path
) -> None:
    with worker_process(deployment, logs) as worker:
        job = await ask(http, "페트병 어떻게 버려요?")
        await asyncio.wait_for(first_event(http, job["events_url"]), 20)
        cancelled = await http.post(f"/v1/chat/{job['job_id']}/cancel?token={job['token']}")
        events = await until_terminal(http, job["events_url"])
        await asyncio.sleep(1)
        log = worker.text()
    assert cancelled.json() == {"job_id": job["job_id"], "cancelled": True}
    terminal = [e for e in events if e.event in ("done", "error")]
    assert len(terminal) == 1 and terminal[0].data["data"]["kind"] == "cancelled"
    assert "chat.cancelled" in log and "chat.completed" not in log


async def test_job_timeout_ends_with_an_error_event(
    http: httpx.AsyncClient, deployment: Deployment, logs: Path
) -> None:
    deployment.env["APP_WORKER__JOB_TIMEOUT"] = "1"
    with worker_process(deployment, logs):
        job = await ask(http, "페트병 어떻게 버려요?")
        events = await until_terminal(http, job["events_url"])
    assert events[-1].event == "error" and events[-1].data["data"]["kind"] == "timeout"
    assert sum(e.event in ("done", "error") for e in events) == 1


def _job_runner(workers: list, job_id: str) -> int:  # type: ignore[type-arg]
    for index, worker in enumerate(workers):
        for line in worker.text().splitlines():
            if "chat.started" in line and job_id in line:
                return index
    raise AssertionError("no worker started the job")


@pytest.mark.slow
async def test_two_workers_share_work_and_survive_a_kill(
    http: httpx.AsyncClient, deployment: Deployment, logs: Path
) -> None:
    deployment.env["APP_WORKER__JOB_TIMEOUT"] = "6"  # arq re-runs after job timeout + 10 s
    deployment.env["WORKER_CONCURRENCY"] = "1"  # so four jobs need both workers
    with worker_process(deployment, logs, "a") as a, worker_process(deployment, logs, "b") as b:
        jobs = [await ask(http, f"캔 어떻게 버려요? {i}") for i in range(4)]
        await asyncio.gather(*(until_terminal(http, j["events_url"]) for j in jobs))
        assert "chat.completed" in a.text() and "chat.completed" in b.text()

        job = await ask(http, "우산 어떻게 버려요?")
        await asyncio.wait_for(first_event(http, job["events_url"]), 20)
        await asyncio.sleep(0.5)
        workers = [a, b]
        victim = _job_runner(workers, job["job_id"])
        workers[victim].stop(signal.SIGKILL)
        events = await until_terminal(http, job["events_url"], limit=60)
        survivor = workers[1 - victim].text()
    terminal = [e for e in events if e.event in ("done", "error")]
    answers = [e for e in events if e.event == "answer"]
    assert [e.event for e in terminal] == ["done"] and len(answers) == 1
    assert any(e.data["stage"] == "attempt" for e in events if e.event == "stage")
    assert job["job_id"] in survivor and '"job_try": 2' in survivor


async def test_sigterm_lets_the_running_job_finish_and_closes_pools(
    http: httpx.AsyncClient, deployment: Deployment, logs: Path
) -> None:
    with worker_process(deployment, logs) as worker:
        job = await ask(http, "페트병 어떻게 버려요?")
        await asyncio.wait_for(first_event(http, job["events_url"]), 20)
        worker.process.send_signal(signal.SIGTERM)
        events = await until_terminal(http, job["events_url"])
        code = worker.process.wait(30)
        log = worker.text()
    assert events[-1].event == "done"
    assert code == 0
    for closed in ("worker.stopped", "http.client_closed", "redis.closed"):
        assert closed in log
