"""Metrics, traces and LangSmith runs of real gateway and worker processes, read off the wire:
a Prometheus scrape, a loopback OTLP/HTTP receiver and a loopback LangSmith API."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import ask, serve_gateway
from tests.support.asgi_server import RunningServer, serve_in_thread
from tests.support.langsmith_wire import LangSmithWire
from tests.support.openai_wire import OpenAIWire, _usage, openai_env
from tests.support.otlp_wire import OtlpWire
from tests.support.redis_server import free_port
from tests.support.services import Deployment, worker_process
from tests.support.sse import sse_events

T = TypeVar("T")


@pytest.fixture
def llm() -> Iterator[tuple[RunningServer, OpenAIWire]]:
    wire = OpenAIWire()
    with serve_in_thread(wire) as server:
        yield server, wire


@pytest.fixture
def otlp() -> Iterator[tuple[RunningServer, OtlpWire]]:
    wire = OtlpWire()
    with serve_in_thread(wire) as server:
        yield server, wire


@pytest.fixture
def langsmith() -> Iterator[tuple[RunningServer, LangSmithWire]]:
    wire = LangSmithWire()
    with serve_in_thread(wire) as server:
        yield server, wire


@pytest.fixture
def deployment(
    llm: tuple[RunningServer, OpenAIWire],
    otlp: tuple[RunningServer, OtlpWire],
    langsmith: tuple[RunningServer, LangSmithWire],
) -> Deployment:
    return Deployment(
        env={
            **openai_env(llm[0].url),
            "APP_METRICS__WORKER_PORT": str(free_port()),
            "APP_TELEMETRY__ENABLED": "true",
            "APP_TELEMETRY__OTLP_ENDPOINT": f"{otlp[0].url}/v1/traces",
            "APP_TELEMETRY__EXPORT_DELAY_MS": "100",
            "LANGCHAIN_TRACING_V2": "true",
            "LANGSMITH_TRACING": "true",
            "LANGCHAIN_API_KEY": "lsv2_test_0123456789abcdef",
            "LANGSMITH_API_KEY": "lsv2_test_0123456789abcdef",
            "LANGCHAIN_ENDPOINT": langsmith[0].url,
            "LANGSMITH_ENDPOINT": langsmith[0].url,
        }
    )


@pytest.fixture
def gateway(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningServer]:
    # Queueing without a worker: the queue depth is seen before any worker takes a job.
    with serve_gateway(deployment, monkeypatch, gateway={"require_worker": False}) as server:
        yield server


async def until(check: Callable[[], Awaitable[T | None]], what: str, limit: float = 60) -> T:
    """Poll `check` until it gives a value (generous deadline: the machine may be loaded)."""
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        found = await check()
        if found is not None:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what}: not seen in {limit}s")
        await asyncio.sleep(0.1)


async def finished(http: httpx.AsyncClient, job: dict[str, Any]) -> str:
    async def read() -> str:
        async for event in sse_events(http, job["events_url"]):
            if event.event in ("done", "error"):
                return event.event
        raise AssertionError("the stream ended without a terminal event")

    return await asyncio.wait_for(read(), 60)


def samples(text: str, name: str, **labels: str) -> list[float]:
    return [
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    ]


def value(text: str, name: str, **labels: str) -> float:
    found = samples(text, name, **labels)
    assert len(found) == 1, f"{name}{labels}: {found}"
    return found[0]


async def scrape(url: str) -> str:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_metrics_count_chats_tokens_and_the_queue(
    http: httpx.AsyncClient,
    gateway: RunningServer,
    deployment: Deployment,
    llm: tuple[RunningServer, OpenAIWire],
    logs: Path,
) -> None:
    jobs = [await ask(http, f"페트병 어떻게 버려요? {n}") for n in range(3)]
    before = await scrape(f"{gateway.url}/metrics")
    assert value(before, "eco2_queue_depth") == 3  # nobody has taken them yet
    with worker_process(deployment, logs):
        assert [await finished(http, job) for job in jobs] == ["done"] * 3
        port = deployment.env["APP_METRICS__WORKER_PORT"]
        worker = await until(
            lambda: _scraped_when(f"http://127.0.0.1:{port}/metrics", "eco2_chats_total", 3),
            "three finished chats on the worker's /metrics",
        )
    after = await scrape(f"{gateway.url}/metrics")

    assert value(worker, "eco2_chats_total", outcome="done") == 3
    assert value(worker, "eco2_chat_duration_seconds_count", outcome="done") == 3
    assert value(worker, "eco2_job_pickup_delay_seconds_count") == 3
    assert value(worker, "eco2_queue_depth") == 0
    assert value(after, "eco2_queue_depth") == 0
    assert value(after, "eco2_sse_clients") == 0  # every stream above has ended
    # Tokens by provider and model: exactly what the provider reported, call by call.
    calls = [r["json"] for r in llm[1].script.requests if r["path"].endswith("/chat/completions")]
    model = calls[0]["model"]
    expected_in = sum(_usage(c, llm[1].answer(c))["prompt_tokens"] for c in calls)
    expected_out = sum(_usage(c, llm[1].answer(c))["completion_tokens"] for c in calls)
    labels = {"provider": "openai", "model": model}
    assert value(worker, "eco2_llm_tokens_total", **labels, kind="input") == expected_in
    assert value(worker, "eco2_llm_tokens_total", **labels, kind="output") == expected_out
    assert value(worker, "eco2_llm_calls_total", **labels, outcome="ok") == len(calls)
    assert value(worker, "eco2_http_pool_in_flight") == 0
    # The calls went over kept-alive connections of the shared pool, idle between chats.
    assert 1 <= value(worker, "eco2_http_pool_connections") <= len(calls)
    assert value(worker, "eco2_http_pool_idle_connections") == value(
        worker, "eco2_http_pool_connections"
    )
    assert value(worker, "eco2_http_pool_max_connections") > 0
    assert value(worker, "eco2_llm_breaker_state", provider="openai", state="closed") in (0, 1)


async def _scraped_when(url: str, name: str, total: float) -> str | None:
    text = await scrape(url)
    return text if sum(samples(text, name)) >= total else None


async def test_one_trace_from_the_post_to_the_model_call_and_in_the_logs(
    http: httpx.AsyncClient,
    deployment: Deployment,
    otlp: tuple[RunningServer, OtlpWire],
    logs: Path,
) -> None:
    receiver = otlp[1]
    with worker_process(deployment, logs) as worker:
        # A traced caller (or proxy) in front of the gateway: the chat joins its trace.
        caller_trace, caller_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
        response = await http.post(
            "/v1/chat",
            json={"message": "페트병 어떻게 버려요?"},
            headers={"traceparent": f"00-{caller_trace}-{caller_span}-01"},
        )
        assert response.status_code == 202, response.text
        assert await finished(http, response.json()) == "done"

        async def whole_trace() -> tuple[str, set[str]] | None:
            posts = [s for s in receiver.spans if s.name == "POST /v1/chat"]
            if not posts:
                return None
            names = {s.name for s in receiver.trace(posts[0].trace_id)}
            wanted = {"chat", "node intent", "node answer", "llm generate_stream", "HTTP POST"}
            return (posts[0].trace_id, names) if wanted <= names else None

        trace_id, names = await until(whole_trace, "the chat's spans at the OTLP receiver")
        log = worker.text()

    assert trace_id == caller_trace
    spans = receiver.trace(trace_id)
    services = {s.name: s.service for s in spans}
    assert services["POST /v1/chat"] == "eco2-chat-gateway"
    assert services["chat"] == services["node answer"] == "eco2-chat-worker"
    by_id = {s.span_id: s for s in spans}
    assert next(s for s in spans if s.name == "POST /v1/chat").parent_id == caller_span
    chat = next(s for s in spans if s.name == "chat")
    assert by_id[chat.parent_id].name == "POST /v1/chat"  # the job carried the context over
    answer_call = next(s for s in spans if s.name == "llm generate_stream")
    assert by_id[answer_call.parent_id].name == "node answer"
    assert answer_call.attributes["gen_ai.system"] == "openai"
    assert answer_call.attributes["gen_ai.usage.output_tokens"] > 0
    assert "node intent" in names
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    started = [line for line in lines if line.get("event") == "chat.started"]
    assert started and started[0]["trace_id"] == trace_id


async def langsmith_llm_runs(
    http: httpx.AsyncClient,
    deployment: Deployment,
    llm: tuple[RunningServer, OpenAIWire],
    langsmith: tuple[RunningServer, LangSmithWire],
    logs: Path,
) -> tuple[list[dict[str, Any]], int]:
    """One chat; then every ended `llm` run at the LangSmith server, and how many model calls
    the provider answered (waiting until there are as many runs as calls)."""
    server = langsmith[1]

    def calls() -> int:
        return sum(1 for r in llm[1].script.requests if r["path"].endswith("/chat/completions"))

    with worker_process(deployment, logs) as worker:
        job = await ask(http, "페트병 어떻게 버려요?")
        assert await finished(http, job) == "done"

        async def ended() -> list[dict[str, Any]] | None:
            runs = [r for r in server.llm_runs() if r.get("end_time")]
            return runs if runs and len(runs) >= calls() else None

        await until(ended, "an ended llm run per model call at the LangSmith server")
        # A stopped worker has sent every run it had: a duplicate would be here by now.
        assert worker.stop() == 0
    return [r for r in server.llm_runs() if r.get("end_time")], calls()


async def test_langsmith_receives_each_model_call_as_an_llm_run_with_tokens(
    http: httpx.AsyncClient,
    deployment: Deployment,
    llm: tuple[RunningServer, OpenAIWire],
    langsmith: tuple[RunningServer, LangSmithWire],
    logs: Path,
) -> None:
    runs, calls = await langsmith_llm_runs(http, deployment, llm, langsmith, logs)
    assert len(runs) == calls >= 2  # intent and answer: each call once, none missing

    for run in runs:
        usage = run["outputs"]["usage_metadata"]
        assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
        assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
        assert run["extra"]["metadata"]["ls_provider"] == "openai"
        assert run["inputs"]["messages"][-1]["role"] == "user"
    # Nested under the graph's own runs: the same trace as the node that made the call.
    server = langsmith[1]
    chains = {rid: r for rid, r in server.runs.items() if r.get("run_type") == "chain"}
    for run in runs:
        assert run.get("parent_run_id") in chains
        assert run.get("trace_id") == chains[run["parent_run_id"]].get("trace_id")


def test_ask_records_its_model_calls_as_llm_runs_too(
    deployment: Deployment,
    llm: tuple[RunningServer, OpenAIWire],
    langsmith: tuple[RunningServer, LangSmithWire],
) -> None:
    """`python -m app ask` runs the graph in its own process: its calls are traced the same."""
    env = {**os.environ, **deployment.settings_env(), "PYTHONUNBUFFERED": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "app", "ask", "--json", "페트병 어떻게 버려요?"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    calls = sum(1 for r in llm[1].script.requests if r["path"].endswith("/chat/completions"))
    # The process has ended: LangSmith's client flushed every run at exit.
    runs = [r for r in langsmith[1].llm_runs() if r.get("end_time")]
    assert len(runs) == calls >= 2
    assert all(r["outputs"]["usage_metadata"]["total_tokens"] > 0 for r in runs)


async def test_a_langchain_model_is_recorded_once_by_langchain_itself(
    http: httpx.AsyncClient,
    deployment: Deployment,
    llm: tuple[RunningServer, OpenAIWire],
    langsmith: tuple[RunningServer, LangSmithWire],
    logs: Path,
) -> None:
    kwargs = {
        "model": "gpt-4o-mini",
        "api_key": "sk-test-0123456789",
        "base_url": f"{llm[0].url}/v1",
        "max_retries": 0,
    }
    deployment.env.update(
        {
            "LLM_DEFAULT_PROVIDER": "langchain",
            "APP_LLM__LANGCHAIN__CLASS_PATH": "langchain_openai:ChatOpenAI",
            "APP_LLM__LANGCHAIN__KWARGS": json.dumps(kwargs),
        }
    )
    runs, calls = await langsmith_llm_runs(http, deployment, llm, langsmith, logs)
    assert len(runs) == calls >= 2  # LangChain's own run per call, not ours beside it
    assert all(r["name"] == "ChatOpenAI" for r in runs)


async def test_metrics_off_the_gateway_serves_no_scrape(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_gateway(deployment, monkeypatch, metrics={"enabled": False}) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            off = await client.get("/metrics")
            schema = (await client.get("/openapi.json")).json()
    assert off.status_code == 404
    assert "/metrics" not in schema["paths"]  # an operations endpoint, not part of the API
