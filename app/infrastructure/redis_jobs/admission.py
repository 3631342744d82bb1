"""Readers opening streams take turns at Redis: a bounded wait for a connection, not an error.

Thousands of SSE clients may open their streams within a second. Each opening is a round trip
or two; unchecked, they all queue on the connection pool at once and the late ones fail with
"No connection available" after its timeout (a 503, or a stream broken after its 200). Here at
most `slots` openings use Redis together (fewer than the pool holds, so the hub's read and a
submission still find a connection) and the rest wait their turn, for `wait` seconds at most.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from app.application.ports.jobs import FollowersBusy


class Admission:
    def __init__(self, slots: int, wait_seconds: float) -> None:
        self._slots = asyncio.Semaphore(max(1, slots))
        self._wait = wait_seconds
        self.waiting = 0  # readers waiting for a turn now (a gauge for operators and tests)

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        self.waiting += 1
        try:
            async with asyncio.timeout(self._wait):
                await self._slots.acquire()
        except TimeoutError as exc:
            raise FollowersBusy(
                f"no turn at the queue within {self._wait:.0f} s", provider="redis"
            ) from exc
        finally:
            self.waiting -= 1
        try:
            yield
        finally:
            self._slots.release()


def slots_for(max_connections: int) -> int:
    """Half the pool for openings: the rest serves the hub's read, submissions and status."""
    return max(1, max_connections // 2)
