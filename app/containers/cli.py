"""The CLI process: `ask` runs the graph here, `submit` goes through the job queue; both show
progress in the same terminal view."""

from __future__ import annotations

from dependency_injector import containers, providers

from app.application.ports.progress_view import ProgressViewPort
from app.containers.access import Access
from app.containers.chat import Chat
from app.containers.clients import Clients
from app.containers.core import Core
from app.containers.jobs import Jobs
from app.containers.llm import LLMs
from app.containers.services import Services
from app.containers.terminal import Terminal
from app.infrastructure.observability.llm_calls import LLMCalls
from app.infrastructure.observability.prometheus import NoMetrics
from app.infrastructure.progress.terminal import TerminalProgressNotifier
from app.settings import Settings


class CliContainer(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    json_lines = providers.Dependency(instance_of=bool, default=False)  # `--json`

    terminal = providers.Container(Terminal, json_lines=json_lines)
    # `ask` and `submit` give the view they opened before this container was imported.
    view: providers.Dependency[ProgressViewPort] = providers.Dependency(default=terminal.view)

    core = providers.Container(Core, settings=settings)
    clients = providers.Container(Clients, settings=settings)
    # Model calls are traced (LangSmith llm runs, OpenTelemetry spans) as in the worker; a
    # one-question process has no scrape, so its metrics go nowhere.
    llm_calls = providers.Singleton(
        LLMCalls,
        metrics=providers.Singleton(NoMetrics),
        tracer=core.tracer,
        langsmith=core.tracing,
    )
    llms = providers.Container(LLMs, settings=settings, clients=clients, calls=llm_calls)
    services = providers.Container(Services, settings=settings, clients=clients, redis=core.redis)
    jobs = providers.Container(Jobs, settings=settings, redis=core.redis)
    access = providers.Container(Access, settings=settings, redis=core.redis)
    notifier = providers.Singleton(TerminalProgressNotifier, view=view)
    chat = providers.Container(
        Chat,
        settings=settings,
        llm=llms.llm,
        redis=core.redis,
        openai_client=clients.openai_client,
        services=services,
        notifier=notifier,
    )
