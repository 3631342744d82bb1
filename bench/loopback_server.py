"""A loopback hypercorn server in a process of its own, for client benchmarks.

In the client's process the server would share its GIL and core, and every figure would be
half server. Here the client's CPU time is the client's alone, and the server's ConnectionLog
(how many TCP connections it saw) is read over a pipe.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from tests.support.asgi_server import TLSFiles, serve_in_thread
from tests.support.wire_script import lifespan

# What an OpenAI-compatible server answers to a chat completion (the size of a short reply).
ANSWER = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "echo: hi"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
    }
).encode()
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())]


async def fixed_answer(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Reads the request body and answers one chat completion: as cheap as a server can be."""
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": ANSWER})


def _serve(pipe: Connection, tls: TLSFiles | None, keep_alive_max_requests: int) -> None:
    # hypercorn reports every recycled connection's teardown on stderr: noise in a table.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    with serve_in_thread(
        fixed_answer, tls=tls, keep_alive_max_requests=keep_alive_max_requests
    ) as server:
        pipe.send(server.url)
        while pipe.recv() == "connections":
            pipe.send(len(server.connections.clients))


@dataclass
class ServerProcess:
    url: str
    _pipe: Connection

    def connections(self) -> int:
        """TCP connections the server has accepted so far."""
        self._pipe.send("connections")
        count: int = self._pipe.recv()
        return count


@contextmanager
def serve_in_process(
    *, tls: TLSFiles | None = None, keep_alive_max_requests: int = 10_000
) -> Iterator[ServerProcess]:
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(theirs, tls, keep_alive_max_requests), daemon=True
    )
    process.start()
    try:
        if not ours.poll(30):
            raise RuntimeError("loopback server did not start")
        yield ServerProcess(url=ours.recv(), _pipe=ours)
    finally:
        ours.send("stop")
        process.join(10)
        if process.is_alive():
            process.kill()
