"""The redis.asyncio client resource."""

from __future__ import annotations

from collections.abc import AsyncIterator

import structlog
from redis.asyncio import Redis

from app.application.ports.cache import CachePort
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


class RedisCache(CachePort):
    """CachePort on Redis strings with expiry; keys are namespaced."""

    def __init__(self, redis: Redis, namespace: str = "eco2:cache:") -> None:
        self._redis = redis
        self._namespace = namespace

    async def get(self, key: str) -> str | None:
        value = await self._redis.get(self._namespace + key)
        return value.decode() if isinstance(value, bytes) else value

    async def set(self, key: str, value: str, ttl_seconds: int) -> None:
        await self._redis.set(self._namespace + key, value, ex=ttl_seconds)
