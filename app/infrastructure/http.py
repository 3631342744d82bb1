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


class AdaptiveLimit:
    """A per-origin cap on requests in flight: halved when connections are lost, regained
    one step per window of successes (AIMD, as TCP does), never above `ceiling`.

    A server that recycles connections by dropping the streams in flight (some do, hypercorn
    among them) otherwise fails as many requests as we keep in flight on each connection.
    """

    CUT_WINDOW = 0.1  # one GOAWAY fails a burst of requests; count it as one signal

    def __init__(self, ceiling: int, floor: int = 4) -> None:
        self.ceiling = ceiling
        self.floor = min(floor, ceiling)
        self._limit = float(ceiling)
        self._in_flight = 0
        self._last_cut = 0.0
        self._changed = asyncio.Condition()

    @property
    def limit(self) -> int:
        return max(self.floor, int(self._limit))

    async def acquire(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self._in_flight < self.limit)
            self._in_flight += 1

    async def release(self, *, connection_lost: bool) -> None:
        async with self._changed:
            self._in_flight -= 1
            now = time.monotonic()
            if connection_lost and now - self._last_cut > self.CUT_WINDOW:
                self._limit = max(self.floor, self._limit / 2)
                self._last_cut = now
            elif not connection_lost:
                self._limit = min(float(self.ceiling), self._limit + 1 / self._limit)
            self._changed.notify(max(self.limit - self._in_flight, 0))


class RecyclingSafeTransport(httpx.AsyncBaseTransport):
    """Resends requests lost to a recycled connection, and keeps the queue in front of the pool.

    - Over HTTP/2 httpx queues every request on one connection; a GOAWAY then fails all of
      them at once. An adaptive per-origin cap (`max_in_flight` at most) keeps the queue here,
      so a recycled connection strands only the requests actually in flight on it.
    - A request that failed with a connection-lost error is sent again on a new connection,
      with jittered backoff, up to `attempts` times and within `deadline` seconds.
    - Bodies that are not event streams are read inside the retry, because an HTTP/2 response
      can fail while being read (the WINDOW_UPDATE write hits the closed socket).
    - Timeouts and HTTP statuses are not retried here: they are the caller's policy (the SDKs
      and our adapters retry 429/5xx with Retry-After themselves).
    A resent request may have reached the server before its connection died; that is the
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
        self._limits: defaultdict[tuple[bytes, bytes, int | None], AdaptiveLimit] = defaultdict(
            lambda: AdaptiveLimit(max_in_flight)
        )
        self.retries = 0

    def limit_for(self, url: httpx.URL) -> AdaptiveLimit:
        return self._limits[(url.raw_scheme, url.raw_host, url.port)]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        limit = self.limit_for(request.url)
        replayable = isinstance(request.stream, httpx.ByteStream)
        first_lost: float | None = None
        attempt = 1
        while True:
            await limit.acquire()
            try:
                response = await self._send_once(request)
            except CONNECTION_LOST as exc:
                await limit.release(connection_lost=True)
                # The deadline runs from the first lost connection: time spent queued behind
                # the in-flight limit is load, not failure, and must not use up the budget.
                first_lost = first_lost or time.monotonic()
                self._raise_unless_retryable(exc, request, replayable, attempt, first_lost)
            except BaseException:
                await limit.release(connection_lost=False)
                raise
            else:
                await limit.release(connection_lost=False)
                return response
            self.retries += 1
            await asyncio.sleep(random.uniform(0, min(0.25, 0.002 * 2**attempt)))
            attempt += 1

    def _raise_unless_retryable(
        self,
        exc: Exception,
        request: httpx.Request,
        replayable: bool,
        attempt: int,
        started: float,
    ) -> None:
        # A refused connect means the server is down, not recycling: leave that to the
        # callers' retry policy after one quick second try.
        limit = CONNECT_ATTEMPTS if isinstance(exc, httpx.ConnectError) else self._attempts
        elapsed = time.monotonic() - started
        if not replayable or attempt >= limit or elapsed >= self._deadline:
            raise exc
        log.debug(
            "http.resend_after_connection_lost",
            url=str(request.url.copy_with(query=None)),
            error=type(exc).__name__,
            attempt=attempt,
        )

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
