"""Who may use the service, and how much, against a real gateway, worker, Redis and PostgreSQL:
API keys, thread ownership, rate limits, the queue cap, budgets and cost, expiring tokens."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from itsdangerous import TimestampSigner

from app.application.access.job_tokens import JobTokens
from tests.e2e.conftest import serve_gateway
from tests.support.asgi_server import RunningServer, serve_in_thread
from tests.support.deadlines import PROCESS_SECONDS
from tests.support.openai_wire import OpenAIWire, openai_env
from tests.support.services import POSTGRES_URL, Deployment, require_postgres, worker_process
from tests.support.sse import sse_events
from tests.support.wire_script import Script


def keys_cli(*args: str, env: dict[str, str], cwd: Path) -> str:
    """`python -m app keys ...` as an operator runs it; returns what it printed."""
    result = subprocess.run(
        [sys.executable, "-m", "app", "keys", *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=PROCESS_SECONDS,
        check=True,
    )
    return result.stdout.strip()


async def events(http: httpx.AsyncClient, url: str) -> list[Any]:
    async def read() -> list[Any]:
        return [e async for e in sse_events(http, url)]

    return await asyncio.wait_for(read(), 90)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize("backend", ["file", "postgres"])
async def test_api_keys_gate_the_gateway_and_revoking_one_stops_it(
    deployment: Deployment,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    logs: Path,
    backend: str,
) -> None:
    if backend == "postgres":
        require_postgres()
    env = {
        "APP_AUTH__BACKEND": backend,
        "APP_AUTH__KEYS_FILE": str(tmp_path / "keys.json"),
        "POSTGRES_URL": POSTGRES_URL,
    }
    deployment.env.update(env)
    key = keys_cli(
        "create", f"alice-{uuid.uuid4().hex[:6]}", env=deployment.settings_env(), cwd=tmp_path
    )
    auth = {"allow_anonymous": False, "cache_seconds": 0}
    with (
        serve_gateway(deployment, monkeypatch, auth=auth) as gateway,
        worker_process(deployment, logs),
    ):
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
            anonymous = await http.post("/v1/chat", json={"message": "캔?"})
            forged = await http.post(
                "/v1/chat", json={"message": "캔?"}, headers=bearer(key[:-2] + "xx")
            )
            accepted = await http.post("/v1/chat", json={"message": "캔?"}, headers=bearer(key))
            by_header = await http.post(
                "/v1/chat", json={"message": "캔?"}, headers={"X-API-Key": key}
            )
            key_id = key.split("_")[1]
            assert key_id in keys_cli("list", env=deployment.settings_env(), cwd=tmp_path)
            keys_cli("revoke", key_id, env=deployment.settings_env(), cwd=tmp_path)
            revoked = await http.post("/v1/chat", json={"message": "캔?"}, headers=bearer(key))
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "unauthorized"
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert forged.status_code == 401
    assert accepted.status_code == 202 and by_header.status_code == 202
    assert revoked.status_code == 401
    if backend == "postgres":
        with psycopg.connect(POSTGRES_URL) as conn:
            stored = conn.execute(
                "SELECT secret_hash FROM eco2_api_keys WHERE key_id = %s", (key_id,)
            ).fetchone()
        assert stored is not None and key.split("_", 2)[2] not in stored[0]  # hashed
    else:
        assert key.split("_", 2)[2] not in (tmp_path / "keys.json").read_text()


async def test_threads_are_issued_by_the_server_and_owned_by_their_principal(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, logs: Path
) -> None:
    deployment.env["APP_AUTH__KEYS_FILE"] = str(tmp_path / "keys.json")
    alice = keys_cli("create", "alice", env=deployment.settings_env(), cwd=tmp_path)
    bob = keys_cli("create", "bob", env=deployment.settings_env(), cwd=tmp_path)
    with (
        serve_gateway(deployment, monkeypatch, auth={"allow_anonymous": False}) as gateway,
        worker_process(deployment, logs),
    ):
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
            first = await http.post("/v1/chat", json={"message": "페트병?"}, headers=bearer(alice))
            thread = first.json()["thread_id"]
            mine = {"message": "뚜껑은요?", "thread_id": thread}
            again = await http.post("/v1/chat", json=mine, headers=bearer(alice))
            stolen = await http.post("/v1/chat", json=mine, headers=bearer(bob))
            invented = {"message": "hi", "thread_id": "web-my-own-thread"}
            made_up = await http.post("/v1/chat", json=invented, headers=bearer(alice))
    assert first.status_code == 202 and thread.startswith("thr_")
    assert again.status_code == 202 and again.json()["thread_id"] == thread
    assert stolen.status_code == 404 and stolen.json()["error"] == "thread_not_found"
    assert made_up.status_code == 404


async def test_a_burst_from_one_principal_is_rate_limited_and_others_are_not(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, logs: Path
) -> None:
    deployment.env["APP_AUTH__KEYS_FILE"] = str(tmp_path / "keys.json")
    noisy = keys_cli("create", "noisy", env=deployment.settings_env(), cwd=tmp_path)
    quiet = keys_cli("create", "quiet", env=deployment.settings_env(), cwd=tmp_path)
    limits = {"requests_per_minute": 5}
    with (
        serve_gateway(deployment, monkeypatch, limits=limits) as gateway,
        worker_process(deployment, logs),
    ):
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
            burst = await asyncio.gather(
                *(
                    http.post("/v1/chat", json={"message": f"캔 {i}"}, headers=bearer(noisy))
                    for i in range(20)
                )
            )
            other = await http.post("/v1/chat", json={"message": "캔"}, headers=bearer(quiet))
    codes = sorted(r.status_code for r in burst)
    assert codes.count(202) == 5 and codes.count(429) == 15
    refused = next(r for r in burst if r.status_code == 429)
    assert (
        refused.json()["error"] == "rate_limited"
        and refused.json()["limit"] == "requests_per_minute"
    )
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert other.status_code == 202


async def test_the_queue_cap_answers_503_and_queues_nothing(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_gateway(
        deployment, monkeypatch, limits={"max_queue_depth": 3}, gateway={"require_worker": False}
    ) as gateway:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
            replies = [await http.post("/v1/chat", json={"message": f"캔 {i}"}) for i in range(5)]
    assert [r.status_code for r in replies] == [202, 202, 202, 503, 503]
    assert replies[3].json()["error"] == "queue_full" and replies[3].headers["retry-after"]


@pytest.fixture
def priced_llm() -> Iterator[tuple[RunningServer, Script]]:
    script = Script()
    with serve_in_thread(OpenAIWire(script)) as server:
        yield server, script


def priced_openai_env(server: RunningServer) -> dict[str, str]:
    return {
        **openai_env(server.url),
        "LLM_DEFAULT_MODEL": "gpt-4o-mini",  # priced in the table: 0.15 / 0.60 USD per 1M
    }


async def test_cost_is_reported_and_budgets_end_chats(
    deployment: Deployment,
    monkeypatch: pytest.MonkeyPatch,
    logs: Path,
    priced_llm: tuple[RunningServer, Script],
) -> None:
    server, _ = priced_llm
    deployment.env.update(priced_openai_env(server))
    with serve_gateway(deployment, monkeypatch) as gateway:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
            with worker_process(deployment, logs, "free"):
                job = (
                    await http.post("/v1/chat", json={"message": "페트병 어떻게 버려요?"})
                ).json()
                done = (await events(http, job["events_url"]))[-1]
                status = (await http.get(job["result_url"])).json()
            with worker_process(
                deployment, logs, "tight", env={"APP_BUDGET__CHAT_MAX_TOKENS": "5"}
            ):
                job = (
                    await http.post("/v1/chat", json={"message": "페트병 어떻게 버려요?"})
                ).json()
                over = (await events(http, job["events_url"]))[-1]
    usage = done.data["data"]["usage"]
    assert done.event == "done" and usage["cost_usd"] > 0 and usage["calls"] >= 2
    expected = (usage["prompt_tokens"] * 0.15 + usage["completion_tokens"] * 0.6) / 1e6
    assert abs(usage["cost_usd"] - expected) < 1e-6
    assert status["usage"]["cost_usd"] == usage["cost_usd"]
    assert over.event == "error" and over.data["data"]["kind"] == "budget_exceeded"
    assert over.data["data"]["limit"] == "tokens"


async def test_a_principal_s_day_runs_out_of_budget(
    deployment: Deployment,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    logs: Path,
    priced_llm: tuple[RunningServer, Script],
) -> None:
    server, _ = priced_llm
    deployment.env.update(priced_openai_env(server))
    deployment.env["APP_AUTH__KEYS_FILE"] = str(tmp_path / "keys.json")
    deployment.env["APP_BUDGET__PRINCIPAL_DAILY_COST_USD"] = "0.000001"  # one chat's worth
    spender = keys_cli(
        "create", f"spender-{uuid.uuid4().hex[:6]}", env=deployment.settings_env(), cwd=tmp_path
    )
    with serve_gateway(deployment, monkeypatch) as gateway, worker_process(deployment, logs):
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
            first = await http.post("/v1/chat", json={"message": "캔?"}, headers=bearer(spender))
            ended = (await events(http, first.json()["events_url"]))[-1]
            second = await http.post("/v1/chat", json={"message": "캔?"}, headers=bearer(spender))
    assert first.status_code == 202 and ended.event in ("done", "error")
    assert second.status_code == 429 and second.json()["error"] == "budget_exceeded"
    assert second.json()["limit"] == "daily_budget"


async def test_upstream_error_text_never_reaches_a_client(
    deployment: Deployment,
    monkeypatch: pytest.MonkeyPatch,
    logs: Path,
    priced_llm: tuple[RunningServer, Script],
) -> None:
    server, script = priced_llm
    deployment.env.update(priced_openai_env(server))
    echo = {"error": {"message": "Incorrect API key provided: sk-test-0123456789", "code": "x"}}
    script.fail(401, echo, times=10)
    with serve_gateway(deployment, monkeypatch) as gateway, worker_process(deployment, logs):
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
            job = (await http.post("/v1/chat", json={"message": "캔?"})).json()
            stream = await events(http, job["events_url"])
            status = (await http.get(job["result_url"])).text
    ended = stream[-1]
    assert ended.event == "error" and ended.data["data"]["kind"] == "misconfigured"
    client_visible = str([e.data for e in stream]) + status
    assert "sk-test-0123456789" not in client_visible and "Incorrect API key" not in client_visible


async def test_job_tokens_expire_and_old_secrets_still_verify(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = b"o" * 32, "n" * 32
    gateway = {"secret": new, "previous_secrets": [old.decode()], "token_ttl_seconds": 60,
               "require_worker": False}  # fmt: skip
    with serve_gateway(deployment, monkeypatch, gateway=gateway) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            job = (await http.post("/v1/chat", json={"message": "캔?"})).json()
            job_id = job["job_id"]
            with monkeypatch.context() as past:  # a token signed two minutes ago
                past.setattr(TimestampSigner, "get_timestamp", lambda _: int(time.time()) - 120)
                stale = JobTokens(new.encode()).sign(job_id)
            replies = {
                "fresh": await http.get(job["result_url"]),
                "old secret": await http.get(
                    f"/v1/chat/{job_id}?token={JobTokens(old).sign(job_id)}"
                ),
                "other secret": await http.get(
                    f"/v1/chat/{job_id}?token={JobTokens(b'x' * 32).sign(job_id)}"
                ),
                "expired": await http.get(f"/v1/chat/{job_id}?token={stale}"),
            }
    codes = {name: reply.status_code for name, reply in replies.items()}
    assert codes == {"fresh": 200, "old secret": 200, "other secret": 403, "expired": 403}


HOSTILE: list[tuple[str, bytes]] = [
    ("blank message", b'{"message": "   "}'),
    ("NUL in message", b'{"message": "a\\u0000b"}'),
    ("control character", b'{"message": "a\\u0007b"}'),
    ("lone surrogate", b'{"message": "\\ud800"}'),
    ("empty image_url", b'{"message": "hi", "image_url": ""}'),
    ("ftp image_url", b'{"message": "hi", "image_url": "ftp://example.com/a.png"}'),
    ("file image_url", b'{"message": "hi", "image_url": "file:///etc/passwd"}'),
    ("http image_url", b'{"message": "hi", "image_url": "http://example.com/a.png"}'),
    ("metadata service", b'{"message": "hi", "image_url": "https://169.254.169.254/latest"}'),
    ("loopback", b'{"message": "hi", "image_url": "https://127.0.0.1/a.png"}'),
    ("localhost", b'{"message": "hi", "image_url": "https://localhost/a.png"}'),
    ("private range", b'{"message": "hi", "image_url": "https://10.0.0.7/a.png"}'),
    ("credentials in URL", b'{"message": "hi", "image_url": "https://u:p@example.com/a.png"}'),
    ("bad data URL", b'{"message": "hi", "image_url": "data:text/html;base64,PGI+"}'),
    ("NaN latitude", b'{"message": "hi", "location": {"latitude": NaN, "longitude": 1}}'),
    ("huge latitude", b'{"message": "hi", "location": {"latitude": 1e999, "longitude": 1}}'),
    ("unknown field", b'{"message": "hi", "admin": true}'),
    ("not JSON", b"{message: hi"),
    ("wrong type", b'{"message": 42}'),
    ("thread id path", b'{"message": "hi", "thread_id": "../../etc"}'),
    ("bad if_busy", b'{"message": "hi", "if_busy": "always"}'),
    ("too long", b'{"message": "' + "가".encode() * 4001 + b'"}'),
]


async def test_hostile_requests_get_a_documented_4xx_and_store_nothing(
    http: httpx.AsyncClient, deployment: Deployment
) -> None:
    statuses = {}
    for name, body in HOSTILE:
        reply = await http.post(
            "/v1/chat", content=body, headers={"content-type": "application/json"}
        )
        statuses[name] = reply.status_code
        assert reply.headers["content-type"].startswith("application/json"), name
        assert reply.json()["error"], name
    assert all(400 <= code < 500 for code in statuses.values()), statuses
    assert set(statuses.values()) <= {413, 422}, statuses
    job = uuid.uuid4().hex
    token = JobTokens(b"test-secret-0123456789abcdef0123456789").sign(job)
    garbage = await http.get(
        f"/v1/chat/{job}/events?token={token}", headers={"Last-Event-ID": "garbage"}
    )
    assert garbage.status_code == 422 and garbage.json()["error"] == "invalid_request"
