"""A transport that survives connection recycling, written once for httpx and httpx2."""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

import structlog
from opentelemetry.trace import SpanKind, StatusCode, Tracer

from app.infrastructure.http.libraries import HttpLibrary
from app.infrastructure.http.limit import AdaptiveLimit

log = structlog.get_logger(__name__)

CONNECT_ATTEMPTS = 2
# A handshake that timed out sent nothing; on a loaded machine the replacement for a recycled
# connection can miss the connect timeout once or twice (seen: 1 in 2,000 with both cores
# busy). Bounded, and the resend deadline still applies.
CONNECT_TIMEOUT_ATTEMPTS = 3
STREAMING_TYPES = ("text/event-stream", "application/x-ndjson", "application/jsonl")
MAX_BUFFERED_BODY = 16 * 1024 * 1024


# What the transport touches of a request and a response: the same in both libraries, so one
# implementation serves both and mypy checks it against each.
class OriginURL(Protocol):
    @property
    def raw_scheme(self) -> bytes: ...
    @property
    def raw_host(self) -> bytes: ...
    @property
    def port(self) -> int | None: ...
    def copy_with(self, **kwargs: Any) -> object: ...


class PoolRequest(Protocol):
    @property
    def url(self) -> OriginURL: ...
    @property
    def stream(self) -> object: ...


class PoolResponse(Protocol):
    @property
    def status_code(self) -> int: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def extensions(self) -> Mapping[str, Any]: ...
    async def aread(self) -> bytes: ...
    async def aclose(self) -> None: ...


RequestT = TypeVar("RequestT", bound=PoolRequest)
ResponseT = TypeVar("ResponseT", bound=PoolResponse)
RequestIn = TypeVar("RequestIn", bound=PoolRequest, contravariant=True)
ResponseOut = TypeVar("ResponseOut", bound=PoolResponse, covariant=True)


class InnerTransport(Protocol[RequestIn, ResponseOut]):
    """The library's own pooled transport (`AsyncHTTPTransport`), or a test's scripted one."""

    async def handle_async_request(self, request: RequestIn) -> ResponseOut: ...
    async def aclose(self) -> None: ...


