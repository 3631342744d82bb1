"""Slow clients are cut off: a request's head must arrive within `gateway.header_timeout_seconds`
of its first byte (or of the connection, for one that sends nothing), and its body within
`gateway.body_timeout_seconds` of the head.

uvicorn has no such limits: a client sending its headers a byte at a time, or a body that never
ends, held a connection (and the memory behind it) for as long as it liked; 300 of them and 100
slow bodies were all still open after 40 s in the audit. This is uvicorn's httptools protocol
with one timer per connection; its hooks' names are pinned by tests/unit/test_read_deadlines.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = structlog.get_logger(__name__)


class ReadDeadlines(HttpToolsProtocol):
    header_seconds: float = 10.0
    body_seconds: float = 60.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_seconds, "head")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm(self.header_seconds, "head")

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(self.body_seconds, "body")  # a request without a body completes at once

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, seconds: float, part: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired, part)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, part: str) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            log.warning("gateway.slow_client", part=part, client=str(self.client))
            self.transport.close()


def read_deadlines(header_seconds: float, body_seconds: float) -> type[ReadDeadlines]:
    """The protocol class uvicorn builds per connection, with these deadlines."""
    namespace = {"header_seconds": header_seconds, "body_seconds": body_seconds}
    return type("ReadDeadlines", (ReadDeadlines,), namespace)
