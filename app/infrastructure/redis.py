"""The redis.asyncio client resource."""

from __future__ import annotations

from collections.abc import AsyncIterator

import structlog
from redis.asyncio import Redis

from app.settings import RedisSettings

log = structlog.get_logger(__name__)


async def redis_resource(settings: RedisSettings) -> AsyncIterator[Redis]:
    """Container Resource: one pooled client, closed (with its pool) at shutdown."""
    client = Redis.from_url(
        settings.url,
        max_connections=settings.max_connections,
        socket_timeout=settings.socket_timeout,
        socket_connect_timeout=settings.socket_timeout,
        health_check_interval=30,
        client_name=settings.client_name,
    )
    try:
        yield client
    finally:
        await client.aclose()
        log.info("redis.closed")
