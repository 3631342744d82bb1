"""What a chat costs, each figure beside its floor, in one run (`make bench`).

    .venv/bin/python bench/perf.py [--quick]

Real processes, each side on a Redis of its own that the bench starts (so INFO commandstats
counts one side's chats), PostgreSQL for its rows: our worker and gateway against the floors
in bench/floors/ — the fair floor (`fair.py`: arq, a LangGraph graph of our shape, SQLite,
the same SDK calls), a bare arq worker (context) and a 4-node LangGraph script (start-up).
Each pair is measured alternately, `--reps` times, and shown as a range; ratios are of
medians. The machine is small and noisy: read ratios, not absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis.asyncio as aioredis
from arq import create_pool
from arq.connections import RedisSettings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.containers import CliContainer  # noqa: E402
from app.containers_core import resolve, running  # noqa: E402
from app.containers_gateway import GatewayContainer  # noqa: E402
from app.domain.chat import ChatRequest  # noqa: E402
from app.infrastructure.redis_jobs import serialization  # noqa: E402
from app.infrastructure.redis_jobs.keys import (  # noqa: E402
    meta_key,
    queue_health_key,
    stream_key,
    worker_key,
)
from app.settings import load_settings  # noqa: E402
from tests.support.asgi_server import serve_in_thread  # noqa: E402
from tests.support.openai_wire import OpenAIWire  # noqa: E402
from tests.support.otlp_wire import OtlpWire  # noqa: E402
from tests.support.sse import sse_events  # noqa: E402
from tests.support.wire_script import Script  # noqa: E402

PYTHON = sys.executable
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
TICKS = os.sysconf("SC_CLK_TCK")
QUESTIONS = [
    "페트병 어떻게 버려요?",
    "건전지랑 페트병은 어떻게 버려?",
    "how do I throw away a broken umbrella?",
]


@dataclass
class Row:
    what: str
    ours: str
    floor: str
    ratio: str
    goal: str


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def env_for(queue: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "APP_WORKER__QUEUE_NAME": queue,
        "APP_LOGGING__LEVEL": "WARNING",
        "APP_LIMITS__REQUESTS_PER_MINUTE": "100000000",
        "APP_LIMITS__MAX_QUEUE_DEPTH": "100000",
        "APP_GATEWAY__SECRET": "b" * 32,
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


@contextmanager
def process(args: list[str], env: dict[str, str], ready: Callable[[int], bool]) -> Iterator[int]:
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300  # a busy machine starts Kiwi slowly
        while not ready(proc.pid):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{args} did not start")
            time.sleep(0.01)
        yield proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def key_exists(url: str, key: Callable[[int], str]) -> Callable[[int], bool]:
    """Whether the key the process (by pid) writes once it runs exists."""
    import redis

    client = redis.Redis.from_url(url)
    return lambda pid: bool(client.exists(key(pid)))


@contextmanager
def private_redis() -> Iterator[str]:
    """A Redis of its own (no disk): its INFO commandstats count one side's chats only."""
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        import redis

        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        client.close()
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def our_worker(url: str, queue: str, **extra: str) -> Iterator[int]:
    ready = key_exists(url, lambda pid: worker_key(queue, pid))
    env = env_for(queue, REDIS_URL=url, **extra)
    with process([PYTHON, "-m", "app", "worker"], env, ready) as pid:
        yield pid


@contextmanager
def floor_worker(
    url: str, queue: str, mode: str, llm: str = "", concurrency: int = 10, floor: str = "fair"
) -> Iterator[int]:
    """`fair`: bench/floors/fair.py (arq + the same-shape LangGraph graph + SQLite);
    `bare`: bench/floors/arq_noop.py (arq and the SDK calls only)."""
    script = ROOT / f"bench/floors/{'fair' if floor == 'fair' else 'arq_noop'}.py"
    args = [PYTHON, str(script), queue, mode, llm, str(concurrency)]
    ready = key_exists(url, lambda _: queue_health_key(queue))
    with process(args, env_for(queue, REDIS_URL=url), ready) as pid:
        yield pid


