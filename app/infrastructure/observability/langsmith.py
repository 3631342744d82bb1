"""LangSmith tracing: detected from settings, exported for the LangChain libraries, logged."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, MutableMapping

import structlog

from app.settings import TracingSettings

log = structlog.get_logger(__name__)


def enable_tracing(
    settings: TracingSettings, environ: MutableMapping[str, str] | None = None
) -> bool:
    """Make the LangChain/LangSmith libraries see what our settings say; returns whether on.

    They read only the process environment, so a YAML `tracing.enabled: true` must be
    exported. Values already in the environment win. The key is never logged.
    """
    environ = os.environ if environ is None else environ
    if not settings.enabled:
        environ.setdefault("LANGCHAIN_TRACING_V2", "false")
        log.info("tracing.langsmith", enabled=False)
        return False
    environ.setdefault("LANGCHAIN_TRACING_V2", "true")
    environ.setdefault("LANGCHAIN_PROJECT", settings.project)
    if settings.api_key is not None:
        environ.setdefault("LANGCHAIN_API_KEY", settings.api_key.get_secret_value())
    if settings.endpoint:
        environ.setdefault("LANGCHAIN_ENDPOINT", settings.endpoint)
    log.info(
        "tracing.langsmith",
        enabled=True,
        project=settings.project,
        key_configured=settings.api_key is not None,
    )
    if settings.api_key is None:
        log.warning("tracing.langsmith_without_key", fix="set LANGCHAIN_API_KEY")
    return True


async def tracing_resource(settings: TracingSettings) -> AsyncIterator[bool]:
    """Container Resource: LangSmith on or off for this process."""
    yield enable_tracing(settings)
