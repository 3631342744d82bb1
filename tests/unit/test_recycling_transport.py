"""RecyclingSafeTransport's policy, driven by a scripted inner transport, on both libraries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

import app.infrastructure.http.transport as transport_module
from app.infrastructure.http import (
    LIBRARIES,
    AdaptiveLimit,
    HttpLibrary,
    RecyclingSafeTransport,
    build_http_client,
)
from app.settings import HttpSettings


class ScriptedTransport:
    """Raises the scripted errors in order, then answers 200; counts what it was sent."""

    def __init__(
        self, lib: ModuleType, errors: list[Exception], content_type: str = "application/json"
    ) -> None:
        self.lib = lib
        self.errors = errors
        self.sent = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.content_type = content_type
        self.body_read = False

    async def handle_async_request(self, request: Any) -> Any:
        self.sent += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.001)
            if self.errors:
                raise self.errors.pop(0)
            return self.lib.Response(
                200, headers={"content-type": self.content_type}, content=self._body()
            )
        finally:
            self.in_flight -= 1

    async def _body(self) -> AsyncIterator[bytes]:
        yield b"{}"
        self.body_read = True

    async def aclose(self) -> None:
        pass


@pytest.fixture(params=sorted(LIBRARIES))
def library(request: pytest.FixtureRequest) -> HttpLibrary:
    return LIBRARIES[request.param]


def scripted(library: HttpLibrary, errors: list[str], **kwargs: Any) -> ScriptedTransport:
    """`errors` are exception class names, raised as the library under test raises them."""
    return ScriptedTransport(
        library.module, [getattr(library.module, e)(e) for e in errors], **kwargs
    )


def client(library: HttpLibrary, inner: ScriptedTransport, **kwargs: int) -> Any:
    transport = RecyclingSafeTransport(inner, library=library, **kwargs)
    return library.module.AsyncClient(transport=transport)


@pytest.mark.parametrize(
    "error", ["WriteError", "RemoteProtocolError", "ReadError", "LocalProtocolError"]
)
async def test_connection_lost_is_sent_again(library: HttpLibrary, error: str) -> None:
    inner = scripted(library, [error, error])
    async with client(library, inner) as http:
        assert (await http.post("http://upstream/x", json={"a": 1})).status_code == 200
    assert inner.sent == 3


async def test_attempts_are_bounded(library: HttpLibrary) -> None:
    inner = scripted(library, ["WriteError"] * 5)
    async with client(library, inner, attempts=3) as http:
        with pytest.raises(library.module.WriteError):
            await http.post("http://upstream/x", json={})
    assert inner.sent == 3


async def test_queueing_for_a_slot_does_not_use_up_the_resend_deadline(
    library: HttpLibrary, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a loss the cap is halved and the resend queues behind everyone else: on a busy
    machine that wait outlasted the 30 s deadline and a request recycling would have saved was
    lost (1 in 2,000 at load 13). Queue time is load, not the origin failing."""
    now = [0.0]
    monkeypatch.setattr(transport_module, "time", SimpleNamespace(monotonic=lambda: now[0]))
    inner = scripted(library, ["WriteError", "WriteError"])
    transport = RecyclingSafeTransport(inner, library=library, deadline=30)
    limit = transport.limit_for(library.module.URL("http://upstream/x"))
    acquire = limit.acquire

    async def slow_queue() -> None:
        now[0] += 100  # every wait for a slot takes longer than the whole budget
        await acquire()

    monkeypatch.setattr(limit, "acquire", slow_queue)
    async with library.module.AsyncClient(transport=transport) as http:
        assert (await http.post("http://upstream/x", json={})).status_code == 200
    assert inner.sent == 3


