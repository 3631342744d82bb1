"""The gateway's container, beside the root: built from `app.containers_core` only, so the
gateway never imports the chat graph, LangGraph or an LLM SDK (import-linter proves it)."""

from __future__ import annotations

from dependency_injector import containers, providers

from app.application.access.guests import GuestIdentities
from app.application.access.intake import ChatIntake
from app.application.access.job_tokens import JobTokens, process_secret
from app.containers_core import Access, Core, Jobs, Telemetry
from app.infrastructure.services.image_store import LocalImageStore, RedisImageStore, photo_store
from app.settings import Settings


class GatewayContainer(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    core = providers.Container(Core, settings=settings, role=providers.Object("gateway"))
    jobs = providers.Container(Jobs, settings=settings, redis=core.redis, retry=core.retry)
    telemetry = providers.Container(Telemetry, settings=settings, core=core, hub=jobs.hub)
    access = providers.Container(Access, settings=settings, redis=core.redis)
    intake = providers.Singleton(
        ChatIntake,
        jobs=jobs.chat_jobs,
        threads=access.threads,
        limiter=access.limiter,
        conversations=access.conversations,
    )
    gateway = settings.provided.gateway
    # One secret signs job tokens and guest cookies (a random one per process without config).
    secret = providers.Singleton(process_secret, gateway.secret)
    tokens = providers.Singleton(
        JobTokens,
        secret,
        previous=gateway.previous_secrets,
        ttl_seconds=gateway.token_ttl_seconds,
    )
    guests = providers.Singleton(
        GuestIdentities,
        secret,
        previous=gateway.previous_secrets,
        max_age_days=gateway.guest_cookie_days,
    )
    photos = providers.Singleton(
        photo_store, redis=core.redis, ttl_seconds=settings.provided.gateway.upload_ttl_seconds
    )
    images = providers.Selector(
        providers.Callable(lambda s: s.services.images.storage, settings),
        local=providers.Singleton(LocalImageStore, settings.provided.services.images.directory),
        redis=providers.Singleton(
            RedisImageStore, core.redis, settings.provided.services.images.ttl
        ),
    )
