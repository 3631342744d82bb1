"""The Redis client resource, and the cache on it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import structlog
from arq.connections import ArqRedis
from redis.asyncio import BlockingConnectionPool, Redis

from app.application.ports.stores import CachePort
from app.infrastructure.redis_jobs import keys, serialization
from app.settings import RedisSettings

log = structlog.get_logger(__name__)


async def redis_resource(settings: RedisSettings, queue_name: str) -> AsyncIterator[ArqRedis]:
    """Container Resource: one pooled client for the process, closed with its pool at shutdown.

    It is arq's Redis subclass (a plain client that can also enqueue), set to JSON jobs.
    """
    # Blocking: with every connection busy a caller waits for one instead of failing with
    # "Too many connections" (thousands of SSE readers share the pool through StreamHub).
    pool = BlockingConnectionPool.from_url(
        settings.url,
        max_connections=settings.max_connections,
        timeout=settings.pool_timeout,
        socket_timeout=settings.socket_timeout,
        socket_connect_timeout=settings.socket_timeout,
        health_check_interval=30,
        client_name=settings.client_name,
    )
    client = ArqRedis(
        pool,
        job_serializer=serialization.dumps,
        job_deserializer=serialization.loads,
        default_queue_name=queue_name,
    )
    try:
        yield client
    finally:
        await client.aclose()
        await pool.aclose()
        log.info("redis.closed")


class RedisCache(CachePort):
    """CachePort on Redis strings with expiry; keys are namespaced."""

    def __init__(self, redis: Redis, namespace: str = keys.CACHE) -> None:
        self._redis = redis
        self._namespace = namespace

    async def get(self, key: str) -> str | None:
        value = await self._redis.get(self._namespace + key)
        return value.decode() if isinstance(value, bytes) else value

    async def set(self, key: str, value: str, ttl_seconds: int) -> None:
        await self._redis.set(self._namespace + key, value, ex=ttl_seconds)


class ResilientCache(CachePort):
    """A cache that steps aside for a while after a failure instead of slowing every call.

    Without Redis (a laptop running `ask`) lookups simply go uncached, with one warning.
    """

    def __init__(self, inner: CachePort, pause_seconds: float = 60.0) -> None:
        self._inner = inner
        self._pause = pause_seconds
        self._paused_until = 0.0

    async def get(self, key: str) -> str | None:
        if self._paused():
            return None
        try:
            return await self._inner.get(key)
        except Exception as exc:
            self._trip(exc)
            return None

    async def set(self, key: str, value: str, ttl_seconds: int) -> None:
        if self._paused():
            return
        try:
            await self._inner.set(key, value, ttl_seconds)
        except Exception as exc:
            self._trip(exc)

    def _paused(self) -> bool:
        return time.monotonic() < self._paused_until

    def _trip(self, exc: Exception) -> None:
        self._paused_until = time.monotonic() + self._pause
        log.warning("cache.unavailable", error=type(exc).__name__, retry_in_s=self._pause)