class RecyclingSafeTransport(Generic[RequestT, ResponseT]):
    """Resends requests lost to a recycled connection, and keeps the queue in front of the pool.

    - Over HTTP/2 the pool queues every request on one connection; a GOAWAY then fails all of
      them at once. An adaptive per-origin cap (`max_in_flight` at most) keeps the queue here,
      so a recycled connection strands only the requests actually in flight on it.
    - A request that failed with a connection-lost error is sent again on a new connection,
      with jittered backoff, up to `attempts` times and within `deadline` seconds.
    - Bodies that are not event streams are read inside the retry, because an HTTP/2 response
      can fail while being read (the WINDOW_UPDATE write hits the closed socket).
    - A connect that timed out is tried again too (up to three times): nothing was sent yet.
      Other timeouts and HTTP statuses are not retried here: they are the caller's policy (the
      SDKs and our adapters retry 429/5xx with Retry-After themselves).
    A resent request may have reached the server before its connection died; that is the
    same trade the OpenAI SDK makes for connection errors, and every API we call either reads
    or generates, so a duplicate costs tokens, never correctness.

    It implements the library's transport interface (the four methods its client calls)
    without subclassing either library's base class, so one class serves both.
    """

    def __init__(
        self,
        inner: InnerTransport[RequestT, ResponseT],
        *,
        library: HttpLibrary,
        attempts: int = 10,
        deadline: float = 30.0,
        max_in_flight: int = 100,
        tracer: Tracer | None = None,
    ) -> None:
        self._inner = inner
        self._tracer = tracer
        self.in_flight = 0  # requests being sent or waiting for their headers (metrics)
        self.library = library
        self._attempts = attempts
        self._deadline = deadline
        self._limits: defaultdict[tuple[bytes, bytes, int | None], AdaptiveLimit] = defaultdict(
            lambda: AdaptiveLimit(max_in_flight)
        )
        self.retries = 0

    def connections(self) -> tuple[int, int]:
        """(open, idle) connections of the library's pool, for metrics; (0, 0) for a
        transport without one (a test's scripted inner transport)."""
        pool = getattr(self._inner, "_pool", None)  # httpcore's pool: `connections` is public
        held = list(getattr(pool, "connections", ()))
        return len(held), sum(1 for c in held if c.is_idle())

    def limit_for(self, url: OriginURL) -> AdaptiveLimit:
        return self._limits[(url.raw_scheme, url.raw_host, url.port)]

    async def handle_async_request(self, request: RequestT) -> ResponseT:
        self.in_flight += 1
        try:
            if self._tracer is None:
                return await self._handle(request)
            return await self._traced(self._tracer, request)
        finally:
            self.in_flight -= 1

    async def _traced(self, tracer: Tracer, request: RequestT) -> ResponseT:
        url = request.url
        method = getattr(request, "method", b"GET")
        method = method.decode() if isinstance(method, bytes) else str(method)
        attributes = {
            "http.request.method": method,
            "server.address": url.raw_host.decode("ascii", "replace"),
            "url.scheme": url.raw_scheme.decode("ascii", "replace"),
        }
        if url.port is not None:
            attributes["server.port"] = str(url.port)
        with tracer.start_as_current_span(
            f"HTTP {method}", kind=SpanKind.CLIENT, attributes=attributes
        ) as span:
            response = await self._handle(request)
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.set_status(StatusCode.ERROR)
            return response

    async def _handle(self, request: RequestT) -> ResponseT:
        limit = self.limit_for(request.url)
        replayable = isinstance(request.stream, self.library.module.ByteStream)
        first_lost: float | None = None
        attempt = 1
        while True:
            queued = time.monotonic()
            await limit.acquire()
            if first_lost is not None:
                # Waiting for a slot again is load too: after a loss the cap is halved and a
                # resend queues behind every other request, which on a busy machine can take
                # longer than the whole budget. The deadline is for the origin, not the queue.
                first_lost += time.monotonic() - queued
            try:
                response = await self._send_once(request)
            except (*self.library.connection_lost, self.library.connect_timeout) as exc:
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
        request: RequestT,
        replayable: bool,
        attempt: int,
        started: float,
    ) -> None:
        # A refused connect means the server is down, not recycling: leave that to the
        # callers' retry policy after one quick second try.
        if isinstance(exc, self.library.connect_error):
            limit = CONNECT_ATTEMPTS
        elif isinstance(exc, self.library.connect_timeout):
            limit = min(CONNECT_TIMEOUT_ATTEMPTS, self._attempts)
        else:
            limit = self._attempts
        elapsed = time.monotonic() - started
        if not replayable or attempt >= limit or elapsed >= self._deadline:
            # Which budget ran out is what an operator needs to tell a dead origin from a slow one.
            exc.add_note(
                f"gave up after {attempt} attempt(s), {elapsed:.1f} s since the first lost "
                f"connection (at most {limit} attempts, {self._deadline:.0f} s)"
            )
            raise exc
        log.debug(
            "http.resend_after_connection_lost",
            url=str(request.url.copy_with(query=None)),
            error=type(exc).__name__,
            attempt=attempt,
        )

    async def _send_once(self, request: RequestT) -> ResponseT:
        response = await self._inner.handle_async_request(request)
        if not _should_buffer(response):
            return response
        try:
            body = await response.aread()
        finally:
            await response.aclose()
        buffered: ResponseT = self.library.module.Response(
            response.status_code,
            headers=response.headers,
            content=body,
            extensions=response.extensions,
            request=request,
        )
        return buffered

    async def __aenter__(self) -> RecyclingSafeTransport[RequestT, ResponseT]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._inner.aclose()


def _should_buffer(response: PoolResponse) -> bool:
    content_type = response.headers.get("content-type", "")
    if content_type.startswith(STREAMING_TYPES):
        return False
    length = response.headers.get("content-length")
    return length is None or (length.isdigit() and int(length) <= MAX_BUFFERED_BODY)
