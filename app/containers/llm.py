"""The LLM adapters, and the one the graph uses: the selected provider behind its fallbacks."""

from __future__ import annotations

from dependency_injector import containers, providers

from app.infrastructure.llm import factories
from app.settings import Settings


class LLMs(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    clients = providers.DependenciesContainer()

    # One provider per adapter, built only when the chain names it.
    adapters = providers.Aggregate(
        openai=providers.Singleton(
            factories.openai_llm, settings=settings.provided.llm, client=clients.openai_client
        ),
        gemini=providers.Singleton(
            factories.gemini_llm, settings=settings.provided.llm, client=clients.gemini_client
        ),
        anthropic=providers.Singleton(
            factories.anthropic_llm,
            settings=settings.provided.llm,
            client=clients.anthropic_client,
        ),
        langchain=providers.Singleton(
            factories.langchain_llm,
            settings=settings.provided.llm,
            http_client=clients.http_client,
        ),
        offline=providers.Singleton(factories.offline_llm, settings=settings.provided.llm),
    )
    # `llm.provider` first, then each of `llm.fallbacks` in order, however many there are.
    llm = providers.Singleton(
        factories.llm_chain, settings=settings.provided.llm, adapters=adapters.provider
    )
