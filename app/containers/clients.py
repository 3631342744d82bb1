"""The shared HTTP pool and the SDK clients built on it."""

from __future__ import annotations

from typing import Any

from dependency_injector import containers, providers

from app.containers.lifecycle import StartupResource
from app.infrastructure.http import http_client_resource
from app.infrastructure.llm import factories
from app.settings import Settings


class Clients(containers.DeclarativeContainer):
    """One HTTP pool per process (httpx or httpx2, `http.client`); the SDK clients are lazy (an
    unselected one needs no key)."""

    settings = providers.Dependency(instance_of=Settings)
    # The process's OpenTelemetry tracer: each pooled request is a client span (None: off).
    tracer: providers.Dependency[Any] = providers.Dependency(default=providers.Object(None))

    http_client = StartupResource(
        http_client_resource, settings=settings.provided.http, tracer=tracer
    )
    openai_client = providers.Singleton(
        factories.openai_client, settings=settings.provided.llm, http_client=http_client
    )
    gemini_client = providers.Resource(
        factories.gemini_client, settings=settings.provided.llm, http_client=http_client
    )
    anthropic_client = providers.Resource(
        factories.anthropic_client, settings=settings.provided.llm, http_client=http_client
    )
