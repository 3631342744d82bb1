"""Scripted behaviour shared by the provider wire servers: failures, delays, recorded requests."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Failure:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Script:
    """Queue of things the server does instead of answering normally, in order."""

    failures: deque[Failure | str] = field(default_factory=deque)
    delay: float = 0.0
    chunk_delay: float = 0.0  # between the chunks of a streamed answer
    requests: list[dict[str, Any]] = field(default_factory=list)
    reply_text: str | None = None
    # Set: requests are answered; clear: each waits for it (a test holds chats mid-call).
    gate: threading.Event | None = None

    def fail(
        self,
        status: int,
        body: dict[str, Any] | bytes,
        *,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        for _ in range(times):
            self.failures.append(Failure(status, raw, headers or {}))

    def malformed(self, times: int = 1) -> None:
        """A 200 whose body is not JSON."""
        for _ in range(times):
            self.failures.append(Failure(200, b"{not json", {"content-type": "application/json"}))

    def hang(self, times: int = 1) -> None:
        """Never answer (until the client gives up)."""
        for _ in range(times):
            self.failures.append("hang")

    async def next_failure(self) -> Failure | None:
        if self.gate is not None and not self.gate.is_set():
            await asyncio.to_thread(self.gate.wait)  # set by the test's thread
        if self.delay:
            await asyncio.sleep(self.delay)
        if not self.failures:
            return None
        item = self.failures.popleft()
        if item == "hang":
            await asyncio.sleep(30)
        assert isinstance(item, Failure)
        return item


def fill_schema(schema: dict[str, Any], text: str, defs: dict[str, Any] | None = None) -> Any:
    """What a model would produce for a JSON Schema: strings carry `text`, the rest minimal."""
    defs = schema.get("$defs", {}) if defs is None else defs
    if "$ref" in schema:
        return fill_schema(defs[schema["$ref"].rsplit("/", 1)[-1]], text, defs)
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        options = [o for o in schema["anyOf"] if o.get("type") != "null"]
        return fill_schema(options[0], text, defs)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    if kind == "object":
        return {k: fill_schema(v, text, defs) for k, v in schema.get("properties", {}).items()}
    if kind == "array":  # one element, as a model asked for a non-empty list would give
        return [fill_schema(schema.get("items", {}), text, defs)]
    return {"integer": 1, "number": 0.5, "boolean": True, "null": None}.get(kind, text)


async def read_body(receive: Any) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def send_json(send: Any, status: int, payload: bytes, headers: dict[str, str]) -> None:
    all_headers = {"content-type": "application/json", **headers}
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(k.encode(), v.encode()) for k, v in all_headers.items()],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def send_sse(send: Any, events: list[bytes], chunk_delay: float = 0.0) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")],
        }
    )
    for event in events:
        await send({"type": "http.response.body", "body": event, "more_body": True})
        await asyncio.sleep(chunk_delay)
    await send({"type": "http.response.body", "body": b""})


@dataclass
class WireRequest:
    path: str
    query: str
    method: str
    headers: dict[str, str]
    body: bytes


class WireApp:
    """ASGI plumbing the provider servers share; subclasses implement `handle`."""

    def __init__(self, script: Script | None = None) -> None:
        self.script = script or Script()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        request = WireRequest(
            path=scope["path"],
            query=scope["query_string"].decode(),
            method=scope["method"],
            headers={k.decode(): v.decode() for k, v in scope["headers"]},
            body=await read_body(receive),
        )
        await self.handle(request, send)

    async def handle(self, request: WireRequest, send: Any) -> None:
        raise NotImplementedError

    async def scripted_failure(self, send: Any) -> bool:
        """Send the next scripted failure, if any; True when one was sent."""
        failure = await self.script.next_failure()
        if failure is None:
            return False
        await send_json(send, failure.status, failure.body, failure.headers)
        return True


async def lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