async def submit_ours(url: str, queue: str, count: int) -> list[str]:
    settings = load_settings(
        redis={"url": url},
        worker={"queue_name": queue},
        gateway={"require_worker": False},
        limits={"max_queue_depth": None},
    )
    async with running(GatewayContainer(settings=settings)) as container:
        jobs = await resolve(container.jobs.chat_jobs)
        tickets = [
            await jobs.submit(
                # A thread issued for the chat, as the gateway issues one: nothing to read.
                ChatRequest(
                    message=QUESTIONS[i % 3], thread_id=f"b-{uuid.uuid4().hex}", new_thread=True
                )
            )
            for i in range(count)
        ]
    return [t.job_id for t in tickets]


async def submit_floor(url: str, queue: str, count: int) -> list[str]:
    pool = await create_pool(
        RedisSettings.from_dsn(url), job_serializer=serialization.dumps, default_queue_name=queue
    )
    ids = [uuid.uuid4().hex for _ in range(count)]
    for i, job_id in enumerate(ids):
        payload = {"message": QUESTIONS[i % 3], "thread_id": f"b-{job_id}"}
        await pool.enqueue_job("chat", payload, _job_id=job_id)
    await pool.aclose()
    return ids


async def wait_all(url: str, ids: list[str], ours: bool) -> int:
    """Until every job has ended; how many commands the waiting sent (not the chats')."""
    client = aioredis.Redis.from_url(url)
    pending = set(ids)
    sent = 0
    deadline = time.monotonic() + 900
    while pending:
        if time.monotonic() > deadline:  # a side that fails its jobs must not hang the bench
            raise RuntimeError(f"{len(pending)} of {len(ids)} jobs did not end in 900 s")
        async with client.pipeline(transaction=False) as pipe:
            ordered = list(pending)
            for job_id in ordered:
                if ours:
                    pipe.hexists(meta_key(job_id), "terminal")
                else:  # the floor's last event is `done`
                    pipe.xrevrange(stream_key(job_id), count=1)
            found = await pipe.execute()
        sent += len(ordered)
        if ours:
            pending -= {j for j, done in zip(ordered, found, strict=True) if done}
        else:
            pending -= {
                j
                for j, last in zip(ordered, found, strict=True)
                if last and last[0][1].get(b"type") == b"done"
            }
        await asyncio.sleep(0.005)
    await client.aclose()
    return sent


@dataclass
class Batch:
    rate: float  # jobs/s
    cpu_ms: float  # worker CPU per job
    commands: float  # Redis commands per job (submitting and the worker's; not the waiting)
    by_command: dict[str, float]  # the same, per command (the waiting's included)


async def batch(
    url: str, pid: int, ours: bool, queue: str, count: int, *, one_by_one: bool = False
) -> Batch:
    """`count` jobs submitted at once (`one_by_one`: each once the one before has ended), on
    the side's own Redis."""
    client = aioredis.Redis.from_url(url)
    await client.config_resetstat()
    cpu0, started, waited = cpu_seconds(pid), time.perf_counter(), 0
    for size in [1] * count if one_by_one else [count]:
        ids = await (submit_ours(url, queue, size) if ours else submit_floor(url, queue, size))
        waited += await wait_all(url, ids, ours)
    wall = time.perf_counter() - started
    cpu = cpu_seconds(pid) - cpu0
    stats = await client.info("commandstats")
    await client.aclose()
    own = {"cmdstat_info", "cmdstat_config"}
    total = sum(int(v["calls"]) for k, v in stats.items() if k not in own) - waited
    by_command = {k[8:]: int(v["calls"]) / count for k, v in stats.items() if k not in own}
    return Batch(count / wall, cpu / count * 1000, total / count, by_command)


def span(values: list[float], fmt: str = "{:.1f}") -> str:
    return f"{fmt.format(min(values))}-{fmt.format(max(values))}"


