"""What a chat costs, each figure beside its floor, in one run (`make bench`).

    .venv/bin/python bench/perf.py [--quick]

Real processes on this machine's Redis (and PostgreSQL for its rows): our worker and gateway,
and the floors in bench/floors/ (a bare arq worker, a 4-node LangGraph script). Each pair is
measured alternately, `--reps` times, and shown as a range; ratios are of medians. The
machine is small and noisy: read ratios, not absolute numbers.
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
        deadline = time.monotonic() + 60
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


def key_exists(key: Callable[[int], str]) -> Callable[[int], bool]:
    """Whether the key the process (by pid) writes once it runs exists."""
    import redis

    client = redis.Redis()
    return lambda pid: bool(client.exists(key(pid)))


@contextmanager
def our_worker(queue: str, **extra: str) -> Iterator[int]:
    ready = key_exists(lambda pid: worker_key(queue, pid))
    with process([PYTHON, "-m", "app", "worker"], env_for(queue, **extra), ready) as pid:
        yield pid


@contextmanager
def floor_worker(queue: str, mode: str, llm: str = "", concurrency: int = 10) -> Iterator[int]:
    args = [PYTHON, str(ROOT / "bench/floors/arq_noop.py"), queue, mode, llm, str(concurrency)]
    with process(args, env_for(queue), key_exists(lambda _: queue_health_key(queue))) as pid:
        yield pid


async def submit_ours(queue: str, count: int) -> list[str]:
    settings = load_settings(
        worker={"queue_name": queue},
        gateway={"require_worker": False},
        limits={"max_queue_depth": None},
    )
    async with running(GatewayContainer(settings=settings)) as container:
        jobs = await resolve(container.jobs.chat_jobs)
        tickets = [
            await jobs.submit(
                ChatRequest(message=QUESTIONS[i % 3], thread_id=f"b-{uuid.uuid4().hex}")
            )
            for i in range(count)
        ]
    return [t.job_id for t in tickets]


async def submit_floor(queue: str, count: int) -> list[str]:
    pool = await create_pool(
        RedisSettings(), job_serializer=serialization.dumps, default_queue_name=queue
    )
    ids = [uuid.uuid4().hex for _ in range(count)]
    for i, job_id in enumerate(ids):
        await pool.enqueue_job("chat", {"message": QUESTIONS[i % 3]}, _job_id=job_id)
    await pool.aclose()
    return ids


async def wait_all(ids: list[str], ours: bool) -> None:
    client = aioredis.Redis()
    pending = set(ids)
    while pending:
        async with client.pipeline(transaction=False) as pipe:
            ordered = list(pending)
            for job_id in ordered:
                if ours:
                    pipe.hexists(meta_key(job_id), "terminal")
                else:
                    pipe.exists(stream_key(job_id))
            found = await pipe.execute()
        pending -= {j for j, done in zip(ordered, found, strict=True) if done}
        await asyncio.sleep(0.005)
    await client.aclose()


async def batch(pid: int, ours: bool, queue: str, count: int) -> tuple[float, float]:
    """(jobs/s, worker CPU ms per job) for `count` jobs submitted at once."""
    cpu0, started = cpu_seconds(pid), time.perf_counter()
    ids = await (submit_ours(queue, count) if ours else submit_floor(queue, count))
    await wait_all(ids, ours)
    wall = time.perf_counter() - started
    return count / wall, (cpu_seconds(pid) - cpu0) / count * 1000


def span(values: list[float], fmt: str = "{:.1f}") -> str:
    return f"{fmt.format(min(values))}-{fmt.format(max(values))}"


async def throughput_rows(reps: int, jobs: int) -> list[Row]:
    ours_rate, ours_cpu, floor_rate, floor_cpu = [], [], [], []
    q1, q2 = f"eco2:bench:{uuid.uuid4().hex[:6]}", f"eco2:bench:{uuid.uuid4().hex[:6]}"
    with our_worker(q1) as ours, floor_worker(q2, "noop") as floor:
        await batch(ours, True, q1, 30)  # warm up
        await batch(floor, False, q2, 30)
        for _ in range(reps):
            rate, cpu = await batch(ours, True, q1, jobs)
            ours_rate.append(rate)
            ours_cpu.append(cpu)
            rate, cpu = await batch(floor, False, q2, jobs)
            floor_rate.append(rate)
            floor_cpu.append(cpu)
    return [
        Row(
            "offline chat: jobs/s (worker CPU ms/chat)",
            f"{span(ours_rate, '{:.0f}')} ({span(ours_cpu, '{:.2f}')})",
            f"bare arq no-op {span(floor_rate, '{:.0f}')} ({span(floor_cpu, '{:.2f}')})",
            f"CPU {statistics.median(ours_cpu):.2f} ms",
            "≤ 5 ms CPU",
        )
    ]


async def llm_rows(reps: int, jobs: int) -> list[Row]:
    script = Script()
    with serve_in_thread(OpenAIWire(script)) as server:
        llm = f"{server.url}/v1"
        extra = {
            "LLM_DEFAULT_PROVIDER": "openai",
            "OPENAI_API_KEY": "sk-bench-0123456789",
            "APP_LLM__OPENAI__BASE_URL": llm,
            "APP_LLM__MAX_RETRIES": "0",
        }
        ours_rate, floor_rate, ours_cpu, floor_cpu = [], [], [], []
        q1, q2 = f"eco2:bench:{uuid.uuid4().hex[:6]}", f"eco2:bench:{uuid.uuid4().hex[:6]}"
        with our_worker(q1, **extra) as ours, floor_worker(q2, "llm", llm) as floor:
            await batch(ours, True, q1, 20)
            await batch(floor, False, q2, 20)
            for _ in range(reps):
                rate, cpu = await batch(ours, True, q1, jobs)
                ours_rate.append(rate)
                ours_cpu.append(cpu)
                rate, cpu = await batch(floor, False, q2, jobs)
                floor_rate.append(rate)
                floor_cpu.append(cpu)
    ratio = statistics.median(ours_rate) / statistics.median(floor_rate)
    return [
        Row(
            "chat with 2 LLM calls (instant loopback): jobs/s (worker CPU ms/chat)",
            f"{span(ours_rate, '{:.0f}')} ({span(ours_cpu, '{:.1f}')})",
            f"bare arq + same 2 SDK calls {span(floor_rate, '{:.0f}')} "
            f"({span(floor_cpu, '{:.1f}')})",
            f"{ratio:.2f}",
            "≥ 0.8",
        )
    ]


async def observability_rows(reps: int, jobs: int) -> list[Row]:
    """Worker CPU per chat with metrics, and with metrics and traces (exported over OTLP to a
    loopback receiver), against the same worker with both off: what observing a chat costs."""
    otlp = OtlpWire()
    with serve_in_thread(OpenAIWire(Script())) as server, serve_in_thread(otlp) as receiver:
        llm = {
            "LLM_DEFAULT_PROVIDER": "openai",
            "OPENAI_API_KEY": "sk-bench-0123456789",
            "APP_LLM__OPENAI__BASE_URL": f"{server.url}/v1",
            "APP_LLM__MAX_RETRIES": "0",
        }
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
            pids = {
                name: stack.enter_context(our_worker(queues[name], **env))
                for name, env in configs.items()
            }
            for name, pid in pids.items():
                await batch(pid, True, queues[name], 20)  # warm up
            for _ in range(reps):
                for name, pid in pids.items():  # alternately, so drift hits each alike
                    cpu[name].append((await batch(pid, True, queues[name], jobs))[1])
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
    script = Script(delay=0.2)
    with serve_in_thread(OpenAIWire(script)) as server:
        llm = f"{server.url}/v1"
        extra = {
            "LLM_DEFAULT_PROVIDER": "openai",
            "OPENAI_API_KEY": "sk-bench-0123456789",
            "APP_LLM__OPENAI__BASE_URL": llm,
            "APP_LLM__MAX_RETRIES": "0",
            "WORKER_CONCURRENCY": str(chats),
        }
        ours, floor = [], []
        q1, q2 = f"eco2:bench:{uuid.uuid4().hex[:6]}", f"eco2:bench:{uuid.uuid4().hex[:6]}"
        with our_worker(q1, **extra) as o, floor_worker(q2, "llm", llm, chats) as f:
            for _ in range(reps):
                ours.append(chats / (await batch(o, True, q1, chats))[0])
                floor.append(chats / (await batch(f, False, q2, chats))[0])
    ratio = statistics.median(ours) / statistics.median(floor)
    return [
        Row(
            f"{chats} concurrent chats, 200 ms per LLM call: batch s",
            span(ours, "{:.2f}"),
            f"bare arq + same calls {span(floor, '{:.2f}')}",
            f"{ratio:.2f}",
            "≤ 1.25",
        )
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


async def floor_latency(queue: str, samples: int) -> tuple[list[float], list[float]]:
    pool = await create_pool(
        RedisSettings(), job_serializer=serialization.dumps, default_queue_name=queue
    )
    client = aioredis.Redis()
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
    gw_env = env_for(queue, APP_GATEWAY__PORT=str(port))
    rows = []
    with (
        our_worker(queue),
        process([PYTHON, "-m", "app", "gateway"], gw_env, lambda _: http_ok(port)),
    ):
        for rate in rates:
            timings, errors = await first_event_latency(f"http://127.0.0.1:{port}", rate, seconds)
            rows.append((rate, timings, errors))
    q2 = f"eco2:bench:{uuid.uuid4().hex[:6]}"
    with floor_worker(q2, "noop"):
        arq_path, xadd = await floor_latency(q2, 60)
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
            with our_worker(queue, **extra) as pid:
                samples = [rss_mib(pid)]
                step = chats // 4
                for _ in range(4):
                    await wait_all(await submit_ours(queue, step), True)
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


def startup_rows(reps: int) -> list[Row]:
    ours, floor, ask, script = [], [], [], []
    for _ in range(reps):
        queue = f"eco2:bench:{uuid.uuid4().hex[:6]}"
        started = time.perf_counter()
        with our_worker(queue):
            ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        with floor_worker(queue + "f", "noop"):
            floor.append(time.perf_counter() - started)
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            subprocess.run(
                [PYTHON, "-m", "app", "ask", QUESTIONS[0]],
                cwd=folder,
                capture_output=True,
                check=True,
            )
            ask.append(time.perf_counter() - started)
        started = time.perf_counter()
        subprocess.run(
            [PYTHON, str(ROOT / "bench/floors/langgraph_script.py")],
            capture_output=True,
            check=True,
        )
        script.append(time.perf_counter() - started)
    ready_ratio = statistics.median(ours) / statistics.median(floor)
    ask_ratio = statistics.median(ask) / statistics.median(script)
    return [
        Row(
            "worker launch → ready (first job can be taken), s",
            span(ours, "{:.2f}"),
            f"bare arq {span(floor, '{:.2f}')}",
            f"{ready_ratio:.1f}×",
            "≤ 1.5 s",
        ),
        Row(
            "`ask` offline, wall s",
            span(ask, "{:.2f}"),
            f"4-node LangGraph script {span(script, '{:.2f}')}",
            f"{ask_ratio:.1f}×",
            "≤ 2 s",
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
    parser.add_argument("--only", help="comma-separated sections: throughput, llm, ...")
    args = parser.parse_args()
    reps, jobs = (1, 100) if args.quick else (3, 300)
    sections: list[tuple[str, Any]] = [
        ("throughput", lambda: throughput_rows(reps, jobs)),
        ("llm", lambda: llm_rows(reps, jobs // 2)),
        ("observability", lambda: observability_rows(reps, jobs // 2)),
        ("concurrency", lambda: concurrent_rows(reps, 200)),
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
    show(rows)


if __name__ == "__main__":
    asyncio.run(main())
