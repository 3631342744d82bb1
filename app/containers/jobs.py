"""Chats as jobs on Redis: the event-stream publisher and the ChatJobs adapter."""

from __future__ import annotations

from typing import Any

from dependency_injector import containers, providers

from app.infrastructure.jobs.arq_jobs import ArqChatJobs
from app.infrastructure.progress.redis_streams import RedisStreamProgressNotifier
from app.settings import Settings


class Jobs(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    redis: providers.Dependency[Any] = providers.Dependency()

    publisher = providers.Singleton(
        RedisStreamProgressNotifier,
        redis=redis,
        maxlen=settings.provided.worker.stream_maxlen,
        ttl_seconds=settings.provided.worker.stream_ttl,
    )
    chat_jobs = providers.Singleton(
        ArqChatJobs,
        redis=redis,
        publisher=publisher,
        queue_name=settings.provided.worker.queue_name,
        block_ms=settings.provided.gateway.read_block_ms,
    )
