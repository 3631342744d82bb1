"""Gateway → Redis queue → a real worker process → SSE, as a browser would use it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
from arq import create_pool
from arq.connections import RedisSettings

from app.application.access.job_tokens import JobTokens
from app.infrastructure.redis_jobs import serialization
from tests.e2e.conftest import ask
from tests.support.services import Deployment, worker_process
from tests.support.sse import SSEEvent, sse_events


async def collect(http: httpx.AsyncClient, url: str, **kwargs: str) -> list[SSEEvent]:
    return [event async for event in sse_events(http, url, **kwargs)]


async def test_question_to_streamed_answer(
    http: httpx.AsyncClient, deployment: Deployment, logs: Path
) -> None:
    with worker_process(deployment, logs):
        job = await ask(http, "건전지랑 페트병은 어떻게 버려?")
        events = await asyncio.wait_for(collect(http, job["events_url"]), 30)
        status = (await http.get(job["result_url"])).json()
    kinds = [e.event for e in events]
    assert kinds[:2] == ["queued", "stage"] and kinds[-2:] == ["answer", "done"]
    stages = [(e.data["stage"], e.data["status"]) for e in events if e.event == "stage"]
    assert stages[0] == ("intent", "started") and ("answer", "completed") in stages
    deltas = "".join(e.data["data"]["text"] for e in events if e.event == "delta")
    answer = events[-2].data["data"]["text"]
    assert deltas == answer and "폐건전지" in answer and "라벨" in answer
    assert [e.data["seq"] for e in events] == list(range(1, len(events) + 1))
    assert status["state"] == "done" and status["terminal"] == "done"
    assert status["answer"] == answer  # the stream is the answer's one home
    assert status["usage"]["calls"] >= 1


async def test_reconnecting_with_last_event_id_loses_and_repeats_nothing(
    http: httpx.AsyncClient, deployment: Deployment, logs: Path
) -> None:
    with worker_process(deployment, logs):
        job = await ask(http, "우산 어떻게 버려요?")
        full = await asyncio.wait_for(collect(http, job["events_url"]), 30)
        first_part: list[SSEEvent] = []
        async for event in sse_events(http, job["events_url"]):
            first_part.append(event)
            if len(first_part) == 4:
                break  # the browser drops the connection here
        rest = await collect(http, job["events_url"], last_event_id=first_part[-1].id)
    assert [e.id for e in first_part + rest] == [e.id for e in full]


async def test_unknown_job_and_wrong_token(
    http: httpx.AsyncClient, deployment: Deployment, logs: Path
) -> None:
    signer = JobTokens(b"test-secret-0123456789abcdef0123456789")
    unknown = uuid.uuid4().hex
    response = await http.get(f"/v1/chat/{unknown}?token={signer.sign(unknown)}")
    assert response.status_code == 404
    not_an_id = await http.get("/v1/chat/..%2Fetc/events?token=x")
    assert not_an_id.status_code in (404, 422)
    with worker_process(deployment, logs):
        job = await ask(http, "캔 어떻게 버려?")
        other = await ask(http, "병 어떻게 버려?")
        wrong = await http.get(f"/v1/chat/{job['job_id']}/events?token={other['token']}")
        missing = await http.get(f"/v1/chat/{job['job_id']}")
        bearer = await http.get(
            f"/v1/chat/{job['job_id']}", headers={"Authorization": f"Bearer {job['token']}"}
        )
    assert wrong.status_code == 403 and missing.status_code == 403
    assert bearer.status_code == 200 and bearer.json()["state"] in ("queued", "running", "done")


async def test_bad_requests_are_refused_with_reasons(http: httpx.AsyncClient) -> None:
    empty = await http.post("/v1/chat", json={"message": ""})
    assert empty.status_code == 422
    long = await http.post("/v1/chat", json={"message": "가" * 4001})
    assert long.status_code == 422
    huge = await http.post(
        "/v1/chat",
        content=b"{" + b" " * 70_000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 413 and huge.headers["connection"] == "close"  # body unread
    extra = await http.post("/v1/chat", json={"message": "hi", "admin": True})
    assert extra.status_code == 422


async def test_a_malformed_job_fails_once_with_an_error_event(
    http: httpx.AsyncClient, deployment: Deployment, logs: Path
) -> None:
    arq = await create_pool(
        RedisSettings.from_dsn(deployment.redis_url),
        default_queue_name=deployment.queue,
        job_serializer=serialization.dumps,
        job_deserializer=serialization.loads,
    )
    job_id = uuid.uuid4().hex
    signer = JobTokens(b"test-secret-0123456789abcdef0123456789")
    try:
        with worker_process(deployment, logs) as worker:
            await arq.enqueue_job("chat", {"message": "", "thread_id": "t"}, _job_id=job_id)
            events = await asyncio.wait_for(
                collect(http, f"/v1/chat/{job_id}/events?token={signer.sign(job_id)}"), 30
            )
            await asyncio.sleep(0.5)
            log = worker.text()
    finally:
        await arq.aclose()
    assert [e.event for e in events] == ["error"]
    assert events[0].data["data"]["kind"] == "invalid_request"
    assert log.count("chat.invalid_payload") == 1  # no retry loop


async def test_health_and_readiness(
    http: httpx.AsyncClient, deployment: Deployment, logs: Path
) -> None:
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    not_ready = await http.get("/readyz")
    assert not_ready.status_code == 503 and not_ready.json()["workers"] == "none reporting"
    with worker_process(deployment, logs):
        ready = await http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["redis"] == "ok"


async def test_the_chat_page_and_openapi_are_served(http: httpx.AsyncClient) -> None:
    page = await http.get("/")
    assert page.status_code == 200 and "/static/chat.js" in page.text
    script = await http.get("/static/chat.js")
    assert script.status_code == 200 and "EventSource" in script.text
    spec = (await http.get("/openapi.json")).json()
    assert "/v1/chat/{job_id}/events" in spec["paths"]
    examples = spec["components"]["schemas"]["ChatSubmission"]["examples"]
    assert examples[0]["message"]


def test_arqs_health_probe_reads_our_worker_settings(deployment: Deployment, logs: Path) -> None:
    probe = [
        str(Path(sys.executable).with_name("arq")),
        "--check",
        "app.entrypoints.worker.WorkerSettings",
    ]
    env = {**os.environ, **deployment.settings_env()}
    before = subprocess.run(probe, env=env, capture_output=True, text=True, check=False)
    with worker_process(deployment, logs):
        during = subprocess.run(probe, env=env, capture_output=True, text=True, check=False)
    assert before.returncode == 1 and "Health check failed" in before.stdout + before.stderr
    assert during.returncode == 0, during.stdout + during.stderr


def test_gateway_command_serves_http(deployment: Deployment, unused_tcp_port: int) -> None:
    env = {**os.environ, **deployment.settings_env(), "APP_GATEWAY__PORT": str(unused_tcp_port)}
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "gateway"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                response = httpx.get(f"http://127.0.0.1:{unused_tcp_port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert response.json() == {"status": "ok"}
    finally:
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught
        assert process.wait(15) in (0, -signal.SIGTERM)
