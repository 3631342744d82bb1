"""The composition root: the only module that knows which concrete class serves each port."""

from __future__ import annotations

import inspect
import os
from operator import attrgetter
from typing import Any, TypeVar

from dependency_injector import containers, providers

from app.application.chat.service import ChatService
from app.application.ports.bulk_waste import BulkWasteClientPort
from app.application.ports.character import CharacterClientPort
from app.application.ports.collection_point import CollectionPointClientPort
from app.application.ports.image_generator import ImageGeneratorPort
from app.application.ports.location import LocationClientPort
from app.application.ports.progress import ProgressNotifierPort
from app.application.ports.recyclable_price import RecyclablePriceClientPort
from app.application.ports.weather import WeatherClientPort
from app.application.ports.web_search import WebSearchPort
from app.infrastructure import checkpoint
from app.infrastructure.http import http_client_resource
from app.infrastructure.llm import factories
from app.infrastructure.llm.vision import LLMVisionModel
from app.infrastructure.orchestration.langgraph.graph import create_chat_graph
from app.infrastructure.redis import RedisCache, ResilientCache, redis_resource
from app.infrastructure.retrieval import factories as retrieval
from app.infrastructure.services import factories as services
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

    checkpointer = providers.Selector(
        providers.Callable(attrgetter("checkpoint.backend"), settings),
        memory=providers.Resource(checkpoint.memory_checkpointer),
        sqlite=providers.Resource(
            checkpoint.sqlite_checkpointer, settings=settings.provided.checkpoint
        ),
        postgres=providers.Resource(
            checkpoint.postgres_checkpointer,
            settings=settings.provided.checkpoint,
            postgres=settings.provided.postgres,
        ),
    )


def _fallback_slot(index: int, llm_settings: Any, *adapters: Any) -> Any:
    """The adapter named by `llm.fallbacks[index]`, or None; built only if named."""
    openai, gemini, anthropic, langchain, offline = adapters
    return providers.Selector(
        providers.Callable(factories.fallback_slot(index), llm_settings),
        openai=openai,
        gemini=gemini,
        anthropic=anthropic,
        langchain=langchain,
        offline=offline,
        none=providers.Object(None),
    )


