"""The composition root: every concrete class of the worker, the CLI and Studio is chosen here.

Read it top down: the HTTP pool and SDK clients (`Clients`), the chat runtime (`Chat`: the LLM
chain, the tools' adapters, retrieval, memory, the compiled graph), then one container per entry
point (`WorkerContainer`, `CliContainer`, `StudioContainer`), each a few lines composing the
parts. What every process shares (logging, Redis, jobs, access, telemetry, start/stop) is in
`app.containers_core`; the gateway's container is `app.containers_gateway`, which never
imports this module (it would pull LangGraph and the LLM SDKs into the gateway). Kiwi and the
keyword index are `app.containers_retrieval`'s (`Retrieval`), which a forking worker builds
before the fork.

One mechanism chooses an adapter: a `Selector` keyed by settings, with an explicit `off`.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter, methodcaller
from typing import Any

import structlog
from dependency_injector import containers, providers

from app.application.chat import built_in
from app.application.chat.progress import StageReporter
from app.application.chat.recording import TurnRecorder
from app.application.chat.service import ChatService
from app.application.jobs import ChatJobRunner
from app.application.ports.jobs import ProgressViewPort
from app.application.retry import RetryPolicy
from app.containers_core import (
    Access,
    Core,
    Jobs,
    StartupResource,
    Telemetry,
    Terminal,
    resolve,
    start,
    stop,
)
from app.containers_retrieval import Retrieval
from app.infrastructure import checkpoint
from app.infrastructure.http import http_client_resource
from app.infrastructure.llm import factories as sdk
from app.infrastructure.llm.vision import LLMVisionModel
from app.infrastructure.observability.metrics_server import metrics_server_resource
from app.infrastructure.observability.otel import JobTracing
from app.infrastructure.orchestration.langgraph.graph import GraphOptions, create_chat_graph
from app.infrastructure.orchestration.langgraph.turns import LangGraphTurns
from app.infrastructure.progress.terminal import TerminalProgressNotifier
from app.infrastructure.redis import RedisCache, ResilientCache, redis_client
from app.infrastructure.redis_jobs import keys
from app.infrastructure.redis_jobs.worker import PUBLISHER, RUNNER, ChatWorker, worker_options
from app.infrastructure.retrieval import factories as retrieval_factories
from app.infrastructure.services.bulk_waste import CsvBulkWasteFees
from app.infrastructure.services.characters import (
    CatalogCharacterClient,
    HttpCharacterClient,
    load_catalog,
)
from app.infrastructure.services.http import ServiceHttp, authorization
from app.infrastructure.services.image_store import LocalImageStore, RedisImageStore, photo_store
from app.infrastructure.services.images import GeminiImageGenerator, OpenAIImageGenerator
from app.infrastructure.services.kakao import KakaoCollectionPoints, KakaoLocalClient
from app.infrastructure.services.keco import OdcloudCollectionPoints
from app.infrastructure.services.kma import KmaWeather
from app.infrastructure.services.prices import CsvRecyclablePrices
from app.infrastructure.services.tavily import TavilyWebSearch
from app.infrastructure.services.weather import OpenMeteoWeather
from app.settings import Settings

log = structlog.get_logger(__name__)
OFF: providers.Object[None] = providers.Object(None)  # a switched-off tool: no node


def backend(tool: str) -> Any:
    """What the `services` settings choose for `tool` (`Selector` key)."""
    return methodcaller("backend", tool)


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
        sdk.openai_client, settings=settings.provided.llm, http_client=http_client
    )
    gemini_client = providers.Resource(
        sdk.gemini_client, settings=settings.provided.llm, http_client=http_client
    )
    anthropic_client = providers.Resource(
        sdk.anthropic_client, settings=settings.provided.llm, http_client=http_client
    )


class Chat(containers.DeclarativeContainer):
    """The chat runtime the worker and the CLI share: compiled once per process (as costly as a
    run); per-job values go in the run's input and context."""

    settings = providers.Dependency(instance_of=Settings)
    clients = providers.DependenciesContainer()
    redis: providers.Dependency[Any] = providers.Dependency()
    # Where progress goes (Redis Streams in the worker, the terminal in the CLI).
    notifier: providers.Dependency[Any] = providers.Dependency()
    # What each model call leaves behind (metrics, span, LangSmith run), a span per node.
    telemetry = providers.DependenciesContainer()
    # Where stored conversations' turns are written (the worker's; None: memory only).
    conversations: providers.Dependency[Any] = providers.Dependency(default=OFF)
    # How a step that touches Redis or PostgreSQL waits out an outage (the process's policy).
    retry = providers.Dependency(instance_of=RetryPolicy)

    # --- the LLM: `llm.provider`, then each of `llm.fallbacks`, built only when named
    llm_settings = settings.provided.llm
    llm_adapters = providers.Aggregate(
        openai=providers.Singleton(
            sdk.openai_llm, llm_settings, client=clients.openai_client, calls=telemetry.llm_calls
        ),
        gemini=providers.Singleton(
            sdk.gemini_llm, llm_settings, client=clients.gemini_client, calls=telemetry.llm_calls
        ),
        anthropic=providers.Singleton(
            sdk.anthropic_llm,
            llm_settings,
            client=clients.anthropic_client,
            calls=telemetry.llm_calls,
        ),
        langchain=providers.Singleton(
            sdk.langchain_llm,
            llm_settings,
            http_client=clients.http_client,
            calls=telemetry.llm_calls,
        ),
        offline=providers.Singleton(sdk.offline_llm, llm_settings, calls=telemetry.llm_calls),
    )
    llm = providers.Singleton(
        sdk.llm_chain, llm_settings, adapters=llm_adapters.provider, metrics=telemetry.metrics
    )

    # --- the tools' adapters (`services:` settings); `off` leaves the tool out of the graph
    services = providers.Callable(attrgetter("services"), settings)
    cache = providers.Singleton(
        ResilientCache,
        inner=providers.Singleton(RedisCache, redis=redis, namespace=keys.SERVICE_CACHE),
    )
    kakao = providers.Singleton(
        KakaoLocalClient,
        providers.Singleton(
            ServiceHttp,
            clients.http_client,
            services.provided.kakao,
            provider="kakao",
            headers=providers.Callable(authorization, "KakaoAK", services.provided.kakao.api_key),
            cache=cache,
        ),
    )
    location_client = providers.Selector(
        providers.Callable(backend("location"), services), kakao=kakao, off=OFF
    )
    collection_point_client = providers.Selector(
        providers.Callable(backend("collection_point"), services),
        kakao=providers.Singleton(KakaoCollectionPoints, kakao),
        keco=providers.Singleton(
            OdcloudCollectionPoints,
            providers.Singleton(
                ServiceHttp,
                clients.http_client,
                services.provided.collection_points,
                provider="keco",
                cache=cache,
            ),
            services.provided.collection_points,
        ),
        off=OFF,
    )
    web_search_client = providers.Selector(
        providers.Callable(backend("web_search"), services),
        tavily=providers.Singleton(
            TavilyWebSearch,
            providers.Singleton(
                ServiceHttp,
                clients.http_client,
                services.provided.tavily,
                provider="tavily",
                headers=providers.Callable(
                    authorization, "Bearer", services.provided.tavily.api_key
                ),
                cache=cache,
            ),
            search_depth=services.provided.tavily.search_depth,
        ),
        off=OFF,
    )
    weather_settings = services.provided.weather
    weather_client = providers.Selector(
        providers.Callable(backend("weather"), services),
        open_meteo=providers.Singleton(
            OpenMeteoWeather,
            providers.Singleton(
                ServiceHttp,
                clients.http_client,
                weather_settings,
                provider="open-meteo",
                cache=cache,
            ),
            providers.Singleton(
                ServiceHttp,
                clients.http_client,
                weather_settings,
                provider="open-meteo-geocoding",
                cache=cache,
                base_url=weather_settings.geocoding_url,
            ),
        ),
        kma=providers.Singleton(
            KmaWeather,
            providers.Singleton(
                ServiceHttp,
                clients.http_client,
                weather_settings,
                provider="kma",
                cache=cache,
                base_url=weather_settings.kma_base_url,
            ),
            weather_settings.api_key.get_secret_value.call(),
        ),
        off=OFF,
    )
    character_client = providers.Selector(
        providers.Callable(backend("character"), services),
        catalog=providers.Singleton(CatalogCharacterClient, providers.Callable(load_catalog)),
        http=providers.Singleton(
            HttpCharacterClient,
            providers.Singleton(
                ServiceHttp,
                clients.http_client,
                services.provided.character,
                provider="characters",
                headers=providers.Callable(
                    authorization, "Bearer", services.provided.character.api_key
                ),
                cache=cache,
            ),
        ),
        off=OFF,
    )
    bulk_waste_client = providers.Selector(
        providers.Callable(backend("bulk_waste"), services),
        csv=providers.Singleton(
            CsvBulkWasteFees,
            services.provided.bulk_waste.path,
            rules_path=services.provided.bulk_waste.rules_path,
        ),
        off=OFF,
    )
    recyclable_price_client = providers.Selector(
        providers.Callable(backend("recyclable_price"), services),
        csv=providers.Singleton(CsvRecyclablePrices, services.provided.recyclable_prices.path),
        off=OFF,
    )
    images = services.provided.images
    image_store = providers.Selector(
        providers.Callable(attrgetter("images.storage"), services),
        local=providers.Singleton(LocalImageStore, images.directory),
        redis=providers.Singleton(RedisImageStore, redis, images.ttl, retry=retry),
    )
    image_generator = providers.Selector(
        providers.Callable(backend("image_generation"), services),
        openai=providers.Singleton(
            OpenAIImageGenerator,
            clients.openai_client,
            image_store,
            model=images.model,
            size=images.size,
            url_prefix=images.url_prefix,
        ),
        gemini=providers.Singleton(
            GeminiImageGenerator,
            clients.gemini_client,
            image_store,
            model=images.model,
            url_prefix=images.url_prefix,
        ),
        off=OFF,
    )

    # --- retrieval, memory, the graph
    retrieval = providers.DependenciesContainer()  # Kiwi and the keyword index (`Retrieval`)
    retriever = providers.Selector(
        providers.Callable(attrgetter("retrieval.backend"), settings),
        bm25=providers.Singleton(
            retrieval_factories.bm25_retriever,
            morphology=retrieval.morphology,
            index=retrieval.keyword_index,
        ),
        openai_embeddings=providers.Singleton(
            retrieval_factories.embedding_retriever,
            settings=settings.provided.retrieval,
            client=clients.openai_client,
            morphology=retrieval.morphology,
            index=retrieval.keyword_index,
        ),
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
            retry=retry,
        ),
    )
    vision_model = providers.Singleton(LLMVisionModel, llm=llm)
    photos = providers.Singleton(
        photo_store,
        redis=redis,
        ttl_seconds=settings.provided.gateway.upload_ttl_seconds,
        retry=retry,
    )
    intent_cache = providers.Selector(
        providers.Callable(lambda s: "on" if s.graph.intent_cache else "off", settings),
        on=providers.Singleton(ResilientCache, inner=providers.Singleton(RedisCache, redis=redis)),
        off=OFF,
    )
    # The registered tools, each over its adapter (`off`: no node, but still recognised, so the
    # answer can say it is off and the knowledge base can stand in). A new tool is one row.
    tools = providers.List(
        providers.Callable(built_in.CHARACTER.over, llm, character_client),
        providers.Callable(built_in.LOCATION.over, llm, location_client),
        providers.Callable(built_in.BULK_WASTE.over, llm, bulk_waste_client),
        providers.Callable(built_in.RECYCLABLE_PRICE.over, llm, recyclable_price_client),
        providers.Callable(built_in.WEATHER.over, llm, weather_client),
        providers.Callable(built_in.COLLECTION_POINT.over, llm, collection_point_client),
        providers.Callable(built_in.WEB_SEARCH.over, llm, web_search_client),
        providers.Callable(built_in.IMAGE_GENERATION.over, llm, image_generator),
    )
    message_input = providers.Dependency(instance_of=bool, default=False)
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
        message_input=message_input,
    )
    reporter = providers.Singleton(StageReporter, notifier, telemetry.tracing)
    # The graph's memory is ours unless its host keeps the threads: LangGraph's server gives
    # every run its own checkpointer (and its input as JSON: a message, not a ChatRequest).
    graph_checkpointer: providers.Dependency[Any] = providers.Dependency(default=checkpointer)
    graph = providers.Singleton(
        create_chat_graph,
        llm=llm,
        retriever=retriever,
        tools=tools,
        options=options,
        checkpointer=graph_checkpointer,
        reporter=reporter,
    )
    turns = providers.Singleton(LangGraphTurns, graph=graph)
    recorder = providers.Singleton(TurnRecorder.over, conversations, retry=retry)
    service = providers.Singleton(
        ChatService,
        graph=turns,
        notifier=notifier,
        input_wait_seconds=settings.provided.graph.input_wait_seconds,
        recorder=recorder,
    )


