"""Thread ownership in Redis (`keys.owner_key`), kept alive while the thread is used."""

from __future__ import annotations

import secrets
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.application.ports.access import ThreadRegistryPort
from app.application.ports.jobs import QueueUnavailable
from app.infrastructure.redis_jobs.keys import owner_key
from app.infrastructure.redis_jobs.typed import typed


class RedisThreadRegistry(ThreadRegistryPort):
    def __init__(self, redis: Redis, *, ttl_days: int) -> None:
        self._redis = redis
        self._ttl = ttl_days * 86_400

    async def issue(self, principal: str) -> str:
        thread_id = f"thr_{secrets.token_urlsafe(16)}"  # 128 random bits: not guessable
        try:
            await self._redis.set(owner_key(thread_id), principal, ex=self._ttl)
        except RedisError as exc:
            raise QueueUnavailable("threads (Redis) are unreachable", provider="redis") from exc
        return thread_id

    async def owner(self, thread_id: str) -> str | None:
        try:
            # An owner of the wrong type is corrupt: nobody owns the thread (404, not 503).
            key = owner_key(thread_id)
            value: Any = await typed(self._redis.getex(key, ex=self._ttl), default=None, key=key)
        except RedisError as exc:
            raise QueueUnavailable("threads (Redis) are unreachable", provider="redis") from exc
        return value.decode() if isinstance(value, bytes) else value
