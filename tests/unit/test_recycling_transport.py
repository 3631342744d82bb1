"""RecyclingSafeTransport's policy, driven by a scripted inner transport."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from app.infrastructure.http import AdaptiveLimit, RecyclingSafeTransport, build_http_client
from app.settings import HttpSettings


class ScriptedTransport(httpx.AsyncBaseTransport):
    """Raises the scripted errors in order, then answers 200; counts what it was sent."""

    def __init__(self, errors: list[Exception], content_type: str = "application/json") -> None:
        self.errors = errors
        self.sent = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.content_type = content_type
        self.body_read = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.001)
            if self.errors:
                raise self.errors.pop(0)
            return httpx.Response(
                200, headers={"content-type": self.content_type}, content=self._body()
            )
        finally:
            self.in_flight -= 1

    async def _body(self) -> AsyncIterator[bytes]:
        yield b"{}"
        self.body_read = True


def client(inner: httpx.AsyncBaseTransport, **kwargs: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=RecyclingSafeTransport(inner, **kwargs))


@pytest.mark.parametrize(
    "error",
    [
        httpx.WriteError("EPIPE"),
        httpx.RemoteProtocolError("GOAWAY"),
        httpx.ReadError("reset"),
        httpx.LocalProtocolError("state closed"),
    ],
)
async def test_connection_lost_is_sent_again(error: Exception) -> None:
    inner = ScriptedTransport([error, error])
    async with client(inner) as http:
        assert (await http.post("http://upstream/x", json={"a": 1})).status_code == 200
    assert inner.sent == 3


async def test_attempts_are_bounded() -> None:
    inner = ScriptedTransport([httpx.WriteError("EPIPE")] * 5)
    async with client(inner, attempts=3) as http:
        with pytest.raises(httpx.WriteError):
            await http.post("http://upstream/x", json={})
    assert inner.sent == 3


async def test_refused_connect_is_tried_only_twice() -> None:
    inner = ScriptedTransport([httpx.ConnectError("refused")] * 5)
    async with client(inner) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get("http://upstream/x")
    assert inner.sent == 2


async def test_timeouts_are_not_retried_here() -> None:
    inner = ScriptedTransport([httpx.ReadTimeout("slow")])
    async with client(inner) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get("http://upstream/x")
    assert inner.sent == 1


async def test_streamed_request_bodies_are_not_replayed() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"chunk"

    inner = ScriptedTransport([httpx.WriteError("EPIPE")])
    async with client(inner) as http:
        with pytest.raises(httpx.WriteError):
            await http.post("http://upstream/x", content=body())
    assert inner.sent == 1


async def test_in_flight_requests_per_origin_are_capped() -> None:
    inner = ScriptedTransport([])
    async with client(inner, max_in_flight=5) as http:
        await asyncio.gather(*(http.get("http://upstream/x") for _ in range(40)))
        await asyncio.gather(*(http.get(f"http://other{i % 2}/x") for i in range(40)))
    assert inner.max_in_flight <= 10
    assert inner.sent == 80


async def test_event_streams_are_passed_through_unbuffered() -> None:
    inner = ScriptedTransport([], content_type="text/event-stream")
    async with client(inner) as http, http.stream("GET", "http://upstream/sse") as response:
        assert not inner.body_read
        assert await response.aread() == b"{}"


async def test_other_bodies_are_read_inside_the_retry() -> None:
    inner = ScriptedTransport([])
    async with client(inner) as http, http.stream("GET", "http://upstream/x") as response:
        assert inner.body_read
        assert await response.aread() == b"{}"


def test_shared_client_has_the_seed_figures() -> None:
    http = build_http_client(HttpSettings())
    timeout = http.timeout
    assert (timeout.connect, timeout.read, timeout.write, timeout.pool) == (5.0, 60.0, 10.0, 5.0)
    transport = http._transport
    assert isinstance(transport, RecyclingSafeTransport)
    pool = transport._inner._pool  # type: ignore[attr-defined]
    assert (pool._max_connections, pool._max_keepalive_connections) == (100, 20)
    assert pool._keepalive_expiry == 30.0 and pool._http2 is True


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
