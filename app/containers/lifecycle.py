"""How every entry point starts and stops its container: the same two steps everywhere."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import structlog
from dependency_injector import containers, providers

log = structlog.get_logger(__name__)
C = TypeVar("C", bound=containers.Container)


class StartupResource(providers.Resource[Any]):
    """A Resource opened at start (logging, pools). Other Resources (SDK clients) stay lazy:
    built on first use, so a provider that is not selected never needs its key."""


class FirstResource(StartupResource):
    """Opened before every other StartupResource: logging, so their start is logged."""


async def start(container: containers.Container) -> None:
    """Open every StartupResource of the container and of the containers it composes."""
    for kind in (FirstResource, StartupResource):
        opened = container.init_resources(kind)
        if opened is not None:
            await opened


async def stop(container: containers.Container) -> None:
    """Close every Resource that was opened: what uses the pools first, then the pools, then
    logging. (The container alone closes them all at once, so a client could outlive its pool.)
    """
    opened = [r for r in container.traverse(types=[providers.Resource]) if r.initialized]
    for phase in (
        [r for r in opened if not isinstance(r, StartupResource)],
        [r for r in opened if isinstance(r, StartupResource) and not isinstance(r, FirstResource)],
    ):
        closing = [closed for r in phase if (closed := r.shutdown()) is not None]
        await asyncio.gather(*(c for c in closing if inspect.isawaitable(c)))
    log.info("app.stopped")
    closed = container.shutdown_resources()  # logging, last
    if closed is not None:
        await closed


@asynccontextmanager
async def running(container: C) -> AsyncIterator[C]:
    """`async with running(Container(settings=...)) as app:` start, then always stop."""
    await start(container)
    try:
        yield container
    finally:
        await stop(container)


async def resolve(provider: Any) -> Any:
    """Call a provider; await the result when an async Resource made it a future."""
    value = provider()
    if inspect.isawaitable(value):
        value = await value
    return value
