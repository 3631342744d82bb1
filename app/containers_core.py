"""What every process composes, and nothing of the chat graph: how a container starts and stops,
logging and tracing, Redis, metrics, the job queue, access. The gateway builds from this module
alone (import-linter proves it never reaches LangGraph or an LLM SDK); `app.containers` builds
the worker and the CLI on top of it.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from operator import attrgetter
from typing import Any, TypeVar

import structlog
from dependency_injector import containers, providers

from app.application.access.authenticator import Authenticator
from app.application.retry import RetryPolicy
from app.infrastructure.access.file_keys import FileApiKeyStore
from app.infrastructure.access.postgres_keys import postgres_key_store
from app.infrastructure.access.rate_limits import RedisUsageLimiter
from app.infrastructure.access.redis_threads import RedisThreadRegistry
from app.infrastructure.conversations.postgres_store import postgres_conversation_store
from app.infrastructure.conversations.sqlite_store import sqlite_conversation_store
from app.infrastructure.observability import samplers
from app.infrastructure.observability.langsmith import tracing_resource
from app.infrastructure.observability.llm_calls import LLMCalls
from app.infrastructure.observability.logging import configure_from_settings, logging_resource
from app.infrastructure.observability.otel import tracer_resource, tracing_port
from app.infrastructure.observability.prometheus import NoMetrics, prometheus_metrics
from app.infrastructure.progress.terminal import terminal_view
from app.infrastructure.reachability import require_reachable
from app.infrastructure.redis import redis_resource
from app.infrastructure.redis_jobs.hub import stream_hub_resource
from app.infrastructure.redis_jobs.liveness import Reaper
from app.infrastructure.redis_jobs.publisher import (
    CoalescingProgressNotifier,
    RedisStreamProgressNotifier,
)
from app.infrastructure.redis_jobs.queue import ArqChatJobs
from app.settings import Settings

log = structlog.get_logger(__name__)
C = TypeVar("C", bound=containers.Container)


class StartupResource(providers.Resource[Any]):
    """A Resource opened at start (logging, pools). Other Resources (SDK clients) stay lazy:
    built on first use, so a provider that is not selected never needs its key."""


class FirstResource(StartupResource):
    """Opened before every other StartupResource: logging, so their start is logged."""


async def start(container: containers.Container) -> None:
    """Open every StartupResource of the container and of the containers it composes."""
    for kind in (FirstResource, StartupResource):
        opened = container.init_resources(kind)
        if opened is not None:
            await opened


async def stop(container: containers.Container) -> None:
    """Close what was opened: what uses the pools first, then the pools, then logging. (The
    container alone closes them all at once, so a client could outlive its pool.)"""
    opened = [r for r in container.traverse(types=[providers.Resource]) if r.initialized]
    for phase in (
        [r for r in opened if not isinstance(r, StartupResource)],
        [r for r in opened if isinstance(r, StartupResource) and not isinstance(r, FirstResource)],
    ):
        closing = [closed for r in phase if (closed := r.shutdown()) is not None]
        await asyncio.gather(*(c for c in closing if inspect.isawaitable(c)))
    log.info("app.stopped")
    closed = container.shutdown_resources()  # logging, last
    if closed is not None:
        await closed


@asynccontextmanager
async def running(container: C) -> AsyncIterator[C]:
    """`async with running(Container(settings=...)) as app:` start, then always stop."""
    await start(container)
    try:
        yield container
    finally:
        await stop(container)


async def resolve(provider: Any) -> Any:
    """Call a provider; await the result when an async Resource made it a future."""
    value = provider()
    if inspect.isawaitable(value):
        value = await value
    return value


class Startup(containers.DeclarativeContainer):
    """Before a container starts: logging first (uvicorn and arq log before any lifespan or
    startup hook runs), then one try at the services the process cannot run without."""

    settings = providers.Dependency(instance_of=Settings)
    logging = providers.Callable(configure_from_settings, settings)
    # `await startup.require(redis=True, checkpoint=True)`: ServiceUnreachable names the fix.
    require = providers.Coroutine(require_reachable, settings)


class Terminal(containers.DeclarativeContainer):
    """The CLI's view: light, so `ask` shows it at once and builds the chat graph behind it."""

    json_lines = providers.Dependency(instance_of=bool, default=False)  # `--json`
    view = providers.Singleton(terminal_view, json_lines=json_lines)


class Core(containers.DeclarativeContainer):
    """Logging, LangSmith and OpenTelemetry tracing, and the process's Redis client."""

    settings = providers.Dependency(instance_of=Settings)
    role: providers.Dependency[Any] = providers.Dependency(default=providers.Object("cli"))

    logging = FirstResource(logging_resource, settings=settings)
    tracing = StartupResource(tracing_resource, settings=settings.provided.tracing)
    # OpenTelemetry (None when off): opened before the HTTP pool, whose requests it traces.
    tracer = StartupResource(tracer_resource, settings=settings.provided.telemetry, role=role)
    # Connections open on first use, so a CLI run without Redis works until it needs one.
    redis = StartupResource(
        redis_resource,
        settings=settings.provided.redis,
        queue_name=settings.provided.worker.queue_name,
    )
    # How a chat waits out an outage of Redis or PostgreSQL: one policy for every step.
    retry = providers.Singleton(
        RetryPolicy,
        deadline=settings.provided.worker.retry_deadline,
        first_delay=settings.provided.worker.retry_first_delay,
        max_delay=settings.provided.worker.retry_max_delay,
    )


