"""Run an ASGI app with hypercorn on loopback in a background thread (HTTP/1.1, or h2 over TLS)."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme
from hypercorn.asyncio import serve
from hypercorn.config import Config

ASGIApp = Any


@dataclass
class TLSFiles:
    ca_pem: Path
    server_pem: Path

    @classmethod
    def create(cls, directory: Path) -> TLSFiles:
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        server_pem = directory / "server.pem"
        ca_pem = directory / "ca.pem"
        cert.private_key_and_cert_chain_pem.write_to_path(str(server_pem))
        ca.cert_pem.write_to_path(str(ca_pem))
        return cls(ca_pem=ca_pem, server_pem=server_pem)


@dataclass
class ConnectionLog:
    """What the server saw: one entry per TCP connection (client address) and HTTP version."""

    clients: set[tuple[str, int]] = field(default_factory=set)
    http_versions: set[str] = field(default_factory=set)
    requests: int = 0


@dataclass
class RunningServer:
    url: str
    connections: ConnectionLog


def _tracking(app: ASGIApp, log: ConnectionLog) -> ASGIApp:
    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            log.clients.add(tuple(scope["client"]))  # type: ignore[arg-type]
            log.http_versions.add(scope["http_version"])
            log.requests += 1
        await app(scope, receive, send)

    return wrapped


@contextmanager
def serve_in_thread(
    app: ASGIApp,
    *,
    tls: TLSFiles | None = None,
    keep_alive_max_requests: int = 10_000,
    keep_alive_timeout: float = 30.0,
) -> Iterator[RunningServer]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{listener.fileno()}"]
    config.keep_alive_max_requests = keep_alive_max_requests
    config.keep_alive_timeout = keep_alive_timeout
    config.graceful_timeout = 0.5
    config.accesslog = None
    quiet = logging.getLogger("tests.hypercorn")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    config.errorlog = quiet
    if tls is not None:
        config.certfile = str(tls.server_pem)
        config.keyfile = str(tls.server_pem)
        config.alpn_protocols = ["h2", "http/1.1"]
    log = ConnectionLog()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def run() -> None:
        await serve(_tracking(app, log), config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]

    thread = threading.Thread(target=_run_to_the_end, args=(loop, run()), daemon=True)
    thread.start()
    scheme = "https" if tls else "http"
    try:
        _wait_until_listening(port, thread)
    except BaseException:
        loop.call_soon_threadsafe(stop.set)
        thread.join(SHUTDOWN_DEADLINE)
        listener.close()
        raise
    # Hypercorn owns the descriptor now and closes it when it stops: closing ours later could
    # close whatever socket reused that number in the meantime.
    listener.detach()
    try:
        yield RunningServer(url=f"{scheme}://127.0.0.1:{port}", connections=log)
    finally:
        loop.call_soon_threadsafe(stop.set)
        # However long a loaded machine takes to close thousands of connections: closing the
        # loop before its thread returns raises "Cannot close a running event loop".
        thread.join(SHUTDOWN_DEADLINE)
        if thread.is_alive():
            raise RuntimeError(f"server on port {port} did not stop in {SHUTDOWN_DEADLINE} s")


def _run_to_the_end(loop: asyncio.AbstractEventLoop, main: Any) -> None:
    """Run the server, then end what it left behind, as `asyncio.run` does, in this thread.

    hypercorn's serve() can return while connection tasks it cancelled have not run their
    cancellation yet (a loaded machine, thousands of recycled connections); a loop closed
    then destroys them pending and their sockets are reported unclosed at the next garbage
    collection, in whichever test runs by then."""
    try:
        loop.run_until_complete(main)
    finally:
        try:
            left = asyncio.all_tasks(loop)
            for task in left:
                task.cancel()
            if left:
                loop.run_until_complete(asyncio.wait(left, timeout=SHUTDOWN_DEADLINE))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


SHUTDOWN_DEADLINE = 300.0


def _wait_until_listening(port: int, thread: threading.Thread, deadline: float = 120.0) -> None:
    started = time.monotonic()
    while time.monotonic() - started < deadline:
        if not thread.is_alive():
            raise RuntimeError(f"server on port {port} exited before it listened")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            threading.Event().wait(0.02)
    raise RuntimeError(f"server on port {port} did not start in {deadline} s")
