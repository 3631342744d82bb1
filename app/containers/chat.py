"""The chat graph and what it is built from: retriever, memory, intent cache, the ports."""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from dependency_injector import containers, providers

from app.application.chat.service import ChatService
from app.infrastructure import checkpoint
from app.infrastructure.llm.vision import LLMVisionModel
from app.infrastructure.orchestration.langgraph.graph import create_chat_graph
from app.infrastructure.orchestration.langgraph.turns import LangGraphTurns
from app.infrastructure.redis import RedisCache, ResilientCache
from app.infrastructure.retrieval import factories as retrieval
from app.infrastructure.services.image_store import photo_store
from app.settings import Settings


class Chat(containers.DeclarativeContainer):
    """Compiled once per process (as costly as a run); per-job variation goes in the input."""

    settings = providers.Dependency(instance_of=Settings)
    llm: providers.Dependency[Any] = providers.Dependency()
    redis: providers.Dependency[Any] = providers.Dependency()
    openai_client: providers.Dependency[Any] = providers.Dependency()
    services = providers.DependenciesContainer()
    # Where progress goes: each entry point's container gives its own.
    notifier: providers.Dependency[Any] = providers.Dependency()
    # A span per node (TracingPort); none in the CLI.
    tracing: providers.Dependency[Any] = providers.Dependency(default=providers.Object(None))

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
    # Kiwi's model takes seconds to load: one per process, built with the graph at start-up.
    morphology = providers.Selector(
        providers.Callable(retrieval.morphology_choice, settings.provided.retrieval),
        kiwi=providers.Singleton(retrieval.kiwi_morphology),
        rules=providers.Singleton(retrieval.rule_morphology),
    )
    retriever = providers.Selector(
        providers.Callable(attrgetter("retrieval.backend"), settings),
        bm25=providers.Singleton(retrieval.bm25_retriever, morphology=morphology),
        openai_embeddings=providers.Singleton(
            retrieval.embedding_retriever,
            settings=settings.provided.retrieval,
            client=openai_client,
            morphology=morphology,
        ),
    )
    vision_model = providers.Singleton(LLMVisionModel, llm=llm)
    photos = providers.Singleton(
        photo_store, redis=redis, ttl_seconds=settings.provided.gateway.upload_ttl_seconds
    )
    intent_cache = providers.Selector(
        providers.Callable(lambda s: "on" if s.graph.intent_cache else "off", settings),
        on=providers.Singleton(ResilientCache, inner=providers.Singleton(RedisCache, redis=redis)),
        off=providers.Object(None),
    )
    graph = providers.Singleton(
        create_chat_graph,
        llm=llm,
        retriever=retriever,
        vision_model=vision_model,
        character_client=services.character_client,
        location_client=services.location_client,
        web_search_client=services.web_search_client,
        bulk_waste_client=services.bulk_waste_client,
        weather_client=services.weather_client,
        collection_point_client=services.collection_point_client,
        image_generator=services.image_generator,
        recyclable_price_client=services.recyclable_price_client,
        photo_store=photos,
        checkpointer=checkpointer,
        event_publisher=notifier,
        enable_summarization=settings.provided.graph.enable_summarization,
        enable_dynamic_routing=settings.provided.graph.enable_dynamic_routing,
        enable_multi_intent=settings.provided.graph.enable_multi_intent,
        enable_enrichment=settings.provided.graph.enable_enrichment,
        cache=intent_cache,
        top_k=settings.provided.retrieval.top_k,
        tracing=tracing,
    )
    turns = providers.Singleton(LangGraphTurns, graph=graph)
    service = providers.Singleton(
        ChatService,
        graph=turns,
        notifier=notifier,
        input_wait_seconds=settings.provided.graph.input_wait_seconds,
    )
