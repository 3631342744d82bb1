"""Readers opening streams share round trips: a bounded wait for Redis, never an error.

Thousands of SSE clients may open their streams within a second. Each opening is a round trip
or two; one by one, they all queue on the connection pool at once and the late ones fail with
"No connection available" after its timeout (a 503, or a stream broken after its 200). Here an
opening hands its commands to one opener, which sends whatever has gathered as one pipeline on
one connection: hundreds of openings per round trip, however busy the process, and the pool
stays free for the hub's read and for submissions. A reader waits `wait_seconds` at most.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from redis.asyncio import Redis

from app.application.ports.jobs import FollowersBusy

log = structlog.get_logger(__name__)
Command = tuple[str, tuple[Any, ...], dict[str, Any]]  # a Redis client method and its arguments


class Admission:
    def __init__(self, redis: Redis, wait_seconds: float = 60.0, *, batch: int = 256) -> None:
        self._redis = redis
        self._wait = wait_seconds
        self._batch = batch
        self._queue: list[tuple[list[Command], asyncio.Future[list[Any]]]] = []
        self._opener: asyncio.Task[None] | None = None

    @property
    def waiting(self) -> int:
        return len(self._queue)

    async def run(self, commands: list[Command]) -> list[Any]:
        """The replies to `commands`, sent with every other opening waiting now; a refused
        command raises its error, an unreachable Redis its connection error."""
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._queue.append((commands, future))
        if self._opener is None or self._opener.done():
            self._opener = asyncio.get_running_loop().create_task(self._open(), name="openings")
        try:
            async with asyncio.timeout(self._wait):  # not wait_for: see hub.py's _next
                replies = await asyncio.shield(future)
        except TimeoutError as exc:
            future.cancel()  # the opener skips it
            raise FollowersBusy(
                f"no turn at Redis within {self._wait:.0f} s", provider="redis"
            ) from exc
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies

    async def _open(self) -> None:
        while self._queue:
            taken = [(c, f) for c, f in self._queue[: self._batch] if not f.done()]
            del self._queue[: self._batch]
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for commands, _ in taken:
                        for name, args, kwargs in commands:
                            getattr(pipe, name)(*args, **kwargs)
                    replies = await pipe.execute(raise_on_error=False)
            except Exception as exc:  # Redis down: each waiting reader hears it
                log.warning(
                    "progress.openings_failed", error=type(exc).__name__, readers=len(taken)
                )
                for _, future in taken:
                    if not future.done():
                        future.set_exception(exc)
                continue
            at = 0
            for commands, future in taken:
                if not future.done():
                    future.set_result(list(replies[at : at + len(commands)]))
                at += len(commands)
