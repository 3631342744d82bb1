"""How every part of the service gets Redis (one factory, standalone or Sentinel), the client
resource, and the cache on it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

import structlog
from arq.connections import ArqRedis
from arq.connections import RedisSettings as ArqRedisSettings
from arq.constants import default_queue_name
from redis.asyncio import BlockingConnectionPool, ConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection, SSLConnection, parse_url
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.application.ports.stores import CachePort
from app.infrastructure.redis_jobs import keys, serialization
from app.settings import RedisSettings
from app.settings.masking import mask_url

log = structlog.get_logger(__name__)
HEALTH_CHECK_SECONDS = 30  # an idle pooled connection is PINGed before use after this long


class SentinelBlockingConnectionPool(SentinelConnectionPool, BlockingConnectionPool):
    """redis-py's Sentinel pool (each connection asks the sentinels for the primary when it
    connects, and one that meets a demoted primary's READONLY reconnects) that waits for a free
    connection, as the standalone pool does, instead of failing "Too many connections". redis-py
    5.3 has no such class; the two compose by their MRO (tests/unit/test_redis_factory.py)."""


class KeepsCancellation(AbstractConnection):
    """A connection that sends under `asyncio.timeout`, as redis-py reads, not `wait_for`.

    redis-py sends under `asyncio.wait_for` when a socket timeout is set. On Python 3.11 that
    is a Task and a loop pass per command (~25 a chat), and it returns normally when the task
    is cancelled just as the send completes (CPython gh-86296, fixed in 3.12; redis-py #2028):
    the cancelled task then ran on (a worker given SIGTERM kept polling at full CPU and never
    shut down, docs/faults.md; a gateway's follower outlived its client). `asyncio.timeout`
    times the send in the caller's own task, so a cancellation is raised at its next wait and
    the connection is closed, as redis-py closes one cancelled mid-command. The errors are
    redis-py's own (`send_packed_command` in redis 5.3, which this mirrors)."""

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        if not self.socket_timeout:  # redis-py sends without wait_for then
            await super().send_packed_command(command, check_health)
            return
        if not self.is_connected:
            await self.connect()  # type: ignore[no-untyped-call]
        elif check_health:
            await self.check_health()  # type: ignore[no-untyped-call]
        if isinstance(command, str):
            command = command.encode()
        if isinstance(command, bytes):
            command = [command]
        try:
            async with asyncio.timeout(self.socket_timeout):
                await self._send_packed_command(command)
        except TimeoutError:  # asyncio's, and a socket's ETIMEDOUT, as redis-py reads them
            await self.disconnect(nowait=True)
            raise RedisTimeoutError("Timeout writing to socket") from None
        except OSError as exc:
            await self.disconnect(nowait=True)
            number, text = exc.errno or "UNKNOWN", exc.strerror or str(exc)
            raise RedisConnectionError(f"Error {number} while writing to socket. {text}.") from exc
        except BaseException:  # a cancellation mid-send: the reply would never be read
            await self.disconnect(nowait=True)
            raise


def keeping_cancellation(base: type[AbstractConnection]) -> type[AbstractConnection]:
    """`base` (plain, TLS, unix socket, Sentinel-managed: the pool's choice) with that send."""
    if issubclass(base, KeepsCancellation):
        return base
    return type(f"{base.__name__}KeepingCancellation", (KeepsCancellation, base), {})


def redis_client(settings: RedisSettings, queue_name: str = default_queue_name) -> ArqRedis:
    """The one way any part of the service gets Redis: the worker's arq loop, the container's
    client (publisher, stream hub, queue, limits, threads, caches), `doctor`, the start-up check.
    A pooled client, standalone or following Sentinel's primary through a failover; arq's Redis
    subclass (a plain client that can also enqueue), set to JSON jobs. Connections open on first
    use; close it with `close_redis`."""
    return ArqRedis(
        redis_pool(settings),
        job_serializer=serialization.dumps,
        job_deserializer=serialization.loads,
        default_queue_name=queue_name,
    )


def redis_pool(settings: RedisSettings) -> ConnectionPool:
    # Blocking: with every connection busy a caller waits for one instead of failing with
    # "Too many connections" (thousands of SSE readers share the pool through StreamHub).
    options: dict[str, Any] = {
        "max_connections": settings.max_connections,
        "timeout": settings.pool_timeout,
        "socket_timeout": settings.socket_timeout,
        "socket_connect_timeout": settings.socket_timeout,
        "health_check_interval": HEALTH_CHECK_SECONDS,
        "client_name": settings.client_name,
    }
    pool = _pool(settings, options)
    pool.connection_class = keeping_cancellation(pool.connection_class)
    return pool


def _pool(settings: RedisSettings, options: dict[str, Any]) -> ConnectionPool:
    if not settings.sentinels:
        return BlockingConnectionPool.from_url(settings.url, **options)
    # The URL's database, credentials and TLS; its host is whatever the sentinels say.
    from_url: dict[str, Any] = dict(parse_url(settings.url))
    tls = from_url.pop("connection_class", None) is SSLConnection
    from_url.pop("host", None)
    from_url.pop("port", None)
    secret = settings.sentinel_password
    sentinels = Sentinel(  # type: ignore[no-untyped-call]
        settings.sentinel_addresses,
        sentinel_kwargs={
            "socket_timeout": settings.socket_timeout,
            "socket_connect_timeout": settings.socket_timeout,
            **({"password": secret.get_secret_value()} if secret else {}),
        },
    )
    return SentinelBlockingConnectionPool(  # type: ignore[no-untyped-call]
        settings.sentinel_master, sentinels, ssl=tls, **from_url, **options
    )


async def close_redis(client: Redis) -> None:
    """Close the client, its pool and, under Sentinel, the connections to the sentinels."""
    pool = client.connection_pool
    await client.aclose()
    await pool.aclose()
    if isinstance(pool, SentinelConnectionPool):
        for sentinel in pool.sentinel_manager.sentinels:
            await sentinel.aclose()


def arq_redis_settings(settings: RedisSettings) -> ArqRedisSettings:
    """The same Redis as arq's own settings, for what arq connects by itself (`arq --check`,
    the health probe); the worker loop is handed a `redis_client` instead."""
    arq = ArqRedisSettings.from_dsn(settings.url)
    if settings.sentinels:
        arq.host = settings.sentinel_addresses
        arq.sentinel = True
        arq.sentinel_master = settings.sentinel_master
    arq.conn_timeout = int(max(1, settings.socket_timeout))
    return arq


def describe(settings: RedisSettings) -> str:
    """Where Redis is, for a message (passwords masked)."""
    if not settings.sentinels:
        return mask_url(settings.url)
    return f"primary {settings.sentinel_master!r} of sentinels {', '.join(settings.sentinels)}"


async def redis_resource(settings: RedisSettings, queue_name: str) -> AsyncIterator[ArqRedis]:
    """Container Resource: one pooled client for the process, closed with its pool at shutdown."""
    client = redis_client(settings, queue_name)
    try:
        yield client
    finally:
        await close_redis(client)
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
