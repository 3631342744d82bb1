"""Progress events on Redis Streams (`chat:{job_id}:events`): published idempotently, read back.

One Lua script per event makes numbering, the stream entry and the terminal marker one atomic
step, so a re-run of the same job (arq is at-least-once) can never add a second `answer` or a
second terminal event, and readers see a gap-free `seq`. The stream is the single home of a
chat's answer: status and SSE both read it.
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

# KEYS: stream, meta hash
# ARGV: type, stage, status, data (JSON), ts, maxlen, ttl seconds, job_id, attempt (0: keep)
PUBLISH = """
local kind = ARGV[1]
if redis.call('HEXISTS', KEYS[2], 'terminal') == 1 then return {0, '', 0} end
if kind == 'answer' and redis.call('HEXISTS', KEYS[2], 'answered') == 1 then
  return {0, '', 0}
end
local attempt = tonumber(ARGV[9])
if attempt > 0 then
  redis.call('HSET', KEYS[2], 'attempt', attempt)
else
  attempt = tonumber(redis.call('HGET', KEYS[2], 'attempt') or '1')
end
local seq = redis.call('HINCRBY', KEYS[2], 'seq', 1)
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[6], '*',
  'seq', seq, 'job_id', ARGV[8], 'type', kind, 'stage', ARGV[2], 'status', ARGV[3],
  'data', ARGV[4], 'ts', ARGV[5], 'attempt', attempt)
if kind == 'answer' then redis.call('HSET', KEYS[2], 'answered', 1) end
if kind == 'done' or kind == 'error' then redis.call('HSET', KEYS[2], 'terminal', kind) end
redis.call('EXPIRE', KEYS[1], ARGV[7])
redis.call('EXPIRE', KEYS[2], ARGV[7])
return {seq, id, attempt}
"""


def stream_key(job_id: str) -> str:
    return f"chat:{job_id}:events"


def meta_key(job_id: str) -> str:
    return f"chat:{job_id}:meta"


class RedisStreamProgressNotifier(ProgressNotifierPort):
    """The stream entry id is the SSE event id: a reconnecting browser resumes exactly."""

    def __init__(self, redis: Redis, *, maxlen: int = 2000, ttl_seconds: int = 3600) -> None:
        self._redis = redis
        self._maxlen = maxlen
        self._ttl = ttl_seconds
        self._script = redis.register_script(PUBLISH)

    async def publish(self, job_id: str, update: ProgressUpdate) -> ProgressEvent | None:
        return await self.publish_attempt(job_id, update, attempt=0)

    async def publish_attempt(
        self, job_id: str, update: ProgressUpdate, *, attempt: int
    ) -> ProgressEvent | None:
        """Publish, and (attempt > 0) make `attempt` the job's current one from this event on."""
        ts = time.time()
        seq, entry_id, current = await self._script(
            keys=[stream_key(job_id), meta_key(job_id)],
            args=[
                update.type,
                update.stage or "",
                update.status or "",
                json.dumps(update.data, ensure_ascii=False),
                f"{ts:.6f}",
                self._maxlen,
                self._ttl,
                job_id,
                attempt,
            ],
        )
        if not int(seq):
            return None
        return ProgressEvent(
            seq=int(seq),
            job_id=job_id,
            ts=ts,
            attempt=int(current),
            id=_text(entry_id),
            **update.model_dump(),
        )

    async def terminal(self, job_id: str) -> str | None:
        """`done` or `error` once the job has ended, else None."""
        value: Any = await self._redis.hget(meta_key(job_id), "terminal")  # type: ignore[misc]
        return _text(value) if value is not None else None


def parse_entry(entry_id: bytes | str, fields: dict[Any, Any]) -> ProgressEvent:
    """A stream entry as a ProgressEvent carrying its stream id."""
    text = {_text(k): _text(v) for k, v in fields.items()}
    return ProgressEvent(
        id=_text(entry_id),
        seq=int(text["seq"]),
        job_id=text["job_id"],
        type=text["type"],
        stage=text["stage"] or None,
        status=text["status"] or None,
        data=json.loads(text["data"]),
        ts=float(text["ts"]),
        attempt=int(text.get("attempt") or 1),
    )


async def read_events(redis: Redis, job_id: str) -> list[ProgressEvent]:
    """Every event the job's stream still holds, oldest first."""
    entries = await redis.xrange(stream_key(job_id))
    return [parse_entry(entry_id, fields) for entry_id, fields in entries]


async def stream_exists(redis: Redis, job_id: str) -> bool:
    return bool(await redis.exists(stream_key(job_id)))


async def follow_events(
    redis: Redis,
    job_id: str,
    cursor: str = "0-0",
    *,
    block_ms: int = 2000,
    stop: Callable[[], Awaitable[bool]] | None = None,
) -> AsyncIterator[ProgressEvent]:
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
                cursor = event.id or cursor
                yield event
                if event.type in TERMINAL_TYPES:
                    return
        if stop is not None and await stop():
            return


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