class Telemetry(containers.DeclarativeContainer):
    """Metrics and traces of one process. A scrape reads the queue's depth, and what the entry
    point adds: a worker its HTTP pool, a gateway its streams. A one-question CLI process has
    no scrape (`scraped=False`): its metrics go nowhere."""

    settings = providers.Dependency(instance_of=Settings)
    core = providers.DependenciesContainer()
    http_client: providers.Dependency[Any] = providers.Dependency(default=providers.Object(None))
    hub: providers.Dependency[Any] = providers.Dependency(default=providers.Object(None))
    scraped = providers.Dependency(instance_of=bool, default=True)

    tracing = providers.Singleton(tracing_port, core.tracer)
    metrics = providers.Selector(
        providers.Callable(
            lambda s, on: "on" if on and s.metrics.enabled else "off", settings, scraped
        ),
        on=providers.Singleton(
            prometheus_metrics,
            sampled=providers.Callable(
                samplers.gauges,
                core.redis,
                settings.provided.worker.queue_name,
                http_client=http_client,
                max_connections=settings.provided.http.max_connections,
                hub=hub,
            ),
        ),
        off=providers.Singleton(NoMetrics),
    )
    llm_calls = providers.Singleton(
        LLMCalls, metrics=metrics, tracer=core.tracer, langsmith=core.tracing
    )


class Jobs(containers.DeclarativeContainer):
    """Chats as jobs on Redis: the event-stream publisher, the stream hub, the queue."""

    settings = providers.Dependency(instance_of=Settings)
    redis: providers.Dependency[Any] = providers.Dependency()
    retry = providers.Dependency(instance_of=RetryPolicy)

    publisher = providers.Singleton(
        RedisStreamProgressNotifier,
        redis=redis,
        maxlen=settings.provided.worker.stream_maxlen,
        ttl_seconds=settings.provided.worker.stream_ttl,
        retry=retry,
    )
    reaper = providers.Singleton(
        Reaper, redis=redis, publisher=publisher, grace_seconds=settings.provided.worker.lost_after
    )
    # The worker's notifier: stage and delta events gathered for a few ms, one round trip.
    coalescing = providers.Singleton(
        CoalescingProgressNotifier,
        inner=publisher,
        window_ms=settings.provided.worker.progress_coalesce_ms,
    )
    # One reader for every followed stream of this process (lazy: opened on first use).
    hub = providers.Resource(
        stream_hub_resource,
        redis=redis,
        reaper=reaper,
        open_wait=settings.provided.redis.follow_wait,
    )
    chat_jobs = providers.Singleton(
        ArqChatJobs,
        redis=redis,
        publisher=publisher,
        hub=hub,
        reaper=reaper,
        queue_name=settings.provided.worker.queue_name,
        require_worker=settings.provided.gateway.require_worker,
        max_queued=settings.provided.limits.max_queue_depth,
    )


class Access(containers.DeclarativeContainer):
    """Who may use the service and how much: API keys, the authenticator, threads, limits."""

    settings = providers.Dependency(instance_of=Settings)
    redis: providers.Dependency[Any] = providers.Dependency()

    key_store = providers.Selector(
        providers.Callable(attrgetter("auth.backend"), settings),
        file=providers.Singleton(FileApiKeyStore, path=settings.provided.auth.keys_file),
        postgres=providers.Resource(postgres_key_store, settings=settings.provided.postgres),
    )
    authenticator = providers.Singleton(
        Authenticator,
        store=key_store,
        allow_anonymous=settings.provided.auth.allow_anonymous,
        cache_seconds=settings.provided.auth.cache_seconds,
    )
    threads = providers.Singleton(
        RedisThreadRegistry, redis=redis, ttl_days=settings.provided.auth.thread_ttl_days
    )
    limiter = providers.Singleton(
        RedisUsageLimiter,
        redis=redis,
        url=settings.provided.redis.url,
        requests_per_minute=settings.provided.limits.requests_per_minute,
        tokens_per_day=settings.provided.limits.tokens_per_day,
        daily_cost_usd=settings.provided.budget.principal_daily_cost_usd,
    )

    # --- Conversations (issue 19, helper h4; the lead moves this block where it belongs) ----
    # The conversation store: SQLite (embedded default; tables made on start) or PostgreSQL
    # (tables made by `python -m app migrate`). Lazy, like every Resource that is not a pool of
    # the process: opened by the first call that needs it.
    conversations = providers.Selector(
        providers.Callable(attrgetter("conversations.backend"), settings),
        sqlite=providers.Resource(
            sqlite_conversation_store, settings=settings.provided.conversations
        ),
        postgres=providers.Resource(
            postgres_conversation_store,
            settings=settings.provided.conversations,
            postgres=settings.provided.postgres,
        ),
    )
