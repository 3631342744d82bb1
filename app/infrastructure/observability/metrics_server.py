"""The worker's own GET /metrics: a minimal HTTP/1.1 responder on the worker's event loop, so
a scrape samples the same process (and awaits Redis) without a thread or a web framework."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog

from app.application.ports.telemetry import MetricsExpositionPort
from app.settings import MetricsSettings

log = structlog.get_logger(__name__)
HEAD_LIMIT = 8192


class MetricsServer:
    def __init__(self, exposition: MetricsExpositionPort) -> None:
        self._exposition = exposition

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):  # not wait_for: see redis.py, KeepsCancellation
                head = await reader.readuntil(b"\r\n\r\n")
            method, path = _request_line(head[:HEAD_LIMIT])
            if method != "GET" or path.split("?")[0] not in ("/metrics", "/"):
                await _reply(writer, "404 Not Found", "text/plain", b"not found\n")
            else:
                body = await self._exposition.render()
                await _reply(writer, "200 OK", self._exposition.content_type, body)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, OSError):
            pass  # a scraper that went away
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def _request_line(head: bytes) -> tuple[str, str]:
    parts = head.split(b"\r\n", 1)[0].decode("latin-1").split()
    return (parts[0], parts[1]) if len(parts) >= 2 else ("", "")


async def _reply(writer: asyncio.StreamWriter, status: str, content_type: str, body: bytes) -> None:
    writer.write(
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode("latin-1")
        + body
    )
    await writer.drain()


async def metrics_server_resource(
    settings: MetricsSettings, exposition: MetricsExpositionPort
) -> AsyncIterator[int | None]:
    """Container Resource: serves while the worker runs; yields the bound port (or None).

    A port already taken (a second worker on the host) costs the metrics, not the worker."""
    if not settings.enabled or settings.worker_port is None:
        yield None
        return
    server_side = MetricsServer(exposition)
    try:
        server = await asyncio.start_server(
            server_side.handle, settings.worker_host, settings.worker_port
        )
    except OSError as exc:
        log.warning(
            "metrics.worker_port_unavailable",
            port=settings.worker_port,
            error=str(exc),
            fix="give each worker process its own APP_METRICS__WORKER_PORT",
        )
        yield None
        return
    port = int(server.sockets[0].getsockname()[1])
    log.info("metrics.serving", host=settings.worker_host, port=port)
    try:
        yield port
    finally:
        server.close()
        await server.wait_closed()