def median(values: list[float]) -> float:
    return statistics.median(values)


BREAKDOWN: list[str] = []  # Redis commands per chat by name, printed under the table
LLM_ENV = {
    "LLM_DEFAULT_PROVIDER": "openai",
    "OPENAI_API_KEY": "sk-bench-0123456789",
    "APP_LLM__MAX_RETRIES": "0",
}


async def chat_rows(reps: int, jobs: int, mode: str) -> list[Row]:
    """Ours against the fair floor (and, for context, bare arq with the same calls), `mode`
    `llm` (two SDK calls to a loopback OpenAI server) or `offline`; alternately, `reps` times."""
    with contextlib.ExitStack() as stack:
        extra: dict[str, str] = {}
        llm = ""
        if mode == "llm":
            server = stack.enter_context(serve_in_thread(OpenAIWire(Script())))
            llm = f"{server.url}/v1"
            extra = {**LLM_ENV, "APP_LLM__OPENAI__BASE_URL": llm}
        urls = [stack.enter_context(private_redis()) for _ in range(3)]
        queues = [f"eco2:bench:{uuid.uuid4().hex[:6]}" for _ in range(3)]
        pids = [
            stack.enter_context(our_worker(urls[0], queues[0], **extra)),
            stack.enter_context(floor_worker(urls[1], queues[1], mode, llm)),
            stack.enter_context(
                floor_worker(
                    urls[2], queues[2], "noop" if mode == "offline" else mode, llm, floor="bare"
                )
            ),
        ]
        results: list[list[Batch]] = [[], [], []]
        for side in range(3):  # warm up
            await batch(urls[side], pids[side], side == 0, queues[side], 20)
        for _ in range(reps):
            for side in range(3):  # alternately, so drift hits each alike
                results[side].append(
                    await batch(urls[side], pids[side], side == 0, queues[side], jobs)
                )
    ours, fair, bare = results
    for name, side in (("ours", ours), ("fair floor", fair)):
        top = sorted(side[-1].by_command.items(), key=lambda kv: -kv[1])
        BREAKDOWN.append(f"{mode}, {name}: " + ", ".join(f"{k} {v:.1f}" for k, v in top))
    cpu = [[b.cpu_ms for b in side] for side in results]
    cmds = [[b.commands for b in side] for side in results]
    what = "chat with 2 LLM calls (instant loopback)" if mode == "llm" else "offline chat"
    goal_cpu = "≤ 1.10×" if mode == "llm" else "≤ 1.5×"
    return [
        Row(
            f"{what}: worker CPU ms/chat",
            span(cpu[0], "{:.1f}"),
            f"fair floor {span(cpu[1], '{:.1f}')} (bare arq: {span(cpu[2], '{:.1f}')})",
            f"{median(cpu[0]) / median(cpu[1]):.2f}×",
            goal_cpu,
        ),
        Row(
            f"{what}: Redis commands/chat (INFO commandstats)",
            span(cmds[0], "{:.0f}"),
            f"fair floor {span(cmds[1], '{:.0f}')} (bare arq: {span(cmds[2], '{:.0f}')})",
            f"{median(cmds[0]) / median(cmds[1]):.2f}×",
            "≤ 1.3×",
        ),
        Row(
            f"{what}: jobs/s",
            span([b.rate for b in ours], "{:.0f}"),
            f"fair floor {span([b.rate for b in fair], '{:.0f}')} "
            f"(bare arq: {span([b.rate for b in bare], '{:.0f}')})",
            f"{median([b.rate for b in ours]) / median([b.rate for b in fair]):.2f}×",
            "",
        ),
    ]


