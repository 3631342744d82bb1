"""The worker side of the chat jobs: arq's job function, its runner, and arq's options."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

import structlog
from arq.constants import in_progress_key_prefix
from arq.worker import Worker
from opentelemetry.trace import Tracer
from pydantic import ValidationError

from app.application.ports.metrics import MetricsPort
from app.application.ports.usage_limits import UsageLimiterPort
from app.application.usage import metered
from app.domain.chat import ChatRequest, ChatResult
from app.domain.events import ProgressUpdate
from app.domain.llm import TokenUsage, UsageLimits
from app.infrastructure.jobs import serialization
from app.infrastructure.jobs.arq_jobs import arq_redis_settings, wake_key
from app.infrastructure.jobs.liveness import expire_waiting
from app.infrastructure.observability.otel import continued_span
from app.infrastructure.progress.redis_streams import REDIS_DOWN, RedisStreamProgressNotifier
from app.settings import Settings

log = structlog.get_logger(__name__)
Hook = Callable[[dict[str, Any]], Awaitable[None]]
RUNNER = "chat_runner"  # where startup leaves the runner in arq's ctx
WAITING_INPUT = "waiting_input"  # what a job returns when its chat paused on a question
EXPIRY_SWEEP_SECONDS = 1.0


class ChatTurns(Protocol):
    async def run(
        self,
        request: ChatRequest,
        job_id: str | None = None,
        *,
        settle: Callable[[TokenUsage], Awaitable[None]] | None = None,
    ) -> ChatResult: ...


class ChatJobRunner:
    """One chat job: validate the payload once, run the turn, and leave a terminal event.

    A bad payload fails once with an `error` event, never a retry loop. A re-run of a job
    that already ended (arq is at-least-once) does nothing.
    """

    def __init__(
        self,
        chats: ChatTurns,
        publisher: RedisStreamProgressNotifier,
        limiter: UsageLimiterPort | None = None,
        chat_limits: UsageLimits | None = None,
        metrics: MetricsPort | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self._chats = chats
        self._publisher = publisher
        self._metrics = metrics
        self._tracer = tracer
        self._limiter = limiter
        self._chat_limits = chat_limits or UsageLimits()

    @property
    def publisher(self) -> RedisStreamProgressNotifier:
        return self._publisher

    async def run(
        self,
        job_id: str,
        payload: Any,
        attempt: int,
        principal: str = "anonymous",
        *,
        trace: dict[str, str] | None = None,
        enqueued_at: float | None = None,
    ) -> dict[str, Any]:
        """`trace` is the submitter's W3C context (the chat's span continues its trace);
        `enqueued_at` (epoch seconds) gives the pickup delay."""
        started = time.time()
        if self._metrics is not None and enqueued_at is not None and attempt == 1:
            self._metrics.chat_picked_up(started - enqueued_at)
        structlog.contextvars.bind_contextvars(job_id=job_id, job_try=attempt, principal=principal)
        outcome = "failed"  # a bug: arq's finish step ends the chat
        try:
            with continued_span(
                self._tracer, "chat", trace, {"eco2.job_id": job_id, "eco2.attempt": attempt}
            ):
                log.info("chat.started")
                result = await self._run(job_id, payload, attempt, principal)
            # A re-run of an ended job did nothing: not a second chat of that outcome.
            outcome = "rerun" if result.get("rerun") else str(result.get("status", "unknown"))
            return result
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        finally:
            structlog.contextvars.unbind_contextvars("job_id", "job_try", "thread_id", "principal")
            if self._metrics is not None:
                self._metrics.chat_finished(outcome, time.time() - started)

    async def _run(self, job_id: str, payload: Any, attempt: int, principal: str) -> dict[str, Any]:
        try:
            request = ChatRequest.model_validate(payload)
        except ValidationError as exc:
            return await self._invalid(job_id, exc)
        structlog.contextvars.bind_contextvars(thread_id=request.thread_id)
        terminal = await self._publisher.terminal(job_id)
        if terminal is not None:  # an earlier try ended (or was cancelled) before arq knew
            log.info("chat.already_finished", terminal=terminal)
            return {"status": terminal, "rerun": True}
        if attempt > 1:
            started = ProgressUpdate(
                type="stage", stage="attempt", status="started", data={"attempt": attempt}
            )
            await self._publisher.publish_attempt(job_id, started, attempt=attempt)
        try:
            result = await self._within_budget(principal, request, job_id)
        except asyncio.CancelledError:
            # Timeout, abort or shutdown: arq decides what follows, and its finish step leaves
            # the terminal event (a shutdown leaves none: the job runs again elsewhere).
            log.warning("chat.cancelled")
            raise
        except Exception as exc:  # the chat service published the `error` event already
            return {"status": "error", "error": type(exc).__name__}
        if result.needs_input is not None:  # paused: the job that takes the answer goes on
            return {"status": WAITING_INPUT}
        log.info(
            "chat.completed",
            intents=[str(i) for i in result.intents],
            tokens=result.usage.total_tokens,
            cost_usd=result.usage.cost_usd,
            failed_stages=result.failed_stages,
        )
        return {"status": "done"}

    async def _within_budget(self, principal: str, request: ChatRequest, job_id: str) -> ChatResult:
        """The turn, limited by the chat's budget and what is left of the principal's day."""
        limits = self._chat_limits
        if self._limiter is not None:
            left = await self._limiter.remaining(principal)
            limits = limits.tightened(tokens=left.max_tokens, cost_usd=left.max_cost_usd)
        limiter = self._limiter
        if limiter is None:
            with metered(limits):
                return await self._chats.run(request, job_id=job_id)

        async def settle(usage: TokenUsage) -> None:
            # Before the terminal event: a client that sees `done` and asks again at once is
            # held to the day's new total.
            await limiter.record(principal, usage)

        with metered(limits):
            return await self._chats.run(request, job_id=job_id, settle=settle)

    async def _invalid(self, job_id: str, exc: ValidationError) -> dict[str, Any]:
        problems = [
            f"{'.'.join(map(str, e['loc'])) or 'payload'}: {e['msg']}" for e in exc.errors()
        ]
        log.warning("chat.invalid_payload", problems=problems)
        data = {"kind": "invalid_request", "message": "the job is malformed", "problems": problems}
        await self._publisher.publish(job_id, ProgressUpdate(type="error", data=data))
        return {"status": "error", "error": "invalid_request"}


async def chat(
    ctx: dict[str, Any],
    payload: Any,
    *,
    principal: str = "anonymous",
    trace: dict[str, str] | None = None,
) -> dict[str, Any]:
    """arq's job function: one chat turn through the runner the worker's startup built."""
    runner: ChatJobRunner = ctx[RUNNER]
    enqueued = ctx.get("enqueue_time")
    return await runner.run(
        ctx["job_id"],
        payload,
        int(ctx.get("job_try", 1)),
        str(principal),
        trace=trace if isinstance(trace, dict) else None,
        enqueued_at=enqueued.timestamp() if isinstance(enqueued, datetime) else None,
    )


def worker_options(settings: Settings, *, on_startup: Hook, on_shutdown: Hook) -> dict[str, Any]:
    """arq Worker arguments from our settings."""
    worker = settings.worker
    return {
        "functions": [chat],
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "redis_settings": arq_redis_settings(settings.redis),
        "queue_name": worker.queue_name,
        "max_jobs": worker.concurrency,
        "job_timeout": worker.job_timeout,
        "keep_result": worker.keep_result,
        "poll_delay": worker.poll_delay,
        "max_tries": worker.max_tries,
        "job_completion_wait": int(worker.shutdown_grace),
        "health_check_interval": worker.health_check_interval,
        "allow_abort_jobs": True,
        "job_serializer": serialization.dumps,
        "job_deserializer": serialization.loads,
        "lease_seconds": worker.lease_seconds,
        "idle_wait": worker.idle_wait,
    }


class ChatWorker(Worker):
    """arq's Worker with the guarantees a chat needs:

    - a short lease: a running job's in-progress key lives `lease` seconds and is renewed every
      lease/3 while its worker lives, so a dead worker's job runs again within about `lease`
      seconds whatever the job timeout (arq's own claim lasts job_timeout + 10 s);
    - one terminal event on every path arq ends a job by itself (max tries, unknown function,
      unreadable or expired job, timeout, a crash of the function): arq's two finish steps
      publish an `error` when the job's stream has no terminal event yet;
    - Redis outages: the poll loop waits for Redis with backoff instead of exiting, and finish
      steps are retried, so in-flight chats finish (or end with an error) once Redis is back.
    """

    def __init__(
        self, *, lease_seconds: float = 10.0, idle_wait: float = 1.0, **options: Any
    ) -> None:
        # arq sleeps poll_delay between polls; we wait on a wake-up list instead (below).
        super().__init__(**{**options, "poll_delay": 0})
        self.lease = lease_seconds
        self.in_progress_timeout_s = lease_seconds
        self._idle_wait = idle_wait
        self._renewed = 0.0
        self._swept = 0.0
        self._down_since: float | None = None
        self._found_nothing = False
        self._slot_freed = asyncio.Event()

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        self._found_nothing = not job_ids
        await super().start_jobs(job_ids)

    def _release_sem_dec_counter_on_complete(self) -> None:
        super()._release_sem_dec_counter_on_complete()
        self._slot_freed.set()

    async def _wait_for_work(self) -> None:
        """Idle, block until a submission pushes a wake-up (or `idle_wait` passes: deferred
        retries and lapsed leases are found by the poll after it); full, until a slot frees."""
        if self.job_counter >= self.max_jobs:
            self._slot_freed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._slot_freed.wait(), self._idle_wait)
        elif self._found_nothing and self.allow_pick_jobs:
            await self.pool.blpop([wake_key(self.queue_name)], timeout=self._idle_wait)  # type: ignore[arg-type, misc]

    @property
    def publisher(self) -> RedisStreamProgressNotifier:
        runner: ChatJobRunner = self.ctx[RUNNER]
        return runner.publisher

    async def _poll_iteration(self) -> None:
        try:
            await self._wait_for_work()
            await super()._poll_iteration()
            await self._renew_leases()
            await self._expire_questions()
        except REDIS_DOWN as exc:
            await self._wait_for_redis(exc)
            return
        if self._down_since is not None:
            log.info("worker.redis_back", down_s=round(time.monotonic() - self._down_since, 1))
            self._down_since = None
            self._last_health_check = 0  # say we are alive at once, for the gateway

    async def record_health(self) -> None:
        """arq's queue-wide health key, and this worker's own (how many workers are alive)."""
        last = self._last_health_check
        await super().record_health()
        if self._last_health_check != last:
            ttl = int((self.health_check_interval + 1) * 1000)
            await self.pool.psetex(worker_key(self.queue_name, os.getpid()), ttl, b"1")

    async def _wait_for_redis(self, exc: BaseException) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.error("worker.redis_down", error=str(exc), fix="check REDIS_URL and the server")
        down = time.monotonic() - self._down_since
        await asyncio.sleep(min(0.2 * 2 ** min(down, 4), 2.0))

    async def _expire_questions(self) -> None:
        """Paused chats whose question went unanswered end here, whoever else looks."""
        if time.monotonic() - self._swept < EXPIRY_SWEEP_SECONDS:
            return
        self._swept = time.monotonic()
        await expire_waiting(self.pool, self.publisher)

    async def _renew_leases(self) -> None:
        if time.monotonic() - self._renewed < self.lease / 3:
            return
        self._renewed = time.monotonic()
        running = [job_id for job_id, task in self.tasks.items() if not task.done()]
        if not running:
            return
        async with self.pool.pipeline(transaction=False) as pipe:
            for job_id in running:
                pipe.pexpire(in_progress_key_prefix + job_id, int(self.lease * 1000))
            await pipe.execute()
        await self.publisher.keep_alive(running, self.lease)

    async def run_job(self, job_id: str, score: int) -> None:
        try:
            await super().run_job(job_id, score)
        except REDIS_DOWN as exc:  # the lease lapses; the job runs again once Redis is back
            log.warning("chat.finish_deferred", job_id=job_id, error=str(exc))
        except Exception:  # a bug in one job must not stop the worker
            log.exception("chat.run_job_failed", job_id=job_id)

    async def finish_job(
        self, job_id: str, finish: bool, result_data: bytes | None, *args: Any
    ) -> None:
        await _retrying(
            lambda: super(ChatWorker, self).finish_job(job_id, finish, result_data, *args)
        )
        if finish:
            await self._end_unless_ended(job_id, result_data)

    async def finish_failed_job(self, job_id: str, result_data: bytes | None) -> None:
        await _retrying(lambda: Worker.finish_failed_job(self, job_id, result_data))
        await self._end_unless_ended(job_id, result_data)

    async def _end_unless_ended(self, job_id: str, result_data: bytes | None) -> None:
        if _paused(result_data):  # waiting for its answer: its ending comes later
            return
        kind, message = _failure(result_data)
        update = ProgressUpdate(type="error", data={"kind": kind, "message": message})
        if await self.publisher.publish(job_id, update) is not None:
            log.warning("chat.ended_by_worker", job_id=job_id, kind=kind)


def worker_key(queue_name: str, pid: int) -> str:
    """Present while the worker with this pid (on this host) is alive and polling."""
    return f"{queue_name}:workers:{socket.gethostname()}:{pid}"


FAILURES = {
    "TimeoutError": ("timeout", "the chat took too long"),
    "CancelledError": ("cancelled", "cancelled"),
    "JobExecutionFailed": ("failed", "the chat could not be run"),
    "SerializationError": ("invalid_request", "the job is unreadable"),
    "DeserializationError": ("invalid_request", "the job is unreadable"),
}


def _paused(result_data: bytes | None) -> bool:
    try:
        result = serialization.loads(result_data) if result_data else {}
    except ValueError:
        return False
    returned = result.get("r") if isinstance(result, dict) else None
    return isinstance(returned, dict) and returned.get("status") == WAITING_INPUT


def _failure(result_data: bytes | None) -> tuple[str, str]:
    """The kind of failure arq recorded, as a client may see it (never its text)."""
    try:
        result = serialization.loads(result_data) if result_data else {}
        error = result.get("r", {}).get("error") if isinstance(result.get("r"), dict) else None
    except ValueError:
        error = None
    return FAILURES.get(str(error), ("failed", "the chat could not be completed"))


async def _retrying(step: Callable[[], Awaitable[None]], deadline: float = 60.0) -> None:
    """arq's bookkeeping after a job, retried through a Redis outage of up to `deadline` s."""
    give_up = time.monotonic() + deadline
    delay = 0.1
    while True:
        try:
            await step()
            return
        except REDIS_DOWN:
            if time.monotonic() + delay > give_up:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
