"""`python -m app gateway`: uvicorn serving the app, its log records in the process's pipeline."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import structlog
import uvicorn

from app.containers_core import Startup
from app.entrypoints.gateway.app import create_app
from app.entrypoints.gateway.read_deadlines import read_deadlines
from app.settings import Settings

log = structlog.get_logger(__name__)


class ListeningServer(uvicorn.Server):
    """uvicorn's Server that prints where it listens once the socket is bound: the line an
    operator (or a script waiting for the gateway) looks for, on stdout, apart from the logs."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.servers and self.servers[0].sockets:
            url = listening_url(self.config.host, self.servers[0].sockets[0].getsockname())
            print(f"eco2 gateway listening on {url} (API docs: {url}/docs)", flush=True)
            log.info("gateway.listening", url=url, docs=f"{url}/docs")


def listening_url(host: str, bound: Any) -> str:
    port = bound[1]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(settings: Settings) -> None:
    startup = Startup(settings=settings)
    startup.logging()  # before uvicorn's first record
    asyncio.run(startup.require(redis=True, checkpoint=False))
    config = uvicorn.Config(
        create_app(settings),
        host=settings.gateway.host,
        port=settings.gateway.port,
        log_config=None,  # uvicorn's records go through our root handler, once
        access_log=False,  # ours (AccessLog) leaves the query string, and its tokens, out
        http=read_deadlines(
            settings.gateway.header_timeout_seconds, settings.gateway.body_timeout_seconds
        ),
        timeout_keep_alive=settings.gateway.keep_alive_seconds,
    )
    ListeningServer(config).run()