async def test_the_deadline_still_ends_resends_to_a_failing_origin(
    library: HttpLibrary, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [0.0]
    monkeypatch.setattr(transport_module, "time", SimpleNamespace(monotonic=lambda: now[0]))
    inner = scripted(library, ["WriteError"] * 5)
    send = inner.handle_async_request

    async def slow_failure(request: Any) -> Any:
        now[0] += 20  # the origin takes 20 s to drop each attempt
        return await send(request)

    monkeypatch.setattr(inner, "handle_async_request", slow_failure)
    async with client(library, inner, deadline=30) as http:
        with pytest.raises(library.module.WriteError) as caught:
            await http.post("http://upstream/x", json={})
    assert inner.sent == 3  # lost at 20 s, resent (40 s), resent: 60 s since the first loss
    assert "3 attempt(s), 40.0 s since the first lost connection" in str(caught.value.__notes__)


async def test_refused_connect_is_tried_only_twice(library: HttpLibrary) -> None:
    inner = scripted(library, ["ConnectError"] * 5)
    async with client(library, inner) as http:
        with pytest.raises(library.module.ConnectError):
            await http.get("http://upstream/x")
    assert inner.sent == 2


async def test_a_connect_timeout_is_tried_again(library: HttpLibrary) -> None:
    inner = scripted(library, ["ConnectTimeout", "ConnectTimeout"])
    async with client(library, inner) as http:
        assert (await http.post("http://upstream/x", json={"a": 1})).status_code == 200
    assert inner.sent == 3


async def test_connect_timeouts_are_tried_three_times_at_most(library: HttpLibrary) -> None:
    inner = scripted(library, ["ConnectTimeout"] * 5)
    async with client(library, inner) as http:
        with pytest.raises(library.module.ConnectTimeout):
            await http.get("http://upstream/x")
    assert inner.sent == 3


async def test_timeouts_are_not_retried_here(library: HttpLibrary) -> None:
    inner = scripted(library, ["ReadTimeout"])
    async with client(library, inner) as http:
        with pytest.raises(library.module.ReadTimeout):
            await http.get("http://upstream/x")
    assert inner.sent == 1


async def test_streamed_request_bodies_are_not_replayed(library: HttpLibrary) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"chunk"

    inner = scripted(library, ["WriteError"])
    async with client(library, inner) as http:
        with pytest.raises(library.module.WriteError):
            await http.post("http://upstream/x", content=body())
    assert inner.sent == 1


async def test_in_flight_requests_per_origin_are_capped(library: HttpLibrary) -> None:
    inner = scripted(library, [])
    async with client(library, inner, max_in_flight=5) as http:
        await asyncio.gather(*(http.get("http://upstream/x") for _ in range(40)))
        await asyncio.gather(*(http.get(f"http://other{i % 2}/x") for i in range(40)))
    assert inner.max_in_flight <= 10
    assert inner.sent == 80


async def test_event_streams_are_passed_through_unbuffered(library: HttpLibrary) -> None:
    inner = scripted(library, [], content_type="text/event-stream")
    async with (
        client(library, inner) as http,
        http.stream("GET", "http://upstream/sse") as response,
    ):
        assert not inner.body_read
        assert await response.aread() == b"{}"


async def test_other_bodies_are_read_inside_the_retry(library: HttpLibrary) -> None:
    inner = scripted(library, [])
    async with client(library, inner) as http, http.stream("GET", "http://upstream/x") as response:
        assert inner.body_read
        assert await response.aread() == b"{}"


def test_shared_client_has_the_pool_figures(library: HttpLibrary) -> None:
    http = build_http_client(HttpSettings(client=library.name))
    assert isinstance(http, library.module.AsyncClient)
    timeout = http.timeout
    assert (timeout.connect, timeout.read, timeout.write, timeout.pool) == (5.0, 60.0, 10.0, 5.0)
    transport = http._transport
    assert isinstance(transport, RecyclingSafeTransport) and transport.library is library
    pool = transport._inner._pool  # type: ignore[attr-defined]
    # Keep-alive sized to the pool: an idle connection is kept, not closed and reopened.
    assert (pool._max_connections, pool._max_keepalive_connections) == (100, 100)
    assert pool._keepalive_expiry == 30.0 and pool._http2 is True


def test_a_smaller_keepalive_is_still_honoured() -> None:
    settings = HttpSettings(max_connections=50, max_keepalive_connections=10)
    pool = build_http_client(settings)._transport._inner._pool  # type: ignore[union-attr]
    assert (pool._max_connections, pool._max_keepalive_connections) == (50, 10)
    assert HttpSettings(max_connections=8, max_keepalive_connections=30).keepalive_connections == 8


async def test_adaptive_limit_halves_on_loss_and_creeps_back() -> None:
    limit = AdaptiveLimit(ceiling=64, floor=4)
    for _ in range(10):  # one burst of failures is one signal
        await limit.acquire()
        await limit.release(connection_lost=True)
    assert limit.limit == 32
    for _ in range(33):  # additive increase: one step per window of successes
        await limit.acquire()
        await limit.release(connection_lost=False)
    assert limit.limit == 33
    for _ in range(10_000):
        await limit.acquire()
        await limit.release(connection_lost=False)
    assert limit.limit == 64


async def test_adaptive_limit_never_drops_below_its_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    limit = AdaptiveLimit(ceiling=16, floor=4)
    monkeypatch.setattr(AdaptiveLimit, "CUT_WINDOW", 0.0)
    for _ in range(10):
        await limit.acquire()
        await asyncio.sleep(0.001)
        await limit.release(connection_lost=True)
    assert limit.limit == 4


async def test_requests_wait_for_the_reduced_limit() -> None:
    limit = AdaptiveLimit(ceiling=2, floor=1)
    await limit.acquire()
    await limit.acquire()
    waiter = asyncio.create_task(limit.acquire())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    await limit.release(connection_lost=False)
    await asyncio.wait_for(waiter, 1)
