"""Throughput of one worker and latency to the first SSE event, with the instant offline LLM.

    .venv/bin/python bench/worker.py [--jobs 300] [--latency-samples 60]

Needs Redis on 127.0.0.1:6379. Starts one `python -m app worker` process (its own queue) and
the gateway on loopback; prints jobs/s and enqueue → first SSE event (median, p99).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from arq import create_pool
from arq.connections import RedisSettings
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.entrypoints.gateway.app import create_app
from app.infrastructure.redis_jobs.keys import meta_key
from app.settings import load_settings
from tests.support.asgi_server import serve_in_thread
from tests.support.services import Deployment, worker_process
from tests.support.sse import sse_events


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def throughput(deployment: Deployment, jobs: int) -> float:
    arq = await create_pool(RedisSettings(), default_queue_name=deployment.queue)
    redis = Redis.from_url("redis://127.0.0.1:6379/0")
    ids = [uuid.uuid4().hex for _ in range(jobs)]
    started = time.perf_counter()
    for i, job_id in enumerate(ids):
        payload = {"message": f"페트병 어떻게 버려요? {i}", "thread_id": f"bench-{job_id}"}
        await arq.enqueue_job("chat", payload, _job_id=job_id)
    pending = set(ids)
    while pending:
        done = {j for j in pending if await redis.hexists(meta_key(j), "terminal")}
        pending -= done
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - started
    await redis.aclose()
    await arq.aclose()
    return jobs / elapsed


async def first_event_latency(url: str, samples: int) -> list[float]:
    timings = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        for i in range(samples):
            started = time.perf_counter()
            job = (await http.post("/v1/chat", json={"message": f"캔 어떻게 버려? {i}"})).json()
            async for _ in sse_events(http, job["events_url"]):
                timings.append((time.perf_counter() - started) * 1000)
                break
    return timings


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--latency-samples", type=int, default=60)
    args = parser.parse_args()
    deployment = Deployment(env={"APP_LOGGING__LEVEL": "WARNING"})
    settings = load_settings(**deployment.settings_overrides(), logging={"level": "WARNING"})
    with tempfile.TemporaryDirectory() as logs, worker_process(deployment, Path(logs)) as worker:
        idle_rss = rss_mib(worker.process.pid)
        rate = await throughput(deployment, args.jobs)
        busy_rss = rss_mib(worker.process.pid)
        with serve_in_thread(create_app(settings)) as gateway:
            timings = sorted(await first_event_latency(gateway.url, args.latency_samples))
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    print(
        f"one worker (concurrency {settings.worker.concurrency}), offline LLM: "
        f"{rate:.1f} jobs/s over {args.jobs} jobs"
    )
    print(
        f"worker resident memory: {idle_rss:.0f} MiB after start, {busy_rss:.0f} MiB after "
        f"{args.jobs} jobs"
    )
    print(
        f"POST /v1/chat → first SSE event: median {statistics.median(timings):.1f} ms, "
        f"p99 {p99:.1f} ms ({len(timings)} samples, poll_delay {settings.worker.poll_delay}s)"
    )


if __name__ == "__main__":
    asyncio.run(main())
