"""The fault suite at full size: real worker processes, a Redis of its own, real faults.

    .venv/bin/python bench/faults.py [--chats 40] [--outage 30] [--readers 2000]
        [--short-outage 3] [--postgres-outage 20]

Prints one row per scenario: chats submitted, chats that finished (`done`), terminal events
(must equal chats: exactly one each), chats lost (no terminal event by the deadline), and the
scenario's own figure (re-run delay, outage length, connections held...). Every row must show
0 lost and terminal == chats, and an outage that keeps the data must let every chat finish;
the exit status is 1 when a row fails. The quick versions of these run in `make test`
(tests/e2e/test_faults.py, tests/e2e/test_outages.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pickle
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.application.access.job_tokens import JobTokens
from app.entrypoints.gateway.app import create_app
from app.infrastructure.redis_jobs.keys import arq_job_key
from app.settings import load_settings
from tests.support.asgi_server import serve_in_thread
from tests.support.cpu_load import cpu_hogs
from tests.support.openai_wire import OpenAIWire
from tests.support.redis_server import PrivateRedis
from tests.support.services import Deployment, WorkerProcess, worker_process
from tests.support.sse import sse_events, sse_until_terminal
from tests.support.wire_script import Script

SECRET = b"test-secret-0123456789abcdef0123456789"


@dataclass
class Row:
    scenario: str
    chats: int
    finished: int
    terminal: int
    lost: int
    figure: str
    every_chat_done: bool = False  # an outage that keeps the data: every chat must finish
    broken: str = ""  # a bound of the scenario's own that did not hold, if any

    @property
    def ok(self) -> bool:
        finished = self.finished == self.chats or not self.every_chat_done
        return self.lost == 0 and self.terminal == self.chats and finished and not self.broken


@dataclass
class Bench:
    deployment: Deployment
    redis: PrivateRedis
    http: httpx.AsyncClient
    logs: Path

    def worker(self, name: str, **env: str) -> Any:
        return worker_process(self.deployment, self.logs, name, env=env)

    async def ask(self, message: str, **extra: Any) -> dict[str, Any]:
        """Submit as a client would: a 503 (no worker seen alive on a busy machine) is tried
        again after its Retry-After, for up to a minute."""
        give_up = time.monotonic() + 60
        while True:
            response = await self.http.post("/v1/chat", json={"message": message, **extra})
            if response.status_code != 503 or time.monotonic() > give_up:
                response.raise_for_status()
                return dict(response.json())
            await asyncio.sleep(float(response.headers.get("retry-after", "1")))

    async def follow(self, url: str, limit: float = 600) -> list[Any]:
        async def read() -> list[Any]:
            return [event async for event in sse_events(self.http, url)]

        try:
            return await asyncio.wait_for(read(), limit)
        except TimeoutError:
            return []

    async def follow_resuming(self, url: str, limit: float = 600) -> list[Any]:
        """A follower that resumes a broken stream (the gateway loses Redis too)."""
        try:
            return await asyncio.wait_for(sse_until_terminal(self.http, url), limit)
        except TimeoutError:
            return []


def tally(scenario: str, streams: list[list[Any]], figure: str) -> Row:
    ends = [[e for e in events if e.event in ("done", "error")] for events in streams]
    return Row(
        scenario,
        chats=len(streams),
        finished=sum(1 for e in ends if e and e[0].event == "done"),
        terminal=sum(len(e) for e in ends),
        lost=sum(1 for e in ends if not e),
        figure=figure,
    )


@contextmanager
def slow_llm(delay: float = 0.3, chunk_delay: float = 0.05) -> Iterator[str]:
    with serve_in_thread(OpenAIWire(Script(delay=delay, chunk_delay=chunk_delay))) as server:
        yield f"{server.url}/v1"


@asynccontextmanager
async def bench(llm_url: str, **env: str) -> AsyncIterator[Bench]:
    # BENCH_FAULTS_LOGS=DIR keeps every scenario's worker and Redis logs (one folder each).
    keep = os.environ.get("BENCH_FAULTS_LOGS")
    kept = contextlib.nullcontext(tempfile.mkdtemp(dir=keep)) if keep else None
    with kept or tempfile.TemporaryDirectory() as folder:
        logs = Path(folder)
        redis = PrivateRedis(logs)
        redis.start()
        deployment = Deployment(
            redis_url=redis.url,
            env={
                "LLM_DEFAULT_PROVIDER": "openai",
                "OPENAI_API_KEY": "sk-test-0123456789",
                "APP_LLM__OPENAI__BASE_URL": llm_url,
                "APP_LLM__MAX_RETRIES": "0",
                "APP_LOGGING__LEVEL": "INFO",
                # Thousands of readers wait on queued chats: the queue cap is not under test.
                "APP_LIMITS__MAX_QUEUE_DEPTH": "100000",
                "WORKER_CONCURRENCY": "8",
                **env,
            },
        )
        saved = dict(os.environ)
        os.environ.update(deployment.settings_env())
        try:
            settings = load_settings(**deployment.settings_overrides(), logging={"level": "ERROR"})
            limits = httpx.Limits(max_connections=5000, max_keepalive_connections=5000)
            with serve_in_thread(create_app(settings)) as gateway:
                async with httpx.AsyncClient(
                    base_url=gateway.url, timeout=600, limits=limits
                ) as http:
                    yield Bench(deployment, redis, http, logs)
        finally:
            os.environ.clear()
            os.environ.update(saved)
            redis.stop()


def started_by(workers: list[WorkerProcess], job_id: str, attempt: int) -> int | None:
    for index, worker in enumerate(workers):
        for line in worker.text().splitlines():
            if job_id in line and '"chat.started"' in line and f'"job_try": {attempt}' in line:
                return index
    return None


async def wait_started(workers: list[WorkerProcess], job_id: str, attempt: int) -> int:
    for _ in range(1200):
        found = started_by(workers, job_id, attempt)
        if found is not None:
            return found
        await asyncio.sleep(0.05)
    raise RuntimeError(f"no worker started attempt {attempt} of {job_id}")


def attempt_started_at(events: list[Any]) -> float | None:
    return next(
        (e.data["ts"] for e in events if e.event == "stage" and e.data["attempt"] > 1), None
    )


async def kill_once(llm: str, chats: int) -> Row:
    async with bench(llm) as b:
        with b.worker("a") as a, b.worker("b") as c:
            jobs = [await b.ask(f"우산 어떻게 버려요? {i}") for i in range(chats)]
            readers = [asyncio.create_task(b.follow(j["events_url"])) for j in jobs]
            victim = [a, c][await wait_started([a, c], jobs[0]["job_id"], 1)]
            await asyncio.sleep(0.5)
            victim.stop(signal.SIGKILL)
            killed = time.time()
            streams = await asyncio.gather(*readers)
    delays = [t - killed for s in streams if (t := attempt_started_at(s)) is not None]
    worst = f"re-run after kill: max {max(delays):.1f} s ({len(delays)} re-runs)" if delays else ""
    return tally("kill -9 one of two workers mid-load", streams, worst)


async def kill_three_times(llm: str) -> Row:
    async with bench(llm, APP_WORKER__LEASE_SECONDS="3") as b:
        job: dict[str, Any] | None = None
        for attempt in (1, 2, 3):
            with b.worker(f"victim-{attempt}") as victim:
                job = job or await b.ask("페트병 어떻게 버려요?")
                await wait_started([victim], job["job_id"], attempt)
                victim.stop(signal.SIGKILL)
        assert job is not None
        with b.worker("last"):
            streams = [await b.follow(job["events_url"])]
    kind = next((e.data["data"]["kind"] for e in streams[0] if e.event == "error"), "-")
    return tally("kill -9 the same chat 3 times (max_tries 3)", streams, f"ended with {kind}")


async def sigterm(llm: str, chats: int) -> Row:
    async with bench(llm, APP_WORKER__SHUTDOWN_GRACE="30") as b:
        with b.worker("a") as a, b.worker("b"):
            jobs = [await b.ask(f"캔 어떻게 버려요? {i}") for i in range(chats)]
            readers = [asyncio.create_task(b.follow(j["events_url"])) for j in jobs]
            await asyncio.sleep(1.0)
            a.process.send_signal(signal.SIGTERM)
            code = a.process.wait(60)
            streams = await asyncio.gather(*readers)
    return tally("SIGTERM one of two workers mid-load", streams, f"drained, exit {code}")


async def redis_restart(llm: str, chats: int, outage: float) -> Row:
    async with bench(llm, APP_WORKER__LOST_AFTER="10") as b:
        with b.worker("a") as worker:
            jobs = [await b.ask(f"유리병 어떻게 버려요? {i}") for i in range(chats)]
            readers = [asyncio.create_task(b.follow(j["events_url"])) for j in jobs]
            await asyncio.sleep(1.0)
            b.redis.stop()
            refused = await b.http.post("/v1/chat", json={"message": "캔?"})
            await asyncio.sleep(outage)
            b.redis.start()
            streams = await asyncio.gather(*readers)
            alive = worker.process.poll() is None
            after = await b.follow((await _when_ready(b)).get("events_url", ""))
    row = tally(f"Redis restart mid-load ({outage:.0f} s outage)", streams, "")
    row.figure = (
        f"worker {'alive' if alive else 'DEAD'}; POST during outage {refused.status_code}; "
        f"next chat {'done' if after and after[-1].event == 'done' else 'FAILED'}"
    )
    return row


async def redis_restart_empty(llm: str, chats: int) -> Row:
    """Redis restarted empty (no persistence) under load: half the followers stay connected,
    half read `queued`, go away and come back with Last-Event-ID after the restart."""
    async with bench(llm, APP_WORKER__LOST_AFTER="10") as b:
        with b.worker("a"):
            jobs = [await b.ask(f"유리병 어떻게 버려요? {i}") for i in range(chats)]
            staying, leaving = jobs[: chats // 2], jobs[chats // 2 :]
            readers = [asyncio.create_task(b.follow(j["events_url"])) for j in staying]
            last_ids = [await _first_id(b, j["events_url"]) for j in leaving]
            await asyncio.sleep(1.0)
            b.redis.stop()
            b.redis.start()
            codes = [(await b.http.get(j["result_url"])).status_code for j in leaving]
            returning = [
                asyncio.create_task(_resume(b, j["events_url"], last))
                for j, last in zip(leaving, last_ids, strict=True)
            ]
            streams = await asyncio.gather(*readers, *returning)
    row = tally("Redis restarted empty mid-load, half reconnect", streams, "")
    kinds = [e.data["data"].get("kind") for s in streams for e in s if e.event == "error"]
    row.figure = (
        f"{kinds.count('lost')} ended lost, {row.finished} done; status on reconnect: "
        f"{sum(c == 200 for c in codes)}/{len(codes)} 200"
    )
    return row


async def _first_id(b: Bench, url: str) -> str | None:
    async for event in sse_events(b.http, url):
        return event.id
    return None


async def _resume(b: Bench, url: str, last: str | None, limit: float = 600) -> list[Any]:
    async def read() -> list[Any]:
        return [e async for e in sse_events(b.http, url, last_event_id=last)]

    try:
        return await asyncio.wait_for(read(), limit)
    except (TimeoutError, httpx.HTTPStatusError):
        return []


async def _when_ready(b: Bench, deadline: float = 120) -> dict[str, Any]:
    started = time.monotonic()
    while time.monotonic() - started < deadline:
        if (await b.http.get("/readyz")).status_code == 200:
            return await b.ask("캔 어떻게 버려요?")
        await asyncio.sleep(0.2)
    return {}


async def planted_pickle(llm: str) -> Row:
    async with bench(llm) as b:
        marker = b.logs / "owned"
        job_id = uuid.uuid4().hex
        now = int(time.time() * 1000)
        with b.redis.client() as raw:
            raw.set(arq_job_key(job_id), pickle.dumps(_Exploit(marker)))
            raw.zadd(b.deployment.queue, {job_id: now})
        with b.worker("a"):
            url = f"/v1/chat/{job_id}/events?token={JobTokens(SECRET).sign(job_id)}"
            streams = [await b.follow(url)]
        ran = marker.exists()
    return tally("planted pickle in arq:job", streams, "code ran!" if ran else "nothing ran")


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


async def malformed_jobs(llm: str) -> Row:
    from arq import create_pool
    from arq.connections import RedisSettings

    from app.infrastructure.redis_jobs import serialization

    async with bench(llm) as b:
        pool = await create_pool(
            RedisSettings.from_dsn(b.redis.url),
            job_serializer=serialization.dumps,
            default_queue_name=b.deployment.queue,
        )
        request = {"message": "캔", "thread_id": "t"}
        ids = [uuid.uuid4().hex for _ in range(4)]
        await pool.enqueue_job("no_such_function", request, _job_id=ids[0])
        await pool.enqueue_job("chat", request, "surplus", _job_id=ids[1])
        await pool.enqueue_job("chat", {"message": ""}, _job_id=ids[2])
        await pool.set(arq_job_key(ids[3]), b"\x00garbage")
        await pool.zadd(b.deployment.queue, {ids[3]: int(time.time() * 1000)})
        await pool.aclose()
        with b.worker("a"):
            tokens = JobTokens(SECRET)
            streams = [await b.follow(f"/v1/chat/{j}/events?token={tokens.sign(j)}") for j in ids]
    return tally("malformed jobs (function, args, payload, bytes)", streams, "")


async def goaway_under_load() -> Row:
    """The shared pool against a server that recycles connections, every core busy."""
    from app.containers import CliContainer
    from app.containers_core import resolve, running
    from tests.integration.test_shared_pool import DEFAULT_LIBRARY, RECYCLE_EVERY, all_providers
    from tests.support.asgi_server import TLSFiles
    from tests.support.providers_app import ProvidersApp

    with tempfile.TemporaryDirectory() as folder:
        tls = TLSFiles.create(Path(folder))
        with serve_in_thread(
            ProvidersApp(), tls=tls, keep_alive_max_requests=RECYCLE_EVERY
        ) as server:
            settings = all_providers(server.url, tls, DEFAULT_LIBRARY)
            async with running(CliContainer(settings=settings)) as container:
                llm = await resolve(container.chat.llm)
                with cpu_hogs(4):
                    results = await asyncio.gather(
                        *(llm.generate(f"q {i}") for i in range(2000)), return_exceptions=True
                    )
    lost = sum(isinstance(r, BaseException) for r in results)
    return Row(
        f"GOAWAY every {RECYCLE_EVERY} requests, 4 CPU hogs",
        2000,
        2000 - lost,
        2000 - lost,
        lost,
        "calls, not chats",
    )


async def sse_readers(readers: int, pool: int = 50) -> Row:
    """`readers` streams opened at once on a gateway of `pool` Redis connections (the
    default `redis.max_connections`): each must end with its terminal event, none refused
    (503) or broken, the pool never exceeded."""
    async with bench("http://127.0.0.1:9/v1", LLM_DEFAULT_PROVIDER="offline") as b:
        with b.worker("a", WORKER_CONCURRENCY="4", APP_REDIS__CLIENT_NAME="eco2-worker"):
            jobs = [await b.ask(f"캔 어떻게 버려요? {i}") for i in range(readers)]
            opened = time.monotonic()
            tasks = [asyncio.create_task(b.follow(j["events_url"])) for j in jobs]
            spread = time.monotonic() - opened
            seen: list[int] = []
            sampler = asyncio.create_task(_sample_connections(b.redis, seen))
            results = await asyncio.gather(*tasks, return_exceptions=True)
            sampler.cancel()
    most = max(seen, default=0)
    errors = [r for r in results if isinstance(r, BaseException)]
    streams = [r for r in results if not isinstance(r, BaseException)]
    row = tally(f"{readers} SSE readers at once", streams + [[] for _ in errors], "")
    kinds = sorted({type(e).__name__ for e in errors})
    row.figure = (
        f"opened in {spread:.2f} s; gateway held at most {most} Redis connections; "
        f"{len(errors)} errors{' ' + str(kinds) if kinds else ''}"
    )
    row.broken = f"more than {pool} connections" if most > pool else ""
    return row


async def _sample_connections(redis: PrivateRedis, seen: list[int]) -> None:
    """The connections the gateway holds, every quarter second until cancelled."""
    while True:
        with redis.client() as raw:
            seen.append(sum(1 for c in raw.client_list() if c.get("name") == "eco2-chat"))
        await asyncio.sleep(0.25)


async def first_delta(b: Bench, job: dict[str, Any], limit: float = 120) -> None:
    """Wait until the chat streams its answer: chats are running, not queued."""

    async def read() -> None:
        async for event in sse_events(b.http, job["events_url"]):
            if event.event in ("delta", "done", "error"):
                return

    await asyncio.wait_for(read(), limit)


def reruns(streams: list[list[Any]]) -> int:
    return sum(1 for events in streams if any(e.data.get("attempt", 1) > 1 for e in events))


async def redis_outage(llm: str, chats: int, outage: float) -> Row:
    """Redis stopped and started again with its data (persistence, a failover, a partition)."""
    async with bench(llm) as b:
        with b.worker("a") as worker:
            jobs = [await b.ask(f"유리병 어떻게 버려요? {i}") for i in range(chats)]
            readers = [asyncio.create_task(b.follow_resuming(j["events_url"])) for j in jobs]
            await first_delta(b, jobs[0])
            b.redis.stop(keep_data=True)
            await asyncio.sleep(outage)
            b.redis.start()
            streams = await asyncio.gather(*readers)
            alive = worker.process.poll() is None
    row = tally(f"Redis down {outage:.0f} s mid-load, data kept", streams, "")
    row.figure = f"worker {'alive' if alive else 'DEAD'}; {reruns(streams)} chats re-run"
    row.every_chat_done = True
    return row


async def postgres_outage(llm: str, chats: int, outage: float) -> Row:
    """The checkpointer's PostgreSQL unreachable (connections reset, connects refused)."""
    from tests.support.services import POSTGRES_URL
    from tests.support.tcp_proxy import cuttable_proxy

    upstream = int(POSTGRES_URL.rsplit(":", 1)[1].split("/", 1)[0])
    with cuttable_proxy(upstream) as proxy:
        env = {"APP_CHECKPOINT__BACKEND": "postgres", "POSTGRES_URL": proxy.url_for(POSTGRES_URL)}
        async with bench(llm, **env) as b:
            with b.worker("a") as worker:
                jobs = [await b.ask(f"페트병 어떻게 버려요? {i}") for i in range(chats)]
                readers = [asyncio.create_task(b.follow_resuming(j["events_url"])) for j in jobs]
                await first_delta(b, jobs[0])
                proxy.cut()
                await asyncio.sleep(outage)
                proxy.restore()
                streams = await asyncio.gather(*readers)
                alive = worker.process.poll() is None
    row = tally(f"PostgreSQL (checkpointer) down {outage:.0f} s mid-load", streams, "")
    row.figure = f"worker {'alive' if alive else 'DEAD'}; {reruns(streams)} chats re-run"
    row.every_chat_done = True
    return row


