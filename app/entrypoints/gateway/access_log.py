"""One access-log line per HTTP request, through the process's log pipeline: method, path,
status, duration and the principal when the route learnt it. Never the query string (job tokens
travel there) nor a header."""

from __future__ import annotations

import time
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("app.access")
PRINCIPAL = "principal"  # the key routes set in the request's state (scope["state"])


class AccessLog:
    """ASGI middleware, outermost: a request refused by an inner one (413) is logged too.
    A streamed response (SSE) is logged when it ends, with its whole duration."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client sees if the app fails before it answers

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            log.info(
                "http.request",
                method=scope.get("method", ""),
                path=scope.get("path", ""),
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
                principal=_principal(scope),
            )


def _principal(scope: Scope) -> str | None:
    state: dict[str, Any] = scope.get("state") or {}
    found = state.get(PRINCIPAL)
    return getattr(found, "id", None)
