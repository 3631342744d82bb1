"""Per-principal limits in Redis through `limits`: requests per minute (moving window), tokens
and cost per day (fixed daily windows; cost counted in micro-dollars), photos per day (count and
bytes)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from limits import RateLimitItemPerDay, RateLimitItemPerHour, RateLimitItemPerMinute
from limits.aio.storage import RedisStorage
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter
from limits.errors import StorageError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.application.ports.access import PhotoQuotaPort, UsageLimiterPort
from app.application.ports.jobs import QueueUnavailable
from app.domain.errors import LimitExceeded
from app.domain.llm import TokenUsage, UsageLimits
from app.infrastructure.redis_jobs import keys

MICRO = 1_000_000


class RedisUsageLimiter(UsageLimiterPort):
    def __init__(
        self,
        redis: Redis,
        url: str,
        *,
        requests_per_minute: int | None,
        tokens_per_day: int | None,
        daily_cost_usd: float | None,
    ) -> None:
        # The process's own pool: a limit check never opens connections of its own.
        pool: Any = redis.connection_pool  # `limits` types its options as scalars
        storage = RedisStorage(
            f"async+{url}", implementation="redispy", key_prefix=keys.LIMITS, connection_pool=pool
        )
        self._moving = MovingWindowRateLimiter(storage)
        self._daily = FixedWindowRateLimiter(storage)
        self._requests = (
            RateLimitItemPerMinute(requests_per_minute) if requests_per_minute else None
        )
        self._tokens = RateLimitItemPerDay(tokens_per_day) if tokens_per_day else None
        self._cost = RateLimitItemPerDay(int(daily_cost_usd * MICRO)) if daily_cost_usd else None

    async def admit(self, principal: str) -> None:
        async with _translated():
            await self._admit(principal)

    async def _admit(self, principal: str) -> None:
        if self._requests and not await self._moving.hit(self._requests, "requests", principal):
            stats = await self._moving.get_window_stats(self._requests, "requests", principal)
            raise LimitExceeded(
                f"over {self._requests.amount} requests a minute",
                limit="requests_per_minute",
                retry_after=_until(stats.reset_time),
            )
        for item, name, what in (
            (self._tokens, "tokens", "tokens_per_day"),
            (self._cost, "cost", "daily_budget"),
        ):
            if item and not await self._daily.test(item, name, principal):
                stats = await self._daily.get_window_stats(item, name, principal)
                raise LimitExceeded(
                    f"the day's {what.replace('_', ' ')} is used up",
                    limit=what,
                    retry_after=_until(stats.reset_time),
                )

    async def remaining(self, principal: str) -> UsageLimits:
        async with _translated():
            return await self._remaining(principal)

    async def _remaining(self, principal: str) -> UsageLimits:
        tokens = cost = None
        if self._tokens:
            tokens = (
                await self._daily.get_window_stats(self._tokens, "tokens", principal)
            ).remaining
        if self._cost:
            left = (await self._daily.get_window_stats(self._cost, "cost", principal)).remaining
            cost = left / MICRO
        return UsageLimits(
            max_tokens=max(tokens, 1) if tokens is not None else None, max_cost_usd=cost
        )

    async def record(self, principal: str, usage: TokenUsage) -> None:
        async with _translated():
            await self._record(principal, usage)

    async def _record(self, principal: str, usage: TokenUsage) -> None:
        # `hit` counts the cost even past the limit: the day's total stays true.
        if self._tokens and usage.total_tokens:
            await self._daily.hit(self._tokens, "tokens", principal, cost=usage.total_tokens)
        if self._cost and usage.cost_usd:
            await self._daily.hit(self._cost, "cost", principal, cost=int(usage.cost_usd * MICRO))


class RedisPhotoQuota(PhotoQuotaPort):
    """Photos a principal may upload an hour: how many, and how many bytes in all (an upload
    is kept in Redis for `gateway.upload_ttl_seconds`, an hour by default)."""

    def __init__(
        self, redis: Redis, url: str, *, photos_per_hour: int | None, bytes_per_hour: int | None
    ) -> None:
        pool: Any = redis.connection_pool
        storage = RedisStorage(
            f"async+{url}", implementation="redispy", key_prefix=keys.LIMITS, connection_pool=pool
        )
        self._daily = FixedWindowRateLimiter(storage)
        self._items = [
            (RateLimitItemPerHour(amount), name, per_byte)
            for amount, name, per_byte in (
                (photos_per_hour, "photos_per_hour", False),
                (bytes_per_hour, "photo_bytes_per_hour", True),
            )
            if amount
        ]

    async def take(self, principal: str, size: int) -> None:
        async with _translated():
            # Test every limit before counting any: a refused photo costs nothing. Two photos
            # at once may both pass the test and overshoot by one: the next one is refused.
            for item, name, per_byte in self._items:
                cost = size if per_byte else 1
                if not await self._daily.test(item, name, principal, cost=cost):
                    stats = await self._daily.get_window_stats(item, name, principal)
                    raise LimitExceeded(
                        f"the hour's {name.replace('_', ' ')} is used up",
                        limit=name,
                        retry_after=_until(stats.reset_time),
                    )
            for item, name, per_byte in self._items:
                await self._daily.hit(item, name, principal, cost=size if per_byte else 1)


def _until(reset_time: float) -> float:
    return max(1.0, round(reset_time - time.time(), 1))


@asynccontextmanager
async def _translated() -> AsyncIterator[None]:
    try:
        yield
    except (RedisError, StorageError) as exc:
        raise QueueUnavailable("the limits store (Redis) is unreachable", provider="redis") from exc
