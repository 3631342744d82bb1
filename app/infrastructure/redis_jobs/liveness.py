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
from app.infrastructure.redis_jobs import keys, lua
from app.infrastructure.redis_jobs.publisher import RedisStreamProgressNotifier
from app.infrastructure.redis_jobs.typed import replies, typed

log = structlog.get_logger(__name__)
LOST = failure(ErrorKind.LOST, "the chat was lost (the queue lost its data); send it again")
EXPIRY = failure(ErrorKind.INPUT_EXPIRED, "the question was not answered in time; ask again")


async def expire_waiting(
    redis: Redis, publisher: RedisStreamProgressNotifier, *, batch: int = 50
) -> list[str]:
    """End the chats paused on a question past its time, with an `input_expired` error (its
    PUBLISH step takes the job out of the waiting set and releases its thread's next turn).
    Cheap when none is due: one ZRANGEBYSCORE."""
    due = await typed(
        redis.zrangebyscore(keys.WAITING, 0, int(time.time() * 1000), start=0, num=batch),
        default=[],
        key=keys.WAITING,
    )
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
        self._reconcile = redis.register_script(lua.script("reconcile"))

    async def alive(self, job_ids: Sequence[str]) -> list[bool]:
        """Whether each job has ended or something still holds it."""
        return [ended or held for ended, held in await self._states(job_ids)]

    async def _states(self, job_ids: Sequence[str]) -> list[tuple[bool, bool]]:
        """(ended, held) for each job: held while queued, pending, renewed or paused."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.hmget(keys.meta_key(job_id), ["terminal", "alive_until", "waiting"])
                pipe.exists(keys.arq_job_key(job_id), keys.pending_key(job_id))
            # A meta of the wrong type is corrupt: read as absent, so the job counts as held
            # only by its queue entries (and ends `lost` when it has none).
            found_replies = replies(await pipe.execute(raise_on_error=False), default=None)
        now = time.time()
        found = []
        for meta, queued in zip(found_replies[::2], found_replies[1::2], strict=True):
            terminal, until, waiting = meta or (None, None, None)
            renewed = _seconds(until) > now
            # A chat paused on a question is held by its expiry, not by a worker.
            found.append((terminal is not None, bool(queued) or renewed or waiting is not None))
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
        waiting = [job_id for (job_id, _), ok in zip(quiet, alive, strict=True) if ok]
        await self._unblock(waiting)
        return lost

    async def _unblock(self, job_ids: Sequence[str], *, most: int = 16) -> None:
        """Quiet jobs waiting behind an earlier turn of their thread: a head turn nothing holds
        (an unknown id planted in the list, a turn Redis lost) ends `lost` and leaves the
        list, which releases the next turn (lua/reconcile.lua). At most `most` dead heads per
        thread and call; the next call goes on."""
        if not job_ids:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:  # one round trip for all: the hub asks every few seconds
                pipe.exists(keys.pending_key(job_id))
                pipe.hget(keys.meta_key(job_id), "turns")
            found = replies(await pipe.execute(raise_on_error=False), default=None)
        for job_id, pending, listed in zip(job_ids, found[::2], found[1::2], strict=True):
            if not pending or listed is None:
                continue  # not waiting behind another turn
            turns = _text(listed)
            for _ in range(most):
                head = await typed(self._redis.lindex(turns, 0), default=None, key=turns)  # type: ignore[arg-type]
                if head is None or _text(head) == job_id:
                    break
                [(ended, held)] = await self._states([_text(head)])
                if held and not ended:
                    break
                dead = _text(head)
                if await self._publisher.publish(dead, LOST) is not None:
                    log.warning("chat.lost", job_id=dead, blocked=job_id)
                await self._reconcile(
                    keys=[turns], args=[dead, int(time.time() * 1000), keys.lua_templates()]
                )


def _seconds(value: object) -> float:
    """A stored time; one that is not a number (corrupt) is long past."""
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
