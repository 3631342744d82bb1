"""The gateway process: the ChatJobs port, job tokens, generated images. No chat graph."""

from __future__ import annotations

import secrets
from operator import attrgetter

import structlog
from dependency_injector import containers, providers

from app.application.access.intake import ChatIntake
from app.application.access.job_tokens import JobTokens
from app.containers.access import Access
from app.containers.core import Core
from app.containers.jobs import Jobs
from app.containers.telemetry import Telemetry
from app.infrastructure.observability import samplers
from app.infrastructure.services.image_store import image_store, photo_store
from app.settings import GatewaySettings, Settings

log = structlog.get_logger(__name__)


def previous_secrets(settings: GatewaySettings) -> list[bytes]:
    return [s.get_secret_value().encode() for s in settings.previous_secrets]


def token_secret(settings: GatewaySettings) -> bytes:
    if settings.secret is None:
        log.warning(
            "gateway.random_secret",
            fix="set APP_GATEWAY__SECRET so replicas accept each other's tokens",
        )
        return secrets.token_bytes(32)
    return settings.secret.get_secret_value().encode()


class GatewayContainer(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)

    core = providers.Container(Core, settings=settings, role=providers.Object("gateway"))
    jobs = providers.Container(Jobs, settings=settings, redis=core.redis)
    telemetry = providers.Container(
        Telemetry,
        settings=settings,
        tracer=core.tracer,
        sampled=providers.Callable(
            samplers.gateway_gauges,
            redis=core.redis,
            queue_name=settings.provided.worker.queue_name,
            hub=jobs.hub,
        ),
    )
    access = providers.Container(Access, settings=settings, redis=core.redis)
    intake = providers.Singleton(
        ChatIntake, jobs=jobs.chat_jobs, threads=access.threads, limiter=access.limiter
    )
    tokens = providers.Singleton(
        JobTokens,
        secret=providers.Callable(token_secret, settings.provided.gateway),
        previous=providers.Callable(previous_secrets, settings.provided.gateway),
        ttl_seconds=settings.provided.gateway.token_ttl_seconds,
    )
    photos = providers.Singleton(
        photo_store, redis=core.redis, ttl_seconds=settings.provided.gateway.upload_ttl_seconds
    )
    images = providers.Singleton(
        image_store,
        settings=providers.Callable(attrgetter("services.images"), settings),
        redis=core.redis,
    )
