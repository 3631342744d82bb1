"""The composition root: the only module that knows which concrete class serves each port."""

from __future__ import annotations

import inspect
import os
from operator import attrgetter
from typing import Any, TypeVar

from dependency_injector import containers, providers

from app.infrastructure.http import http_client_resource
from app.infrastructure.llm import factories
from app.infrastructure.redis import redis_resource
from app.settings import Settings, load_settings

T = TypeVar("T")


class PoolResource(providers.Resource[Any]):
    """A Resource opened at startup for every configuration (pools every worker needs).

    SDK clients stay plain, lazy `Resource`s: they are built on first use, so a provider
    that is not selected is never constructed and never needs its key.
    """


class Gateways(containers.DeclarativeContainer):
    """Pooled clients to the outside world, each closed at shutdown."""

    settings = providers.Dependency(instance_of=Settings)

    http_client = PoolResource(http_client_resource, settings=settings.provided.http)
    redis = PoolResource(redis_resource, settings=settings.provided.redis)

    openai_client = providers.Singleton(
        factories.openai_client, settings=settings.provided.llm, http_client=http_client
    )
    gemini_client = providers.Resource(
        factories.gemini_client, settings=settings.provided.llm, http_client=http_client
    )
    anthropic_client = providers.Resource(
        factories.anthropic_client, settings=settings.provided.llm
    )


class Container(containers.DeclarativeContainer):
    """The application: settings in, ports out. Override any provider in tests."""

    settings = providers.Dependency(instance_of=Settings)

    gateways = providers.Container(Gateways, settings=settings)

    # Not `settings.provided.llm.provider`: `.provider` is the getter's own attribute.
    llm_provider = providers.Callable(attrgetter("llm.provider"), settings)

    llm = providers.Selector(
        llm_provider,
        openai=providers.Singleton(
            factories.openai_llm, settings=settings.provided.llm, client=gateways.openai_client
        ),
        gemini=providers.Singleton(
            factories.gemini_llm, settings=settings.provided.llm, client=gateways.gemini_client
        ),
        anthropic=providers.Singleton(
            factories.anthropic_llm,
            settings=settings.provided.llm,
            client=gateways.anthropic_client,
        ),
        langchain=providers.Singleton(
            factories.langchain_llm,
            settings=settings.provided.llm,
            http_client=gateways.http_client,
        ),
        offline=providers.Singleton(factories.offline_llm, settings=settings.provided.llm),
    )


def create_container(
    settings: Settings | None = None, config_file: str | os.PathLike[str] | None = None
) -> Container:
    """Build (not start) the container from a settings object or a YAML path."""
    if settings is None:
        settings = load_settings(config_file)
    return Container(settings=settings)


async def resolve(provider: Any) -> Any:
    """Call a provider; await the result when an async Resource made it a future."""
    value = provider()
    if inspect.isawaitable(value):
        value = await value
    return value
