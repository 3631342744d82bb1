"""Whether anything still holds a chat job, and ending the ones nothing holds.

A job is alive while it has ended (terminal), waits in arq's queue (its job key), waits behind
an earlier turn of its thread (a pending payload), or a worker renews its `alive_until`. A job
that is none of these for `grace` seconds was lost (Redis lost its data, say): it gets an
`error` event of kind `lost`, so its readers are never left waiting.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import structlog
from arq.constants import job_key_prefix
from redis.asyncio import Redis

from app.domain.events import ProgressUpdate
from app.infrastructure.progress.redis_streams import (
    RedisStreamProgressNotifier,
    meta_key,
    pending_key,
)

log = structlog.get_logger(__name__)
LOST = ProgressUpdate(
    type="error",
    data={"kind": "lost", "message": "the chat was lost (the queue lost its data); send it again"},
)


class Reaper:
    def __init__(
        self, redis: Redis, publisher: RedisStreamProgressNotifier, *, grace_seconds: float
    ) -> None:
        self._redis = redis
        self._publisher = publisher
        self.grace = grace_seconds

    async def alive(self, job_ids: Sequence[str]) -> list[bool]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.hmget(meta_key(job_id), ["terminal", "alive_until"])
                pipe.exists(job_key_prefix + job_id, pending_key(job_id))
            replies = await pipe.execute()
        now = time.time()
        found = []
        for (terminal, until), queued in zip(replies[::2], replies[1::2], strict=True):
            renewed = until is not None and float(until) > now
            found.append(terminal is not None or bool(queued) or renewed)
        return found

    async def reap(self, job_ids: Sequence[str], idle_since: Sequence[float]) -> list[str]:
        """End the jobs nothing holds that have been quiet for `grace`; returns them."""
        now = time.time()
        quiet = [(j, t) for j, t in zip(job_ids, idle_since, strict=True) if now - t > self.grace]
        if not quiet:
            return []
        alive = await self.alive([job_id for job_id, _ in quiet])
        lost = [job_id for (job_id, _), ok in zip(quiet, alive, strict=True) if not ok]
        for job_id in lost:
            if await self._publisher.publish(job_id, LOST) is not None:
                log.warning("chat.lost", job_id=job_id)
        return lost
