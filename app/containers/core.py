"""What every process has: logging, LangSmith and OpenTelemetry tracing, its Redis client."""

from __future__ import annotations

from typing import Any

from dependency_injector import containers, providers

from app.containers.lifecycle import FirstResource, StartupResource
from app.infrastructure.observability.langsmith import tracing_resource
from app.infrastructure.observability.logging import logging_resource
from app.infrastructure.observability.otel import tracer_resource
from app.infrastructure.redis import redis_resource
from app.settings import Settings


class Core(containers.DeclarativeContainer):
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