class Container(containers.DeclarativeContainer):
    """The application: settings in, ports out. Override any provider in tests."""

    settings = providers.Dependency(instance_of=Settings)

    gateways = providers.Container(Gateways, settings=settings)

    # Not `settings.provided.llm.provider`: `.provider` is the getter's own attribute.
    llm_provider = providers.Callable(attrgetter("llm.provider"), settings)

    # One provider per adapter, built only when something asks for it.
    openai_llm = providers.Singleton(
        factories.openai_llm, settings=settings.provided.llm, client=gateways.openai_client
    )
    gemini_llm = providers.Singleton(
        factories.gemini_llm, settings=settings.provided.llm, client=gateways.gemini_client
    )
    anthropic_llm = providers.Singleton(
        factories.anthropic_llm, settings=settings.provided.llm, client=gateways.anthropic_client
    )
    langchain_llm = providers.Singleton(
        factories.langchain_llm, settings=settings.provided.llm, http_client=gateways.http_client
    )
    offline_llm = providers.Singleton(factories.offline_llm, settings=settings.provided.llm)

    primary_llm = providers.Selector(
        llm_provider,
        openai=openai_llm,
        gemini=gemini_llm,
        anthropic=anthropic_llm,
        langchain=langchain_llm,
        offline=offline_llm,
    )
    fallback_llms = providers.List(
        _fallback_slot(
            0,
            settings.provided.llm,
            openai_llm,
            gemini_llm,
            anthropic_llm,
            langchain_llm,
            offline_llm,
        ),
        _fallback_slot(
            1,
            settings.provided.llm,
            openai_llm,
            gemini_llm,
            anthropic_llm,
            langchain_llm,
            offline_llm,
        ),
    )
    # What the graph and the worker use: the primary, behind its fallbacks if any are set.
    llm = providers.Singleton(factories.chain, primary=primary_llm, fallbacks=fallback_llms)

    retriever = providers.Selector(
        providers.Callable(attrgetter("retrieval.backend"), settings),
        bm25=providers.Singleton(retrieval.bm25_retriever),
        openai_embeddings=providers.Singleton(
            retrieval.embedding_retriever,
            settings=settings.provided.retrieval,
            client=gateways.openai_client,
        ),
    )
    vision_model = providers.Singleton(LLMVisionModel, llm=llm)
    cache = providers.Selector(
        providers.Callable(lambda s: "on" if s.graph.intent_cache else "off", settings),
        on=providers.Singleton(
            ResilientCache, inner=providers.Singleton(RedisCache, redis=gateways.redis)
        ),
        off=providers.Object(None),
    )
    # Optional tool ports: None (disabled, or no key) means the graph has no such node.
    services_settings = providers.Callable(attrgetter("services"), settings)
    service_cache = providers.Singleton(
        ResilientCache,
        inner=providers.Singleton(RedisCache, redis=gateways.redis, namespace="eco2:svc:"),
    )
    kakao = providers.Singleton(
        services.kakao,
        settings=services_settings,
        http_client=gateways.http_client,
        cache=service_cache,
    )
    character_client: providers.Provider[CharacterClientPort | None] = providers.Singleton(
        services.character,
        settings=services_settings,
        http_client=gateways.http_client,
        cache=service_cache,
    )
    location_client: providers.Provider[LocationClientPort | None] = providers.Singleton(
        services.location, settings=services_settings, client=kakao
    )
    web_search_client: providers.Provider[WebSearchPort | None] = providers.Singleton(
        services.web_search,
        settings=services_settings,
        http_client=gateways.http_client,
        cache=service_cache,
    )
    bulk_waste_client: providers.Provider[BulkWasteClientPort | None] = providers.Singleton(
        services.bulk_waste, settings=services_settings
    )
    weather_client: providers.Provider[WeatherClientPort | None] = providers.Selector(
        providers.Callable(services.weather_backend, services_settings),
        open_meteo=providers.Singleton(
            services.weather_open_meteo,
            settings=services_settings,
            http_client=gateways.http_client,
            cache=service_cache,
        ),
        kma=providers.Singleton(
            services.weather_kma,
            settings=services_settings,
            http_client=gateways.http_client,
            cache=service_cache,
        ),
        off=providers.Object(None),
    )
    collection_point_client: providers.Provider[CollectionPointClientPort | None] = (
        providers.Singleton(
            services.collection_points,
            settings=services_settings,
            client=kakao,
            http_client=gateways.http_client,
            cache=service_cache,
        )
    )
    recyclable_price_client: providers.Provider[RecyclablePriceClientPort | None] = (
        providers.Singleton(services.recyclable_prices, settings=services_settings)
    )
    image_store = providers.Singleton(
        services.image_store, settings=services_settings, redis=gateways.redis
    )
    image_generator: providers.Provider[ImageGeneratorPort | None] = providers.Selector(
        providers.Callable(services.image_backend, services_settings),
        openai=providers.Singleton(
            services.openai_images,
            settings=services_settings,
            client=gateways.openai_client,
            store=image_store,
        ),
        gemini=providers.Singleton(
            services.gemini_images,
            settings=services_settings,
            client=gateways.gemini_client,
            store=image_store,
        ),
        off=providers.Object(None),
    )

    # The worker publishes to Redis Streams, the CLI to the terminal: each overrides this.
    progress_notifier: providers.Provider[ProgressNotifierPort | None] = providers.Object(None)

    # Compiled once per process (as costly as a run); per-job variation goes in the input.
    chat_graph = providers.Singleton(
        create_chat_graph,
        llm=llm,
        retriever=retriever,
        vision_model=vision_model,
        character_client=character_client,
        location_client=location_client,
        web_search_client=web_search_client,
        bulk_waste_client=bulk_waste_client,
        weather_client=weather_client,
        collection_point_client=collection_point_client,
        image_generator=image_generator,
        recyclable_price_client=recyclable_price_client,
        checkpointer=gateways.checkpointer,
        event_publisher=progress_notifier,
        enable_summarization=settings.provided.graph.enable_summarization,
        enable_dynamic_routing=settings.provided.graph.enable_dynamic_routing,
        enable_multi_intent=settings.provided.graph.enable_multi_intent,
        enable_enrichment=settings.provided.graph.enable_enrichment,
        cache=cache,
        top_k=settings.provided.retrieval.top_k,
    )
    chat_service = providers.Singleton(ChatService, graph=chat_graph, notifier=progress_notifier)


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