async def observability_rows(reps: int, jobs: int) -> list[Row]:
    """Worker CPU per chat with metrics, and with metrics and traces (exported over OTLP to a
    loopback receiver), against the same worker with both off: what observing a chat costs."""
    otlp = OtlpWire()
    with serve_in_thread(OpenAIWire(Script())) as server, serve_in_thread(otlp) as receiver:
        llm = {**LLM_ENV, "APP_LLM__OPENAI__BASE_URL": f"{server.url}/v1"}
        configs = {
            "off": {**llm, "APP_METRICS__ENABLED": "false"},
            "metrics": {**llm, "APP_METRICS__WORKER_PORT": str(free_port())},
            "metrics + OTLP traces": {
                **llm,
                "APP_METRICS__WORKER_PORT": str(free_port()),
                "APP_TELEMETRY__ENABLED": "true",
                "APP_TELEMETRY__OTLP_ENDPOINT": f"{receiver.url}/v1/traces",
            },
        }
        cpu: dict[str, list[float]] = {name: [] for name in configs}
        queues = {name: f"eco2:bench:{uuid.uuid4().hex[:6]}" for name in configs}
        with contextlib.ExitStack() as stack:
            url = stack.enter_context(private_redis())
            pids = {
                name: stack.enter_context(our_worker(url, queues[name], **env))
                for name, env in configs.items()
            }
            for name, pid in pids.items():
                await batch(url, pid, True, queues[name], 20)  # warm up
            for _ in range(reps):
                for name, pid in pids.items():  # alternately, so drift hits each alike
                    cpu[name].append((await batch(url, pid, True, queues[name], jobs)).cpu_ms)
    base = statistics.median(cpu["off"])
    rows = []
    for name in ("metrics", "metrics + OTLP traces"):
        extra = statistics.median(cpu[name]) - base
        rows.append(
            Row(
                f"chat with 2 LLM calls: worker CPU ms/chat, {name} on",
                span(cpu[name], "{:.2f}"),
                f"both off {span(cpu['off'], '{:.2f}')}",
                f"{extra:+.2f} ms ({extra / base:+.0%})",
                "≤ +10%" if name == "metrics" else f"≤ +25% ({len(otlp.spans)} spans received)",
            )
        )
    return rows


async def concurrent_rows(reps: int, chats: int) -> list[Row]:
    """`chats` chats at once, each LLM call answering after 200 ms: the batch's wall time."""
    with serve_in_thread(OpenAIWire(Script(delay=0.2))) as server, contextlib.ExitStack() as st:
        llm = f"{server.url}/v1"
        extra = {**LLM_ENV, "APP_LLM__OPENAI__BASE_URL": llm, "WORKER_CONCURRENCY": str(chats)}
        u1, u2 = st.enter_context(private_redis()), st.enter_context(private_redis())
        q1, q2 = f"eco2:bench:{uuid.uuid4().hex[:6]}", f"eco2:bench:{uuid.uuid4().hex[:6]}"
        o = st.enter_context(our_worker(u1, q1, **extra))
        f = st.enter_context(floor_worker(u2, q2, "llm", llm, chats))
        ours, floor = [], []
        await batch(u1, o, True, q1, 20)
        await batch(u2, f, False, q2, 20)
        for _ in range(reps):
            ours.append(chats / (await batch(u1, o, True, q1, chats)).rate)
            floor.append(chats / (await batch(u2, f, False, q2, chats)).rate)
    return [
        Row(
            f"{chats} concurrent chats, 200 ms per LLM call: batch s",
            span(ours, "{:.2f}"),
            f"fair floor {span(floor, '{:.2f}')}",
            f"{median(ours) / median(floor):.2f}×",
            "≤ 1.25×",
        )
    ]


