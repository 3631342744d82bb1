"""Who may use the service and how much: API keys, the authenticator, threads, limits."""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from dependency_injector import containers, providers

from app.application.access.authenticator import Authenticator
from app.infrastructure.access import factories as access
from app.infrastructure.access.file_keys import FileApiKeyStore
from app.infrastructure.access.rate_limits import RedisUsageLimiter
from app.infrastructure.access.redis_threads import RedisThreadRegistry
from app.settings import Settings


class Access(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    redis: providers.Dependency[Any] = providers.Dependency()

    key_store = providers.Selector(
        providers.Callable(attrgetter("auth.backend"), settings),
        file=providers.Singleton(FileApiKeyStore, path=settings.provided.auth.keys_file),
        postgres=providers.Resource(access.postgres_keys, settings=settings.provided.postgres),
    )
    authenticator = providers.Singleton(
        Authenticator,
        store=key_store,
        allow_anonymous=settings.provided.auth.allow_anonymous,
        cache_seconds=settings.provided.auth.cache_seconds,
    )
    threads = providers.Singleton(
        RedisThreadRegistry, redis=redis, ttl_days=settings.provided.auth.thread_ttl_days
    )
    limiter = providers.Singleton(
        RedisUsageLimiter,
        redis=redis,
        url=settings.provided.redis.url,
        requests_per_minute=settings.provided.limits.requests_per_minute,
        tokens_per_day=settings.provided.limits.tokens_per_day,
        daily_cost_usd=settings.provided.budget.principal_daily_cost_usd,
    )
