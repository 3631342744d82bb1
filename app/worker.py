"""The arq worker: `arq app.worker.WorkerSettings` or `python -m app worker`.

Startup builds the container, opens every pool and compiles the chat graph once; each job is
a lookup of that compiled graph. Shutdown closes every pool.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import structlog
from arq.connections import RedisSettings
from pydantic import ValidationError

from app.containers import Container, PoolResource, create_container, resolve
from app.domain.chat import ChatRequest
from app.domain.events import ProgressUpdate
from app.infrastructure.progress.redis_streams import RedisStreamProgressNotifier, terminal_of
from app.infrastructure.tracing import enable_tracing
from app.observability import configure_from_settings
from app.settings import Settings, load_settings

log = structlog.get_logger(__name__)
JOB_NAME = "chat"


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.get("settings") or load_settings()
    configure_from_settings(settings)
    enable_tracing(settings.tracing)
    container = create_container(settings)
    started = container.init_resources(PoolResource)
    if started is not None:
        await started
    redis = await resolve(container.gateways.redis)
    notifier = RedisStreamProgressNotifier(
        redis, maxlen=settings.worker.stream_maxlen, ttl_seconds=settings.worker.stream_ttl
    )
    container.progress_notifier.override(notifier)
    ctx["container"] = container
    ctx["notifier"] = notifier
    ctx["redis_events"] = redis
    ctx["chat"] = await resolve(container.chat_service)  # compiles the graph, once
    await redis.ping()
    log.info("worker.started", llm=settings.llm.provider, concurrency=settings.worker.concurrency)


async def shutdown(ctx: dict[str, Any]) -> None:
    container: Container | None = ctx.get("container")
    if container is not None:
        stopped = container.shutdown_resources()
        if stopped is not None:
            await stopped
    log.info("worker.stopped")


async def chat(ctx: dict[str, Any], payload: Any) -> dict[str, Any]:
    """One chat turn. Bad input fails the job once with an `error` event, never a retry loop."""
    job_id: str = ctx["job_id"]
    notifier: RedisStreamProgressNotifier = ctx["notifier"]
    structlog.contextvars.bind_contextvars(job_id=job_id, job_try=ctx.get("job_try", 1))
    log.info("chat.started")
    try:
        return await _run(ctx, job_id, payload, notifier)
    finally:
        structlog.contextvars.unbind_contextvars("job_id", "job_try", "thread_id")


async def _run(
    ctx: dict[str, Any], job_id: str, payload: Any, notifier: RedisStreamProgressNotifier
) -> dict[str, Any]:
    try:
        request = ChatRequest.model_validate(payload)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(map(str, e['loc'])) or 'payload'}: {e['msg']}" for e in exc.errors()
        ]
        log.warning("chat.invalid_payload", problems=problems)
        await notifier.publish(
            job_id,
            ProgressUpdate(type="error", data={"kind": "invalid_request", "problems": problems}),
        )
        return {"status": "failed", "error": "invalid_request", "problems": problems}
    structlog.contextvars.bind_contextvars(thread_id=request.thread_id)
    terminal = await terminal_of(ctx["redis_events"], job_id)
    if terminal is not None:  # an earlier try finished (or was cancelled) before arq recorded it
        log.info("chat.already_finished", terminal=terminal)
        return {"status": "completed" if terminal == "done" else "failed", "terminal": terminal}
    job_try = ctx.get("job_try", 1)
    if job_try > 1:
        await notifier.publish(
            job_id,
            ProgressUpdate(
                type="stage", stage="attempt", status="started", data={"attempt": job_try}
            ),
        )
    started = time.monotonic()
    try:
        result = await ctx["chat"].run(request, job_id=job_id)
    except asyncio.CancelledError:
        await _after_cancel(ctx, job_id, notifier, time.monotonic() - started)
        raise
    except Exception as exc:  # ChatService published the `error` event already
        return {"status": "failed", "error": type(exc).__name__, "message": str(exc)}
    log.info(
        "chat.completed",
        intents=[i.value for i in result.intents],
        tokens=result.usage.total_tokens,
        failed_stages=result.failed_stages,
    )
    return {"status": "completed", "result": result.model_dump(mode="json")}


async def _after_cancel(
    ctx: dict[str, Any], job_id: str, notifier: RedisStreamProgressNotifier, elapsed: float
) -> None:
    """Timeout: the job ends with `error`. Abort: the gateway published the terminal event.
    Worker shutdown: nothing terminal; arq hands the job to another worker, which resumes."""
    settings: Settings = ctx["container"].settings()
    if elapsed >= settings.worker.job_timeout * 0.98:
        await asyncio.shield(
            notifier.publish(
                job_id,
                ProgressUpdate(
                    type="error", data={"kind": "timeout", "message": "the chat took too long"}
                ),
            )
        )
        log.warning("chat.timeout", elapsed=round(elapsed, 1))
    else:
        log.warning("chat.cancelled", elapsed=round(elapsed, 1))


def worker_options(settings: Settings) -> dict[str, Any]:
    """arq Worker arguments from our settings."""
    worker = settings.worker
    return {
        "functions": [chat],
        "on_startup": startup,
        "on_shutdown": shutdown,
        "redis_settings": RedisSettings.from_dsn(settings.redis.url),
        "queue_name": worker.queue_name,
        "max_jobs": worker.concurrency,
        "job_timeout": worker.job_timeout,
        "keep_result": worker.keep_result,
        "poll_delay": worker.poll_delay,
        "max_tries": worker.max_tries,
        "job_completion_wait": int(worker.shutdown_grace),
        "health_check_interval": worker.health_check_interval,
        "allow_abort_jobs": True,
        "ctx": {"settings": settings},
    }


class _LazyWorkerSettings(dict[str, Any]):
    """arq reads WorkerSettings as a dict (and `check_health` reads its attributes). This one
    fills itself on first read, so importing the module builds nothing and reads no config."""

    def _resolved(self) -> dict[str, Any]:
        if not dict.__len__(self):
            self.update(worker_options(load_settings()))
        return self

    def items(self) -> Any:
        return dict.items(self._resolved())

    def __getattr__(self, name: str) -> Any:
        try:
            return self._resolved()[name]
        except KeyError:
            raise AttributeError(name) from None


WorkerSettings = _LazyWorkerSettings()


def run(settings: Settings) -> None:
    """`python -m app worker`: arq's worker loop with our options (handles SIGINT/SIGTERM)."""
    from arq.worker import Worker

    Worker(**worker_options(settings)).run()
