"""How the CLI shows progress. Light (no chat graph), so `ask` shows its view at once and
builds the rest behind it."""

from __future__ import annotations

from dependency_injector import containers, providers

from app.infrastructure.progress.terminal import terminal_view


class Terminal(containers.DeclarativeContainer):
    json_lines = providers.Dependency(instance_of=bool, default=False)  # `--json`

    view = providers.Singleton(terminal_view, json_lines=json_lines)
