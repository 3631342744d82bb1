"""ChatJobsPort on arq and Redis Streams: what the gateway and `submit` use, and nothing else.

A submission is one Lua step: its `queued` event, its place in its thread's turn order, and
(when no earlier turn of the thread is unfinished) its arq job. A later turn waits as a pending
payload until the turn ahead of it ends; the terminal event releases it (lua/publish.lua).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import structlog
from arq.connections import ArqRedis
from arq.constants import expires_extra_ms
from arq.jobs import serialize_job
from redis.exceptions import RedisError

from app.application.ports.jobs import ChatJobsPort, NoWorkerAvailable, QueueFull, QueueUnavailable
from app.domain.chat import ChatRequest
from app.domain.errors import InputExpired, NotWaitingForInput, ThreadBusy
from app.domain.events import ErrorKind, ProgressEvent, failure
from app.domain.jobs import ChatJobStatus, ChatTicket, QueueHealth, TurnPolicy, fold_events
from app.infrastructure.observability.otel import trace_carrier
from app.infrastructure.redis_jobs import keys, lua, serialization
from app.infrastructure.redis_jobs.hub import StreamHub
from app.infrastructure.redis_jobs.liveness import Reaper, expire_waiting
from app.infrastructure.redis_jobs.publisher import RedisStreamProgressNotifier, read_events
from app.infrastructure.redis_jobs.typed import typed

log = structlog.get_logger(__name__)
JOB_NAME = "chat"  # the arq function the worker registers
TURNS_TTL = 86_400


class ArqChatJobs(ChatJobsPort):
    """Submits through arq's queue; status, cancel and follow read the job's event stream."""

    def __init__(
        self,
        redis: ArqRedis,
        publisher: RedisStreamProgressNotifier,
        hub: StreamHub,
        reaper: Reaper,
        *,
        queue_name: str,
        require_worker: bool = True,
        max_queued: int | None = None,
    ) -> None:
        self._redis = redis
        self._publisher = publisher
        self._hub = hub
        self._reaper = reaper
        self._queue = queue_name
        self._require_worker = require_worker
        self._max_queued = max_queued
        self._submit = redis.register_script(lua.script("submit"))

    async def submit(
        self,
        request: ChatRequest,
        *,
        if_busy: TurnPolicy = "enqueue",
        principal: str = "anonymous",
        answering: str | None = None,
    ) -> ChatTicket:
        job_id = uuid.uuid4().hex
        try:
            # No sweep of expired questions first (a command of every chat, issue 22): the
            # step takes no answer for a question past its time, and workers sweep each second.
            status, _, ahead, running = await self._submit(
                keys=self._submit_keys(job_id, request.thread_id),
                args=[
                    *self._submit_args(job_id, request, if_busy, principal),
                    answering or "",
                    request.thread_id,
                    keys.lua_templates(),
                ],
            )
        except RedisError as exc:
            raise QueueUnavailable("the job queue is unreachable", provider="redis") from exc
        status = _text(status)
        if status == "not_waiting":
            ended = _text(running)
            if ended in ("error", "") and await self._expired(answering or ""):
                raise InputExpired("the question expired before it was answered")
            raise NotWaitingForInput(
                "the chat is not waiting for an answer" + (f" (it ended: {ended})" if ended else "")
            )
        if status == "no_worker":
            raise NoWorkerAvailable("no worker is running", provider="workers")
        if status == "full":
            raise QueueFull(f"{ahead} chats are waiting already", provider="redis")
        if status == "busy":
            raise ThreadBusy(
                f"thread {request.thread_id} has a turn in progress", running=_text(running)
            )
        if if_busy == "interrupt" and int(ahead):
            await self._interrupt_earlier(request.thread_id, job_id)
        return ChatTicket(job_id=job_id, thread_id=request.thread_id, turns_ahead=int(ahead))

    def _submit_keys(self, job_id: str, thread_id: str) -> list[str]:
        return [
            keys.stream_key(job_id),
            keys.meta_key(job_id),
            keys.turns_key(thread_id),
            keys.arq_job_key(job_id),
            self._queue,
            keys.pending_key(job_id),
            keys.queue_health_key(self._queue),
            keys.wake_key(self._queue),
            keys.WAITING,
            keys.RUN,
        ]

    def _submit_args(
        self, job_id: str, request: ChatRequest, if_busy: TurnPolicy, principal: str
    ) -> list[Any]:
        now = time.time()
        payload = serialize_job(
            JOB_NAME,
            (request.model_dump(mode="json"),),
            # The submitter's trace (W3C traceparent): the worker's chat span continues it.
            {
                "principal": principal,
                **({"trace": carrier} if (carrier := trace_carrier()) else {}),
            },
            None,
            int(now * 1000),
            serializer=serialization.dumps,
        )
        return [
            job_id,
            payload,
            int(now * 1000),
            expires_extra_ms,
            if_busy,
            self._publisher.maxlen,
            self._publisher.ttl_seconds,
            f"{now:.6f}",
            TURNS_TTL,
            "1" if self._require_worker else "0",
            self._max_queued or 0,
        ]

    async def _interrupt_earlier(self, thread_id: str, job_id: str) -> None:
        """`interrupt`: every earlier unfinished turn of the thread ends, so this one runs next."""
        turns = keys.turns_key(thread_id)
        listed: list[Any] = await typed(self._redis.lrange(turns, 0, -1), default=[], key=turns)  # type: ignore[arg-type]
        earlier = [_text(j) for j in listed]
        for other in earlier[: earlier.index(job_id) if job_id in earlier else None]:
            await self._end(
                other, ErrorKind.INTERRUPTED, "a newer message on this thread replaced it"
            )

    async def thread_of(self, job_id: str) -> str | None:
        try:
            meta = keys.meta_key(job_id)
            thread = await typed(self._redis.hget(meta, "thread"), default=None, key=meta)  # type: ignore[arg-type]
        except RedisError as exc:
            raise QueueUnavailable("the job queue is unreachable", provider="redis") from exc
        return _text(thread) if thread is not None else None

    async def _expire_waiting(self) -> None:
        """End the paused chats whose question is past its time (workers sweep too)."""
        await expire_waiting(self._redis, self._publisher)

    async def _expired(self, job_id: str) -> bool:
        """The job ended `input_expired`, now if no sweep had ended it yet."""
        try:
            await self._expire_waiting()
            events = await read_events(self._redis, job_id)
        except RedisError as exc:
            raise QueueUnavailable("the job queue is unreachable", provider="redis") from exc
        last = events[-1] if events else None
        return (
            last is not None
            and last.type == "error"
            and last.data.get("kind") == ErrorKind.INPUT_EXPIRED
        )

    async def status(self, job_id: str, *, issued_at: float | None = None) -> ChatJobStatus | None:
        try:
            await self._expire_waiting()
            events = await read_events(self._redis, job_id)
            if not events:  # queued by other means than submit, or unknown
                known = await self._redis.exists(keys.arq_job_key(job_id), keys.pending_key(job_id))
                if known:
                    return fold_events(job_id, [])
                return await self._forgotten(job_id, issued_at)
            found = fold_events(job_id, events)
            if not found.terminal and await self._reaper.reap([job_id], [events[-1].ts]):
                found = fold_events(job_id, await read_events(self._redis, job_id))
        except RedisError as exc:
            raise QueueUnavailable("the job queue is unreachable", provider="redis") from exc
        return found

    async def events(self, job_id: str) -> list[ProgressEvent]:
        try:
            return await read_events(self._redis, job_id)
        except RedisError as exc:
            raise QueueUnavailable("the job queue is unreachable", provider="redis") from exc

    async def place_in_line(self, job_id: str) -> int | None:
        # arq's queue is a sorted set by enqueue time; a job stays in it while it runs.
        try:
            rank = await self._redis.zrank(self._queue, job_id)
        except RedisError as exc:
            raise QueueUnavailable("the job queue is unreachable", provider="redis") from exc
        return None if rank is None else int(rank)

    async def _forgotten(self, job_id: str, issued_at: float | None) -> ChatJobStatus | None:
        """A job Redis does not know. Issued (its token says when) before Redis lost its data,
        it was lost with the data, not never issued: it is a job nothing holds, ended `lost`
        once quiet for the reaper's grace (counted from the loss; till then it reads as
        queued, so a worker still running it after the loss can carry on). Otherwise it never
        was or it expired: None."""
        if issued_at is None:
            return None
        since = await self._data_since()
        if issued_at >= since:
            return None
        if await self._reaper.reap([job_id], [since]):
            return fold_events(job_id, await read_events(self._redis, job_id))
        return fold_events(job_id, [])

    async def _data_since(self) -> float:
        """When the data this Redis holds began: its start (a restart that reloaded an older
        snapshot lost what came after it) or, if later, the first submission after it lost its
        keys (a restart without persistence, a flush), from `keys.RUN`."""
        await typed(self._redis.set(keys.RUN, int(time.time() * 1000), nx=True), default=None)
        marker = await typed(self._redis.get(keys.RUN), default=None, key=keys.RUN)
        server = await self._redis.info("server")
        started = time.time() - float(server.get("uptime_in_seconds", 0))
        try:
            marked = int(marker) / 1000 if marker is not None else 0.0
        except ValueError:  # corrupt: the server's start still bounds it
            marked = 0.0
        return max(marked, started)

    async def cancel(self, job_id: str) -> bool:
        try:
            return await self._end(job_id, ErrorKind.CANCELLED, "cancelled")
        except RedisError as exc:
            raise QueueUnavailable("the job queue is unreachable", provider="redis") from exc

    async def _end(self, job_id: str, kind: ErrorKind, message: str) -> bool:
        ended = await self._publisher.publish(job_id, failure(kind, message))
        # The worker sees the flag on its next poll and cancels the run; a queued job is
        # dropped when it would start.
        await self._redis.zadd(keys.ARQ_ABORTS, {job_id: int(time.time() * 1000)})
        return ended is not None

    async def check_follow(self, job_id: str, after: str | None = None) -> bool:
        try:
            return await self._hub.check(job_id, after)
        except RedisError as exc:
            raise QueueUnavailable("the job queue is unreachable", provider="redis") from exc

    def follow(
        self,
        job_id: str,
        after: str | None = None,
        *,
        stop: Callable[[], Awaitable[bool]] | None = None,
    ) -> AsyncIterator[ProgressEvent]:
        return self._hub.follow(job_id, after, stop=stop)

    async def health(self) -> QueueHealth:
        try:
            await self._redis.ping()
            alive = await self._redis.exists(keys.queue_health_key(self._queue))
        except RedisError as exc:
            return QueueHealth(queue=f"unreachable: {type(exc).__name__}", workers="unknown")
        # arq's workers refresh this key every health_check_interval while they run.
        return QueueHealth(queue="ok", workers="ok" if alive else "none reporting")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