class WorkerContainer(containers.DeclarativeContainer):
    """The worker: the chat graph publishing to Redis Streams, run by arq."""

    settings = providers.Dependency(instance_of=Settings)
    core = providers.Container(Core, settings=settings, role=providers.Object("worker"))
    # arq's loop polls on a client of its own (from the same factory as core.redis: standalone
    # or Sentinel), made before the container starts; arq closes it when the worker stops.
    queue_redis = providers.Singleton(
        redis_client, settings.provided.redis, settings.provided.worker.queue_name
    )
    clients = providers.Container(Clients, settings=settings, tracer=core.tracer)
    telemetry = providers.Container(
        Telemetry, settings=settings, core=core, http_client=clients.http_client
    )
    metrics_server = StartupResource(
        metrics_server_resource, settings=settings.provided.metrics, exposition=telemetry.metrics
    )
    jobs = providers.Container(Jobs, settings=settings, redis=core.redis, retry=core.retry)
    access = providers.Container(Access, settings=settings, redis=core.redis)
    # `WorkerContainer(settings=..., retrieval=built)`: a forked process takes its parent's.
    retrieval = providers.Container(Retrieval, settings=settings)
    chat = providers.Container(
        Chat, settings=settings, clients=clients, redis=core.redis, notifier=jobs.coalescing,
        telemetry=telemetry, conversations=access.conversations, retry=core.retry,
        retrieval=retrieval,
    )  # fmt: skip
    runner = providers.Singleton(
        ChatJobRunner,
        chats=chat.service,
        publisher=jobs.publisher,
        limiter=access.limiter,
        chat_limits=settings.provided.budget.chat,
        metrics=telemetry.metrics,
        tracing=providers.Singleton(JobTracing, core.tracer),
        recorder=chat.recorder,  # the queue's own endings keep the user's message too
        retry=core.retry,
    )


