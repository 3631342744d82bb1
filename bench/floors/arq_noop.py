"""A bare arq worker: `python bench/floors/arq_noop.py QUEUE MODE [LLM_URL]`.

MODE `noop`: each job returns at once. MODE `llm`: each job makes the two SDK calls a chat
makes (a structured completion, then a streamed one) against LLM_URL, over one shared pool.
It publishes one event per job to the same stream key a chat would, so the reader side is the
same. JSON jobs, as ours. REDIS_URL (env) is the Redis to use.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from arq.connections import RedisSettings
from arq.worker import Worker

from app.infrastructure.redis_jobs.keys import stream_key  # the key only: nothing else of ours

QUEUE, MODE = sys.argv[1], sys.argv[2]
LLM_URL = sys.argv[3] if len(sys.argv) > 3 else ""
CONCURRENCY = int(sys.argv[4]) if len(sys.argv) > 4 else 10


async def startup(ctx: dict[str, Any]) -> None:
    if MODE == "llm":
        import httpx
        from openai import AsyncOpenAI

        ctx["http"] = httpx.AsyncClient()
        ctx["openai"] = AsyncOpenAI(
            api_key="sk-floor-0123456789", base_url=LLM_URL, http_client=ctx["http"], max_retries=0
        )


async def shutdown(ctx: dict[str, Any]) -> None:
    if "http" in ctx:
        await ctx["http"].aclose()


async def chat(ctx: dict[str, Any], payload: Any, **_: Any) -> str:
    if MODE == "llm":
        client = ctx["openai"]
        messages = [{"role": "user", "content": payload["message"]}]
        await client.chat.completions.create(
            model="gpt-4o-mini", messages=messages, response_format={"type": "json_object"}
        )
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=messages, stream=True
        )
        async for _ in stream:
            pass
    await ctx["redis"].xadd(stream_key(ctx["job_id"]), {"type": "done"})
    return "ok"


def dumps(value: Any) -> bytes:
    return json.dumps(value, default=str).encode()


if __name__ == "__main__":
    Worker(
        functions=[chat],
        queue_name=QUEUE,
        redis_settings=RedisSettings.from_dsn(
            os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
        ),
        on_startup=startup,
        on_shutdown=shutdown,
        max_jobs=CONCURRENCY,
        poll_delay=0.05,
        job_serializer=dumps,
        job_deserializer=json.loads,
        keep_result=0,
    ).run()
