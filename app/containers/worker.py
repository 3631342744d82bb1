"""The worker process: the chat graph publishing to Redis Streams, run by arq."""

from __future__ import annotations

from typing import Any

import structlog
from dependency_injector import containers, providers

from app.application.jobs import ChatJobRunner
from app.containers.access import Access
from app.containers.chat import Chat
from app.containers.clients import Clients
from app.containers.core import Core
from app.containers.jobs import Jobs
from app.containers.lifecycle import StartupResource, resolve, start, stop
from app.containers.llm import LLMs
from app.containers.services import Services
from app.containers.telemetry import Telemetry
from app.infrastructure.observability import samplers
from app.infrastructure.observability.metrics_server import metrics_server_resource
from app.infrastructure.observability.otel import JobTracing
from app.infrastructure.redis_jobs.publisher import CoalescingProgressNotifier
from app.infrastructure.redis_jobs.worker import PUBLISHER, RUNNER, ChatWorker, worker_options
from app.settings import Settings

log = structlog.get_logger(__name__)


class WorkerContainer(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)

    core = providers.Container(Core, settings=settings, role=providers.Object("worker"))
    clients = providers.Container(Clients, settings=settings, tracer=core.tracer)
    telemetry = providers.Container(
        Telemetry,
        settings=settings,
        tracer=core.tracer,
        langsmith=core.tracing,
        sampled=providers.Callable(
            samplers.worker_gauges,
            redis=core.redis,
            queue_name=settings.provided.worker.queue_name,
            http_client=clients.http_client,
            max_connections=settings.provided.http.max_connections,
        ),
    )
    metrics_server = StartupResource(
        metrics_server_resource, settings=settings.provided.metrics, exposition=telemetry.metrics
    )
    llms = providers.Container(
        LLMs,
        settings=settings,
        clients=clients,
        calls=telemetry.llm_calls,
        metrics=telemetry.metrics,
    )
    services = providers.Container(Services, settings=settings, clients=clients, redis=core.redis)
    jobs = providers.Container(Jobs, settings=settings, redis=core.redis)
    access = providers.Container(Access, settings=settings, redis=core.redis)
    # Stage and delta events gathered for a few ms and written in one round trip.
    notifier = providers.Singleton(
        CoalescingProgressNotifier,
        inner=jobs.publisher,
        window_ms=settings.provided.worker.progress_coalesce_ms,
    )
    chat = providers.Container(
        Chat,
        settings=settings,
        llm=llms.llm,
        redis=core.redis,
        openai_client=clients.openai_client,
        services=services,
        notifier=notifier,
        tracing=telemetry.tracing,
    )
    runner = providers.Singleton(
        ChatJobRunner,
        chats=chat.service,
        publisher=jobs.publisher,
        limiter=access.limiter,
        chat_limits=settings.provided.budget.chat,
        metrics=telemetry.metrics,
        tracing=providers.Singleton(JobTracing, core.tracer),
    )


def arq_options(container: WorkerContainer) -> dict[str, Any]:
    """arq's Worker arguments: startup opens the container and compiles the graph (once),
    shutdown closes every pool."""

    settings = container.settings()

    async def startup(ctx: dict[str, Any]) -> None:
        await start(container)
        ctx[RUNNER] = await resolve(container.runner)
        ctx[PUBLISHER] = await resolve(container.jobs.publisher)
        log.info(
            "worker.started", llm=settings.llm.provider, concurrency=settings.worker.concurrency
        )

    async def shutdown(ctx: dict[str, Any]) -> None:
        await stop(container)
        log.info("worker.stopped")

    return worker_options(settings, on_startup=startup, on_shutdown=shutdown)


def arq_worker(container: WorkerContainer) -> ChatWorker:
    """The worker loop itself: arq's Worker with our lease, terminal and outage handling."""
    return ChatWorker(**arq_options(container))
