"""Progress events on Redis Streams (`chat:{job_id}:events`), published idempotently.

One Lua script per event makes numbering, the stream entry, the answer snapshot and the
terminal marker one atomic step, so a re-run of the same job (arq is at-least-once) can never
add a second `answer` or a second terminal event, and readers see a gap-free `seq`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeout

from app.application.ports.progress import ProgressNotifierPort
from app.domain.events import TERMINAL_TYPES, ProgressEvent, ProgressUpdate

log = structlog.get_logger(__name__)

# KEYS: stream, meta hash, answer snapshot
# ARGV: type, stage, status, data (JSON), ts, maxlen, ttl seconds, job_id
PUBLISH = """
local kind = ARGV[1]
if redis.call('HEXISTS', KEYS[2], 'terminal') == 1 then return {0, ''} end
if kind == 'answer' and redis.call('HEXISTS', KEYS[2], 'answered') == 1 then return {0, ''} end
local seq = redis.call('HINCRBY', KEYS[2], 'seq', 1)
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[6], '*',
  'seq', seq, 'job_id', ARGV[8], 'type', kind, 'stage', ARGV[2], 'status', ARGV[3],
  'data', ARGV[4], 'ts', ARGV[5])
if kind == 'delta' then
  local data = cjson.decode(ARGV[4])
  redis.call('APPEND', KEYS[3], data['text'] or '')
elseif kind == 'answer' then
  local data = cjson.decode(ARGV[4])
  redis.call('SET', KEYS[3], data['text'] or '')
  redis.call('HSET', KEYS[2], 'answered', 1)
elseif kind == 'stage' and ARGV[2] == 'attempt' then
  redis.call('SET', KEYS[3], '')
end
if kind == 'done' or kind == 'error' then
  redis.call('HSET', KEYS[2], 'terminal', kind)
end
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[7]) end
return {seq, id}
"""


def stream_key(job_id: str) -> str:
    return f"chat:{job_id}:events"


def meta_key(job_id: str) -> str:
    return f"chat:{job_id}:meta"


def answer_key(job_id: str) -> str:
    return f"chat:{job_id}:answer"


class RedisStreamProgressNotifier(ProgressNotifierPort):
    """The stream entry id is the SSE event id: a reconnecting browser resumes exactly."""

    def __init__(self, redis: Redis, *, maxlen: int = 2000, ttl_seconds: int = 3600) -> None:
        self._redis = redis
        self._maxlen = maxlen
        self._ttl = ttl_seconds
        self._script = redis.register_script(PUBLISH)

    async def publish(self, job_id: str, update: ProgressUpdate) -> ProgressEvent | None:
        ts = time.time()
        seq, _entry_id = await self._script(
            keys=[stream_key(job_id), meta_key(job_id), answer_key(job_id)],
            args=[
                update.type,
                update.stage or "",
                update.status or "",
                json.dumps(update.data, ensure_ascii=False),
                f"{ts:.6f}",
                self._maxlen,
                self._ttl,
                job_id,
            ],
        )
        if not int(seq):
            return None
        return ProgressEvent(seq=int(seq), job_id=job_id, ts=ts, **update.model_dump())


async def terminal_of(redis: Redis, job_id: str) -> str | None:
    value: Any = await redis.hget(meta_key(job_id), "terminal")  # type: ignore[misc]
    return value.decode() if isinstance(value, bytes) else value


def parse_entry(entry_id: bytes | str, fields: dict[Any, Any]) -> dict[str, Any]:
    """A stream entry as the event dict the SSE gateway sends (with its stream id)."""
    text = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in fields.items()
    }
    return {
        "id": entry_id.decode() if isinstance(entry_id, bytes) else entry_id,
        "seq": int(text["seq"]),
        "job_id": text["job_id"],
        "type": text["type"],
        "stage": text["stage"] or None,
        "status": text["status"] or None,
        "data": json.loads(text["data"]),
        "ts": float(text["ts"]),
    }


async def follow_events(
    redis: Redis,
    job_id: str,
    cursor: str = "0-0",
    *,
    block_ms: int = 2000,
    stop: Callable[[], Awaitable[bool]] | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """A job's events after `cursor` as they arrive, ending with its terminal event.

    A Redis read that times out or drops is retried; `stop` (the reader went away) is asked
    whenever a read comes back empty.
    """
    key = stream_key(job_id)
    while True:
        try:
            batches = await redis.xread({key: cursor}, block=block_ms, count=200)
        except (RedisTimeout, RedisConnectionError) as exc:
            log.warning("progress.read_failed", job_id=job_id, error=type(exc).__name__)
            await asyncio.sleep(0.2)
            continue
        for _, entries in batches or []:
            for entry_id, fields in entries:
                event = parse_entry(entry_id, fields)
                cursor = event["id"]
                yield event
                if event["type"] in TERMINAL_TYPES:
                    return
        if stop is not None and await stop():
            return
