"""The LLM adapters, and the one the graph uses: the selected provider behind its fallbacks."""

from __future__ import annotations

from typing import Any

from dependency_injector import containers, providers

from app.infrastructure.llm import factories
from app.settings import Settings


class LLMs(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    clients = providers.DependenciesContainer()
    # What each call leaves behind (metrics, span, LangSmith run); none in the CLI.
    calls: providers.Dependency[Any] = providers.Dependency(default=providers.Object(None))
    metrics: providers.Dependency[Any] = providers.Dependency(default=providers.Object(None))

    # One provider per adapter, built only when the chain names it.
    adapters = providers.Aggregate(
        openai=providers.Singleton(
            factories.openai_llm,
            settings=settings.provided.llm,
            client=clients.openai_client,
            calls=calls,
        ),
        gemini=providers.Singleton(
            factories.gemini_llm,
            settings=settings.provided.llm,
            client=clients.gemini_client,
            calls=calls,
        ),
        anthropic=providers.Singleton(
            factories.anthropic_llm,
            settings=settings.provided.llm,
            client=clients.anthropic_client,
            calls=calls,
        ),
        langchain=providers.Singleton(
            factories.langchain_llm,
            settings=settings.provided.llm,
            http_client=clients.http_client,
            calls=calls,
        ),
        offline=providers.Singleton(
            factories.offline_llm, settings=settings.provided.llm, calls=calls
        ),
    )
    # `llm.provider` first, then each of `llm.fallbacks` in order, however many there are.
    llm = providers.Singleton(
        factories.llm_chain,
        settings=settings.provided.llm,
        adapters=adapters.provider,
        metrics=metrics,
    )