async def one_at_a_time_rows(reps: int, chats: int) -> list[Row]:
    """A quiet hour: one chat at a time, each LLM call answering after 500 ms. A batch keeps
    the worker full, so what a worker does beside a running chat (polling its queue, renewing
    claims) shows only here. Worker CPU and Redis commands per chat (the bench's own wait for
    each chat's end not counted)."""
    with serve_in_thread(OpenAIWire(Script(delay=0.5))) as server, contextlib.ExitStack() as st:
        llm = f"{server.url}/v1"
        u1, u2 = st.enter_context(private_redis()), st.enter_context(private_redis())
        q1, q2 = f"eco2:bench:{uuid.uuid4().hex[:6]}", f"eco2:bench:{uuid.uuid4().hex[:6]}"
        o = st.enter_context(our_worker(u1, q1, **LLM_ENV, APP_LLM__OPENAI__BASE_URL=llm))
        f = st.enter_context(floor_worker(u2, q2, "llm", llm))
        await batch(u1, o, True, q1, 1)
        await batch(u2, f, False, q2, 1)
        ours: list[Batch] = []
        floor: list[Batch] = []
        for _ in range(reps):  # alternately
            ours.append(await batch(u1, o, True, q1, chats, one_by_one=True))
            floor.append(await batch(u2, f, False, q2, chats, one_by_one=True))
    cpu = [b.cpu_ms for b in ours], [b.cpu_ms for b in floor]
    commands = [b.commands for b in ours], [b.commands for b in floor]
    what = f"{chats} chats one after another, 2 LLM calls of 500 ms"
    return [
        Row(
            f"{what}: worker CPU ms a chat",
            span(cpu[0]),
            f"fair floor {span(cpu[1])}",
            f"{median(cpu[0]) / median(cpu[1]):.2f}×",
            "(no goal: the batches cannot see this)",
        ),
        Row(
            f"{what}: Redis commands a chat",
            span(commands[0], "{:.0f}"),
            f"fair floor {span(commands[1], '{:.0f}')}",
            f"{median(commands[0]) / median(commands[1]):.2f}×",
            "(no goal)",
        ),
    ]


async def first_event_latency(url: str, rate: float, seconds: float) -> tuple[list[float], int]:
    timings: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=2000, max_keepalive_connections=2000)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:

        async def one(i: int) -> None:
            nonlocal errors
            started = time.perf_counter()
            try:
                reply = await http.post("/v1/chat", json={"message": QUESTIONS[i % 3]})
                if reply.status_code != 202:
                    errors += 1
                    return
                async for _ in sse_events(http, reply.json()["events_url"]):
                    timings.append((time.perf_counter() - started) * 1000)
                    break
            except httpx.HTTPError:
                errors += 1

        tasks = []
        for i in range(int(rate * seconds)):
            tasks.append(asyncio.create_task(one(i)))
            await asyncio.sleep(1 / rate)
        await asyncio.gather(*tasks)
    return sorted(timings), errors


async def floor_latency(url: str, queue: str, samples: int) -> tuple[list[float], list[float]]:
    pool = await create_pool(
        RedisSettings.from_dsn(url), job_serializer=serialization.dumps, default_queue_name=queue
    )
    client = aioredis.Redis.from_url(url)
    arq_path, xadd_xread = [], []
    for i in range(samples):
        job = uuid.uuid4().hex
        started = time.perf_counter()
        await pool.enqueue_job("chat", {"message": "x"}, _job_id=job)
        await client.xread({stream_key(job): "0-0"}, block=5000)
        arq_path.append((time.perf_counter() - started) * 1000)
        key = f"bench:{uuid.uuid4().hex}"
        started = time.perf_counter()
        await client.xadd(key, {"i": i})
        await client.xread({key: "0-0"}, block=1000)
        xadd_xread.append((time.perf_counter() - started) * 1000)
        await client.delete(key)
    await pool.aclose()
    await client.aclose()
    return sorted(arq_path), sorted(xadd_xread)


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(len(values) * q))] if values else float("nan")


