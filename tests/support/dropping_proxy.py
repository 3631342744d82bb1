"""A TCP proxy that drops the first N connections after reading the request, like a load
balancer restarting: the client sees the connection close with no response."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass


@dataclass
class DropCounter:
    remaining: int
    dropped: int = 0


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


@asynccontextmanager
async def dropping_proxy(upstream_port: int, drop: int) -> AsyncIterator[tuple[str, DropCounter]]:
    counter = DropCounter(remaining=drop)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if counter.remaining > 0:
            counter.remaining -= 1
            counter.dropped += 1
            await reader.read(65536)  # the request arrived; the answer never will
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}", counter
