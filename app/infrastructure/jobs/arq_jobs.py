"""ChatJobsPort on arq and Redis Streams: what the gateway and `submit` use, and nothing else."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import structlog
from arq.connections import ArqRedis, RedisSettings
from arq.constants import abort_jobs_ss, health_check_key_suffix
from arq.jobs import Job, JobStatus
from redis.exceptions import RedisError

from app.application.ports.chat_jobs import ChatJobsPort
from app.domain.chat import ChatRequest
from app.domain.errors import QueueUnavailable
from app.domain.events import ProgressEvent, ProgressUpdate
from app.domain.jobs import ChatJobStatus, ChatTicket, QueueHealth, fold_events
from app.infrastructure.progress.redis_streams import (
    RedisStreamProgressNotifier,
    follow_events,
    read_events,
)
from app.settings import RedisSettings as OurRedisSettings

log = structlog.get_logger(__name__)
JOB_NAME = "chat"  # the arq function the worker registers


def arq_redis_settings(settings: OurRedisSettings) -> RedisSettings:
    """arq's connection settings from ours: the one place that translates them."""
    arq = RedisSettings.from_dsn(settings.url)
    arq.conn_timeout = int(max(1, settings.socket_timeout))
    return arq


class ArqChatJobs(ChatJobsPort):
    """Submits through arq's queue; status, cancel and follow read the job's event stream."""

    def __init__(
        self,
        redis: ArqRedis,
        publisher: RedisStreamProgressNotifier,
        *,
        queue_name: str,
        block_ms: int = 2000,
    ) -> None:
        self._redis = redis
        self._publisher = publisher
        self._queue = queue_name
        self._block_ms = block_ms

    async def submit(self, request: ChatRequest) -> ChatTicket:
        job_id = uuid.uuid4().hex
        ticket = ChatTicket(job_id=job_id, thread_id=request.thread_id)
        try:
            # `queued` first: a client sees its first event without waiting for a worker.
            await self._publisher.publish(job_id, ProgressUpdate(type="queued"))
            await self._redis.enqueue_job(
                JOB_NAME, request.model_dump(mode="json"), _job_id=job_id, _queue_name=self._queue
            )
        except RedisError as exc:
            log.warning("jobs.submit_failed", job_id=job_id, error=type(exc).__name__)
            raise QueueUnavailable("the job queue is unreachable", provider="redis") from exc
        return ticket

    async def status(self, job_id: str) -> ChatJobStatus | None:
        events = await read_events(self._redis, job_id)
        if events:
            return fold_events(job_id, events)
        job = Job(job_id, self._redis, _queue_name=self._queue)
        if await job.status() is JobStatus.not_found:
            return None
        return fold_events(job_id, [])

    async def cancel(self, job_id: str) -> bool:
        cancelled = ProgressUpdate(type="error", data={"kind": "cancelled", "message": "cancelled"})
        published = await self._publisher.publish(job_id, cancelled)
        # The worker sees the flag on its next poll and cancels the run; a queued job is
        # dropped when it would start.
        await self._redis.zadd(abort_jobs_ss, {job_id: _now_ms()})
        return published is not None

    def follow(
        self,
        job_id: str,
        after: str | None = None,
        *,
        stop: Callable[[], Awaitable[bool]] | None = None,
    ) -> AsyncIterator[ProgressEvent]:
        return follow_events(
            self._redis, job_id, after or "0-0", block_ms=self._block_ms, stop=stop
        )

    async def health(self) -> QueueHealth:
        try:
            await self._redis.ping()
        except RedisError as exc:
            problem = f"unreachable: {type(exc).__name__}"
            return QueueHealth(queue=problem, workers="unknown")
        # arq's workers refresh this key every health_check_interval while they run.
        alive = await self._redis.exists(self._queue + health_check_key_suffix)
        return QueueHealth(queue="ok", workers="ok" if alive else "none reporting")


def _now_ms() -> int:
    return int(time.time() * 1000)
