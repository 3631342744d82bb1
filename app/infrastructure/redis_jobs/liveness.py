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
from redis.asyncio import Redis

from app.domain.events import ErrorKind, failure
from app.infrastructure.redis_jobs import keys
from app.infrastructure.redis_jobs.publisher import RedisStreamProgressNotifier

log = structlog.get_logger(__name__)
LOST = failure(ErrorKind.LOST, "the chat was lost (the queue lost its data); send it again")
EXPIRY = failure(ErrorKind.INPUT_EXPIRED, "the question was not answered in time; ask again")


async def expire_waiting(
    redis: Redis, publisher: RedisStreamProgressNotifier, *, batch: int = 50
) -> list[str]:
    """End the chats paused on a question past its time, with an `input_expired` error (its
    PUBLISH step takes the job out of the waiting set and releases its thread's next turn).
    Cheap when none is due: one ZRANGEBYSCORE."""
    due = await redis.zrangebyscore(keys.WAITING, 0, int(time.time() * 1000), start=0, num=batch)
    ended = []
    for raw in due:
        job_id = raw.decode() if isinstance(raw, bytes) else str(raw)
        if await publisher.publish(job_id, EXPIRY) is not None:
            log.info("chat.input_expired", job_id=job_id)
            ended.append(job_id)
        await redis.zrem(keys.WAITING, job_id)  # ended already (answered, cancelled): forget it
    return ended


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
                pipe.hmget(keys.meta_key(job_id), ["terminal", "alive_until", "waiting"])
                pipe.exists(keys.arq_job_key(job_id), keys.pending_key(job_id))
            replies = await pipe.execute()
        now = time.time()
        found = []
        for (terminal, until, waiting), queued in zip(replies[::2], replies[1::2], strict=True):
            renewed = until is not None and float(until) > now
            # A chat paused on a question is held by its expiry, not by a worker.
            found.append(terminal is not None or bool(queued) or renewed or waiting is not None)
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
