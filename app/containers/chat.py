"""The chat graph and what it is built from: retriever, memory, intent cache, the ports."""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from dependency_injector import containers, providers

from app.application.chat import built_in
from app.application.chat.progress import StageReporter
from app.application.chat.service import ChatService
from app.infrastructure import checkpoint
from app.infrastructure.llm.vision import LLMVisionModel
from app.infrastructure.orchestration.langgraph.graph import GraphOptions, create_chat_graph
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
    # The registered tools, each over its port (None: switched off, no node); the knowledge
    # base's two are always on. A new tool is one more row.
    tools = providers.List(
        providers.Callable(built_in.CHARACTER.over, llm, services.character_client),
        providers.Callable(built_in.LOCATION.over, llm, services.location_client),
        providers.Callable(built_in.BULK_WASTE.over, llm, services.bulk_waste_client),
        providers.Callable(built_in.RECYCLABLE_PRICE.over, llm, services.recyclable_price_client),
        providers.Callable(built_in.WEATHER.over, llm, services.weather_client),
        providers.Callable(built_in.COLLECTION_POINT.over, llm, services.collection_point_client),
        providers.Callable(built_in.WEB_SEARCH.over, llm, services.web_search_client),
        providers.Callable(built_in.IMAGE_GENERATION.over, llm, services.image_generator),
    )
    options = providers.Factory(
        GraphOptions,
        summarization=settings.provided.graph.enable_summarization,
        dynamic_routing=settings.provided.graph.enable_dynamic_routing,
        multi_intent=settings.provided.graph.enable_multi_intent,
        enrichment=settings.provided.graph.enable_enrichment,
        top_k=settings.provided.retrieval.top_k,
        vision=vision_model,
        photos=photos,
        intent_cache=intent_cache,
    )
    reporter = providers.Singleton(StageReporter, notifier, tracing)
    graph = providers.Singleton(
        create_chat_graph,
        llm=llm,
        retriever=retriever,
        tools=tools,
        options=options,
        checkpointer=checkpointer,
        reporter=reporter,
    )
    turns = providers.Singleton(LangGraphTurns, graph=graph)
    service = providers.Singleton(
        ChatService,
        graph=turns,
        notifier=notifier,
        input_wait_seconds=settings.provided.graph.input_wait_seconds,
    )
