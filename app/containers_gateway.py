"""The gateway's container, beside the root: built from `app.containers_core` only, so the
gateway never imports the chat graph, LangGraph or an LLM SDK (import-linter proves it)."""

from __future__ import annotations

from dependency_injector import containers, providers

from app.application.access.guests import GuestIdentities
from app.application.access.intake import ChatIntake
from app.application.access.job_tokens import JobTokens, process_secret
from app.application.access.upload_grants import UploadGrants
from app.application.photo_uploads import PhotoUploads
from app.containers_core import Access, Core, Jobs, Telemetry
from app.infrastructure.access.rate_limits import RedisPhotoQuota
from app.infrastructure.services.image_store import (
    LocalImageStore,
    RedisImageStore,
    RedisOwnedPhotos,
)
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
    # Uploaded photos: POST /v1/uploads' (no owner) and the eco2 client's (kept for an owner).
    photos = providers.Singleton(
        RedisOwnedPhotos, redis=core.redis, ttl_seconds=gateway.upload_ttl_seconds
    )
    photo_uploads = providers.Singleton(
        PhotoUploads,
        grants=providers.Singleton(
            UploadGrants,
            secret,
            previous=gateway.previous_secrets,
            ttl_seconds=gateway.upload_url_seconds,
        ),
        store=photos,
        limiter=access.limiter,
        quota=providers.Singleton(
            RedisPhotoQuota,
            redis=core.redis,
            url=settings.provided.redis.url,
            photos_per_hour=settings.provided.limits.photos_per_hour,
            bytes_per_hour=settings.provided.limits.photo_bytes_per_hour,
        ),
    )
    images = providers.Selector(
        providers.Callable(lambda s: s.services.images.storage, settings),
        local=providers.Singleton(LocalImageStore, settings.provided.services.images.directory),
        redis=providers.Singleton(
            RedisImageStore, core.redis, settings.provided.services.images.ttl
        ),
    )
