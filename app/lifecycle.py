"""The one async entry the CLI, worker and gateway share: build, start, and stop the container."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog

from app.containers import Container, PoolResource, create_container
from app.infrastructure.tracing import enable_tracing
from app.settings import Settings, load_settings

log = structlog.get_logger(__name__)


@asynccontextmanager
async def running_container(
    settings: Settings | None = None,
    *,
    config_file: str | os.PathLike[str] | None = None,
    container: Container | None = None,
) -> AsyncIterator[Container]:
    """Open every pool on entry and close every initialised resource on exit.

    Pass `container` to start one whose providers a test has overridden already.
    """
    if container is None:
        container = create_container(settings or load_settings(config_file))
    settings = container.settings()
    enable_tracing(settings.tracing)
    log.info(
        "app.starting",
        llm_provider=settings.llm.provider,
        llm_model=settings.llm.effective_model,
        http2=settings.http.http2,
    )
    started = container.init_resources(PoolResource)
    if started is not None:
        await started
    try:
        yield container
    finally:
        stopped = container.shutdown_resources()
        if stopped is not None:
            await stopped
        log.info("app.stopped")