def show(rows: list[Row]) -> bool:
    header = f"{'scenario':<50} {'chats':>6} {'finished':>9} {'terminal':>9} {'lost':>5}  figure"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r.scenario:<50} {r.chats:>6} {r.finished:>9} {r.terminal:>9} {r.lost:>5}  {r.figure}"
        )
    failed = [r.scenario + (f" ({r.broken})" if r.broken else "") for r in rows if not r.ok]
    print("\nevery row: 0 lost, one terminal event per chat" if not failed else "\nFAILED:")
    for scenario in failed:
        print(f"  {scenario}")
    return not failed


SCENARIOS = (
    "kill_once kill_three_times sigterm redis_restart redis_restart_empty redis_outage_short "
    "redis_outage_long postgres_outage planted_pickle malformed_jobs goaway_under_load sse_readers"
).split()


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chats", type=int, default=40)
    parser.add_argument("--outage", type=float, default=30.0)
    parser.add_argument("--short-outage", type=float, default=3.0)
    parser.add_argument("--postgres-outage", type=float, default=20.0)
    parser.add_argument("--readers", type=int, default=2000)
    parser.add_argument("--only", nargs="*", choices=SCENARIOS, help="these scenarios only")
    args = parser.parse_args()
    rows: list[Row] = []
    with slow_llm() as llm:
        scenarios: dict[str, Callable[[], Any]] = {
            "kill_once": lambda: kill_once(llm, args.chats),
            "kill_three_times": lambda: kill_three_times(llm),
            "sigterm": lambda: sigterm(llm, args.chats),
            "redis_restart": lambda: redis_restart(llm, args.chats, args.outage),
            "redis_restart_empty": lambda: redis_restart_empty(llm, args.chats),
            "redis_outage_short": lambda: redis_outage(llm, args.chats, args.short_outage),
            "redis_outage_long": lambda: redis_outage(llm, args.chats, args.outage),
            "postgres_outage": lambda: postgres_outage(llm, args.chats, args.postgres_outage),
            "planted_pickle": lambda: planted_pickle(llm),
            "malformed_jobs": lambda: malformed_jobs(llm),
            "goaway_under_load": goaway_under_load,
            "sse_readers": lambda: sse_readers(args.readers),
        }
        for name in args.only or SCENARIOS:
            rows.append(await scenarios[name]())
            print(f"  … {rows[-1].scenario}", file=sys.stderr, flush=True)
    return 0 if show(rows) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
