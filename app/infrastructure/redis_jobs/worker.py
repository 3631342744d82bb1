"""The worker side of the chat jobs: arq's job function, arq's options, and arq's Worker with
the guarantees a chat needs. The job's policy is the application's (`app.application.jobs`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import structlog
from arq.connections import ArqRedis
from arq.worker import Worker, func
from redis.exceptions import WatchError

from app.application.jobs import WAITING_INPUT, ChatJobRunner, JobResult
from app.application.retry import RetryPolicy
from app.domain.events import ErrorKind, failure
from app.infrastructure.redis import arq_redis_settings, close_redis
from app.infrastructure.redis_jobs import keys, serialization
from app.infrastructure.redis_jobs.liveness import expire_waiting
from app.infrastructure.redis_jobs.publisher import REDIS_DOWN, RedisStreamProgressNotifier
from app.infrastructure.redis_jobs.queue import JOB_NAME
from app.settings import Settings

log = structlog.get_logger(__name__)
Hook = Callable[[dict[str, Any]], Awaitable[None]]
RUNNER = "chat_runner"  # where startup leaves the job policy in arq's ctx
PUBLISHER = "chat_publisher"  # and the job streams' publisher (leases, endings by arq)
EXPIRY_SWEEP_SECONDS = 1.0
# arq reads its abort set on every poll (a transaction of four commands), and a busy worker
# polls once a slot frees, about once per chat (issue 22); a cancel waits at most this more.
ABORT_CHECK_SECONDS = 0.5
# A worker is taken for gone once it misses this many health beats in a row (not one): the
# gateway refuses chats while no worker reports, and a slow worker still runs them.
MISSED_BEATS = 3


async def chat(
    ctx: dict[str, Any],
    payload: Any,
    *,
    principal: str = "anonymous",
    trace: dict[str, str] | None = None,
) -> JobResult:
    """arq's job function: one chat turn through the job policy the worker's startup built."""
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


def worker_options(
    settings: Settings, *, on_startup: Hook, on_shutdown: Hook, retry: RetryPolicy | None = None
) -> dict[str, Any]:
    """arq Worker arguments from our settings (and the process's retry policy)."""
    worker = settings.worker
    return {
        "retry": retry or RetryPolicy(),
        "functions": [func(chat, name=JOB_NAME)],  # the name submissions use
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
      steps are retried (the retry policy), so in-flight chats finish once Redis is back; the
      first thing a worker does then is claim its running jobs again (their leases lapsed
      meanwhile), and it never starts a job it is running already, so an outage longer than
      the lease does not run a chat twice.

    It overrides arq's public steps and two private ones, `_poll_iteration` (the only place
    that can catch a Redis error of the poll itself) and `_cancel_aborted_jobs` (read less
    often than every poll); arq is pinned to a minor version and
    tests/unit/test_arq_internals.py fails if any name or signature it relies on changes.
    """

    def __init__(
        self,
        *,
        lease_seconds: float = 10.0,
        idle_wait: float = 1.0,
        retry: RetryPolicy | None = None,
        **options: Any,
    ) -> None:
        # arq sleeps poll_delay between polls; we wait on a wake-up list instead (below).
        super().__init__(**{**options, "poll_delay": 0})
        self.retry = retry or RetryPolicy()
        self.lease = lease_seconds
        self.in_progress_timeout_s = lease_seconds
        self._idle_wait = idle_wait
        self._renewed = 0.0
        self._swept = 0.0
        self._aborts_read = 0.0
        self._down_since: float | None = None
        self._reported = -float("inf")  # when this worker's own key was last written
        self._found_nothing = False
        self._slot_freed = asyncio.Event()

    async def close(self) -> None:
        """arq deletes its health key before `on_shutdown`: with Redis down that raised, the
        shutdown never ran, and the checkpointer's SQLite thread (not a daemon) held the
        process after SIGTERM for good. Here the key goes if Redis answers; the shutdown and
        every pool's close happen either way."""
        pool: ArqRedis | None = self.pool  # arq forgets it once closed
        try:
            await super().close()
        except REDIS_DOWN as exc:
            log.warning("worker.stopping_without_redis", error=type(exc).__name__)
            if self.on_shutdown:
                await self.on_shutdown(self.ctx)
        if pool is not None:  # closed again (harmless) with, under Sentinel, the sentinels'
            with contextlib.suppress(*REDIS_DOWN):
                await close_redis(pool)

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        # arq would start a job again whose claim lapsed while this worker still runs it.
        running = {job_id for job_id, task in self.tasks.items() if not task.done()}
        job_ids = [job_id for job_id in job_ids if job_id.decode() not in running]
        known = set(self.tasks.values())
        await super().start_jobs(job_ids)
        started = [task for task in self.tasks.values() if task not in known]
        for task in started:  # after arq's own callback, which frees the slot
            task.add_done_callback(lambda _: self._slot_freed.set())
        # arq keeps a job in the queue until it ends, so a poll beside running chats (this
        # worker's or another's) finds jobs it cannot start: it waits for a wake-up then, as
        # on an empty queue. It polled again at once: thousands of polls a second beside a chat.
        self._found_nothing = not started

    async def _wait_for_work(self) -> None:
        """With nothing it could start (the queue empty, or holding only chats that run
        already), block until a submission pushes a wake-up (or `idle_wait` passes: deferred
        retries and lapsed leases are found by the poll after it); full, or stopping (SIGTERM:
        no more jobs, the running ones finish), until a slot frees. Without that wait a stopping
        worker polled Redis at full CPU through its whole grace period."""
        if self.job_counter >= self.max_jobs or not self.allow_pick_jobs:
            self._slot_freed.clear()
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for loses a cancellation that
            # arrives as the event is set (app/infrastructure/redis.py, KeepsCancellation).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._idle_wait):
                    await self._slot_freed.wait()
        elif self._found_nothing:
            await self.pool.blpop([keys.wake_key(self.queue_name)], timeout=self._idle_wait)  # type: ignore[arg-type, misc]

    async def _cancel_aborted_jobs(self) -> None:
        if time.monotonic() - self._aborts_read < ABORT_CHECK_SECONDS:
            return
        self._aborts_read = time.monotonic()
        await super()._cancel_aborted_jobs()

    @property
    def publisher(self) -> RedisStreamProgressNotifier:
        publisher: RedisStreamProgressNotifier = self.ctx[PUBLISHER]
        return publisher

    async def _poll_iteration(self) -> None:
        try:
            if self._down_since is not None:
                await self._redis_back(self._down_since)
            await self._wait_for_work()
            await super()._poll_iteration()
            await self._renew_leases()
            await self._expire_questions()
        except (*REDIS_DOWN, WatchError) as exc:
            # redis-py raises WatchError for a connection lost during WATCH (arq's claim of a
            # job): an outage as well, which would otherwise end arq's loop and the process.
            await self._wait_for_redis(exc)

    async def _redis_back(self, since: float) -> None:
        # Before any poll: claim the running jobs again (their leases lapsed during a longer
        # outage, and any worker's poll would start them a second time), then say we are alive
        # at once, for the gateway (Redis may have lost the keys); down still, if that fails.
        await self._renew_leases(reclaim=True)
        await self._report_alive()
        log.info("worker.redis_back", down_s=round(time.monotonic() - since, 1))
        self._down_since = None

    async def record_health(self) -> None:
        """arq's queue-wide health key (its text, which `arq --check` prints) and this worker's
        own (how many workers are alive), written here rather than by arq: arq keeps its key
        one second past the interval, and a worker starved of CPU for longer (a busy host)
        would read as gone, so the gateway would refuse chats it would run. Both keys outlive
        MISSED_BEATS beats instead."""
        if time.monotonic() - self._reported < self.health_check_interval:
            return
        running = sum(not task.done() for task in self.tasks.values())
        queued = await self.pool.zcard(self.queue_name)
        info = (
            f"{datetime.now():%b-%d %H:%M:%S} j_complete={self.jobs_complete} "
            f"j_failed={self.jobs_failed} j_retried={self.jobs_retried} "
            f"j_ongoing={running} queued={queued}"
        )
        await self._report_alive(info.encode())

    async def _report_alive(self, info: bytes = b"redis back") -> None:
        ttl = int((self.health_check_interval * MISSED_BEATS + 1) * 1000)
        async with self.pool.pipeline(transaction=False) as pipe:
            pipe.psetex(keys.worker_key(self.queue_name, os.getpid()), ttl, b"1")
            pipe.psetex(keys.queue_health_key(self.queue_name), ttl, info)
            await pipe.execute()
        self._reported = time.monotonic()

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

    async def _renew_leases(self, *, reclaim: bool = False) -> None:
        """Extend the running jobs' claims; `reclaim`: set them again, lapsed or not."""
        if not reclaim and time.monotonic() - self._renewed < self.lease / 3:
            return
        self._renewed = time.monotonic()
        running = [job_id for job_id, task in self.tasks.items() if not task.done()]
        if not running:
            return
        lease_ms = int(self.lease * 1000)
        async with self.pool.pipeline(transaction=False) as pipe:
            for job_id in running:
                if reclaim:  # arq's own claim value
                    pipe.set(keys.arq_in_progress_key(job_id), b"1", px=lease_ms)
                else:
                    pipe.pexpire(keys.arq_in_progress_key(job_id), lease_ms)
            await pipe.execute()
        await self.publisher.keep_alive(running, self.lease)

    async def run_job(self, job_id: str, score: int) -> None:
        try:
            await super().run_job(job_id, score)
        except REDIS_DOWN as exc:  # the lease lapses; the job runs again once Redis is back
            log.warning("chat.finish_deferred", job_id=job_id, error=str(exc))
        except Exception:  # a bug in one job must not stop the worker
            log.exception("chat.run_job_failed", job_id=job_id)
            # Nor run the job again each time its lease lapses, past max tries (arq counts
            # tries only in the code that just failed): it ends here, once.
            with contextlib.suppress(*REDIS_DOWN):
                await self.finish_failed_job(job_id, UNRUNNABLE)

    async def finish_job(
        self, job_id: str, finish: bool, result_data: bytes | None, *args: Any
    ) -> None:
        # arq's bookkeeping after a job (one transaction: safe to repeat).
        await self.retry.run(
            lambda: super(ChatWorker, self).finish_job(job_id, finish, result_data, *args),
            transient=REDIS_DOWN,
            what="job.finish",
        )
        if finish:
            await self._end_unless_ended(job_id, result_data)

    async def finish_failed_job(self, job_id: str, result_data: bytes | None) -> None:
        await self.retry.run(
            lambda: Worker.finish_failed_job(self, job_id, result_data),
            transient=REDIS_DOWN,
            what="job.finish",
        )
        await self._end_unless_ended(job_id, result_data)

    async def _end_unless_ended(self, job_id: str, result_data: bytes | None) -> None:
        if self.publisher.ended_here(job_id):  # the chat's own ending went out: most jobs
            return
        if _paused(result_data):  # waiting for its answer: its ending comes later
            return
        kind, message = _failure(result_data)
        # The job policy's terminal step: it keeps the user's message of a stored conversation.
        runner: ChatJobRunner = self.ctx[RUNNER]
        ended = await runner.ended_by_queue(job_id, _payload(result_data), failure(kind, message))
        if ended is not None:
            log.warning("chat.ended_by_worker", job_id=job_id, kind=kind, ending=ended.type)


# What arq recorded (the exception's class name) as the kind a client may see (never its text).
FAILURES = {
    "TimeoutError": (ErrorKind.TIMEOUT, "the chat took too long"),
    "CancelledError": (ErrorKind.CANCELLED, "cancelled"),
    "JobExecutionFailed": (ErrorKind.FAILED, "the chat could not be run"),
    "SerializationError": (ErrorKind.INVALID_REQUEST, "the job is unreadable"),
    "DeserializationError": (ErrorKind.INVALID_REQUEST, "the job is unreadable"),
}


# The result recorded for a job arq's own steps failed on (read back by `_failure`).
UNRUNNABLE = serialization.dumps({"r": {"error": "JobExecutionFailed"}})


def _paused(result_data: bytes | None) -> bool:
    try:
        result = serialization.loads(result_data) if result_data else {}
    except ValueError:
        return False
    returned = result.get("r") if isinstance(result, dict) else None
    return isinstance(returned, dict) and returned.get("status") == WAITING_INPUT


def _payload(result_data: bytes | None) -> Any:
    """The job's chat request as arq recorded it with the result (its first argument)."""
    try:
        result = serialization.loads(result_data) if result_data else {}
    except ValueError:
        return None
    args = result.get("a") if isinstance(result, dict) else None
    return args[0] if isinstance(args, list) and args else None


def _failure(result_data: bytes | None) -> tuple[ErrorKind, str]:
    """The kind of failure arq recorded, as a client may see it (never its text)."""
    try:
        result = serialization.loads(result_data) if result_data else {}
        error = result.get("r", {}).get("error") if isinstance(result.get("r"), dict) else None
    except ValueError:
        error = None
    return FAILURES.get(str(error), (ErrorKind.FAILED, "the chat could not be completed"))