async def latency_rows(rates: list[float], seconds: float) -> list[Row]:
    queue = f"eco2:bench:{uuid.uuid4().hex[:6]}"
    port = free_port()
    rows = []
    with (
        private_redis() as url,
        our_worker(url, queue),
        process(
            [PYTHON, "-m", "app", "gateway"],
            env_for(queue, APP_GATEWAY__PORT=str(port), REDIS_URL=url),
            lambda _: http_ok(port),
        ),
    ):
        for rate in rates:
            timings, errors = await first_event_latency(f"http://127.0.0.1:{port}", rate, seconds)
            rows.append((rate, timings, errors))
    q2 = f"eco2:bench:{uuid.uuid4().hex[:6]}"
    with private_redis() as url, floor_worker(url, q2, "noop", floor="bare"):
        arq_path, xadd = await floor_latency(url, q2, 60)
    floor = (
        f"arq enqueue→job→XADD→XREAD {pct(arq_path, 0.5):.0f}/{pct(arq_path, 0.99):.0f} ms; "
        f"XADD→XREAD {pct(xadd, 0.5):.1f} ms"
    )
    return [
        Row(
            f"POST → first SSE event at {rate:.0f} chats/s for {seconds:.0f} s: p50/p99",
            f"{pct(t, 0.5):.1f}/{pct(t, 0.99):.1f} ms, {errors} errors",
            floor,
            "",
            "p99 ≤ 15 ms at 100/s, 0 errors" if rate >= 100 else "",
        )
        for rate, t, errors in rows
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_ok(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


async def storage_rows(turns: list[int]) -> list[Row]:
    sizes: dict[str, list[float]] = {"sqlite": [], "postgres": []}
    with tempfile.TemporaryDirectory() as folder:
        for backend in sizes:
            path = Path(folder) / "threads.sqlite"
            settings = load_settings(
                checkpoint={"backend": backend, "sqlite_path": str(path)},
                postgres={"url": POSTGRES_URL},
                logging={"level": "ERROR"},
            )
            thread = f"bench-{uuid.uuid4().hex[:8]}"
            async with running(CliContainer(settings=settings)) as container:
                container.notifier.override(None)
                service = await resolve(container.chat.service)
                done = 0
                for target in turns:
                    while done < target:
                        await service.run(
                            ChatRequest(message=QUESTIONS[done % 3], thread_id=thread)
                        )
                        done += 1
                    sizes[backend].append(await stored_bytes(backend, path, thread) / 2**20)
    return [
        Row(
            f"one thread of {'/'.join(map(str, turns))} turns: {backend} storage MiB",
            "/".join(f"{v:.2f}" for v in values),
            "linear (quadratic before: 22/77/290)",
            "",
            "400 turns ≤ 10 MiB",
        )
        for backend, values in sizes.items()
    ]


def sqlite_bytes(path: Path) -> float:
    import sqlite3

    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return float(path.stat().st_size)


async def stored_bytes(backend: str, path: Path, thread: str) -> float:
    if backend == "sqlite":
        return await asyncio.to_thread(sqlite_bytes, path)
    with psycopg.connect(POSTGRES_URL) as conn:
        total = 0.0
        for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes"):
            row = conn.execute(
                f"SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM {table} t WHERE thread_id = %s",
                (thread,),
            ).fetchone()
            total += float(row[0]) if row else 0.0
        return total


async def rss_rows(chats: int) -> list[Row]:
    rows = []
    for backend in ("sqlite", "postgres"):
        queue = f"eco2:bench:{uuid.uuid4().hex[:6]}"
        with tempfile.TemporaryDirectory() as folder:
            extra = {
                "APP_CHECKPOINT__BACKEND": backend,
                "APP_CHECKPOINT__SQLITE_PATH": str(Path(folder) / "c.sqlite"),
                "POSTGRES_URL": POSTGRES_URL,
            }
            with private_redis() as url, our_worker(url, queue, **extra) as pid:
                samples = [rss_mib(pid)]
                step = chats // 4
                for _ in range(4):
                    await wait_all(url, await submit_ours(url, queue, step), True)
                    samples.append(rss_mib(pid))
        rows.append(
            Row(
                f"worker RSS over {chats:,} chats ({backend}), MiB",
                " → ".join(f"{s:.0f}" for s in samples),
                "flat",
                f"+{samples[-1] - samples[1]:.0f} MiB after the first quarter",
                "flat",
            )
        )
    return rows


def child_cpu(args: list[str], **kwargs: Any) -> tuple[float, float]:
    """(wall s, CPU s) of a command run to its end."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{args} exited {proc.returncode}")
    return time.perf_counter() - started, usage.ru_utime + usage.ru_stime


def startup_rows(reps: int) -> list[Row]:
    """Launch → ready of our worker (CPU it spent until its first job could be taken) and the
    wall time of an offline `ask`, against a 4-node LangGraph script run to its end."""
    ready_cpu, ready_wall, ask, script_cpu, script_wall = [], [], [], [], []
    with private_redis() as url:
        for _ in range(reps):
            queue = f"eco2:bench:{uuid.uuid4().hex[:6]}"
            started = time.perf_counter()
            with our_worker(url, queue) as pid:
                ready_wall.append(time.perf_counter() - started)
                ready_cpu.append(cpu_seconds(pid))
            with tempfile.TemporaryDirectory() as folder:
                ask.append(
                    child_cpu(
                        [PYTHON, "-m", "app", "ask", QUESTIONS[0]],
                        cwd=folder,
                        env=env_for(queue, REDIS_URL=url),
                    )[0]
                )
            wall, cpu = child_cpu([PYTHON, str(ROOT / "bench/floors/langgraph_script.py")])
            script_wall.append(wall)
            script_cpu.append(cpu)
    return [
        Row(
            "worker launch → ready: CPU s (wall s)",
            f"{span(ready_cpu, '{:.2f}')} ({span(ready_wall, '{:.2f}')})",
            f"4-node LangGraph script {span(script_cpu, '{:.2f}')}",
            f"{median(ready_cpu) / median(script_cpu):.2f}×",
            "≤ 1.3×",
        ),
        Row(
            "`ask` offline, wall s",
            span(ask, "{:.2f}"),
            f"4-node LangGraph script {span(script_wall, '{:.2f}')}",
            f"{median(ask) / median(script_wall):.2f}×",
            "≤ 1.5×",
        ),
    ]


def memory_mib(pid: int) -> dict[str, float]:
    """Rss, Pss and USS (private clean + dirty) of a process, from /proc/PID/smaps_rollup."""
    found = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        found[name] = int(value.split()[0]) / 1024
    return {
        "rss": found["Rss"],
        "pss": found["Pss"],
        "uss": found["Private_Clean"] + found["Private_Dirty"],
    }


def worker_pids(url: str, queue: str) -> list[int]:
    import redis

    client = redis.Redis.from_url(url)
    try:
        return sorted(
            int(k.rsplit(b":", 1)[1]) for k in client.keys(worker_key(queue, 0)[:-1] + "*")
        )
    finally:
        client.close()


@contextmanager
def workers(url: str, count: int, forked: bool) -> Iterator[tuple[int | None, list[int]]]:
    """`count` worker processes of one queue, Kiwi on (the default): forked from one
    (`--processes`), or started apart; yields (the forking parent or None, the workers)."""
    queue = f"eco2:bench:{uuid.uuid4().hex[:6]}"
    base = free_port()
    commands = (
        [[PYTHON, "-m", "app", "worker", "--processes", str(count)]]
        if forked
        else [[PYTHON, "-m", "app", "worker"]] * count
    )
    with contextlib.ExitStack() as stack:
        parents = [
            stack.enter_context(
                process(
                    command,
                    env_for(queue, REDIS_URL=url, APP_METRICS__WORKER_PORT=str(base + i * count)),
                    lambda _: True,
                )
            )
            for i, command in enumerate(commands)
        ]
        deadline = time.monotonic() + 300
        while len(pids := worker_pids(url, queue)) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{count} workers did not start")
            time.sleep(0.05)
        time.sleep(1)  # past the first poll
        yield (parents[0] if forked else None), pids


def processes_rows() -> list[Row]:
    """What a second and a third worker process add, as processes forked after Kiwi is loaded
    (`worker --processes N`) and as workers started apart: memory (PSS and USS from
    smaps_rollup) and the CPU an added process spends until ready."""
    total: dict[tuple[bool, int], float] = {}
    child: dict[bool, dict[str, float]] = {}
    child_cpu: dict[bool, float] = {}
    with private_redis() as url:
        for forked in (False, True):
            for count in (2, 3):
                with workers(url, count, forked) as (parent, pids):
                    every = [*pids, *([parent] if parent else [])]
                    total[forked, count] = sum(memory_mib(pid)["pss"] for pid in every)
                    child[forked] = memory_mib(pids[-1])
                    child_cpu[forked] = cpu_seconds(pids[-1])
    added = {forked: total[forked, 3] - total[forked, 2] for forked in (False, True)}
    return [
        Row(
            "an added worker process, Kiwi on: total PSS 2 → 3 processes, MiB",
            f"forked {total[True, 2]:.0f} → {total[True, 3]:.0f} (+{added[True]:.0f})",
            f"apart {total[False, 2]:.0f} → {total[False, 3]:.0f} (+{added[False]:.0f})",
            f"{added[True] / added[False]:.2f}×",
            "≤ 200 MiB",
        ),
        Row(
            "one worker process's USS / PSS / RSS, MiB",
            "forked {uss:.0f} / {pss:.0f} / {rss:.0f}".format(**child[True]),
            "apart {uss:.0f} / {pss:.0f} / {rss:.0f}".format(**child[False]),
            f"{child[True]['uss'] / child[False]['uss']:.2f}× (USS)",
            "",
        ),
        Row(
            "an added worker process: CPU s until ready",
            f"forked {child_cpu[True]:.2f}",
            f"apart {child_cpu[False]:.2f}",
            f"{child_cpu[True] / child_cpu[False]:.2f}×",
            "",
        ),
    ]


def show(rows: list[Row]) -> None:
    widths = [max(len(getattr(r, f)) for r in rows) for f in ("what", "ours", "floor", "ratio")]
    header = ("what", "this project", "floor", "ratio", "goal")
    line = "  ".join(h.ljust(w) for h, w in zip(header, [*widths, 0], strict=True))
    print(line)
    print("-" * len(line))
    for r in rows:
        cells = (r.what, r.ours, r.floor, r.ratio)
        print("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + "  " + r.goal)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer jobs and repetitions")
    parser.add_argument(
        "--only", help="comma-separated sections: llm, offline, quiet, ..., startup, processes"
    )
    args = parser.parse_args()
    reps, jobs = (1, 100) if args.quick else (3, 250)
    sections: list[tuple[str, Any]] = [
        ("llm", lambda: chat_rows(reps, jobs, "llm")),
        ("offline", lambda: chat_rows(reps, jobs, "offline")),
        ("concurrency", lambda: concurrent_rows(reps, 200)),
        ("quiet", lambda: one_at_a_time_rows(reps, 4 if args.quick else 10)),
        ("observability", lambda: observability_rows(reps, jobs // 2)),
        ("latency", lambda: latency_rows([5, 20, 100], 5)),
        ("storage", lambda: storage_rows([100, 200, 400])),
        ("memory", lambda: rss_rows(2_000 if args.quick else 10_000)),
    ]
    wanted = set(args.only.split(",")) if args.only else None
    rows: list[Row] = []
    for name, section in sections:
        if wanted is None or name in wanted:
            print(f"  … {name}", file=sys.stderr, flush=True)
            rows.extend(await section())
    if wanted is None or "startup" in wanted:
        print("  … start-up", file=sys.stderr, flush=True)
        rows.extend(startup_rows(reps))
    if wanted is None or "processes" in wanted:
        print("  … processes", file=sys.stderr, flush=True)
        rows.extend(processes_rows())
    show(rows)
    if BREAKDOWN:
        print("\nRedis commands per chat by name (the last batch; the bench's waiting included):")
        print("\n".join(BREAKDOWN))


if __name__ == "__main__":
    asyncio.run(main())