class CliContainer(containers.DeclarativeContainer):
    """The CLI: `ask` runs the graph in this process, `submit` goes through the job queue; both
    show progress in the same terminal view."""

    settings = providers.Dependency(instance_of=Settings)
    json_lines = providers.Dependency(instance_of=bool, default=False)  # `--json`
    terminal = providers.Container(Terminal, json_lines=json_lines)
    # `ask` and `submit` give the view they opened before this container was imported.
    view: providers.Dependency[ProgressViewPort] = providers.Dependency(default=terminal.view)
    core = providers.Container(Core, settings=settings)
    clients = providers.Container(Clients, settings=settings)
    telemetry = providers.Container(Telemetry, settings=settings, core=core, scraped=False)
    jobs = providers.Container(Jobs, settings=settings, redis=core.redis, retry=core.retry)
    access = providers.Container(Access, settings=settings, redis=core.redis)
    notifier = providers.Singleton(TerminalProgressNotifier, view=view)
    retrieval = providers.Container(Retrieval, settings=settings)
    chat = providers.Container(
        Chat, settings=settings, clients=clients, redis=core.redis, notifier=notifier,
        telemetry=telemetry, retry=core.retry, retrieval=retrieval,
    )  # fmt: skip


class StudioContainer(containers.DeclarativeContainer):
    """LangGraph Studio (`langgraph dev`): the CLI's chat graph, served by LangGraph's server,
    which keeps the threads, owns the process's logging (nothing here starts ours) and shows
    every node's update itself (no progress sink)."""

    settings = providers.Dependency(instance_of=Settings)
    core = providers.Container(Core, settings=settings, role=providers.Object("studio"))
    clients = providers.Container(Clients, settings=settings, tracer=core.tracer)
    telemetry = providers.Container(Telemetry, settings=settings, core=core, scraped=False)
    retrieval = providers.Container(Retrieval, settings=settings)
    chat = providers.Container(
        Chat, settings=settings, clients=clients, redis=core.redis, notifier=OFF,
        telemetry=telemetry, retry=core.retry, retrieval=retrieval, graph_checkpointer=OFF,
        message_input=providers.Object(True),
    )  # fmt: skip


def arq_options(
    container: WorkerContainer, started: Callable[[], None] | None = None
) -> dict[str, Any]:
    """arq's Worker arguments: startup opens the container and compiles the graph (once),
    then calls `started`; shutdown closes every pool."""
    settings = container.settings()

    async def startup(ctx: dict[str, Any]) -> None:
        await start(container)
        ctx[RUNNER] = await resolve(container.runner)
        ctx[PUBLISHER] = await resolve(container.jobs.publisher)
        if started is not None:
            started()
        log.info(
            "worker.started", llm=settings.llm.provider, concurrency=settings.worker.concurrency
        )

    async def shutdown(ctx: dict[str, Any]) -> None:
        await stop(container)
        log.info("worker.stopped")

    return worker_options(
        settings, on_startup=startup, on_shutdown=shutdown, retry=container.core.retry()
    )


def arq_worker(container: WorkerContainer, started: Callable[[], None] | None = None) -> ChatWorker:
    """The worker loop itself: arq's Worker with our lease, terminal and outage handling."""
    return ChatWorker(**arq_options(container, started), redis_pool=container.queue_redis())
