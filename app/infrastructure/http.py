"""The one shared httpx.AsyncClient, and a transport that survives connection recycling."""

from __future__ import annotations

import asyncio
import random
import ssl
import time
from collections import defaultdict
from collections.abc import AsyncIterator

import httpx
import structlog

from app.settings import HttpSettings

log = structlog.get_logger(__name__)

# Errors that mean "the connection went away", not "the server said no". Servers recycle
# connections (HTTP/2 GOAWAY after N requests, idle close); httpcore then fails requests that
# were queued or in flight on the dying connection. A fresh connection fixes all of these.
CONNECTION_LOST = (
    httpx.ConnectError,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
    httpx.LocalProtocolError,
)
CONNECT_ATTEMPTS = 2
STREAMING_TYPES = ("text/event-stream", "application/x-ndjson", "application/jsonl")
MAX_BUFFERED_BODY = 16 * 1024 * 1024


class RecyclingSafeTransport(httpx.AsyncBaseTransport):
    """Retries requests lost to a recycled connection and bounds in-flight requests per origin.

    - Over HTTP/2 httpx queues every request on one connection; a GOAWAY then fails all of
      them at once. A per-origin gate (`max_in_flight`) keeps the queue in front of the pool,
      so a recycled connection strands at most that many requests.
    - A request that failed with a connection-lost error is sent again on a new connection,
      with jittered backoff, up to `attempts` times and within `deadline` seconds.
    - Bodies that are not event streams are read inside the retry, because an HTTP/2 response
      can fail while being read (the WINDOW_UPDATE write hits the closed socket).
    - Timeouts and HTTP statuses are not retried here: they are the caller's policy (the SDKs
      and our adapters retry 429/5xx with Retry-After themselves).
    A retried request may have reached the server before its connection died; that is the
    same trade the OpenAI SDK makes for connection errors, and every API we call either reads
    or generates, so a duplicate costs tokens, never correctness.
    """

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        *,
        attempts: int = 10,
        deadline: float = 30.0,
        max_in_flight: int = 100,
    ) -> None:
        self._inner = inner
        self._attempts = attempts
        self._deadline = deadline
        self._gates: defaultdict[tuple[bytes, bytes, int | None], asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(max_in_flight)
        )
        self.retries = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        origin = (request.url.raw_scheme, request.url.raw_host, request.url.port)
        async with self._gates[origin]:
            return await self._send_with_retries(request)

    async def _send_with_retries(self, request: httpx.Request) -> httpx.Response:
        replayable = isinstance(request.stream, httpx.ByteStream)
        started = time.monotonic()
        attempt = 1
        while True:
            try:
                return await self._send_once(request)
            except CONNECTION_LOST as exc:
                elapsed = time.monotonic() - started
                # A refused connect means the server is down, not recycling: leave that to the
                # callers' retry policy after one quick second try.
                limit = CONNECT_ATTEMPTS if isinstance(exc, httpx.ConnectError) else self._attempts
                if not replayable or attempt >= limit or elapsed >= self._deadline:
                    raise
                self.retries += 1
                log.debug(
                    "http.retry_recycled_connection",
                    url=str(request.url.copy_with(query=None)),
                    error=type(exc).__name__,
                    attempt=attempt,
                )
            await asyncio.sleep(random.uniform(0, min(0.25, 0.002 * 2**attempt)))
            attempt += 1

    async def _send_once(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if not _should_buffer(response):
            return response
        try:
            body = await response.aread()
        finally:
            await response.aclose()
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            content=body,
            extensions=response.extensions,
            request=request,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


def _should_buffer(response: httpx.Response) -> bool:
    content_type = response.headers.get("content-type", "")
    if content_type.startswith(STREAMING_TYPES):
        return False
    length = response.headers.get("content-length")
    return length is None or (length.isdigit() and int(length) <= MAX_BUFFERED_BODY)


def ssl_context(settings: HttpSettings) -> ssl.SSLContext | bool:
    if not settings.verify:
        return False
    context = ssl.create_default_context()
    if settings.ca_bundle is not None:
        context.load_verify_locations(cafile=str(settings.ca_bundle))
    return context


def build_http_client(settings: HttpSettings) -> httpx.AsyncClient:
    """One pooled client with the seed's timeouts and limits; HTTP/2 where TLS offers it."""
    limits = httpx.Limits(
        max_connections=settings.max_connections,
        max_keepalive_connections=settings.max_keepalive_connections,
        keepalive_expiry=settings.keepalive_expiry,
    )
    inner = httpx.AsyncHTTPTransport(
        verify=ssl_context(settings), http2=settings.http2, limits=limits, retries=0
    )
    transport = RecyclingSafeTransport(
        inner,
        attempts=settings.retry_attempts,
        deadline=settings.retry_deadline,
        max_in_flight=settings.max_connections,
    )
    timeout = httpx.Timeout(
        connect=settings.connect_timeout,
        read=settings.read_timeout,
        write=settings.write_timeout,
        pool=settings.pool_timeout,
    )
    return httpx.AsyncClient(transport=transport, timeout=timeout)


async def http_client_resource(settings: HttpSettings) -> AsyncIterator[httpx.AsyncClient]:
    """Container Resource: yields the shared client and closes its pool at shutdown."""
    client = build_http_client(settings)
    log.info("http.client_opened", http2=settings.http2, max_connections=settings.max_connections)
    try:
        yield client
    finally:
        await client.aclose()
        log.info("http.client_closed")
