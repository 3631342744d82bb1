"""What retrieval needs before the first question, read-only once built: Kiwi's model (about
a second of CPU and 300 MiB) and the keyword index. The worker and CLI containers in
`app.containers` take this container as their `retrieval`; a worker forking processes builds
it first and hands it to each. Light to import (no chat graph), like `BuildSteps`.
"""

from __future__ import annotations

from dependency_injector import containers, providers

from app.infrastructure.retrieval import factories
from app.settings import Settings


class Retrieval(containers.DeclarativeContainer):
    """One per process, or one for every process a worker forks (`worker.processes`), built
    before the fork."""

    settings = providers.Dependency(instance_of=Settings)
    morphology_choice = providers.Callable(factories.morphology_choice, settings.provided.retrieval)
    # Shipped built (`python -m app index`), with the names Kiwi is taught; None when it does
    # not match the knowledge base, and the retriever builds it.
    keyword_index = providers.Singleton(factories.keyword_index, morphology_choice)
    morphology = providers.Selector(
        morphology_choice,
        kiwi=providers.Singleton(factories.kiwi_morphology, keyword_index),
        rules=providers.Singleton(factories.rule_morphology),
    )


class BuildSteps(containers.DeclarativeContainer):
    """What is built before packaging rather than by a running process: the keyword indexes
    shipped with the knowledge base (`python -m app index`)."""

    keyword_indexes = providers.Callable(factories.write_keyword_indexes)
