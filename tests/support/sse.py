"""A small SSE client over httpx, for tests: yields (id, event, data) as they arrive."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class SSEEvent:
    id: str
    event: str
    data: dict[str, Any]


async def sse_events(
    client: httpx.AsyncClient, url: str, *, last_event_id: str | None = None
) -> AsyncIterator[SSEEvent]:
    headers = {"Accept": "text/event-stream"}
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    async with client.stream("GET", url, headers=headers) as response:
        response.raise_for_status()
        fields: dict[str, str] = {}
        async for line in response.aiter_lines():
            if line == "":
                if "data" in fields:
                    yield SSEEvent(
                        fields.get("id", ""),
                        fields.get("event", "message"),
                        json.loads(fields["data"]),
                    )
                fields = {}
            elif line.startswith(":"):
                continue  # heartbeat comment
            else:
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")


async def sse_until_terminal(
    client: httpx.AsyncClient, url: str, *, terminal: tuple[str, ...] = ("done", "error")
) -> list[SSEEvent]:
    """As a browser's EventSource: a stream that breaks or is refused (the gateway lost Redis
    too) is opened again with the last id seen, until a terminal event. Bound it with
    `asyncio.wait_for`."""
    events: list[SSEEvent] = []
    while True:
        last = events[-1].id if events else None
        try:
            async for event in sse_events(client, url, last_event_id=last):
                events.append(event)
                if event.event in terminal:
                    return events
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.5)
