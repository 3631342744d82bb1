"""The worker side of the chat jobs: arq's job function, its runner, and arq's options."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import structlog
from pydantic import ValidationError

from app.domain.chat import ChatRequest, ChatResult
from app.domain.events import ProgressUpdate
from app.infrastructure.jobs import serialization
from app.infrastructure.jobs.arq_jobs import arq_redis_settings
from app.infrastructure.progress.redis_streams import RedisStreamProgressNotifier
from app.settings import Settings

log = structlog.get_logger(__name__)
Hook = Callable[[dict[str, Any]], Awaitable[None]]
RUNNER = "chat_runner"  # where startup leaves the runner in arq's ctx


class ChatTurns(Protocol):
    async def run(self, request: ChatRequest, job_id: str | None = None) -> ChatResult: ...


class ChatJobRunner:
    """One chat job: validate the payload once, run the turn, and leave a terminal event.

    A bad payload fails once with an `error` event, never a retry loop. A re-run of a job
    that already ended (arq is at-least-once) does nothing.
    """

    def __init__(
        self, chats: ChatTurns, publisher: RedisStreamProgressNotifier, *, job_timeout: float
    ) -> None:
        self._chats = chats
        self._publisher = publisher
        self._job_timeout = job_timeout

    async def run(self, job_id: str, payload: Any, attempt: int) -> dict[str, Any]:
        structlog.contextvars.bind_contextvars(job_id=job_id, job_try=attempt)
        log.info("chat.started")
        try:
            return await self._run(job_id, payload, attempt)
        finally:
            structlog.contextvars.unbind_contextvars("job_id", "job_try", "thread_id")

    async def _run(self, job_id: str, payload: Any, attempt: int) -> dict[str, Any]:
        try:
            request = ChatRequest.model_validate(payload)
        except ValidationError as exc:
            return await self._invalid(job_id, exc)
        structlog.contextvars.bind_contextvars(thread_id=request.thread_id)
        terminal = await self._publisher.terminal(job_id)
        if terminal is not None:  # an earlier try ended (or was cancelled) before arq knew
            log.info("chat.already_finished", terminal=terminal)
            return {"status": terminal}
        if attempt > 1:
            started = ProgressUpdate(
                type="stage", stage="attempt", status="started", data={"attempt": attempt}
            )
            await self._publisher.publish_attempt(job_id, started, attempt=attempt)
        began = time.monotonic()
        try:
            result = await self._chats.run(request, job_id=job_id)
        except asyncio.CancelledError:
            await self._after_cancel(job_id, time.monotonic() - began)
            raise
        except Exception as exc:  # the chat service published the `error` event already
            return {"status": "error", "error": type(exc).__name__}
        log.info(
            "chat.completed",
            intents=[i.value for i in result.intents],
            tokens=result.usage.total_tokens,
            failed_stages=result.failed_stages,
        )
        return {"status": "done"}

    async def _invalid(self, job_id: str, exc: ValidationError) -> dict[str, Any]:
        problems = [
            f"{'.'.join(map(str, e['loc'])) or 'payload'}: {e['msg']}" for e in exc.errors()
        ]
        log.warning("chat.invalid_payload", problems=problems)
        data = {"kind": "invalid_request", "message": "the job is malformed", "problems": problems}
        await self._publisher.publish(job_id, ProgressUpdate(type="error", data=data))
        return {"status": "error", "error": "invalid_request"}

    async def _after_cancel(self, job_id: str, elapsed: float) -> None:
        """Timeout: the job ends with `error`. Abort: the canceller published the terminal
        event. Worker shutdown: nothing terminal; arq hands the job to another worker."""
        if elapsed >= self._job_timeout * 0.98:
            timeout = ProgressUpdate(
                type="error", data={"kind": "timeout", "message": "the chat took too long"}
            )
            await asyncio.shield(self._publisher.publish(job_id, timeout))
            log.warning("chat.timeout", elapsed=round(elapsed, 1))
        else:
            log.warning("chat.cancelled", elapsed=round(elapsed, 1))


async def chat(ctx: dict[str, Any], payload: Any) -> dict[str, Any]:
    """arq's job function: one chat turn through the runner the worker's startup built."""
    runner: ChatJobRunner = ctx[RUNNER]
    return await runner.run(ctx["job_id"], payload, int(ctx.get("job_try", 1)))


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
    }
