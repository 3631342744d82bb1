"""`python -m app submit`: enqueue like the gateway does, then follow the job's event stream."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from typing import TextIO

from arq import create_pool
from arq.connections import RedisSettings
from redis.asyncio import Redis

from app.domain.chat import ChatRequest
from app.infrastructure.progress.redis_streams import follow_events
from app.settings import Settings
from app.worker import JOB_NAME


async def submit(
    settings: Settings,
    question: str,
    *,
    thread: str | None = None,
    as_json: bool = False,
    wait_seconds: float = 120.0,
    out: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    request = ChatRequest(message=question, thread_id=thread or f"cli-{uuid.uuid4().hex[:12]}")
    job_id = uuid.uuid4().hex
    arq = await create_pool(
        RedisSettings.from_dsn(settings.redis.url), default_queue_name=settings.worker.queue_name
    )
    redis = Redis.from_url(settings.redis.url)
    try:
        await arq.enqueue_job(JOB_NAME, request.model_dump(mode="json"), _job_id=job_id)
        print(f"job {job_id} · thread {request.thread_id}", file=sys.stderr)
        terminal = await asyncio.wait_for(_follow(redis, job_id, as_json, out), wait_seconds)
    except TimeoutError:
        print(
            f"no terminal event after {wait_seconds:.0f} s: is a worker running?", file=sys.stderr
        )
        return 1
    finally:
        await redis.aclose()
        await arq.aclose()
    return 0 if terminal == "done" else 1


async def _follow(redis: Redis, job_id: str, as_json: bool, out: TextIO) -> str:
    terminal = ""
    async for event in follow_events(redis, job_id):
        _show(event, as_json, out)
        terminal = str(event["type"])
    return terminal


def _show(event: dict[str, object], as_json: bool, out: TextIO) -> None:
    if as_json:
        print(json.dumps(event, ensure_ascii=False), file=out, flush=True)
        return
    data = event["data"] if isinstance(event["data"], dict) else {}
    if event["type"] == "stage" and event["status"] != "started":
        print(f"  {event['status']:<9} {data.get('slot') or event['stage']}", file=sys.stderr)
    elif event["type"] == "delta":
        print(data.get("text", ""), end="", file=out, flush=True)
    elif event["type"] == "done":
        print(file=out)
    elif event["type"] == "error":
        print(f"\nerror: {data.get('kind')}: {data.get('message', '')}", file=sys.stderr)
