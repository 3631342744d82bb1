"""The gauges read at scrape time: queue depth (the arq queue ZSET), SSE clients, pool use."""

from __future__ import annotations

from typing import Any, Protocol

from redis.asyncio import Redis

from app.infrastructure.observability.prometheus import Sampled


class Followed(Protocol):
    @property
    def followed(self) -> int: ...


class PoolTransport(Protocol):
    @property
    def in_flight(self) -> int: ...
    def connections(self) -> tuple[int, int]: ...


def queue_depth(redis: Redis, queue_name: str) -> Sampled:
    """Jobs waiting in arq's queue (a sorted set by run time), running ones included until
    arq removes them on finish: what a worker pool still has to get through."""

    async def read() -> float:
        return float(await redis.zcard(queue_name))

    return Sampled("eco2_queue_depth", "Jobs in the arq queue", read)


def sse_clients(hub: Followed) -> Sampled:
    async def read() -> float:
        return float(hub.followed)

    return Sampled("eco2_sse_clients", "Event streams followed by SSE clients", read)


def _transport(client: Any) -> PoolTransport:
    transport: PoolTransport = client._transport  # our RecyclingSafeTransport (build_http_client)
    return transport


def http_in_flight(client: Any) -> Sampled:
    """Requests in flight on the shared pool (its transport counts them)."""
    transport = _transport(client)

    async def read() -> float:
        return float(transport.in_flight)

    return Sampled("eco2_http_pool_in_flight", "Requests in flight on the shared HTTP pool", read)


def http_connections(client: Any) -> Sampled:
    transport = _transport(client)

    async def read() -> float:
        return float(transport.connections()[0])

    return Sampled("eco2_http_pool_connections", "Open connections of the shared HTTP pool", read)


def http_idle_connections(client: Any) -> Sampled:
    transport = _transport(client)

    async def read() -> float:
        return float(transport.connections()[1])

    return Sampled("eco2_http_pool_idle_connections", "Idle kept-alive pool connections", read)


def http_max_connections(limit: int) -> Sampled:
    async def read() -> float:
        return float(limit)

    return Sampled("eco2_http_pool_max_connections", "The shared pool's connection limit", read)


def gauges(
    redis: Redis,
    queue_name: str,
    *,
    http_client: Any = None,
    max_connections: int = 0,
    hub: Followed | None = None,
) -> list[Sampled]:
    """What a scrape reads: the queue always; a worker's shared HTTP pool, a gateway's streams."""
    found = [queue_depth(redis, queue_name)]
    if http_client is not None:
        found += [
            http_in_flight(http_client),
            http_connections(http_client),
            http_idle_connections(http_client),
            http_max_connections(max_connections),
        ]
    if hub is not None:
        found.append(sse_clients(hub))
    return found
