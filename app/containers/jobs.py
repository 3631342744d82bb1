"""Chats as jobs on Redis: the event-stream publisher and the ChatJobs adapter."""

from __future__ import annotations

from typing import Any

from dependency_injector import containers, providers

from app.infrastructure.redis_jobs.hub import stream_hub_resource
from app.infrastructure.redis_jobs.liveness import Reaper
from app.infrastructure.redis_jobs.publisher import RedisStreamProgressNotifier
from app.infrastructure.redis_jobs.queue import ArqChatJobs
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
    reaper = providers.Singleton(
        Reaper, redis=redis, publisher=publisher, grace_seconds=settings.provided.worker.lost_after
    )
    # One reader for every followed stream of this process (lazy: opened on first use).
    hub = providers.Resource(stream_hub_resource, redis=redis, reaper=reaper)
    chat_jobs = providers.Singleton(
        ArqChatJobs,
        redis=redis,
        publisher=publisher,
        hub=hub,
        reaper=reaper,
        queue_name=settings.provided.worker.queue_name,
        require_worker=settings.provided.gateway.require_worker,
        max_queued=settings.provided.limits.max_queue_depth,
    )
