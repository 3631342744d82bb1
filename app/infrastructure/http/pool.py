"""The one shared client: built on the configured library, closed by the container."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import structlog
from opentelemetry.trace import Tracer

from app.infrastructure.http.libraries import LIBRARIES, SharedClient
from app.infrastructure.http.transport import RecyclingSafeTransport
from app.settings import HttpSettings

log = structlog.get_logger(__name__)


def ssl_context(settings: HttpSettings) -> ssl.SSLContext | bool:
    if not settings.verify:
        return False
    context = ssl.create_default_context()
    if settings.ca_bundle is not None:
        context.load_verify_locations(cafile=str(settings.ca_bundle))
    return context


def build_http_client(settings: HttpSettings, tracer: Tracer | None = None) -> SharedClient:
    """One pooled client on `http.client`'s library: its configured timeouts, keep-alive sized to
    the pool (so HTTP/1.1 reuses its connections), HTTP/2 where TLS offers it."""
    library = LIBRARIES[settings.client]
    lib = library.module  # httpx2 keeps httpx's API, so one construction serves both
    limits = lib.Limits(
        max_connections=settings.max_connections,
        max_keepalive_connections=settings.keepalive_connections,
        keepalive_expiry=settings.keepalive_expiry,
    )
    inner = lib.AsyncHTTPTransport(
        verify=ssl_context(settings), http2=settings.http2, limits=limits, retries=0
    )
    transport = RecyclingSafeTransport(
        inner,
        library=library,
        attempts=settings.retry_attempts,
        deadline=settings.retry_deadline,
        max_in_flight=settings.max_connections,
        tracer=tracer,
    )
    timeout = lib.Timeout(
        connect=settings.connect_timeout,
        read=settings.read_timeout,
        write=settings.write_timeout,
        pool=settings.pool_timeout,
    )
    client: SharedClient = lib.AsyncClient(transport=transport, timeout=timeout)
    return client


async def http_client_resource(
    settings: HttpSettings, tracer: Tracer | None = None
) -> AsyncIterator[SharedClient]:
    """Container Resource: yields the shared client and closes its pool at shutdown; with a
    tracer, each request is a client span."""
    client = build_http_client(settings, tracer)
    log.info(
        "http.client_opened",
        library=settings.client,
        http2=settings.http2,
        max_connections=settings.max_connections,
        keepalive_connections=settings.keepalive_connections,
    )
    try:
        yield client
    finally:
        await client.aclose()
        log.info("http.client_closed")
