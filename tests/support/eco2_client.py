"""A client that behaves as the eco2 web client does in a browser, for contract tests: axios with
`withCredentials` (a cookie jar, JSON, POST /chat with no body and no Content-Type) from a page
of another origin, with the browser's CORS checks (a preflight before any non-simple request,
the response unreadable unless it names the origin and allows credentials), and EventSource
(named events, the last `id:` remembered, a reconnect sending it as `Last-Event-ID`)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

# A page on the same site as a gateway on 127.0.0.1 (ports do not make another site), so a
# SameSite=Lax cookie travels, as with the client's dev server against a local gateway.
PAGE_ORIGIN = "http://127.0.0.1:5173"
SIMPLE_METHODS = ("GET", "HEAD", "POST")


class CorsRefused(AssertionError):
    """What a browser does when CORS does not allow the page to make or read the request."""


class StreamRefused(AssertionError):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"EventSource got {status}: {body}")
        self.status = status
        self.body = body


@dataclass
class Frame:
    event: str
    data: dict[str, Any]
    id: str | None  # the frame's own `id:` field (None: it had none)


class Browser:
    """One browser profile with the client's page open on `origin`."""

    def __init__(
        self, base_url: str, *, origin: str = PAGE_ORIGIN, headers: dict[str, str] | None = None
    ) -> None:
        self.origin = origin
        self.extra = headers or {}  # what every request carries (an API key, where one is used)
        self.http = httpx.AsyncClient(base_url=base_url, timeout=30, headers=headers or {})

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    @property
    def cookies(self) -> httpx.Cookies:
        return self.http.cookies

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """As axios with withCredentials: JSON when there is a body, none otherwise."""
        sent = {"Origin": self.origin, "Accept": "application/json, text/plain, */*"}
        sent.update({**self.extra, **(headers or {})})
        content = None
        if json_body is not None:
            sent["Content-Type"] = "application/json"
            content = json.dumps(json_body).encode()
        if method not in SIMPLE_METHODS or "Content-Type" in sent or "Authorization" in sent:
            await self.preflight(method, path, [h for h in sent if h.lower() not in SAFE])
        response = await self.http.request(
            method, path, content=content, params=params, headers=sent
        )
        self.check_readable(response)
        return response

    async def preflight(self, method: str, path: str, headers: list[str]) -> httpx.Response:
        """The OPTIONS a browser sends first; CorsRefused when it would not go on."""
        asked = {
            "Origin": self.origin,
            "Access-Control-Request-Method": method,
        }
        if headers:
            asked["Access-Control-Request-Headers"] = ",".join(h.lower() for h in headers)
        # A preflight carries no cookies.
        async with httpx.AsyncClient(base_url=str(self.http.base_url), timeout=30) as bare:
            response = await bare.options(path, headers=asked)
        allowed = response.headers.get("access-control-allow-methods", "")
        if (
            response.status_code // 100 != 2
            or response.headers.get("access-control-allow-origin") != self.origin
            or response.headers.get("access-control-allow-credentials") != "true"
            or method not in [m.strip() for m in allowed.split(",")]
        ):
            raise CorsRefused(f"preflight for {method} {path} refused: {response.status_code}")
        return response

    def check_readable(self, response: httpx.Response) -> None:
        if (
            response.headers.get("access-control-allow-origin") != self.origin
            or response.headers.get("access-control-allow-credentials") != "true"
        ):
            raise CorsRefused(f"the page may not read {response.request.url}")

    def event_source(self, url: str) -> EventSource:
        return EventSource(self, url)


SAFE = {"accept", "accept-language", "content-language", "origin"}


class EventSource:
    """`new EventSource(url, {withCredentials: true})`: each `frames()` is one connection; a
    later one sends the last id received, as the browser's reconnect does."""

    def __init__(self, browser: Browser, url: str) -> None:
        self.browser = browser
        self.url = url
        self.last_event_id = ""
        self.connections = 0

    async def frames(self) -> AsyncIterator[Frame]:
        """The frames of one connection, until the server closes it (or the caller stops:
        a dropped connection)."""
        headers = {
            "Accept": "text/event-stream",
            "Cache-Control": "no-cache",
            "Origin": self.browser.origin,
        }
        if self.last_event_id:
            headers["Last-Event-ID"] = self.last_event_id
        self.connections += 1
        async with self.browser.http.stream("GET", self.url, headers=headers) as response:
            if response.status_code != 200:
                raise StreamRefused(response.status_code, (await response.aread()).decode())
            self.browser.check_readable(response)
            assert response.headers["content-type"].startswith("text/event-stream")
            event, data, frame_id = "", [], None
            async for line in response.aiter_lines():
                if line == "":
                    if data:
                        yield Frame(event or "message", json.loads("\n".join(data)), frame_id)
                    event, data, frame_id = "", [], None
                    continue
                if line.startswith(":"):
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "event":
                    event = value
                elif name == "data":
                    data.append(value)
                elif name == "id":
                    frame_id = value
                    self.last_event_id = value  # the browser keeps it for its reconnect


async def read_all(source: EventSource, *, skip: tuple[str, ...] = ("keepalive",)) -> list[Frame]:
    """One connection's frames to its end (keepalives left out)."""
    return [frame async for frame in source.frames() if frame.event not in skip]
